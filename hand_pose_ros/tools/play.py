"""``hand-pose-ros play BAG``: any recording with the node's camera topics, through the node."""

from __future__ import annotations

import argparse

from hand_pose_ros.tools import demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 directory (MCAP or SQLite) with the cameras' image/camera_info topics")
    demo.add_playback_arguments(parser)
    parser.set_defaults(out="out/play")


def run(args: argparse.Namespace) -> int:
    return demo.run_playback(args, default_to_sample=False)
