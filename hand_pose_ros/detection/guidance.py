"""3D → 2D feedback: fused 3D hands projected into every camera become hand crops there.

A view whose palm detector misses a hand (small, or its palm hidden by an object) still gets
keypoints when the other views have located the hand in 3D: the hand's projection gives the
landmark network's crop (centre, size, rotation as MediaPipe's own tracking crop), and the
network's presence score decides whether the crop holds a hand. Legend: V views, H hands.

    guided = GuidedDetector(detector, rig)
    for images in frames:
        detections = guided.detect(images)          # per view, as HandDetector.detect
        hands = fusion.process(detections, stamp)
        guided.update(hands)                        # crops for the next frame

Nothing is invented: only hands that at least ``min_views`` views agreed on (triangulated,
not one-view guesses) are fed back, and a crop whose presence is low gives no detection.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hand_pose_ros.calibration import Rig
from hand_pose_ros.detection.config import GuidanceConfig
from hand_pose_ros.detection import geometry
from hand_pose_ros.detection.detector import HandDetector
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.keypoints import HandKeypoint
from hand_pose_ros.types import Hand3D, HandDetection2D

__all__ = ["GuidanceConfig", "GuidedDetector", "crops_from_hands", "palm_tiles"]

# The keypoints a crop's rotation is taken from (geometry.landmark_rects: wrist → knuckles).
_ORIENTING = (HandKeypoint.WRIST, HandKeypoint.INDEX_FINGER_MCP, HandKeypoint.MIDDLE_FINGER_MCP,
              HandKeypoint.RING_FINGER_MCP)


def palm_tiles(width: int, height: int, tiles: int, overlap: float) -> list[np.ndarray]:
    """The palm detector's search squares for one ``width`` × ``height`` view → list of ``(3,)``
    float64 (centre x, y, side px): the whole frame, then a ``tiles`` × ``tiles`` grid whose
    neighbours share ``overlap`` of a side (none for ``tiles`` = 1)."""
    long_side = float(max(width, height))
    out = [np.array([width / 2, height / 2, long_side])]
    if tiles == 1:
        return out
    # n tiles of side s with step (1 − overlap)·s span the longer side: s (1 + (n − 1)(1 − overlap)) = L.
    side = long_side / (1 + (tiles - 1) * (1 - overlap))
    for axis_y in range(tiles):
        for axis_x in range(tiles):
            # Tile centres spread evenly between the first and last half-side along each axis.
            fx, fy = axis_x / (tiles - 1), axis_y / (tiles - 1)
            cx = side / 2 + fx * max(width - side, 0.0)
            cy = side / 2 + fy * max(height - side, 0.0) if height > side else height / 2
            out.append(np.array([cx, cy, side]))
    return out


def crops_from_hands(hands: Sequence[Hand3D], cameras: CameraArray) -> list[list[np.ndarray]]:
    """H hands (world frame, metres) → per view (V lists) the landmark crops ``(5,)`` float64
    (centre x, y, width, height px, rotation rad) where each hand projects into that view.

    The crop is MediaPipe's tracking crop (``geometry.landmark_rects``) of the projected
    keypoints. A hand is left out of a view where its wrist or knuckles are missing, lie
    behind the camera, or its crop's centre falls outside the image.
    """
    out: list[list[np.ndarray]] = [[] for _ in range(len(cameras))]
    for hand in hands:
        projected = cameras.project(hand.keypoints_3d)  # (V, 21, 2) px, NaN missing / behind
        for view in range(len(cameras)):
            points = projected[view]
            if not np.isfinite(points[list(_ORIENTING)]).all():
                continue
            # A missing finger joint must not widen the crop: it stands in as the wrist.
            points = np.where(np.isfinite(points), points, points[HandKeypoint.WRIST])
            rect = geometry.landmark_rects(torch.from_numpy(points[None]).float())[0].double().numpy()
            width, height = cameras.image_size[view]
            if 0 <= rect[0] < width and 0 <= rect[1] < height:
                out[view].append(rect)
    return out


class GuidedDetector:
    """``HandDetector`` whose landmark crops also come from fused 3D hands (module docstring).

    Args:
        detector: the 2D detector (its tracking state is used and kept).
        rig: the cameras, in the order ``detect`` takes images.
        config: settings.
    """

    def __init__(self, detector: HandDetector, rig: Rig, config: GuidanceConfig | None = None) -> None:
        self.detector = detector
        self.config = config if config is not None else GuidanceConfig()
        self.cameras = CameraArray.from_rig(rig)
        self._rois: list[list[np.ndarray]] = [[] for _ in range(len(rig))]
        self._tiles = [palm_tiles(int(w), int(h), self.config.palm_tiles, self.config.tile_overlap)
                       for w, h in self.cameras.image_size]

    def reset(self) -> None:
        """Forget the fed-back hands and the detector's tracks."""
        self._rois = [[] for _ in range(len(self.cameras))]
        self.detector.reset()

    def detect(self, images: Sequence[np.ndarray]) -> list[list[HandDetection2D]]:
        """Per view (rig order) the hands found, with the last ``update``'s crops as extra regions."""
        if len(images) != len(self.cameras):
            raise ValueError(f"images: expected one per camera ({len(self.cameras)}), got {len(images)}")
        return self.detector.detect(images, rois=self._rois, palm_regions=self._tiles,
                                    roi_min_presence=self.config.min_presence)

    def update(self, hands: Sequence[Hand3D]) -> None:
        """This frame's fused hands → the next frame's crops (confirmed hands only)."""
        confirmed = [h for h in hands if not h.monocular and np.median(h.num_views) >= self.config.min_views]
        self._rois = crops_from_hands(confirmed, self.cameras)

    def rois_for_next_frame(self) -> list[list[np.ndarray]]:
        """Per view the crops ``detect`` will add (copies)."""
        return [[r.copy() for r in view] for view in self._rois]
