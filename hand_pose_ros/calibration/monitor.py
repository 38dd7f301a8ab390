"""Is the calibration still right? Hands' reprojection error per camera, while the robot runs.

Each fused 3D hand is projected into every camera and matched to that view's detections
(``match_views``); the per-joint distance between projection and detected keypoint is a
camera's reprojection error. ``ReprojectionMonitor`` keeps a window of them per camera and
warns about a camera whose median stays well above the others' (it was probably moved).
No fusion internals are needed: only the fused ``Hand3D`` keypoints and the detections.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from hand_pose_ros.calibration.rig import Rig
from hand_pose_ros.checks import check_number
from hand_pose_ros.fusion.association import finite_medians
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.types import Hand3D, HandDetection2D

__all__ = ["MonitorConfig", "MonitorReport", "ReprojectionMonitor", "match_views", "REFINE_COMMAND"]

REFINE_COMMAND = "hand-pose-ros calibrate hands"
# Fewer matched joints than this in a view say nothing about the camera (a hand at the border).
_MIN_MATCHED_JOINTS = 5
# Assignment cost of a pair that cannot match (finite: the Hungarian solver needs finite costs).
_UNMATCHABLE = 1e9


@dataclasses.dataclass(frozen=True, kw_only=True)
class MonitorConfig:
    """Settings of ``ReprojectionMonitor`` (pixels are full-image pixels).

    Attributes:
        match_gate_px: a detection is a hand's when the median distance of their joints is below
            this (wide: a moved camera's detections lie tens of pixels off the projection).
        min_score: detected keypoints scoring below this are ignored.
        window: per-camera samples (one per matched hand and frame) the medians are taken over.
        min_samples: a camera is judged only once it has this many samples.
        ratio: a camera is suspect when its median exceeds this times the median of the others…
        min_excess_px: …and exceeds it by at least this many pixels (noise on a good rig is
            1–3 px; a 1° turn at f = 600 px moves the projection by 10 px).
    """

    match_gate_px: float = 80.0
    min_score: float = 0.5
    window: int = 300
    min_samples: int = 30
    ratio: float = 2.0
    min_excess_px: float = 2.5

    def __post_init__(self) -> None:
        name = "MonitorConfig"
        check_number(f"{name}.match_gate_px", self.match_gate_px, low=0.0, low_open=True)
        check_number(f"{name}.min_score", self.min_score, low=0.0, high=1.0)
        check_number(f"{name}.window", self.window, integer=True, low=1)
        check_number(f"{name}.min_samples", self.min_samples, integer=True, low=1, high=self.window)
        check_number(f"{name}.ratio", self.ratio, low=1.0, low_open=True)
        check_number(f"{name}.min_excess_px", self.min_excess_px, low=0.0)


def match_views(cameras: CameraArray, hands_xyz: np.ndarray, detections: Sequence[Sequence[HandDetection2D]],
                gate_px: float, min_score: float) -> list[list[tuple[int, int, np.ndarray]]]:
    """(H, 21, 3) m world hands, V lists of detections → per view [(hand, detection, (21,) px error)].

    One Hungarian assignment per view on the median joint distance between the hand's
    projection and the detection's keypoints; pairs above ``gate_px`` are not matched. The
    error is NaN for joints missing in either or scoring below ``min_score``.
    """
    out: list[list[tuple[int, int, np.ndarray]]] = [[] for _ in range(len(cameras))]
    if len(hands_xyz) == 0:
        return out
    projected = np.stack([cameras.project(h) for h in hands_xyz], axis=1)  # (V, H, 21, 2)
    for v, view in enumerate(detections):
        if not view:
            continue
        kp = np.stack([d.keypoints_2d for d in view]).astype(np.float64)  # (D, 21, 2)
        scores = np.stack([d.keypoint_scores for d in view])
        kp[scores < min_score] = np.nan
        err = np.linalg.norm(projected[v][:, None] - kp[None], axis=-1)  # (H, D, 21)
        usable = np.isfinite(err).sum(-1) >= _MIN_MATCHED_JOINTS  # (H, D)
        cost = np.full(usable.shape, _UNMATCHABLE)
        cost[usable] = finite_medians(err[usable])
        for h, d in zip(*linear_sum_assignment(cost)):
            if cost[h, d] < gate_px:
                out[v].append((int(h), int(d), err[h, d]))
    return out


@dataclasses.dataclass(frozen=True)
class MonitorReport:
    """median_px: camera name → median hand reprojection error over the window (NaN before any
    sample); samples: camera → samples in the window; warnings: one sentence per suspect camera."""

    median_px: dict[str, float]
    samples: dict[str, int]
    warnings: list[str]


class ReprojectionMonitor:
    """Per-camera hands' reprojection error over a sliding window, and moved-camera warnings.

    Thread-safe: a node's worker may ``update`` while its diagnostics timer calls ``report``.
    """

    def __init__(self, rig: Rig, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self._rig = rig
        self._cameras = CameraArray.from_rig(rig)
        self._history: dict[str, collections.deque[float]] = {
            n: collections.deque(maxlen=self.config.window) for n in rig.names}
        self._lock = threading.Lock()

    def update(self, hands: Sequence[Hand3D], detections: Sequence[Sequence[HandDetection2D]]) -> None:
        """Add one frame: fused hands (world frame) and the detections they came from (rig order).
        ``report`` gives the verdict (not built here: the pipeline updates every set, the node
        reports once per diagnostics period)."""
        if len(detections) != len(self._rig):
            raise ValueError(f"ReprojectionMonitor.update: expected {len(self._rig)} views of detections, got {len(detections)}")
        fused = [h.keypoints_3d for h in hands if not h.monocular]
        if fused:
            matches = match_views(self._cameras, np.stack(fused), detections, self.config.match_gate_px,
                                  self.config.min_score)
            with self._lock:
                for name, view in zip(self._rig.names, matches):
                    errors = [err for _, _, err in view if np.isfinite(err).sum() >= _MIN_MATCHED_JOINTS]
                    if errors:
                        self._history[name].extend(finite_medians(np.stack(errors)).tolist())

    def report(self) -> MonitorReport:
        cfg = self.config
        with self._lock:
            history = {n: list(h) for n, h in self._history.items()}
        median = {n: float(np.median(h)) if h else float("nan") for n, h in history.items()}
        samples = {n: len(h) for n, h in history.items()}
        judged = [n for n in self._rig.names if samples[n] >= cfg.min_samples]
        warnings = []
        for name in judged:
            others = [median[n] for n in judged if n != name]
            if not others:
                continue
            baseline = float(np.median(others))
            if median[name] > cfg.ratio * baseline and median[name] > baseline + cfg.min_excess_px:
                warnings.append(
                    f"camera {name} looks moved: hands reproject at {median[name]:.1f} px, the others at "
                    f"{baseline:.1f} px; run `{REFINE_COMMAND}`"
                )
        return MonitorReport(median_px=median, samples=samples, warnings=warnings)
