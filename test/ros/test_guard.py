"""The callback boundary: exceptions are caught, counted per topic, logged (throttled) with the topic."""

from __future__ import annotations

import time

import pytest
from rclpy.subscription import Subscription

from hand_pose_ros.ros.guard import LOG_THROTTLE_S, CallbackErrors


def test_exceptions_are_caught_counted_and_logged_with_topic_and_place():
    lines, clock = [], [0.0]
    errors = CallbackErrors(lines.append, clock=lambda: clock[0])
    calls = []

    def on_image(msg):
        calls.append(msg)
        if msg == "bad":
            raise KeyError("no such camera")
        return "ok"

    guarded = errors.guarded("/cam0/image_raw", on_image)
    assert guarded("good") == "ok"
    assert guarded("bad") is None  # swallowed: rclpy's spin would re-raise it
    assert calls == ["good", "bad"] and errors.counts() == {"/cam0/image_raw": 1} and errors.total == 1
    assert len(lines) == 1 and "/cam0/image_raw: KeyError" in lines[0] and "in on_image" in lines[0]
    assert errors.last_error_time == 0.0


def test_logging_is_throttled_per_topic_but_every_error_is_counted():
    lines, clock = [], [0.0]
    errors = CallbackErrors(lines.append, clock=lambda: clock[0])
    a = errors.guarded("/a", lambda m: 1 / 0)
    b = errors.guarded("/b", lambda m: [][1])
    for _ in range(10):
        a(None)
    b(None)
    assert errors.counts() == {"/a": 10, "/b": 1} and len(lines) == 2
    clock[0] = LOG_THROTTLE_S
    a(None)
    assert len(lines) == 3 and "11 on this topic" in lines[-1]


def test_base_exceptions_still_stop_the_node():
    errors = CallbackErrors(lambda text: None)

    def interrupted(msg):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        errors.guarded("/a", interrupted)(None)


@pytest.mark.parametrize("callback, with_info", [(lambda msg: None, False), (lambda msg, info: None, True), (lambda m, i=0: None, False)])
def test_the_wrapper_keeps_the_signature_rclpy_inspects(callback, with_info):
    """rclpy passes MessageInfo only to two-argument callbacks (Subscription.callback setter)."""

    class Probe:
        callback = Subscription.callback

    probe = Probe()
    probe.callback = CallbackErrors(lambda text: None).guarded("/t", callback)
    assert (probe._callback_type == Subscription.CallbackType.WithMessageInfo) == with_info


@pytest.mark.ros
def test_a_guarded_node_survives_raising_callbacks_and_reports_incompatible_qos(monkeypatch):
    """Real rclpy in this process: a subscription and a timer that raise, and a best-effort
    publisher against a reliable subscription."""
    import os

    import rclpy

    from hand_pose_ros.tools.launch_spec import ros_environment

    # Fast DDS reads its profiles once per process, at the first participant: give it the
    # 8 MiB shared-memory profile the image-publishing tests after this one need (test_node_dds).
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:
        monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", ros_environment({})["FASTDDS_DEFAULT_PROFILES_FILE"])
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    from hand_pose_ros.ros.guard import GuardedEndpoints
    from hand_pose_ros.tools.harness import spin_in_background, wait_until

    class Probe(GuardedEndpoints, Node):
        def __init__(self):
            super().__init__("guard_probe")
            self.received = []
            self.create_subscription(String, "/guard/in", self.on_message, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
            self.create_timer(0.05, self.on_tick)

        def on_message(self, msg):
            self.received.append(msg.data)
            if msg.data == "bad":
                raise RuntimeError("a message nobody anticipated")

        def on_tick(self):
            raise ValueError("timer bug")

    rclpy.init()
    probe = Probe()
    other = rclpy.create_node("guard_peer")
    executor, thread = spin_in_background(probe)
    try:
        reliable = other.create_publisher(String, "/guard/in", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        other.create_publisher(String, "/guard/in", QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
        assert wait_until(lambda: reliable.get_subscription_count() > 0, 20)
        for data in ("good", "bad", "after"):
            reliable.publish(String(data=data))
        assert wait_until(lambda: probe.received == ["good", "bad", "after"], 20), probe.received  # spin went on
        assert wait_until(lambda: probe.callback_errors.counts().get("/guard/in") == 1, 20)
        assert probe.callback_errors.counts().get("timer on_tick", 0) >= 1
        assert wait_until(lambda: "RELIABILITY" in probe.qos_events.status("n", time.monotonic()).message, 20)
        assert "/guard/in (subscription)" in probe.qos_events.status("n", time.monotonic()).message
        assert thread.is_alive()
    finally:
        executor.shutdown()
        probe.destroy_node()
        other.destroy_node()
        rclpy.try_shutdown()
        thread.join(5)
