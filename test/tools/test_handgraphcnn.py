"""The hand-graph-cnn converter: frames with one camera whose ground truth lands on the pasted crops."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from hand_pose_ros.tools.datasets.handgraphcnn import FRAME_SIZE, load_handgraphcnn

DATA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "handgraphcnn_realworld"
# The kept frames (every 3rd of 583, PROVENANCE.md).
KEPT_FRAMES = 195


def check_dataset(directory: pathlib.Path) -> None:
    images, K, joints = load_handgraphcnn(directory)
    assert len(images) == KEPT_FRAMES and joints.shape == (KEPT_FRAMES, 21, 3)
    assert np.all(np.diff(images.stamps) > 0)
    # Metres in the camera frame, in front of it (PROVENANCE: hand depth 37-48 cm; joints 28-48 cm).
    assert 0.2 < joints[..., 2].min() and joints[..., 2].max() < 0.6
    for n in (0, KEPT_FRAMES // 2, KEPT_FRAMES - 1):
        frame = images[n]
        assert frame.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3) and frame.dtype == np.uint8
        x, y, w, h = images.boxes[n]
        uv = (joints[n] @ K.T)[:, :2] / (joints[n] @ K.T)[:, 2:]  # (21, 2) px
        assert np.all((uv >= [x, y]) & (uv <= [x + w, y + h])), n  # the hand is inside its crop
        outside = frame.copy()
        outside[max(y, 0):y + h, max(x, 0):x + w] = 0
        assert not outside.any() and frame[y:y + h, x:x + w].mean() > 10  # pasted there, black elsewhere


@pytest.mark.skipif(not DATA.is_dir(), reason=f"real recordings not here ({DATA})")
def test_frames_camera_and_ground_truth_agree() -> None:
    check_dataset(DATA)


def test_a_missing_folder_is_named(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="params.mat is missing"):
        load_handgraphcnn(tmp_path)
