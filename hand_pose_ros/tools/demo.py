"""``hand-pose-ros demo``: the bundled synthetic sample through the node over real DDS.

Starts hand_pose_node (as ``hand-pose-ros run`` does), plays the sample's MCAP at its
recorded rate, and ends with a summary (frames in/out, hands, MPJPE against the sample's
ground truth, latency percentiles); writes the output MCAP and a contact sheet PNG.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bag", help="rosbag2 recording to play instead of the bundled sample's")
    add_playback_arguments(parser)


def add_playback_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``hand-pose-ros play``."""
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("--ground-truth", help="ground_truth.json to score against (demo: the sample's)")
    parser.add_argument(
        "--calibration",
        help="calibration YAML of the recording's cameras (demo: the sample's; play: the parameters file's)",
    )
    parser.add_argument("--params", help="node parameters file (default: config/multiview.yaml)")
    add_set_option(parser, "detector.backend=torch")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor (1 = recorded rate)")
    parser.add_argument("--out", default="out/demo", help="output directory (MCAP, contact sheet, summary, node log)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    return run_playback(args, default_to_sample=True)


def run_playback(args: argparse.Namespace, default_to_sample: bool) -> int:
    """Shared by ``demo`` and ``play``: play, summarise, write outputs; exit code 0/1/2."""
    import json
    import pathlib
    import sys

    from hand_pose_ros.assets import AssetMissingError, sample_dir
    from hand_pose_ros.calibration import load_calibration
    from hand_pose_ros.dataset_layout import BAG_DIR, CALIBRATION_FILE, GROUND_TRUTH_FILE
    from hand_pose_ros.tools.demo_report import format_summary, summarise, write_outputs
    from hand_pose_ros.tools.playback import NodeStartError, play_through_node
    from hand_pose_ros.tools.set_option import node_overrides

    name = "demo" if default_to_sample else "play"
    sample = None
    if default_to_sample and not args.bag:
        try:
            sample = sample_dir()
        except AssetMissingError as exc:
            print(f"hand-pose-ros {name}: {exc}", file=sys.stderr)
            return 2
    bag = pathlib.Path(args.bag) if args.bag else sample / BAG_DIR
    truth = args.ground_truth or (str(sample / GROUND_TRUTH_FILE) if sample else None)
    if args.calibration:
        calibration = pathlib.Path(args.calibration)
    elif sample is not None:
        calibration = sample / CALIBRATION_FILE
    else:
        calibration = pathlib.Path(_params_calibration(args.params))
    if not calibration.exists():
        print(f"hand-pose-ros {name}: no calibration file at {calibration}; pass --calibration", file=sys.stderr)
        return 2
    rig = load_calibration(calibration)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        settings = node_overrides(args.settings)
    except ValueError as exc:
        print(f"hand-pose-ros {name}: {exc}", file=sys.stderr)
        return 2
    overrides = [("publish.overlays", True), ("extrinsics.calibration_file", str(calibration.resolve())), *settings]
    try:
        result = play_through_node(
            bag, params_file=args.params, overrides=overrides, overlay_cameras=rig.names,
            rate=args.rate, log_dir=out, progress=not args.no_progress,
        )
    except (NodeStartError, FileNotFoundError, ValueError) as exc:
        print(f"hand-pose-ros {name}: {exc}", file=sys.stderr)
        return 1
    summary = summarise(result, truth)
    paths = write_outputs(result, out, rig.names)
    (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2), encoding="utf-8")
    print(format_summary(summary))
    for what, path in paths.items():
        print(f"{what:<22} {path}")
    print(f"{'node log':<22} {out / 'hand_pose_node.log'}")
    return 0 if summary.frames_out > 0 else 1


def _params_calibration(params_file: str | None) -> str:
    """The calibration file a parameters file names (its default if it names none)."""
    from hand_pose_ros.tools.launch_spec import DEFAULT_PARAMS_FILE, config_path
    from hand_pose_ros.config import default_parameters, expand_path, load_parameters_file

    flat = {**default_parameters(), **load_parameters_file(params_file or config_path(DEFAULT_PARAMS_FILE))}
    return expand_path(str(flat["extrinsics.calibration_file"]))
