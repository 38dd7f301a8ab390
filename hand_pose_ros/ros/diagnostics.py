"""Health bookkeeping for /diagnostics: per-camera input, the synchroniser, the processing.

``RateMeter``/``CameraHealth``/``LatencyStats`` are plain, thread-safe counters updated by
the node's callbacks and worker; ``diagnostic_array`` turns a snapshot into a
``diagnostic_msgs/DiagnosticArray`` (one status per concern, units in the key names, as
diagnostic_updater does).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

__all__ = ["RateMeter", "CameraHealth", "LatencyStats", "ProcessingInfo", "diagnostic_array"]

RATE_WINDOW_S = 2.0  # input/output rates are averaged over the last 2 s
STALE_AFTER_S = 1.0  # a camera silent this long is reported STALE
LATENCY_SAMPLES = 300  # ≈10 s of sets at 30 Hz for the latency percentiles
RECENT_ERROR_S = 5.0  # a camera stays WARN this long after its last rejected image

OK, WARN, ERROR, STALE = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR, DiagnosticStatus.STALE)


class RateMeter:
    """Events per second over the last ``RATE_WINDOW_S`` (monotonic clock, seconds)."""

    def __init__(self) -> None:
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.count = 0
        self._last: float | None = None

    def tick(self, now: float) -> None:
        with self._lock:
            self._times.append(now)
            self.count += 1
            self._last = now
            self._trim(now)

    def rate(self, now: float) -> float:
        with self._lock:
            self._trim(now)
            return len(self._times) / RATE_WINDOW_S

    def last(self) -> float | None:
        """Time of the latest event ever (None before the first)."""
        return self._last

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - RATE_WINDOW_S:
            self._times.popleft()


@dataclasses.dataclass
class CameraHealth:
    """What one camera's topics have delivered; ``last_error`` is the newest refusal."""

    name: str
    image_topic: str
    camera_info_topic: str
    images: RateMeter = dataclasses.field(default_factory=RateMeter)
    rejected: int = 0
    last_error: str = ""
    last_error_time: float = float("-inf")  # monotonic s
    camera_info_received: int = 0
    camera_info_error: str = ""

    def reject(self, reason: str, now: float) -> None:
        self.rejected += 1
        self.last_error = reason
        self.last_error_time = now

    def status(self, node_name: str, now: float) -> DiagnosticStatus:
        rate = self.images.rate(now)
        last = self.images.last()
        problems: list[tuple[int, str]] = []  # (level, text): the message names every problem
        if last is None or now - last > STALE_AFTER_S:
            problems.append((3, "no images" if last is None else f"silent for {now - last:.1f} s"))
        if self.camera_info_error:
            problems.append((2, self.camera_info_error))
        if now - self.last_error_time < RECENT_ERROR_S:
            problems.append((1, f"rejected an image: {self.last_error}"))
        if not self.camera_info_received:
            problems.append((1, f"no CameraInfo on {self.camera_info_topic}"))
        level = bytes([max((lvl for lvl, _ in problems), default=0)])  # OK 0, WARN 1, ERROR 2, STALE 3
        message = "; ".join(text for _, text in problems) or "receiving"
        return _status(
            f"{node_name}: camera {self.name}",
            level,
            message,
            {
                "Image topic": self.image_topic,
                "Input rate (Hz)": f"{rate:.1f}",
                "Images received": self.images.count,
                "Images rejected": self.rejected,
                "Last error": self.last_error,
                "CameraInfo received": self.camera_info_received,
                "CameraInfo error": self.camera_info_error,
            },
        )


class LatencyStats:
    """The last ``LATENCY_SAMPLES`` latencies (seconds) and their percentiles."""

    def __init__(self) -> None:
        self._values: collections.deque[float] = collections.deque(maxlen=LATENCY_SAMPLES)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._values.append(seconds)

    def percentiles(self, *q: float) -> list[float]:
        with self._lock:
            values = np.array(self._values)
        return [float("nan")] * len(q) if values.size == 0 else [float(np.percentile(values, p)) for p in q]


@dataclasses.dataclass
class ProcessingInfo:
    """A snapshot of the worker's side for the processing status."""

    backend: str
    device: str
    sets_processed: int
    sets_skipped: int
    errors: int
    last_error: str
    output_rate_hz: float
    latency: LatencyStats


def diagnostic_array(
    node_name: str,
    now_monotonic: float,
    stamp: Time,
    cameras: Sequence[CameraHealth],
    sync_counts: dict[str, int | str],
    processing: ProcessingInfo,
) -> DiagnosticArray:
    """One DiagnosticArray: a status per camera, one for synchronisation, one for processing."""
    out = DiagnosticArray()
    out.header.stamp = stamp
    out.status = [c.status(node_name, now_monotonic) for c in cameras]
    sync_level = WARN if sync_counts["partial"] else OK
    out.status.append(
        _status(
            f"{node_name}: synchronizer",
            sync_level,
            f"{sync_counts['partial']} partial sets" if sync_counts["partial"] else "full sets",
            {
                "Implementation": sync_counts.get("implementation", ""),
                "Sets emitted": sync_counts["emitted"],
                "Partial sets": sync_counts["partial"],
                "Messages dropped": sync_counts["dropped"],
                "Stamps rejected (duplicate or backwards)": sync_counts["rejected"],
                "Time jumps back (streams restarted)": sync_counts.get("time_jumps", 0),
            },
        )
    )
    median, p90 = processing.latency.percentiles(50, 90)
    level = ERROR if processing.last_error else OK
    out.status.append(
        _status(
            f"{node_name}: processing",
            level,
            processing.last_error or f"{processing.backend} on {processing.device}",
            {
                "Backend": processing.backend,
                "Device": processing.device,
                "Sets processed": processing.sets_processed,
                "Sets skipped (latest wins)": processing.sets_skipped,
                "Processing errors": processing.errors,
                "Output rate (Hz)": f"{processing.output_rate_hz:.1f}",
                "Latency median (ms)": f"{median * 1e3:.1f}",
                "Latency p90 (ms)": f"{p90 * 1e3:.1f}",
            },
        )
    )
    return out


def _status(name: str, level: bytes | int, message: str, values: dict[str, object]) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=name.split(": ", 1)[0],
        values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
    )
