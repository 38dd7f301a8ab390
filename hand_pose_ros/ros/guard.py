"""The callback boundary: nothing a message contains raises out of a node's callback.

rclpy re-raises an exception from any callback out of ``spin()``, so one unexpected error
(a message nobody anticipated, a bug on a rare path) would end the node. ``CallbackErrors``
wraps each subscription and timer callback: an exception is logged with the topic (at most
once per ``LOG_THROTTLE_S`` per topic, with the count), counted per topic for /diagnostics,
and the node goes on. Expected refusals (a malformed image) are handled inside the callbacks
themselves; this is the net under them.
"""

from __future__ import annotations

import functools
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["CallbackErrors", "LOG_THROTTLE_S"]

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
