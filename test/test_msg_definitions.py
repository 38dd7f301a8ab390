"""HandPose / HandPoseArray: serialization, field checks, and real DDS between processes."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest

from hand_pose_ros.keypoints import HandKeypoint, Handedness
from hand_pose_ros.types import KeypointSource

# Discovery on one machine takes ~2.6 s; a message that has not arrived after this is lost.
RECEIVE_TIMEOUT_S = 30.0


def make_array(seed: int = 1):
    """A HandPoseArray with every field set to a distinct value (float32 fields exactly representable)."""
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import Point

    from hand_pose_ros.msg import HandPose, HandPoseArray

    msg = HandPoseArray()
    msg.header.frame_id = "world"
    msg.header.stamp = Time(sec=1_700_000_000 + seed, nanosec=123_456_789)
    for h in range(2):
        hand = HandPose()
        hand.id = 7 + h
        hand.handedness = HandPose.LEFT if h == 0 else HandPose.RIGHT
        hand.handedness_confidence = 0.875
        hand.presence_confidence = 0.9375
        hand.monocular = h == 1
        hand.depth_stddev = 0.015625 * h
        hand.age = 40 + h
        hand.keypoints = [Point(x=0.01 * j + h, y=-0.02 * j, z=0.5 + seed) for j in range(21)]
        hand.keypoint_confidence = [j / 32.0 for j in range(21)]
        hand.keypoint_num_views = [j % 5 for j in range(21)]
        hand.keypoint_reprojection_error = [0.5 * j for j in range(21)]
        hand.keypoint_source = [j % 5 for j in range(21)]
        hand.wrist_pose.position.x = 0.25
        hand.wrist_pose.orientation.w = 1.0
        msg.hands.append(hand)
    msg.camera_frame_ids = ["cam0_optical_frame", "cam1_optical_frame"]
    msg.camera_stamps = [Time(sec=1_700_000_000, nanosec=1), Time(sec=1_700_000_000, nanosec=2)]
    msg.camera_used = [True, False]
    msg.sync_spread = 0.004
    msg.latency = 0.031
    return msg


def test_constants_match_python_enums():
    from hand_pose_ros.msg import HandPose

    for keypoint in HandKeypoint:
        assert getattr(HandPose, keypoint.name) == keypoint.value
    assert HandPose.NUM_KEYPOINTS == len(HandKeypoint)
    for hand in Handedness:
        assert getattr(HandPose, hand.name) == hand.value
    for source in KeypointSource:
        assert getattr(HandPose, f"SOURCE_{source.name}") == source.value


def test_serialization_round_trip():
    from rclpy.serialization import deserialize_message, serialize_message

    from hand_pose_ros.msg import HandPoseArray

    msg = make_array()
    data = serialize_message(msg)
    back = deserialize_message(data, HandPoseArray)
    assert back == msg
    assert back.hands[1].keypoints[20].x == pytest.approx(0.2 + 1)
    # NaN marks a missing keypoint and must survive the trip.
    msg.hands[0].keypoints[3].x = math.nan
    back = deserialize_message(serialize_message(msg), HandPoseArray)
    assert math.isnan(back.hands[0].keypoints[3].x)


@pytest.mark.parametrize("length", [0, 20, 22])
def test_wrong_length_keypoints_refused_in_a_child_process(ros_env, length):
    """A wrong-length fixed array is a Python error (not a segfault), even when serialized."""
    code = textwrap.dedent(
        f"""
        from geometry_msgs.msg import Point
        from rclpy.serialization import serialize_message
        from hand_pose_ros.msg import HandPose
        hand = HandPose()
        try:
            hand.keypoints = [Point() for _ in range({length})]
        except AssertionError as exc:
            print("refused:", exc)
            raise SystemExit(3)
        serialize_message(hand)
        print("accepted")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], env=ros_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    assert "keypoints" in result.stdout


PUBLISHER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {test_dir!r})
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
    from test_msg_definitions import make_array
    from hand_pose_ros.msg import HandPoseArray
    rclpy.init()
    node = rclpy.create_node("hand_pose_test_publisher")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
    pub = node.create_publisher(HandPoseArray, "/hands/pose_test", qos)
    deadline = time.monotonic() + {timeout}
    while time.monotonic() < deadline:
        pub.publish(make_array())
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    """
)


@pytest.mark.ros
def test_publish_in_one_process_receive_in_another(ros_env, ros_log_dir, tmp_path):
    import pathlib

    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from hand_pose_ros.msg import HandPoseArray

    env = dict(ros_env, ROS_LOG_DIR=str(ros_log_dir))
    script = PUBLISHER.format(test_dir=str(pathlib.Path(__file__).parent), timeout=RECEIVE_TIMEOUT_S)
    publisher = subprocess.Popen([sys.executable, "-c", script], env=env)
    received: list[HandPoseArray] = []
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("hand_pose_test_subscriber", context=context)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(HandPoseArray, "/hands/pose_test", received.append, qos)
        import time

        deadline = time.monotonic() + RECEIVE_TIMEOUT_S
        while not received and time.monotonic() < deadline and publisher.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        publisher.terminate()
        publisher.wait(timeout=30)
    assert received, "no HandPoseArray arrived from the publisher process"
    expected = make_array()
    got = received[0]
    # Field by field, so a failure names the field.
    for field in HandPoseArray.get_fields_and_field_types():
        assert getattr(got, field) == getattr(expected, field), field
