"""The callback boundary: nothing a message contains raises out of a node's callback.

rclpy re-raises an exception from any callback out of ``spin()``, so one unexpected error
(a message nobody anticipated, a bug on a rare path) would end the node. ``CallbackErrors``
wraps each subscription and timer callback: an exception is logged with the topic (at most
once per ``LOG_THROTTLE_S`` per topic, with the count), counted per topic for /diagnostics,
and the node goes on. Expected refusals (a malformed image) are handled inside the callbacks
themselves; this is the net under them.

``GuardedEndpoints`` is a mixin for ``rclpy.node.Node`` that applies it to every
subscription and timer the node creates, and reports incompatible-QoS events of every
subscription and publisher (``diagnostics.QosEvents``): by overriding ``create_subscription``,
``create_publisher`` and ``create_timer``, no call site (nor tf2_ros' listener and
broadcaster, which create theirs on the node) can forget either.
"""

from __future__ import annotations

import functools
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.qos import QoSPolicyKind

from hand_pose_ros.ros.diagnostics import QosEvents

__all__ = ["CallbackErrors", "GuardedEndpoints", "LOG_THROTTLE_S"]

LOG_THROTTLE_S = 2.0  # one log line per topic per 2 s, whatever the message rate
F = TypeVar("F", bound=Callable[..., Any])


class CallbackErrors:
    """Per-topic counts of exceptions caught at the callback boundary (thread-safe).

    Args:
        log: called with one line (topic, exception, where it was raised) per logged error;
            e.g. ``lambda text: node.get_logger().error(text)``.
        clock: monotonic seconds (replaceable in tests).
    """

    def __init__(self, log: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._last_logged: dict[str, float] = {}
        self.last_error = ""
        self.last_error_time = float("-inf")  # monotonic s

    def guarded(self, topic: str, callback: F) -> F:
        """``callback`` with every ``Exception`` caught and recorded under ``topic``.

        The wrapper keeps the callback's signature (rclpy inspects it to decide whether to
        pass MessageInfo or TimerInfo).
        """

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as exc:  # the boundary: nothing escapes into the executor
                self.record(topic, exc)
                return None

        return wrapper  # type: ignore[return-value]

    def record(self, topic: str, exc: BaseException) -> None:
        now = self._clock()
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        place = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}" if frame else ""
        text = f"{topic}: {type(exc).__name__}: {exc}"
        with self._lock:
            count = self._counts[topic] = self._counts.get(topic, 0) + 1
            self.last_error, self.last_error_time = text, now
            due = now - self._last_logged.get(topic, float("-inf")) >= LOG_THROTTLE_S
            if due:
                self._last_logged[topic] = now
        if due:
            self._log(f"callback for {text}{place} (caught; {count} on this topic so far)")

    def counts(self) -> dict[str, int]:
        """Topic → exceptions caught so far (cumulative)."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


class GuardedEndpoints:
    """Mixin before ``rclpy.node.Node`` (``class MyNode(GuardedEndpoints, Node)``): every
    subscription and timer callback guarded by ``callback_errors``, every subscription's and
    publisher's incompatible-QoS events recorded in ``qos_events`` and logged."""

    @functools.cached_property
    def callback_errors(self) -> CallbackErrors:
        """Exceptions caught at the boundary; created on first use (Node.__init__ already
        creates endpoints)."""
        return CallbackErrors(self.get_logger().error)  # type: ignore[attr-defined]

    @functools.cached_property
    def qos_events(self) -> QosEvents:
        return QosEvents()

    def create_subscription(self, msg_type: Any, topic: str, callback: Any, qos_profile: Any, **kwargs: Any) -> Any:
        """``Node.create_subscription`` with the callback guarded and incompatible QoS reported."""
        name = {"topic": topic}  # the resolved name once the subscription exists
        kwargs.setdefault("event_callbacks", SubscriptionEventCallbacks(incompatible_qos=self._qos_callback(name, "subscription")))
        subscription = super().create_subscription(  # type: ignore[misc]
            msg_type, topic, self.callback_errors.guarded(topic, callback), qos_profile, **kwargs
        )
        name["topic"] = subscription.topic_name
        self.qos_events.watch(subscription.topic_name, "subscription", subscription.get_publisher_count)
        return subscription

    def create_publisher(self, msg_type: Any, topic: str, qos_profile: Any, **kwargs: Any) -> Any:
        """``Node.create_publisher`` with incompatible QoS reported."""
        name = {"topic": topic}
        kwargs.setdefault("event_callbacks", PublisherEventCallbacks(incompatible_qos=self._qos_callback(name, "publisher")))
        publisher = super().create_publisher(msg_type, topic, qos_profile, **kwargs)  # type: ignore[misc]
        name["topic"] = publisher.topic_name
        self.qos_events.watch(publisher.topic_name, "publisher", publisher.get_subscription_count)
        return publisher

    def create_timer(self, timer_period_sec: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        """``Node.create_timer`` with the callback guarded (named "timer <function>")."""
        if callback is not None:
            callback = self.callback_errors.guarded(f"timer {getattr(callback, '__name__', 'callback')}", callback)
        return super().create_timer(timer_period_sec, callback, *args, **kwargs)  # type: ignore[misc]

    def _qos_callback(self, name: dict[str, str], kind: str) -> Callable[[Any], None]:
        """The incompatible-QoS event callback of one endpoint. It holds the node weakly: a
        node whose ``__init__`` failed after Node's own endpoints were made must not be kept
        alive (rclpy's shutdown would then destroy the half-built node)."""
        node = weakref.ref(self)

        def on_event(info: Any) -> None:
            alive = node()
            if alive is not None:
                alive._on_incompatible_qos(name["topic"], kind, info)

        return on_event

    def _on_incompatible_qos(self, topic: str, kind: str, info: Any) -> None:
        try:
            policy = QoSPolicyKind(int(info.last_policy_kind)).name
        except ValueError:
            policy = str(info.last_policy_kind)
        self.qos_events.incompatible(topic, kind, policy, info.total_count, time.monotonic())
        self.get_logger().warning(  # type: ignore[attr-defined]
            f"{topic} ({kind}): a peer with incompatible {policy} QoS; nothing flows between them"
        )
