"""Hand3D ↔ HandPose/HandPoseArray, matrices → poses: NaN for missing joints through CDR."""

from __future__ import annotations

import numpy as np
import pytest
from hand_helpers import random_hand as make_hand
from rclpy.serialization import deserialize_message, serialize_message

from hand_pose_ros.keypoints import HandKeypoint, Handedness
from hand_pose_ros.msg import HandPoseArray
from hand_pose_ros.ros.conversions import hands_to_array_msg, matrix_to_pose, msg_to_hand, stamp_to_ns
from hand_pose_ros.types import KeypointSource


def test_array_message_round_trips_through_cdr_with_nan_for_missing():
    hands = [make_hand(1, Handedness.LEFT, missing=[HandKeypoint.PINKY_TIP]), make_hand(2, Handedness.RIGHT)]
    msg = hands_to_array_msg(
        hands, stamp_ns=12_345_678_901, world_frame="world", camera_frame_ids=["a", "b"],
        camera_stamps_ns=[12_345_678_901, None], sync_spread=0.002, latency=0.03,
    )
    back = deserialize_message(serialize_message(msg), HandPoseArray)
    assert stamp_to_ns(back.header.stamp) == 12_345_678_901 and back.header.frame_id == "world"
    assert list(back.camera_used) == [True, False]
    first = msg_to_hand(back.hands[0])
    np.testing.assert_allclose(first.keypoints_3d, hands[0].keypoints_3d)  # NaN rows compare equal
    assert back.hands[0].keypoint_confidence[HandKeypoint.PINKY_TIP] == 0
    assert back.hands[0].keypoint_source[HandKeypoint.PINKY_TIP] == KeypointSource.MISSING
    assert first.handedness == Handedness.LEFT and first.age == 7


def test_matrix_to_pose_quaternion():
    T = np.eye(4)
    T[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # 90° about z
    T[:3, 3] = [1, 2, 3]
    pose = matrix_to_pose(T)
    assert (pose.position.x, pose.position.y, pose.position.z) == (1, 2, 3)
    assert pose.orientation.z == pytest.approx(np.sqrt(0.5)) and pose.orientation.w == pytest.approx(np.sqrt(0.5))
    assert np.isnan(matrix_to_pose(np.full((4, 4), np.nan)).position.x)
