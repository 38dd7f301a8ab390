"""WristKinematics (numpy forward kinematics) against HandModel's torch kinematics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hand_pose_ros.handmodel import POSE_NAMES, HandModel, named_pose, random_pose
from hand_pose_ros.handmodel.kinematics import _axis_rotation
from hand_pose_ros.handmodel.wrist_kinematics import WristKinematics, rotation_x, rotation_y, rotation_z

SIDES = ("Left", "Right")
# The same products as the torch model's, summed in an order numpy and torch may choose
# differently: float64 rounding over a 5-joint chain, far below a micrometre.
ROUNDING_M = 1e-12


@pytest.fixture(scope="module", params=SIDES)
def model(request) -> HandModel:
    return HandModel.load(request.param)


@pytest.mark.parametrize("axis, rotation", [(0, rotation_x), (1, rotation_y), (2, rotation_z)])
def test_axis_rotations_equal_the_torch_model_s(axis, rotation):
    angles = np.random.default_rng(axis).uniform(-np.pi, np.pi, (4, 5))
    # numpy's and torch's cos/sin may differ in the last bit
    np.testing.assert_allclose(rotation(angles), _axis_rotation(torch.as_tensor(angles), axis).numpy(), rtol=0, atol=1e-15)


def test_poses_equal_the_torch_model_s_with_the_wrist_as_root(model):
    rng = np.random.default_rng(11)
    angles = np.stack([named_pose(name) for name in POSE_NAMES] + [random_pose(rng) for _ in range(4)]
                      + [rng.uniform(-1.0, 1.0, (25, 3))])  # (B, 25, 3), beyond the limits too
    reference = model(angles, np.tile(np.eye(4), (len(angles), 1, 1)), skin=False)
    transforms, keypoints = WristKinematics(model)(angles)
    assert transforms.shape == reference.transforms.shape and keypoints.shape == reference.keypoints.shape
    np.testing.assert_allclose(transforms, reference.transforms, rtol=0, atol=ROUNDING_M)
    np.testing.assert_allclose(keypoints, reference.keypoints, rtol=0, atol=ROUNDING_M)
    np.testing.assert_array_equal(transforms[..., 3, :], np.broadcast_to([0.0, 0.0, 0.0, 1.0], transforms.shape[:-2] + (4,)))


def test_a_wrong_shape_is_refused_with_where(model):
    with pytest.raises(ValueError, match="WristKinematics"):
        WristKinematics(model)(np.zeros((1, 24, 3)))
