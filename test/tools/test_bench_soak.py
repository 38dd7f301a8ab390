"""``bench soak``'s summary: RSS slope after the warm-up and output rates at both ends."""

from __future__ import annotations

import math

import pytest

from hand_pose_ros.tools.bench.soak import WARM_UP_S, summarise


def _samples(minutes: float, rss_per_min: float, rate_hz, period_s: float = 10.0, warm_up_mb: float = 50.0):
    out, poses, t = [], 0.0, 0.0
    while t <= minutes * 60 + 1e-9:
        rss = 600.0 + (warm_up_mb * t / WARM_UP_S if t < WARM_UP_S else warm_up_mb + rss_per_min * (t - WARM_UP_S) / 60)
        out.append({"t_s": t, "rss_mb": rss, "poses": poses})
        poses += rate_hz(t) * period_s
        t += period_s
    return out


def test_flat_memory_and_steady_rate():
    summary = summarise(_samples(12, 0.0, lambda t: 8.0), 5 * 60.0)
    assert summary["rss_slope_mb_per_min"] == pytest.approx(0.0, abs=1e-9)  # the warm-up rise is excluded
    assert summary["rate_first_hz"] == pytest.approx(8.0) and summary["rate_last_hz"] == pytest.approx(8.0)
    assert summary["rate_change"] == pytest.approx(0.0) and summary["window_s"] == 300.0


def test_a_leak_and_a_slowdown_show():
    summary = summarise(_samples(12, 2.0, lambda t: 10.0 if t < 360 else 7.0), 5 * 60.0)
    assert summary["rss_slope_mb_per_min"] == pytest.approx(2.0)
    assert summary["rate_first_hz"] == pytest.approx(10.0) and summary["rate_last_hz"] == pytest.approx(7.0)
    assert summary["rate_change"] == pytest.approx(-0.3)


def test_a_short_run_compares_halves_and_has_no_slope_before_the_warm_up_ends():
    summary = summarise(_samples(0.5, 1.0, lambda t: 5.0), 5 * 60.0)
    assert summary["window_s"] == pytest.approx(15.0)
    assert math.isnan(summary["rss_slope_mb_per_min"])
