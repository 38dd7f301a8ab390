"""A processing thread with latest-wins back-pressure: at most one set waits, newer replaces it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LatestWinsWorker"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class LatestWinsWorker(Generic[T]):
    """Runs ``process(item)`` on its own thread for the newest submitted item.

    While ``process`` runs, a newer ``submit`` replaces the waiting item (counted in
    ``skipped``), so the queue never grows and output follows the newest input. Exceptions
    from ``process`` are logged, counted in ``errors`` and handed to ``on_error``; the thread
    goes on with the next item.
    """

    def __init__(self, process: Callable[[T], None], on_error: Callable[[BaseException], None] | None = None, name: str = "worker") -> None:
        self._process = process
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: T | None = None
        self._has_pending = False
        self._stopping = False
        self.submitted = 0
        self.processed = 0
        self.skipped = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> None:
        with self._cond:
            if self._has_pending:
                self.skipped += 1
            self._pending, self._has_pending = item, True
            self.submitted += 1
            self._cond.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the item in progress (the waiting one is discarded) and join the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._has_pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
            try:
                self._process(item)  # type: ignore[arg-type]
                self.processed += 1
            except Exception as exc:  # one bad set must not stop the node
                self.errors += 1
                LOG.exception("processing a set failed")
                if self._on_error is not None:
                    self._on_error(exc)
