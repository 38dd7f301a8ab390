"""WristKinematics (one tree depth at a time) against a joint-by-joint reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hand_pose_ros.handmodel import JOINT_PARENT, KEYPOINT_JOINT, MEDIAPIPE_OFFSETS_M, POSE_NAMES, HandModel, named_pose, random_pose
from hand_pose_ros.handmodel.wrist_kinematics import WristKinematics, rotation_x, rotation_y, rotation_z

SIDES = ("Left", "Right")
# The same products in another order: float64 rounding over a 5-joint chain, far below a micrometre.
ROUNDING_M = 1e-12


@pytest.fixture(scope="module", params=SIDES)
def model(request) -> HandModel:
    return HandModel.load(request.param)


def _joint_by_joint(model: HandModel, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(25, 3) radians → (25, 4, 4) wrist_T_joint and (21, 3) keypoints, written out joint by joint
    from the mesh's rest transforms, with scipy's rotations."""
    rest = model.mesh.rest_transforms
    mirror = -model.thumb_side
    world = []
    for joint, parent in enumerate(JOINT_PARENT):  # parents come before children
        flex, abduct, twist = angles[joint]
        motion = np.eye(4)
        motion[:3, :3] = Rotation.from_euler("YXZ", [mirror * abduct, -flex, mirror * twist]).as_matrix()
        base = np.eye(4) if parent < 0 else world[parent] @ np.linalg.solve(rest[parent], rest[joint])
        world.append(base @ motion)
    transforms = np.stack(world)
    keypoints = np.stack([transforms[j, :3, :3] @ offset + transforms[j, :3, 3]
                          for j, offset in zip(KEYPOINT_JOINT, np.asarray(MEDIAPIPE_OFFSETS_M))])
    return transforms, keypoints


@pytest.mark.parametrize("axis, rotation", [("x", rotation_x), ("y", rotation_y), ("z", rotation_z)])
def test_axis_rotations_equal_scipy_s(axis, rotation):
    angles = np.random.default_rng(ord(axis)).uniform(-np.pi, np.pi, 20)
    np.testing.assert_allclose(rotation(angles), Rotation.from_euler(axis, angles[:, None]).as_matrix(), rtol=0, atol=1e-15)


def test_poses_equal_the_joint_by_joint_reference(model):
    rng = np.random.default_rng(11)
    angles = np.stack([named_pose(name) for name in POSE_NAMES] + [random_pose(rng) for _ in range(4)]
                      + [rng.uniform(-1.0, 1.0, (25, 3))])  # (B, 25, 3), beyond the limits too
    transforms, keypoints = WristKinematics(model.mesh)(angles)
    assert transforms.shape == (len(angles), 25, 4, 4) and keypoints.shape == (len(angles), 21, 3)
    for batch_transforms, batch_keypoints, pose in zip(transforms, keypoints, angles):
        reference_transforms, reference_keypoints = _joint_by_joint(model, pose)
        np.testing.assert_allclose(batch_transforms, reference_transforms, rtol=0, atol=ROUNDING_M)
        np.testing.assert_allclose(batch_keypoints, reference_keypoints, rtol=0, atol=ROUNDING_M)
    np.testing.assert_array_equal(transforms[..., 3, :], np.broadcast_to([0.0, 0.0, 0.0, 1.0], transforms.shape[:-2] + (4,)))


def test_a_wrong_shape_is_refused_with_where(model):
    with pytest.raises(ValueError, match="WristKinematics"):
        WristKinematics(model.mesh)(np.zeros((1, 24, 3)))
