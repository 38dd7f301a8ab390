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

_K = HandKeypoint
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


def _offsets() -> np.ndarray:
    """(21, 3) float64 metres: MediaPipe keypoint − WebXR joint, in the WebXR joint's frame.

    Towards the fingers is −Z, towards the palm is −Y (see the module docstring). Values
    are those measured on renders of this mesh against MediaPipe's landmark model (see
    docs/dataset.md, "MediaPipe keypoints vs WebXR joints"; checked by
    test/synth/test_offsets.py): MediaPipe puts its wrist inside the carpus rather than at the forearm end, its MCPs at
    the knuckle heads rather than at the joint centres, and its PIP/DIP/IP at the palm-side
    creases.
    """
    table = np.zeros((NUM_KEYPOINTS, 3))
    toward_fingers = np.array([0.0, 0.0, -1.0])
    toward_palm = np.array([0.0, -1.0, 0.0])
    table[_K.WRIST] = 0.015 * toward_fingers + 0.0045 * toward_palm
    table[_K.THUMB_IP] = 0.008 * toward_palm
    mcp_mm = {_K.INDEX_FINGER_MCP: 7.0, _K.MIDDLE_FINGER_MCP: 6.0, _K.RING_FINGER_MCP: 5.0, _K.PINKY_MCP: 3.0}
    for keypoint, mm in mcp_mm.items():
        table[keypoint] = mm * 1e-3 * toward_fingers
    for finger in ("INDEX_FINGER", "MIDDLE_FINGER", "RING_FINGER", "PINKY"):
        table[_K[f"{finger}_PIP"]] = 0.004 * toward_palm
        table[_K[f"{finger}_DIP"]] = 0.003 * toward_palm
    return table


# Per-keypoint offset MediaPipe − WebXR in the carrying joint's local frame, metres.
MEDIAPIPE_OFFSETS_M: np.ndarray = _offsets()
MEDIAPIPE_OFFSETS_M.setflags(write=False)
