"""Sequence evaluation: matching by stamp and Hungarian, detection, handedness, ID switches, CLI."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from hand_pose_ros.evaluation.evaluate import EvaluationConfig, evaluate
from hand_pose_ros.evaluation.matching import load_ground_truth, load_predictions
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.types import Hand3D, KeypointSource

FPS = 30.0
T0 = 1_767_225_600.0


def _write_gt(directory: pathlib.Path, frames: int = 10) -> list[np.ndarray]:
    """Two hands 0.2 m apart moving along x; returns per-frame (2, 21, 3) truth."""
    rng = np.random.default_rng(0)
    shape = rng.normal(0, 0.03, (21, 3))
    truth, out = [], []
    for t in range(frames):
        hands = np.stack([shape + [0.01 * t, 0.1, 1.0], shape + [0.01 * t, -0.1, 1.0]])
        truth.append(hands)
        out.append({"frame": t, "stamp": T0 + t / FPS, "hands": [
            {"id": i, "handedness": label, "keypoints_3d": hands[i].tolist(), "visible": {"cam0": [True] * 21}}
            for i, label in enumerate(("Left", "Right"))
        ]})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ground_truth.json").write_text(json.dumps({"fps": FPS, "world_frame": "world", "cameras": ["cam0"], "frames": out}))
    return truth


def _hand(track_id: int, label: str, points: np.ndarray) -> dict:
    return Hand3D(
        track_id=track_id, handedness=Handedness.from_label(label), handedness_score=0.9, presence=1.0,
        keypoints_3d=points, keypoint_confidence=np.ones(21), num_views=np.full(21, 2),
        reprojection_error_px=np.ones(21), keypoint_source=np.full(21, KeypointSource.TRIANGULATED),
    ).to_dict()


def test_perfect_predictions_in_any_order_with_stamp_jitter_score_perfectly(tmp_path: pathlib.Path) -> None:
    truth = _write_gt(tmp_path / "gt")
    pred = [{"stamp": T0 + t / FPS + 0.004, "hands": [_hand(7, "Right", h[1]), _hand(3, "Left", h[0])]} for t, h in enumerate(truth)]
    report = evaluate(load_ground_truth(tmp_path / "gt"), _load(tmp_path, pred), fps=FPS)
    overall = report["overall"]
    assert report["frames"]["matched"] == 10 and report["false_positive_hands"] == 0
    assert overall["mpjpe_mm"] == pytest.approx(0.0, abs=1e-9) and overall["auc_0_50mm"] == pytest.approx(1.0)
    assert overall["detection_rate"] == 1.0 and overall["handedness_accuracy"] == 1.0 and overall["id_switches"] == 0


def test_misses_swapped_labels_id_switches_and_false_positives_are_counted(tmp_path: pathlib.Path) -> None:
    truth = _write_gt(tmp_path / "gt")
    pred = []
    for t, h in enumerate(truth):
        hands = [_hand(1 if t < 5 else 2, "Left", h[0] + [0.0, 0.0, 0.004])]  # track id changes once
        if t % 2 == 0:
            hands.append(_hand(9, "Left", h[1]))  # right hand seen every other frame, mislabelled
        if t == 3:
            hands.append(_hand(4, "Right", h[1] + [0.0, 0.0, 0.5]))  # far from everything
        pred.append({"stamp": T0 + t / FPS, "hands": hands})
    report = evaluate(load_ground_truth(tmp_path / "gt"), _load(tmp_path, pred), fps=FPS)
    left, right = report["per_hand"]["0"], report["per_hand"]["1"]
    assert left["detection_rate"] == 1.0 and left["id_switches"] == 1 and left["mpjpe_mm"] == pytest.approx(4.0)
    assert left["handedness_accuracy"] == 1.0
    assert right["detection_rate"] == 0.5 and right["handedness_accuracy"] == 0.0 and right["mpjpe_mm"] == pytest.approx(0.0, abs=1e-9)
    assert report["false_positive_hands"] == 1
    assert report["overall"]["detection_rate"] == pytest.approx(15 / 20)
    # 4 mm errors: PCK is 0 at 3 mm and 1 at 5 mm for the left hand.
    assert left["pck"][3] == 0.0 and left["pck"][5] == 1.0


def test_frames_outside_the_stamp_tolerance_are_not_matched(tmp_path: pathlib.Path) -> None:
    truth = _write_gt(tmp_path / "gt", frames=4)
    pred = [{"stamp": T0 + t / FPS + (0.02 if t == 2 else 0.0), "hands": [_hand(0, "Left", h[0]), _hand(1, "Right", h[1])]}
            for t, h in enumerate(truth)]
    report = evaluate(load_ground_truth(tmp_path / "gt"), _load(tmp_path, pred), fps=FPS)
    assert report["frames"]["matched"] == 3 and report["overall"]["detection_rate"] == 0.75
    wide = evaluate(load_ground_truth(tmp_path / "gt"), _load(tmp_path, pred), EvaluationConfig(stamp_tolerance_s=0.03))
    assert wide["frames"]["matched"] == 4


def test_bad_files_name_what_is_wrong(tmp_path: pathlib.Path) -> None:
    _write_gt(tmp_path / "gt", frames=2)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"stamp": T0, "hands": [{"id": 0, "handedness": "Left", "keypoints_3d": [[0, 0, 0]] * 20}]}]))
    with pytest.raises(ValueError, match=r"bad.json frame 0 hand 0: keypoints_3d .*expected shape \(21, 3\), got \(20, 3\)"):
        load_predictions(bad)
    with pytest.raises(FileNotFoundError, match="ground truth .*nowhere"):
        load_ground_truth(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="max_match_distance_m: expected > 0"):
        EvaluationConfig(max_match_distance_m=0)


def test_cli_prints_writes_json_and_plot(tmp_path: pathlib.Path, repo_root: pathlib.Path) -> None:
    truth = _write_gt(tmp_path / "gt", frames=3)
    pred = [{"stamp": T0 + t / FPS, "hands": [_hand(0, "Left", h[0] + 0.002)]} for t, h in enumerate(truth)]
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    cmd = [sys.executable, "-m", "hand_pose_ros.tools.cli", "eval", "--pred", str(tmp_path / "pred.json"), "--gt", str(tmp_path / "gt"),
           "--json", str(tmp_path / "report.json"), "--plot", str(tmp_path / "report.png")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root)
    assert done.returncode == 0, done.stderr
    assert "overall" in done.stdout and "3.5 mm" in done.stdout  # |(2, 2, 2)| mm
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["overall"]["detection_rate"] == 0.5
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = subprocess.run(cmd[:6] + ["--gt", str(tmp_path / "none")], capture_output=True, text=True, cwd=repo_root)
    assert missing.returncode == 2 and "not found" in missing.stderr


def _load(tmp_path: pathlib.Path, pred: list[dict]):
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(pred))
    return load_predictions(path)
