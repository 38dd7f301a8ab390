"""Shared fixtures: the real opencv-doc hand photos, images without a hand, the reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hand_pose_ros.assets import hand_photos_dir
from hand_pose_ros.tools.setup_assets import HAND_PHOTOS as PHOTO_NAMES  # what the set-up fetched


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """name → (H, W, 3) uint8 RGB, the five real hand photos from Debian's opencv-doc."""
    folder = hand_photos_dir()
    return {name: cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB) for name in PHOTO_NAMES}


@pytest.fixture(scope="session")
def no_hand_images() -> list[np.ndarray]:
    """Images with no hand: a colour gradient, uniform noise, a flat grey wall."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640]
    gradient = np.stack([x * 255 / 639, y * 255 / 479, np.full_like(x, 128.0)], -1).astype(np.uint8)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    grey = np.full((360, 480, 3), 127, np.uint8)
    return [gradient, noise, grey]


@pytest.fixture(scope="session")
def reference():
    from hand_pose_ros.tools.reference import ReferencePipeline

    return ReferencePipeline()
