"""The 21 hand keypoints (MediaPipe's order), their names, skeleton edges and fingers."""

from __future__ import annotations

import enum

__all__ = [
    "HandKeypoint",
    "Handedness",
    "NUM_KEYPOINTS",
    "HAND_EDGES",
    "FINGERS",
    "KEYPOINT_PARENT",
    "BONES",
]

NUM_KEYPOINTS = 21


class HandKeypoint(enum.IntEnum):
    """Keypoint index in MediaPipe's 21-joint hand model (same values as HandPose.msg)."""

    WRIST = 0
    THUMB_CMC = 1
    THUMB_MCP = 2
    THUMB_IP = 3
    THUMB_TIP = 4
    INDEX_FINGER_MCP = 5
    INDEX_FINGER_PIP = 6
    INDEX_FINGER_DIP = 7
    INDEX_FINGER_TIP = 8
    MIDDLE_FINGER_MCP = 9
    MIDDLE_FINGER_PIP = 10
    MIDDLE_FINGER_DIP = 11
    MIDDLE_FINGER_TIP = 12
    RING_FINGER_MCP = 13
    RING_FINGER_PIP = 14
    RING_FINGER_DIP = 15
    RING_FINGER_TIP = 16
    PINKY_MCP = 17
    PINKY_PIP = 18
    PINKY_DIP = 19
    PINKY_TIP = 20


class Handedness(enum.IntEnum):
    """The person's own hand, for un-mirrored camera images (same values as HandPose.msg)."""

    LEFT = 0
    RIGHT = 1
    UNKNOWN = 2

    @classmethod
    def from_label(cls, label: str) -> "Handedness":
        """Parse 'Left' / 'Right' / 'Unknown' (any case); raise ValueError otherwise."""
        try:
            return cls[label.strip().upper()]
        except KeyError:
            raise ValueError(
                f"handedness label must be one of Left, Right, Unknown; got {label!r}"
            ) from None

    @property
    def label(self) -> str:
        return self.name.capitalize()


_K = HandKeypoint

# Finger chains from the wrist outwards.
FINGERS: dict[str, tuple[HandKeypoint, ...]] = {
    "thumb": (_K.THUMB_CMC, _K.THUMB_MCP, _K.THUMB_IP, _K.THUMB_TIP),
    "index": (_K.INDEX_FINGER_MCP, _K.INDEX_FINGER_PIP, _K.INDEX_FINGER_DIP, _K.INDEX_FINGER_TIP),
    "middle": (_K.MIDDLE_FINGER_MCP, _K.MIDDLE_FINGER_PIP, _K.MIDDLE_FINGER_DIP, _K.MIDDLE_FINGER_TIP),
    "ring": (_K.RING_FINGER_MCP, _K.RING_FINGER_PIP, _K.RING_FINGER_DIP, _K.RING_FINGER_TIP),
    "pinky": (_K.PINKY_MCP, _K.PINKY_PIP, _K.PINKY_DIP, _K.PINKY_TIP),
}

# Parent of each keypoint in the kinematic tree (the wrist is the root: -1).
KEYPOINT_PARENT: tuple[int, ...] = tuple(
    [-1]
    + [
        int(chain[i - 1]) if i > 0 else int(_K.WRIST)
        for chain in FINGERS.values()
        for i in range(len(chain))
    ]
)

# Skeleton edges (parent, child): the 20 bones, as drawn by MediaPipe minus the palm
# cross-links, plus the palm's MCP-to-MCP links for display.
BONES: tuple[tuple[int, int], ...] = tuple(
    (parent, child) for child, parent in enumerate(KEYPOINT_PARENT) if parent >= 0
)
PALM_LINKS: tuple[tuple[int, int], ...] = (
    (_K.INDEX_FINGER_MCP, _K.MIDDLE_FINGER_MCP),
    (_K.MIDDLE_FINGER_MCP, _K.RING_FINGER_MCP),
    (_K.RING_FINGER_MCP, _K.PINKY_MCP),
)
HAND_EDGES: tuple[tuple[int, int], ...] = BONES + tuple((int(a), int(b)) for a, b in PALM_LINKS)
