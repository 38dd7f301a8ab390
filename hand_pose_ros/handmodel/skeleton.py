"""The WebXR 25-joint hand skeleton, its tree, and how it maps onto MediaPipe's 21 keypoints.

Joint frames follow the WebXR hand meshes: local −Z runs along the bone towards the
fingertip, +Y points out of the back of the hand, X completes a right-handed frame.
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.keypoints import NUM_KEYPOINTS, HandKeypoint

__all__ = [
    "WEBXR_JOINTS",
    "NUM_JOINTS",
    "JOINT_INDEX",
    "JOINT_PARENT",
    "KEYPOINT_JOINT",
    "MEDIAPIPE_OFFSETS_M",
]

_FINGER_JOINTS = ("metacarpal", "phalanx-proximal", "phalanx-intermediate", "phalanx-distal", "tip")
_THUMB_JOINTS = ("metacarpal", "phalanx-proximal", "phalanx-distal", "tip")

# WebXR Hand Input order (the order of right.glb; left.glb lists them reversed).
WEBXR_JOINTS: tuple[str, ...] = (
    ("wrist",)
    + tuple(f"thumb-{j}" for j in _THUMB_JOINTS)
    + tuple(f"{f}-finger-{j}" for f in ("index", "middle", "ring", "pinky") for j in _FINGER_JOINTS)
)
NUM_JOINTS = len(WEBXR_JOINTS)  # 25
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(WEBXR_JOINTS)}


def _parent(name: str) -> int:
    if name == "wrist":
        return -1
    if name.endswith("metacarpal"):
        return JOINT_INDEX["wrist"]
    return JOINT_INDEX[name] - 1  # chains are listed from the wrist outwards


# Parent joint of each WebXR joint (-1 for the wrist, the root).
JOINT_PARENT: tuple[int, ...] = tuple(_parent(n) for n in WEBXR_JOINTS)

# The WebXR joint that carries each MediaPipe keypoint. The finger metacarpal joints
# (bases of the metacarpal bones, inside the palm) have no MediaPipe counterpart.
KEYPOINT_JOINT: tuple[int, ...] = tuple(
    JOINT_INDEX[name]
    for name in (
        "wrist",
        "thumb-metacarpal", "thumb-phalanx-proximal", "thumb-phalanx-distal", "thumb-tip",
        "index-finger-phalanx-proximal", "index-finger-phalanx-intermediate",
        "index-finger-phalanx-distal", "index-finger-tip",
        "middle-finger-phalanx-proximal", "middle-finger-phalanx-intermediate",
        "middle-finger-phalanx-distal", "middle-finger-tip",
        "ring-finger-phalanx-proximal", "ring-finger-phalanx-intermediate",
        "ring-finger-phalanx-distal", "ring-finger-tip",
        "pinky-finger-phalanx-proximal", "pinky-finger-phalanx-intermediate",
        "pinky-finger-phalanx-distal", "pinky-finger-tip",
    )
)


# MediaPipe keypoint − WebXR joint in the carrying joint's frame, millimetres, as
# (towards the back of the hand +Y, along the bone towards the wrist +Z). Medians measured
# by ``hand_pose_ros.synth.offsets.measure_offsets`` (30 near-open poses per hand, 6 views,
# MediaPipe's full palm + landmark networks, DLT; docs/dataset.md). The lateral component is
# below 1 mm for all but the thumb, whose spread is larger than it, and is left at 0 (its sign
# would flip between the mirrored hands). MediaPipe puts its wrist inside the carpus rather
# than at the forearm end and its MCPs at the knuckle heads, towards the fingers.
_OFFSETS_MM: dict[HandKeypoint, tuple[float, float]] = {
    HandKeypoint.WRIST: (-6.0, -23.0),
    HandKeypoint.THUMB_CMC: (-4.0, -8.5),
    HandKeypoint.THUMB_MCP: (-3.0, -4.5),
    # Thumb IP and tip: their 3D medians (−9 / −11 mm towards the palm) scatter by ±8 mm and
    # moved the projections away from MediaPipe's (7.6 → 10.7 px, 4.4 → 11.1 px on a re-check),
    # so they stay at the joint.
    HandKeypoint.THUMB_IP: (0.0, 0.0),
    HandKeypoint.THUMB_TIP: (0.0, 0.0),
    HandKeypoint.INDEX_FINGER_MCP: (-1.5, -8.0),
    HandKeypoint.INDEX_FINGER_PIP: (-1.5, 1.0),
    HandKeypoint.INDEX_FINGER_DIP: (-0.5, 2.5),
    HandKeypoint.INDEX_FINGER_TIP: (-1.5, -3.0),
    HandKeypoint.MIDDLE_FINGER_MCP: (-5.5, -8.0),
    HandKeypoint.MIDDLE_FINGER_PIP: (-1.5, 1.0),
    HandKeypoint.MIDDLE_FINGER_DIP: (1.0, 3.5),
    HandKeypoint.MIDDLE_FINGER_TIP: (0.5, -4.0),
    HandKeypoint.RING_FINGER_MCP: (-2.0, -9.5),
    HandKeypoint.RING_FINGER_PIP: (-1.0, -1.0),
    HandKeypoint.RING_FINGER_DIP: (-2.0, 2.5),
    HandKeypoint.RING_FINGER_TIP: (-2.0, -2.5),
    HandKeypoint.PINKY_MCP: (0.0, -13.0),
    HandKeypoint.PINKY_PIP: (1.5, -4.0),
    HandKeypoint.PINKY_DIP: (2.0, -1.0),
    HandKeypoint.PINKY_TIP: (2.5, -3.5),
}


def _offsets() -> np.ndarray:
    """(21, 3) float64 metres: MediaPipe keypoint − WebXR joint, in the WebXR joint's frame."""
    table = np.zeros((NUM_KEYPOINTS, 3))
    for keypoint, (y_mm, z_mm) in _OFFSETS_MM.items():
        table[keypoint] = [0.0, y_mm * 1e-3, z_mm * 1e-3]
    return table


# Per-keypoint offset MediaPipe − WebXR in the carrying joint's local frame, metres.
MEDIAPIPE_OFFSETS_M: np.ndarray = _offsets()
MEDIAPIPE_OFFSETS_M.setflags(write=False)
