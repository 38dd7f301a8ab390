"""Forward kinematics, MediaPipe keypoints and linear blend skinning of the WebXR hand, batched.

Pose parameters: ``angles`` (..., 25, 3) radians per WebXR joint, (flexion, abduction,
twist) in the joint's rest frame, and ``root`` (..., 4, 4) world_T_wrist, metres. Flexion
curls towards the palm, positive abduction turns towards the thumb, on both hands.
Works on numpy arrays (returns numpy) and on torch tensors (differentiable, any device).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from hand_pose_ros.handmodel.gltf import HandMesh, load_hand_mesh
from hand_pose_ros.handmodel.skeleton import JOINT_PARENT, KEYPOINT_JOINT, MEDIAPIPE_OFFSETS_M, NUM_JOINTS
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.types import check_shape

__all__ = ["HandModel", "HandOutput", "angles_to_rotations"]


@dataclasses.dataclass(frozen=True)
class HandOutput:
    """Posed hand, world frame, metres; numpy or torch like the inputs.

    Attributes:
        transforms: (..., 25, 4, 4) world_T_joint, ``WEBXR_JOINTS`` order.
        keypoints: (..., 21, 3) MediaPipe keypoints (WebXR joints + per-joint offsets).
        vertices: (..., V, 3) skinned mesh vertices (None when skinning was not asked for).
    """

    transforms: Any
    keypoints: Any
    vertices: Any = None


def _axis_rotation(angle: torch.Tensor, axis: int) -> torch.Tensor:
    """(...) radians → (..., 3, 3) rotation about the x, y or z axis."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def angles_to_rotations(angles: torch.Tensor, thumb_side: float) -> torch.Tensor:
    """(..., 25, 3) (flexion, abduction, twist) radians → (..., 25, 3, 3) local rotations.

    Bones run along local −Z and the back of the hand is +Y, so flexion towards the palm is a
    negative turn about X. ``thumb_side`` is −1 when the thumb lies on the joint frames' −X
    side (right hand) and +1 when on +X (left hand); abduction and twist are mirrored with it
    so that one set of angles means the same pose on both hands.
    """
    flex, abduct, twist = angles.unbind(-1)
    mirror = -thumb_side
    return _axis_rotation(mirror * abduct, 1) @ _axis_rotation(-flex, 0) @ _axis_rotation(mirror * twist, 2)


def _check(name: str, tensor: torch.Tensor, shape: tuple[int | None, ...]) -> None:
    """check_shape for tensors that may require grad (checks a zero-size view of the shape)."""
    check_shape(name, np.broadcast_to(np.float32(0), tuple(tensor.shape)), shape, "HandModel")


class HandModel:
    """One hand (left or right): pose parameters → joint transforms → keypoints and vertices."""

    def __init__(self, mesh: HandMesh) -> None:
        self.mesh = mesh
        self.handedness = mesh.handedness
        rest = torch.as_tensor(mesh.rest_transforms, dtype=torch.float64)
        parent_rest = torch.stack([rest[p] if p >= 0 else torch.eye(4, dtype=torch.float64) for p in JOINT_PARENT])
        # Rest transform of each joint in its parent's frame; the wrist's is unused (root replaces it).
        self._local_rest = torch.linalg.inv(parent_rest) @ rest  # (25, 4, 4)
        self._inverse_bind = torch.as_tensor(mesh.inverse_bind, dtype=torch.float64)  # (25, 4, 4)
        self._vertices = torch.as_tensor(mesh.vertices, dtype=torch.float64)  # (V, 3)
        # Dense (V, 25) blend weights: skinning becomes one matrix product, where a per-vertex
        # gather of 4 joint matrices cost ~60 ms per hand on the 2-core CPU.
        dense = np.zeros((len(mesh.vertices), NUM_JOINTS))
        np.add.at(dense, (np.arange(len(mesh.vertices))[:, None], mesh.skin_joints), mesh.skin_weights)
        self._skin_weights = torch.as_tensor(dense, dtype=torch.float64)  # (V, 25), rows sum to 1
        self._offsets = torch.tensor(MEDIAPIPE_OFFSETS_M, dtype=torch.float64)  # (21, 3)
        wrist_T_thumb_tip = torch.linalg.inv(rest[0]) @ rest[4]
        self.thumb_side = float(torch.sign(wrist_T_thumb_tip[0, 3]))

    @classmethod
    def load(cls, handedness: Handedness | str) -> "HandModel":
        """The set-up's WebXR mesh for ``handedness`` ('Left' / 'Right')."""
        return cls(load_hand_mesh(handedness))

    @property
    def local_rest(self) -> np.ndarray:
        """(25, 4, 4) float64 parent_T_joint of the rest pose (the wrist's unused: the root replaces it)."""
        return self._local_rest.numpy()

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle vertex indices."""
        return self.mesh.faces

    def rest_root(self) -> np.ndarray:
        """(4, 4) float64 model_T_wrist of the rest pose (root that reproduces the glb)."""
        return self.mesh.rest_transforms[0].copy()

    def _tensors(self, like: torch.Tensor) -> dict[str, torch.Tensor]:
        names = ("_local_rest", "_inverse_bind", "_vertices", "_skin_weights", "_offsets")
        return {n: getattr(self, n).to(device=like.device, dtype=like.dtype) for n in names}

    def __call__(self, angles: Any, root: Any, *, skin: bool = True) -> HandOutput:
        """Pose the hand.

        Args:
            angles: (..., 25, 3) radians (flexion, abduction, twist) per WebXR joint.
            root: (..., 4, 4) world_T_wrist, metres (same leading shape as ``angles``).
            skin: also compute the (..., V, 3) skinned vertices.
        """
        as_numpy = not isinstance(angles, torch.Tensor)
        a = torch.as_tensor(angles, dtype=torch.float64) if as_numpy else angles
        _check("angles", a, (None,) * (a.ndim - 2) + (NUM_JOINTS, 3))
        r = torch.as_tensor(root).to(a)
        _check("root", r, tuple(a.shape[:-2]) + (4, 4))
        t = self._tensors(a)
        transforms = self._forward_kinematics(a, r, t["_local_rest"])
        keypoints = self._keypoints(transforms, t["_offsets"])
        vertices = self._skin(transforms, t) if skin else None
        if as_numpy:
            return HandOutput(
                transforms=transforms.numpy(),
                keypoints=keypoints.numpy(),
                vertices=None if vertices is None else vertices.numpy(),
            )
        return HandOutput(transforms=transforms, keypoints=keypoints, vertices=vertices)

    def _forward_kinematics(self, angles: torch.Tensor, root: torch.Tensor, local_rest: torch.Tensor) -> torch.Tensor:
        rotations = angles_to_rotations(angles, self.thumb_side)  # (..., 25, 3, 3)
        motion = torch.zeros(angles.shape[:-1] + (4, 4), dtype=angles.dtype, device=angles.device)
        motion[..., :3, :3] = rotations
        motion[..., 3, 3] = 1.0
        world: list[torch.Tensor] = []
        for j, parent in enumerate(JOINT_PARENT):  # parents come before children
            base = root if parent < 0 else world[parent] @ local_rest[j]
            world.append(base @ motion[..., j, :, :])
        return torch.stack(world, dim=-3)  # (..., 25, 4, 4)

    def _keypoints(self, transforms: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        carriers = transforms[..., list(KEYPOINT_JOINT), :, :]  # (..., 21, 4, 4)
        return (carriers[..., :3, :3] @ offsets.unsqueeze(-1)).squeeze(-1) + carriers[..., :3, 3]

    def _skin(self, transforms: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
        skinning = (transforms @ t["_inverse_bind"])[..., :3, :]  # (..., 25, 3, 4) world_T_model per joint
        flat = skinning.reshape(skinning.shape[:-3] + (NUM_JOINTS, 12))
        blended = (t["_skin_weights"] @ flat).reshape(flat.shape[:-2] + (-1, 3, 4))  # (..., V, 3, 4)
        v = t["_vertices"]
        return (blended[..., :3] * v.unsqueeze(-2)).sum(dim=-1) + blended[..., 3]
