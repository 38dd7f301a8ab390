"""HandState / HandStateArray: constants match the Python enums, states round-trip through CDR."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header

from hand_pose_ros.handmodel import HandModel, named_pose
from hand_pose_ros.handstate import HandStateEstimator, PinchEvent
from hand_pose_ros.handstate.signals import FINGER_NAMES
from hand_pose_ros.keypoints import HandKeypoint, Handedness
from hand_pose_ros.msg import HandState, HandStateArray
from hand_pose_ros.ros.conversions import ns_to_stamp, stamp_to_ns
from hand_pose_ros.ros.state_msgs import states_to_array_msg
from hand_pose_ros.tools.bench.handstate import hand_from_keypoints


def test_constants_match_python_enums():
    for hand in Handedness:
        assert getattr(HandState, hand.name) == hand.value
    for event in PinchEvent:
        assert getattr(HandState, f"PINCH_{event.name}") == event.value
    assert [getattr(HandState, name.upper()) for name in FINGER_NAMES] == list(range(len(FINGER_NAMES)))
    assert HandState.NUM_FINGERS == len(FINGER_NAMES)


def test_states_round_trip_with_nan_for_missing_values():
    model = HandModel.load("Right")
    point = model(named_pose("point"), np.eye(4), skin=False).keypoints
    holed = model(named_pose("pinch"), np.eye(4), skin=False).keypoints
    holed[HandKeypoint.THUMB_TIP] = np.nan
    estimator = HandStateEstimator()
    hands = lambda shift: [hand_from_keypoints(point + shift, 3, 1), hand_from_keypoints(holed + shift, 8, 0)]  # noqa: E731
    estimator.update(hands(0.0), 0)
    states = estimator.update(hands(0.01), 33_333_333)
    header = Header(stamp=ns_to_stamp(1_700_000_000_123_456_789), frame_id="world")
    back = deserialize_message(serialize_message(states_to_array_msg(states, header)), HandStateArray)
    assert stamp_to_ns(back.header.stamp) == 1_700_000_000_123_456_789 and back.header.frame_id == "world"
    assert [(h.id, h.handedness) for h in back.hands] == [(3, HandState.RIGHT), (8, HandState.LEFT)]
    pointing, missing = back.hands
    assert pointing.pointing and pointing.speed_valid and pointing.palm_valid and all(pointing.curl_valid)
    direction = np.array([pointing.ray_direction.x, pointing.ray_direction.y, pointing.ray_direction.z])
    np.testing.assert_allclose(direction, states[0].ray_direction)
    assert pointing.speed == pytest.approx(states[0].speed_mps, rel=1e-6)
    np.testing.assert_allclose(pointing.finger_curl, states[0].finger_curl, rtol=1e-6)
    position = pointing.wrist_pose.position
    np.testing.assert_allclose([position.x, position.y, position.z], states[0].world_T_wrist[:3, 3])
    # The thumb tip is missing: NaN values, false flags, confidence 0 (not zeros that look real).
    assert not missing.pinch_valid and np.isnan(missing.pinch_distance) and np.isnan(missing.pinch_strength)
    assert missing.pinch_confidence == 0.0 and not missing.aperture_valid and np.isnan(missing.grasp_aperture)
    assert not missing.curl_valid[HandState.THUMB] and np.isnan(missing.finger_curl[HandState.THUMB])
    assert not missing.pointing and np.isnan(missing.ray_direction.x) and missing.pinch_event == HandState.PINCH_NONE
