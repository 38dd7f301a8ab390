"""The WebXR hand (``hand_pose_ros.handmodel``) as a solver ``Articulation``, analytic Jacobian.

Parameters are the joint angles that ``JOINT_LIMITS`` lets move (P of the (25, 3)
(flexion, abduction, twist) angles); the rest stay 0. Forward kinematics (``WristKinematics``,
in the wrist frame) and skinning (``DenseSkinning``) are the hand model's own; this module adds the
Jacobian: a joint angle turns everything downstream about an axis through the joint, so
d keypoint / d angle = ω × (keypoint − joint).
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.handmodel import JOINT_LIMITS, JOINT_PARENT, KEYPOINT_JOINT, NUM_JOINTS, HandModel
from hand_pose_ros.handmodel.wrist_kinematics import rotation_x, rotation_z
from hand_pose_ros.keypoints import NUM_KEYPOINTS
from hand_pose_ros.mesh.solver import Posed

__all__ = ["WebXRArticulation"]


def _descends(joint: int, ancestor: int) -> bool:
    while joint >= 0:
        if joint == ancestor:
            return True
        joint = JOINT_PARENT[joint]
    return False


# (21, 25) bool: keypoint k moves when joint j turns (j carries k or is one of its ancestors).
_MOVED_BY = np.array([[_descends(KEYPOINT_JOINT[k], j) for j in range(NUM_JOINTS)] for k in range(NUM_KEYPOINTS)])


def body_angular_velocities(angles: np.ndarray, thumb_side: float) -> np.ndarray:
    """(..., 25, 3) angles → (..., 25, 3, 3) ω per (flexion, abduction, twist), joint frame.

    ``angles_to_rotations`` builds R = Ry(m·abd) · Rx(−flex) · Rz(m·twist) with m = −thumb_side,
    so Rᵀ dR/dθ = [ω]× with ω_flex = −Rzᵀ x̂, ω_abd = m Rzᵀ Rxᵀ ŷ, ω_twist = m ẑ
    (test_webxr checks this against finite differences of ``angles_to_rotations``).
    """
    mirror = -thumb_side
    rz = rotation_z(mirror * angles[..., 2])  # (..., 25, 3, 3)
    rx = rotation_x(-angles[..., 0])
    rz_t = np.swapaxes(rz, -1, -2)
    flex = -rz_t[..., :, 0]
    abduct = mirror * np.einsum("...ij,...jk,...k->...i", rz_t, np.swapaxes(rx, -1, -2), np.array([0.0, 1.0, 0.0]))
    twist = np.broadcast_to(mirror * np.array([0.0, 0.0, 1.0]), flex.shape)
    return np.stack([flex, abduct, twist], axis=-2)


class WebXRArticulation:
    """One WebXR hand (left or right) for ``gauss_newton``: P free joint angles."""

    name = "webxr"

    def __init__(self, model: HandModel) -> None:
        self.model = model
        movable = JOINT_LIMITS[..., 1] > JOINT_LIMITS[..., 0]  # (25, 3)
        self._free = np.flatnonzero(movable.reshape(-1))  # (P,) indices into the flat (75,) angles
        self.lower = JOINT_LIMITS.reshape(-1, 2)[self._free, 0]
        self.upper = JOINT_LIMITS.reshape(-1, 2)[self._free, 1]
        self.faces = model.faces
        self._skinning = model.skinning
        self._kinematics = model.kinematics

    @property
    def num_params(self) -> int:
        return len(self._free)

    def joint_pose(self, params: np.ndarray) -> np.ndarray:
        """(B, P) → (B, 25, 3) radians (flexion, abduction, twist), 0 where the limits allow no motion."""
        angles = np.zeros((params.shape[0], NUM_JOINTS * 3))
        angles[:, self._free] = params
        return angles.reshape(-1, NUM_JOINTS, 3)

    def params(self, angles: np.ndarray) -> np.ndarray:
        """(B, 25, 3) radians → (B, P) (the fixed angles are dropped)."""
        return angles.reshape(angles.shape[0], -1)[:, self._free]

    def rest_params(self) -> np.ndarray:
        """(P,) the flat hand (all angles 0, which every limit range includes)."""
        return np.clip(np.zeros(self.num_params), self.lower, self.upper)

    def forward(self, params: np.ndarray) -> Posed:
        """(B, P) → keypoints and the 25 joint transforms in the wrist frame (the model's FK, in numpy)."""
        transforms, keypoints = self._kinematics(self.joint_pose(params))
        return Posed(keypoints=keypoints, transforms=transforms)

    def jacobian(self, params: np.ndarray, posed: Posed) -> np.ndarray:
        """(B, P) and their ``forward`` → (B, 21, 3, P) d keypoints / d params, wrist frame."""
        batch = params.shape[0]
        rotations, origins = posed.transforms[..., :3, :3], posed.transforms[..., :3, 3]  # (B, 25, 3, 3), (B, 25, 3)
        body = body_angular_velocities(self.joint_pose(params), self.model.thumb_side)
        omega = np.einsum("bjxy,bjdy->bjdx", rotations, body)  # (B, 25, 3 dof, 3 xyz)
        lever = posed.keypoints[:, :, None, :] - origins[:, None, :, :]  # (B, 21, 25, 3)
        jac = np.cross(omega[:, None, :, :, :], lever[:, :, :, None, :])  # (B, 21, 25, 3 dof, 3 xyz)
        jac = jac * _MOVED_BY[None, :, :, None, None]
        jac = jac.reshape(batch, NUM_KEYPOINTS, NUM_JOINTS * 3, 3)[:, :, self._free, :]
        return np.swapaxes(jac, -1, -2)

    def world_vertices(self, posed: Posed, world_T_wrist: np.ndarray) -> np.ndarray:
        """``forward`` output, (B, 4, 4) similarity → (B, V, 3) skinned vertices, metres, world."""
        return self._skinning(world_T_wrist[:, None] @ posed.transforms)
