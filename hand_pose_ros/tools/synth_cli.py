"""``hand-pose-ros synth``: render a synthetic multi-camera hand dataset (docs/dataset.md)."""

from __future__ import annotations

import argparse

_LAYOUTS = ("ring", "hemisphere", "two-facing")  # the choices of hand_pose_ros.synth.rig.LAYOUTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (created)")
    parser.add_argument("--cameras", type=int, default=4, help="number of cameras, 1-8 (default 4)")
    parser.add_argument("--frames", type=int, default=60, help="number of frames (default 60)")
    parser.add_argument("--hands", type=int, choices=(1, 2), default=2, help="hands in the scene (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same dataset (default 0)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate for the stamps (default 30)")
    parser.add_argument("--layout", choices=_LAYOUTS, default="ring", help="camera layout (default ring)")
    parser.add_argument("--width", type=int, default=640, help="image width, pixels (default 640)")
    parser.add_argument("--height", type=int, default=480, help="image height, pixels (default 480)")
    parser.add_argument("--distortion", action="store_true", help="mild plumb_bob lens distortion")
    parser.add_argument("--bag", action="store_true", help="also write a rosbag2 MCAP recording in OUT/bag")
    parser.add_argument("--depth", action="store_true",
                        help="also write aligned depth (RealSense-like noise and holes) in OUT/depth and, with --bag, depth topics")
    parser.add_argument("--no-meshes", action="store_true", help="do not write OUT/meshes.npz")


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from hand_pose_ros.assets import AssetMissingError
    from hand_pose_ros.synth.config import SynthConfig
    from hand_pose_ros.synth.writer import generate_dataset

    try:
        config = SynthConfig(
            cameras=args.cameras, frames=args.frames, hands=args.hands, seed=args.seed, fps=args.fps,
            layout=args.layout, width=args.width, height=args.height, distortion=args.distortion,
            bag=args.bag, meshes=not args.no_meshes, depth=args.depth,
        )
        out = generate_dataset(args.out, config, progress=sys.stderr.isatty() or config.frames >= 100)
    except (ValueError, AssetMissingError) as exc:
        print(f"hand-pose-ros synth: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {config.frames} frames from {config.cameras} cameras to {out}")
    return 0
