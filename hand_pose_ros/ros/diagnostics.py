"""Health bookkeeping for /diagnostics: per-camera input, the synchroniser, the processing,
callback errors and incompatible QoS.

``RateMeter``/``CameraHealth``/``LatencyStats``/``QosEvents`` are plain, thread-safe counters
updated by the node's callbacks and worker; ``diagnostic_array`` turns a snapshot into a
``diagnostic_msgs/DiagnosticArray`` (one status per concern, units in the key names, as
diagnostic_updater does). Levels show the present: a status warns (or errs) while its last
bad event is less than ``RECENT_ERROR_S`` old; the counts stay cumulative.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from hand_pose_ros.calibration.monitor import MonitorReport

if TYPE_CHECKING:  # guard imports QosEvents from here
    from hand_pose_ros.ros.guard import CallbackErrors

__all__ = [
    "RateMeter",
    "CameraHealth",
    "DepthHealth",
    "LatencyStats",
    "ProcessingInfo",
    "QosEvents",
    "StageStats",
    "callbacks_status",
    "calibration_status",
    "pipeline_status",
    "diagnostic_array",
    "RECENT_ERROR_S",
]

RATE_WINDOW_S = 2.0  # input/output rates are averaged over the last 2 s
STALE_AFTER_S = 1.0  # a camera silent this long is reported STALE
LATENCY_SAMPLES = 300  # ≈10 s of sets at 30 Hz for the latency percentiles
# A status stays WARN/ERROR this long after its last bad event (rejected image, partial set,
# processing or callback error): long enough to be seen at a 1 s diagnostics period and by
# a person glancing at rqt, short enough that a recovered system reads OK again.
RECENT_ERROR_S = 5.0

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
    camera_info_rejected: int = 0
    camera_info_error: str = ""  # the latest CameraInfo's problem ("" once a good one arrives)
    # Intrinsics from CameraInfo: images are held out of sets until the first good one.
    waiting_for_camera_info: bool = False
    intrinsics: str = ""  # the intrinsics in use, as text ("" while they come from the file)

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
        if self.waiting_for_camera_info:
            problems.append((1, f"waiting for camera_info on {self.camera_info_topic} (images held out of sets)"))
        elif not self.camera_info_received:
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
                "CameraInfo rejected": self.camera_info_rejected,
                "CameraInfo error": self.camera_info_error,
                "Intrinsics": self.intrinsics,
            },
        )


@dataclasses.dataclass
class DepthHealth:
    """What one camera's aligned depth topic has delivered and what became of it.

    ``reject`` (thread-safe: the subscription callback refuses a message, the worker learns of
    a map the pipeline refused) records the newest problem;
    the camera's colour path is never affected (its sets go on without depth).
    """

    name: str
    topic: str
    frames: RateMeter = dataclasses.field(default_factory=RateMeter)
    rejected: int = 0
    last_error: str = ""
    last_error_time: float = float("-inf")  # monotonic s
    sets_with_depth: int = 0  # sets processed with this camera's depth in them
    sets_without_depth: int = 0  # sets with the camera's colour image but no usable depth
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False, compare=False)

    def reject(self, reason: str, now: float) -> None:
        with self._lock:
            self.rejected += 1
            self.last_error, self.last_error_time = reason, now

    def used(self, with_depth: bool) -> None:
        """One processed set that had this camera's colour image, with or without its depth."""
        with self._lock:
            if with_depth:
                self.sets_with_depth += 1
            else:
                self.sets_without_depth += 1

    def status(self, node_name: str, now: float) -> DiagnosticStatus:
        """WARN while depth is refused recently or silent (the colour path goes on regardless)."""
        last = self.frames.last()
        problems = []
        if now - self.last_error_time < RECENT_ERROR_S:
            problems.append(f"depth refused, colour only: {self.last_error}")
        if last is None or now - last > STALE_AFTER_S:
            problems.append(f"no depth on {self.topic}" + ("" if last is None else f" for {now - last:.1f} s") + ", colour only")
        return _status(
            f"{node_name}: camera {self.name} depth",
            WARN if problems else OK,
            "; ".join(problems) or "receiving depth",
            {
                "Depth topic": self.topic,
                "Depth rate (Hz)": f"{self.frames.rate(now):.1f}",
                "Depth frames received": self.frames.count,
                "Depth frames rejected": self.rejected,
                "Sets with depth": self.sets_with_depth,
                "Sets without depth": self.sets_without_depth,
                "Last error": self.last_error,
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
    last_error_time: float = float("-inf")  # monotonic s of ``last_error``


def diagnostic_array(
    node_name: str,
    now_monotonic: float,
    stamp: Time,
    cameras: Sequence[CameraHealth],
    sync_counts: dict[str, Any],
    processing: ProcessingInfo,
    extra: Sequence[DiagnosticStatus] = (),
) -> DiagnosticArray:
    """One DiagnosticArray: a status per camera, one for synchronisation, one for processing,
    then ``extra`` (callback errors, QoS).

    ``sync_counts`` is ``ApproximateSynchronizer.counts()``: its ``last_partial_s`` (same
    monotonic clock as ``now_monotonic``) makes the synchroniser WARN while partial sets are recent.
    """
    out = DiagnosticArray()
    out.header.stamp = stamp
    out.status = [c.status(node_name, now_monotonic) for c in cameras]
    partial_age = now_monotonic - sync_counts.get("last_partial_s", float("-inf"))
    recent_partial = partial_age < RECENT_ERROR_S
    out.status.append(
        _status(
            f"{node_name}: synchronizer",
            WARN if recent_partial else OK,
            f"partial sets: the latest {partial_age:.1f} s ago ({sync_counts['partial']} in all)"
            if recent_partial
            else f"full sets ({sync_counts['partial']} partial in all)",
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
    recent_error = now_monotonic - processing.last_error_time < RECENT_ERROR_S
    out.status.append(
        _status(
            f"{node_name}: processing",
            ERROR if recent_error else OK,
            processing.last_error if recent_error else f"{processing.backend} on {processing.device}",
            {
                "Backend": processing.backend,
                "Device": processing.device,
                "Sets processed": processing.sets_processed,
                "Sets skipped (latest wins)": processing.sets_skipped,
                "Processing errors": processing.errors,
                "Last error": processing.last_error,
                "Output rate (Hz)": f"{processing.output_rate_hz:.1f}",
                "Latency median (ms)": f"{median * 1e3:.1f}",
                "Latency p90 (ms)": f"{p90 * 1e3:.1f}",
            },
        )
    )
    out.status.extend(extra)
    return out


def callbacks_status(node_name: str, now_monotonic: float, errors: CallbackErrors) -> DiagnosticStatus:
    """ERROR while an exception was caught at the callback boundary recently; counts per topic."""
    recent = now_monotonic - errors.last_error_time < RECENT_ERROR_S
    counts = errors.counts()
    return _status(
        f"{node_name}: callbacks",
        ERROR if recent else OK,
        errors.last_error if recent else f"no recent callback errors ({sum(counts.values())} in all)",
        {"Callback errors": sum(counts.values()), "Last error": errors.last_error}
        | {f"Errors on {topic}": count for topic, count in sorted(counts.items())},
    )


def calibration_status(node_name: str, report: MonitorReport) -> DiagnosticStatus:
    """WARN naming a camera whose hands reproject well above the others' (it probably moved);
    per camera the median hand reprojection error (px) and its samples."""
    values: dict[str, object] = {}
    for name, median in report.median_px.items():
        values[f"{name} hand reprojection (px)"] = "n/a" if np.isnan(median) else f"{median:.2f}"
        values[f"{name} samples"] = report.samples[name]
    return _status(
        f"{node_name}: calibration",
        WARN if report.warnings else OK,
        "; ".join(report.warnings) if report.warnings else "hands reproject alike in every camera",
        values,
    )


@dataclasses.dataclass
class _Incompatible:
    policy: str  # the QoS policy of the latest incompatible peer (QoSPolicyKind name)
    count: int  # incompatible peers seen (the event's total_count)
    time: float  # monotonic s of the latest event


class QosEvents:
    """Incompatible-QoS events of the node's subscriptions and publishers, per topic.

    A topic warns while its latest incompatible peer appeared recently or while it has no
    compatible peer at all (a best-effort camera against a reliable subscription: nothing
    arrives, and the event fires once, at discovery).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peers: dict[tuple[str, str], Callable[[], int]] = {}
        self._events: dict[tuple[str, str], _Incompatible] = {}

    def watch(self, topic: str, kind: str, matched_peers: Callable[[], int]) -> None:
        """Know ``topic``'s ``kind`` ("subscription" | "publisher") endpoint and how to count its peers."""
        with self._lock:
            self._peers[(topic, kind)] = matched_peers

    def forget(self, topic: str, kind: str) -> None:
        """Stop reporting ``topic``'s ``kind`` endpoint (destroyed: a lifecycle deactivate), its
        past events included: a re-created endpoint starts clean."""
        with self._lock:
            self._peers.pop((topic, kind), None)
            self._events.pop((topic, kind), None)

    def incompatible(self, topic: str, kind: str, policy: str, total_count: int, now: float) -> None:
        with self._lock:
            self._events[(topic, kind)] = _Incompatible(policy, int(total_count), now)

    def status(self, node_name: str, now_monotonic: float) -> DiagnosticStatus:
        with self._lock:
            events = sorted(self._events.items())
            peers = dict(self._peers)
        problems, values = [], {}
        for (topic, kind), event in events:
            matched = _call_or(peers.get((topic, kind)), -1)
            values[f"{topic} ({kind})"] = f"{event.policy} incompatible, {event.count} peers so far, {matched} matched now"
            if now_monotonic - event.time < RECENT_ERROR_S or matched == 0:
                lone = ", no compatible peer" if matched == 0 else ""
                problems.append(f"{topic} ({kind}): a peer with incompatible {event.policy} QoS{lone}")
        message = "; ".join(problems) or "no incompatible QoS"
        return _status(f"{node_name}: QoS", WARN if problems else OK, message, values)


def _call_or(fn: Callable[[], int] | None, default: int) -> int:
    """``fn()``, or ``default`` without one or once the entity behind it is gone (shutting down)."""
    if fn is None:
        return default
    try:
        return int(fn())
    except Exception:  # a destroyed publisher/subscription raises InvalidHandle
        return default


def _status(name: str, level: bytes | int, message: str, values: dict[str, object]) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=name.split(": ", 1)[0],
        values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
    )


class StageStats:
    """The last ``LATENCY_SAMPLES`` sets' pipeline stage timings (``pipeline.StageTimings``, ms)
    and views shed (``FrameResult.views_shed``)."""

    STAGES = ("detect_ms", "fuse_ms", "mesh_ms", "total_ms")

    def __init__(self) -> None:
        self._values: collections.deque[tuple[float, ...]] = collections.deque(maxlen=LATENCY_SAMPLES)
        self._shed: collections.deque[int] = collections.deque(maxlen=LATENCY_SAMPLES)
        self._lock = threading.Lock()

    def add(self, timings: Any, views_shed: int = 0) -> None:
        with self._lock:
            self._values.append(tuple(float(getattr(timings, s)) for s in self.STAGES))
            self._shed.append(int(views_shed))

    def shedding(self) -> tuple[float, float]:
        """(fraction of the recent sets that shed views, mean views shed per set); zeros before any set."""
        with self._lock:
            shed = np.array(self._shed, dtype=np.float64)
        return (float((shed > 0).mean()), float(shed.mean())) if shed.size else (0.0, 0.0)

    def medians(self) -> dict[str, float]:
        """Stage → median ms over the sets where it ran (NaN for a stage that never ran)."""
        with self._lock:
            values = np.array(self._values, dtype=np.float64).reshape(-1, len(self.STAGES))
        out = {}
        for stage, column in zip(self.STAGES, values.T):
            ran = column[~np.isnan(column)]
            out[stage] = float(np.median(ran)) if ran.size else float("nan")
        return out


def pipeline_status(node_name: str, stages: StageStats) -> DiagnosticStatus:
    """Where the node's time goes: median ms per stage over the recent sets, and how often views
    were shed (``guidance.shed_views``; always OK: shedding is the configured answer to load)."""
    medians = stages.medians()
    shedding_sets, views_per_set = stages.shedding()
    message = ", ".join(f"{s[:-3]} {v:.1f} ms" for s, v in medians.items()) + " (medians)"
    if shedding_sets > 0:
        message += f"; views shed in {100 * shedding_sets:.0f} % of sets ({views_per_set:.2f} per set)"
    values = {f"Median {s[:-3]} ms": f"{v:.2f}" for s, v in medians.items()}
    values.update({"Sets shedding views (%)": f"{100 * shedding_sets:.1f}", "Views shed per set": f"{views_per_set:.2f}"})
    return _status(f"{node_name}: pipeline", OK, message, values)
