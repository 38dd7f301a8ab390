"""``hand-pose-ros demo``: the sample through the node over DDS, end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from hand_pose_ros.tools.bag_io import bag_topics, read_bag
from hand_pose_ros.tools.playback import MARKERS, POSE

pytestmark = [pytest.mark.ros, pytest.mark.slow]

DEMO_TIMEOUT_S = 400  # bounded; a run takes ~30 s (start-up, 2 s of sample, drain)


def test_demo_plays_the_sample_and_writes_its_outputs(tmp_path, ros_env):
    out = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "hand_pose_ros.tools.cli", "demo", "--out", str(out), "--no-progress"],
        env=ros_env, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "MPJPE vs ground truth" in run.stdout and "latency end-to-end" in run.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_in"] == 60 and summary["frames_out"] > 0
    assert summary["hands_found"] > 0
    overall = summary["evaluation"]["overall"]  # hand_pose_ros.evaluation's report
    assert overall["matched_hands"] > 0 and np.isfinite(overall["mpjpe_mm"])
    topics = bag_topics(out / "output")
    assert topics[POSE] == ("hand_pose_ros/msg/HandPoseArray", summary["frames_out"])
    assert topics[MARKERS][1] > 0
    poses = [m.message for m in read_bag(out / "output", [POSE])]
    assert all(p.header.frame_id == "world" for p in poses)
    assert all(p.latency > 0 for p in poses)  # no image published before its (shifted) stamp
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 4 * 320  # one column per camera


def test_play_runs_a_recording_with_a_given_calibration(tmp_path, ros_env):
    from hand_pose_ros.assets import sample_dir

    sample = sample_dir()
    out = tmp_path / "play"
    run = subprocess.run(
        [sys.executable, "-m", "hand_pose_ros.tools.cli", "play", str(sample / "bag"), "--calibration", str(sample / "calibration.yaml"),
         "--rate", "2", "--out", str(out), "--no-progress"],
        env=ros_env, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "n/a (no ground truth)" in run.stdout  # play scores only with --ground-truth
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_in"] == 60 and summary["frames_out"] > 0 and summary["evaluation"] is None
    assert bag_topics(out / "output")[POSE][1] == summary["frames_out"]
