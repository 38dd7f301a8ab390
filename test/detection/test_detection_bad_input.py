"""Bad images and settings: a clear error naming the view/field, or handled; never a crash."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hand_pose_ros.detection import HandDetector, HandDetectorConfig

# Downscaled 8K vs the original photo, in original-photo pixels (resampling twice).
EIGHT_K_TOL_PX = 2.0


@pytest.fixture(scope="module")
def detector() -> HandDetector:
    return HandDetector(HandDetectorConfig(tracking=False))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 0, 3), np.uint8), "empty image"),
        (np.zeros((0, 640, 3), np.uint8), "empty image"),
        (np.zeros((480, 0, 3), np.uint8), "empty image"),
        (np.zeros((48, 64, 3), np.float32), "dtype uint8"),
        (np.zeros((48, 64, 3), np.uint16), "dtype uint8"),
        (np.zeros((48, 64, 2), np.uint8), "channels"),
        (np.zeros((48, 64, 5), np.uint8), "channels"),
        (np.zeros((48,), np.uint8), "shape"),
        (np.zeros((2, 48, 64, 3), np.uint8), "shape"),
        ("not an image", "numpy array"),
    ],
)
def test_bad_view_gives_error_naming_the_view(detector, photos, bad, message):
    with pytest.raises(ValueError, match=rf"view 1: .*{message}"):
        detector.detect([photos["handSrc.jpg"], bad])


def test_none_is_a_missing_view_with_no_detections(detector, photos):
    """None is not a bad image but a camera without one this time (HandDetector.detect)."""
    found = detector.detect([None, photos["handSrc.jpg"], None])
    assert found[0] == [] and found[2] == [] and len(found[1]) == 1
    assert detector.detect([None, None]) == [[], []]
    with pytest.raises(ValueError, match="view 2: .*numpy array"):  # named by its own index
        detector.detect([None, photos["handSrc.jpg"], "not an image"])


def test_single_array_instead_of_a_list_is_refused(detector, photos):
    with pytest.raises(ValueError, match="sequence of V views"):
        detector.detect(photos["handSrc.jpg"])


def test_no_views_gives_no_results(detector):
    assert detector.detect([]) == []


def test_grayscale_and_rgba_are_converted(detector, photos):
    # The hand on a dark background: the one photo whose grey version still shows a hand to
    # the palm detector (on the others skin and background have similar grey levels).
    rgb = photos["Hull_Original_Image.jpg"]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    base, from_gray, from_gray1, from_rgba = detector.detect([rgb, gray, gray[..., None], rgba])
    assert len(from_gray) == len(from_gray1) == 1
    np.testing.assert_allclose(from_rgba[0].keypoints_2d, base[0].keypoints_2d, atol=1e-3)
    # Grey loses colour cues, not the hand: within 5 % of the image width.
    assert np.abs(from_gray[0].keypoints_2d - base[0].keypoints_2d).max() < 0.05 * rgb.shape[1]


def test_8k_image_is_downscaled_and_answers_in_its_own_pixels(detector, photos):
    small = photos["handSrc.jpg"]  # 640 × 480
    factor = 12
    huge = cv2.resize(small, (small.shape[1] * factor, small.shape[0] * factor), interpolation=cv2.INTER_LINEAR)
    assert huge.shape[1] >= 7680
    base, big = detector.detect([small, huge])
    assert len(big) == 1
    # Pixel centres: x_small = (x_big + 0.5) / factor - 0.5.
    np.testing.assert_allclose((big[0].keypoints_2d + 0.5) / factor - 0.5, base[0].keypoints_2d, atol=EIGHT_K_TOL_PX)


def test_tiny_images_do_not_crash(detector):
    tiny = [np.full((1, 1, 3), 200, np.uint8), np.zeros((3, 500, 3), np.uint8)]
    assert detector.detect(tiny) == [[], []]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"backend": "tflite"}, "backend"),
        ({"fallback": ("torch", "cudnn")}, "fallback"),
        ({"device": "gpu"}, "device"),
        ({"precision": "int8"}, "precision"),
        ({"model": "heavy"}, "model"),
        ({"max_hands": 0}, "max_hands"),
        ({"max_hands": 2.5}, "max_hands"),
        ({"redetect_interval": 0}, "redetect_interval"),
        ({"min_presence": 1.5}, "min_presence"),
        ({"min_detection_confidence": -0.1}, "min_detection_confidence"),
        ({"tracking": "yes"}, "tracking"),
        ({"num_threads": 0}, "num_threads"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"HandDetectorConfig\.{field}(\[\d+\])?: expected"):
        HandDetectorConfig(**kwargs)


def test_config_is_frozen_and_keyword_only():
    config = HandDetectorConfig()
    with pytest.raises(Exception):
        config.max_hands = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        HandDetectorConfig("torch")  # type: ignore[misc]
