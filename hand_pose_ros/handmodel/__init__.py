"""The project's one hand model: the WebXR skinned hand mesh, FK, LBS, limits and poses.

Pose parameters → joint transforms → MediaPipe's 21 keypoints and skinned vertices::

    model = HandModel.load("Right")
    out = model(named_pose("fist"), root)     # root: (4, 4) world_T_wrist, metres
    out.keypoints                              # (21, 3) MediaPipe order, world frame
"""

from hand_pose_ros.handmodel.gltf import HandMesh, load_hand_mesh
from hand_pose_ros.handmodel.kinematics import HandModel, HandOutput
from hand_pose_ros.handmodel.poses import JOINT_LIMITS, POSE_NAMES, clip_to_limits, named_pose, random_pose
from hand_pose_ros.handmodel.skeleton import (
    JOINT_INDEX,
    JOINT_PARENT,
    KEYPOINT_JOINT,
    MEDIAPIPE_OFFSETS_M,
    NUM_JOINTS,
    WEBXR_JOINTS,
)
from hand_pose_ros.handmodel.wrist_kinematics import angles_to_rotations

__all__ = [
    "HandMesh",
    "HandModel",
    "HandOutput",
    "JOINT_INDEX",
    "JOINT_LIMITS",
    "JOINT_PARENT",
    "KEYPOINT_JOINT",
    "MEDIAPIPE_OFFSETS_M",
    "NUM_JOINTS",
    "POSE_NAMES",
    "WEBXR_JOINTS",
    "angles_to_rotations",
    "clip_to_limits",
    "load_hand_mesh",
    "named_pose",
    "random_pose",
]
