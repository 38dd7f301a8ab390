"""Gauge of a refined rig: put it back in the input calibration's world frame and scale.

Images alone fix a rig only up to a similarity (rotation, translation, scale: 7 degrees of
freedom). ``align_rig_poses`` finds the similarity that maps the refined cameras onto the input
cameras robustly: cameras that the refinement moved far (the ones that were wrong) are left out
of the fit, so the cameras that were right keep their poses and the world frame does not drift
towards a moved one. Camera poses are (V, 4, 4) ``camera_T_world``.
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.types import check_shape

__all__ = ["align_rig_poses", "map_onto", "pose_difference", "camera_centres"]

# A camera is left out of the alignment when, fitted without it, its residual exceeds this many
# times the median residual of the others and the absolute floors below (what a good
# refinement leaves: ≈ 1 mm, 0.05°). Residuals are measured in units of these floors.
_OUTLIER_FACTOR = 3.0
_FLOOR_M = 0.003
_FLOOR_DEG = 0.2
# At least this many cameras (and more than half of them) always define the gauge.
_MIN_INLIERS = 2


def camera_centres(camera_T_world: np.ndarray) -> np.ndarray:
    """(V, 4, 4) → (V, 3) camera centres, world frame, metres."""
    R, t = camera_T_world[:, :3, :3], camera_T_world[:, :3, 3]
    return -np.einsum("vji,vj->vi", R, t)


def pose_difference(a_T_world: np.ndarray, b_T_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V, 4, 4) two poses of each camera → ((V,) rotation angle between them in degrees,
    (V,) distance between their centres in metres)."""
    R = a_T_world[:, :3, :3] @ b_T_world[:, :3, :3].transpose(0, 2, 1)
    cos = np.clip((np.trace(R, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    return np.degrees(np.arccos(cos)), np.linalg.norm(camera_centres(a_T_world) - camera_centres(b_T_world), axis=1)


def _fit(source: np.ndarray, target: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Similarity (R, s, t) with target_world = s R source_world + t from the cameras in ``use``.

    Rotation: chordal mean of the per-camera rotation differences; scale and translation: least
    squares on the camera centres (scale 1 with fewer than two cameras).
    """
    Rs, Rt = source[use, :3, :3], target[use, :3, :3]
    # camera_R_world: target Rt = Rs Aᵀ for the world rotation A, so A = Rtᵀ Rs per camera.
    U, _, Vt = np.linalg.svd((Rt.transpose(0, 2, 1) @ Rs).sum(0))
    A = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt)) or 1.0]) @ Vt
    cs, ct = camera_centres(source[use]) @ A.T, camera_centres(target[use])
    ms, mt = cs.mean(0), ct.mean(0)
    spread = ((cs - ms) ** 2).sum()
    s = float(((cs - ms) * (ct - mt)).sum() / spread) if use.sum() >= 2 and spread > 0 else 1.0
    return A, s, mt - s * ms


def _apply(camera_T_world: np.ndarray, A: np.ndarray, s: float, t: np.ndarray) -> np.ndarray:
    """Poses expressed in the new world (x' = s A x + t); projections are unchanged."""
    out = camera_T_world.copy()
    R, tc = camera_T_world[:, :3, :3], camera_T_world[:, :3, 3]
    out[:, :3, :3] = R @ A.T
    out[:, :3, 3] = s * tc - np.einsum("vij,j->vi", R @ A.T, t)
    return out


def _residual(refined: np.ndarray, reference: np.ndarray, use: np.ndarray) -> np.ndarray:
    """(V,) pose disagreement after fitting on ``use``, in units of the floors (max of angle, distance)."""
    angle, dist = pose_difference(_apply(refined, *_fit(refined, reference, use)), reference)
    return np.maximum(angle / _FLOOR_DEG, dist / _FLOOR_M)


def map_onto(camera_T_world: np.ndarray, reference: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, float]:
    """(V, 4, 4) poses, (V, 4, 4) reference poses, (V,) bool → (the poses in the reference's
    world frame and scale by the similarity fitted on the cameras in ``use`` (least squares, not
    robust), the scale applied). Projections are unchanged: only the gauge changes."""
    camera_T_world = check_shape("camera_T_world", camera_T_world, (None, 4, 4), "map_onto")
    reference = check_shape("reference", reference, camera_T_world.shape, "map_onto")
    A, s, t = _fit(camera_T_world, reference, np.asarray(use, bool))
    return _apply(camera_T_world, A, s, t), s


def align_rig_poses(refined: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(V, 4, 4) refined, (V, 4, 4) reference camera_T_world → (refined poses in the reference's
    world frame and scale (V, 4, 4), scale applied, (V,) bool cameras that defined the gauge).

    Cameras are dropped one at a time, worst first: fitted on the others, a camera whose
    disagreement is ``_OUTLIER_FACTOR`` × the others' median (and above the floors) moved.
    Only poses move; projections of correspondingly moved points are unchanged, so the
    refinement's reprojection errors stay valid.
    """
    refined = check_shape("refined", refined, (None, 4, 4), "align_rig_poses")
    reference = check_shape("reference", reference, (refined.shape[0], 4, 4), "align_rig_poses")
    V = refined.shape[0]
    use = np.ones(V, bool)
    while use.sum() > max(_MIN_INLIERS, V // 2 + 1):
        worst, worst_ratio = -1, _OUTLIER_FACTOR
        for v in np.flatnonzero(use):
            others = use.copy()
            others[v] = False
            r = _residual(refined, reference, others)
            ratio = r[v] / max(float(np.median(r[others])), 1.0)
            if ratio > worst_ratio:
                worst, worst_ratio = v, ratio
        if worst < 0:
            break
        use[worst] = False
    A, s, t = _fit(refined, reference, use)
    return _apply(refined, A, s, t), s, use
