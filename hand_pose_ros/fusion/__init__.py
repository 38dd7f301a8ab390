"""Multi-view fusion: per-view 2D hand detections → absolute 3D hands in the world frame.

    fusion = MultiViewFusion(rig, FusionConfig())
    hands = fusion.process(detections, stamp)   # one list of HandDetection2D per camera
    world_T_wrist = wrist_pose(hands[0].keypoints_3d, hands[0].handedness)
"""

from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.fusion.config import FusionConfig
from hand_pose_ros.fusion.fusion import MultiViewFusion
from hand_pose_ros.fusion.pose import wrist_pose

__all__ = ["CameraArray", "FusionConfig", "MultiViewFusion", "wrist_pose"]
