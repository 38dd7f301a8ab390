"""Palm decoding, weighted NMS and hand regions, batched numpy float32 on the host.

Follows MediaPipe's hand-tracking graph (palm_detection_cpu / hand_landmark_tracking_cpu
.pbtxt, read as facts): SSD anchors, box + 7 palm keypoints decoding, weighted NMS, the palm
→ hand-region and landmarks → next-frame-region rules, crops as affine maps.

Legend: B batch of network inputs, A = 2016 anchors, N hand regions, K NMS candidates.
A region ("rect") is ``(N, 5)`` float32: centre x, centre y, width, height in image pixels
(origin at the centre of the top-left pixel, x right, y down) and rotation in radians
(clockwise on screen, 0 = fingers up).

numpy, not torch, on every device: these are a few hundred numbers per set, where each
torch op's dispatch (≈ 2–10 µs on the CPU) cost more than its maths (docs/benchmarks.md,
eighth round); on a GPU the network outputs come to the host once per stage for them.
The transcendental functions run in float64, rounded to float32: numpy's float32 ones take
other SIMD paths by array length and stride (last-bit differences), which flips a crop
pixel's rounding and changes one view's keypoints by ~0.02 px with the batch around it.
"""

from __future__ import annotations

import math

import numpy as np

from hand_pose_ros.keypoints import HandKeypoint

__all__ = [
    "PALM_INPUT_SIZE",
    "LANDMARK_INPUT_SIZE",
    "ssd_anchors",
    "decode_palms",
    "weighted_nms",
    "palm_rects",
    "landmark_rects",
    "crop_affines",
    "project_landmarks",
    "rotate_world_landmarks",
    "rect_iou",
    "rect_bounds",
]

PALM_INPUT_SIZE = 192
LANDMARK_INPUT_SIZE = 224

# SsdAnchorsCalculator options of palm_detection_cpu: 4 layers, strides 8/16/16/16, two
# anchors per layer and cell (aspect 1 + interpolated scale), fixed anchor size.
_ANCHOR_STRIDES = (8, 16, 16, 16)
_ANCHORS_PER_LAYER = 2
# TensorsToDetections options: coordinates are in 192-px units, raw scores clipped at ±100.
_PALM_SCORE_CLIP = 100.0
_PALM_NUM_KEYPOINTS = 7
# Palm keypoints that set the hand's rotation: centre of the wrist → middle-finger MCP.
_PALM_WRIST, _PALM_MIDDLE_MCP = 0, 2
# Weighted NMS of palm_detection_cpu (IoU threshold) and how many top-scoring boxes enter it.
NMS_IOU_THRESHOLD = 0.3
_NMS_CANDIDATES = 256
# RectTransformation after palm detection (hand_landmark_tracking_cpu): the palm box grows
# 2.6× and moves half its height towards the fingers to cover the whole hand.
_PALM_RECT_SCALE, _PALM_RECT_SHIFT_Y = 2.6, -0.5
# RectTransformation of the region from the previous frame's landmarks.
_LANDMARK_RECT_SCALE, _LANDMARK_RECT_SHIFT_Y = 2.0, -0.1
# HandLandmarksToRect uses the wrist, thumb base and the finger MCP/PIP joints (tips move too much).
_RECT_KEYPOINTS = [int(k) for k in (
    HandKeypoint.WRIST, HandKeypoint.THUMB_CMC, HandKeypoint.THUMB_MCP, HandKeypoint.THUMB_IP,
    HandKeypoint.INDEX_FINGER_MCP, HandKeypoint.INDEX_FINGER_PIP,
    HandKeypoint.MIDDLE_FINGER_MCP, HandKeypoint.MIDDLE_FINGER_PIP,
    HandKeypoint.RING_FINGER_MCP, HandKeypoint.RING_FINGER_PIP,
    HandKeypoint.PINKY_MCP, HandKeypoint.PINKY_PIP,
)]
# Rotation target: the wrist → fingers direction points up (90°) in the crop.
_TARGET_ANGLE = math.pi / 2


def ssd_anchors() -> np.ndarray:
    """``(2016, 2)`` float32 anchor centres, normalised to the 192×192 input, MediaPipe's order."""
    centres = []
    layer = 0
    while layer < len(_ANCHOR_STRIDES):
        stride = _ANCHOR_STRIDES[layer]
        # Consecutive layers with the same stride share one feature map.
        same = sum(1 for s in _ANCHOR_STRIDES[layer:] if s == stride)
        cells = math.ceil(PALM_INPUT_SIZE / stride)
        axis = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        y, x = np.meshgrid(axis, axis, indexing="ij")
        grid = np.stack([x, y], -1).reshape(-1, 1, 2)  # (cells², 1, 2)
        centres.append(np.broadcast_to(grid, (len(grid), same * _ANCHORS_PER_LAYER, 2)).reshape(-1, 2))
        layer += same
    return np.concatenate(centres)


def decode_palms(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw palm outputs → boxes, keypoints and scores, normalised to the 192×192 input.

    Args:
        raw_boxes: ``(B, A, 18)`` float32; raw_scores: ``(B, A, 1)`` float32; anchors: ``(A, 2)``.
    Returns:
        boxes ``(B, A, 4)`` x_min, y_min, x_max, y_max; keypoints ``(B, A, 7, 2)``; scores ``(B, A)``.
    """
    clipped = np.clip(raw_scores[..., 0].astype(np.float64), -_PALM_SCORE_CLIP, _PALM_SCORE_CLIP)
    scores = (1 / (1 + np.exp(-clipped))).astype(np.float32)
    centre = raw_boxes[..., 0:2] / PALM_INPUT_SIZE + anchors  # (B, A, 2)
    half = raw_boxes[..., 2:4] / PALM_INPUT_SIZE / 2
    boxes = np.concatenate([centre - half, centre + half], -1)
    keypoints = raw_boxes[..., 4:].reshape(*raw_boxes.shape[:2], _PALM_NUM_KEYPOINTS, 2) / PALM_INPUT_SIZE
    return boxes, keypoints + anchors[:, None, :], scores


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(..., K, 4)`` × ``(..., M, 4)`` → ``(..., K, M)`` IoU of x_min, y_min, x_max, y_max boxes."""
    lo = np.maximum(a[..., :, None, :2], b[..., None, :, :2])
    hi = np.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area_a = np.clip(a[..., 2:] - a[..., :2], 0, None).prod(-1)
    area_b = np.clip(b[..., 2:] - b[..., :2], 0, None).prod(-1)
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, max_detections: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-max suppression, batched.

    Each kept detection is the score-weighted mean of the boxes and keypoints overlapping the
    best remaining one by IoU > 0.3; its score is the best one's. Outputs are sorted by score.

    Args:
        boxes ``(B, A, 4)``, keypoints ``(B, A, P, 2)``, scores ``(B, A)``, float32.
    Returns:
        boxes ``(B, D, 4)``, keypoints ``(B, D, P, 2)``, scores ``(B, D)``, valid ``(B, D)`` bool,
        with ``D = max_detections``.
    """
    k = min(_NMS_CANDIDATES, scores.shape[1])
    # The k best, best first (ties in anchor order).
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (B, K)
    top_scores = np.take_along_axis(scores, order, 1)
    cand_boxes = np.take_along_axis(boxes, order[..., None], 1)
    cand_kps = np.take_along_axis(keypoints, order[..., None, None], 1)
    remaining = top_scores >= min_score
    out_boxes, out_kps, out_scores, out_valid = [], [], [], []
    rows = np.arange(scores.shape[0])
    for _ in range(max_detections):
        best = np.where(remaining, top_scores, -1).argmax(1)  # (B,)
        valid = remaining[rows, best]
        # Only the best box's row of the IoU matrix (the whole (B, K, K) costs ~K/2× more).
        iou = _box_iou(cand_boxes[rows, best][:, None], cand_boxes)[:, 0]  # (B, K)
        cluster = remaining & (iou > NMS_IOU_THRESHOLD)
        cluster[rows, best] = valid  # a degenerate (zero-area) best box still stands for itself
        weights = np.where(cluster, top_scores, 0)
        total = np.maximum(weights.sum(1), 1e-12)
        out_boxes.append((weights[..., None] * cand_boxes).sum(1) / total[:, None])
        out_kps.append((weights[..., None, None] * cand_kps).sum(1) / total[:, None, None])
        out_scores.append(top_scores[rows, best])
        out_valid.append(valid)
        remaining = remaining & ~cluster
    return np.stack(out_boxes, 1), np.stack(out_kps, 1), np.stack(out_scores, 1), np.stack(out_valid, 1)


def _sin_cos(angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``sin``, ``cos`` of float32 ``angle``, the same whatever the array's length (module docstring)."""
    wide = angle.astype(np.float64)
    return np.sin(wide).astype(np.float32), np.cos(wide).astype(np.float32)


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angle in [-π, π)."""
    return angle - 2 * math.pi * np.floor((angle + math.pi) / (2 * math.pi))


def _rotation(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``(N, 2)`` px points → ``(N,)`` rotation that turns start→end to point up."""
    d = end - start
    direction = np.arctan2(-d[:, 1].astype(np.float64), d[:, 0]).astype(np.float32)
    return _wrap(_TARGET_ANGLE - direction)


def _transform(rects: np.ndarray, scale: float, shift_y: float) -> np.ndarray:
    """RectTransformation: shift along the rotated y axis, square on the long side, scale."""
    cx, cy, w, h, rot = np.moveaxis(rects, -1, 0)
    shift = h * shift_y
    side = np.maximum(w, h) * scale
    sin, cos = _sin_cos(rot)
    return np.stack([cx - shift * sin, cy + shift * cos, side, side, rot], -1)


def palm_rects(boxes: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Palm boxes ``(N, 4)`` + keypoints ``(N, 7, 2)`` in px → hand regions ``(N, 5)``."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = boxes[:, 2:] - boxes[:, :2]
    rot = _rotation(keypoints[:, _PALM_WRIST], keypoints[:, _PALM_MIDDLE_MCP])
    rects = np.concatenate([centre, size, rot[:, None]], -1)
    return _transform(rects, _PALM_RECT_SCALE, _PALM_RECT_SHIFT_Y)


def _rotate(xy: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate ``(N, P, 2)`` by ``(N,)`` radians (clockwise on screen, y down)."""
    s, c = (f[:, None] for f in _sin_cos(angle))
    return np.stack([c * xy[..., 0] - s * xy[..., 1], s * xy[..., 0] + c * xy[..., 1]], -1)


def landmark_rects(keypoints: np.ndarray) -> np.ndarray:
    """Keypoints ``(N, 21, 2)`` float32 px → the hand regions to crop in the next frame ``(N, 5)``."""
    K = HandKeypoint
    knuckles = (keypoints[:, K.INDEX_FINGER_MCP] + keypoints[:, K.RING_FINGER_MCP]) / 2
    knuckles = (knuckles + keypoints[:, K.MIDDLE_FINGER_MCP]) / 2
    rot = _rotation(keypoints[:, K.WRIST], knuckles)
    points = keypoints[:, _RECT_KEYPOINTS]  # (N, 12, 2)
    centre = (points.min(1) + points.max(1)) / 2  # axis-aligned centre (N, 2)
    local = _rotate(points - centre[:, None], -rot)
    lo, hi = local.min(1), local.max(1)
    centre = centre + _rotate(((lo + hi) / 2)[:, None], rot)[:, 0]
    rects = np.concatenate([centre, hi - lo, rot[:, None]], -1)
    return _transform(rects, _LANDMARK_RECT_SCALE, _LANDMARK_RECT_SHIFT_Y)


def crop_affines(rects: np.ndarray, size: int) -> np.ndarray:
    """``(N, 5)`` float32 regions → ``(N, 2, 3)`` maps from crop pixel (u, v) to image pixel (x, y).

    As MediaPipe's ImageToTensor: crop corner (0, 0) is the region's top-left corner and
    (size, size) its bottom-right one, so crop pixel u samples x = cx + R((u/size − ½)·w, …).
    """
    cx, cy, w, h, rot = np.moveaxis(rects, -1, 0)
    s, c = _sin_cos(rot)
    row_x = np.stack([c * w / size, -s * h / size, cx - c * w / 2 + s * h / 2], -1)
    row_y = np.stack([s * w / size, c * h / size, cy - s * w / 2 - c * h / 2], -1)
    return np.stack([row_x, row_y], 1)


def project_landmarks(landmarks: np.ndarray, rects: np.ndarray, size: int) -> np.ndarray:
    """Landmarks ``(N, 21, ≥2)`` in crop pixels → ``(N, 21, 2)`` image pixels."""
    affine = crop_affines(rects, size)[:, None]  # (N, 1, 2, 3)
    u, v = landmarks[..., 0:1], landmarks[..., 1:2]  # (N, 21, 1) each
    return u * affine[..., 0] + v * affine[..., 1] + affine[..., 2]


def rotate_world_landmarks(world: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """World landmarks ``(N, 21, 3)`` m in the crop's axes → the camera image's axes."""
    return np.concatenate([_rotate(world[..., :2], rects[:, 4]), world[..., 2:]], -1)


_CORNER_SIGNS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)


def rect_bounds(rects: np.ndarray) -> np.ndarray:
    """``(N, 5)`` regions → ``(N, 4)`` axis-aligned px bounds x_min, y_min, x_max, y_max."""
    half = rects[:, None, 2:4] / 2
    corners = _rotate(half * _CORNER_SIGNS, rects[:, 4]) + rects[:, None, :2]
    return np.concatenate([corners.min(1), corners.max(1)], -1)


def rect_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(N, M)`` of the axis-aligned extents of regions ``(N, 5)`` and ``(M, 5)`` (as
    MediaPipe's AssociationNormRect, rotation ignored)."""
    def extent(r: np.ndarray) -> np.ndarray:
        half = r[:, 2:4] / 2
        return np.concatenate([r[:, :2] - half, r[:, :2] + half], -1)

    return _box_iou(extent(a), extent(b))
