"""The dataset layout module states what docs/dataset.md documents, once."""

from __future__ import annotations

import pathlib

import cv2
import numpy as np
import pytest

from hand_pose_ros.dataset_layout import (
    BAG_DIR, CALIBRATION_FILE, EPOCH_NS, GROUND_TRUTH_FILE, MESHES_FILE, TF_STATIC_TOPIC, camera_info_topic,
    ground_truth_path, image_path, image_topic, read_images, stamp_ns,
)
from hand_pose_ros.timing import NS_PER_S

JPEG_LEVELS = 8  # how far JPEG may move a flat 8-bit colour


def test_names_are_the_documented_ones(repo_root: pathlib.Path) -> None:
    documented = (repo_root / "docs" / "dataset.md").read_text(encoding="utf-8")
    for name in (CALIBRATION_FILE, GROUND_TRUTH_FILE, MESHES_FILE, f"{BAG_DIR}/", "images/<camera>/<frame:06d>.jpg"):
        assert f"DIR/{name}" in documented
    assert image_path("/d", "cam2", 7) == pathlib.Path("/d/images/cam2/000007.jpg")
    # The bag's topics, as the table in docs/dataset.md lists them.
    for topic in (image_topic("cam{i}"), camera_info_topic("cam{i}"), TF_STATIC_TOPIC):
        assert f"| `{topic}` |" in documented


def test_stamps_start_at_the_epoch_and_are_exact_nanoseconds() -> None:
    assert EPOCH_NS == 1_767_225_600 * NS_PER_S  # 2026-01-01T00:00:00Z
    assert stamp_ns(0, 30.0) == EPOCH_NS
    assert stamp_ns(3, 30.0) == EPOCH_NS + 100_000_000
    assert isinstance(stamp_ns(1, 30.0), int)


def test_ground_truth_path_accepts_the_file_or_its_directory(tmp_path: pathlib.Path) -> None:
    assert ground_truth_path(tmp_path) == tmp_path / GROUND_TRUTH_FILE
    assert ground_truth_path(tmp_path / "other.json") == tmp_path / "other.json"


def test_read_images_gives_rgb_in_camera_order_and_names_a_missing_file(tmp_path: pathlib.Path) -> None:
    reds = {"b": 200, "a": 100}  # far apart: JPEG moves a flat colour by a few levels at most
    for camera, red in reds.items():
        path = image_path(tmp_path, camera, 0)
        path.parent.mkdir(parents=True)
        bgr = np.zeros((8, 8, 3), np.uint8)
        bgr[..., 2] = red  # OpenCV's order: blue, green, red
        assert cv2.imwrite(str(path), bgr)
    images = read_images(tmp_path, ["b", "a"], 0)
    assert [im.shape for im in images] == [(8, 8, 3), (8, 8, 3)]
    for image, red in zip(images, reds.values()):
        assert abs(int(np.median(image[..., 0])) - red) <= JPEG_LEVELS and np.median(image[..., 2]) <= JPEG_LEVELS
    with pytest.raises(FileNotFoundError, match="cam9"):
        read_images(tmp_path, ["cam9"], 0)
