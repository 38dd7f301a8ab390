"""MediaPipe → MANO keypoint mapping: offsets in the hand's own frame, both hands, missing palms."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.fusion import FusionConfig, wrist_pose
from hand_pose_ros.keypoint_definitions import (
    KEYPOINT_DEFINITIONS,
    MEDIAPIPE_TO_MANO_OFFSETS_M,
    mediapipe_to_mano,
    to_mano,
)
from hand_pose_ros.keypoints import NUM_KEYPOINTS, HandKeypoint, Handedness
from hand_pose_ros.types import Hand3D, KeypointSource


def _random_rigid(rng) -> tuple[np.ndarray, np.ndarray]:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q)), rng.normal(size=3)


def _right_hand() -> np.ndarray:
    """(21, 3) m, a flat right hand, palm facing −z, fingers along +x, thumb towards +y."""
    points = np.zeros((NUM_KEYPOINTS, 3))
    for f, base_y in enumerate((0.03, 0.02, 0.0, -0.02, -0.035)):
        for j in range(4):
            points[1 + 4 * f + j] = [0.03 + 0.06 * (f > 0) + 0.025 * j, base_y, 0.0]
    return points


def test_offsets_move_with_the_hand(rng=np.random.default_rng(3)) -> None:
    """The mapping commutes with a rigid motion: offsets are in the hand's frame, not the world's."""
    hand = _right_hand()
    mapped = mediapipe_to_mano(hand, Handedness.RIGHT)
    R, t = _random_rigid(rng)
    moved = mediapipe_to_mano(hand @ R.T + t, Handedness.RIGHT)
    assert np.allclose(moved, mapped @ R.T + t, atol=1e-12)
    frame = wrist_pose(hand, Handedness.RIGHT)
    local = (mapped - hand) @ frame[:3, :3]
    assert np.allclose(local, MEDIAPIPE_TO_MANO_OFFSETS_M, atol=1e-12)


def test_left_hand_takes_the_mirrored_offsets() -> None:
    """A mirrored right hand labelled left maps to the mirrored MANO joints."""
    right = _right_hand()
    mirror = np.diag([1.0, 1.0, -1.0])
    left = right @ mirror
    assert np.allclose(mediapipe_to_mano(left, Handedness.LEFT), mediapipe_to_mano(right, Handedness.RIGHT) @ mirror,
                       atol=1e-12)


def test_to_mano_keeps_the_hand_and_marks_unmappable_ones_missing() -> None:
    points = _right_hand()
    hand = Hand3D(track_id=4, handedness=Handedness.RIGHT, handedness_score=0.9, presence=0.8,
                  keypoints_3d=points, keypoint_confidence=np.full(NUM_KEYPOINTS, 0.7),
                  num_views=np.full(NUM_KEYPOINTS, 3), reprojection_error_px=np.ones(NUM_KEYPOINTS),
                  keypoint_source=np.full(NUM_KEYPOINTS, KeypointSource.TRIANGULATED))
    no_palm = points.copy()
    no_palm[HandKeypoint.MIDDLE_FINGER_MCP] = np.nan
    broken = Hand3D(**{**hand.__dict__, "keypoints_3d": no_palm})
    mapped, unmapped = to_mano([hand, broken])
    assert mapped.track_id == 4 and np.allclose(mapped.keypoint_confidence, 0.7)
    assert not np.allclose(mapped.keypoints_3d, points)
    assert np.array_equal(hand.keypoints_3d, points)  # the input is not changed
    assert np.isnan(unmapped.keypoints_3d).all()
    assert (unmapped.keypoint_confidence == 0).all() and (unmapped.keypoint_source == KeypointSource.MISSING).all()


def test_definition_choice_is_checked() -> None:
    assert KEYPOINT_DEFINITIONS == ("mediapipe", "mano")
    assert FusionConfig(keypoint_definition="mano").keypoint_definition == "mano"
    with pytest.raises(ValueError, match="FusionConfig.keypoint_definition"):
        FusionConfig(keypoint_definition="freihand")


def test_message_constants_match_the_definitions() -> None:
    from hand_pose_ros.msg import HandPose

    if not hasattr(HandPose, "keypoint_definition"):
        # The venv's messages are shared by every checkout on this machine and are rebuilt from
        # whichever checkout ran the cmake step last.
        pytest.skip("the installed HandPose was built from msg/ without keypoint_definition; rebuild the messages")
    for value, name in enumerate(KEYPOINT_DEFINITIONS):
        assert getattr(HandPose, f"KEYPOINTS_{name.upper()}") == value
    assert HandPose().keypoint_definition == HandPose.KEYPOINTS_MEDIAPIPE
