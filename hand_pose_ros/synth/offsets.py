"""Measure where MediaPipe puts its keypoints on our hand mesh, in each WebXR joint's frame.

Renders one hand in random poses from a ring of cameras, runs the project's detector
(MediaPipe's real palm and landmark networks), triangulates its keypoints over the views
that found the hand, and expresses "triangulated − WebXR joint" in the carrying joint's
local frame. The per-keypoint median over frames is the offset table
``hand_pose_ros.handmodel.MEDIAPIPE_OFFSETS_M`` (docs/dataset.md).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from hand_pose_ros.handmodel import KEYPOINT_JOINT, HandModel, named_pose, random_pose
from hand_pose_ros.keypoints import NUM_KEYPOINTS
from hand_pose_ros.synth.appearance import make_background, sample_appearance
from hand_pose_ros.synth.groundtruth import project_points
from hand_pose_ros.synth.motion import make_motion
from hand_pose_ros.synth.renderer import HandRenderer, PosedHand, sample_lighting
from hand_pose_ros.synth.rig import WORKSPACE_CENTRE, make_rig

__all__ = ["OffsetMeasurement", "measure_offsets"]

LOG = logging.getLogger(__name__)

# A detection whose median distance to the projected joints exceeds this is another hand
# or a failure, not a keypoint-definition offset (offsets are < 20 mm ≈ 30 px here).
_MAX_MEDIAN_RESIDUAL_PX = 30.0
_MIN_VIEWS = 3  # triangulate from at least this many views
# Poses are the open hand moved 30 % of the way to a random pose: strongly curled or
# unnaturally uncoupled fingers make MediaPipe guess (errors of 20+ mm that are not a
# keypoint-definition offset), near-open hands show where it puts each joint.
_RANDOM_SHARE = 0.3


@dataclasses.dataclass(frozen=True)
class OffsetMeasurement:
    """samples: (N, 21, 3) metres, MediaPipe − WebXR in the joint frame per measured frame;
    residual_px: (M, 21) detected − projected pixel distances to the offset-free WebXR joints;
    residual_offset_px: (M, 21) the same to the keypoints with the current offset table;
    views_found / views_total: detection rate on these renders."""

    samples: np.ndarray
    residual_px: np.ndarray
    residual_offset_px: np.ndarray
    views_found: int
    views_total: int

    @property
    def median(self) -> np.ndarray:
        """(21, 3) metres: the per-keypoint median offset."""
        return np.nanmedian(self.samples, axis=0)


def measure_offsets(*, handedness: str, frames: int, cameras: int, seed: int, detector) -> OffsetMeasurement:
    """Render ``frames`` random poses of one hand into ``cameras`` views and measure offsets.

    Args:
        detector: a ``hand_pose_ros.detection.HandDetector`` (tracking off: frames are unrelated).
    """
    from hand_pose_ros.fusion.camera import CameraArray
    from hand_pose_ros.fusion.triangulation import weighted_dlt

    rng = np.random.default_rng(seed)
    model = HandModel.load(handedness)
    rig = make_rig(num_cameras=cameras, rng=rng)
    cams = CameraArray.from_rig(rig)
    # Orientations and positions from the motion generator; poses drawn independently.
    track = make_motion(models=[model], num_frames=frames, fps=1.0, rng=rng, centre=WORKSPACE_CENTRE)[0]
    backgrounds = [make_background(rig[0].width, rig[0].height, rng) for _ in rig.cameras]
    samples, residual, residual_offset = [], [], []
    found = 0
    with HandRenderer(rig=rig, backgrounds=backgrounds, lighting=sample_lighting(rng), rng=rng) as renderer:
        for t in range(frames):
            angles = (1 - _RANDOM_SHARE) * named_pose("open") + _RANDOM_SHARE * random_pose(rng)
            posed = model(angles, track.roots[t])
            joints = posed.transforms[list(KEYPOINT_JOINT)]  # (21, 4, 4) carrying joints
            views = renderer.render([PosedHand(posed.vertices, model.faces, track.roots[t], sample_appearance(rng))])
            detections = detector.detect([v.image for v in views])
            xy = np.full((cameras, NUM_KEYPOINTS, 2), np.nan)
            for v, (camera, found_in_view) in enumerate(zip(rig.cameras, detections)):
                webxr_px, _ = project_points(camera, joints[:, :3, 3])
                keypoint_px, _ = project_points(camera, posed.keypoints)
                best = min(found_in_view, key=lambda d: np.median(np.linalg.norm(d.keypoints_2d - webxr_px, axis=1)), default=None)
                if best is None or np.median(np.linalg.norm(best.keypoints_2d - webxr_px, axis=1)) > _MAX_MEDIAN_RESIDUAL_PX:
                    continue
                found += 1
                residual.append(np.linalg.norm(best.keypoints_2d - webxr_px, axis=1))
                residual_offset.append(np.linalg.norm(best.keypoints_2d - keypoint_px, axis=1))
                K = camera.camera_matrix
                xy[v] = (best.keypoints_2d - K[:2, 2]) / [K[0, 0], K[1, 1]]  # normalised (no distortion here)
            if np.sum(~np.isnan(xy[:, 0, 0])) < _MIN_VIEWS:
                continue
            points = weighted_dlt(xy, np.ones(xy.shape[:2]), cams)  # (21, 3) world
            delta = points - joints[:, :3, 3]
            samples.append(np.einsum("kji,kj->ki", joints[:, :3, :3], delta))  # Rᵀ (p − joint)
    LOG.info("offsets: %d/%d views found the hand, %d frames triangulated", found, frames * cameras, len(samples))
    return OffsetMeasurement(
        samples=np.asarray(samples).reshape(-1, NUM_KEYPOINTS, 3),
        residual_px=np.asarray(residual).reshape(-1, NUM_KEYPOINTS),
        residual_offset_px=np.asarray(residual_offset).reshape(-1, NUM_KEYPOINTS),
        views_found=found,
        views_total=frames * cameras,
    )
