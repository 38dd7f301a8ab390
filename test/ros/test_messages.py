"""Hand3D → HandPose/HandPoseArray and MarkerArray: NaN for missing joints, stable ids, DELETE."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from hand_pose_ros.keypoints import HAND_EDGES, HandKeypoint, Handedness
from hand_pose_ros.msg import HandPoseArray
from hand_pose_ros.ros.conversions import hands_to_array_msg, matrix_to_pose, msg_to_hand, stamp_to_ns
from hand_pose_ros.ros.markers import HandMarkers
from hand_pose_ros.types import Hand3D, KeypointSource


def make_hand(track_id: int, handedness: Handedness, missing=()) -> Hand3D:
    rng = np.random.default_rng(track_id)
    points = rng.uniform(-0.2, 0.2, (21, 3))
    points[list(missing)] = np.nan
    source = np.full(21, KeypointSource.TRIANGULATED, np.uint8)
    source[list(missing)] = KeypointSource.MISSING
    return Hand3D(
        track_id=track_id, handedness=handedness, handedness_score=0.9, presence=0.95,
        keypoints_3d=points, keypoint_confidence=np.full(21, 0.8, np.float32), num_views=np.full(21, 3),
        reprojection_error_px=np.full(21, 1.5, np.float32), keypoint_source=source, age=7,
    )


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


def test_markers_stable_ids_skip_missing_and_delete_lost_hands():
    markers = HandMarkers()
    header = Header(frame_id="world")
    left, right = make_hand(4, Handedness.LEFT, missing=[HandKeypoint.WRIST]), make_hand(9, Handedness.RIGHT)
    first = markers.update([left, right], header)
    by_key = {(m.ns, m.id): m for m in first.markers}
    assert set(by_key) == {("joints", 4), ("bones", 4), ("joints", 9), ("bones", 9), ("labels", 9)}
    assert len(by_key[("joints", 4)].points) == 20  # wrist missing: not drawn
    wrist_edges = sum(HandKeypoint.WRIST in e for e in HAND_EDGES)
    assert len(by_key[("bones", 4)].points) == 2 * (len(HAND_EDGES) - wrist_edges)
    assert by_key[("joints", 4)].color != by_key[("joints", 9)].color
    assert all(np.isfinite([p.x for p in m.points]).all() for m in first.markers)
    second = markers.update([right], header)
    deletes = {(m.ns, m.id) for m in second.markers if m.action == Marker.DELETE}
    assert deletes == {("joints", 4), ("bones", 4)}
    assert markers.update([right], header).markers and not any(
        m.action == Marker.DELETE for m in markers.update([right], header).markers
    )
