"""Which detection in which view is which physical hand: association by geometry, not labels.

Legend: D detections of this frame over all views (``view`` (D,) gives each one's view),
``xy`` (D, 21, 2) undistorted normalized keypoints (NaN unseen), K tracks.

Two cues, both label-free:
  * tracks: a detection continues a track when its keypoints lie near the track's predicted
    joints projected into that view (one Hungarian assignment per view);
  * epipolar geometry: detections left over are grouped greedily, cheapest pair first, when
    every pair of members agrees (median symmetric epipolar distance of their joints, px)
    — complete linkage, at most one detection per view per hand.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from hand_pose_ros.fusion.camera import CameraArray

__all__ = ["essential_matrices", "epipolar_costs", "track_costs", "group_detections", "finite_medians"]

# Fewer shared joints than this give no reliable pair cost (inf).
_MIN_COMMON_JOINTS = 5


def essential_matrices(cams: CameraArray) -> np.ndarray:
    """(V, V, 3, 3) E[j, i] with x_jᵀ E[j, i] x_i = 0 for normalized points of one 3D point."""
    R, t = cams.camera_T_world[:, :3, :3], cams.camera_T_world[:, :3, 3]
    R_ji = R[:, None] @ R[None].transpose(0, 1, 3, 2)  # (V, V, 3, 3): R_j R_iᵀ
    t_ji = t[:, None] - (R_ji @ t[None, :, :, None])[..., 0]  # (V, V, 3)
    skew = np.zeros(t_ji.shape + (3,))
    skew[..., 0, 1], skew[..., 0, 2] = -t_ji[..., 2], t_ji[..., 1]
    skew[..., 1, 0], skew[..., 1, 2] = t_ji[..., 2], -t_ji[..., 0]
    skew[..., 2, 0], skew[..., 2, 1] = -t_ji[..., 1], t_ji[..., 0]
    return skew @ R_ji


def finite_medians(values: np.ndarray) -> np.ndarray:
    """(…, J) float with NaN → (…,) the median over the last axis of its finite entries (NaN for none).

    Equal to ``np.nanmedian(values, -1)`` bit for bit (the middle one, or the mean of the two
    middle ones, of the sorted finite values), at a fraction of its cost on small rows such as
    a hand's 21 joints: ``nanmedian`` goes through ``numpy.ma`` for them (≈ 40 µs a call).
    """
    return _medians_and_counts(values)[0]


def _medians_and_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(…, J) float with NaN → ``finite_medians`` and the count of finite entries, (…,) each."""
    count = np.isfinite(values).sum(-1)  # (…,)
    ordered = np.sort(values, axis=-1).reshape(-1, values.shape[-1])  # (M, J), NaN last
    flat = count.reshape(-1)  # (M,)
    # Plain fancy indexing picks the elements np.take_along_axis would, without its index building.
    rows = np.arange(flat.size)
    low, high = ordered[rows, np.maximum(flat - 1, 0) // 2], ordered[rows, flat // 2]  # (M,) each
    return np.where(flat > 0, (low + high) / 2, np.nan).reshape(count.shape), count


def _masked_median(values: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (and ±inf); inf where fewer than ``_MIN_COMMON_JOINTS`` values."""
    medians, count = _medians_and_counts(values)
    return np.where(count >= _MIN_COMMON_JOINTS, medians, np.inf)


def epipolar_costs(view: np.ndarray, xy: np.ndarray, cams: CameraArray, essential: np.ndarray) -> np.ndarray:
    """(D,) views + (D, 21, 2) normalized → (D, D) px, median symmetric epipolar distance; inf in one view."""
    xh = np.concatenate([xy, np.ones_like(xy[..., :1])], -1)  # (D, 21, 3)
    E = essential[view[None, :], view[:, None]]  # (D, D, 3, 3): E[a, b] maps x_a to a line in b's view
    lines_b = xh[:, None] @ E.transpose(0, 1, 3, 2)  # (D, D, 21, 3): E[a, b] x_a
    lines_a = xh[None] @ E  # (D, D, 21, 3): E[a, b]ᵀ x_b
    num = np.abs((lines_b * xh[None]).sum(-1))  # (D, D, 21)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist_b = num / np.hypot(lines_b[..., 0], lines_b[..., 1]) * cams.focal[view][None, :, None]
        dist_a = num / np.hypot(lines_a[..., 0], lines_a[..., 1]) * cams.focal[view][:, None, None]
    cost = _masked_median(0.5 * (dist_a + dist_b))
    cost[view[:, None] == view[None, :]] = np.inf
    return cost


def track_costs(view: np.ndarray, xy: np.ndarray, predicted: np.ndarray, cams: CameraArray) -> np.ndarray:
    """(D,) view of each detection (indices into ``cams``), (D, 21, 2) normalized, (K, 21, 3) predicted world
    joints → (K, D) px median distance."""
    if predicted.shape[0] == 0 or view.size == 0:
        return np.full((predicted.shape[0], view.size), np.inf)
    cam = cams.to_every_camera(predicted)[:, :, view].transpose(0, 2, 1, 3)  # (K, D, 21, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(cam[..., 2] > 0, cam[..., 2], np.nan)
        dx, dy = cam[..., 0] / z - xy[..., 0], cam[..., 1] / z - xy[..., 1]  # (K, D, 21) each
        dist = np.sqrt(dx * dx + dy * dy) * cams.focal[view][None, :, None]
    return _masked_median(dist)


def group_detections(view: np.ndarray, pair_cost: Callable[[], np.ndarray], track_cost: np.ndarray,
                     threshold_px: float) -> tuple[list[list[int]], list[int]]:
    """Group detections into hands; returns (groups of detection indices, track index or -1 per group).

    Args:
        view: (D,) view of each detection.
        pair_cost: returns the (D, D) px costs of ``epipolar_costs``; called only when some
            detection continues no track.
        track_cost: (K, D) px from ``track_costs``.
    """
    D, K = view.size, track_cost.shape[0]
    groups: list[list[int]] = [[] for _ in range(K)]
    assigned = np.zeros(D, bool)
    if K:
        finite_cost = np.where(np.isfinite(track_cost), track_cost, 1e9)  # (K, D)
        per_view: dict[int, list[int]] = {}  # view → its detections (a few; Python beats numpy here)
        for d, v in enumerate(view.tolist()):
            per_view.setdefault(v, []).append(d)
        for _, dets in sorted(per_view.items()):
            rows, cols = linear_sum_assignment(finite_cost[:, dets])
            for k, d in zip(rows.tolist(), [dets[c] for c in cols.tolist()]):
                if track_cost[k, d] < threshold_px:
                    groups[k].append(d)
                    assigned[d] = True
    sources = list(range(K))
    groups, sources = [g for g in groups if g], [s for g, s in zip(groups, sources) if g]
    if assigned.all():
        return groups, sources
    pair_cost = pair_cost()
    # Each leftover detection starts alone; merge cheapest pairs first (complete linkage).
    for d in np.flatnonzero(~assigned):
        groups.append([int(d)])
        sources.append(-1)
    label = np.empty(D, int)
    for gi, g in enumerate(groups):
        label[g] = gi
    a_idx, b_idx = np.nonzero(np.triu(pair_cost < threshold_px, 1))
    for a, b in sorted(zip(a_idx, b_idx), key=lambda ab: pair_cost[ab[0], ab[1]]):
        ga, gb = label[a], label[b]
        if ga == gb or (sources[ga] >= 0 and sources[gb] >= 0):
            continue  # already together, or two tracks: tracks never merge here
        members_a, members_b = groups[ga], groups[gb]
        if set(view[members_a]) & set(view[members_b]):
            continue  # one detection per view per hand
        if pair_cost[np.ix_(members_a, members_b)].max() >= threshold_px:
            continue
        keep, drop = (ga, gb) if sources[gb] < 0 else (gb, ga)
        groups[keep] = groups[keep] + groups[drop]
        label[groups[drop]] = keep
        groups[drop] = []
    out = [(g, s) for g, s in zip(groups, sources) if g]
    return [g for g, _ in out], [s for _, s in out]
