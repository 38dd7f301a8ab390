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

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from hand_pose_ros.calibration import Rig
from hand_pose_ros.detection import geometry
from hand_pose_ros.detection.detector import HandDetector
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.keypoints import HandKeypoint
from hand_pose_ros.types import Hand3D, HandDetection2D

__all__ = ["GuidanceConfig", "GuidedDetector", "crops_from_hands", "palm_tiles"]

# The keypoints a crop's rotation is taken from (geometry.landmark_rects: wrist → knuckles).
_ORIENTING = (HandKeypoint.WRIST, HandKeypoint.INDEX_FINGER_MCP, HandKeypoint.MIDDLE_FINGER_MCP,
              HandKeypoint.RING_FINGER_MCP)


@dataclasses.dataclass(frozen=True, kw_only=True)
class GuidanceConfig:
    """Settings of ``GuidedDetector``.

    Attributes:
        min_views: a fused hand is fed back only when at least this many views agreed on
            its joints (its median ``num_views``); 2 = any triangulated hand, never a
            one-view (monocular) estimate.
        palm_tiles: the palm detector searches an n × n grid of overlapping squares per view
            plus the whole frame (1: the whole frame only, MediaPipe's default). On 640×480
            the whole frame shrinks to 192 px, so a 60–120 px hand is 18–36 px there; 2 × 2
            tiles of 2/3 the longer side see it 1.5× larger. DexYCB mustard, 8 cameras,
            guided: 2D hand-views found 463 / 466 / 469 of 503 with 1 / 2 / 3 (MPJPE 11.1 /
            10.6 / 9.9 mm); but on the bundled sample 3 × 3 tiles start false hands on its
            cluttered backgrounds (MPJPE over all output hands 7.25 / 7.23 / 9.93 mm), so 2.
            Each palm run costs 1 + n² palm crops per view.
        tile_overlap: fraction of a tile's side shared with its neighbour.
        min_presence: presence a guided crop needs to give a detection. Lower than the
            detector's own threshold because other views have already located a hand there:
            an object in front of the hand lowers the score of crops whose keypoints are
            still right (DexYCB mustard: presence 0.1–0.4 at 6–12 px from the labels).
    """

    min_views: int = 2
    palm_tiles: int = 2
    tile_overlap: float = 0.5
    min_presence: float = 0.2

    def __post_init__(self) -> None:
        for name, low in (("min_views", 2), ("palm_tiles", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"GuidanceConfig.{name}: expected an int >= {low}, got {value!r}")
        if isinstance(self.min_presence, bool) or not 0.0 <= self.min_presence <= 1.0:
            raise ValueError(f"GuidanceConfig.min_presence: expected a number in [0, 1], got {self.min_presence!r}")
        if isinstance(self.tile_overlap, bool) or not 0.0 <= self.tile_overlap < 1.0:
            raise ValueError(f"GuidanceConfig.tile_overlap: expected a number in [0, 1), got {self.tile_overlap!r}")


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
