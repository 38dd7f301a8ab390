"""``hand-pose-ros run``: start hand_pose_node as ``ros2 launch`` would, with a parameters file.

The command line comes from ``launch_spec.node_spec`` (shared with launch/multiview.launch.py).
The node runs in the foreground; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("--params", metavar="YAML", help="ROS 2 parameters file (default: config/multiview.yaml)")
    parser.add_argument("--namespace", default="", help="namespace of the node and its topics")
    add_set_option(parser, "detector.backend=torch")
    parser.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="topic remapping (repeatable)")
    parser.add_argument("--print-command", action="store_true", help="print the node's command line and exit")


def run(args: argparse.Namespace) -> int:
    import shlex
    import subprocess
    import sys

    from hand_pose_ros.tools.launch_spec import node_command, node_spec, ros_environment
    from hand_pose_ros.tools.set_option import node_overrides

    remaps = []
    for item in args.remap:
        src, sep, dst = item.partition(":=")
        if not sep or not src or not dst:
            print(f"hand-pose-ros run: --remap expects FROM:=TO, got {item!r}", file=sys.stderr)
            return 2
        remaps.append((src, dst))
    try:
        overrides = node_overrides(args.settings)
    except ValueError as exc:
        print(f"hand-pose-ros run: {exc}", file=sys.stderr)
        return 2
    spec = node_spec(params_file=args.params, namespace=args.namespace, remappings=tuple(remaps), overrides=overrides)
    cmd = node_command(spec)
    if args.print_command:
        print(shlex.join(cmd))
        return 0
    import signal

    from hand_pose_ros.tools.harness import STOP_GRACE_S

    def _interrupt(signum, frame):  # SIGTERM (e.g. from a supervisor) stops the node like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    process = subprocess.Popen(cmd, env=ros_environment())
    try:
        return process.wait()
    except KeyboardInterrupt:
        # From a terminal the node got the same SIGINT; from `kill` only this process did.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 0
