"""HandDetector on real photos: outputs, handedness convention, batching, no-hand images."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.detection import HandDetector, HandDetectorConfig
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness, HandKeypoint
from hand_pose_ros.types import HandDetection2D

# Same result whatever else is in the batch, up to float rounding in the crop coordinates,
# which can flip a few crop pixels by one uint8 level (seen: 0.15 px); the parity tolerance.
BATCH_INVARIANCE_PX = 0.5
# A horizontally flipped photo gives the mirrored keypoints up to the network's own asymmetry
# (seen: 7 px on a 640-px photo), as a fraction of the image width.
MIRROR_TOL = 0.02
# Palm-facing right hands, fingers clearly visible (checked by eye; thumb on the correct side).
# Palms toward the camera with the thumb on the image's left when the fingers point up (handSrc
# and handDst are turned 90° clockwise): left hands, seen un-mirrored.
LEFT_HAND_PHOTOS = ("handSrc.jpg", "handDst.jpg", "Back_Projection_Theory0.jpg")


@pytest.fixture(scope="module")
def detector() -> HandDetector:
    return HandDetector(HandDetectorConfig(tracking=False))


def test_one_hand_per_photo_with_documented_fields(detector, photos):
    results = detector.detect(list(photos.values()))
    assert len(results) == len(photos)
    for (name, image), hands in zip(photos.items(), results):
        assert len(hands) == 1, name
        hand = hands[0]
        assert isinstance(hand, HandDetection2D)
        assert hand.keypoints_2d.shape == (NUM_KEYPOINTS, 2) and hand.keypoints_2d.dtype == np.float32
        assert hand.world_landmarks.shape == (NUM_KEYPOINTS, 3) and np.isfinite(hand.world_landmarks).all()
        assert 0.5 <= hand.presence <= 1.0 and 0.5 <= hand.handedness_score <= 1.0
        assert ((hand.keypoint_scores >= 0) & (hand.keypoint_scores <= 1)).all()
        h, w = image.shape[:2]
        wrist = hand.keypoints_2d[HandKeypoint.WRIST]
        assert -0.1 * w <= wrist[0] <= 1.1 * w and -0.1 * h <= wrist[1] <= 1.1 * h, name
        x0, y0, x1, y1 = hand.palm_box
        assert x0 < x1 and y0 < y1
        # World landmarks are metric: a hand spans 10-25 cm from wrist to middle fingertip.
        span = np.linalg.norm(hand.world_landmarks[HandKeypoint.MIDDLE_FINGER_TIP] - hand.world_landmarks[HandKeypoint.WRIST])
        assert 0.1 < span < 0.25, (name, span)


def test_handedness_is_the_persons_own_hand_in_unmirrored_images(detector, photos):
    images = [photos[name] for name in LEFT_HAND_PHOTOS]
    mirrored = [np.ascontiguousarray(image[:, ::-1]) for image in images]
    straight, flipped = detector.detect(images), detector.detect(mirrored)
    for name, image, hands, flipped_hands in zip(LEFT_HAND_PHOTOS, images, straight, flipped):
        assert hands[0].handedness == Handedness.LEFT, name
        assert flipped_hands[0].handedness == Handedness.RIGHT, name
        expected = hands[0].keypoints_2d.copy()
        expected[:, 0] = image.shape[1] - 1 - expected[:, 0]
        np.testing.assert_allclose(flipped_hands[0].keypoints_2d, expected, atol=MIRROR_TOL * image.shape[1])


def test_one_network_call_per_stage_and_batch_invariance(detector, photos):
    images = list(photos.values())
    singles = [detector.detect([image])[0] for image in images]
    before = dict(detector.stage_calls)
    together = detector.detect(images)
    assert detector.stage_calls == {k: v + 1 for k, v in before.items()}
    for single, batched in zip(singles, together):
        np.testing.assert_allclose(batched[0].keypoints_2d, single[0].keypoints_2d, atol=BATCH_INVARIANCE_PX)
        assert batched[0].presence == pytest.approx(single[0].presence, abs=1e-3)


@pytest.mark.parametrize("max_hands", [1, 2])
def test_two_hands_in_one_view(photos, max_hands):
    """A left hand and, 150 px to its right, its mirror image (a right hand) in one view."""
    left = photos["Back_Projection_Theory0.jpg"]
    gap = np.full((left.shape[0], 150, 3), np.median(left.reshape(-1, 3), axis=0), np.uint8)
    view = np.ascontiguousarray(np.hstack([left, gap, left[:, ::-1]]))
    detector = HandDetector(HandDetectorConfig(tracking=False, max_hands=max_hands))
    hands = detector.detect([view])[0]
    assert len(hands) == max_hands
    if max_hands == 2:
        by_x = sorted(hands, key=lambda h: h.keypoints_2d[HandKeypoint.WRIST, 0])
        assert [h.handedness for h in by_x] == [Handedness.LEFT, Handedness.RIGHT]
        # The mirrored hand's keypoints are the mirrored keypoints of the original one.
        mirrored = by_x[0].keypoints_2d.copy()
        mirrored[:, 0] = view.shape[1] - 1 - mirrored[:, 0]
        np.testing.assert_allclose(by_x[1].keypoints_2d, mirrored, atol=MIRROR_TOL * left.shape[1])


def test_no_hand_in_images_without_one(detector, no_hand_images):
    assert detector.detect(no_hand_images) == [[] for _ in no_hand_images]


def test_mixed_views_with_and_without_hands(detector, photos, no_hand_images):
    views = [no_hand_images[0], photos["handSrc.jpg"], no_hand_images[1]]
    results = detector.detect(views)
    assert [len(r) for r in results] == [0, 1, 0]


def test_lite_model_finds_the_same_hands(detector, photos):
    images = list(photos.values())[:2]
    full = detector.detect(images)
    lite = HandDetector(HandDetectorConfig(model="lite", tracking=False)).detect(images)
    for a, b, image in zip(full, lite, images):
        assert len(b) == 1
        # Different networks: agree within 5 % of the image size.
        assert np.abs(a[0].keypoints_2d - b[0].keypoints_2d).max() < 0.05 * max(image.shape[:2])


@pytest.mark.slow  # fp16 convolutions on CPU are emulated: ~15 s per call here
def test_fp16_close_to_fp32(detector, photos):
    images = [photos["Back_Projection_Theory0.jpg"]]
    fp32 = detector.detect(images)
    fp16 = HandDetector(HandDetectorConfig(precision="fp16", tracking=False)).detect(images)
    for a, b in zip(fp32, fp16):
        assert len(b) == 1
        np.testing.assert_allclose(b[0].keypoints_2d, a[0].keypoints_2d, atol=3.0)


def test_handedness_matches_the_rendered_hands(detector):
    """On the bundled sample (rendered left and right hands, un-mirrored), labels match the truth."""
    import json

    from hand_pose_ros import assets
    from hand_pose_ros.calibration import load_calibration
    from hand_pose_ros.dataset_layout import read_images

    sample = assets.sample_dir()
    truth = json.loads((sample / "ground_truth.json").read_text())
    rig = load_calibration(sample / "calibration.yaml")
    agree = disagree = 0
    for frame in truth["frames"][20::10]:
        images = read_images(sample, truth["cameras"], frame["frame"])
        detector.reset()
        for camera, hands in zip(rig.cameras, detector.detect(images)):
            for hand in hands:
                # The ground-truth hand whose projected wrist is nearest to the detected one.
                nearest = min(
                    frame["hands"],
                    key=lambda gt: np.linalg.norm(_project(camera, gt["keypoints_3d"][0]) - hand.keypoints_2d[0]),
                )
                if hand.handedness == Handedness.from_label(nearest["handedness"]):
                    agree += 1
                else:
                    disagree += 1
    assert agree >= 10 and agree >= 4 * disagree, (agree, disagree)


def _project(camera, point) -> np.ndarray:
    """World point → undistorted pixel (the sample's default cameras have no distortion)."""
    p = camera.projection_matrix @ np.append(np.asarray(point, float), 1.0)
    return p[:2] / p[2]
