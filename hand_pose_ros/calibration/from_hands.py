"""Refine a rig's extrinsics (and optionally focal lengths) from hands that several cameras see.

The hands are fused with the input calibration (``MultiViewFusion``, no temporal filter), each
fused hand is matched to the detections of every view (``monitor.match_views``), and a robust
bundle adjustment (``bundle.bundle_adjust``) moves the cameras and the hands' 3D joints to fit
the detected keypoints.

Gauge (what hands cannot tell): the world frame and the scale. During the adjustment the
reference camera is fixed and its distance to the farthest camera is kept; afterwards the
refined rig is mapped onto the input rig by the similarity that fits the cameras the
refinement did not move (``gauge.align_rig_poses``: robust, a camera that moved far is left
out). So a rig with one moved camera keeps the others exactly and brings that one back; a rig
whose cameras are all disturbed keeps the input's mean pose and mean scale.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from hand_pose_ros.calibration.bundle import BundleConfig, bundle_adjust
from hand_pose_ros.calibration.gauge import align_rig_poses, pose_difference
from hand_pose_ros.calibration.monitor import match_views
from hand_pose_ros.calibration.rig import Rig
from hand_pose_ros.checks import check_number
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.types import HandDetection2D

logger = logging.getLogger(__name__)

# Outlier observations (``_inliers``): this many times the typical residual, never below the floor.
_OUTLIER_FACTOR = 3.0
_OUTLIER_FLOOR_PX = 5.0

__all__ = ["HandRefinementConfig", "HandRefinementResult", "RefinementRefused", "refine_from_hands"]


class RefinementRefused(ValueError):
    """The hands seen give too little geometry to refine the calibration (the message says why)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class HandRefinementConfig:
    """Settings of ``refine_from_hands``.

    Attributes:
        refine_focal: also refine each camera's focal length (fx, fy scaled together).
        loss, loss_scale_px: robust loss of the adjustment; hand keypoints are noisy (MediaPipe
            ≈ 3–6 px), so the loss flattens from 3 px on.
        match_gate_px: a view's detection belongs to a fused hand when their joints' median
            distance is below this (wide enough for a camera moved by a few degrees).
        min_score: keypoints scoring below this are not observations.
        min_frames: frames with a hand seen by at least two cameras needed.
        min_joints_per_camera: joints a camera sees that another camera sees too.
        min_spread_m: the joints a camera sees must spread at least this much (1σ) along
            their second principal axis: hands kept in one small spot (or moving along a line)
            cannot separate a camera's rotation from its translation.
        reference_camera: the camera held fixed during the adjustment (default the first).
        prior_rotation_deg, prior_translation_m: 1σ of a robust prior holding each camera near
            its input pose (``bundle_adjust(pose_prior=…)``); hands in a small workspace leave a
            camera's slide along its optical axis nearly free, and MediaPipe's view-dependent
            keypoint biases would push it there. 0 switches the prior off.
        max_evaluations: cap on residual evaluations of each adjustment.
    """

    refine_focal: bool = False
    loss: str = "soft_l1"
    loss_scale_px: float = 3.0
    match_gate_px: float = 80.0
    min_score: float = 0.5
    min_frames: int = 10
    min_joints_per_camera: int = 100
    min_spread_m: float = 0.03
    reference_camera: str | None = None
    prior_rotation_deg: float = 1.0
    prior_translation_m: float = 0.02
    max_evaluations: int = 100

    def __post_init__(self) -> None:
        BundleConfig(loss=self.loss, loss_scale_px=self.loss_scale_px)  # validates both
        name = "HandRefinementConfig"
        check_number(f"{name}.match_gate_px", self.match_gate_px, low=0.0, low_open=True)
        check_number(f"{name}.min_score", self.min_score, low=0.0, high=1.0)
        check_number(f"{name}.min_spread_m", self.min_spread_m, low=0.0)
        for field in ("min_frames", "min_joints_per_camera", "max_evaluations"):
            check_number(f"{name}.{field}", getattr(self, field), integer=True, low=1)


@dataclasses.dataclass(frozen=True, eq=False)
class HandRefinementResult:
    """The refined rig and, per camera in rig order: rotation_deg / translation_mm (V,) change of
    each camera's pose; rms_before_px / rms_after_px (V,) RMS reprojection error of the
    observations with the input calibration (joints re-fitted) and after; joints (V,)
    observations used; gauge_cameras (V,) bool, cameras that fixed the world frame and scale;
    frames: frames that contributed; focal_change (V,) relative (0 unless refine_focal);
    not_refined: camera → why it was kept as given (too few joints, or too little spread)."""

    rig: Rig
    rotation_deg: np.ndarray
    translation_mm: np.ndarray
    rms_before_px: np.ndarray
    rms_after_px: np.ndarray
    joints: np.ndarray
    gauge_cameras: np.ndarray
    frames: int
    focal_change: np.ndarray
    not_refined: dict[str, str]


def _observations(rig: Rig, frames: Sequence[tuple[float, Sequence[Sequence[HandDetection2D]]]],
                  config: HandRefinementConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Fuse, match, collect: → camera (M,), point (M,), pixels (M, 2), detection (M,) (a running
    number per matched view detection), points (P, 3) m, frames used."""
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion

    cameras = CameraArray.from_rig(rig)
    fusion = MultiViewFusion(rig, FusionConfig(filter="none", monocular=False))
    cam_idx, pt_idx, pix, det_idx, points = [], [], [], [], []
    used_frames = 0
    for stamp, views in frames:
        hands = [h for h in fusion.process(views, stamp) if not h.monocular]
        if not hands:
            continue
        xyz = np.stack([h.keypoints_3d for h in hands])  # (H, 21, 3)
        matches = match_views(cameras, xyz, views, config.match_gate_px, config.min_score)
        seen = np.zeros(xyz.shape[:2] + (len(rig),), bool)  # (H, 21, V)
        base = max(det_idx, default=-1) + 1
        numbers: dict[tuple[int, int], int] = {}
        keypoints: dict[tuple[int, int], np.ndarray] = {}
        for v, view in enumerate(matches):
            for h, d, _ in view:
                det = views[v][d]
                ok = np.isfinite(det.keypoints_2d).all(-1) & (det.keypoint_scores >= config.min_score)
                seen[h, ok, v] = True
                keypoints[(v, h)] = det.keypoints_2d.astype(np.float64)
                numbers[(v, h)] = len(numbers) + base
        shared = (seen.sum(-1) >= 2) & np.isfinite(xyz).all(-1)  # (H, 21)
        if not shared.any():
            continue
        used_frames += 1
        for h, j in zip(*np.nonzero(shared)):
            for v in np.flatnonzero(seen[h, j]):
                cam_idx.append(v)
                pt_idx.append(len(points))
                pix.append(keypoints[(int(v), int(h))][j])
                det_idx.append(numbers[(int(v), int(h))])
            points.append(xyz[h, j])
    if not points:
        return np.zeros(0, int), np.zeros(0, int), np.zeros((0, 2)), np.zeros(0, int), np.zeros((0, 3)), 0
    return np.array(cam_idx), np.array(pt_idx), np.array(pix), np.array(det_idx), np.array(points), used_frames


def _inliers(residuals_px: np.ndarray, cam_idx: np.ndarray, det_idx: np.ndarray) -> np.ndarray:
    """(M, 2) residuals with the input calibration → (M,) bool observations kept.

    A whole detection is dropped when its median residual exceeds ``_OUTLIER_FACTOR`` × the
    median of its camera's detections (a false or badly occluded hand in a good camera; a moved
    camera's detections are all off together and stay); a joint is dropped when its residual
    exceeds ``_OUTLIER_FACTOR`` × its detection's median. Neither drops below ``_OUTLIER_FLOOR_PX``.
    """
    norm = np.linalg.norm(residuals_px, axis=1)
    det_median = np.zeros(det_idx.max() + 1)
    for d in np.unique(det_idx):
        det_median[d] = np.median(norm[det_idx == d])
    per_obs = det_median[det_idx]
    keep = norm <= np.maximum(_OUTLIER_FACTOR * per_obs, _OUTLIER_FLOOR_PX)
    for v in np.unique(cam_idx):
        mine = cam_idx == v
        camera_median = np.median(det_median[np.unique(det_idx[mine])])
        keep[mine] &= per_obs[mine] <= max(_OUTLIER_FACTOR * camera_median, _OUTLIER_FLOOR_PX)
    return keep


def _check_geometry(rig: Rig, cam_idx: np.ndarray, pt_idx: np.ndarray, points: np.ndarray, frames: int,
                    config: HandRefinementConfig) -> tuple[np.ndarray, list[str]]:
    """→ ((V,) joints per camera, one reason per camera that cannot be refined ("" if it can)).

    Raises:
        RefinementRefused: too few frames, or fewer than two cameras can be refined (the reasons).
    """
    if frames < config.min_frames:
        raise RefinementRefused(
            f"only {frames} frames have a hand seen by two or more cameras ({config.min_frames} needed): record "
            "longer, with the hands where several cameras see them"
        )
    joints = np.bincount(cam_idx, minlength=len(rig))
    reasons = []
    for v, name in enumerate(rig.names):
        mine = points[pt_idx[cam_idx == v]]
        spread = np.linalg.svd(mine - mine.mean(0), compute_uv=False) / np.sqrt(len(mine)) if len(mine) > 2 else np.zeros(3)
        if joints[v] < config.min_joints_per_camera:
            reasons.append(
                f"camera {name} sees only {joints[v]} hand joints that another camera also sees "
                f"({config.min_joints_per_camera} needed): move the hands where {name} and the other cameras see them"
            )
        elif spread[1] < config.min_spread_m:
            reasons.append(
                f"the hand joints camera {name} sees span only {100 * spread[1]:.1f} cm across "
                f"({100 * config.min_spread_m:.0f} cm needed) — too little geometry to separate its rotation from "
                "its translation: move the hands around the workspace"
            )
        else:
            reasons.append("")
    if sum(not r for r in reasons) < 2:
        raise RefinementRefused("fewer than two cameras can be refined: " + "; ".join(r for r in reasons if r))
    return joints, reasons


def refine_from_hands(rig: Rig, frames: Sequence[tuple[float, Sequence[Sequence[HandDetection2D]]]],
                      config: HandRefinementConfig | None = None) -> HandRefinementResult:
    """Refined calibration of ``rig`` from frames of (stamp s, V lists of detections in rig order).

    Raises:
        RefinementRefused: fewer than two cameras, too few frames, or fewer than two cameras
            whose hands give enough geometry (the message says why). A camera that alone lacks
            them is kept as given and listed in ``not_refined``.
        ValueError: a frame whose number of views is not the rig's, an unknown reference camera.
    """
    config = config or HandRefinementConfig()
    if len(rig) < 2:
        raise RefinementRefused(f"refining from hands needs at least 2 cameras, the calibration has {len(rig)}")
    for i, (_, views) in enumerate(frames):
        if len(views) != len(rig):
            raise ValueError(f"refine_from_hands: frame {i} has {len(views)} views, the rig {len(rig)} cameras")
    reference = rig.names.index(config.reference_camera) if config.reference_camera else 0
    if config.reference_camera and config.reference_camera not in rig.names:
        raise ValueError(f"HandRefinementConfig.reference_camera: {config.reference_camera!r} is not in {rig.names}")
    cam_idx, pt_idx, pix, det_idx, points, used = _observations(rig, frames, config)
    cameras = CameraArray.from_rig(rig)
    V = len(rig)
    bundle = BundleConfig(loss=config.loss, loss_scale_px=config.loss_scale_px, max_evaluations=config.max_evaluations)
    if len(points):
        # The input calibration with the joints that fit it best, then outlier detections out.
        first = bundle_adjust(cameras, camera_index=cam_idx, point_index=pt_idx, pixels=pix,
                              fixed_cameras=np.ones(V, bool), points=points, config=bundle)
        keep = _inliers(first.residuals_px, cam_idx, det_idx)
        keep &= np.bincount(pt_idx[keep], minlength=len(points))[pt_idx] >= 2  # a point needs two views
        used_points, pt_idx = np.unique(pt_idx[keep], return_inverse=True)
        cam_idx, pix, points = cam_idx[keep], pix[keep], first.points[used_points]
    joints, reasons = _check_geometry(rig, cam_idx, pt_idx, points, used, config)
    refinable = np.array([not r for r in reasons])
    for reason in filter(None, reasons):
        logger.warning("not refined, kept as given: %s", reason)
    if not refinable[reference]:
        reference = int(np.flatnonzero(refinable)[0])
    common = dict(camera_index=cam_idx, point_index=pt_idx, pixels=pix)
    # Before: the input calibration, on the inliers.
    before = bundle_adjust(cameras, fixed_cameras=np.ones(V, bool), points=points, config=bundle, **common)
    centres = cameras.centers
    farthest = int(np.argmax(np.where(refinable, np.linalg.norm(centres - centres[reference], axis=1), -1.0)))
    fixed = ~refinable
    fixed[reference] = True
    prior = (np.radians(config.prior_rotation_deg), config.prior_translation_m) \
        if config.prior_rotation_deg > 0 and config.prior_translation_m > 0 else None
    after = bundle_adjust(
        cameras, fixed_cameras=fixed, points=before.points, scale_pair=(reference, farthest), pose_prior=prior,
        config=dataclasses.replace(bundle, intrinsics="focal" if config.refine_focal else "fixed"), **common)
    aligned = cameras.camera_T_world.copy()
    aligned[refinable], _, gauge_refinable = align_rig_poses(after.camera_T_world[refinable],
                                                             cameras.camera_T_world[refinable])
    gauge = np.zeros(V, bool)
    gauge[refinable] = gauge_refinable
    K = np.where(refinable[:, None, None], after.K, cameras.K)
    refined_cameras = []
    for v, camera in enumerate(rig.cameras):
        world_T_camera = np.linalg.inv(aligned[v])
        world_T_camera[3] = (0.0, 0.0, 0.0, 1.0)
        refined_cameras.append(dataclasses.replace(camera, camera_matrix=K[v], world_T_camera=world_T_camera))
    rotation, translation = pose_difference(aligned, cameras.camera_T_world)
    return HandRefinementResult(
        rig=Rig(cameras=tuple(refined_cameras), world_frame=rig.world_frame),
        rotation_deg=rotation,
        translation_mm=1e3 * translation,
        rms_before_px=before.camera_rms_px(cam_idx, V),
        rms_after_px=after.camera_rms_px(cam_idx, V),
        joints=joints,
        gauge_cameras=gauge,
        frames=used,
        focal_change=K[:, 0, 0] / cameras.K[:, 0, 0] - 1.0,
        not_refined={rig.names[v]: r for v, r in enumerate(reasons) if r},
    )
