"""Debug overlays: 2D detections drawn on a view, and a contact sheet of many views."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from hand_pose_ros.keypoints import HAND_EDGES, Handedness
from hand_pose_ros.types import HandDetection2D

__all__ = ["draw_detections", "contact_sheet"]

# RGB 0-255, the same hues as the RViz markers (markers.HAND_COLOURS).
_COLOURS = {Handedness.LEFT: (0, 115, 178), Handedness.RIGHT: (230, 153, 0), Handedness.UNKNOWN: (153, 153, 153)}
_RADIUS_PX = 3
_LINE_PX = 2


def draw_detections(rgb: np.ndarray, detections: Sequence[HandDetection2D], label: str = "") -> np.ndarray:
    """A copy of ``rgb`` (H, W, 3) uint8 with each detection's skeleton drawn; NaN points skipped."""
    out = np.ascontiguousarray(rgb).copy()
    for det in detections:
        colour = _COLOURS[det.handedness]
        pts = det.keypoints_2d  # (21, 2) px
        ok = ~np.isnan(pts).any(axis=1)
        for a, b in HAND_EDGES:
            if ok[a] and ok[b]:
                cv2.line(out, _px(pts[a]), _px(pts[b]), colour, _LINE_PX, cv2.LINE_AA)
        for p in pts[ok]:
            cv2.circle(out, _px(p), _RADIUS_PX, colour, -1, cv2.LINE_AA)
    if label:
        cv2.putText(out, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def _px(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def contact_sheet(tiles: Sequence[np.ndarray], columns: int, tile_width: int = 320) -> np.ndarray:
    """Tile RGB images (any sizes) row-major into one (rows·h, columns·tile_width, 3) uint8 image."""
    if not tiles:
        raise ValueError("contact_sheet: no images")
    h0, w0 = tiles[0].shape[:2]
    tile_height = max(1, round(tile_width * h0 / w0))
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * tile_height:(r + 1) * tile_height, c * tile_width:(c + 1) * tile_width] = cv2.resize(
            tile, (tile_width, tile_height), interpolation=cv2.INTER_AREA
        )
    return sheet
