"""``hand-pose-ros synth`` as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from hand_pose_ros.dataset_layout import ground_truth_path, image_path
from hand_pose_ros.synth.rig import LAYOUTS


def test_cli_writes_a_dataset_and_rejects_bad_arguments(tmp_path: pathlib.Path, repo_root: pathlib.Path) -> None:
    exe = [sys.executable, "-m", "hand_pose_ros.tools.cli", "synth"]
    out = tmp_path / "cli"
    ok = subprocess.run(exe + ["--out", str(out), "--cameras", "2", "--frames", "2", "--hands", "1", "--seed", "3",
                               "--width", "160", "--height", "120"], capture_output=True, text=True, cwd=repo_root)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ground_truth_path(out).read_text())["frames"]) == 2 and len(list(image_path(out, "cam1", 0).parent.glob("*.jpg"))) == 2
    bad = subprocess.run(exe + ["--out", str(tmp_path / "bad"), "--cameras", "12"], capture_output=True, text=True, cwd=repo_root)
    assert bad.returncode == 2 and "SynthConfig.cameras: expected 1..8, got 12" in bad.stderr


def test_the_cli_lists_the_layouts_without_importing_numpy() -> None:
    from hand_pose_ros.tools import synth_cli as cli

    assert cli._LAYOUTS == LAYOUTS
