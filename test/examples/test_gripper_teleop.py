"""examples/gripper_teleop.py as its own process over real DDS: pinch → gripper, wrist → target,
dead-man hold when the right hand is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from hand_pose_ros.handmodel import HandModel, named_pose
from hand_pose_ros.handstate import HandStateEstimator
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.ros.conversions import ns_to_stamp, stamp_to_ns
from hand_pose_ros.ros.state_msgs import states_to_array_msg
from hand_pose_ros.tools.bench.handstate import hand_from_keypoints
from hand_pose_ros.tools.harness import Recorder, spin_in_background, wait_until
from hand_pose_ros.tools.launch_spec import ros_environment

pytestmark = pytest.mark.ros

STARTUP_TIMEOUT_S = 30.0  # rclpy import + discovery on a busy machine
RECEIVE_TIMEOUT_S = 10.0
PERIOD_S = 1.0 / 30.0
NS_PER_FRAME = 33_333_333
PHASE_FRAMES = 20  # 0.67 s per phase: longer than the 0.3 s dead-man timeout


@pytest.fixture(scope="module")
def poses():
    right, left = HandModel.load("Right"), HandModel.load("Left")
    root = np.eye(4)
    root[:3, 3] = [0.3, -0.1, 0.5]
    return {
        ("right", "open"): right(named_pose("open"), root, skin=False).keypoints,
        ("right", "pinch"): right(named_pose("pinch"), root, skin=False).keypoints,
        ("left", "pinch"): left(named_pose("pinch"), root, skin=False).keypoints + [0.0, 0.3, 0.0],
    }


def test_pinch_drives_the_gripper_the_wrist_the_target_and_no_hand_holds(ros_env, ros_log_dir, repo_root, poses, monkeypatch):
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import Bool, Float64, Header

    from hand_pose_ros.msg import HandStateArray

    estimator = HandStateEstimator()
    frame = [0]

    def states(right: str | None):
        hands = [hand_from_keypoints(poses[("left", "pinch")], 6, Handedness.LEFT)]
        if right is not None:
            hands.append(hand_from_keypoints(poses[("right", right)], 5, Handedness.RIGHT))
        stamp = 1_700_000_000 * 10**9 + frame[0] * NS_PER_FRAME
        frame[0] += 1
        return states_to_array_msg(estimator.update(hands, stamp), Header(stamp=ns_to_stamp(stamp), frame_id="world"))

    teleop = subprocess.Popen(
        [sys.executable, str(repo_root / "examples" / "gripper_teleop.py"), "--ros-args", "-p", "deadman_timeout:=0.3"],
        env=dict(ros_env, ROS_LOG_DIR=str(ros_log_dir)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    # Fast DDS reads its profiles once per process: this process's first participant must get the
    # project's 8 MiB shared-memory profile, or later tests here lose their 921 KB images.
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:
        monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", ros_environment({})["FASTDDS_DEFAULT_PROFILES_FILE"])
    rclpy.init()
    node = rclpy.create_node("teleop_test")
    executor, thread = spin_in_background(node)
    try:
        recorder = Recorder(node, {"gripper/command": Float64, "teleop/target_pose": PoseStamped, "teleop/active": Bool})
        pub = node.create_publisher(HandStateArray, "/hands/state", 10)
        assert wait_until(lambda: pub.get_subscription_count() > 0 and node.count_publishers("teleop/target_pose") > 0,
                          STARTUP_TIMEOUT_S), "the example did not start"
        sent = {}

        def send(right: str | None, frames: int = PHASE_FRAMES) -> None:
            for _ in range(frames):
                msg = states(right)
                sent[stamp_to_ns(msg.header.stamp)] = msg
                pub.publish(msg)
                time.sleep(PERIOD_S)

        def target_for(stamp: int) -> bool:
            return wait_until(lambda: any(stamp_to_ns(r.message.header.stamp) == stamp
                                          for r in recorder.get("teleop/target_pose")), RECEIVE_TIMEOUT_S)

        # Until the example's subscription has matched: open hand frames, then the scripted phases.
        while not recorder.count("gripper/command"):
            send("open", 1)
            assert len(sent) < STARTUP_TIMEOUT_S / PERIOD_S, "no gripper command"
        send("open")
        send("pinch")
        assert target_for(max(sent))
        grips = [r.message.data for r in recorder.get("gripper/command")]
        assert grips[0] == 0.0 and grips[-1] == 1.0 and grips == sorted(grips)  # open, then closed once
        # Targets: the right hand's wrist pose, with its state's header; never the left hand's.
        for r in recorder.get("teleop/target_pose"):
            state_msg = sent[stamp_to_ns(r.message.header.stamp)]
            right = next(h for h in state_msg.hands if h.handedness == Handedness.RIGHT)
            assert r.message.header == state_msg.header and r.message.pose == right.wrist_pose
        assert recorder.get("teleop/active")[-1].message.data

        # Only the left hand: no command, no target; the dead-man switches teleoperation off.
        commands, targets = recorder.count("gripper/command"), recorder.count("teleop/target_pose")
        send(None)
        assert wait_until(lambda: not recorder.get("teleop/active")[-1].message.data, RECEIVE_TIMEOUT_S)
        assert (recorder.count("gripper/command"), recorder.count("teleop/target_pose")) == (commands, targets)

        # The right hand again, open: it resumes.
        send("open", 3)
        assert target_for(max(sent))
        assert recorder.get("gripper/command")[-1].message.data == 0.0
        assert wait_until(lambda: recorder.get("teleop/active")[-1].message.data, RECEIVE_TIMEOUT_S)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        thread.join(5)
        teleop.terminate()
        output = teleop.communicate(timeout=30)[0].decode(errors="replace")
    assert "holding" in output, output[-2000:]
