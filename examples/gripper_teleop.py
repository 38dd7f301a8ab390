#!/usr/bin/env python3
"""Teleoperation starting point: the right hand's pinch drives a gripper, its wrist a pose target.

Subscribes ``/hands/state`` (hand_pose_ros/HandStateArray) and publishes

* ``gripper/command`` (std_msgs/Float64): 1.0 while the hand is pinched, 0.0 when open (the
  debounced ``pinched`` state: no chatter, and it holds through frames where the fingertips
  are not seen);
* ``teleop/target_pose`` (geometry_msgs/PoseStamped): the hand's wrist pose, with the state
  message's header (its stamp and world frame), whenever the palm is seen;
* ``teleop/active`` (std_msgs/Bool), at ``check_rate`` Hz: false while the dead-man rule holds.

Dead-man rule: with no selected hand for ``deadman_timeout`` seconds (this node's clock), no
new target or gripper command is sent, so the robot holds where it is; the first hand state
after that resumes. The hand followed is the one of ``hand`` (right/left) seen first, kept by
its track id while it stays tracked. Run it next to the node::

    python examples/gripper_teleop.py --ros-args -p hand:=right -p deadman_timeout:=0.3

Where the wrist pose goes (robot base frame, scaling, workspace limits) is the robot's side:
this example only turns hand signals into commands.
"""

from __future__ import annotations

import sys

import rclpy
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import Bool, Float64

from hand_pose_ros.msg import HandState, HandStateArray

HANDS = {"right": HandState.RIGHT, "left": HandState.LEFT}


class GripperTeleop(Node):
    """HandStateArray → gripper command + wrist target, with a dead-man hold."""

    def __init__(self) -> None:
        super().__init__("gripper_teleop")
        hand = self.declare_parameter("hand", "right").value
        self.deadman_ns = int(self.declare_parameter("deadman_timeout", 0.3).value * 1e9)
        check_rate = float(self.declare_parameter("check_rate", 20.0).value)
        if hand not in HANDS or self.deadman_ns <= 0 or check_rate <= 0:
            raise ValueError(f"gripper_teleop: hand must be one of {list(HANDS)}, deadman_timeout and check_rate "
                             f"> 0; got {hand!r}, {self.deadman_ns / 1e9}, {check_rate}")
        self.handedness = HANDS[hand]
        # Parameters are read once: refuse changes with the reason rather than ignoring them.
        self.add_on_set_parameters_callback(
            lambda _: SetParametersResult(successful=False, reason="read at start-up; restart the node to change it"))
        self.track_id: int | None = None
        self.last_seen_ns: int | None = None
        self.active = False
        self.gripper_pub = self.create_publisher(Float64, "gripper/command", 10)
        self.target_pub = self.create_publisher(PoseStamped, "teleop/target_pose", 10)
        self.active_pub = self.create_publisher(Bool, "teleop/active", 10)
        self.create_subscription(HandStateArray, "/hands/state", self.on_states, 10)
        self.create_timer(1.0 / check_rate, self.check_deadman)

    def on_states(self, msg: HandStateArray) -> None:
        mine = [h for h in msg.hands if h.handedness == self.handedness]
        hand = next((h for h in mine if h.id == self.track_id), mine[0] if mine else None)
        if hand is None:
            return
        self.track_id = hand.id
        self.last_seen_ns = self.get_clock().now().nanoseconds
        if not self.active:
            self.active = True
            self.get_logger().info(f"following hand {hand.id}")
        self.gripper_pub.publish(Float64(data=1.0 if hand.pinched else 0.0))
        if hand.palm_valid:
            self.target_pub.publish(PoseStamped(header=msg.header, pose=hand.wrist_pose))

    def check_deadman(self) -> None:
        now = self.get_clock().now().nanoseconds
        if self.active and (self.last_seen_ns is None or now - self.last_seen_ns > self.deadman_ns):
            self.active, self.track_id = False, None
            self.get_logger().warning(f"no hand for {self.deadman_ns / 1e9:.2f} s: holding")
        self.active_pub.publish(Bool(data=self.active))


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=sys.argv if argv is None else argv)
    node = None
    try:
        node = GripperTeleop()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
