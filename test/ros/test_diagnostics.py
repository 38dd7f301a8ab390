"""Camera health → DiagnosticStatus: levels and messages for stale, rejected, missing CameraInfo."""

from __future__ import annotations

import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus

from hand_pose_ros.ros.diagnostics import RECENT_ERROR_S, STALE_AFTER_S, CameraHealth, LatencyStats, ProcessingInfo, diagnostic_array


def camera(**kwargs) -> CameraHealth:
    return CameraHealth("cam0", "/cam0/image_raw", "/cam0/camera_info", **kwargs)


def test_healthy_camera_is_ok_with_its_rate():
    health = camera(camera_info_received=3)
    for k in range(30):
        health.images.tick(10.0 + k / 30)
    status = health.status("node", 11.0)
    assert status.level == DiagnosticStatus.OK and status.message == "receiving"
    assert {kv.key: kv.value for kv in status.values}["Input rate (Hz)"] == "15.0"  # 30 images over a 2 s window


def test_every_problem_is_named_and_the_worst_sets_the_level():
    health = camera()
    health.images.tick(0.0)
    health.reject("camera 'cam0': zero-size image (0x0)", now=0.0)
    status = health.status("node", STALE_AFTER_S + 0.5)
    assert status.level == DiagnosticStatus.STALE
    for text in ("silent for", "zero-size image", "no CameraInfo on /cam0/camera_info"):
        assert text in status.message


@pytest.mark.parametrize("age, level", [(0.1, DiagnosticStatus.WARN), (RECENT_ERROR_S + 1, DiagnosticStatus.OK)])
def test_a_rejected_image_warns_only_while_recent(age, level):
    health = camera(camera_info_received=1)
    health.reject("bad", now=100.0)
    health.images.tick(100.0 + age)
    status = health.status("node", 100.0 + age)
    assert status.level == level
    assert {kv.key: kv.value for kv in status.values}["Last error"] == "bad"  # kept for the record


def test_array_has_a_status_per_concern():
    info = ProcessingInfo(backend="torch", device="cpu", sets_processed=5, sets_skipped=1, errors=0, last_error="", output_rate_hz=4.0, latency=LatencyStats())
    counts = {"implementation": "ApproximateSynchronizer", "emitted": 5, "partial": 2, "dropped": 1, "rejected": 0, "time_jumps": 0}
    out = diagnostic_array("node", 1.0, Time(sec=5), [camera(), camera()], counts, info)
    names = [s.name for s in out.status]
    assert names == ["node: camera cam0", "node: camera cam0", "node: synchronizer", "node: processing"]
    assert out.status[2].level == DiagnosticStatus.WARN and "2 partial sets" in out.status[2].message
