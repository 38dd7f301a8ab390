"""Keypoint definitions: MediaPipe's 21 keypoints (the default output) and MANO's 21 joints.

MediaPipe's keypoints are where its landmark network puts them (skin-surface landmarks,
trained on its own annotations); MANO's joints are the rotation centres of the MANO model,
the definition of DexYCB, HO3D, InterHand2.6M and FreiHAND ground truth. Both use the same
index order (``HandKeypoint``), but they sit in different places: on DexYCB the MediaPipe
wrist is ≈ 10 mm towards the fingers and its middle MCP ≈ 13 mm towards the wrist.

``to_mano`` maps MediaPipe-definition hands to MANO joints by a fixed per-joint offset in the
hand's own frame (``fusion.wrist_pose``: x wrist → middle MCP, z out of the back of the hand,
y = z × x), ``MEDIAPIPE_TO_MANO_OFFSETS_M``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from hand_pose_ros.fusion.config import KEYPOINT_DEFINITIONS
from hand_pose_ros.fusion.pose import wrist_pose
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.types import Hand3D, check_shape

__all__ = ["KEYPOINT_DEFINITIONS", "MEDIAPIPE_TO_MANO_OFFSETS_M", "mediapipe_to_mano", "to_mano"]

# MANO joint − MediaPipe keypoint, metres, in the RIGHT hand's wrist frame (x toward the middle
# MCP, y = z × x toward the thumb side of a right hand, z out of the back of the hand), one row
# per HandKeypoint. Fitted by ``python -m hand_pose_ros.tools.datasets.fit_mano_offsets`` on the
# DexYCB mustard-bottle sequence only (subject 01, right hand, 8 cameras, 72 instants; the
# median over instants of the fused hand's error in its own frame); see docs/datasets.md.
# Other sequences, subjects and datasets were not used, so it is a per-joint mean shape
# difference of one hand, not a fit of individual frames.
MEDIAPIPE_TO_MANO_OFFSETS_M = np.array([
    [-0.0033, +0.0043, +0.0013],  # WRIST (72 instants)
    [+0.0016, +0.0080, +0.0067],  # THUMB_CMC (72 instants)
    [-0.0051, +0.0018, +0.0015],  # THUMB_MCP (72 instants)
    [-0.0026, +0.0093, +0.0060],  # THUMB_IP (72 instants)
    [+0.0020, +0.0040, -0.0047],  # THUMB_TIP (72 instants)
    [+0.0052, +0.0046, -0.0037],  # INDEX_FINGER_MCP (72 instants)
    [+0.0022, +0.0048, +0.0033],  # INDEX_FINGER_PIP (72 instants)
    [-0.0004, +0.0032, +0.0009],  # INDEX_FINGER_DIP (72 instants)
    [+0.0021, +0.0078, +0.0009],  # INDEX_FINGER_TIP (72 instants)
    [+0.0134, +0.0034, -0.0050],  # MIDDLE_FINGER_MCP (72 instants)
    [+0.0079, +0.0022, +0.0001],  # MIDDLE_FINGER_PIP (72 instants)
    [+0.0032, +0.0032, +0.0039],  # MIDDLE_FINGER_DIP (72 instants)
    [+0.0034, +0.0048, +0.0001],  # MIDDLE_FINGER_TIP (72 instants)
    [+0.0062, -0.0030, -0.0084],  # RING_FINGER_MCP (72 instants)
    [+0.0011, +0.0022, -0.0002],  # RING_FINGER_PIP (72 instants)
    [-0.0015, +0.0019, -0.0004],  # RING_FINGER_DIP (72 instants)
    [+0.0018, +0.0028, -0.0034],  # RING_FINGER_TIP (72 instants)
    [-0.0005, -0.0035, -0.0112],  # PINKY_MCP (72 instants)
    [-0.0072, -0.0021, -0.0038],  # PINKY_PIP (72 instants)
    [-0.0073, -0.0018, -0.0025],  # PINKY_DIP (72 instants)
    [-0.0031, -0.0019, -0.0026],  # PINKY_TIP (72 instants)
])


def mediapipe_to_mano(keypoints_3d: np.ndarray, handedness: Handedness | int,
                      offsets: np.ndarray = MEDIAPIPE_TO_MANO_OFFSETS_M) -> np.ndarray:
    """(21, 3) metres, MediaPipe definition → (21, 3) metres, MANO joints (same frame).

    The offsets are rotated by the hand's wrist frame; a left hand takes the right hand's
    offsets mirrored across its palm's x–z plane (y negated). Without a wrist frame (palm
    keypoints missing) every joint is NaN: an unmapped keypoint is not a MANO joint.
    """
    points = check_shape("keypoints_3d", keypoints_3d, (NUM_KEYPOINTS, 3), "mediapipe_to_mano").astype(np.float64)
    offsets = check_shape("offsets", offsets, (NUM_KEYPOINTS, 3), "mediapipe_to_mano")
    frame = wrist_pose(points, handedness)  # (4, 4) world_T_wrist, NaN when undefined
    if Handedness(handedness) == Handedness.LEFT:
        offsets = offsets * np.array([1.0, -1.0, 1.0])
    return points + offsets @ frame[:3, :3].T


def to_mano(hands: Sequence[Hand3D]) -> list[Hand3D]:
    """Fused hands, MediaPipe definition → copies with ``keypoints_3d`` as MANO joints.

    Confidence, sources and errors are kept; a hand without a wrist frame gets NaN keypoints
    with confidence 0 and source MISSING.
    """
    out = []
    for hand in hands:
        points = mediapipe_to_mano(hand.keypoints_3d, hand.handedness)
        missing = np.isnan(points).any(-1)
        out.append(dataclasses.replace(
            hand, keypoints_3d=points,
            keypoint_confidence=np.where(missing, 0.0, hand.keypoint_confidence),
            keypoint_source=np.where(missing, 0, hand.keypoint_source)))
    return out
