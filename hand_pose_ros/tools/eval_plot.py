"""The evaluation figure: 3D PCK curves and per-joint error bars, as a PNG."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["plot_report"]


def plot_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``report`` (from ``evaluate``) as a two-panel PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    thresholds = report["pck_thresholds_mm"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1, 2]})
    curves = [("overall", report["overall"])] + [(f"hand {k} ({v['handedness']})", v) for k, v in report["per_hand"].items()]
    for name, summary in curves:
        if summary["matched_hands"]:
            pck = [np.nan if v is None else v for v in summary["pck"]]
            left.plot(thresholds, pck, label=f"{name}: AUC {summary['auc_0_50mm']:.3f}")
    left.set(xlabel="threshold (mm)", ylabel="3D PCK", title="3D PCK, 0–50 mm", ylim=(0, 1.01), xlim=(thresholds[0], thresholds[-1]))
    left.grid(alpha=0.3)
    left.legend(loc="lower right")
    overall = report["overall"]
    names = list(overall["per_joint_mpjpe_mm"])
    means = [np.nan if v is None else v for v in overall["per_joint_mpjpe_mm"].values()]
    stds = [0.0 if v is None else v for v in overall["per_joint_std_mm"].values()]
    right.bar(range(len(names)), means, yerr=stds, capsize=2, color="tab:blue", alpha=0.8)
    right.set_xticks(range(len(names)), [n.replace("_FINGER", "").lower() for n in names], rotation=60, ha="right", fontsize=8)
    right.set(ylabel="error (mm)", title=f"per-joint error (mean ± std), MPJPE {overall['mpjpe_mm'] or float('nan'):.1f} mm")
    right.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
