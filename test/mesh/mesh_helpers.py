"""Helpers for the mesh tests: fused hands made from known keypoints, random poses."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.types import Hand3D


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
