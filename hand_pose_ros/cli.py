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

# name → (module, one-line help, the issue that brings it while it is not there yet)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "detect": ("hand_pose_ros.detection.cli", "find 2D hand keypoints in images", "the detector issue"),
    "synth": ("hand_pose_ros.synth.cli", "render a synthetic multi-camera hand dataset", "the synth issue"),
    "eval": ("hand_pose_ros.evaluation.cli", "score predicted 3D hands against ground truth", "the synth issue"),
    "fuse": ("hand_pose_ros.fusion.cli", "fuse per-view 2D detections into 3D hands offline", "the fusion issue"),
    "run": ("hand_pose_ros.ros.run_cli", "start the ROS 2 node with a parameters file", "the node issue"),
    "demo": ("hand_pose_ros.ros.demo", "play the bundled sample through the node (the main job)", "the node issue"),
    "play": ("hand_pose_ros.ros.play", "play a rosbag2 recording through the node", "the node issue"),
    "bench": ("", "benchmarks: detector, fusion, node, mesh", ""),
}

BENCHMARKS: dict[str, tuple[str, str, str]] = {
    "detector": ("hand_pose_ros.detection.bench", "2D detector latency per stage", "the detector issue"),
    "fusion": ("hand_pose_ros.fusion.bench", "fusion accuracy and time against aniposelib", "the fusion issue"),
    "node": ("hand_pose_ros.ros.bench", "end-to-end node latency and rate over DDS", "the node issue"),
    "mesh": ("hand_pose_ros.mesh.bench", "hand mesh fitting time and accuracy", "the mesh issue"),
}


def _load(module_name: str):
    """Import a subcommand module; None if it has not been written yet."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None
        raise


def _add_group(subparsers, table, argv_name: str | None) -> None:
    """Add each entry of ``table``; only the one being run imports its module."""
    for name, (module_name, help_text, _issue) in table.items():
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(_module=module_name, _name=name, _table=table)
        if name == argv_name and module_name:
            module = _load(module_name)
            if module is not None:
                module.add_arguments(parser)
            else:
                parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


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
    module = _load(module_name)
    if module is None:
        issue = args._table[args._name][2]
        print(f"hand-pose-ros {args._name}: not available yet; it arrives with {issue}.", file=sys.stderr)
        return 2
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
