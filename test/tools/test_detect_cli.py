"""``hand-pose-ros detect`` as a user runs it (a subprocess)."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import cv2
import pytest

from hand_pose_ros.assets import hand_photos_dir
from hand_pose_ros.drawing import HAND_COLOURS_RGB8
from hand_pose_ros.keypoints import Handedness


def _detect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hand_pose_ros.tools.cli", "detect", *args],
                          capture_output=True, text=True, timeout=300)


def test_json_output_and_overlay(tmp_path):
    photos = [str(hand_photos_dir() / "handSrc.jpg"), str(hand_photos_dir() / "Hull_Original_Image.jpg")]
    result = _detect(*photos, "--json", "--overlay", str(tmp_path))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [entry["image"] for entry in doc] == photos
    for entry in doc:
        assert len(entry["hands"]) == 1
        hand = entry["hands"][0]
        assert len(hand["keypoints_2d"]) == 21 and all(len(p) == 2 for p in hand["keypoints_2d"])
        assert len(hand["keypoint_scores"]) == 21
        assert hand["handedness"] in ("Left", "Right") and 0.5 <= hand["handedness_score"] <= 1
        assert 0.5 <= hand["presence"] <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Hull_Original_Image_hands.png", "handSrc_hands.png"]
    # Drawn with the colour table the node's overlays and markers use: its hand's colour at the wrist.
    for entry in doc:
        hand = entry["hands"][0]
        overlay = cv2.cvtColor(cv2.imread(str(tmp_path / f"{pathlib.Path(entry['image']).stem}_hands.png")), cv2.COLOR_BGR2RGB)
        x, y = (int(round(v)) for v in hand["keypoints_2d"][0])
        assert tuple(overlay[y, x]) == HAND_COLOURS_RGB8[Handedness.from_label(hand["handedness"])]


def test_unreadable_image_is_named(tmp_path):
    missing = tmp_path / "nope.jpg"
    result = _detect(str(missing))
    assert result.returncode == 2
    assert str(missing) in result.stderr


def test_bench_detector_runs_and_reports_every_stage():
    result = subprocess.run(
        [sys.executable, "-m", "hand_pose_ros.tools.cli", "bench", "detector", "--views", "1,2", "--runs", "3",
         "--warmup", "1", "--set", "detector.tracking=false"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for stage in ("prepare", "palm", "landmark", "total", "CPU (process)", "LiteRT view by view", "LiteRT CPU (process)"):
        assert stage in result.stdout
    assert "2 view(s): 2.00 hands per set (reference: 2.00)" in result.stdout


def test_bench_detector_per_crop_reports_every_runtime_and_network():
    result = subprocess.run(
        [sys.executable, "-m", "hand_pose_ros.tools.cli", "bench", "detector", "--per-crop", "--runs", "2",
         "--warmup", "1", "--rounds", "2"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  ") and line.split()[0] != "network"]
    assert {(row[0], row[1]) for row in rows} == {(stage, name) for stage in ("landmark", "palm")
                                                  for name in ("onnxruntime", "openvino", "litert")}
    assert all(len(row) == 4 and all(float(v) > 0 for v in row[2:]) for row in rows)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_bench_detector_missing_backend_is_a_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "hand_pose_ros.tools.cli", "bench", "detector", "--set", "detector.backend=tensorrt",
         "--set", "detector.device=cuda"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "tensorrt" in result.stderr.lower() and "Traceback" not in result.stderr


def test_detect_refuses_a_bad_setting_naming_the_key():
    result = _detect(str(hand_photos_dir() / "handSrc.jpg"), "--set", "detector.max_hands=2.5")
    assert result.returncode == 2
    assert "detector.max_hands: expected an integer >= 1, got 2.5" in result.stderr and "Traceback" not in result.stderr
