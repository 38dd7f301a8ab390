"""The WebXR hand model: loading, FK/LBS exactness, joint conventions, limits and poses."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.handmodel import (
    JOINT_INDEX,
    JOINT_LIMITS,
    JOINT_PARENT,
    KEYPOINT_JOINT,
    POSE_NAMES,
    HandModel,
    clip_to_limits,
    named_pose,
    random_pose,
)
from hand_pose_ros.keypoints import HandKeypoint

SIDES = ("Left", "Right")
EXACT_M = 1e-9  # float64 round-off over a 5-joint chain


@pytest.fixture(scope="module", params=SIDES)
def model(request) -> HandModel:
    return HandModel.load(request.param)


def _in_wrist(model: HandModel, points: np.ndarray) -> np.ndarray:
    """(N, 3) model-frame points → the rest wrist's frame."""
    T = np.linalg.inv(model.rest_root())
    return points @ T[:3, :3].T + T[:3, 3]


def test_rest_pose_reproduces_the_glb(model: HandModel) -> None:
    out = model(np.zeros((25, 3)), model.rest_root())
    assert np.abs(out.vertices - model.mesh.vertices).max() < EXACT_M
    assert np.abs(out.transforms - model.mesh.rest_transforms).max() < EXACT_M
    assert out.vertices.shape == (1360, 3) and model.faces.shape == (2314, 3)


def test_joints_are_in_webxr_order_whichever_order_the_file_lists_them(model: HandModel) -> None:
    rest = model.mesh.rest_transforms[:, :3, 3]
    wrist = rest[JOINT_INDEX["wrist"]]
    # Each finger chain runs away from the wrist, so joint distance to the wrist grows along it.
    for finger in ("thumb", "index-finger", "middle-finger", "ring-finger", "pinky-finger"):
        chain = [i for i, n in enumerate(JOINT_INDEX) if n.startswith(finger)]
        distances = np.linalg.norm(rest[chain] - wrist, axis=1)
        assert np.all(np.diff(distances) > 0), finger


def test_bone_lengths_are_kept_under_any_pose(model: HandModel) -> None:
    rng = np.random.default_rng(1)
    angles = np.stack([random_pose(rng) for _ in range(8)])
    roots = np.tile(model.rest_root(), (8, 1, 1))
    posed = model(angles, roots, skin=False).transforms[..., :3, 3]  # (8, 25, 3)
    rest = model.mesh.rest_transforms[:, :3, 3]
    for j, parent in enumerate(JOINT_PARENT):
        if parent >= 0:
            lengths = np.linalg.norm(posed[:, j] - posed[:, parent], axis=-1)
            np.testing.assert_allclose(lengths, np.linalg.norm(rest[j] - rest[parent]), atol=EXACT_M)


def test_flexion_curls_towards_the_palm_and_abduction_turns_towards_the_thumb(model: HandModel) -> None:
    tip = JOINT_INDEX["index-finger-tip"]
    rest = _in_wrist(model, model(np.zeros((25, 3)), model.rest_root()).transforms[:, :3, 3])
    thumb_x = rest[JOINT_INDEX["thumb-tip"], 0]
    angles = np.zeros((2, 25, 3))
    angles[0, JOINT_INDEX["index-finger-phalanx-proximal"], 0] = np.radians(60)
    angles[1, JOINT_INDEX["index-finger-phalanx-proximal"], 1] = np.radians(15)
    posed = model(angles, np.tile(model.rest_root(), (2, 1, 1))).transforms[:, tip, :3, 3]
    flexed, abducted = _in_wrist(model, posed)
    assert flexed[1] < rest[tip, 1] - 0.02  # the palm side is the wrist frame's −Y
    assert np.sign(abducted[0] - rest[tip, 0]) == np.sign(thumb_x)


def test_both_hands_are_mirror_images_for_the_same_angles() -> None:
    left, right = HandModel.load("Left"), HandModel.load("Right")
    for name in POSE_NAMES:
        kl = _in_wrist(left, left(named_pose(name), left.rest_root(), skin=False).keypoints)
        kr = _in_wrist(right, right(named_pose(name), right.rest_root(), skin=False).keypoints)
        kl[:, 0] *= -1  # mirror across the wrist frame's YZ plane
        assert np.abs(kl - kr).max() < 0.006, name  # the two meshes differ by a few mm


def test_fist_closes_the_hand_and_open_opens_it(model: HandModel) -> None:
    tips = [HandKeypoint.INDEX_FINGER_TIP, HandKeypoint.MIDDLE_FINGER_TIP, HandKeypoint.RING_FINGER_TIP, HandKeypoint.PINKY_TIP]
    reach = {}
    for name in ("open", "fist"):
        k = model(named_pose(name), model.rest_root(), skin=False).keypoints
        reach[name] = np.linalg.norm(k[tips] - k[HandKeypoint.WRIST], axis=1)
    assert np.all(reach["open"] > 0.12) and np.all(reach["fist"] < 0.6 * reach["open"])


def test_poses_stay_within_the_limits() -> None:
    rng = np.random.default_rng(0)
    for angles in [named_pose(n) for n in POSE_NAMES] + [random_pose(rng) for _ in range(50)]:
        assert np.all(angles >= JOINT_LIMITS[..., 0] - 1e-12) and np.all(angles <= JOINT_LIMITS[..., 1] + 1e-12)
    wild = np.full((25, 3), 10.0)
    np.testing.assert_array_equal(clip_to_limits(wild), JOINT_LIMITS[..., 1])
    with pytest.raises(ValueError, match="unknown pose 'wave'.*fist"):
        named_pose("wave")


def test_batches_pose_each_hand_alone_and_skin_vertex_by_vertex(model: HandModel) -> None:
    rng = np.random.default_rng(2)
    angles = np.stack([random_pose(rng) for _ in range(4)]).reshape(2, 2, 25, 3)
    roots = np.tile(model.rest_root(), (2, 2, 1, 1))
    roots[..., :3, 3] += rng.normal(0, 0.1, (2, 2, 3))
    out = model(angles, roots)
    assert out.transforms.shape == (2, 2, 25, 4, 4) and out.keypoints.shape == (2, 2, 21, 3)
    mesh = model.mesh
    for i, j in np.ndindex(2, 2):
        alone = model(angles[i, j], roots[i, j])
        np.testing.assert_allclose(out.keypoints[i, j], alone.keypoints, rtol=0, atol=EXACT_M)
        # each vertex: its (≤ 4) joints' skinning transforms blended by its weights
        skinning = alone.transforms[mesh.skin_joints] @ mesh.inverse_bind[mesh.skin_joints]  # (V, 4, 4, 4)
        blended = (mesh.skin_weights[..., None, None] * skinning).sum(axis=1)  # (V, 4, 4)
        vertices = (blended[:, :3, :3] @ mesh.vertices[..., None])[..., 0] + blended[:, :3, 3]
        np.testing.assert_allclose(out.vertices[i, j], vertices, rtol=0, atol=EXACT_M)


def test_keypoints_sit_on_their_carrying_joints_plus_the_offset(model: HandModel) -> None:
    out = model(named_pose("grasp"), model.rest_root(), skin=False)
    carriers = out.transforms[list(KEYPOINT_JOINT)]
    distance = np.linalg.norm(out.keypoints - carriers[:, :3, 3], axis=1)
    assert distance[HandKeypoint.WRIST] > 0.01  # MediaPipe's wrist is inside the carpus
    assert np.all(distance < 0.025)


def test_bad_shapes_are_named(model: HandModel) -> None:
    with pytest.raises(ValueError, match=r"angles in HandModel: expected shape \(25, 3\), got \(21, 3\)"):
        model(np.zeros((21, 3)), np.eye(4))
    with pytest.raises(ValueError, match=r"root in HandModel: expected shape \(2, 4, 4\)"):
        model(np.zeros((2, 25, 3)), np.eye(4))
