"""Forward kinematics, MediaPipe keypoints and linear blend skinning of the WebXR hand, batched.

Pose parameters: ``angles`` (..., 25, 3) radians per WebXR joint, (flexion, abduction,
twist) in the joint's rest frame, and ``root`` (..., 4, 4) world_T_wrist, metres. Flexion
curls towards the palm, positive abduction turns towards the thumb, on both hands. numpy
throughout: the joints come from ``WristKinematics`` (wrist frame) and the vertices from
``DenseSkinning``, the same code the mesh fitter runs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hand_pose_ros.handmodel.dense_skinning import DenseSkinning
from hand_pose_ros.handmodel.gltf import HandMesh, load_hand_mesh
from hand_pose_ros.handmodel.skeleton import NUM_JOINTS
from hand_pose_ros.handmodel.wrist_kinematics import WristKinematics
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.types import check_shape

__all__ = ["HandModel", "HandOutput"]


@dataclasses.dataclass(frozen=True)
class HandOutput:
    """Posed hand, world frame, metres, float64.

    Attributes:
        transforms: (..., 25, 4, 4) world_T_joint, ``WEBXR_JOINTS`` order.
        keypoints: (..., 21, 3) MediaPipe keypoints (WebXR joints + per-joint offsets).
        vertices: (..., V, 3) skinned mesh vertices (None when skinning was not asked for).
    """

    transforms: np.ndarray
    keypoints: np.ndarray
    vertices: np.ndarray | None = None


class HandModel:
    """One hand (left or right): pose parameters → joint transforms → keypoints and vertices."""

    def __init__(self, mesh: HandMesh) -> None:
        self.mesh = mesh
        self.handedness = mesh.handedness
        self.kinematics = WristKinematics(mesh)
        self.thumb_side = self.kinematics.thumb_side
        self.skinning = DenseSkinning(mesh)

    @classmethod
    def load(cls, handedness: Handedness | str) -> "HandModel":
        """The set-up's WebXR mesh for ``handedness`` ('Left' / 'Right')."""
        return cls(load_hand_mesh(handedness))

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle vertex indices."""
        return self.mesh.faces

    def rest_root(self) -> np.ndarray:
        """(4, 4) float64 model_T_wrist of the rest pose (root that reproduces the glb)."""
        return self.mesh.rest_transforms[0].copy()

    def __call__(self, angles: np.ndarray, root: np.ndarray, *, skin: bool = True) -> HandOutput:
        """Pose the hand.

        Args:
            angles: (..., 25, 3) radians (flexion, abduction, twist) per WebXR joint.
            root: (..., 4, 4) world_T_wrist, metres (same leading shape as ``angles``).
            skin: also compute the (..., V, 3) skinned vertices.
        """
        angles = np.asarray(angles, dtype=np.float64)
        check_shape("angles", angles, (None,) * (angles.ndim - 2) + (NUM_JOINTS, 3), "HandModel")
        lead = angles.shape[:-2]
        root = np.asarray(root, dtype=np.float64)
        check_shape("root", root, lead + (4, 4), "HandModel")
        wrist_T_joint, wrist_keypoints = self.kinematics(angles.reshape((-1, NUM_JOINTS, 3)))
        world_T_wrist = root.reshape((-1, 1, 4, 4))
        transforms = world_T_wrist @ wrist_T_joint  # (B, 25, 4, 4)
        keypoints = (world_T_wrist[..., :3, :3] @ wrist_keypoints[..., None])[..., 0] + world_T_wrist[..., :3, 3]
        vertices = self.skinning(transforms) if skin else None
        return HandOutput(
            transforms=transforms.reshape(lead + transforms.shape[1:]),
            keypoints=keypoints.reshape(lead + keypoints.shape[1:]),
            vertices=None if vertices is None else vertices.reshape(lead + vertices.shape[1:]),
        )
