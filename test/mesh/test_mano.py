"""MANO: loader (restricted unpickler, clear errors), layer (LBS, rigid motion, shapes), fitting.

MANO is never shipped; these tests write a synthetic model with the release pickle's
structure (``mano_synth``).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from mano_synth import TIPS, synthetic_mano, untwisted_pose, write_release_pickle
from hand_helpers import make_hand, random_similarity
from scipy.spatial.transform import Rotation

from hand_pose_ros.keypoints import Handedness, HandKeypoint
from hand_pose_ros.mesh import HandMeshFitter, MeshFitterConfig
from hand_pose_ros.mesh.mano import MANO_KEYPOINT_JOINT, MANO_TIP_VERTEX, ManoLayer, rodrigues
from hand_pose_ros.mesh.mano_io import ManoFileError, load_mano

EXACT_MPVPE_M = 0.002  # the bound for exact joints


@pytest.fixture(scope="module")
def mano_dir(tmp_path_factory):
    """A directory with synthetic MANO_RIGHT.pkl and MANO_LEFT.pkl."""
    root = tmp_path_factory.mktemp("mano")
    write_release_pickle(root / "MANO_RIGHT.pkl", synthetic_mano(1, left=False))
    write_release_pickle(root / "MANO_LEFT.pkl", synthetic_mano(2, left=True))
    return root


def test_loader_reads_the_release_structure(mano_dir):
    arrays = synthetic_mano(1, left=False)
    data = load_mano(mano_dir, "Right")
    assert data.handedness == Handedness.RIGHT
    np.testing.assert_array_equal(data.v_template, arrays["v_template"])
    np.testing.assert_array_equal(data.shapedirs, arrays["shapedirs"])  # from the chumpy object
    np.testing.assert_array_equal(data.J_regressor, arrays["J_regressor"])  # from scipy.sparse
    np.testing.assert_array_equal(data.faces, arrays["f"].astype(np.int64))
    assert data.parents.tolist() == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
    assert data.hands_components.shape == (45, 45) and data.hands_mean.shape == (45,)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ManoFileError, match=r"MANO_LEFT\.pkl.*not found"):
        load_mano(tmp_path, Handedness.LEFT)
    # The fitter loads both hands up front: a missing file fails at construction, not mid-stream.
    write_release_pickle(tmp_path / "MANO_RIGHT.pkl", synthetic_mano(1))
    with pytest.raises(ManoFileError, match=r"MANO_LEFT\.pkl.*not found"):
        HandMeshFitter(MeshFitterConfig(model="mano", mano_dir=str(tmp_path)))


class _Exploit:
    def __reduce__(self):
        return (pickle.loads, (b"",))  # anything callable that is not a MANO array


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a pickle at all", "not a readable MANO pickle"),
        (pickle.dumps(_Exploit(), protocol=2), r"refusing to unpickle .*loads"),
        (pickle.dumps([1, 2, 3], protocol=2), "expected a dict"),
    ],
)
def test_foreign_files_are_refused_with_the_reason(tmp_path, content, message):
    (tmp_path / "MANO_RIGHT.pkl").write_bytes(content)
    with pytest.raises(ManoFileError, match=f"MANO_RIGHT.pkl.*{message}"):
        load_mano(tmp_path, Handedness.RIGHT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("posedirs"), "key 'posedirs' missing"),
        (lambda a: a.update(weights=a["weights"][:, :15]), r"'weights' has shape \(778, 15\), expected \(778, 16\)"),
        (lambda a: a.update(weights=a["weights"] * 2), "'weights' rows must be non-negative and sum to 1"),
        (lambda a: a.update(f=a["f"] + 1000), "'f' indexes vertices outside"),
        (lambda a: a["kintree_table"][0].__setitem__(3, 9), "'kintree_table' must list parents before children"),
    ],
)
def test_inconsistent_models_are_refused_with_the_key(tmp_path, change, message):
    arrays = synthetic_mano(3)
    change(arrays)
    write_release_pickle(tmp_path / "MANO_RIGHT.pkl", arrays)
    with pytest.raises(ManoFileError, match=f"MANO_RIGHT.pkl: {message}"):
        load_mano(tmp_path, "Right")


def test_layer_is_the_template_at_zero_pose_and_shape(mano_dir):
    data = load_mano(mano_dir, "Right")
    out = ManoLayer(data)(np.zeros((1, 16, 3)))
    np.testing.assert_allclose(out.vertices[0], data.v_template, atol=1e-15)
    np.testing.assert_allclose(out.transforms[0, :, :3, 3], data.J_regressor @ data.v_template, atol=1e-15)
    np.testing.assert_allclose(out.transforms[0, :, :3, :3], np.broadcast_to(np.eye(3), (16, 3, 3)), atol=1e-15)


def test_global_rotation_is_rigid_about_the_wrist(mano_dir):
    data = load_mano(mano_dir, "Left")
    layer = ManoLayer(data)
    rng = np.random.default_rng(30)
    fingers = rng.normal(0, 0.3, (15, 3))
    still = layer(np.concatenate([np.zeros((1, 3)), fingers])[None])
    turn = rng.normal(0, 1.0, 3)
    moved = layer(np.concatenate([turn[None], fingers])[None])
    R, wrist = Rotation.from_rotvec(turn).as_matrix(), still.transforms[0, 0, :3, 3]
    np.testing.assert_allclose(moved.vertices[0], (still.vertices[0] - wrist) @ R.T + wrist, atol=1e-12)
    np.testing.assert_allclose(moved.keypoints[0], (still.keypoints[0] - wrist) @ R.T + wrist, atol=1e-12)


def test_shape_blend_shapes_are_linear_at_rest(mano_dir):
    data = load_mano(mano_dir, "Right")
    layer = ManoLayer(data)
    betas = np.random.default_rng(31).normal(size=(1, 10))
    out = layer(np.zeros((1, 16, 3)), betas)
    np.testing.assert_allclose(out.vertices[0], data.v_template + data.shapedirs @ betas[0], atol=1e-14)


def test_keypoints_map_mano_joints_and_tip_vertices(mano_dir):
    layer = ManoLayer(load_mano(mano_dir, "Right"))
    pose = np.random.default_rng(32).normal(0, 0.3, (2, 16, 3))
    out = layer(pose)
    for keypoint, joint in MANO_KEYPOINT_JOINT.items():
        np.testing.assert_array_equal(out.keypoints[:, keypoint], out.transforms[:, joint, :3, 3])
    for keypoint, vertex in MANO_TIP_VERTEX.items():
        np.testing.assert_allclose(out.keypoints[:, keypoint], out.vertices[:, vertex], atol=1e-15)
    assert len(MANO_KEYPOINT_JOINT) + len(MANO_TIP_VERTEX) == len(HandKeypoint)
    np.testing.assert_allclose(layer(pose, vertices=False).keypoints, out.keypoints, atol=1e-15)
    # Each tip is the end of the chain MediaPipe puts it on: its last joint is the DIP (IP) joint.
    assert {MANO_TIP_VERTEX[HandKeypoint.THUMB_TIP], MANO_TIP_VERTEX[HandKeypoint.INDEX_FINGER_TIP]} == {TIPS[15], TIPS[3]}


def test_rodrigues_matches_scipy_including_zero():
    vectors = np.vstack([np.zeros(3), 1e-9 * np.ones(3), np.random.default_rng(33).normal(size=(5, 3))])
    np.testing.assert_allclose(rodrigues(vectors), Rotation.from_rotvec(vectors).as_matrix(), atol=1e-12)


def test_pca_pose_uses_components_and_mean(mano_dir):
    data = load_mano(mano_dir, "Right")
    coefficients = np.random.default_rng(34).normal(size=(1, 6))
    pose = ManoLayer(data).pose_from_pca(coefficients)
    np.testing.assert_allclose(pose.reshape(-1), data.hands_mean + coefficients[0] @ data.hands_components[:6])


def test_mano_fit_recovers_known_poses_of_both_hands(mano_dir):
    rng = np.random.default_rng(35)
    fitter = HandMeshFitter(MeshFitterConfig(model="mano", mano_dir=str(mano_dir)))
    hands, truths = [], []
    for track_id, (side, seed) in enumerate(((Handedness.RIGHT, 1), (Handedness.LEFT, 2))):
        articulation = fitter.articulation(side)
        params = untwisted_pose(rng, synthetic_mano(seed, left=side == Handedness.LEFT), 0.4)[None]
        posed = articulation.forward(params)
        world_T = random_similarity(rng, 1.1)[None]
        keypoints = posed.keypoints[0] @ world_T[0, :3, :3].T + world_T[0, :3, 3]
        hands.append(make_hand(track_id, side, keypoints))
        truths.append(articulation.world_vertices(posed, world_T)[0])
    for frame in range(2):  # cold, then warm from the first fit
        meshes = fitter.fit(hands, stamp=frame / 30)
        for mesh, vertices in zip(meshes, truths):
            assert mesh.model == "mano" and mesh.joint_pose.shape == (15, 3)
            assert np.linalg.norm(mesh.vertices - vertices, axis=1).mean() < EXACT_MPVPE_M
            assert mesh.scale == pytest.approx(1.1, abs=0.01)
