"""One view: absolute hand pose from the detector's metric world landmarks and 2D keypoints (PnP).

The landmarks give the hand's metric shape in camera-aligned axes (x right, y down, z
forward, origin ≈ hand centre); the 2D keypoints fix where it is. A linear solve for the
translation (landmark axes taken as the camera's) starts an iterative PnP that also fits
the rotation; keypoints that disagree with the first solve are left out of the
second (detector outliers). Depth is the least certain part: its 1σ is the relative error of the
detector's metric hand size times the depth (the size/depth ambiguity of one view).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

__all__ = ["MonocularEstimate", "estimate_monocular"]

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

