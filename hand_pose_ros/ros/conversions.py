"""``Hand3D`` ↔ ``HandPose``/``HandPoseArray`` messages, and ROS time ↔ nanoseconds.

Missing keypoints travel as NaN positions with confidence 0 (HandPose.msg). The wrist pose
is the pipeline's ``FrameResult.world_T_wrist`` (computed once per hand there); a hand whose
wrist frame is undefined (NaN: missing keypoints) gets a NaN position and an identity
orientation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, TransformStamped
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header

from hand_pose_ros.fusion.config import KEYPOINT_DEFINITIONS
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.msg import HandPose, HandPoseArray
from hand_pose_ros.timing import NS_PER_S
from hand_pose_ros.types import Hand3D, check_shape

__all__ = [
    "stamp_to_ns",
    "ns_to_stamp",
    "matrix_to_pose",
    "transform_to_matrix",
    "hand_to_msg",
    "msg_to_hand",
    "hands_to_array_msg",
    "wrist_transforms",
]


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // NS_PER_S), nanosec=int(ns % NS_PER_S))


def matrix_to_pose(T: np.ndarray) -> Pose:
    """(4, 4) rigid transform → Pose; non-finite input → NaN position, identity orientation."""
    pose = Pose()
    if not np.all(np.isfinite(T)):
        pose.position.x = pose.position.y = pose.position.z = float("nan")
        return pose
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in T[:3, 3])
    x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = float(x), float(y), float(z), float(w)
    return pose


def transform_to_matrix(transform: Any) -> np.ndarray:
    """``geometry_msgs/Transform`` → (4, 4) rigid transform (metres)."""
    T = np.eye(4)
    q = transform.rotation
    T[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
    T[:3, 3] = (transform.translation.x, transform.translation.y, transform.translation.z)
    return T


def hand_to_msg(hand: Hand3D, world_T_wrist: np.ndarray | None = None, keypoint_definition: str = "mediapipe") -> HandPose:
    """One fused hand → HandPose (positions in metres, the array's world frame).

    Args:
        world_T_wrist: (4, 4) the hand's wrist frame (``FrameResult.world_T_wrist[i]``);
            None or NaN: unknown.
        keypoint_definition: the joints ``hand`` follows (``FrameResult.keypoint_definition``).
    """
    msg = HandPose()
    msg.keypoint_definition = KEYPOINT_DEFINITIONS.index(keypoint_definition)
    msg.id = int(hand.track_id)
    msg.handedness = int(hand.handedness)
    msg.handedness_confidence = float(hand.handedness_score)
    msg.presence_confidence = float(hand.presence)
    msg.monocular = bool(hand.monocular)
    msg.depth_stddev = float(hand.depth_stddev)
    msg.age = int(hand.age)
    msg.keypoints = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in hand.keypoints_3d]
    missing = np.isnan(hand.keypoints_3d).any(axis=1)
    msg.keypoint_confidence = np.where(missing, 0.0, hand.keypoint_confidence).astype(np.float32)
    msg.keypoint_num_views = np.clip(hand.num_views, 0, 255).astype(np.uint8)
    msg.keypoint_reprojection_error = hand.reprojection_error_px.astype(np.float32)
    msg.keypoint_source = hand.keypoint_source.astype(np.uint8)
    msg.wrist_pose = matrix_to_pose(np.full((4, 4), np.nan) if world_T_wrist is None else world_T_wrist)
    return msg


def _wrists(hands: Sequence[Hand3D], world_T_wrist: np.ndarray | None, where: str) -> np.ndarray:
    """(H, 4, 4) wrist frames, NaN when not given; checked against the hands."""
    if world_T_wrist is None:
        return np.full((len(hands), 4, 4), np.nan)
    return check_shape("world_T_wrist", world_T_wrist, (len(hands), 4, 4), where)


def msg_to_hand(msg: HandPose) -> Hand3D:
    """HandPose → Hand3D (the inverse of ``hand_to_msg``, wrist pose aside)."""
    return Hand3D(
        track_id=msg.id,
        handedness=Handedness(msg.handedness),
        handedness_score=msg.handedness_confidence,
        presence=msg.presence_confidence,
        keypoints_3d=np.array([[p.x, p.y, p.z] for p in msg.keypoints], np.float64).reshape(NUM_KEYPOINTS, 3),
        keypoint_confidence=np.asarray(msg.keypoint_confidence, np.float32),
        num_views=np.asarray(msg.keypoint_num_views),
        reprojection_error_px=np.asarray(msg.keypoint_reprojection_error, np.float32),
        keypoint_source=np.asarray(msg.keypoint_source, np.uint8),
        monocular=msg.monocular,
        depth_stddev=msg.depth_stddev,
        age=msg.age,
    )


def hands_to_array_msg(
    hands: Sequence[Hand3D],
    *,
    stamp_ns: int,
    world_frame: str,
    camera_frame_ids: Sequence[str],
    camera_stamps_ns: Sequence[int | None],
    sync_spread: float,
    latency: float,
    world_T_wrist: np.ndarray | None = None,
    keypoint_definition: str = "mediapipe",
) -> HandPoseArray:
    """All hands of one synchronised set → HandPoseArray.

    Args:
        world_T_wrist: (H, 4, 4) each hand's wrist frame (``FrameResult.world_T_wrist``);
            None: unknown (NaN wrist poses).
        stamp_ns: capture time of the set (its earliest image stamp), ns.
        camera_stamps_ns: per camera in node order; None where the camera was missing
            from a partial set (its stamp is then zero and ``camera_used`` false).
        sync_spread, latency: seconds.
    """
    msg = HandPoseArray()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = world_frame
    msg.hands = [hand_to_msg(h, T, keypoint_definition)
                 for h, T in zip(hands, _wrists(hands, world_T_wrist, "hands_to_array_msg"))]
    msg.camera_frame_ids = list(camera_frame_ids)
    msg.camera_stamps = [ns_to_stamp(s or 0) for s in camera_stamps_ns]
    msg.camera_used = [s is not None for s in camera_stamps_ns]
    msg.sync_spread = float(sync_spread)
    msg.latency = float(latency)
    return msg


def wrist_transforms(hands: Sequence[Hand3D], world_T_wrist: np.ndarray, header: Header) -> list[TransformStamped]:
    """world → ``<left|right|unknown>_wrist_<id>`` transforms for hands with a defined wrist frame.

    Args:
        world_T_wrist: (H, 4, 4) each hand's wrist frame (``FrameResult.world_T_wrist``), NaN where undefined.
    """
    out = []
    for hand, T in zip(hands, _wrists(hands, world_T_wrist, "wrist_transforms")):
        if not np.all(np.isfinite(T)):
            continue
        pose = matrix_to_pose(T)
        t = TransformStamped(header=header)
        t.child_frame_id = f"{hand.handedness.name.lower()}_wrist_{hand.track_id}"
        t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
            pose.position.x, pose.position.y, pose.position.z
        )
        t.transform.rotation = pose.orientation
        out.append(t)
    return out
