"""``hand-pose-ros detect`` as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from hand_pose_ros.assets import hand_photos_dir


def _detect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hand_pose_ros.cli", "detect", *args],
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


def test_unreadable_image_is_named(tmp_path):
    missing = tmp_path / "nope.jpg"
    result = _detect(str(missing))
    assert result.returncode == 2
    assert str(missing) in result.stderr
