"""Test helpers shared across subpackages: fused hands from known or random keypoints, random
poses, a view whose hands are too small for the palm detector.

Importable from any test as ``hand_helpers``: pytest puts ``test/`` on the path because
``test/conftest.py`` lives there.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.types import Hand3D, KeypointSource


def make_hand(track_id: int, handedness: Handedness, keypoints: np.ndarray) -> Hand3D:
    """A fused hand with the given (21, 3) keypoints; NaN rows get confidence 0."""
    valid = np.isfinite(keypoints).all(-1)
    return Hand3D(
        track_id=track_id,
        handedness=handedness,
        handedness_score=1.0,
        presence=1.0,
        keypoints_3d=keypoints,
        keypoint_confidence=valid.astype(np.float32),
        num_views=np.where(valid, 3, 0),
        reprojection_error_px=np.where(valid, 1.0, np.nan),
        keypoint_source=valid.astype(np.uint8),
    )


def random_similarity(rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """(4, 4) world_T_wrist: random rotation, a wrist within 0.5 m of the origin, ``scale``."""
    T = np.eye(4)
    T[:3, :3] = scale * Rotation.random(random_state=rng).as_matrix()
    T[:3, 3] = rng.uniform(-0.5, 0.5, 3)
    return T


def random_hand(track_id: int, handedness: Handedness, missing=()) -> Hand3D:
    """A fused hand at random keypoints within 0.2 m of the origin (seeded by ``track_id``),
    the ``missing`` keypoints NaN; confidence 0.8, 3 views, 1.5 px, age 7."""
    rng = np.random.default_rng(track_id)
    points = rng.uniform(-0.2, 0.2, (NUM_KEYPOINTS, 3))
    points[list(missing)] = np.nan
    source = np.full(NUM_KEYPOINTS, KeypointSource.TRIANGULATED, np.uint8)
    source[list(missing)] = KeypointSource.MISSING
    return Hand3D(
        track_id=track_id, handedness=handedness, handedness_score=0.9, presence=0.95,
        keypoints_3d=points, keypoint_confidence=np.full(NUM_KEYPOINTS, 0.8, np.float32),
        num_views=np.full(NUM_KEYPOINTS, 3), reprojection_error_px=np.full(NUM_KEYPOINTS, 1.5, np.float32),
        keypoint_source=source, age=7,
    )


def paste_into_canvas(image: np.ndarray, camera: CameraCalibration, factor: int) -> tuple[np.ndarray, CameraCalibration]:
    """``image`` (H, W, 3) uint8 centred in a grey canvas ``factor`` times its size, and
    ``camera`` with that size and its principal point moved with the image: the same rays,
    but the hands shrink in the whole frame the palm detector sees (letterboxed to 192 px)."""
    height, width = image.shape[:2]
    canvas = np.full((height * factor, width * factor, 3), 127, np.uint8)
    top, left = (height * (factor - 1)) // 2, (width * (factor - 1)) // 2
    canvas[top:top + height, left:left + width] = image
    K = camera.camera_matrix.copy()
    K[0, 2] += left
    K[1, 2] += top
    return canvas, dataclasses.replace(camera, width=canvas.shape[1], height=canvas.shape[0], camera_matrix=K)
