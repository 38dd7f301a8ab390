"""The wrist (palm) frame of a 3D hand, as in msg/HandPose.msg ``wrist_pose``."""

from __future__ import annotations

import numpy as np

from hand_pose_ros.keypoints import HandKeypoint, Handedness, NUM_KEYPOINTS
from hand_pose_ros.types import check_shape

__all__ = ["wrist_pose"]

# Below this length (metres) a palm vector is degenerate (coincident keypoints).
_MIN_VECTOR_M = 1e-6


def wrist_pose(keypoints_3d: np.ndarray, handedness: Handedness | int) -> np.ndarray:
    """(21, 3) metres → (4, 4) world_T_wrist; NaN-filled when the palm keypoints are missing.

    Origin at the wrist keypoint; +x toward the middle-finger MCP; +z out of the back of the
    hand; y = z × x (right-handed for both hands). The back of the hand is found from the
    index and pinky MCPs: (index − wrist) × (pinky − wrist) points out of the palm of a right
    hand (seen palm-on with the fingers up, a right hand's thumb is on the viewer's right)
    and out of the back of a left one. An UNKNOWN hand is treated as right.
    """
    points = check_shape("keypoints_3d", keypoints_3d, (NUM_KEYPOINTS, 3), "wrist_pose").astype(np.float64)
    wrist = points[HandKeypoint.WRIST]
    x = points[HandKeypoint.MIDDLE_FINGER_MCP] - wrist
    normal = np.cross(points[HandKeypoint.INDEX_FINGER_MCP] - wrist, points[HandKeypoint.PINKY_MCP] - wrist)
    if Handedness(handedness) != Handedness.LEFT:
        normal = -normal
    out = np.full((4, 4), np.nan)
    out[3] = [0.0, 0.0, 0.0, 1.0]
    x_len = np.linalg.norm(x)
    z = normal - x * (normal @ x) / x_len**2 if x_len > _MIN_VECTOR_M else normal
    z_len = np.linalg.norm(z)
    if not (np.isfinite(x_len) and np.isfinite(z_len)) or x_len < _MIN_VECTOR_M or z_len < _MIN_VECTOR_M:
        return out
    x, z = x / x_len, z / z_len
    out[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    out[:3, 3] = wrist
    return out
