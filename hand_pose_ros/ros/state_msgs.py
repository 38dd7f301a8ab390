"""``HandState`` (hand_pose_ros.handstate) → ``HandState`` / ``HandStateArray`` messages.

NaN travels as NaN (a value whose keypoints are missing), with its flag false (HandState.msg).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import Header

from hand_pose_ros.handstate import HandState
from hand_pose_ros.msg import HandState as HandStateMsg
from hand_pose_ros.msg import HandStateArray
from hand_pose_ros.ros.conversions import matrix_to_pose

__all__ = ["state_to_msg", "states_to_array_msg"]


def state_to_msg(state: HandState) -> HandStateMsg:
    """One hand's state → HandState (metres, seconds, unit vectors; the array's frame)."""
    msg = HandStateMsg()
    msg.id = int(state.track_id)
    msg.handedness = int(state.handedness)
    msg.pinch_distance = float(state.pinch_distance_m)
    msg.pinch_strength = float(state.pinch_strength)
    msg.pinch_valid = bool(state.pinch_valid)
    msg.pinch_confidence = float(state.pinch_confidence)
    msg.pinched = bool(state.pinched)
    msg.pinch_event = int(state.pinch_event)
    msg.grasp_aperture = float(state.grasp_aperture_m)
    msg.aperture_valid = bool(state.aperture_valid)
    msg.aperture_confidence = float(state.aperture_confidence)
    msg.finger_curl = np.asarray(state.finger_curl, np.float32)
    msg.curl_valid = [bool(v) for v in state.curl_valid]
    msg.curl_confidence = np.asarray(state.curl_confidence, np.float32)
    msg.pointing = bool(state.pointing)
    msg.ray_origin = Point(x=float(state.ray_origin[0]), y=float(state.ray_origin[1]), z=float(state.ray_origin[2]))
    msg.ray_direction = Vector3(x=float(state.ray_direction[0]), y=float(state.ray_direction[1]), z=float(state.ray_direction[2]))
    msg.pointing_confidence = float(state.pointing_confidence)
    msg.palm_normal = Vector3(x=float(state.palm_normal[0]), y=float(state.palm_normal[1]), z=float(state.palm_normal[2]))
    msg.wrist_pose = matrix_to_pose(state.world_T_wrist)
    msg.palm_valid = bool(state.palm_valid)
    msg.palm_confidence = float(state.palm_confidence)
    msg.speed = float(state.speed_mps)
    msg.speed_valid = bool(state.speed_valid)
    msg.speed_confidence = float(state.speed_confidence)
    msg.hand_scale = float(state.hand_scale_m)
    return msg


def states_to_array_msg(states: Sequence[HandState], header: Header) -> HandStateArray:
    """All hands' states of one set → HandStateArray with ``header`` (the HandPoseArray's)."""
    return HandStateArray(header=header, hands=[state_to_msg(s) for s in states])
