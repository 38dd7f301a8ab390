"""Palm decoding, weighted NMS and hand regions, batched torch on the detector's device.

Follows MediaPipe's hand-tracking graph (palm_detection_cpu / hand_landmark_tracking_cpu
.pbtxt, read as facts): SSD anchors, box + 7 palm keypoints decoding, weighted NMS, the palm
→ hand-region and landmarks → next-frame-region rules, crops as affine maps.

Legend: B batch of network inputs, A = 2016 anchors, N hand regions, K NMS candidates.
A region ("rect") is ``(N, 5)`` float32: centre x, centre y, width, height in image pixels
(origin at the centre of the top-left pixel, x right, y down) and rotation in radians
(clockwise on screen, 0 = fingers up).
"""

from __future__ import annotations

import math

import torch

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


def ssd_anchors(device: torch.device | str = "cpu") -> torch.Tensor:
    """``(2016, 2)`` float32 anchor centres, normalised to the 192×192 input, MediaPipe's order."""
    centres = []
    layer = 0
    while layer < len(_ANCHOR_STRIDES):
        stride = _ANCHOR_STRIDES[layer]
        # Consecutive layers with the same stride share one feature map.
        same = sum(1 for s in _ANCHOR_STRIDES[layer:] if s == stride)
        cells = math.ceil(PALM_INPUT_SIZE / stride)
        axis = (torch.arange(cells, dtype=torch.float32) + 0.5) / cells
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        grid = torch.stack([x, y], -1).reshape(-1, 1, 2)  # (cells², 1, 2)
        centres.append(grid.expand(-1, same * _ANCHORS_PER_LAYER, 2).reshape(-1, 2))
        layer += same
    return torch.cat(centres).to(device)


def decode_palms(
    raw_boxes: torch.Tensor, raw_scores: torch.Tensor, anchors: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw palm outputs → boxes, keypoints and scores, normalised to the 192×192 input.

    Args:
        raw_boxes: ``(B, A, 18)``; raw_scores: ``(B, A, 1)``; anchors: ``(A, 2)``.
    Returns:
        boxes ``(B, A, 4)`` x_min, y_min, x_max, y_max; keypoints ``(B, A, 7, 2)``; scores ``(B, A)``.
    """
    scale = float(PALM_INPUT_SIZE)
    scores = torch.sigmoid(raw_scores[..., 0].clamp(-_PALM_SCORE_CLIP, _PALM_SCORE_CLIP))
    centre = raw_boxes[..., 0:2] / scale + anchors  # (B, A, 2)
    half = raw_boxes[..., 2:4] / scale / 2
    boxes = torch.cat([centre - half, centre + half], -1)
    keypoints = raw_boxes[..., 4:].reshape(*raw_boxes.shape[:2], _PALM_NUM_KEYPOINTS, 2) / scale
    return boxes, keypoints + anchors[:, None, :], scores


def _box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(..., K, 4)`` × ``(..., M, 4)`` → ``(..., K, M)`` IoU of x_min, y_min, x_max, y_max boxes."""
    lo = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    hi = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (hi - lo).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def weighted_nms(
    boxes: torch.Tensor, keypoints: torch.Tensor, scores: torch.Tensor, max_detections: int, min_score: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """MediaPipe's WEIGHTED non-max suppression, batched, without leaving the device.

    Each kept detection is the score-weighted mean of the boxes and keypoints overlapping the
    best remaining one by IoU > 0.3; its score is the best one's. Outputs are sorted by score.

    Args:
        boxes ``(B, A, 4)``, keypoints ``(B, A, P, 2)``, scores ``(B, A)``.
    Returns:
        boxes ``(B, D, 4)``, keypoints ``(B, D, P, 2)``, scores ``(B, D)``, valid ``(B, D)`` bool,
        with ``D = max_detections``.
    """
    k = min(_NMS_CANDIDATES, scores.shape[1])
    top_scores, order = scores.topk(k, dim=1)  # (B, K)
    cand_boxes = boxes.gather(1, order[..., None].expand(-1, -1, 4))
    cand_kps = keypoints.gather(1, order[..., None, None].expand(-1, -1, *keypoints.shape[2:]))
    remaining = top_scores >= min_score
    out_boxes, out_kps, out_scores, out_valid = [], [], [], []
    rows = torch.arange(scores.shape[0], device=scores.device)
    for _ in range(max_detections):
        best = torch.where(remaining, top_scores, torch.full_like(top_scores, -1.0)).argmax(1)  # (B,)
        valid = remaining[rows, best]
        # Only the best box's row of the IoU matrix (the whole (B, K, K) cost ~K/2× more, and
        # with torch's intra-op threads on a core the runners use, tens of ms).
        iou = _box_iou(cand_boxes[rows, best][:, None], cand_boxes)[:, 0]  # (B, K)
        cluster = remaining & (iou > NMS_IOU_THRESHOLD)
        cluster[rows, best] = valid  # a degenerate (zero-area) best box still stands for itself
        weights = torch.where(cluster, top_scores, torch.zeros_like(top_scores))
        total = weights.sum(1).clamp(min=1e-12)
        out_boxes.append((weights[..., None] * cand_boxes).sum(1) / total[:, None])
        out_kps.append((weights[..., None, None] * cand_kps).sum(1) / total[:, None, None])
        out_scores.append(top_scores[rows, best])
        out_valid.append(valid)
        remaining = remaining & ~cluster
    return (torch.stack(out_boxes, 1), torch.stack(out_kps, 1), torch.stack(out_scores, 1),
            torch.stack(out_valid, 1))


def _wrap(angle: torch.Tensor) -> torch.Tensor:
    """Angle in [-π, π)."""
    return angle - 2 * math.pi * torch.floor((angle + math.pi) / (2 * math.pi))


def _rotation(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``(N, 2)`` px points → ``(N,)`` rotation that turns start→end to point up."""
    d = end - start
    return _wrap(_TARGET_ANGLE - torch.atan2(-d[:, 1], d[:, 0]))


def _transform(rects: torch.Tensor, scale: float, shift_y: float) -> torch.Tensor:
    """RectTransformation: shift along the rotated y axis, square on the long side, scale."""
    cx, cy, w, h, rot = rects.unbind(-1)
    cx = cx - h * shift_y * torch.sin(rot)
    cy = cy + h * shift_y * torch.cos(rot)
    side = torch.maximum(w, h) * scale
    return torch.stack([cx, cy, side, side, rot], -1)


def palm_rects(boxes: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
    """Palm boxes ``(N, 4)`` + keypoints ``(N, 7, 2)`` in px → hand regions ``(N, 5)``."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = boxes[:, 2:] - boxes[:, :2]
    rot = _rotation(keypoints[:, _PALM_WRIST], keypoints[:, _PALM_MIDDLE_MCP])
    rects = torch.cat([centre, size, rot[:, None]], -1)
    return _transform(rects, _PALM_RECT_SCALE, _PALM_RECT_SHIFT_Y)


def _rotate(xy: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate ``(N, P, 2)`` by ``(N,)`` radians (clockwise on screen, y down)."""
    c, s = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    return torch.stack([c * xy[..., 0] - s * xy[..., 1], s * xy[..., 0] + c * xy[..., 1]], -1)


def landmark_rects(keypoints: torch.Tensor) -> torch.Tensor:
    """Keypoints ``(N, 21, 2)`` px → the hand regions to crop in the next frame ``(N, 5)``."""
    K = HandKeypoint
    knuckles = (keypoints[:, K.INDEX_FINGER_MCP] + keypoints[:, K.RING_FINGER_MCP]) / 2
    knuckles = (knuckles + keypoints[:, K.MIDDLE_FINGER_MCP]) / 2
    rot = _rotation(keypoints[:, K.WRIST], knuckles)
    points = keypoints[:, _RECT_KEYPOINTS]  # (N, 12, 2)
    centre = (points.amin(1) + points.amax(1)) / 2  # axis-aligned centre (N, 2)
    local = _rotate(points - centre[:, None], -rot)
    lo, hi = local.amin(1), local.amax(1)
    centre = centre + _rotate(((lo + hi) / 2)[:, None], rot)[:, 0]
    rects = torch.cat([centre, hi - lo, rot[:, None]], -1)
    return _transform(rects, _LANDMARK_RECT_SCALE, _LANDMARK_RECT_SHIFT_Y)


def crop_affines(rects: torch.Tensor, size: int) -> torch.Tensor:
    """``(N, 5)`` regions → ``(N, 2, 3)`` maps from crop pixel (u, v) to image pixel (x, y).

    As MediaPipe's ImageToTensor: crop corner (0, 0) is the region's top-left corner and
    (size, size) its bottom-right one, so crop pixel u samples x = cx + R((u/size − ½)·w, …).
    """
    cx, cy, w, h, rot = rects.unbind(-1)
    c, s = torch.cos(rot), torch.sin(rot)
    row_x = torch.stack([c * w / size, -s * h / size, cx - c * w / 2 + s * h / 2], -1)
    row_y = torch.stack([s * w / size, c * h / size, cy - s * w / 2 - c * h / 2], -1)
    return torch.stack([row_x, row_y], 1)


def project_landmarks(landmarks: torch.Tensor, rects: torch.Tensor, size: int) -> torch.Tensor:
    """Landmarks ``(N, 21, ≥2)`` in crop pixels → ``(N, 21, 2)`` image pixels."""
    affine = crop_affines(rects, size)  # (N, 2, 3)
    uv = landmarks[..., :2]
    return uv @ affine[:, :, :2].transpose(1, 2) + affine[:, None, :, 2]


def rotate_world_landmarks(world: torch.Tensor, rects: torch.Tensor) -> torch.Tensor:
    """World landmarks ``(N, 21, 3)`` m in the crop's axes → the camera image's axes."""
    return torch.cat([_rotate(world[..., :2], rects[:, 4]), world[..., 2:]], -1)


def rect_bounds(rects: torch.Tensor) -> torch.Tensor:
    """``(N, 5)`` regions → ``(N, 4)`` axis-aligned px bounds x_min, y_min, x_max, y_max."""
    half = torch.stack([rects[:, 2], rects[:, 3]], -1)[:, None] / 2
    corners = half * torch.tensor([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=rects.dtype, device=rects.device)
    corners = _rotate(corners, rects[:, 4]) + rects[:, None, :2]
    return torch.cat([corners.amin(1), corners.amax(1)], -1)


def rect_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU ``(N, M)`` of the axis-aligned extents of regions ``(N, 5)`` and ``(M, 5)`` (as
    MediaPipe's AssociationNormRect, rotation ignored)."""
    def extent(r: torch.Tensor) -> torch.Tensor:
        return torch.cat([r[:, :2] - r[:, 2:4] / 2, r[:, :2] + r[:, 2:4] / 2], -1)

    return _box_iou(extent(a), extent(b))
