"""The hand model's forward kinematics in the wrist frame, in numpy, one tree depth at a time.

Per joint R = Ry(m·abd) · Rx(−flex) · Rz(m·twist) (``angles_to_rotations``), wrist_T_joint =
wrist_T_parent · parent_T_joint(rest) · R, keypoints = carrier joint · offset. The joints of one
depth in the tree (at most 5: one per finger) move together, ≈ 40 small numpy calls per batch
(a joint-by-joint walk took ≈ 0.5 ms per call on the 2-core CPU; the mesh fitter calls it
several times per set). ``HandModel`` puts these in the world frame; test_wrist_kinematics checks
them against a joint-by-joint reference.
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.handmodel.gltf import HandMesh
from hand_pose_ros.handmodel.skeleton import JOINT_PARENT, KEYPOINT_JOINT, MEDIAPIPE_OFFSETS_M, NUM_JOINTS
from hand_pose_ros.types import check_shape

__all__ = ["WristKinematics", "angles_to_rotations", "rotation_x", "rotation_y", "rotation_z"]


def _rotation(angle: np.ndarray, axis: int) -> np.ndarray:
    """(...) radians → (..., 3, 3) rotation about the x, y or z axis (entries set in place:
    ``np.stack`` of nine arrays costs more than the maths here)."""
    c, s = np.cos(angle), np.sin(angle)
    i, j = (axis + 1) % 3, (axis + 2) % 3  # the plane it turns, in order: (y, z), (z, x) or (x, y)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., axis, axis] = 1.0
    out[..., i, i], out[..., i, j], out[..., j, i], out[..., j, j] = c, -s, s, c
    return out


def rotation_x(angle: np.ndarray) -> np.ndarray:
    """(...) radians → (..., 3, 3) rotation about x."""
    return _rotation(angle, 0)


def rotation_y(angle: np.ndarray) -> np.ndarray:
    """(...) radians → (..., 3, 3) rotation about y."""
    return _rotation(angle, 1)


def rotation_z(angle: np.ndarray) -> np.ndarray:
    """(...) radians → (..., 3, 3) rotation about z."""
    return _rotation(angle, 2)


def angles_to_rotations(angles: np.ndarray, thumb_side: float) -> np.ndarray:
    """(..., 25, 3) (flexion, abduction, twist) radians → (..., 25, 3, 3) local rotations.

    Bones run along local −Z and the back of the hand is +Y, so flexion towards the palm is a
    negative turn about X. ``thumb_side`` is −1 when the thumb lies on the joint frames' −X
    side (right hand) and +1 when on +X (left hand); abduction and twist are mirrored with it
    so that one set of angles means the same pose on both hands.
    """
    mirror = -thumb_side
    return (rotation_y(mirror * angles[..., 1]) @ rotation_x(-angles[..., 0])) @ rotation_z(mirror * angles[..., 2])


def _depths() -> list[np.ndarray]:
    """Joint indices by depth in the tree (the wrist alone first), each level's parents listed before."""
    depth = []
    for parent in JOINT_PARENT:  # parents come before children
        depth.append(0 if parent < 0 else depth[parent] + 1)
    depth_array = np.array(depth)
    return [np.flatnonzero(depth_array == d) for d in range(depth_array.max() + 1)]


class WristKinematics:
    """One hand mesh's joints and keypoints for a batch of poses, root = the wrist frame."""

    def __init__(self, mesh: HandMesh) -> None:
        rest = mesh.rest_transforms  # (25, 4, 4) model_T_joint
        parent_rest = np.stack([rest[p] if p >= 0 else np.eye(4) for p in JOINT_PARENT])
        # parent_T_joint of the rest pose; the wrist's is unused (the root replaces it)
        local_rest = np.linalg.inv(parent_rest) @ rest
        wrist_T_thumb_tip = np.linalg.inv(rest[0]) @ rest[4]
        self.thumb_side = float(np.sign(wrist_T_thumb_tip[0, 3]))  # −1: thumb on −X (right hand)
        self._levels = _depths()
        self._parents = [np.array([JOINT_PARENT[j] for j in level]) for level in self._levels]
        self._rest_rotation = local_rest[:, :3, :3]  # (25, 3, 3)
        self._rest_translation = local_rest[:, :3, 3]  # (25, 3) m
        self._carriers = np.array(KEYPOINT_JOINT)  # (21,)
        self._offsets = np.array(MEDIAPIPE_OFFSETS_M, np.float64)  # (21, 3) m, carrier frame

    def __call__(self, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 25, 3) radians (flexion, abduction, twist) → (B, 25, 4, 4) wrist_T_joint and
        (B, 21, 3) keypoints, metres, wrist frame."""
        batch = angles.shape[0]
        check_shape("angles", angles, (batch, NUM_JOINTS, 3), "WristKinematics")
        motion = angles_to_rotations(angles, self.thumb_side)  # (B, 25, 3, 3)
        rotation = np.empty((batch, NUM_JOINTS, 3, 3))
        translation = np.empty((batch, NUM_JOINTS, 3))
        wrist = self._levels[0]
        rotation[:, wrist], translation[:, wrist] = motion[:, wrist], 0.0  # identity root · motion
        for level, parents in zip(self._levels[1:], self._parents[1:]):
            parent_rotation = rotation[:, parents]  # (B, n, 3, 3)
            # wrist_T_joint = wrist_T_parent · parent_T_joint(rest) · motion (motion has no translation)
            rotation[:, level] = (parent_rotation @ self._rest_rotation[level]) @ motion[:, level]
            translation[:, level] = (parent_rotation @ self._rest_translation[level][..., None])[..., 0] + translation[:, parents]
        transforms = np.zeros((batch, NUM_JOINTS, 4, 4))
        transforms[..., :3, :3], transforms[..., :3, 3], transforms[..., 3, 3] = rotation, translation, 1.0
        keypoints = (rotation[:, self._carriers] @ self._offsets[..., None])[..., 0] + translation[:, self._carriers]
        return transforms, keypoints
