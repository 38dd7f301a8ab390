"""``hand-pose-ros bench handstate`` on a few synthetic pinch sequences (the sample is skipped: slow)."""

from __future__ import annotations

import re

from hand_pose_ros.tools.cli import main


def test_bench_reports_onsets_and_time(capsys):
    assert main(["bench", "handstate", "--sequences", "4", "--sample-frames", "0", "--timing-frames", "20"]) == 0
    out = capsys.readouterr().out
    row = re.search(r"^synthetic σ=3 mm ×4\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", out, re.MULTILINE)
    assert row is not None, out
    true, detected, within, missed, false = map(int, row.groups())
    assert true == 12 and detected == true and missed == 0 and false == 0 and within >= true - 1
    assert re.search(r"1 hand  per frame: wall [\d.]+, CPU [\d.]+", out)
