"""Where a dataset directory keeps what (the format is docs/dataset.md), defined once.

    DIR/calibration.yaml                  CALIBRATION_FILE (hand_pose_ros.calibration format)
    DIR/images/<camera>/<frame:06d>.jpg   image_path(DIR, camera, frame)
    DIR/depth/<camera>/<frame:06d>.png    depth_path(DIR, camera, frame) (optional: 16-bit PNG,
                                          millimetres, 0 = none, aligned to the colour image)
    DIR/ground_truth.json                 GROUND_TRUTH_FILE
    DIR/meshes.npz                        MESHES_FILE (optional)
    DIR/bag/                              BAG_DIR (optional rosbag2 MCAP)

In the bag camera ``<camera>`` publishes ``image_topic(camera)`` (``/<camera>/image_raw``) and
``camera_info_topic(camera)``, the image_pipeline convention, its aligned depth (if any) on
``depth_topic(camera)`` (``/<camera>/aligned_depth_to_color/image_raw``, RealSense's name), and
the extrinsics go on ``TF_STATIC_TOPIC``.

The synthetic writer and its bag writer produce this layout; the evaluation, the benchmarks,
the demo and the tests read it. Frame ``t`` is stamped ``stamp_ns(t, fps)``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np

from hand_pose_ros.timing import NS_PER_S

__all__ = [
    "BAG_DIR",
    "CALIBRATION_FILE",
    "DEPTH_DIR",
    "EPOCH_NS",
    "GROUND_TRUTH_FILE",
    "IMAGES_DIR",
    "MESHES_FILE",
    "TF_STATIC_TOPIC",
    "camera_info_topic",
    "depth_path",
    "depth_topic",
    "ground_truth_path",
    "image_path",
    "image_topic",
    "read_images",
    "stamp_ns",
]

CALIBRATION_FILE = "calibration.yaml"
GROUND_TRUTH_FILE = "ground_truth.json"
MESHES_FILE = "meshes.npz"
IMAGES_DIR = "images"
DEPTH_DIR = "depth"
BAG_DIR = "bag"
TF_STATIC_TOPIC = "/tf_static"
# Stamps start at a fixed, realistic wall-clock time (2026-01-01T00:00:00Z) so that
# recordings look like real ones and stay deterministic.
EPOCH_NS = 1_767_225_600 * NS_PER_S


def stamp_ns(frame: int, fps: float) -> int:
    """Integer nanoseconds of ``frame``: ``EPOCH_NS + frame / fps``."""
    return EPOCH_NS + int(round(frame * NS_PER_S / fps))


def image_topic(camera: str) -> str:
    """The topic camera ``camera``'s images are recorded on: ``/<camera>/image_raw``."""
    return f"/{camera}/image_raw"


def camera_info_topic(camera: str) -> str:
    """The topic camera ``camera``'s CameraInfo is recorded on: ``/<camera>/camera_info``."""
    return f"/{camera}/camera_info"


def depth_topic(camera: str) -> str:
    """The topic camera ``camera``'s aligned depth is recorded on: ``/<camera>/aligned_depth_to_color/image_raw``."""
    return f"/{camera}/aligned_depth_to_color/image_raw"


def depth_path(dataset: str | os.PathLike[str], camera: str, frame: int) -> pathlib.Path:
    """``DIR/depth/<camera>/<frame:06d>.png``: camera ``camera``'s aligned depth at frame ``frame``
    (16-bit PNG, millimetres along the optical axis, 0 = no measurement)."""
    return pathlib.Path(dataset) / DEPTH_DIR / camera / f"{int(frame):06d}.png"


def image_path(dataset: str | os.PathLike[str], camera: str, frame: int) -> pathlib.Path:
    """``DIR/images/<camera>/<frame:06d>.jpg``: the JPEG camera ``camera`` took at frame ``frame``."""
    return pathlib.Path(dataset) / IMAGES_DIR / camera / f"{int(frame):06d}.jpg"


def ground_truth_path(path: str | os.PathLike[str]) -> pathlib.Path:
    """The ground-truth file of ``path``: the file itself, or ``GROUND_TRUTH_FILE`` in a dataset directory."""
    path = pathlib.Path(path)
    return path / GROUND_TRUTH_FILE if path.is_dir() else path


def read_images(dataset: str | os.PathLike[str], cameras: Sequence[str], frame: int) -> list[np.ndarray]:
    """The images of frame ``frame`` in camera order: per camera ``(H, W, 3)`` uint8 RGB.

    Raises:
        FileNotFoundError: naming the image that is missing or unreadable.
    """
    import cv2

    images = []
    for camera in cameras:
        path = image_path(dataset, camera, frame)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"image {path} is missing or unreadable")
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return images
