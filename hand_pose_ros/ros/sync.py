"""Approximate-time synchronisation of N camera streams, with a partial mode for dead cameras.

Semantics follow ``message_filters.ApproximateTimeSynchronizer``: each camera keeps a
bounded queue of its latest messages keyed by header stamp; when a message arrives, a set
is emitted if every other camera holds a message whose stamp lies within ``slop`` of it and
the set's spread (max − min stamp) is at most ``slop``. Unlike message_filters' Python
implementation (a Cartesian product over all queues), the candidate for each camera is the
stamp nearest the new message, so one arrival costs O(cameras × queue).

Partial mode: when the oldest pending message has waited ``partial_timeout`` seconds (arrival
clock, not stamps) without completing a set, a set is emitted from the cameras that have a
message within ``slop`` of it, provided there are at least ``min_views``; missing cameras are
``None``. Messages older than an emitted set are dropped and counted, never queued forever.
A caller wakes up at ``next_deadline()`` and takes every due set with ``poll_all``, so a set
with a silent camera leaves as soon as its timeout expires, whatever the input rate (the node arms a
one-shot timer for the deadline on every arrival).

Aligned depth (``DepthMatcher``) rides along with its camera's colour image and never decides
a set: a depth frame joins the set whose colour stamp of that camera lies within ``slop`` of it,
taken when the set is processed; a set whose depth has not arrived by then goes without.

``SyncConfig.implementation`` chooses who decides full sets: ``builtin`` (this module's,
linear in cameras × queue, the tested one) or ``message_filters`` (ROS 2's, on request, where
importable). With message_filters a time jump back rebuilds its synchroniser: its queues
evict the smallest stamp first, so after a bag loop they would keep the old timeline and
throw away every new message.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from typing import Any

from hand_pose_ros.config import MESSAGE_FILTERS_MISSING, SyncConfig
from hand_pose_ros.timing import NS_PER_S

__all__ = [
    "SyncConfig",
    "SyncedSet",
    "ApproximateSynchronizer",
    "MessageFiltersSynchronizer",
    "make_synchronizer",
    "DepthMatcher",
    "DEPTH_MAX_OFFSET_S",
]

LOG = logging.getLogger(__name__)




@dataclasses.dataclass(frozen=True)
class SyncedSet:
    """One synchronised set: per camera the item (``None`` where missing) and its stamp (ns)."""

    items: tuple[Any | None, ...]
    stamps_ns: tuple[int | None, ...]
    partial: bool

    @property
    def stamp_ns(self) -> int:
        """Capture time of the set: the earliest stamp present (nanoseconds)."""
        return min(s for s in self.stamps_ns if s is not None)

    @property
    def spread_s(self) -> float:
        present = [s for s in self.stamps_ns if s is not None]
        return (max(present) - min(present)) / NS_PER_S


@dataclasses.dataclass
class _Pending:
    stamp_ns: int
    arrival_s: float
    item: Any


class ApproximateSynchronizer:
    """Thread-safe: ``add`` from subscription callbacks, ``poll`` from a timer.

    Counters (read any time): ``emitted``, ``partial``, ``dropped`` (messages discarded
    unused: queue overflow, older than an emitted set, or too old for a partial set),
    ``rejected`` (stamp not newer than the camera's last, i.e. duplicate or backwards),
    ``time_jumps`` (restarts: stamps back by more than ``time_jump``), ``last_partial_s``
    (arrival clock of the latest partial set; -inf before the first).
    """

    def __init__(self, config: SyncConfig) -> None:
        self.config = config
        self._queues: list[list[_Pending]] = [[] for _ in range(config.num_cameras)]
        self._last_stamp: list[int | None] = [None] * config.num_cameras
        self._lock = threading.Lock()
        self.emitted = 0
        self.partial = 0
        self.dropped = 0
        self.rejected = 0
        self.time_jumps = 0
        self.last_partial_s = float("-inf")

    def counts(self) -> dict[str, int | float | str]:
        """The counters for /diagnostics (``diagnostics.diagnostic_array``'s ``sync_counts``)."""
        return {
            "implementation": type(self).__name__,
            "emitted": self.emitted,
            "partial": self.partial,
            "dropped": self.dropped,
            "rejected": self.rejected,
            "time_jumps": self.time_jumps,
            "last_partial_s": self.last_partial_s,
        }

    def add(self, camera: int, stamp_ns: int, item: Any, arrival_s: float) -> SyncedSet | None:
        """Queue one message; return the full set it completes, if any.

        Raises:
            ValueError: ``stamp_ns`` is not newer than this camera's previous message
                (duplicate or going backwards); the message is not queued.
        """
        if not 0 <= camera < self.config.num_cameras:
            raise IndexError(f"camera index {camera} outside 0..{self.config.num_cameras - 1}")
        with self._lock:
            last = self._last_stamp[camera]
            if last is not None and last - stamp_ns > self.config.time_jump * NS_PER_S:
                # A restarted source (bag loop, simulation reset): start this camera afresh.
                self.time_jumps += 1
                self.dropped += len(self._queues[camera])
                self._queues[camera] = []
                LOG.info("camera %d: stamps jumped back %.1f s; restarting its stream", camera, (last - stamp_ns) / NS_PER_S)
                self._restarted(stamp_ns)
            elif last is not None and stamp_ns <= last:
                self.rejected += 1
                kind = "duplicate" if stamp_ns == last else "backwards"
                raise ValueError(f"{kind} stamp {stamp_ns} ns (previous {last} ns)")
            self._last_stamp[camera] = stamp_ns
            queue = self._queues[camera]
            queue.append(_Pending(stamp_ns, arrival_s, item))
            if len(queue) > self.config.queue_size:
                queue.pop(0)
                self.dropped += 1
            chosen = self._full_set(camera, queue[-1])
            return None if chosen is None else self._emit(chosen, partial=False)

    def _restarted(self, stamp_ns: int) -> None:
        """Hook: a camera's stream restarted at ``stamp_ns`` (called with the lock held)."""

    def _full_set(self, camera: int, pending: _Pending) -> list[_Pending | None] | None:
        """The full set the new message completes, or None (called with the lock held)."""
        chosen = self._match(pending.stamp_ns, skip=camera)
        chosen[camera] = pending
        return None if None in chosen else chosen

    def poll(self, now_s: float) -> SyncedSet | None:
        """Emit a partial set if the oldest pending message timed out (see module docstring)."""
        timeout = self.config.partial_timeout
        if timeout <= 0:
            return None
        with self._lock:
            oldest: tuple[int, _Pending] | None = None
            for cam, queue in enumerate(self._queues):
                if queue and (oldest is None or queue[0].arrival_s < oldest[1].arrival_s):
                    oldest = (cam, queue[0])
            # The same sum as next_deadline's, so that poll_all's loop ends whatever the rounding.
            if oldest is None or now_s < oldest[1].arrival_s + timeout:
                return None
            cam, anchor = oldest
            chosen = self._match(anchor.stamp_ns, skip=cam)
            chosen[cam] = anchor
            if sum(p is not None for p in chosen) >= self.config.min_views:
                self.last_partial_s = now_s
                return self._emit(chosen, partial=True)
            self._queues[cam].pop(0)
            self.dropped += 1
            return None

    def poll_all(self, now_s: float) -> list[SyncedSet]:
        """Every partial set due at ``now_s``, oldest first (``poll`` until nothing is due)."""
        out: list[SyncedSet] = []
        while (deadline := self.next_deadline()) is not None and deadline <= now_s:
            ready = self.poll(now_s)
            if ready is not None:
                out.append(ready)
        return out

    def next_deadline(self) -> float | None:
        """Arrival-clock time (s) at which the oldest pending message times out; None when
        nothing is pending or partial sets are off."""
        if self.config.partial_timeout <= 0:
            return None
        with self._lock:
            oldest = min((q[0].arrival_s for q in self._queues if q), default=None)
        return None if oldest is None else oldest + self.config.partial_timeout

    def _match(self, stamp_ns: int, skip: int) -> list[_Pending | None]:
        """Per camera the pending message nearest ``stamp_ns`` within slop (None if none).

        The set must also have a spread ≤ slop; a camera whose nearest candidate would
        widen the spread beyond it counts as missing.
        """
        slop_ns = int(self.config.slop * NS_PER_S)
        chosen: list[_Pending | None] = [None] * self.config.num_cameras
        low = high = stamp_ns
        for cam, queue in enumerate(self._queues):
            if cam == skip or not queue:
                continue
            best = min(queue, key=lambda p: abs(p.stamp_ns - stamp_ns))
            if max(high, best.stamp_ns) - min(low, best.stamp_ns) <= slop_ns:
                chosen[cam] = best
                low, high = min(low, best.stamp_ns), max(high, best.stamp_ns)
        return chosen

    def _emit(self, chosen: Sequence[_Pending | None], partial: bool) -> SyncedSet:
        """Remove the chosen messages and everything older in their queues (counted as drops)."""
        newest = max(p.stamp_ns for p in chosen if p is not None)
        for cam, pick in enumerate(chosen):
            queue = self._queues[cam]
            if pick is not None:
                keep = [p for p in queue if p.stamp_ns > pick.stamp_ns]
                self.dropped += len(queue) - len(keep) - 1
            else:
                # A missing camera's messages older than the set can never join a later one.
                keep = [p for p in queue if p.stamp_ns > newest]
                self.dropped += len(queue) - len(keep)
            self._queues[cam] = keep
        self.emitted += 1
        self.partial += int(partial)
        return SyncedSet(
            items=tuple(None if p is None else p.item for p in chosen),
            stamps_ns=tuple(None if p is None else p.stamp_ns for p in chosen),
            partial=partial,
        )


class _Stamped:
    """The least message_filters needs: ``header.stamp``; carries the stamp in ns back."""

    __slots__ = ("header", "stamp_ns")

    def __init__(self, stamp_ns: int) -> None:
        from std_msgs.msg import Header

        from hand_pose_ros.ros.conversions import ns_to_stamp

        self.stamp_ns = stamp_ns
        self.header = Header(stamp=ns_to_stamp(stamp_ns))


class MessageFiltersSynchronizer(ApproximateSynchronizer):
    """Full sets decided by ``message_filters.ApproximateTimeSynchronizer``.

    Queue bounds, duplicate/backwards refusal, partial sets and the counters stay those of
    ``ApproximateSynchronizer``; message_filters only chooses which stamps form a full set
    (its callback runs inside ``signalMessage``, i.e. inside ``add``). A set whose messages
    this class already let go (partial set, overflow) is ignored.

    A camera's time jump back rebuilds the message_filters synchroniser and feeds it again
    the pending messages of the new timeline: its own queues would otherwise keep the old
    timeline's (larger) stamps and evict every new message first.
    """

    def __init__(self, config: SyncConfig, message_filters: Any) -> None:
        super().__init__(config)
        self._message_filters = message_filters
        self._completed: list[int] | None = None
        self._build()

    def _build(self) -> None:
        mf = self._message_filters
        self._inputs = [mf.SimpleFilter() for _ in range(self.config.num_cameras)]
        self._sync = mf.ApproximateTimeSynchronizer(self._inputs, self.config.queue_size, self.config.slop)
        self._sync.registerCallback(self._on_set)

    def _restarted(self, stamp_ns: int) -> None:
        self._build()
        horizon = stamp_ns + int(self.config.time_jump * NS_PER_S)  # later stamps: the old timeline
        for cam, queue in enumerate(self._queues):
            for pending in queue:
                if pending.stamp_ns < horizon:
                    self._inputs[cam].signalMessage(_Stamped(pending.stamp_ns))

    def _on_set(self, *messages: _Stamped) -> None:
        self._completed = [m.stamp_ns for m in messages]

    def _full_set(self, camera: int, pending: _Pending) -> list[_Pending | None] | None:
        self._completed = None
        self._inputs[camera].signalMessage(_Stamped(pending.stamp_ns))
        if self._completed is None:
            return None
        chosen: list[_Pending | None] = []
        for cam, stamp in enumerate(self._completed):
            match = next((p for p in self._queues[cam] if p.stamp_ns == stamp), None)
            if match is None:
                return None
            chosen.append(match)
        return chosen


def make_synchronizer(config: SyncConfig) -> ApproximateSynchronizer:
    """The synchroniser ``config.implementation`` names.

    Raises:
        ValueError: ``message_filters`` requested but not importable (start-up refuses that first).
    """
    if config.implementation == "builtin":
        return ApproximateSynchronizer(config)
    try:
        import message_filters  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ValueError(MESSAGE_FILTERS_MISSING.format(reason=exc)) from exc
    return MessageFiltersSynchronizer(config, message_filters)


# A depth frame this far (s) from its camera's latest colour image belongs to another time
# (another clock, a wrong stamp, a stale stream): far beyond a few frames of transport lag
# at any camera rate (≥ 2 Hz), and far below the clock offsets that happen (seconds).
DEPTH_MAX_OFFSET_S = 0.5
# A camera's depth stream is live (``depth_wait`` waits for it) while its latest frame arrived
# less than this long ago: the node's "silent" threshold for cameras (diagnostics.STALE_AFTER_S).
DEPTH_LIVE_S = 1.0


class DepthMatcher:
    """Per camera the pending aligned depth frames, matched to the colour stamps of a set.

    Thread-safe: ``add`` and ``colour`` from subscription callbacks, ``take`` from the worker
    when it picks a set up (so a depth frame that arrives after its colour image but before
    processing still joins). ``wait_s`` > 0 (``SyncConfig.depth_wait``): ``take`` waits up to
    that long for the depth of each camera whose depth stream is live (a frame arrived less
    than ``DEPTH_LIVE_S`` ago) and has not brought this set's yet, as RealSense's aligned depth
    comes a few ms after its colour image; 0: nothing ever waits for depth.

    A camera's depth frame joins when its stamp lies within ``slop`` of the camera's colour
    stamp in the set (the nearest such frame). A frame more than ``DEPTH_MAX_OFFSET_S`` from
    the colour images is from another time and refused: one that far before the camera's
    latest colour image on arrival (``add`` says why), one that far after a set's colour
    stamp when the set is taken (``take`` says why; a frame merely ahead of the latest colour
    image on arrival is normal when depth comes first after a pause). Frames older
    than a set's colour stamp (beyond ``slop``) and frames pushed out of the bounded queue
    (``queue_size``) are let go silently: their set was skipped (latest wins), their colour
    image was lost or refused, or they came late.

    Counters (read any time): ``matched``, ``dropped`` (let go unused), ``refused``.
    """

    def __init__(self, *, num_cameras: int, slop: float, queue_size: int, wait_s: float = 0.0) -> None:
        self._slop_ns = int(slop * NS_PER_S)
        self._queue_size = queue_size
        self._wait_s = wait_s
        self._queues: list[list[tuple[int, Any]]] = [[] for _ in range(num_cameras)]
        self._latest_colour: list[int | None] = [None] * num_cameras
        self._last_arrival: list[float] = [float("-inf")] * num_cameras  # monotonic s
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.matched = 0
        self.dropped = 0
        self.refused = 0

    def colour(self, camera: int, stamp_ns: int) -> None:
        """Camera ``camera``'s latest colour image (usable or not) is stamped ``stamp_ns``."""
        with self._lock:
            self._latest_colour[camera] = stamp_ns

    def add(self, camera: int, stamp_ns: int, depth: Any, arrival_s: float) -> str:
        """Queue one depth frame that arrived at ``arrival_s`` (monotonic s); returns why it
        was refused ("" when queued)."""
        with self._lock:
            self._last_arrival[camera] = arrival_s
            colour_ns = self._latest_colour[camera]
            if colour_ns is not None and colour_ns - stamp_ns > DEPTH_MAX_OFFSET_S * NS_PER_S:
                self.refused += 1
                return _another_time(stamp_ns, colour_ns, "the camera's latest colour image")
            queue = self._queues[camera]
            queue.append((stamp_ns, depth))
            queue.sort(key=lambda entry: entry[0])
            while len(queue) > self._queue_size:
                queue.pop(0)
                self.dropped += 1
            self._arrived.notify_all()
            return ""

    def take(self, stamps_ns: Sequence[int | None], now_s: float) -> tuple[list[Any | None], list[tuple[int, str]]]:
        """Per camera the depth frame of the set whose colour stamps are ``stamps_ns`` (None
        where the camera has no colour image in it or no depth frame within ``slop``), and
        (camera, why) for each frame refused as being from another time. ``now_s``:
        monotonic s (which depth streams are live, for ``wait_s``)."""
        depths: list[Any | None] = [None] * len(self._queues)
        refused: list[tuple[int, str]] = []
        max_ns = DEPTH_MAX_OFFSET_S * NS_PER_S
        with self._lock:
            if self._wait_s > 0:
                live = [c for c, s in enumerate(stamps_ns) if s is not None and now_s - self._last_arrival[c] < DEPTH_LIVE_S]
                self._arrived.wait_for(lambda: all(self._has_near(c, stamps_ns[c]) for c in live), timeout=self._wait_s)
            for camera, colour_ns in enumerate(stamps_ns):
                queue = self._queues[camera]
                if colour_ns is None or not queue:
                    continue
                for stamp, _ in (e for e in queue if e[0] - colour_ns > max_ns):
                    refused.append((camera, _another_time(stamp, colour_ns, "the camera's colour image in its set")))
                    self.refused += 1
                queue = [e for e in queue if e[0] - colour_ns <= max_ns]
                near = [i for i, (stamp, _) in enumerate(queue) if abs(stamp - colour_ns) <= self._slop_ns]
                if near:
                    best = min(near, key=lambda i: abs(queue[i][0] - colour_ns))
                    depths[camera] = queue[best][1]
                    self.matched += 1
                    kept = queue[best + 1:]
                    self.dropped += best
                else:
                    kept = [e for e in queue if e[0] >= colour_ns - self._slop_ns]
                    self.dropped += len(queue) - len(kept)
                self._queues[camera] = kept
        return depths, refused

    def _has_near(self, camera: int, colour_ns: int) -> bool:
        """A depth frame of ``camera`` within ``slop`` of ``colour_ns`` is queued (lock held)."""
        return any(abs(stamp - colour_ns) <= self._slop_ns for stamp, _ in self._queues[camera])


def _another_time(stamp_ns: int, colour_ns: int, what: str) -> str:
    """Why a depth frame stamped ``stamp_ns`` is refused, ``colour_ns`` being ``what``'s stamp."""
    offset_ms = (stamp_ns - colour_ns) / NS_PER_S * 1e3
    return (f"depth frame stamped {stamp_ns} ns is {abs(offset_ms):.1f} ms {'after' if offset_ms > 0 else 'before'} "
            f"{what} (at most {DEPTH_MAX_OFFSET_S * 1e3:.0f} ms apart): from another time, not used")
