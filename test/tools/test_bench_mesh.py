"""``hand-pose-ros bench mesh`` on the bundled sample (noisy ground-truth joints: fast), and
its predictions scored by ``hand-pose-ros eval`` (MPVPE of fitted meshes)."""

from __future__ import annotations

import json
import re

from hand_pose_ros.tools.cli import main

NOISY_MPVPE_BOUND_MM = 20.0  # loose: σ = 5 mm joints give ≈ 6-10 mm; a broken fit gives centimetres


def test_bench_fits_the_sample_and_eval_scores_the_meshes(tmp_path, capsys):
    pred = tmp_path / "pred.json"
    assert main(["bench", "mesh", "--inputs", "gt+noise", "--repeats", "1", "--pred-out", str(pred)]) == 0
    row = re.search(r"^gt\+5mm\s+(\d+)\s+(\d+)\s+([\d.]+) mm", capsys.readouterr().out, re.MULTILINE)
    assert row is not None
    fitted, missed, mpvpe_mm = int(row[1]), int(row[2]), float(row[3])
    assert fitted > 0 and missed == 0 and mpvpe_mm < NOISY_MPVPE_BOUND_MM
    frames = json.loads(pred.read_text())
    assert all(len(h["vertices"]) == 1360 for f in frames for h in f["hands"])

    from hand_pose_ros import assets

    report = tmp_path / "report.json"
    assert main(["eval", "--pred", str(pred), "--gt", str(assets.sample_dir()), "--json", str(report)]) == 0
    overall = json.loads(report.read_text())["overall"]
    assert overall["mpvpe_mm"] < NOISY_MPVPE_BOUND_MM
    assert 0 < overall["pa_mpvpe_mm"] < overall["mpvpe_mm"]  # alignment removes placement error


def test_bench_rejects_unknown_inputs(capsys):
    assert main(["bench", "mesh", "--inputs", "oracle"]) == 2
    assert "unknown ['oracle']" in capsys.readouterr().out
