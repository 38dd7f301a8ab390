"""3D hand pose metrics as plain numpy functions (usable from a notebook).

Shapes: (N, J, 3) metres (N hands/frames, J joints, usually 21); NaN marks a missing joint.
Errors are returned in metres; missing joints are left out of means and count as misses in PCK.
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.keypoints import HandKeypoint
from hand_pose_ros.similarity import umeyama
from hand_pose_ros.types import check_shape

__all__ = [
    "joint_errors",
    "mpjpe",
    "procrustes_align",
    "pa_mpjpe",
    "root_relative_mpjpe",
    "pck_curve",
    "auc",
    "mpvpe",
    "pa_mpvpe",
    "PCK_THRESHOLDS_M",
]

# 3D PCK thresholds: 0–50 mm in 1 mm steps, the usual range for hands.
PCK_THRESHOLDS_M = np.linspace(0.0, 0.050, 51)


def _pair(pred: np.ndarray, gt: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    gt = np.asarray(gt, np.float64)
    pred = check_shape("pred", np.asarray(pred, np.float64), gt.shape[:-1] + (3,), where)
    check_shape("gt", gt, (None,) * (gt.ndim - 1) + (3,), where)
    return pred, gt


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(..., J, 3), (..., J, 3) metres → (..., J) Euclidean errors, metres; NaN where either is missing."""
    pred, gt = _pair(pred, gt, "joint_errors")
    return np.linalg.norm(pred - gt, axis=-1)


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error, metres, over joints present in both (NaN if none)."""
    errors = joint_errors(pred, gt)
    return float(np.nanmean(errors)) if np.any(~np.isnan(errors)) else float("nan")


def procrustes_align(pred: np.ndarray, gt: np.ndarray, *, scale: bool = True) -> np.ndarray:
    """(J, 3), (J, 3) → (J, 3): ``pred`` moved by the similarity (rotation, translation and,
    with ``scale``, uniform scale) that best fits it to ``gt`` in least squares (Umeyama 1991).
    Only joints present in both are used; missing ones stay NaN.
    """
    pred, gt = _pair(pred, gt, "procrustes_align")
    check_shape("pred", pred, (None, 3), "procrustes_align")
    transform = umeyama(pred, gt, scale=scale)
    if transform is None:
        return np.full_like(pred, np.nan)
    out = transform.apply(pred)
    out[np.isnan(gt).any(-1)] = np.nan
    return out


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray, *, scale: bool = True) -> float:
    """(N, J, 3) metres: MPJPE after Procrustes alignment of each hand (rotation, translation, scale)."""
    pred, gt = _pair(pred, gt, "pa_mpjpe")
    aligned = np.stack([procrustes_align(p, g, scale=scale) for p, g in zip(pred.reshape(-1, *pred.shape[-2:]), gt.reshape(-1, *gt.shape[-2:]))])
    return mpjpe(aligned, gt.reshape(aligned.shape))


def root_relative_mpjpe(pred: np.ndarray, gt: np.ndarray, root: int = HandKeypoint.WRIST) -> float:
    """(N, J, 3) metres: MPJPE after moving each hand so its ``root`` joint is at the origin."""
    pred, gt = _pair(pred, gt, "root_relative_mpjpe")
    return mpjpe(pred - pred[..., root : root + 1, :], gt - gt[..., root : root + 1, :])


def pck_curve(errors: np.ndarray, thresholds: np.ndarray = PCK_THRESHOLDS_M) -> np.ndarray:
    """(...) errors in metres (NaN = missed joint) → (K,) fraction of joints within each threshold."""
    flat = np.asarray(errors, np.float64).reshape(-1)
    if flat.size == 0:
        return np.full(len(thresholds), np.nan)
    within = np.where(np.isnan(flat), False, flat[None, :] <= np.asarray(thresholds)[:, None])  # (K, E)
    return within.mean(axis=1)


def auc(thresholds: np.ndarray, pck: np.ndarray) -> float:
    """Area under a PCK curve, normalised by the threshold range: 1.0 = every joint exact."""
    thresholds, pck = np.asarray(thresholds, np.float64), np.asarray(pck, np.float64)
    span = thresholds[-1] - thresholds[0]
    if span <= 0:
        raise ValueError(f"auc: thresholds must increase, got {thresholds[0]}..{thresholds[-1]}")
    return float(np.sum((pck[1:] + pck[:-1]) / 2 * np.diff(thresholds)) / span)


def mpvpe(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> float:
    """(..., V, 3), (..., V, 3) metres, same vertex order → mean per-vertex position error, metres."""
    return mpjpe(pred_vertices, gt_vertices)


def pa_mpvpe(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> float:
    """(N, V, 3), (N, V, 3) metres, same vertex order → MPVPE after Procrustes alignment of each
    mesh (rotation, translation, scale), metres: the mesh's shape error without its placement."""
    return pa_mpjpe(pred_vertices, gt_vertices)
