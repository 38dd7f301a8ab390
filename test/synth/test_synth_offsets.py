"""The WebXR → MediaPipe offset table against MediaPipe's real networks on fresh renders."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.keypoints import HandKeypoint
from hand_pose_ros.synth.offsets import measure_offsets

# Joints whose offset is large (wrist ≈ 19 mm, MCPs ≈ 6 mm): the table must move the ground
# truth towards where MediaPipe puts them. (PIP/DIP/tip offsets are within its 2D noise.)
_K = HandKeypoint
LARGE_OFFSETS = [_K.WRIST, _K.INDEX_FINGER_MCP, _K.MIDDLE_FINGER_MCP, _K.PINKY_MCP]


@pytest.fixture(scope="module")
def measured():
    from hand_pose_ros.detection import HandDetector, HandDetectorConfig

    detector = HandDetector(HandDetectorConfig(tracking=False))
    return measure_offsets(handedness="Right", frames=6, cameras=4, seed=123, detector=detector)


@pytest.mark.slow
def test_mediapipe_finds_the_rendered_hand(measured) -> None:
    assert measured.views_found / measured.views_total >= 0.6


@pytest.mark.slow
def test_offsets_bring_ground_truth_to_mediapipes_keypoints(measured) -> None:
    raw = np.median(measured.residual_px[:, LARGE_OFFSETS], axis=0)
    with_table = np.median(measured.residual_offset_px[:, LARGE_OFFSETS], axis=0)
    assert with_table.mean() < 0.85 * raw.mean()  # pixels, over the views that found the hand
    assert with_table[0] < raw[0]  # the wrist, the largest offset
    assert np.median(measured.residual_offset_px) < np.median(measured.residual_px)


@pytest.mark.slow
def test_wrist_offset_measured_again_matches_the_table(measured) -> None:
    from hand_pose_ros.handmodel import MEDIAPIPE_OFFSETS_M

    wrist = measured.median[_K.WRIST]
    table = MEDIAPIPE_OFFSETS_M[_K.WRIST]
    assert np.abs(wrist[1:] - table[1:]).max() < 0.006  # metres, Y (palm) and Z (fingers)
