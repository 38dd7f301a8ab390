"""The node's processing threads: a latest-wins stage (at most one set waits, newer replaces
it) and, behind it, an optional in-order stage that finishes each set while the first stage
already runs the next one."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["LatestWinsWorker", "SerialStage"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")
U = TypeVar("U")
# Skips whose times ``LatestWinsWorker`` keeps for ``skipped_since`` (30 Hz input at half
# speed skips 15 a second: a few seconds' worth).
_SKIP_TIMES = 64


class _Stage:
    """A thread running ``process(item)`` for each item left in its one-item slot (by a
    subclass's ``submit`` or ``put``); failures are logged, counted in ``errors`` and handed
    to ``on_error``, and the thread goes on."""

    def __init__(self, process: Callable[[Any], Any], on_error: Callable[[BaseException], None] | None, name: str) -> None:
        self._process = process
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: Any = None
        self._has_pending = False
        self._stopping = False
        self.processed = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _join(self, timeout: float, discard: bool) -> None:
        """Stop taking items (``discard``: drop the waiting one) and join the thread."""
        with self._cond:
            if discard:
                self._pending, self._has_pending = None, False
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _handle(self, result: Any) -> None:
        """What the stage does with ``process``'s return value (nothing here)."""

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._has_pending and not self._stopping:
                    self._cond.wait()
                if not self._has_pending:  # stopping, nothing left to run
                    return
                item, self._pending, self._has_pending = self._pending, None, False
                self._cond.notify_all()  # a put() waiting for the slot may go on
            try:
                self._handle(self._process(item))
                self.processed += 1
            except Exception as exc:  # one bad set must not stop the node
                self.errors += 1
                LOG.exception("processing a set failed")
                if self._on_error is not None:
                    self._on_error(exc)


class SerialStage(_Stage, Generic[U]):
    """Runs ``process(item)`` on its own thread for every item ``put``, in order. ``put`` waits
    while the previous item still waits to start, so nothing is dropped and at most one item
    lies between the stage before and this one. ``stop`` runs what was put, then joins."""

    def __init__(self, process: Callable[[U], None], on_error: Callable[[BaseException], None] | None = None,
                 name: str = "stage") -> None:
        super().__init__(process, on_error, name)

    def put(self, item: U) -> None:
        with self._cond:
            while self._has_pending and not self._stopping:
                self._cond.wait()
            self._pending, self._has_pending = item, True
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the item in progress and the waiting one, then join the thread."""
        self._join(timeout, discard=False)


class LatestWinsWorker(_Stage, Generic[T]):
    """Runs ``process(item)`` on its own thread for the newest submitted item.

    While ``process`` runs, a newer ``submit`` replaces the waiting item (counted in
    ``skipped``), so the queue never grows and output follows the newest input. Exceptions
    from ``process`` are logged, counted in ``errors`` and handed to ``on_error``; the thread
    goes on with the next item. With ``then``, what ``process`` returns (unless None) is
    put to that stage, which finishes it on its own thread while this one takes the next item.
    """

    def __init__(self, process: Callable[[T], Any], on_error: Callable[[BaseException], None] | None = None,
                 name: str = "worker", then: SerialStage | None = None) -> None:
        self.then = then
        self.submitted = 0
        self.skipped = 0
        self._skip_times: collections.deque[float] = collections.deque(maxlen=_SKIP_TIMES)  # monotonic s
        super().__init__(process, on_error, name)

    def submit(self, item: T) -> None:
        with self._cond:
            if self._has_pending:
                self.skipped += 1
                self._skip_times.append(time.monotonic())
            self._pending, self._has_pending = item, True
            self.submitted += 1
            self._cond.notify_all()

    def skipped_since(self, since: float) -> int:
        """Items skipped at or after ``since`` (``time.monotonic()`` seconds; at most the last
        ``_SKIP_TIMES`` skips are counted): how far behind its input the worker has been lately."""
        with self._cond:
            return sum(t >= since for t in self._skip_times)

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the item in progress (the waiting one is discarded) and join the thread, then
        the ``then`` stage's (which finishes what it was given)."""
        self._join(timeout, discard=True)
        if self.then is not None:
            self.then.stop(timeout)

    def _handle(self, result: Any) -> None:
        if result is not None and self.then is not None:
            self.then.put(result)
