"""Camera health → DiagnosticStatus: levels and messages for stale, rejected, missing CameraInfo."""

from __future__ import annotations

import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus

from hand_pose_ros.ros.diagnostics import (
    RECENT_ERROR_S,
    STALE_AFTER_S,
    CameraHealth,
    LatencyStats,
    ProcessingInfo,
    QosEvents,
    callbacks_status,
    diagnostic_array,
)
from hand_pose_ros.ros.guard import CallbackErrors


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


def _processing(**kwargs) -> ProcessingInfo:
    values = dict(backend="torch", device="cpu", sets_processed=5, sets_skipped=1, errors=0, last_error="", output_rate_hz=4.0, latency=LatencyStats())
    values.update(kwargs)
    return ProcessingInfo(**values)


def _sync_counts(**kwargs) -> dict:
    counts = {"implementation": "ApproximateSynchronizer", "emitted": 5, "partial": 2, "dropped": 1, "rejected": 0, "time_jumps": 0, "last_partial_s": 0.5}
    counts.update(kwargs)
    return counts


def test_array_has_a_status_per_concern():
    out = diagnostic_array("node", 1.0, Time(sec=5), [camera(), camera()], _sync_counts(), _processing(), extra=[DiagnosticStatus(name="node: extra")])
    names = [s.name for s in out.status]
    assert names == ["node: camera cam0", "node: camera cam0", "node: synchronizer", "node: processing", "node: extra"]
    assert out.status[2].level == DiagnosticStatus.WARN and "2 in all" in out.status[2].message


def _named(out, suffix):
    return next(s for s in out.status if s.name.endswith(suffix))


def test_synchronizer_warns_only_while_partial_sets_are_recent():
    counts = _sync_counts(last_partial_s=100.0)
    warn = _named(diagnostic_array("node", 100.0 + RECENT_ERROR_S / 2, Time(), [], counts, _processing()), "synchronizer")
    ok = _named(diagnostic_array("node", 100.0 + RECENT_ERROR_S + 1, Time(), [], counts, _processing()), "synchronizer")
    assert warn.level == DiagnosticStatus.WARN and ok.level == DiagnosticStatus.OK
    assert {kv.key: kv.value for kv in ok.values}["Partial sets"] == "2"  # the count stays cumulative


def test_a_processing_error_stays_visible_while_recent_even_after_good_sets():
    info = _processing(errors=1, last_error="processing failed: RuntimeError: boom", last_error_time=50.0, sets_processed=40)
    recent = _named(diagnostic_array("node", 52.0, Time(), [], _sync_counts(), info), "processing")
    later = _named(diagnostic_array("node", 50.0 + RECENT_ERROR_S + 1, Time(), [], _sync_counts(), info), "processing")
    assert recent.level == DiagnosticStatus.ERROR and "boom" in recent.message
    assert later.level == DiagnosticStatus.OK and "boom" not in later.message
    values = {kv.key: kv.value for kv in later.values}
    assert values["Processing errors"] == "1" and "boom" in values["Last error"]


def test_callback_errors_status_counts_per_topic_and_errs_while_recent():
    clock = [10.0]
    errors = CallbackErrors(lambda text: None, clock=lambda: clock[0])
    bad = errors.guarded("/cam1/camera_info", lambda msg: 1 / 0)
    bad("msg")
    bad("msg")
    status = callbacks_status("node", 11.0, errors)
    assert status.level == DiagnosticStatus.ERROR and "/cam1/camera_info: ZeroDivisionError" in status.message
    assert {kv.key: kv.value for kv in status.values}["Errors on /cam1/camera_info"] == "2"
    assert callbacks_status("node", 10.0 + RECENT_ERROR_S + 1, errors).level == DiagnosticStatus.OK


def test_incompatible_qos_warns_naming_topic_and_policy_while_no_peer_matches():
    events = QosEvents()
    matched = [0]
    events.watch("/cam0/image_raw", "subscription", lambda: matched[0])
    assert events.status("node", 0.0).level == DiagnosticStatus.OK
    events.incompatible("/cam0/image_raw", "subscription", "RELIABILITY", 1, now=1.0)
    status = events.status("node", 1.0 + RECENT_ERROR_S + 1)  # old event, but still nothing matched
    assert status.level == DiagnosticStatus.WARN
    assert "/cam0/image_raw (subscription)" in status.message and "RELIABILITY" in status.message
    matched[0] = 1  # a compatible camera joined
    assert events.status("node", 1.0 + RECENT_ERROR_S + 1).level == DiagnosticStatus.OK
    matched[0] = 0
    events.forget("/cam0/image_raw", "subscription")  # destroyed (lifecycle deactivate)
    status = events.status("node", 1.0 + RECENT_ERROR_S + 1)
    assert status.level == DiagnosticStatus.OK and list(status.values) == []


def test_calibration_status_warns_naming_the_moved_camera():
    from hand_pose_ros.calibration.monitor import MonitorReport
    from hand_pose_ros.ros.diagnostics import calibration_status

    warning = "camera cam2 looks moved: hands reproject at 6.3 px, the others at 1.8 px; run `hand-pose-ros calibrate hands`"
    moved = calibration_status("n", MonitorReport(median_px={"cam0": 1.8, "cam2": 6.3}, samples={"cam0": 40, "cam2": 40},
                                                   warnings=[warning]))
    assert moved.level == DiagnosticStatus.WARN and "cam2 looks moved" in moved.message
    values = {kv.key: kv.value for kv in moved.values}
    assert values["cam2 hand reprojection (px)"] == "6.30" and values["cam0 samples"] == "40"
    fresh = calibration_status("n", MonitorReport(median_px={"cam0": float("nan")}, samples={"cam0": 0}, warnings=[]))
    assert fresh.level == DiagnosticStatus.OK and {kv.key: kv.value for kv in fresh.values}["cam0 hand reprojection (px)"] == "n/a"
def test_pipeline_status_reports_stage_medians_over_the_sets_where_they_ran():
    from hand_pose_ros.pipeline import StageTimings
    from hand_pose_ros.ros.diagnostics import StageStats, pipeline_status

    stats = StageStats()
    nan = float("nan")
    for detect, mesh in ((10.0, nan), (20.0, 5.0), (40.0, nan)):
        stats.add(StageTimings(detect_ms=detect, fuse_ms=1.0, mesh_ms=mesh, total_ms=detect + 1.0))
    status = pipeline_status("hand_pose_node", stats)
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == "hand_pose_node: pipeline"
    assert (values["Median detect ms"], values["Median mesh ms"], values["Median total ms"]) == ("20.00", "5.00", "21.00")
    assert pipeline_status("n", StageStats()).values[0].value == "nan"
    assert values["Sets shedding views (%)"] == "0.0" and "shed" not in status.message


def test_pipeline_status_reports_the_views_shed():
    from hand_pose_ros.pipeline import StageTimings
    from hand_pose_ros.ros.diagnostics import StageStats, pipeline_status

    stats = StageStats()
    for shed in (0, 2, 1, 0):
        stats.add(StageTimings(detect_ms=10.0, fuse_ms=1.0, mesh_ms=1.0, total_ms=12.0), shed)
    status = pipeline_status("hand_pose_node", stats)
    values = {kv.key: kv.value for kv in status.values}
    assert (values["Sets shedding views (%)"], values["Views shed per set"]) == ("50.0", "0.75")
    assert status.level == DiagnosticStatus.OK and "views shed in 50 % of sets (0.75 per set)" in status.message


def test_depth_health_warns_while_refused_or_silent_and_counts_sets():
    from hand_pose_ros.ros.diagnostics import RECENT_ERROR_S, DepthHealth

    health = DepthHealth("cam0", "/cam0/aligned_depth_to_color/image_raw")
    status = health.status("hand_pose_node", 0.0)
    assert status.level == DiagnosticStatus.WARN and "no depth on /cam0/aligned_depth_to_color/image_raw, colour only" in status.message
    assert status.name == "hand_pose_node: camera cam0 depth"
    health.frames.tick(10.0)
    health.used(True)
    health.used(False)
    ok = health.status("hand_pose_node", 10.5)
    assert ok.level == DiagnosticStatus.OK and ok.message == "receiving depth"
    values = {kv.key: kv.value for kv in ok.values}
    assert values["Sets with depth"] == "1" and values["Sets without depth"] == "1"
    health.reject("depth of camera 'cam0': encoding 'rgb8'", 10.6)
    health.frames.tick(10.7)
    bad = health.status("hand_pose_node", 10.8)
    assert bad.level == DiagnosticStatus.WARN and bad.message == "depth refused, colour only: depth of camera 'cam0': encoding 'rgb8'"
    health.frames.tick(10.6 + RECENT_ERROR_S)
    assert health.status("hand_pose_node", 10.6 + RECENT_ERROR_S + 0.1).level == DiagnosticStatus.OK
