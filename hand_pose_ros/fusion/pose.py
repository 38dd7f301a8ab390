"""The wrist (palm) frame of a 3D hand, as in msg/HandPose.msg ``wrist_pose``."""

from __future__ import annotations

import numpy as np

from hand_pose_ros.keypoints import HandKeypoint, Handedness, NUM_KEYPOINTS
from hand_pose_ros.types import check_shape

__all__ = ["wrist_pose", "wrist_poses"]

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
    points = check_shape("keypoints_3d", keypoints_3d, (NUM_KEYPOINTS, 3), "wrist_pose")
    return wrist_poses(points[None], np.array([int(Handedness(handedness))]))[0]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, 3) × (H, 3) → (H, 3), written out (np.cross spends ~20 µs a call on axis handling)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def wrist_poses(keypoints_3d: np.ndarray, handedness: np.ndarray) -> np.ndarray:
    """(H, 21, 3) metres, (H,) ``Handedness`` values → (H, 4, 4) world_T_wrist, as ``wrist_pose``."""
    points = check_shape("keypoints_3d", keypoints_3d, (None, NUM_KEYPOINTS, 3), "wrist_poses").astype(np.float64, copy=False)
    sides = check_shape("handedness", handedness, (points.shape[0],), "wrist_poses")
    wrist = points[:, HandKeypoint.WRIST]  # (H, 3)
    x = points[:, HandKeypoint.MIDDLE_FINGER_MCP] - wrist
    normal = _cross(points[:, HandKeypoint.INDEX_FINGER_MCP] - wrist, points[:, HandKeypoint.PINKY_MCP] - wrist)
    normal *= np.where(sides == Handedness.LEFT, 1.0, -1.0)[:, None]
    x_len = np.sqrt((x * x).sum(axis=1))  # (H,)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = normal - x * ((normal * x).sum(axis=1) / x_len**2)[:, None]
        z_len = np.sqrt((z * z).sum(axis=1))
        x, z = x / x_len[:, None], z / z_len[:, None]
    # NaN compares false, so missing keypoints fail here too.
    ok = np.isfinite(x_len) & np.isfinite(z_len) & (x_len >= _MIN_VECTOR_M) & (z_len >= _MIN_VECTOR_M)
    out = np.empty((points.shape[0], 4, 4))
    out[:, :3, 0], out[:, :3, 1], out[:, :3, 2], out[:, :3, 3] = x, _cross(z, x), z, wrist
    out[:, 3] = [0.0, 0.0, 0.0, 1.0]
    out[~ok, :3] = np.nan
    return out
