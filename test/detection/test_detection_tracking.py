"""Tracking mode: regions carried from frame to frame per view, palm detector only when needed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hand_pose_ros.detection import HandDetector, HandDetectorConfig
from hand_pose_ros.keypoints import HandKeypoint

SHIFT_PX = 12  # per frame, the hand moves right by this much
# The tracked region differs from the palm-derived one, so landmarks of a still hand move a
# little (lite model on the 200-px photos: seen ≤ 4.1 px).
STILL_TOL_PX = 6.0
# Frame-to-frame displacement of a moving hand vs the true shift.
FOLLOW_TOL_PX = 4.0


def _shifted(image: np.ndarray, dx: float) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def _detector(**kwargs) -> HandDetector:
    # The tracking rules do not depend on the model size: the lite networks keep these tests fast.
    return HandDetector(HandDetectorConfig(tracking=True, model="lite", **kwargs))


def test_palm_detector_runs_once_while_hands_are_tracked(photos):
    detector = _detector(max_hands=1)
    # Whole hands inside the frame (elsewhere the out-of-frame wrist is a guess that moves).
    images = [photos["Hull_Original_Image.jpg"], photos["Back_Projection_Theory0.jpg"]]
    first = detector.detect(images)
    for _ in range(4):
        results = detector.detect(images)
        assert [len(r) for r in results] == [1, 1]
    assert detector.stage_calls == {"palm": 1, "landmark": 5}
    for a, b in zip(first, results):
        assert np.abs(a[0].keypoints_2d - b[0].keypoints_2d).max() < STILL_TOL_PX


def test_tracked_hand_follows_motion_without_palm_detection(photos):
    detector = _detector(max_hands=1)
    image = photos["handDst.jpg"]
    wrists = []
    for frame in range(5):
        hands = detector.detect([_shifted(image, frame * SHIFT_PX)])[0]
        assert len(hands) == 1
        wrists.append(hands[0].keypoints_2d[HandKeypoint.MIDDLE_FINGER_MCP])
    assert detector.stage_calls["palm"] == 1
    steps = np.diff(np.array(wrists), axis=0)
    np.testing.assert_allclose(steps[:, 0], SHIFT_PX, atol=FOLLOW_TOL_PX)
    np.testing.assert_allclose(steps[:, 1], 0, atol=FOLLOW_TOL_PX)


def test_lost_hand_triggers_palm_detection_on_the_next_frame(photos, no_hand_images):
    detector = _detector(max_hands=1, redetect_interval=100)
    hand = photos["handSrc.jpg"]
    empty = cv2.resize(no_hand_images[0], hand.shape[1::-1])
    assert len(detector.detect([hand])[0]) == 1
    assert detector.detect([empty]) == [[]]  # tracked region now shows no hand: lost
    assert detector.stage_calls["palm"] == 1
    assert len(detector.detect([hand])[0]) == 1  # palm detector runs again and finds it
    assert detector.stage_calls["palm"] == 2


def test_an_empty_external_crop_is_no_loss_but_a_lost_tracked_hand_is(photos, no_hand_images):
    detector = _detector(max_hands=2, redetect_interval=100)
    hand = photos["handSrc.jpg"]
    height, width = hand.shape[:2]
    # A crop where this view sees no hand (a projected 3D hand it cannot see, say): a flat corner.
    nothing_there = [np.array([12.0, 12.0, 20.0, 20.0, 0.0])]
    assert len(detector.detect([hand])[0]) == 1
    for _ in range(3):
        assert len(detector.detect([hand], rois=[nothing_there])[0]) == 1  # the tracked hand, nothing more
    assert detector.stage_calls["palm"] == 1  # the empty crop did not send the view back to the palm detector
    empty = cv2.resize(no_hand_images[2], (width, height))
    assert detector.detect([empty], rois=[nothing_there]) == [[]]  # the tracked hand is gone: a loss
    detector.detect([hand])
    assert detector.stage_calls["palm"] == 2


def test_views_with_fewer_hands_search_every_redetect_interval(photos):
    interval = 3
    detector = _detector(max_hands=2, redetect_interval=interval)
    for _ in range(7):
        assert len(detector.detect([photos["handSrc.jpg"]])[0]) == 1
    assert detector.stage_calls["palm"] == 3  # frames 0, 3 and 6


def test_reset_and_new_image_size_forget_the_regions(photos):
    detector = _detector(max_hands=1)
    detector.detect([photos["handSrc.jpg"]])
    detector.reset()
    detector.detect([photos["handSrc.jpg"]])
    assert detector.stage_calls["palm"] == 2
    detector.detect([photos["Back_Projection_Theory0.jpg"]])  # another camera size at view 0
    assert detector.stage_calls["palm"] == 3


@pytest.mark.parametrize("tracking", [True, False])
def test_state_is_per_view_index(photos, tracking):
    detector = _detector(max_hands=1) if tracking else HandDetector(HandDetectorConfig(tracking=False, model="lite"))
    a, b = photos["Hull_Original_Image.jpg"], photos["Back_Projection_Theory0.jpg"]
    first = detector.detect([a, b])
    second = detector.detect([a, b])
    for x, y in zip(first, second):
        assert np.abs(x[0].keypoints_2d - y[0].keypoints_2d).max() < STILL_TOL_PX
    assert detector.stage_calls["palm"] == (1 if tracking else 2)


def test_a_hand_that_jumps_off_its_tracked_region_is_recropped_in_the_same_frame(photos):
    """A hand moving a third of its size between frames (fast motion, a low frame rate): the
    tracked region lags it, so the landmark network runs once more on the region its first
    keypoints give; the keypoints then match a fresh palm-detected run on that frame."""
    image = photos["handDst.jpg"]
    tracker = _detector(max_hands=1)
    first = tracker.detect([image])[0][0]
    extent = float(np.ptp(first.keypoints_2d, axis=0).max())
    moved = _shifted(image, extent / 3)
    calls = tracker.stage_calls["landmark"]
    tracked = tracker.detect([moved])[0]
    assert tracker.stage_calls["landmark"] == calls + 2  # the tracked region, then the re-crop
    fresh = _detector(max_hands=1).detect([moved])[0]
    assert len(tracked) == len(fresh) == 1
    assert np.median(np.linalg.norm(tracked[0].keypoints_2d - fresh[0].keypoints_2d, axis=-1)) < STILL_TOL_PX


def test_overlapping_regions_are_one_hand_unless_their_handedness_labels_differ(photos, monkeypatch):
    """Two crops of one hand converge on it and give one hand; two overlapping readings with
    opposite handedness labels (a left and a right hand side by side) stay two hands."""
    from hand_pose_ros.detection import geometry

    hand = photos["handSrc.jpg"]
    detector = _detector(max_hands=2)
    first = detector.detect([hand])[0]
    assert len(first) == 1
    region = geometry.landmark_rects(first[0].keypoints_2d[None].astype(np.float32))[0].astype(np.float64)
    nudged = region + np.array([0.05 * region[2], 0.0, 0.0, 0.0, 0.0])  # overlapping by IoU ≈ 0.9
    detector.reset()
    assert len(detector.detect([hand], rois=[[region, nudged]])[0]) == 1
    reading = HandDetector._landmark_pass

    def second_read_as_the_other_hand(self, prepared, candidates, rects):
        out = reading(self, prepared, candidates, rects)
        if len(candidates) == 2:
            out[5][1] = 1.0 - out[5][1]  # the right-hand score of the second crop
        return out

    monkeypatch.setattr(HandDetector, "_landmark_pass", second_read_as_the_other_hand)
    detector.reset()
    both = detector.detect([hand], rois=[[region, nudged]])[0]
    assert sorted(h.handedness.name for h in both) == ["LEFT", "RIGHT"]
