"""The hand-graph-cnn real-world test set (Ge et al., CVPR 2019) as one camera's frames.

The set ships square crops (resized to 256×256) of 1280×720 frames, each crop's box in the
frame, one intrinsic matrix for the frame and 3D joints in centimetres in the camera frame
(read the folder's PROVENANCE.md). Each crop is pasted back, resized to its box, onto a black
1280×720 frame, so every image has the same camera ``K`` and a pipeline sees the original
geometry. Non-commercial research data: read it from ``../shared``, never copy it.

    images, K, joints = load_handgraphcnn(directory)   # lazy images; (3, 3); (N, 21, 3) m
    images.stamps                                      # (N,) seconds
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["FRAME_SIZE", "FRAME_RATE_HZ", "FrameImages", "load_handgraphcnn"]

# The frames the crops were cut from: width, height in pixels (PROVENANCE.md).
FRAME_SIZE = (1280, 720)
# The crops are frames of a video; the set keeps every frame's index (the kept files every 3rd).
# At the usual webcam rate this gives the time stamps a tracker needs (seconds = index / rate).
FRAME_RATE_HZ = 30.0
_CM_TO_M = 0.01


class FrameImages(Sequence):
    """(N,) lazy RGB uint8 (720, 1280, 3) frames: image n is crop n pasted into its box.

    Attributes:
        paths: the N crops' files.
        boxes: (N, 4) int px, x, y, w, h of each crop in the frame.
        stamps: (N,) float64 seconds, each frame's index in the video / ``FRAME_RATE_HZ``.
    """

    def __init__(self, paths: list[pathlib.Path], boxes: np.ndarray, stamps: np.ndarray) -> None:
        self.paths = paths
        self.boxes = boxes
        self.stamps = stamps

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, n):  # type: ignore[override]
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(len(self)))]
        crop = cv2.imread(str(self.paths[n]), cv2.IMREAD_COLOR)
        if crop is None:
            raise ValueError(f"handgraphcnn: cannot read image {self.paths[n]}")
        x, y, w, h = (int(v) for v in self.boxes[n])
        frame = np.zeros((FRAME_SIZE[1], FRAME_SIZE[0], 3), np.uint8)
        # The box may reach past the frame's edge: paste the part inside.
        resized = cv2.cvtColor(cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, FRAME_SIZE[0]), min(y + h, FRAME_SIZE[1])
        frame[y0:y1, x0:x1] = resized[y0 - y:y1 - y, x0 - x:x1 - x]
        return frame


def load_handgraphcnn(directory: str | pathlib.Path) -> tuple[FrameImages, np.ndarray, np.ndarray]:
    """The kept frames of the set in ``directory`` → (images, K, joints).

    Returns:
        images: (N,) lazy RGB uint8 (720, 1280, 3) frames (``FrameImages``, with their ``stamps``).
        K: (3, 3) float64 px, the frame's intrinsics (no distortion).
        joints: (N, 21, 3) float64 metres, camera optical frame, MediaPipe's keypoint order; a left hand.

    Raises:
        ValueError: a missing file, or intrinsics that differ between frames.
    """
    from scipy.io import loadmat

    directory = pathlib.Path(directory)
    for name in ("params.mat", "pose_gt.mat", "images"):
        if not (directory / name).exists():
            raise ValueError(f"handgraphcnn: {directory / name} is missing (expected the folder described in PROVENANCE.md)")
    params = loadmat(directory / "params.mat")
    pose = loadmat(directory / "pose_gt.mat")["pose_gt"].astype(np.float64)  # (583, 21, 3) cm
    cam = params["cam_param"].astype(np.float64)  # (583, 4) fx, fy, u0, v0
    if not np.allclose(cam, cam[0]):
        raise ValueError(f"handgraphcnn: expected one camera for all frames, got {len(np.unique(cam, axis=0))} different intrinsics")
    paths = sorted((directory / "images").glob("*.jpg"))
    index = np.array([int(p.stem) for p in paths])  # into the full set's 583 entries
    fx, fy, u0, v0 = cam[0]
    K = np.array([[fx, 0.0, u0], [0.0, fy, v0], [0.0, 0.0, 1.0]])
    images = FrameImages(paths, params["bbox"][index].astype(int), index / FRAME_RATE_HZ)
    return images, K, _CM_TO_M * pose[index]
