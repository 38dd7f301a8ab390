"""One view: absolute hand pose from the detector's metric world landmarks and 2D keypoints (PnP).

The landmarks give the hand's metric shape in camera-aligned axes (x right, y down, z
forward, origin ≈ hand centre); the 2D keypoints fix where it is. A linear solve for the
translation (landmark axes taken as the camera's) starts an iterative PnP that also fits
the rotation; keypoints that disagree with the first solve are left out of the
second (detector outliers). Depth is the least certain part: its 1σ is the relative error of the
detector's metric hand size times the depth (the size/depth ambiguity of one view).

The landmarks' relative depths are the weak part: in some frames the network foreshortens
the whole hand (a palm facing the camera taken for one pointing at it) and PnP on that
shape puts the hand far too near. A hand's palm is rigid, so a track learns its shape
(``PalmTemplate``: triangulated, or the consensus of its landmark palms), and that rigid
palm on a frame's palm keypoints gives the depth again (``palm_depth``, with its own 1σ
and how squarely the palm faces the camera), the joints then on their keypoints' rays
(``on_keypoint_rays``); ``fusion.MultiViewFusion`` decides which depth a frame takes, and
a track's one-view depths go through its ``DepthFilter``.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from hand_pose_ros.keypoints import HandKeypoint
from hand_pose_ros.similarity import best_rotation

__all__ = ["MonocularEstimate", "estimate_monocular", "PalmTemplate", "PalmDepth", "palm_depth", "palm_length",
           "on_keypoint_rays", "toward_keypoint_rays", "DepthFilter", "PALM_KEYPOINTS"]

# PnP needs at least this many keypoints with landmarks and 2D positions.
_MIN_PNP_POINTS = 6
# The hand must end up at least this far in front of the camera (metres).
_MIN_DEPTH = 0.05


@dataclasses.dataclass(frozen=True)
class MonocularEstimate:
    """points_camera: (21, 3) metres in the camera optical frame; depth (m) of the landmark
    origin; residual_px: (21,) reprojection error per keypoint (NaN where unseen)."""

    points_camera: np.ndarray
    depth: float
    residual_px: np.ndarray


def _solve_translation(xy: np.ndarray, landmarks: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Least squares t with (L + t) projecting to xy: [1 0 −x] t = x Lz − Lx; [0 1 −y] t = y Lz − Ly."""
    x, y = xy[:, 0], xy[:, 1]
    zeros, ones = np.zeros_like(x), np.ones_like(x)
    A = np.concatenate([np.stack([ones, zeros, -x], 1), np.stack([zeros, ones, -y], 1)]) * np.tile(w, 2)[:, None]
    b = np.concatenate([x * landmarks[:, 2] - landmarks[:, 0], y * landmarks[:, 2] - landmarks[:, 1]]) * np.tile(w, 2)
    return np.linalg.lstsq(A, b, rcond=None)[0]


def _residual_px(points: np.ndarray, xy: np.ndarray, focal_px: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.linalg.norm(points[:, :2] / points[:, 2:] - xy, axis=-1) * focal_px


def estimate_monocular(xy: np.ndarray, weights: np.ndarray, landmarks: np.ndarray, focal_px: float,
                       inlier_threshold_px: float) -> MonocularEstimate | None:
    """(21, 2) normalized keypoints, (21,) weights, (21, 3) metric landmarks → estimate or None.

    Keypoints whose residual after the first solve exceeds ``inlier_threshold_px`` are left
    out of the second. None when fewer than ``_MIN_PNP_POINTS`` joints remain or the solution is
    behind the camera; a pose that fits the keypoints loosely is returned all the same (its
    ``residual_px`` says how loosely: a good detection whose landmarks' shape disagrees with
    its keypoints is still a hand).
    """
    landmarks = landmarks.astype(np.float64)
    ok = np.isfinite(xy).all(-1) & np.isfinite(landmarks).all(-1) & (weights > 0)
    if ok.sum() < _MIN_PNP_POINTS:
        return None
    w = np.sqrt(np.where(ok, weights, 0.0))
    t = _solve_translation(xy[ok], landmarks[ok], w[ok])
    ok &= np.nan_to_num(_residual_px(landmarks + t, xy, focal_px), nan=np.inf) < inlier_threshold_px
    if ok.sum() < _MIN_PNP_POINTS:
        return None
    t = _solve_translation(xy[ok], landmarks[ok], w[ok])
    if t[2] < _MIN_DEPTH:
        return None
    found, rvec, tvec = cv2.solvePnP(landmarks[ok], xy[ok], np.eye(3), None, np.zeros((3, 1)), t.reshape(3, 1).copy(),
                                     useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    R = cv2.Rodrigues(rvec)[0]
    if not found or tvec[2, 0] < _MIN_DEPTH:
        R, tvec = np.eye(3), t.reshape(3, 1)
    points = landmarks @ R.T + tvec[:, 0]
    return MonocularEstimate(points, float(tvec[2, 0]), _residual_px(points, xy, focal_px))



# The palm: the wrist, the thumb's first joint and the four knuckles, rigid whatever the
# fingers do, and the part of the hand whose 2D shape fixes its distance.
PALM_KEYPOINTS = (HandKeypoint.WRIST, HandKeypoint.THUMB_CMC, HandKeypoint.INDEX_FINGER_MCP,
                  HandKeypoint.MIDDLE_FINGER_MCP, HandKeypoint.RING_FINGER_MCP, HandKeypoint.PINKY_MCP)
_PALM = np.array(PALM_KEYPOINTS)
# A palm PnP needs this many of the palm's keypoints (SQPnP: 3; one more against a bad one).
_MIN_PALM_POINTS = 4


def _rms_radius(points: np.ndarray) -> float:
    """(N, 3) → RMS distance of the points from their mean (m): a size that every point sets."""
    return float(np.sqrt(np.mean(np.sum((points - points.mean(0)) ** 2, axis=-1))))


def _rotate_onto(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N, 3) centred ``source`` rotated onto centred ``target`` (Kabsch; no reflection)."""
    return source @ best_rotation(source, target)[0].T


def _deviation(palm: np.ndarray, reference: np.ndarray) -> float:
    """(6, 3) centred palms → RMS distance of ``palm``, rotated onto ``reference`` and brought
    to its size, from ``reference``, relative to that size (inf for a degenerate palm)."""
    aligned = _rotate_onto(palm, reference)
    size, own = _rms_radius(reference), _rms_radius(aligned)
    if own <= 0 or size <= 0:
        return np.inf
    return float(np.sqrt(np.mean(np.sum((aligned * (size / own) - reference) ** 2, axis=-1)))) / size


class PalmTemplate:
    """One hand's palm (``PALM_KEYPOINTS``) as a rigid shape learned over its frames.

    From triangulated palms (metric, in the detector's keypoint definition): the latest one
    (triangulated joints are good to millimetres; averaging would cost a rotation fit per
    multi-view frame). Without them, from the detector's world landmarks, which in some
    frames foreshorten the palm (the network misjudging how it faces the camera): the
    template is the consensus of the last ``capacity`` landmark palms, the mean of the
    largest group that agree with one of them within ``max_deviation`` (RMS after rotating
    and scaling onto it, relative to its size), so a run of foreshortened palms, even the
    first ones, is outvoted instead of averaged in.

    Attributes:
        points: (6, 3) float64 m, centred, in the hand's own axes (arbitrary rotation); None
            until the first palm.
        measured: the shape came from triangulated hands, not from landmarks.
        support: the fraction of the kept landmark palms that agree with the template (1 for
            a triangulated one): landmarks too noisy to agree give a template that is no shape.
    """

    def __init__(self, *, max_deviation: float, capacity: int) -> None:
        self.max_deviation = max_deviation
        self.capacity = capacity
        self.points: np.ndarray | None = None
        self.measured = False
        self.support = 0.0
        self._palms: list[np.ndarray] = []  # landmark palms, (6, 3) centred, oldest first
        self._deviations = np.zeros((0, 0))  # (n, n) pairwise _deviation of _palms

    def update(self, palm: np.ndarray, *, measured: bool) -> None:
        """Learn from a (6, 3) m palm (one with a NaN is skipped): triangulated (``measured``)
        or from landmarks (consensus; ignored once a triangulated palm is known)."""
        if not np.isfinite(palm).all():
            return
        palm = palm - palm.mean(0)
        if measured:
            self.points, self.measured, self.support = palm, True, 1.0
            return
        if self.measured:
            return
        row = np.array([_deviation(palm, other) for other in self._palms] + [0.0])  # (n + 1,)
        n = len(self._palms)
        deviations = np.zeros((n + 1, n + 1))
        deviations[:n, :n], deviations[n], deviations[:, n] = self._deviations, row, row  # ≈ symmetric
        self._palms.append(palm)
        if len(self._palms) > self.capacity:
            self._palms.pop(0)
            deviations = deviations[1:, 1:]
        self._deviations = deviations
        agree = deviations < self.max_deviation  # (n, n)
        best = int(np.argmax(agree.sum(1)[::-1]))  # most agreement; among equals the newest
        best = len(self._palms) - 1 - best
        self.support = float(agree[best].mean())
        self.points = np.mean([_rotate_onto(self._palms[m], self._palms[best]) for m in np.flatnonzero(agree[best])],
                              axis=0)

    def deviation(self, palm: np.ndarray) -> float:
        """(6, 3) m palm → its ``_deviation`` from the template (inf without one or with a NaN)."""
        if self.points is None or not np.isfinite(palm).all():
            return np.inf
        return _deviation(palm - palm.mean(0), self.points)


@dataclasses.dataclass(frozen=True)
class PalmDepth:
    """A rigid palm placed on one frame's palm keypoints (``palm_depth``).

    Attributes:
        depth: m, depth of the palm's centre in the camera.
        relative_stddev: 1σ of ``depth`` over ``depth`` that the keypoints' 2D noise leaves
            (the pose's covariance from its Jacobian; the template's own size error not included).
        facing: |cos| of the angle between the placed palm's normal and the ray to its centre
            (1: the palm faces the camera squarely, 0: edge-on).
    """

    depth: float
    relative_stddev: float
    facing: float


def _depth_stddev(points: np.ndarray, xy: np.ndarray, rvec: np.ndarray, tvec: np.ndarray,
                  pixel_stddev: float) -> float:
    """(N, 3) m object points posed by (rvec, tvec) on (N, 2) normalized keypoints → 1σ (m) of
    tvec's depth: the pose's 6 × 6 covariance σ² (JᵀJ)⁻¹, σ² the fit's residual variance per
    coordinate (2N − 6 degrees of freedom), at least ``pixel_stddev``² (normalized units)."""
    projected, jacobian = cv2.projectPoints(points, rvec, tvec, np.eye(3), None)  # (N, 1, 2), (2N, 15)
    residual = projected[:, 0] - xy  # (N, 2)
    variance = max(float(np.sum(residual**2)) / max(2 * len(points) - 6, 1), pixel_stddev**2)
    J = jacobian[:, :6]  # d(projection) / d(rvec, tvec)
    return float(np.sqrt(variance * np.linalg.pinv(J.T @ J)[5, 5]))


def palm_depth(xy: np.ndarray, template: np.ndarray, inlier_threshold: float, *,
               pixel_stddev: float = 0.0) -> PalmDepth | None:
    """(21, 2) normalized keypoints, (6, 3) m centred palm template, a reprojection threshold and
    the keypoints' 2D 1σ (normalized units) → the palm placed on its keypoints, or None.

    The palm is rigid and nearly flat: its 2D shape under perspective fixes its distance
    whatever its tilt (the two mirror-image tilts of a flat shape lie at the same depth),
    which the landmark network's relative depths do not (it foreshortens a palm facing the
    camera as if it pointed at it). Global PnP (SQPnP) of the template on the palm's
    keypoints; while the worst keypoint misses by more than ``inlier_threshold`` and more than
    ``_MIN_PALM_POINTS`` remain, it is left out (a detector outlier) and the fit repeated.
    """
    ok = np.isfinite(xy[_PALM]).all(-1)  # (6,)
    while ok.sum() >= _MIN_PALM_POINTS:
        found, rvec, tvec = cv2.solvePnP(template[ok], np.ascontiguousarray(xy[_PALM][ok]), np.eye(3), None,
                                         flags=cv2.SOLVEPNP_SQPNP)
        if not found or tvec[2, 0] <= _MIN_DEPTH:
            return None
        R = cv2.Rodrigues(rvec)[0]
        placed = template @ R.T + tvec[:, 0]  # (6, 3) m in the camera
        with np.errstate(invalid="ignore"):
            miss = np.where(ok, np.linalg.norm(placed[:, :2] / placed[:, 2:] - xy[_PALM], axis=-1), -np.inf)  # (6,)
        worst = int(np.argmax(miss))
        if miss[worst] <= inlier_threshold or ok.sum() == _MIN_PALM_POINTS:
            # tvec is the template's origin, its centre (all six) in the camera.
            depth = float(tvec[2, 0])
            normal = R @ np.linalg.svd(template - template.mean(0))[2][2]  # (3,) the palm's, unit
            facing = abs(float(normal @ tvec[:, 0])) / float(np.linalg.norm(tvec))
            stddev = _depth_stddev(template[ok], xy[_PALM][ok], rvec, tvec, pixel_stddev)
            return PalmDepth(depth=depth, relative_stddev=stddev / depth, facing=facing)
        ok[worst] = False
    return None


def palm_length(palm: np.ndarray) -> float:
    """(6, 3) m palm (``PALM_KEYPOINTS`` order) → distance (m) from the wrist to the middle finger's knuckle."""
    return float(np.linalg.norm(palm[PALM_KEYPOINTS.index(HandKeypoint.MIDDLE_FINGER_MCP)]
                                - palm[PALM_KEYPOINTS.index(HandKeypoint.WRIST)]))


def on_keypoint_rays(points_camera: np.ndarray, xy: np.ndarray, palm_depth_m: float) -> np.ndarray:
    """(21, 3) m hand in the camera, (21, 2) normalized keypoints, depth (m) of its palm's centre
    → (21, 3) m: every joint on its keypoint's ray, at its depth in the hand moved (along z) so
    that its palm's centre lies at ``palm_depth_m``; a joint without a keypoint is moved only.

    The keypoints are where the network sees each joint; its landmarks say only how far
    behind or in front of the palm each lies. The hand then projects onto its keypoints.
    """
    shift = palm_depth_m - float(np.mean(points_camera[_PALM, 2]))
    z = points_camera[:, 2] + shift  # (21,) m
    rays = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)  # (21, 3), z = 1
    seen = np.isfinite(rays).all(-1)
    moved = points_camera + np.array([0.0, 0.0, shift])
    return np.where(seen[:, None], rays * z[:, None], moved)


def toward_keypoint_rays(points_camera: np.ndarray, xy: np.ndarray, *, pixel_stddev: float,
                         shape_stddev_m: float) -> np.ndarray:
    """(21, 3) m posed hand in the camera, (21, 2) normalized keypoints (NaN: none, or not to be
    trusted), the keypoints' 2D 1σ (normalized units) and the landmarks' 1σ across the ray (m)
    → (21, 3) m: each joint with a keypoint moved at its depth towards that keypoint's ray by
    the minimum-variance weight σ_L² / (σ_L² + (σ_K z)²); a joint without one unchanged.

    PnP poses the landmarks' shape as a whole, so where the shape is wrong (a finger bent
    more than the network thinks) a joint lands off where the 2D keypoint sees it; the two
    are independent measurements of where the joint lies across its ray, the keypoint's good
    to its pixel noise times the depth, the landmark's to the shape's error.
    """
    on_rays = on_keypoint_rays(points_camera, xy, float(np.mean(points_camera[_PALM, 2])))  # z unchanged
    across = (pixel_stddev * points_camera[:, 2]) ** 2  # (21,) m², the keypoints' 1σ at each joint's depth
    weight = shape_stddev_m**2 / (shape_stddev_m**2 + across)  # (21,)
    return points_camera + weight[:, None] * (on_rays - points_camera)


class DepthFilter:
    """One one-view track's distance over time: a Kalman filter on the log of its palm's depth
    (log: the one-view depth error is relative, ``depth`` × its 1σ), whose rate of change is
    an Ornstein–Uhlenbeck process (Singer's model): it persists for about
    ``rate_time_constant_s`` and then decays towards zero; a run of innovations on one side
    (a manoeuvre) widens the filter's uncertainty so that it follows.

    One frame's one-view depth scatters by several percent about the hand's path (the 2D
    keypoints' noise on a palm 100–200 px across, the landmarks' shape), while the hand's
    distance changes smoothly; the track's own filter (``filtering.HandFilter``) is set for
    triangulated hands, good to millimetres, and passes that scatter. The model is that of a
    hand held at work, drifting slowly (``acceleration_density``); a hand moves in depth in
    reaches and withdrawals, not at a constant rate, and a constant-velocity model carries a
    rate learned from a run of noisy frames on (on DexYCB's single cameras, a one-view depth
    that drifted 20 % off over 10 frames and came back was followed for 15 frames more).
    A reach shows as innovations that keep one sign: when the mean of the last
    ``manoeuvre_frames`` normalised innovations lies beyond ``manoeuvre_sigmas`` of its own σ
    (1 / √frames for white noise), the predicted covariance is scaled by the square of the
    excess, which lets that frame's measurement in (the test of an adaptive, fading-memory
    Kalman filter). A measurement further from the prediction than ``gate_sigmas`` of the
    innovation's σ, or after a gap longer than ``max_gap_s``, restarts the filter there (a
    real jump: the depth taken from another cue, the hand re-found; over a gap the rate
    learned from a few noisy frames extrapolates badly).

    Args:
        measurement_stddev: relative 1σ of one frame's depth about the hand's smooth path.
        acceleration_density: spectral density ((1/s²)² · s) of the white noise driving the
            log depth's rate: the rate's 1σ grows by its square root per √s, up to
            √(density × ``rate_time_constant_s`` / 2) in the steady state.
        rate_time_constant_s: the rate's correlation time (s): its expected value decays by
            1/e over this; ``math.inf``: constant velocity.
        manoeuvre_frames: how many consecutive innovations the manoeuvre test averages (0: no test).
        manoeuvre_sigmas: the test's threshold on that mean, in σ of the mean.
        gate_sigmas: innovations beyond this many σ restart the filter.
        max_gap_s: a frame more than this (s) after the last restarts the filter.
    """

    def __init__(self, *, measurement_stddev: float, acceleration_density: float, rate_time_constant_s: float,
                 manoeuvre_frames: int, manoeuvre_sigmas: float, gate_sigmas: float, max_gap_s: float) -> None:
        self.measurement_variance = measurement_stddev**2
        self.acceleration_density = acceleration_density
        self.rate_time_constant_s = rate_time_constant_s
        self.manoeuvre_frames = manoeuvre_frames
        self.manoeuvre_sigmas = manoeuvre_sigmas
        self.gate_sigmas = gate_sigmas
        self.max_gap_s = max_gap_s
        self._state: np.ndarray | None = None  # (2,) log depth (log m), its rate (1/s)
        self._covariance = np.zeros((2, 2))
        self._stamp = 0.0
        self._innovations: list[float] = []  # the latest normalised innovations, oldest first

    def _start(self, log_depth: float, stamp: float) -> None:
        self._state = np.array([log_depth, 0.0])
        # The rate is unknown at the start: 1/s (a hand at 0.5 m moving 0.5 m/s in depth).
        self._covariance = np.diag([self.measurement_variance, 1.0])
        self._stamp = stamp
        self._innovations = []

    def _transition(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """dt (s) → (2, 2) state transition and (2, 2) process noise of the integrated
        Ornstein–Uhlenbeck rate (the constant-velocity ones for an infinite time constant)."""
        q, tau = self.acceleration_density, self.rate_time_constant_s
        if not math.isfinite(tau):
            return (np.array([[1.0, dt], [0.0, 1.0]]),
                    q * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]))
        decay = math.exp(-dt / tau)
        F = np.array([[1.0, tau * (1.0 - decay)], [0.0, decay]])
        q11 = q * tau**3 / 2 * (2 * dt / tau - 3 + 4 * decay - decay**2)
        q12 = q * tau**2 / 2 * (1 - decay) ** 2
        q22 = q * tau / 2 * (1 - decay**2)
        return F, np.array([[q11, q12], [q12, q22]])

    def update(self, depth: float, stamp: float, *, variance_scale: float = 1.0) -> float:
        """One frame's depth (m, > 0) at ``stamp`` (s) → the filtered depth (m).

        ``variance_scale`` (≥ 1 for a frame less certain than usual) multiplies this frame's
        measurement variance (``measurement_stddev``²): e.g. a frame whose landmarks' shape fits
        its keypoints loosely, its depth from a shape the network got wrong.
        """
        log_depth = math.log(depth)
        measurement_variance = self.measurement_variance * variance_scale
        dt = max(stamp - self._stamp, 0.0)
        if self._state is None or dt > self.max_gap_s:
            self._start(log_depth, stamp)
            return depth
        F, q = self._transition(dt)
        state, covariance = F @ self._state, F @ self._covariance @ F.T + q
        innovation = log_depth - state[0]
        innovation_stddev = math.sqrt(covariance[0, 0] + measurement_variance)
        if abs(innovation) > self.gate_sigmas * innovation_stddev:
            self._start(log_depth, stamp)
            return depth
        if self.manoeuvre_frames:  # (a slice [-0:] would keep every innovation of the track)
            self._innovations = (self._innovations + [innovation / innovation_stddev])[-self.manoeuvre_frames:]
        if self.manoeuvre_frames and len(self._innovations) == self.manoeuvre_frames:
            excess = abs(sum(self._innovations)) / math.sqrt(self.manoeuvre_frames) / self.manoeuvre_sigmas
            if excess > 1.0:
                covariance = covariance * excess**2
        gain = covariance[:, 0] / (covariance[0, 0] + measurement_variance)  # (2,)
        self._state = state + gain * innovation
        self._covariance = covariance - np.outer(gain, covariance[0])
        self._stamp = stamp
        return math.exp(float(self._state[0]))
