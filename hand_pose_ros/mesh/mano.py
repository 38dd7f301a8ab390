"""The MANO hand layer (numpy) and its use by the solver; MANO ↔ MediaPipe keypoints.

MANO (Romero et al. 2017): v_shaped = v_template + shapedirs·β; joints J = J_regressor·v_shaped;
per-joint rotations R_j from axis-angle θ_j (joint 0 = global); v_posed = v_shaped +
posedirs·vec(R_1..15 − I); forward kinematics along the kinematic tree; linear blend skinning.
MANO's 16 joints give 16 of MediaPipe's 21 keypoints; the 5 fingertips are mesh vertices
(ids as in the common research code, e.g. manopth / "hand-object" datasets):

    WRIST ← joint 0
    THUMB_CMC, THUMB_MCP, THUMB_IP ← joints 13, 14, 15;          THUMB_TIP ← vertex 744
    INDEX_FINGER_MCP, _PIP, _DIP ← joints 1, 2, 3;               INDEX_FINGER_TIP ← vertex 320
    MIDDLE_FINGER_MCP, _PIP, _DIP ← joints 4, 5, 6;              MIDDLE_FINGER_TIP ← vertex 443
    RING_FINGER_MCP, _PIP, _DIP ← joints 10, 11, 12;             RING_FINGER_TIP ← vertex 554
    PINKY_MCP, _PIP, _DIP ← joints 7, 8, 9;                      PINKY_TIP ← vertex 671
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hand_pose_ros.keypoints import NUM_KEYPOINTS, HandKeypoint
from hand_pose_ros.mesh.mano_io import NUM_MANO_JOINTS, ManoData
from hand_pose_ros.mesh.solver import Posed
from hand_pose_ros.types import check_shape

__all__ = ["ManoArticulation", "ManoLayer", "ManoOutput", "MANO_KEYPOINT_JOINT", "MANO_TIP_VERTEX", "rodrigues"]

_K = HandKeypoint
# MediaPipe keypoint → MANO joint (kinematic-tree order of the release files).
MANO_KEYPOINT_JOINT: dict[HandKeypoint, int] = {
    _K.WRIST: 0,
    _K.INDEX_FINGER_MCP: 1, _K.INDEX_FINGER_PIP: 2, _K.INDEX_FINGER_DIP: 3,
    _K.MIDDLE_FINGER_MCP: 4, _K.MIDDLE_FINGER_PIP: 5, _K.MIDDLE_FINGER_DIP: 6,
    _K.PINKY_MCP: 7, _K.PINKY_PIP: 8, _K.PINKY_DIP: 9,
    _K.RING_FINGER_MCP: 10, _K.RING_FINGER_PIP: 11, _K.RING_FINGER_DIP: 12,
    _K.THUMB_CMC: 13, _K.THUMB_MCP: 14, _K.THUMB_IP: 15,
}
# MediaPipe fingertip → MANO vertex id (MANO has no fingertip joints).
MANO_TIP_VERTEX: dict[HandKeypoint, int] = {
    _K.THUMB_TIP: 744, _K.INDEX_FINGER_TIP: 320, _K.MIDDLE_FINGER_TIP: 443, _K.RING_FINGER_TIP: 554, _K.PINKY_TIP: 671,
}
_JOINT_KEYPOINTS = np.array(sorted(MANO_KEYPOINT_JOINT))
_JOINT_SOURCES = np.array([MANO_KEYPOINT_JOINT[k] for k in sorted(MANO_KEYPOINT_JOINT)])
_TIP_KEYPOINTS = np.array(sorted(MANO_TIP_VERTEX))
_TIP_SOURCES = np.array([MANO_TIP_VERTEX[k] for k in sorted(MANO_TIP_VERTEX)])
_SMALL_ANGLE = 1e-12  # below this (rad²) Rodrigues' formula uses its first-order form
_FINITE_DIFFERENCE_RAD = 1e-6  # central differences: error ~1e-12, far below the fit's noise


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle radians → (..., 3, 3) rotation matrices."""
    theta2 = (axis_angle**2).sum(-1)[..., None, None]
    theta = np.sqrt(theta2)
    small = theta2 < _SMALL_ANGLE
    safe = np.where(small, 1.0, theta)
    x, y, z = np.moveaxis(axis_angle, -1, 0)
    zero = np.zeros_like(x)
    K = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    a = np.where(small, 1.0, np.sin(safe) / safe)
    b = np.where(small, 0.5, (1 - np.cos(safe)) / np.where(small, 1.0, theta2))
    return np.eye(3) + a * K + b * (K @ K)


@dataclasses.dataclass(frozen=True)
class ManoOutput:
    """Posed MANO hands, model frame, metres.

    Attributes:
        transforms: (B, 16, 4, 4) model_T_joint (rotation and posed joint position).
        keypoints: (B, 21, 3) MediaPipe keypoints (16 joints + 5 tip vertices).
        vertices: (B, V, 3) skinned vertices, or None when not asked for.
    """

    transforms: np.ndarray
    keypoints: np.ndarray
    vertices: np.ndarray | None


class ManoLayer:
    """MANO: pose (B, 16, 3) axis-angle + shape (B, S) betas → joints, keypoints, vertices."""

    def __init__(self, data: ManoData) -> None:
        self.data = data
        self.handedness = data.handedness
        self.faces = data.faces
        self.num_betas = data.shapedirs.shape[-1]
        self._mean_joints = data.J_regressor @ data.v_template  # (16, 3) rest joints of the mean shape

    def pose_from_pca(self, coefficients: np.ndarray) -> np.ndarray:
        """(B, N) PCA coefficients → (B, 15, 3) finger axis-angle (hands_mean + coefficients · components)."""
        if self.data.hands_components is None or self.data.hands_mean is None:
            raise ValueError(f"the {self.handedness.label} MANO file has no hands_components/hands_mean (PCA)")
        n = coefficients.shape[-1]
        pose = self.data.hands_mean + coefficients @ self.data.hands_components[:n]
        return pose.reshape(-1, NUM_MANO_JOINTS - 1, 3)

    def __call__(self, pose: np.ndarray, betas: np.ndarray | None = None, *, vertices: bool = True) -> ManoOutput:
        """Pose B hands.

        Args:
            pose: (B, 16, 3) axis-angle radians; joint 0 is the global (wrist) rotation.
            betas: (B, S) shape coefficients (None: the mean shape).
            vertices: also skin all vertices (the 5 tip vertices are always computed).
        """
        batch = pose.shape[0]
        check_shape("pose", pose, (batch, NUM_MANO_JOINTS, 3), "ManoLayer")
        d = self.data
        if betas is None:  # the mean shape: no blend shapes to apply
            v_shaped = np.broadcast_to(d.v_template, (batch,) + d.v_template.shape)
            joints = np.broadcast_to(self._mean_joints, (batch, NUM_MANO_JOINTS, 3))
        else:
            check_shape("betas", betas, (batch, self.num_betas), "ManoLayer")
            v_shaped = d.v_template + np.einsum("vcs,bs->bvc", d.shapedirs, betas)  # (B, V, 3)
            joints = np.einsum("jv,bvc->bjc", d.J_regressor, v_shaped)  # (B, 16, 3) rest joints
        rotations = rodrigues(pose)  # (B, 16, 3, 3)
        pose_feature = (rotations[:, 1:] - np.eye(3)).reshape(batch, -1)  # (B, 135)
        transforms = self._kinematics(rotations, joints)  # (B, 16, 4, 4)
        # Skinning transforms: the rest joint moved to its posed place.
        skinning = transforms.copy()
        skinning[..., :3, 3] -= np.einsum("bjxy,bjy->bjx", transforms[..., :3, :3], joints)
        rows = slice(None) if vertices else _TIP_SOURCES
        v_posed = v_shaped[:, rows] + np.einsum("vcp,bp->bvc", d.posedirs[rows], pose_feature)
        blended = np.einsum("vj,bjxy->bvxy", d.weights[rows], skinning[..., :3, :])  # (B, V', 3, 4)
        skinned = (blended[..., :3] @ v_posed[..., None])[..., 0] + blended[..., 3]
        keypoints = np.empty((batch, NUM_KEYPOINTS, 3))
        keypoints[:, _JOINT_KEYPOINTS] = transforms[:, _JOINT_SOURCES][..., :3, 3]
        keypoints[:, _TIP_KEYPOINTS] = skinned[:, _TIP_SOURCES] if vertices else skinned
        return ManoOutput(transforms=transforms, keypoints=keypoints, vertices=skinned if vertices else None)

    def _kinematics(self, rotations: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """(B, 16, 3, 3) local rotations, (B, 16, 3) rest joints → (B, 16, 4, 4) model_T_joint."""
        local = np.zeros(rotations.shape[:-2] + (4, 4))
        local[..., :3, :3] = rotations
        local[..., 3, 3] = 1.0
        parents = self.data.parents
        local[:, 0, :3, 3] = joints[:, 0]
        local[:, 1:, :3, 3] = joints[:, 1:] - joints[:, parents[1:]]
        world = [local[:, 0]]
        for j in range(1, NUM_MANO_JOINTS):  # parents come before children
            world.append(world[parents[j]] @ local[:, j])
        return np.stack(world, axis=1)


class ManoArticulation:
    """MANO for ``gauss_newton``: 45 finger axis-angle parameters, mean shape (β = 0).

    The wrist frame is MANO's joint 0 with no global rotation; the solver's similarity adds
    rotation, translation and scale. The Jacobian is by central differences of the
    keypoints-only forward pass (16 joints + 5 vertices, batched over all perturbations).
    """

    name = "mano"

    def __init__(self, layer: ManoLayer) -> None:
        self.layer = layer
        self.faces = layer.faces
        num_params = 3 * (NUM_MANO_JOINTS - 1)
        # Axis-angle stays unique within |θ| < π per component; hands never need more.
        self.lower, self.upper = np.full(num_params, -np.pi), np.full(num_params, np.pi)

    def rest_params(self) -> np.ndarray:
        """(45,) the flat hand (MANO's template pose)."""
        return np.zeros(len(self.lower))

    def joint_pose(self, params: np.ndarray) -> np.ndarray:
        """(B, 45) → (B, 15, 3) finger axis-angle, radians (kintree order)."""
        return params.reshape(params.shape[0], NUM_MANO_JOINTS - 1, 3)

    def _full_pose(self, params: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((params.shape[0], 1, 3)), self.joint_pose(params)], axis=1)

    def _to_wrist(self, out: ManoOutput) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        wrist = out.transforms[:, :1, :3, 3]  # (B, 1, 3)
        transforms = out.transforms.copy()
        transforms[..., :3, 3] -= wrist
        vertices = None if out.vertices is None else out.vertices - wrist
        return out.keypoints - wrist, transforms, vertices

    def forward(self, params: np.ndarray) -> Posed:
        """(B, 45) → keypoints, joint transforms and vertices in the wrist frame (metres)."""
        keypoints, transforms, vertices = self._to_wrist(self.layer(self._full_pose(params)))
        return Posed(keypoints=keypoints, transforms=transforms, vertices=vertices)

    def jacobian(self, params: np.ndarray, posed: Posed) -> np.ndarray:
        """(B, 45) → (B, 21, 3, 45) d keypoints / d params by central differences."""
        batch, num_params = params.shape
        steps = _FINITE_DIFFERENCE_RAD * np.eye(num_params)
        probes = np.concatenate([params[:, None] + steps, params[:, None] - steps], axis=1)  # (B, 2P, P)
        out = self.layer(self._full_pose(probes.reshape(-1, num_params)), vertices=False)
        keypoints = self._to_wrist(out)[0].reshape(batch, 2, num_params, NUM_KEYPOINTS, 3)
        return np.moveaxis((keypoints[:, 0] - keypoints[:, 1]) / (2 * _FINITE_DIFFERENCE_RAD), 1, -1)

    def world_vertices(self, posed: Posed, world_T_wrist: np.ndarray) -> np.ndarray:
        """``forward`` output, (B, 4, 4) similarity → (B, V, 3) vertices, metres, world frame."""
        return np.einsum("bij,bvj->bvi", world_T_wrist[:, :3, :3], posed.vertices) + world_T_wrist[:, None, :3, 3]
