"""``hand-pose-ros eval``: score predicted 3D hands against ground truth (docs/evaluation.md)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, help="predictions JSON (fusion output: a list of frames)")
    parser.add_argument("--gt", required=True, help="ground_truth.json or the dataset directory holding it")
    parser.add_argument("--json", dest="json_out", help="write the full report as JSON here")
    parser.add_argument("--plot", help="write a PNG with PCK curves and per-joint errors here")
    parser.add_argument("--max-match-distance", type=float, default=0.10,
                        help="metres: farther predicted hands are false positives (default 0.10)")
    parser.add_argument("--stamp-tolerance", type=float, default=None,
                        help="seconds between matched stamps (default half the GT frame period)")


def _fmt(value, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.3f}{unit}" if unit == "" else f"{value:.1f}{unit}"


def run(args: argparse.Namespace) -> int:
    import json
    import pathlib
    import sys

    from hand_pose_ros.dataset_layout import ground_truth_path
    from hand_pose_ros.evaluation.evaluate import EvaluationConfig, evaluate
    from hand_pose_ros.evaluation.matching import load_ground_truth, load_predictions

    try:
        config = EvaluationConfig(max_match_distance_m=args.max_match_distance, stamp_tolerance_s=args.stamp_tolerance)
        gt_file = ground_truth_path(args.gt)
        gt = load_ground_truth(gt_file)
        fps = json.loads(gt_file.read_text(encoding="utf-8")).get("fps")
        report = evaluate(gt, load_predictions(args.pred), config, fps=fps)
    except (OSError, ValueError) as exc:
        print(f"hand-pose-ros eval: {exc}", file=sys.stderr)
        return 2
    frames = report["frames"]
    print(f"frames: {frames['matched']}/{frames['gt']} GT frames matched ({frames['pred']} predicted); "
          f"false-positive hands: {report['false_positive_hands']}")
    print(f"{'hand':<14}{'detect':>8}{'MPJPE':>10}{'PA-MPJPE':>10}{'RR-MPJPE':>10}{'AUC50':>8}{'MPVPE':>9}{'PA-MPVPE':>10}{'hand.acc':>10}{'IDsw':>6}")
    rows = [("overall", report["overall"])] + [(f"{k} ({v['handedness']})", v) for k, v in report["per_hand"].items()]
    for name, s in rows:
        print(f"{name:<14}{_fmt(s['detection_rate']):>8}{_fmt(s['mpjpe_mm'], ' mm'):>10}{_fmt(s['pa_mpjpe_mm'], ' mm'):>10}"
              f"{_fmt(s['root_relative_mpjpe_mm'], ' mm'):>10}{_fmt(s['auc_0_50mm']):>8}{_fmt(s['mpvpe_mm'], ' mm'):>9}"
              f"{_fmt(s['pa_mpvpe_mm'], ' mm'):>10}{_fmt(s['handedness_accuracy']):>10}{s['id_switches']:>6}")
    if args.json_out:
        pathlib.Path(args.json_out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    if args.plot:
        from hand_pose_ros.tools.eval_plot import plot_report

        plot_report(report, args.plot)
    return 0
