"""``hand-pose-ros``: the command-line entry point.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``. Those modules import only the standard library at top level, so
``--help`` stays fast; heavy imports (torch, rclpy) happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hand_pose_ros import __version__

__all__ = ["main", "SUBCOMMANDS", "BENCHMARKS"]

# name → (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "detect": ("hand_pose_ros.tools.detect_cli", "find 2D hand keypoints in images"),
    "synth": ("hand_pose_ros.tools.synth_cli", "render a synthetic multi-camera hand dataset"),
    "eval": ("hand_pose_ros.tools.eval_cli", "score predicted 3D hands against ground truth"),
    "fuse": ("hand_pose_ros.tools.fuse_cli", "fuse per-view 2D detections into 3D hands offline"),
    "calibrate": ("hand_pose_ros.tools.calibrate_cli", "calibrate a camera rig from a ChArUco board, or refine it from hands"),
    "run": ("hand_pose_ros.tools.run_cli", "start the ROS 2 node with a parameters file"),
    "demo": ("hand_pose_ros.tools.demo", "play the bundled sample through the node (the main job)"),
    "play": ("hand_pose_ros.tools.play", "play a rosbag2 recording through the node"),
    "bench": ("", "benchmarks: detector, fusion, node, mesh, peers, soak, handstate, real, calibration"),
}

BENCHMARKS: dict[str, tuple[str, str]] = {
    "detector": ("hand_pose_ros.tools.bench.detector", "2D detector latency per stage"),
    "fusion": ("hand_pose_ros.tools.bench.fusion", "fusion accuracy and time against aniposelib"),
    "node": ("hand_pose_ros.tools.bench.node", "end-to-end node latency and rate over DDS"),
    "mesh": ("hand_pose_ros.tools.bench.mesh", "hand mesh fitting time and accuracy"),
    "peers": ("hand_pose_ros.tools.bench.peers", "this pipeline against MediaPipe Hands per camera + aniposelib"),
    "soak": ("hand_pose_ros.tools.bench.soak", "the node under steady load: RSS slope, output rate, errors"),
    "handstate": ("hand_pose_ros.tools.bench.handstate", "pinch onsets against ground truth, hand-state time per hand"),
    "calibration": ("hand_pose_ros.tools.bench.calibration", "hand-based calibration refinement on DexYCB"),
    "real": ("hand_pose_ros.tools.bench.real", "2D and 3D accuracy on real recordings (../shared/data/real)"),
}


def _add_group(subparsers, table, argv_name: str | None) -> None:
    """Add each entry of ``table``; only the one being run imports its module."""
    for name, (module_name, help_text) in table.items():
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(_module=module_name, _name=name)
        if name == argv_name and module_name:
            importlib.import_module(module_name).add_arguments(parser)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hand-pose-ros",
        description="Real-time multi-view 3D hand pose estimation for ROS 2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    positional = [a for a in argv if not a.startswith("-")]
    command = positional[0] if positional else None
    _add_group(subparsers, SUBCOMMANDS, command)
    bench_parser = subparsers.choices["bench"]
    bench_sub = bench_parser.add_subparsers(title="benchmarks", metavar="BENCHMARK")
    _add_group(bench_sub, BENCHMARKS, positional[1] if command == "bench" and len(positional) > 1 else None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    module_name = getattr(args, "_module", None)
    if module_name is None:
        parser.print_help()
        return 0 if not argv else 2
    if not module_name:  # "bench" without a benchmark name
        parser.parse_args([args._name, "--help"])
        return 2
    return int(importlib.import_module(module_name).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
