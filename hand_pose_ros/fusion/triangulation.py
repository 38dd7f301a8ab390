"""Robust multi-view triangulation, batched over points: subset search + weighted DLT.

Legend: V views, N points (joints of all hands stacked). Observations are undistorted
normalized camera coordinates ``(V, N, 2)`` with NaN for "not seen"; errors are pixels in
the undistorted image (normalized error × focal length).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from hand_pose_ros.fusion.camera import CameraArray

__all__ = ["Triangulation", "weighted_dlt", "reprojection_errors", "robust_triangulate", "view_pairs"]

# Rays closer to parallel than this (1 − cos²) give no depth: that pair's hypothesis is void.
_MIN_RAY_ANGLE_TERM = 1e-9
# Relative ridge on the DLT normal equations: keeps degenerate (parallel-ray) systems solvable
# while changing well-posed points by far less than a micrometre.
_RIDGE = 1e-12
# Points must lie in front of both cameras of a hypothesis pair (metres along each ray).
_MIN_RAY_DEPTH = 1e-3
# Camera arrays whose DLT blocks are kept: each live MultiViewFusion's recent sets of active
# views (see fusion._ACTIVE_SETS_CACHE), and a few for tests and benches.
_DLT_BLOCKS_CACHE = 64
# Hypotheses come from the pairs of a point's best-scored views, at most this many views
# (28 pairs): all pairs of V views grow as V²/2 and each is scored in all V views (V³), while
# 8 views hold two inliers unless more than 6 of them are outliers. Rigs of up to 8 views use
# every pair, as before.
_MAX_HYPOTHESIS_VIEWS = 8
_EYE3, _EYE4 = np.eye(3), np.eye(4)
_EYE3.flags.writeable = _EYE4.flags.writeable = False


@dataclasses.dataclass(frozen=True)
class Triangulation:
    """Result for N points.

    Attributes:
        points: (N, 3) float64 metres, world frame; NaN where fewer than 2 consistent views.
        inliers: (V, N) bool, views that agreed on each point.
        errors: (V, N) float64 px, each observation's reprojection error to ``points``; NaN where unseen.
        num_views: (N,) int, inlier views per point (0 where the point is NaN).
        reprojection_error: (N,) float64 px, mean error over the inlier views; NaN where missing.
    """

    points: np.ndarray
    inliers: np.ndarray
    errors: np.ndarray
    num_views: np.ndarray
    reprojection_error: np.ndarray


@functools.lru_cache(maxsize=None)
def view_pairs(num_views: int) -> np.ndarray:
    """(P, 2) int, all unordered pairs of view indices (read-only: shared between calls)."""
    pairs = np.array(list(itertools.combinations(range(num_views), 2)), dtype=int).reshape(-1, 2)
    pairs.flags.writeable = False
    return pairs


def _hypothesis_views(seen: np.ndarray, scores: np.ndarray, pairs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(V, N) seen, (V, N) scores → the two views of each point's hypotheses, (P, N) int each,
    or (P, 1) when every point has the same pairs.

    ``pairs`` (P, 2) given: the same pairs for every point. Otherwise all pairs of up to
    ``_MAX_HYPOTHESIS_VIEWS`` views: every view when there are no more, else each point's
    best-scored seen views.
    """
    V, N = seen.shape
    if pairs is None and V > _MAX_HYPOTHESIS_VIEWS:
        rank = np.where(seen, scores, -1.0)  # unseen views last
        top = np.argsort(-rank, axis=0, kind="stable")[:_MAX_HYPOTHESIS_VIEWS]  # (M, N) view indices
        slots = view_pairs(_MAX_HYPOTHESIS_VIEWS)
        return top[slots[:, 0]], top[slots[:, 1]]
    if pairs is None:
        pairs = view_pairs(V)
    return pairs[:, :1], pairs[:, 1:]


@functools.lru_cache(maxsize=_DLT_BLOCKS_CACHE)
def _dlt_blocks(cams: CameraArray) -> np.ndarray:
    """(4V, 16) per-view parts of the DLT normal matrix (flattened 4×4), in four blocks of V rows.

    With P_v's rows p0, p1, p2, point x, y contributes w² (rx rxᵀ + ry ryᵀ), rx = x p2 − p0,
    ry = y p2 − p1: = w² [(x² + y²) p2p2ᵀ − x (p2p0ᵀ + p0p2ᵀ) − y (p2p1ᵀ + p1p2ᵀ) + p0p0ᵀ + p1p1ᵀ].
    """
    P = cams.camera_T_world[:, :3, :]  # (V, 3, 4)
    outer = P[:, :, None, :, None] * P[:, None, :, None, :]  # (V, 3, 3, 4, 4): p_i p_jᵀ
    blocks = [outer[:, 2, 2], outer[:, 2, 0] + outer[:, 0, 2], outer[:, 2, 1] + outer[:, 1, 2], outer[:, 0, 0] + outer[:, 1, 1]]
    return np.concatenate(blocks).reshape(-1, 16)


def weighted_dlt(xy: np.ndarray, weights: np.ndarray, cams: CameraArray) -> np.ndarray:
    """(V, N, 2) normalized, (V, N) weights ≥ 0 → (N, 3) metres; NaN where < 2 views weigh > 0.

    Minimises Σ_v w_v² |A_v [X; 1]|² (inhomogeneous DLT: one 3×3 solve per point, cheaper
    than an eigen-decomposition and the same for points at finite distance); with
    w = score × f / depth the algebraic residual becomes a pixel residual.
    """
    finite = np.isfinite(xy).all(-1)
    w = np.where(finite & (weights > 0), weights, 0.0)  # (V, N); NaN weights count as 0
    w2 = w * w
    x, y = np.where(finite, xy[..., 0], 0.0), np.where(finite, xy[..., 1], 0.0)  # (V, N) each
    coefficients = np.concatenate([w2 * (x * x + y * y), -w2 * x, -w2 * y, w2])  # (4V, N)
    A = (coefficients.T @ _dlt_blocks(cams)).reshape(-1, 4, 4)  # (N, 4, 4)
    enough = (w > 0).sum(0) >= 2
    A[~enough] = _EYE4
    trace = A[:, 0, 0] + A[:, 1, 1] + A[:, 2, 2]  # (N,): np.trace's arithmetic, without its wrapper
    M = A[:, :3, :3] + (_RIDGE * trace)[:, None, None] * _EYE3
    points = np.linalg.solve(M, -A[:, :3, 3:])[..., 0]  # (N, 3)
    points[~enough] = np.nan
    return points


def reprojection_errors(points: np.ndarray, xy: np.ndarray, cams: CameraArray) -> np.ndarray:
    """(…, N, 3) metres and (V, N, 2) normalized → (…, V, N) px in the undistorted image."""
    cam = cams.to_every_camera(points)  # (…, N, V, 3)
    x, y = xy.transpose(1, 0, 2)[..., 0], xy.transpose(1, 0, 2)[..., 1]  # (N, V) each
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(cam[..., 2] > _MIN_RAY_DEPTH, cam[..., 2], np.nan)
        dx, dy = cam[..., 0] / z - x, cam[..., 1] / z - y  # (…, N, V) each
    return np.swapaxes(np.sqrt(dx * dx + dy * dy) * cams.focal, -1, -2)


def _pair_midpoints(xy: np.ndarray, cams: CameraArray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(V, N, 2) normalized, (P, N) or (P, 1) (the same for every point) the two views of each
    hypothesis → (P, N, 3) midpoints of the closest approach of their rays."""
    R = cams.camera_T_world[:, :3, :3]
    rays = xy @ R[:, :2] + R[:, None, 2]  # (V, N, 3) world: Rᵀ [x, y, 1] per point
    ray_norm2 = np.einsum("vni,vni->vn", rays, rays)  # (V, N)
    centers = cams.centers  # (V, 3)
    if first.shape[1] == 1:  # whole rows: far cheaper than a gather per point
        da, db, a, c = rays[first[:, 0]], rays[second[:, 0]], ray_norm2[first[:, 0]], ray_norm2[second[:, 0]]
    else:
        n = np.arange(xy.shape[1])
        da, db, a, c = rays[first, n], rays[second, n], ray_norm2[first, n], ray_norm2[second, n]
    # da, db (P, N, 3); a, c (P, N)
    ca, cb = centers[first], centers[second]  # (P, N or 1, 3)
    w0 = ca - cb
    b = np.einsum("pni,pni->pn", da, db)  # (P, N)
    d, e = np.einsum("pni,pni->pn", da, w0), np.einsum("pni,pni->pn", db, w0)
    denom = a * c - b * b
    ok = denom > _MIN_RAY_ANGLE_TERM * a * c
    denom = np.where(ok, denom, 1.0)
    s = (b * e - c * d) / denom
    u = (a * e - b * d) / denom
    ok &= (s > _MIN_RAY_DEPTH) & (u > _MIN_RAY_DEPTH)
    mid = 0.5 * (ca + s[..., None] * da + cb + u[..., None] * db)
    mid[~ok] = np.nan
    return mid


def robust_triangulate(
    xy: np.ndarray,
    scores: np.ndarray,
    cams: CameraArray,
    threshold_px: float,
    pairs: np.ndarray | None = None,
    support: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    prior_weight_px_per_m: float = 0.0,
) -> Triangulation:
    """(V, N, 2) normalized + (V, N) scores → robust 3D points, outlier views rejected per point.

    Every pair of views (``pairs`` (P, 2); by default all pairs of up to
    ``_MAX_HYPOTHESIS_VIEWS`` views, the point's best-scored ones in larger rigs) proposes a
    point (ray midpoint); each point keeps the proposal with the lowest truncated squared
    reprojection cost over all views (MSAC), each view's term weighted by its ``support``
    ((V, N) ≥ 0; None: 1 for every view), its inliers are the views within ``threshold_px``,
    and the point is re-estimated from them by weighted DLT (weights: score × focal / depth,
    so the residual is in pixels).

    With ``prior`` ((N, 3) metres, NaN: none), a hypothesis also pays for its distance to its
    point's prior, ``(prior_weight_px_per_m × |X − prior|)²`` px² truncated like a view's term:
    one more witness, worth at most one view's vote (``fusion``: the track's prediction).

    Raises:
        ValueError: ``support`` or ``prior`` not shaped (V, N), (N, 3) like the observations.
    """
    V, N = xy.shape[:2]
    if support is not None and support.shape != (V, N):
        raise ValueError(f"robust_triangulate: support must be (V, N) = {(V, N)} like the observations, got {support.shape}")
    if prior is not None and prior.shape != (N, 3):
        raise ValueError(f"robust_triangulate: prior must be (N, 3) = {(N, 3)} like the observations, got {prior.shape}")
    seen = np.isfinite(xy).all(-1) & (scores > 0)  # (V, N); NaN scores are not > 0
    xy = np.where(seen[..., None], xy, np.nan)
    first, second = _hypothesis_views(seen, scores, pairs)  # (P, N) or (P, 1) each
    if len(first) == 0:
        nan = np.full(N, np.nan)
        return Triangulation(np.full((N, 3), np.nan), np.zeros((V, N), bool), np.full((V, N), np.nan), np.zeros(N, int), nan)
    tau2 = threshold_px**2
    hyps = _pair_midpoints(xy, cams, first, second)  # (P, N, 3)
    err = reprojection_errors(hyps, xy, cams)  # (P, V, N)
    truncated = np.where(err < threshold_px, err * err, tau2)  # (P, V, N); unseen views' NaN err → τ²
    cost = truncated.sum(1) if support is None else np.einsum("pvn,vn->pn", truncated, support)  # (P, N)
    if prior is not None:
        away = hyps - prior  # (P, N, 3) m
        witness = prior_weight_px_per_m**2 * np.einsum("pni,pni->pn", away, away)  # (P, N) px²
        cost += np.where(np.isfinite(witness), np.minimum(witness, tau2), 0.0)  # no prior or no hypothesis: nothing
    cost[np.isnan(hyps[..., 0])] = np.inf
    best = np.argmin(cost, axis=0)  # (N,)
    idx = np.arange(N)
    inliers = err[best, :, idx].T < threshold_px  # (V, N); unseen: NaN → False
    hyp = hyps[best, idx]  # (N, 3)
    depth = (hyp @ cams.camera_T_world[:, 2, :3].T).T + cams.camera_T_world[:, 2, 3, None]  # (V, N)
    weights = np.where(inliers, scores * cams.focal[:, None] / np.abs(depth), 0.0)
    points = weighted_dlt(xy, weights, cams)
    errors = reprojection_errors(points, xy, cams)  # (V, N)
    inliers &= errors < threshold_px  # NaN → False
    num_views = inliers.sum(0)
    missing = num_views < 2  # (N,)
    points[missing] = np.nan
    num_views[missing] = 0
    mean_err = np.where(inliers, errors, 0.0).sum(0) / np.maximum(num_views, 1)
    mean_err[missing] = np.nan
    return Triangulation(points, inliers & ~missing, errors, num_views, mean_err)
