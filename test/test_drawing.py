"""Overlays drawn from the one colour table (RViz markers use it too: test/ros/test_markers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.drawing import HAND_COLOURS, HAND_COLOURS_RGB8, draw_detections
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.types import HandDetection2D

SIDES = (Handedness.LEFT, Handedness.RIGHT, Handedness.UNKNOWN)


def _detection(side: Handedness, origin_px: tuple[float, float]) -> HandDetection2D:
    # A straight line of keypoints 4 px apart: dots and bones well inside a 200 px image.
    points = np.array(origin_px) + np.stack([np.arange(NUM_KEYPOINTS) * 4.0, np.zeros(NUM_KEYPOINTS)], axis=1)
    return HandDetection2D(keypoints_2d=points, keypoint_scores=np.ones(NUM_KEYPOINTS), handedness=side,
                           handedness_score=0.9, presence=1.0)


def test_every_handedness_has_a_distinct_colour_in_both_forms() -> None:
    assert set(HAND_COLOURS) == set(HAND_COLOURS_RGB8) == set(Handedness)
    assert len(set(HAND_COLOURS_RGB8.values())) == len(HAND_COLOURS_RGB8)
    for side, rgba in HAND_COLOURS.items():
        assert all(0.0 <= c <= 1.0 for c in rgba) and rgba[3] == 1.0
        assert HAND_COLOURS_RGB8[side] == pytest.approx([255 * c for c in rgba[:3]], abs=0.5)


def test_overlay_draws_each_hand_in_its_colour_and_nothing_else() -> None:
    black = np.zeros((200, 200, 3), np.uint8)
    detections = [_detection(side, (10.0, 40.0 + 60 * k)) for k, side in enumerate(SIDES)]
    out = draw_detections(black, detections)
    assert not out.any(axis=2)[:20].any()  # no label asked for: the top rows stay black
    for det in detections:
        x, y = (int(v) for v in det.keypoints_2d[NUM_KEYPOINTS // 2])
        assert tuple(out[y, x]) == HAND_COLOURS_RGB8[det.handedness]
    np.testing.assert_array_equal(black, 0)  # drawn on a copy


def test_nan_keypoints_are_not_drawn() -> None:
    det = _detection(Handedness.LEFT, (10.0, 100.0))
    det.keypoints_2d[:] = np.nan
    assert not draw_detections(np.zeros((200, 200, 3), np.uint8), [det]).any()
