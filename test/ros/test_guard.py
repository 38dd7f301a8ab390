"""The callback boundary: exceptions are caught, counted per topic, logged (throttled) with the topic."""

from __future__ import annotations

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
