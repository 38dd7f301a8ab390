"""``HandStateEstimator``: per-track hand state over time (pinch hysteresis, smoothed size, speed).

``update(hands, stamp_ns)`` takes one frame's fused ``Hand3D`` list and returns one
``HandState`` per hand, in the same order. The per-frame signals are computed batched over the
hands (``signals``); what needs history (the debounced pinch state, the hand's size, its
speed) is kept per track id and forgotten after ``HandStateConfig.track_timeout_s``.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
from collections.abc import Sequence

import numpy as np

from hand_pose_ros.fusion.pose import wrist_poses
from hand_pose_ros.handstate import signals
from hand_pose_ros.handstate.config import HandStateConfig
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.types import Hand3D

__all__ = ["HandState", "HandStateEstimator", "PinchEvent"]

_LOG = logging.getLogger(__name__)
NS_PER_S = 1e9
# A mean phalanx shorter than this (metres) is a collapsed estimate, not a hand size.
_MIN_SCALE_M = 1e-3
# Keypoint groups a value needs (rows of _GROUP_MASK): pinch, aperture, the 5 curl chains, the
# pointing gesture (the four long fingers' chains), the palm (wrist_poses reads a subset of it).
_GROUPS: tuple[tuple[int, ...], ...] = (
    signals.PINCH_KEYPOINTS,
    signals.APERTURE_KEYPOINTS,
    *signals.CURL_KEYPOINTS,
    tuple(sorted({k for chain in signals.CURL_KEYPOINTS[1:] for k in chain})),
    signals.PALM_CENTRE_KEYPOINTS,
)
_PINCH, _APERTURE, _CURL_GROUPS, _POINTING, _PALM = 0, 1, np.arange(2, 7), 7, 8
_GROUP_MASK = np.zeros((len(_GROUPS), NUM_KEYPOINTS), bool)  # (G, 21)
for _row, _group in enumerate(_GROUPS):
    _GROUP_MASK[_row, list(_group)] = True


class PinchEvent(enum.IntEnum):
    """What the pinch state did in this frame (same values as HandState.msg PINCH_*)."""

    NONE = 0
    STARTED = 1
    ENDED = 2


@dataclasses.dataclass(frozen=True, eq=False)
class HandState:
    """One hand's state in one frame; world frame, metres, seconds. NaN + flag false = missing.

    Attributes:
        track_id / handedness: those of the ``Hand3D``.
        pinch_distance_m: thumb tip to index tip, m.
        pinch_strength: [0, 1], 0 open, 1 tips touching, normalised by ``hand_scale_m``.
        pinch_valid / pinch_confidence: flag (both tips present and the track has a hand size:
            a frame with all 8 phalanges seen) and the weakest confidence of the two tips.
        pinched: debounced state (hysteresis + minimum duration); holds while not pinch_valid.
        pinch_event: ``PinchEvent`` of this frame.
        grasp_aperture_m: thumb tip to the centroid of the other four tips, m.
        finger_curl: (5,) float64 [0, 1], thumb … pinky; curl_valid (5,) bool; curl_confidence (5,).
        pointing: index extended and middle, ring, pinky curled (per frame, not debounced).
        ray_origin: (3,) m at the index tip; ray_direction: (3,) unit along the index finger;
            NaN unless ``pointing``.
        palm_normal: (3,) unit vector out of the palm side; world_T_wrist: (4, 4) the wrist
            frame of HandPose.wrist_pose (NaN when the palm keypoints are missing).
        speed_mps: palm centre speed, m/s, smoothed over the track; not valid on its first frame.
        hand_scale_m: mean phalanx length the pinch is normalised by, smoothed over the track.
    """

    track_id: int
    handedness: Handedness
    pinch_distance_m: float
    pinch_strength: float
    pinch_valid: bool
    pinch_confidence: float
    pinched: bool
    pinch_event: PinchEvent
    grasp_aperture_m: float
    aperture_valid: bool
    aperture_confidence: float
    finger_curl: np.ndarray
    curl_valid: np.ndarray
    curl_confidence: np.ndarray
    pointing: bool
    ray_origin: np.ndarray
    ray_direction: np.ndarray
    pointing_confidence: float
    palm_normal: np.ndarray
    world_T_wrist: np.ndarray
    palm_valid: bool
    palm_confidence: float
    speed_mps: float
    speed_valid: bool
    speed_confidence: float
    hand_scale_m: float


@dataclasses.dataclass
class _Track:
    """What one track remembers between frames."""

    last_seen_ns: int
    pinched: bool = False
    change_since_ns: int | None = None  # first frame of a pending pinch change
    scale_m: float = math.nan
    scale_stamp_ns: int | None = None
    centre: list[float] | None = None  # x, y, z m: palm centre of the previous frame
    centre_stamp_ns: int = 0
    velocity: list[float] | None = None  # x, y, z m/s, smoothed


def _smoothing(dt_s: float, time_constant_s: float) -> float:
    """Weight of a new sample in an exponential average with ``time_constant_s`` (1 when it is 0)."""
    return 1.0 if time_constant_s <= 0.0 else 1.0 - math.exp(-dt_s / time_constant_s)


class HandStateEstimator:
    """Fused hands over time → ``HandState`` per hand (see the module docstring)."""

    def __init__(self, config: HandStateConfig | None = None) -> None:
        self.config = HandStateConfig() if config is None else config
        self._tracks: dict[int, _Track] = {}
        self._last_stamp_ns: int | None = None

    def reset(self) -> None:
        """Forget every track (pinch states, sizes, speeds)."""
        self._tracks.clear()
        self._last_stamp_ns = None

    def update(self, hands: Sequence[Hand3D], stamp_ns: int) -> list[HandState]:
        """One frame's hands (capture time ``stamp_ns``, ns) → their states, in the same order.

        A stamp earlier than the previous one (a replay restarting) resets the history first.
        """
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            _LOG.info("hand state: time went back %.3f s, tracks reset", (self._last_stamp_ns - stamp_ns) / NS_PER_S)
            self.reset()
        self._last_stamp_ns = stamp_ns
        self._prune(stamp_ns)
        if not hands:
            return []
        cfg = self.config
        points = np.stack([h.keypoints_3d for h in hands])  # (H, 21, 3) m
        confidence = np.stack([h.keypoint_confidence for h in hands]).astype(np.float64)  # (H, 21)
        present = np.isfinite(points).all(axis=2)  # (H, 21)
        # Per keypoint group (_GROUPS rows): all its keypoints present, and the weakest confidence.
        group_ok = ~((~present).astype(np.float64) @ _GROUP_MASK.T).astype(bool)  # (H, G)
        group_conf = np.where(_GROUP_MASK, confidence[:, None, :], np.inf).min(axis=2)  # (H, G)
        group_conf = np.where(group_ok, group_conf, 0.0)
        sig = signals.hand_signals(points, cfg.finger_curl_range_deg, cfg.thumb_curl_range_deg)
        curls, direction = sig.finger_curl, sig.ray_direction  # (H, 5), (H, 3)
        world_T_wrist = wrist_poses(points, np.array([int(h.handedness) for h in hands]))  # (H, 4, 4)
        normal = -world_T_wrist[:, :3, 2]  # (H, 3), NaN where the palm frame is undefined
        # Present keypoints can still be degenerate (coincident): a NaN value is never flagged valid.
        curl_ok = group_ok[:, _CURL_GROUPS] & np.isfinite(curls)  # (H, 5)
        pointing = (
            group_ok[:, _POINTING]
            & np.isfinite(direction).all(axis=1)
            & (curls[:, 1] <= cfg.pointing_max_index_curl)
            & (curls[:, 2:] >= cfg.pointing_min_other_curl).all(axis=1)
        )
        palm_ok = group_ok[:, _PALM] & np.isfinite(normal).all(axis=1)
        pinch_ok = group_ok[:, _PINCH]
        aperture_ok = group_ok[:, _APERTURE] & np.isfinite(sig.grasp_aperture)
        finger_curl = np.where(curl_ok, curls, np.nan)  # (H, 5)
        curl_conf = np.where(curl_ok, group_conf[:, _CURL_GROUPS], 0.0)  # (H, 5)
        ray_origin = np.where(pointing[:, None], sig.ray_origin, np.nan)  # (H, 3)
        ray_direction = np.where(pointing[:, None], direction, np.nan)  # (H, 3)
        # Per-hand scalars as Python values: the loop below then costs no array indexing.
        distance, scale, aperture = sig.pinch_distance.tolist(), sig.hand_scale.tolist(), sig.grasp_aperture.tolist()
        conf, centres, palm_seen = group_conf.tolist(), sig.palm_centre.tolist(), group_ok[:, _PALM].tolist()
        pinch_l, aperture_l, pointing_l, palm_l = pinch_ok.tolist(), aperture_ok.tolist(), pointing.tolist(), palm_ok.tolist()
        states = []
        for h, hand in enumerate(hands):
            track = self._tracks.setdefault(int(hand.track_id), _Track(last_seen_ns=stamp_ns))
            track.last_seen_ns = stamp_ns
            scale_m = self._update_scale(track, scale[h], stamp_ns)
            strength = self._strength(distance[h], scale_m) if pinch_l[h] else math.nan
            event = self._update_pinch(track, strength, stamp_ns)
            speed = self._update_speed(track, centres[h] if palm_seen[h] else None, stamp_ns)
            speed_valid, pinch_valid = math.isfinite(speed), math.isfinite(strength)
            states.append(HandState(
                track_id=int(hand.track_id),
                handedness=Handedness(hand.handedness),
                pinch_distance_m=distance[h] if pinch_valid else math.nan,
                pinch_strength=strength,
                pinch_valid=pinch_valid,
                pinch_confidence=conf[h][_PINCH] if pinch_valid else 0.0,
                pinched=track.pinched,
                pinch_event=event,
                grasp_aperture_m=aperture[h] if aperture_l[h] else math.nan,
                aperture_valid=aperture_l[h],
                aperture_confidence=conf[h][_APERTURE] if aperture_l[h] else 0.0,
                finger_curl=finger_curl[h],
                curl_valid=curl_ok[h],
                curl_confidence=curl_conf[h],
                pointing=pointing_l[h],
                ray_origin=ray_origin[h],
                ray_direction=ray_direction[h],
                pointing_confidence=conf[h][_POINTING] if pointing_l[h] else 0.0,
                palm_normal=normal[h],
                world_T_wrist=world_T_wrist[h],
                palm_valid=palm_l[h],
                palm_confidence=conf[h][_PALM] if palm_l[h] else 0.0,
                speed_mps=speed,
                speed_valid=speed_valid,
                speed_confidence=conf[h][_PALM] if speed_valid else 0.0,
                hand_scale_m=scale_m,
            ))
        return states

    def _prune(self, stamp_ns: int) -> None:
        timeout_ns = self.config.track_timeout_s * NS_PER_S
        for track_id in [t for t, track in self._tracks.items() if stamp_ns - track.last_seen_ns > timeout_ns]:
            del self._tracks[track_id]

    def _update_scale(self, track: _Track, scale_m: float, stamp_ns: int) -> float:
        """Smoothed hand size of the track (keeps the last one through frames that lack it)."""
        if math.isfinite(scale_m) and scale_m > _MIN_SCALE_M:
            if track.scale_stamp_ns is None or not math.isfinite(track.scale_m):
                track.scale_m = scale_m
            else:
                weight = _smoothing((stamp_ns - track.scale_stamp_ns) / NS_PER_S, self.config.scale_time_constant_s)
                track.scale_m += weight * (scale_m - track.scale_m)
            track.scale_stamp_ns = stamp_ns
        return track.scale_m

    def _strength(self, distance_m: float, scale_m: float) -> float:
        cfg = self.config
        ratio = distance_m / scale_m  # NaN while the track has no size yet
        strength = (cfg.pinch_open_ratio - ratio) / (cfg.pinch_open_ratio - cfg.pinch_closed_ratio)
        return min(max(strength, 0.0), 1.0) if math.isfinite(strength) else math.nan

    def _update_pinch(self, track: _Track, strength: float, stamp_ns: int) -> PinchEvent:
        """Hysteresis and minimum duration: the state changes once the other side of its
        threshold has held for ``pinch_min_duration_s``; an unobserved frame holds it."""
        cfg = self.config
        if not math.isfinite(strength):
            track.change_since_ns = None
            return PinchEvent.NONE
        wanted = strength > cfg.pinch_off_strength if track.pinched else strength >= cfg.pinch_on_strength
        if wanted == track.pinched:
            track.change_since_ns = None
            return PinchEvent.NONE
        if track.change_since_ns is None:
            track.change_since_ns = stamp_ns
        if (stamp_ns - track.change_since_ns) / NS_PER_S < cfg.pinch_min_duration_s:
            return PinchEvent.NONE
        track.pinched, track.change_since_ns = wanted, None
        return PinchEvent.STARTED if wanted else PinchEvent.ENDED

    def _update_speed(self, track: _Track, centre: list[float] | None, stamp_ns: int) -> float:
        """Smoothed palm-centre speed, m/s, from this frame's centre (x, y, z m); NaN on a
        track's first frame and after a gap."""
        cfg = self.config
        previous, previous_ns = track.centre, track.centre_stamp_ns
        track.centre, track.centre_stamp_ns = centre, stamp_ns
        dt_s = (stamp_ns - previous_ns) / NS_PER_S
        if centre is None or previous is None or not 0.0 < dt_s <= cfg.speed_max_gap_s:
            track.velocity = None
            return math.nan
        velocity = [(c - p) / dt_s for c, p in zip(centre, previous)]
        if track.velocity is not None:
            weight = _smoothing(dt_s, cfg.speed_time_constant_s)
            velocity = [v0 + weight * (v - v0) for v0, v in zip(track.velocity, velocity)]
        track.velocity = velocity
        return math.hypot(*velocity)
