"""One view's hand fitted to the aligned depth of its image region (issue #15, docs/fusion.md "Depth").

``fusion.depth.hand_on_depth`` places each keypoint at the depth measured under it; a single
wrong keypoint depth (a finger's window on the grasped object, a hole filled by the shape's
relief) then goes straight into the hand. Here the whole measured surface of the hand's 2D
region takes part: the hand is a chain of capsules along its bones and palm links (radius at
each joint = ``depth.JOINT_BEHIND_SURFACE_M``, the same half thicknesses as the keypoint
depth model, linear between), and its 21 joints are moved so that

- the measured points of the region lie on the capsules' surface (point-to-surface distance,
  robust: points more than ``_ASSIGN_M`` from the surface — the grasped object in front, the
  table behind, another hand — take no part, re-decided every iteration),
- the joints still project onto their detected keypoints (2D, robust),
- the bones keep the starting hand's lengths and the hand stays near its start (weak priors:
  the point cloud sees the hand's front only).

Gauss–Newton with Huber weights (IRLS) on (21, 3) camera-frame joints. Arrays: (21, 3) m in
the camera's optical frame, (21, 2) undistorted normalized keypoints, (M, 3) m points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np

from hand_pose_ros.checks import check_number
from hand_pose_ros.fusion.depth import JOINT_BEHIND_SURFACE_M, joint_depth_stddev
from hand_pose_ros.keypoints import BONES, HAND_EDGES, NUM_KEYPOINTS, HandKeypoint
from hand_pose_ros.types import check_shape

__all__ = ["SurfaceFitConfig", "SURFACE_EDGES", "region_points", "capsule_distances", "fit_hand_to_surface"]

_K = HandKeypoint
# The capsules: the 20 bones and the MCP-to-MCP links, plus the palm's inside (wrist to the
# middle and ring knuckles), so that points on the palm's centre have a surface to lie on.
SURFACE_EDGES: tuple[tuple[int, int], ...] = HAND_EDGES + (
    (int(_K.WRIST), int(_K.MIDDLE_FINGER_MCP)), (int(_K.WRIST), int(_K.RING_FINGER_MCP)))
_EDGES = np.array(SURFACE_EDGES, int)  # (E, 2)
# A measured point farther than this (metres) from the hand's surface is not the hand (an
# occluder in front, the background behind, a neighbouring finger's side): the starting hand
# lies on its keypoints' measured depths, within the sensor's noise and the offset model's
# error (≈ 5 mm each at 1 m). DexYCB singles, 20 → 12 mm: better on 6 of 7 cameras.
_ASSIGN_M = 0.012
# Huber thresholds in σ units (the residuals are divided by their 1σ).
_HUBER_SIGMAS = 1.5
# The measured points together count as this many independent measurements: neighbouring
# depth pixels share the stereo matcher's window and its errors (they are not independent),
# so a thousand of them must not outweigh the 21 keypoints by fifty to one: about one per bone
# (DexYCB singles: 20 better than 60 on 6 of 7 cameras, 200 worse on all).
_EFFECTIVE_POINTS = 20.0
# 1σ of a bone's length against the starting hand's (ratio): the landmarks' proportions are
# good to ≈ 10 % (docs/fusion.md, one view).
_BONE_RATIO_STDDEV = 0.1
# Levenberg damping added to the normal equations' diagonal (relative): keeps a step finite
# where a joint has no measured point and one keypoint (a 2-D constraint on a 3-D point).
_DAMPING = 1e-3
# A region pixel is kept when its distance to a bone's 2D segment is within the bone's
# projected radius times this: a little wider than the finger (edges, a 2D offset).
_REGION_MARGIN = 1.5
# cv2's drawing takes fixed-point coordinates with this many fractional bits.
_SHIFT = 4
_SUBPIXEL = 1 << _SHIFT
# Points sampled from the region at most (every k-th pixel): together they weigh as
# _EFFECTIVE_POINTS, so more only cost time; 500 (≈ 20 a capsule) gave the same errors as 1500
# on the DexYCB singles (within 0.3 mm, 5 of 7 cameras lower) and the synthetic bench (10.4 mm)
# at a third of the fit's time.
_MAX_POINTS = 500


@dataclasses.dataclass(frozen=True, kw_only=True)
class SurfaceFitConfig:
    """Settings of ``fit_hand_to_surface``.

    Attributes:
        iterations: Gauss–Newton steps (0: the start is returned unchanged).
        pixel_stddev_px: 1σ of the detector's 2D keypoints (px): its median error is ≈ 5 px
            on real images (docs/benchmarks.md).
        prior_stddev_m: 1σ of each joint's distance from the start (m): weak, the start is the
            keypoints' depths, good to a few cm where a window missed the hand.
    """

    iterations: int = 8
    pixel_stddev_px: float = 5.0
    prior_stddev_m: float = 0.03

    def __post_init__(self) -> None:
        check_number("SurfaceFitConfig.iterations", self.iterations, low=0, integer=True)
        check_number("SurfaceFitConfig.pixel_stddev_px", self.pixel_stddev_px, low=0.0, low_open=True)
        check_number("SurfaceFitConfig.prior_stddev_m", self.prior_stddev_m, low=0.0, low_open=True)


def _radii() -> np.ndarray:
    """(21,) m capsule radius at each joint: the depth model's half thickness, but at least a
    finger's distal half thickness at the tips (the tip keypoint's offset is small because it
    sits at the finger's end, not because the finger is thin there)."""
    return np.maximum(JOINT_BEHIND_SURFACE_M, JOINT_BEHIND_SURFACE_M[int(_K.INDEX_FINGER_DIP)])


_RADII = _radii()


def region_points(depth: np.ndarray, pixels: np.ndarray, to_normalized: Callable[[np.ndarray], np.ndarray],
                  points_camera: np.ndarray,
                  focal_px: float) -> np.ndarray:
    """The measured points of a hand's 2D region: (H, W) m depth, (21, 2) px keypoints (NaN:
    unseen), a function (N, 2) px → (N, 2) undistorted normalized, (21, 3) m the starting hand
    (for its capsules' pixel radii), focal (px) → (M, 3) m points in the camera frame.

    The region: pixels within ``_REGION_MARGIN`` × the projected capsule radius of a 2D bone
    between two seen keypoints; at most ``_MAX_POINTS`` of them (a regular subsample).
    """
    check_shape("pixels", pixels, (NUM_KEYPOINTS, 2), "region_points")
    seen = np.isfinite(pixels).all(-1)
    edges = _EDGES[seen[_EDGES].all(1)]
    if not len(edges):
        return np.zeros((0, 3))
    z = np.where(np.isfinite(points_camera[:, 2]) & (points_camera[:, 2] > 0), points_camera[:, 2], np.nan)
    radius_px = _REGION_MARGIN * focal_px * _RADII / np.nanmedian(z)  # (21,) px
    a, b = pixels[edges[:, 0]], pixels[edges[:, 1]]  # (E, 2)
    height, width = depth.shape
    lo = np.floor(np.maximum(np.minimum(a, b).min(0) - radius_px.max(), 0)).astype(int)
    hi = np.ceil(np.minimum(np.maximum(a, b).max(0) + radius_px.max(), [width - 1, height - 1])).astype(int)
    if (hi < lo).any():
        return np.zeros((0, 3))
    # The tapered capsules rasterised (two discs and the band between them per bone): ~0.1 ms,
    # where a distance from every pixel of the box to every bone took ~20 ms a hand.
    mask = np.zeros((hi[1] - lo[1] + 1, hi[0] - lo[0] + 1), np.uint8)
    for (i, j), p, q in zip(edges, a - lo, b - lo):
        ri, rj = radius_px[i], radius_px[j]
        across = np.array([q[1] - p[1], p[0] - q[0]]) / max(float(np.hypot(*(q - p))), 1e-9)  # unit normal
        band = np.array([p + ri * across, q + rj * across, q - rj * across, p - ri * across])
        cv2.fillConvexPoly(mask, np.round(band * _SUBPIXEL).astype(np.int32), 1, cv2.LINE_8, _SHIFT)
        for centre, r in ((p, ri), (q, rj)):
            cv2.circle(mask, tuple(int(c) for c in np.round(centre * _SUBPIXEL)), int(round(r * _SUBPIXEL)), 1, -1,
                       cv2.LINE_8, _SHIFT)
    ys, xs = np.nonzero(mask)
    grid = np.stack([xs + lo[0], ys + lo[1]], -1).astype(np.float64)  # (P, 2) px
    grid = grid[np.isfinite(depth[grid[:, 1].astype(int), grid[:, 0].astype(int)])]
    if len(grid) > _MAX_POINTS:
        grid = grid[np.linspace(0, len(grid) - 1, _MAX_POINTS).astype(int)]
    zs = depth[grid[:, 1].astype(int), grid[:, 0].astype(int)].astype(np.float64)
    xy = to_normalized(grid)  # (M, 2)
    return np.concatenate([xy * zs[:, None], zs[:, None]], axis=1)


def capsule_distances(joints: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Signed distance of each point to the hand's surface: (21, 3) m joints, (M, 3) m points →
    (M,) m (negative inside), (M,) nearest capsule's index into ``SURFACE_EDGES``, (M,) its
    position along it in [0, 1], (M, 3) the outward unit normal there."""
    a, b = joints[_EDGES[:, 0]], joints[_EDGES[:, 1]]  # (E, 3)
    ab = b - a
    offset = points[:, None] - a[None]  # (M, E, 3), from each capsule's start
    t = np.clip(np.einsum("mei,ei->me", offset, ab) / np.maximum(np.einsum("ei,ei->e", ab, ab), 1e-12), 0, 1)
    offset -= t[..., None] * ab[None]  # now from the nearest point on each axis
    length = np.sqrt(np.einsum("mei,mei->me", offset, offset))  # (M, E)
    r = _RADII[_EDGES[:, 0]][None] + t * (_RADII[_EDGES[:, 1]] - _RADII[_EDGES[:, 0]])[None]
    signed = length - r
    nearest = np.argmin(signed, axis=1)  # (M,)
    rows = np.arange(len(points))
    normal = offset[rows, nearest] / np.maximum(length[rows, nearest], 1e-9)[:, None]
    return signed[rows, nearest], nearest, t[rows, nearest], normal


def _huber_weights(r: np.ndarray) -> np.ndarray:
    """IRLS weights for residuals in σ units."""
    a = np.abs(r)
    return np.where(a <= _HUBER_SIGMAS, 1.0, _HUBER_SIGMAS / np.maximum(a, 1e-12))


def _surface_normal_equations(joints: np.ndarray, points: np.ndarray,
                              point_sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The measured points near the surface, as their Huber-weighted Gauss–Newton terms: (63,
    63) JᵀWJ and (63,) JᵀWr, each point weighing ``_EFFECTIVE_POINTS`` / (their number) at
    most 1; None when fewer than 21 lie near. A point's residual (signed distance / σ) depends
    on its capsule's two end joints only, so the sums are taken per pair of joints (a dense
    (M, 63) Jacobian costs ≈ 20 ms a hand in BLAS on a loaded 2-core machine)."""
    signed, edge, t, normal = capsule_distances(joints, points)
    m = np.flatnonzero(np.abs(signed) < _ASSIGN_M)
    if len(m) < NUM_KEYPOINTS:
        return None
    sigma = point_sigma[m]
    res = signed[m] / sigma  # (R,)
    w = _huber_weights(res) * min(1.0, _EFFECTIVE_POINTS / len(m))
    # d(signed)/d(endpoint a) = −(1 − t) n, d/d(b) = −t n (t's own change moves the nearest
    # point along the axis: no first-order change of the distance).
    grads = np.stack([-(1 - t[m]), -t[m]], axis=1)[..., None] / sigma[:, None, None] * normal[m][:, None]  # (R, 2, 3)
    # Summed per capsule first (np.bincount per entry), then put in place per capsule: np.add.at
    # over every point's blocks took as long as the distances, and a (R, E) membership matrix
    # product went through BLAS threads that cost more than the sums on a busy machine.
    def per_capsule(values: np.ndarray) -> np.ndarray:  # (R, K) → (E, K)
        return np.stack([np.bincount(edge[m], weights=column, minlength=len(_EDGES)) for column in values.T], 1)

    g_edge = per_capsule(((w * res)[:, None, None] * grads).reshape(len(m), 6))  # (E, 6)
    H_edge = per_capsule((w[:, None, None, None, None] * grads[:, :, None, :, None]
                          * grads[:, None, :, None, :]).reshape(len(m), 36))  # (E, 36)
    H = np.zeros((NUM_KEYPOINTS, NUM_KEYPOINTS, 3, 3))
    g = np.zeros((NUM_KEYPOINTS, 3))
    for i in range(2):
        np.add.at(g, _EDGES[:, i], g_edge.reshape(-1, 2, 3)[:, i])
        for j in range(2):
            np.add.at(H, (_EDGES[:, i], _EDGES[:, j]), H_edge.reshape(-1, 2, 2, 3, 3)[:, i, j])
    return H.transpose(0, 2, 1, 3).reshape(3 * NUM_KEYPOINTS, -1), g.ravel()


def _keypoint_terms(joints: np.ndarray, xy: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Projection minus detection of the seen keypoints, normalized units / ``sigma``: (2S,)
    residuals and their (2S, 63) Jacobian."""
    s = np.flatnonzero(np.isfinite(xy).all(-1))
    z = joints[s, 2]
    proj = joints[s, :2] / z[:, None]  # (S, 2)
    jac = np.zeros((len(s), 2, NUM_KEYPOINTS, 3))
    rows = np.arange(len(s))
    for axis in range(2):  # d(x/z)/dx = 1/z, d(x/z)/dz = −x/z²
        jac[rows, axis, s, axis] = 1 / (z * sigma)
        jac[rows, axis, s, 2] = -proj[:, axis] / (z * sigma)
    return ((proj - xy[s]) / sigma).ravel(), jac.reshape(2 * len(s), -1)


def _bone_terms(joints: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bone length minus its target, in σ (``_BONE_RATIO_STDDEV`` of the target): (20,)
    residuals and their (20, 63) Jacobian."""
    bones = _EDGES[: len(BONES)]  # HAND_EDGES opens with BONES
    vec = joints[bones[:, 1]] - joints[bones[:, 0]]  # (20, 3)
    cur = np.linalg.norm(vec, axis=-1)
    sigma = _BONE_RATIO_STDDEV * lengths
    unit = vec / np.maximum(cur, 1e-9)[:, None] / sigma[:, None]
    jac = np.zeros((len(bones), NUM_KEYPOINTS, 3))
    rows = np.arange(len(bones))
    jac[rows, bones[:, 1]] = unit
    jac[rows, bones[:, 0]] = -unit
    return (cur - lengths) / sigma, jac.reshape(len(bones), -1)


def fit_hand_to_surface(start: np.ndarray, xy: np.ndarray, points: np.ndarray, *, focal_px: float,
                        config: SurfaceFitConfig = SurfaceFitConfig()) -> np.ndarray:
    """Refine one view's hand on its measured surface (module docstring).

    Args:
        start: (21, 3) m, the hand in the camera's optical frame (``depth.hand_on_depth``'s).
        xy: (21, 2) undistorted normalized detected keypoints, NaN where unseen.
        points: (M, 3) m measured points of the hand's region (``region_points``).
        focal_px: the camera's focal length (px), to weigh the 2D term in pixels.
    Returns:
        (21, 3) m the refined hand; ``start`` unchanged when it has a missing joint or fewer
        than 21 measured points lie near its surface.
    """
    check_shape("start", start, (NUM_KEYPOINTS, 3), "fit_hand_to_surface")
    check_shape("xy", xy, (NUM_KEYPOINTS, 2), "fit_hand_to_surface")
    check_shape("points", points, (None, 3), "fit_hand_to_surface")
    if not np.isfinite(start).all() or not len(points) or config.iterations == 0:
        return start
    # The start's bone lengths: the scaled landmark shape's were tried instead (they are not
    # stretched by a wrong keypoint depth) and lost on the synthetic bench (10.4 → 11.6 mm,
    # landmarks with 5 mm jitter) and on 1 of 7 DexYCB cameras.
    lengths = np.linalg.norm(start[_EDGES[: len(BONES), 1]] - start[_EDGES[: len(BONES), 0]], axis=-1)  # (20,) m
    # 1σ of each point's depth: the sensor's at that distance and the offset model's.
    point_sigma = joint_depth_stddev(points[:, 2], np.zeros(len(points)))  # (M,) m
    n = 3 * NUM_KEYPOINTS
    joints = start.copy()
    for _ in range(config.iterations):
        surface = _surface_normal_equations(joints, points, point_sigma)
        if surface is None:
            break  # nothing (left) to fit to: the last step's hand
        H, g = surface
        for res, jac in (_keypoint_terms(joints, xy, config.pixel_stddev_px / focal_px), _bone_terms(joints, lengths)):
            w = _huber_weights(res)  # (R,)
            H += jac.T @ (jac * w[:, None])
            g += jac.T @ (w * res)
        # The prior on each joint: identity Jacobian / σ, Huber-weighted per coordinate.
        prior = ((joints - start) / config.prior_stddev_m).ravel()
        w = _huber_weights(prior)
        H[np.diag_indices(n)] += w / config.prior_stddev_m ** 2
        g += w * prior / config.prior_stddev_m
        H[np.diag_indices(n)] *= 1 + _DAMPING
        joints = joints + np.linalg.solve(H, -g).reshape(NUM_KEYPOINTS, 3)
    return joints
