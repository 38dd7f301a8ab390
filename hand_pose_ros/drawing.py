"""Drawing hands, one colour table for every picture: image overlays, ``detect --overlay``,
RViz markers and meshes (``hand_pose_ros.ros.markers`` imports ``HAND_COLOURS`` from here).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from hand_pose_ros.keypoints import HAND_EDGES, Handedness
from hand_pose_ros.types import HandDetection2D

__all__ = ["HAND_COLOURS", "HAND_COLOURS_RGB8", "draw_detections", "contact_sheet"]

# RGBA in [0, 1] per handedness: left blue, right orange (colour-blind safe pair), unknown grey.
HAND_COLOURS: dict[Handedness, tuple[float, float, float, float]] = {
    Handedness.LEFT: (0.0, 0.45, 0.70, 1.0),
    Handedness.RIGHT: (0.90, 0.60, 0.0, 1.0),
    Handedness.UNKNOWN: (0.6, 0.6, 0.6, 1.0),
}
# The same hues as 8-bit RGB, for drawing into images.
HAND_COLOURS_RGB8: dict[Handedness, tuple[int, int, int]] = {
    side: (round(255 * r), round(255 * g), round(255 * b)) for side, (r, g, b, _) in HAND_COLOURS.items()
}
_LINE_PX = 2  # thinnest bone line; thicker on large images, one pixel per this many
_IMAGE_PX_PER_LINE_PX = 400  # of the image's longer side, so a 2000 px photo gets 5 px lines
_TEXT_COLOUR = (255, 255, 255)
_TEXT_SCALE_PER_LINE_PX = 0.3  # cv2 font scale per pixel of line width (0.6 at the thinnest)


def draw_detections(
    rgb: np.ndarray, detections: Sequence[HandDetection2D], label: str = "", *, hand_labels: bool = False
) -> np.ndarray:
    """A copy of ``rgb`` (H, W, 3) uint8 RGB with each detection's skeleton drawn in its hand's colour.

    NaN keypoints are skipped. ``label`` is written at the top left (e.g. the camera's name);
    with ``hand_labels`` each hand's handedness and score are written at its wrist.
    """
    out = np.ascontiguousarray(rgb).copy()
    line = max(_LINE_PX, round(max(out.shape[:2]) / _IMAGE_PX_PER_LINE_PX))
    text_scale = _TEXT_SCALE_PER_LINE_PX * line
    for det in detections:
        colour = HAND_COLOURS_RGB8[det.handedness]
        pts = det.keypoints_2d  # (21, 2) px
        ok = ~np.isnan(pts).any(axis=1)
        for a, b in HAND_EDGES:
            if ok[a] and ok[b]:
                cv2.line(out, _px(pts[a]), _px(pts[b]), colour, line, cv2.LINE_AA)
        for p in pts[ok]:
            cv2.circle(out, _px(p), line + 1, colour, -1, cv2.LINE_AA)
        if hand_labels and ok[0]:
            text = f"{det.handedness.label} {det.handedness_score:.2f}"
            cv2.putText(out, text, _px(pts[0]), cv2.FONT_HERSHEY_SIMPLEX, text_scale, colour, line, cv2.LINE_AA)
    if label:
        cv2.putText(out, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, text_scale, _TEXT_COLOUR, line, cv2.LINE_AA)
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
