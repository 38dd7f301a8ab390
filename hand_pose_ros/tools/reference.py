"""The reference: Google's own TFLite interpreter (``ai-edge-litert``, a test/benchmark-only
dependency) run view by view, fed crops made the way MediaPipe's OpenCV image-to-tensor
converter makes them (``cv2.boxPoints`` → perspective warp of the uint8 image → [0, 1]).

Used by the parity tests and by ``hand-pose-ros bench detector``; decoding reuses ``geometry``.
"""

from __future__ import annotations

import cv2
import numpy as np

from hand_pose_ros.assets import mediapipe_model_path
from hand_pose_ros.detection import geometry

__all__ = ["LiteRT", "cv2_crop", "ReferencePipeline"]

# MediaPipe's default palm score threshold (palm_detection_cpu min_score_thresh).
_MIN_PALM_SCORE = 0.5


class LiteRT:
    """One MediaPipe model in ai-edge-litert, item by item (its graphs fix batch 1)."""

    def __init__(self, name: str, num_threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(mediapipe_model_path(name)), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        details = sorted(self.interpreter.get_output_details(), key=lambda d: d["name"])
        self.outputs = [d["index"] for d in details]

    def __call__(self, batch_nhwc: np.ndarray) -> list[np.ndarray]:
        """``(B, S, S, 3)`` float32 → the model's outputs, concatenated over B."""
        per_item = []
        for item in batch_nhwc:
            self.interpreter.set_tensor(self.input, item[None].astype(np.float32))
            self.interpreter.invoke()
            per_item.append([self.interpreter.get_tensor(i).copy() for i in self.outputs])
        return [np.concatenate(parts) for parts in zip(*per_item)]


def cv2_crop(image_rgb: np.ndarray, rect: np.ndarray, size: int, zero_border: bool) -> np.ndarray:
    """``(size, size, 3)`` float32 in [0, 1]: region ``(cx, cy, w, h, rotation)`` px of the image."""
    cx, cy, w, h, rotation = (float(v) for v in rect)
    corners = cv2.boxPoints(((cx, cy), (w, h), np.degrees(rotation)))
    target = np.float32([[0, size], [0, 0], [size, 0], [size, size]])
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    border = cv2.BORDER_CONSTANT if zero_border else cv2.BORDER_REPLICATE
    crop = cv2.warpPerspective(image_rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)
    return crop.astype(np.float32) / 255.0


class ReferencePipeline:
    """Palm detection + landmarks for one image at a time with LiteRT, MediaPipe's rules."""

    def __init__(self, model: str = "full", max_hands: int = 2, num_threads: int = 2) -> None:
        self.palm = LiteRT(f"palm_detection_{model}", num_threads)
        self.landmark = LiteRT(f"hand_landmark_{model}", num_threads)
        self.max_hands = max_hands
        self.anchors = geometry.ssd_anchors()

    def palm_rects(self, image: np.ndarray) -> np.ndarray:
        """``(D, 5)`` hand regions (px, rad) from the palm detector on one image."""
        h, w = image.shape[:2]
        side = max(w, h)
        crop = cv2_crop(image, np.array([w / 2, h / 2, side, side, 0.0]), geometry.PALM_INPUT_SIZE, True)
        raw_boxes, raw_scores = self.palm(crop[None])
        boxes, kps, scores = geometry.decode_palms(raw_boxes, raw_scores, self.anchors)
        boxes, kps, _, valid = geometry.weighted_nms(boxes, kps, scores, self.max_hands, _MIN_PALM_SCORE)
        offset = np.array([w / 2, h / 2], np.float32)
        boxes = ((boxes.reshape(-1, 2, 2) - 0.5) * side + offset).reshape(-1, 4)
        kps = (kps.reshape(-1, 7, 2) - 0.5) * side + offset
        return geometry.palm_rects(boxes, kps)[valid.reshape(-1)]

    def hands(self, image: np.ndarray, rects: np.ndarray) -> dict[str, np.ndarray]:
        """Landmarks in the given regions: ``keypoints (N, 21, 2)`` px, ``presence (N,)``,
        ``right_score (N,)`` (the raw handedness output: probability of the person's right hand,
        see detector.py), ``world (N, 21, 3)`` m and ``next_rects (N, 5)`` (the regions to track into the next frame)."""
        size = geometry.LANDMARK_INPUT_SIZE
        if len(rects) == 0:
            return {"keypoints": np.zeros((0, 21, 2), np.float32), "presence": np.zeros(0, np.float32),
                    "right_score": np.zeros(0, np.float32), "world": np.zeros((0, 21, 3), np.float32),
                    "next_rects": np.zeros((0, 5), np.float32)}
        crops = np.stack([cv2_crop(image, r, size, False) for r in rects])
        landmarks, presence, handedness, world = self.landmark(crops)
        rects = np.asarray(rects, np.float32)
        keypoints = geometry.project_landmarks(landmarks.reshape(-1, 21, 3), rects, size)
        world = geometry.rotate_world_landmarks(world.reshape(-1, 21, 3), rects)
        return {"keypoints": keypoints, "presence": presence[:, 0], "right_score": handedness[:, 0],
                "world": world, "next_rects": geometry.landmark_rects(keypoints)}
