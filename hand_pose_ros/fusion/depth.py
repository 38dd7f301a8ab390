"""Aligned depth maps: conversion, checks, and robust depth of hand keypoints.

A depth map here is ``(H, W) float32 metres`` along the camera's optical axis (z, not the
range along the ray), registered to that camera's colour image (same size, same
intrinsics, as RealSense's ``aligned_depth_to_color``); NaN = no measurement. The ROS input
(``16UC1`` mm / ``32FC1`` m) and the offline loader (16-bit PNG, mm) both convert with
``depth_from_millimetres`` and check with ``check_depth``.

How the fusion uses depth (docs/fusion.md "Depth"):

1. ``sample_keypoint_depths``: per 2D keypoint, the median of the front layer of the valid
   pixels in a small window around it (the surface seen there, not the table behind a
   finger's edge) and their robust spread.
2. ``JOINT_BEHIND_SURFACE_M``: the keypoints are joint centres inside the hand, so the joint
   lies behind the visible surface by about the finger's (palm's, wrist's) half thickness;
   the measured surface depth plus this is the joint's depth.
3. ``fit_depth_scale``: one view's PnP hand (the landmarks' shape, right up to its size) is
   scaled about the camera centre, which keeps every projection, until its joints' depths
   agree with the measured ones. The scale is searched over the keypoints' own ratios
   (RANSAC-like, every keypoint a candidate), so measurements off the hand (holes, the table
   behind, the grasped object in front, a finger hiding another) disagree with the shape of
   the rest of the hand by more than the gate and are left out.
   A candidate whose hand the camera would see through (measured surfaces a few cm behind
   its joints) loses: occluders are always in front of what they hide.
   ``hand_on_depth`` then places every keypoint on its own ray: the agreeing ones at the mean
   of their measured depth and the scaled shape's; the others, walking out along the
   fingers, at the parent's depth plus the scaled shape's depth step along that bone
   (anchored on the nearest measured neighbour rather than on the whole shape, whose depth
   relief is its least reliable part). ``fusion.depth_fit`` then refines that hand on the
   measured surface of its 2D region.
4. Several views: the gated joint depths are one more robust residual in the refinement
   (``fusion.refinement.refine_points``), only where the triangulation fixes the joint's
   depth in that camera less well than the measurement (``triangulated_depth_stddev`` against
   ``joint_depth_stddev``). And a witness of the views' 2D: where a view's measured surface
   lies in front of the triangulated joint (``occluded_keypoints``), something covers the
   joint there and that view's keypoint is the network's guess; it weighs less in the
   refinement, by how much worse this frame's covered keypoints fit than its seen ones
   (``hidden_weight``).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.keypoints import BONES, NUM_KEYPOINTS, HandKeypoint

__all__ = ["MM_PER_M", "MAD_TO_SIGMA", "JOINT_BEHIND_SURFACE_M", "DepthFit", "depth_from_millimetres", "read_depth_png", "DepthMapError",
           "check_depth", "sample_keypoint_depths", "joint_depths", "joint_depth_stddev", "triangulated_depth_stddev",
           "occluded_keypoints", "hidden_weight", "fit_depth_scale", "hand_on_depth"]

MM_PER_M = 1000.0
# A window sample needs at least this fraction of valid pixels (else: a hole, no measurement).
_MIN_VALID_FRACTION = 0.3
# The front layer of a window: values within this (metres) of its lower quartile. A quarter
# of the window on the hand is enough; 15 mm holds a finger's curvature and the sensor's
# noise at 1 m (RealSense D4xx: ≈ 1 % of the depth), and not the table behind the hand.
_FRONT_QUANTILE = 0.25
_LAYER_M = 0.015
# A measured surface this far (metres) or more behind a hand's joint is the background seen
# past the hand's edge, not a contradiction of the hand's depth (a hand is < 10 cm thick).
_SEE_THROUGH_M = 0.1
# An agreeing keypoint's depth: this weight on its measurement, the rest on the scaled shape's.
# Both are good to a few mm (sensor noise and the offset model; the landmarks' jitter), so
# their mean beats either (synthetic bench, one camera: 13.1 mm measured only, 12.3 the mean,
# 12.6 the shape only; DexYCB single cameras within ±1 mm of each other).
_MEASURED_WEIGHT = 0.5
# Median absolute deviation → standard deviation for a normal distribution.
MAD_TO_SIGMA = 1.4826
# One view's depth fit needs at least this many keypoints agreeing on the scale ...
_MIN_DEPTH_POINTS = 4
# ... or, where the map measures few keypoints (its invalid band, holes), at least this many
# that are half or more of the measured ones: a keypoint without a sample cannot disagree, so
# it should not count against the fit (DexYCB 932122062010 alone, an instant in the map's
# invalid left band: 6 keypoints measured, 3 agreeing, colour only 87 mm off; docs/benchmarks.md,
# sixth round).
_MIN_MAJORITY_DEPTH_POINTS = 3
# 1σ of a stereo depth camera's joint depth at 1 m (metres; it grows with z²): RealSense D4xx
# 0.08 px subpixel RMS over a 50 mm baseline at 382 px is 4.2 mm (synth.depth's model);
# rounded up for what a flat target does not show (smoothing over a finger, registration).
_STEREO_STDDEV_AT_1M_M = 0.005
# 1σ of the surface-to-joint offset model (metres): the half thicknesses vary by a few mm
# between hands and with the side of the finger the camera sees.
_OFFSET_STDDEV_M = 0.004
# hidden_weight compares medians of at least this many keypoints each: fewer say little.
_MIN_HIDDEN_SAMPLES = 5
# ... and never weighs a hidden keypoint at less than this: a keypoint the views put in one
# place by chance (a median of 0) must not vanish from the fit.
_MIN_HIDDEN_WEIGHT = 0.01
# A depth spread below this (metres) is not believed: sensor quantisation and the offset
# model's own error (a few mm) bound what the measurements can say.
_MIN_DEPTH_STDDEV_M = 0.002


def _joint_offsets() -> np.ndarray:
    """(21,) metres, joint centre behind the visible surface along the viewing ray: half the
    thickness of the body part at each keypoint, for an adult hand (typical thicknesses: wrist
    ≈ 40 mm, palm at the knuckles ≈ 25 mm, thumb base ≈ 30 mm, proximal / middle / distal
    finger segments ≈ 18 / 16 / 14 mm). A fingertip keypoint lies at the end of the finger,
    where the surface is nearly on it: a quarter of the distal thickness."""
    k = HandKeypoint
    half = {k.WRIST: 20.0, k.THUMB_CMC: 15.0, k.THUMB_MCP: 10.0, k.THUMB_IP: 8.0, k.THUMB_TIP: 4.0}
    for finger in ("INDEX_FINGER", "MIDDLE_FINGER", "RING_FINGER", "PINKY"):
        half.update({k[f"{finger}_MCP"]: 12.5, k[f"{finger}_PIP"]: 8.5, k[f"{finger}_DIP"]: 7.5,
                     k[f"{finger}_TIP"]: 3.5})
    out = np.zeros(NUM_KEYPOINTS)
    for keypoint, mm in half.items():
        out[int(keypoint)] = mm / MM_PER_M
    return out


JOINT_BEHIND_SURFACE_M = _joint_offsets()


def depth_from_millimetres(raw: np.ndarray) -> np.ndarray:
    """(H, W) uint16 millimetres (0 = no measurement) → (H, W) float32 metres, NaN where 0.

    Raises:
        ValueError: ``raw`` is not a 2-D uint16 array.
    """
    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise ValueError(f"depth_from_millimetres: expected an (H, W) uint16 array of millimetres, "
                         f"got shape {raw.shape} dtype {raw.dtype}")
    depth = raw.astype(np.float32) / np.float32(MM_PER_M)
    depth[raw == 0] = np.nan
    return depth


def read_depth_png(path: object) -> np.ndarray:
    """A depth file as recordings store it (a 16-bit single-channel PNG of millimetres along
    the optical axis, 0 = none) → its ``(H, W) uint16`` millimetres (``depth_from_millimetres``
    converts).

    Raises:
        ValueError: naming the file: missing or unreadable, or not single-channel 16-bit.
    """
    import cv2  # only readers of depth files need OpenCV here

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f"{path}: not a readable image")
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise ValueError(f"{path}: expected a single-channel 16-bit PNG of millimetres, got shape {raw.shape} "
                         f"dtype {raw.dtype}")
    return raw


class DepthMapError(ValueError):
    """A depth map ``check_depth`` refuses: ``view`` (the camera's name) and ``reason`` (the
    problem alone, for a caller that already names the camera); the message holds both."""

    def __init__(self, view: str, reason: str) -> None:
        super().__init__(f"depth of camera {view!r}: {reason}")
        self.view = view
        self.reason = reason


def check_depth(depth: object, image_shape: tuple[int, ...], *, view: str) -> None:
    """Check one aligned depth map against its colour image.

    Args:
        depth: expected ``(H, W) float32`` metres, NaN = no measurement.
        image_shape: the colour image's shape, ``(H, W)`` or ``(H, W, C)``.
        view: the camera's name, for the message.
    Raises:
        DepthMapError: naming ``view`` and the problem: not an array, wrong dtype, a size other
            than the colour image's, no measurement at all (all NaN or all zero), values that
            are neither positive finite metres nor NaN (zero included: NaN means none).
    """
    if not isinstance(depth, np.ndarray):
        raise DepthMapError(view, f"expected an (H, W) float32 array of metres, got {type(depth).__name__}")
    if depth.dtype != np.float32:
        raise DepthMapError(view, f"expected dtype float32 (metres; millimetres: depth_from_millimetres), "
                                  f"got {depth.dtype}")
    expected = tuple(int(s) for s in image_shape[:2])
    if depth.shape != expected:
        raise DepthMapError(view, f"expected the colour image's size {expected} (aligned depth), got {depth.shape}")
    finite = np.isfinite(depth)
    if not finite.any():
        raise DepthMapError(view, "no measurement (every pixel NaN or infinite)")
    values = depth[finite]
    negative = int((values < 0).sum() + np.isinf(depth).sum())
    if negative:
        raise DepthMapError(view, f"expected positive metres or NaN, got {negative} pixels negative or infinite")
    zero = int((values == 0).sum())
    if zero == values.size:
        raise DepthMapError(view, "no measurement (every pixel zero)")
    if zero:
        raise DepthMapError(view, f"expected NaN for no measurement, got {zero} pixels at zero metres")


def sample_keypoint_depths(depth: np.ndarray, pixels: np.ndarray, *, window_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Surface depth at each keypoint: (H, W) float32 m, (..., 2) px → (...,) m, (...,) m.

    Per keypoint, the pixels of the ``(2·window_px + 1)²`` window centred on its (rounded)
    position that hold a measurement. A window on a finger's edge also sees what lies behind
    it (the table, the floor), so the statistic is taken over its front layer: the values
    within ``_LAYER_M`` of the window's ``_FRONT_QUANTILE`` quantile; their median is the
    surface depth and 1.4826 × their median absolute deviation the spread. NaN for a
    keypoint that is NaN, outside the image, or whose window holds fewer than
    ``_MIN_VALID_FRACTION`` valid pixels (a hole).
    """
    pixels = np.asarray(pixels, np.float64)
    shape = pixels.shape[:-1]
    flat = pixels.reshape(-1, 2)  # (P, 2)
    height, width = depth.shape
    ok = np.isfinite(flat).all(-1)
    centre = np.where(ok[:, None], np.round(np.where(ok[:, None], flat, 0.0)), -1e6).astype(np.int64)  # (P, 2) x, y
    steps = np.arange(-window_px, window_px + 1)
    xs = centre[:, None, None, 0] + steps[None, None, :]  # (P, 1, k)
    ys = centre[:, None, None, 1] + steps[None, :, None]  # (P, k, 1)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)  # (P, k, k)
    values = np.where(inside, depth[np.clip(ys, 0, height - 1), np.clip(xs, 0, width - 1)], np.nan)
    values = values.reshape(len(flat), -1).astype(np.float64)  # (P, k²)
    enough = np.isfinite(values).sum(1) >= _MIN_VALID_FRACTION * values.shape[1]
    values[~enough] = np.nan
    with warnings.catch_warnings():  # an all-NaN window (a hole) is an expected NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        front = np.nanquantile(values, _FRONT_QUANTILE, axis=1)  # (P,)
        values[~(np.abs(values - front[:, None]) <= _LAYER_M)] = np.nan
        median = np.nanmedian(values, axis=1)
        spread = MAD_TO_SIGMA * np.nanmedian(np.abs(values - median[:, None]), axis=1)
    return median.reshape(shape), spread.reshape(shape)


def joint_depths(depth: np.ndarray, pixels: np.ndarray, *, window_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth of each keypoint's joint: (H, W) m, (..., 21, 2) px → (..., 21) m, NaN where none,
    and the sampling window's spread (..., 21) m (``joint_depth_stddev``'s input).

    The surface depth (``sample_keypoint_depths``) plus ``JOINT_BEHIND_SURFACE_M``.
    """
    surface, spread = sample_keypoint_depths(depth, pixels, window_px=window_px)
    return surface + JOINT_BEHIND_SURFACE_M, spread


def joint_depth_stddev(joint_z: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """1σ (metres) of measured joint depths: (...,) m depths, (...,) m window spreads → (...,) m.

    The sensor's noise at that depth (stereo: ∝ z²), the window's measured spread and the
    offset model's error, independent: added in quadrature.
    """
    sensor = _STEREO_STDDEV_AT_1M_M * np.square(joint_z)
    return np.sqrt(sensor * sensor + np.square(spread) + _OFFSET_STDDEV_M ** 2)


def triangulated_depth_stddev(cams: CameraArray, points: np.ndarray, inliers: np.ndarray, *,
                              pixel_stddev: float) -> np.ndarray:
    """1σ of triangulated points' depths along each camera's optical axis: (N, 3) m world,
    (V, N) bool inlier views of each point → (V, N) m; inf where a point is missing or its
    views leave it undetermined.

    The linearised reprojection covariance of each point from its inlier views (2D noise
    1σ ``pixel_stddev`` px), projected on each camera's axis: small where the views cross at
    wide angles, large where they are few or nearly parallel (where depth adds most).
    """
    R = cams.camera_T_world[:, :3, :3]  # (V, 3, 3)
    finite = np.isfinite(points).all(-1)  # (N,)
    with np.errstate(invalid="ignore", divide="ignore"):
        cam = cams.to_every_camera(np.where(finite[:, None], points, 0.0))  # (N, V, 3)
        z = np.where(cam[..., 2] > 0, cam[..., 2], np.inf)  # (N, V)
        u = cam[..., :2] / z[..., None]  # (N, V, 2)
        # d(px)/dX = f / z (R[:2] − [u, v]ᵀ R[2]), as in the refinement
        jac = (cams.focal / z)[..., None, None] * (R[:, :2] - u[..., None] * R[:, None, 2])  # (N, V, 2, 3) px/m
    jac = np.where(inliers.T[..., None, None] & np.isfinite(jac), jac, 0.0)
    info = np.einsum("nvai,nvaj->nij", jac, jac) / pixel_stddev ** 2  # (N, 3, 3) 1/m²
    # A point seen along one ray (or none) has no information along it: rank < 3.
    determined = finite & (np.linalg.matrix_rank(info, hermitian=True) == 3)
    cov = np.linalg.pinv(np.where(determined[:, None, None], info, np.eye(3)), hermitian=True)  # (N, 3, 3) m²
    var = np.einsum("vi,nij,vj->vn", R[:, 2], cov, R[:, 2])  # (V, N) m²
    return np.where(determined[None], np.sqrt(np.maximum(var, 0.0)), np.inf)


def occluded_keypoints(measured_z: np.ndarray, joint_z: np.ndarray, gate_m: np.ndarray | float) -> np.ndarray:
    """Keypoints whose joint their view does not see: (...,) m measured joint depths at the
    keypoints (NaN: none), (...,) m the joints' depths in that camera from elsewhere (the other
    views' triangulation), gate (metres, scalar or (...,)) → (...,) bool.

    True where the measured surface lies in front of the joint by more than the gate:
    something nearer (the grasped object, another finger, the other hand) covers the joint in
    that view, so its 2D keypoint is the network's guess of a hidden joint. A surface behind
    the joint is not (the background past a finger's edge, a hole's neighbours). DexYCB, 8
    cameras (the 12 depth instants, colour-only triangulation): keypoints whose depth reads
    3–6 cm in front had a median 2D error of 10.6 px, more than 6 cm 13.0 px, against 4.8 px
    within ±15 mm (docs/benchmarks.md, "Fifth round").
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(measured_z) < np.asarray(joint_z) - gate_m


def hidden_weight(cams: CameraArray, points: np.ndarray, xy: np.ndarray, hidden: np.ndarray, seen: np.ndarray) -> float:
    """Weight of hidden joints' keypoints against seen ones' in a least-squares fit: (V, N)
    cameras, (N, 3) m world triangulated points, (V, N, 2) undistorted normalized keypoints,
    (V, N) bool hidden (``occluded_keypoints``) and seen inlier observations → in (0, 1].

    (median reprojection error of the seen / of the hidden)², at most 1: the information of a
    keypoint ∝ 1/σ², and how much worse the detector guesses a joint it cannot see is measured
    on the frame itself, not assumed (DexYCB, 8 cameras: the hidden ones ≈ 2× further off, so ≈
    ¼; a detector as good on hidden joints as on seen ones keeps 1). 1 when fewer than
    ``_MIN_HIDDEN_SAMPLES`` hidden or seen keypoints have an error.
    """
    # Most frames have no hidden keypoints (no depth, or nothing covers the hand): no projection.
    if np.count_nonzero(hidden) < _MIN_HIDDEN_SAMPLES:
        return 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        cam = cams.to_camera(np.where(np.isfinite(points), points, 0.0))  # (V, N, 3)
        u = cam[..., :2] / np.where(cam[..., 2:] > 0, cam[..., 2:], np.nan)  # (V, N, 2)
        error_px = cams.focal[:, None] * np.linalg.norm(u - xy, axis=-1)  # (V, N) px
    error_px = np.where(np.isfinite(points).all(-1)[None], error_px, np.nan)
    hidden_px, seen_px = error_px[hidden & np.isfinite(error_px)], error_px[seen & np.isfinite(error_px)]
    if min(len(hidden_px), len(seen_px)) < _MIN_HIDDEN_SAMPLES:
        return 1.0
    ratio = float(np.median(seen_px)) / max(float(np.median(hidden_px)), 1e-12)
    return float(np.clip(ratio * ratio, _MIN_HIDDEN_WEIGHT, 1.0))


@dataclasses.dataclass(frozen=True)
class DepthFit:
    """One view's hand fitted to measured joint depths.

    Attributes:
        scale: factor about the camera centre that takes the model hand to the measurements.
        inliers: (21,) bool, keypoints whose measured depth agrees with the scaled model.
        stddev_m: metres, RMS of the inliers' depth residuals (at least ``_MIN_DEPTH_STDDEV_M``).
    """

    scale: float
    inliers: np.ndarray
    stddev_m: float


def fit_depth_scale(model_z: np.ndarray, measured_z: np.ndarray, *, gate_m: float,
                    min_points: int = _MIN_DEPTH_POINTS) -> DepthFit | None:
    """(21,) m model joint depths (camera frame), (21,) m measured joint depths (NaN: none) → fit.

    Every keypoint's ratio measured / model is a candidate scale. A candidate is scored by its
    keypoints within ``gate_m`` of the scaled model, less those whose measured surface lies
    beyond the model by more than the gate but less than ``_SEE_THROUGH_M``: the camera
    cannot see past a hand joint to something a few cm behind it (an occluder is always in
    front; only the background past a finger's edge is far behind). So a cluster of occluder
    depths in front of the hand cannot win over the hand's own surface. Ties: the smallest
    summed residual. The scale is then re-estimated as the median ratio of its inliers. None
    when fewer than ``min_points`` keypoints agree, or, of few measured ones, fewer than half
    of them and ``_MIN_MAJORITY_DEPTH_POINTS``.
    """
    ok = np.isfinite(model_z) & np.isfinite(measured_z) & (model_z > 0)
    min_points = min(min_points, max(_MIN_MAJORITY_DEPTH_POINTS, -(-int(ok.sum()) // 2)))  # ceil(n / 2)
    if ok.sum() < min_points:
        return None
    model, measured = model_z[ok], measured_z[ok]
    candidates = measured / model  # (n,)
    residual = np.abs(measured[None, :] - candidates[:, None] * model[None, :])  # (n, n)
    agree = residual < gate_m
    ahead = measured[None, :] - candidates[:, None] * model[None, :]  # (n, n) m, + = measured behind the model
    see_through = (ahead > gate_m) & (ahead < _SEE_THROUGH_M)
    count = agree.sum(1)
    score = count - see_through.sum(1)
    cost = np.where(agree, residual, 0.0).sum(1)
    best = int(np.lexsort((cost, -score, count < min_points))[0])  # among those with enough keypoints
    if count[best] < min_points:
        return None
    scale = float(np.median(candidates[agree[best]]))
    res = measured - scale * model
    inside = np.abs(res) < gate_m
    if inside.sum() < min_points:
        return None
    inliers = np.zeros(len(model_z), bool)
    inliers[np.flatnonzero(ok)[inside]] = True
    stddev = max(float(np.sqrt(np.mean(res[inside] ** 2))), _MIN_DEPTH_STDDEV_M)
    return DepthFit(scale=scale, inliers=inliers, stddev_m=stddev)


def hand_on_depth(points_camera: np.ndarray, measured_z: np.ndarray, xy: np.ndarray, *,
                  gate_m: float) -> tuple[np.ndarray, DepthFit] | None:
    """One view's hand placed on measured depths (module docstring, step 3).

    Args:
        points_camera: (21, 3) m, the PnP hand in its camera's optical frame.
        measured_z: (21,) m, measured joint depths (NaN: none).
        xy: (21, 2) undistorted normalized keypoints (NaN: unseen): each seen keypoint is
            placed on its own ray, an unseen one on its PnP point's.
    Returns:
        (21, 3) m the placed hand and its fit; None when the depths do not agree on a scale
        (``fit_depth_scale``).
    """
    fit = fit_depth_scale(points_camera[:, 2], measured_z, gate_m=gate_m)
    if fit is None:
        return None
    model = points_camera * fit.scale  # (21, 3): the same projections, the measured distance
    rays = model / model[:, 2:]  # (21, 3), z = 1
    seen = np.isfinite(xy).all(-1)
    rays[seen, :2] = xy[seen]
    z = np.where(fit.inliers, _MEASURED_WEIGHT * measured_z + (1 - _MEASURED_WEIGHT) * model[:, 2], np.nan)  # (21,) m
    if not np.isfinite(z[HandKeypoint.WRIST]):
        z[HandKeypoint.WRIST] = model[HandKeypoint.WRIST, 2]
    for parent, child in BONES:  # parents before children (index order)
        if not fit.inliers[child]:
            z[child] = z[parent] + model[child, 2] - model[parent, 2]
    return rays * z[:, None], fit
