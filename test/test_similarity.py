"""hand_pose_ros.similarity: umeyama exact on noise-free data; NaN rows, weights, no reflection; its Kabsch core."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hand_pose_ros.similarity import MIN_POINTS, best_rotation, umeyama

# Noise-free input: recovered to round-off.
EXACT_TOL = 1e-12


def _scene(seed: int, n: int = 21, scale: float = 1.3):
    rng = np.random.default_rng(seed)
    source = rng.normal(0, 0.05, (n, 3))
    R = Rotation.random(random_state=seed).as_matrix()
    t = rng.normal(0, 1.0, 3)
    return source, scale * source @ R.T + t, R, t


@pytest.mark.parametrize("seed", range(3))
def test_noise_free_similarity_is_recovered_exactly(seed: int) -> None:
    source, target, R, t = _scene(seed)
    T = umeyama(source, target)
    assert T.scale == pytest.approx(1.3, abs=EXACT_TOL)
    np.testing.assert_allclose(T.rotation, R, atol=EXACT_TOL)
    np.testing.assert_allclose(T.translation, t, atol=EXACT_TOL)
    np.testing.assert_allclose(T.apply(source), target, atol=EXACT_TOL)
    np.testing.assert_allclose(T.matrix()[:3] @ np.c_[source, np.ones(len(source))].T, target.T, atol=EXACT_TOL)


def test_rigid_fit_keeps_scale_one_and_is_exact_on_rigid_data() -> None:
    source, target, R, t = _scene(4, scale=1.0)
    T = umeyama(source, target, scale=False)
    assert T.scale == 1.0
    np.testing.assert_allclose(T.rotation, R, atol=EXACT_TOL)
    np.testing.assert_allclose(T.translation, t, atol=EXACT_TOL)
    # On scaled data the rigid fit still returns a rotation, but cannot match.
    source, target, _, _ = _scene(4, scale=1.5)
    rigid = umeyama(source, target, scale=False)
    assert rigid.scale == 1.0 and np.abs(rigid.apply(source) - target).max() > 1e-3


def test_nan_rows_and_zero_weights_are_ignored() -> None:
    source, target, R, t = _scene(5)
    source[[0, 3]] = np.nan
    target[7] = np.nan
    weights = np.ones(len(source))
    weights[[9, 10]] = 0.0
    weights[11] = np.nan  # not a weight: the row is left out
    target[[9, 10, 11]] += 1.0  # those rows are wrong, but carry no weight
    T = umeyama(source, target, weights)
    assert T.scale == pytest.approx(1.3, abs=EXACT_TOL)
    np.testing.assert_allclose(T.rotation, R, atol=EXACT_TOL)
    np.testing.assert_allclose(T.translation, t, atol=EXACT_TOL)


def test_weights_decide_between_conflicting_points() -> None:
    """Half the points moved one way, half another: the fit follows the heavier half."""
    source, target, _, _ = _scene(6, n=20)
    other = source @ Rotation.from_rotvec([0, 0, 0.5]).as_matrix().T * 0.8 + 0.3
    mixed = np.where(np.arange(20)[:, None] < 10, target, other)
    heavy_first = np.where(np.arange(20) < 10, 1.0, 1e-3)
    first = umeyama(source, mixed, heavy_first)
    second = umeyama(source, mixed, heavy_first[::-1])
    assert abs(first.scale - 1.3) < abs(first.scale - 0.8)
    assert abs(second.scale - 0.8) < abs(second.scale - 1.3)
    # Equal weights: the same as no weights.
    unweighted, ones = umeyama(source, mixed), umeyama(source, mixed, np.ones(20))
    np.testing.assert_allclose(ones.matrix(), unweighted.matrix(), atol=EXACT_TOL)


def test_a_mirrored_target_gives_a_rotation_not_a_reflection() -> None:
    source, target, _, _ = _scene(7)
    T = umeyama(source, target * np.array([1.0, 1.0, -1.0]))
    assert np.linalg.det(T.rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(T.rotation @ T.rotation.T, np.eye(3), atol=EXACT_TOL)


def test_too_few_points_or_coincident_ones_give_none_and_bad_shapes_are_named() -> None:
    source, target, _, _ = _scene(8)
    source[MIN_POINTS - 1:] = np.nan
    assert umeyama(source, target) is None
    assert umeyama(np.ones((5, 3)), np.random.default_rng(0).normal(size=(5, 3))) is None
    with pytest.raises(ValueError, match="target in umeyama: expected shape"):
        umeyama(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="weights"):
        umeyama(np.zeros((5, 3)), np.zeros((5, 3)), np.ones(4))


def test_best_rotation_rotates_a_centred_cloud_onto_a_mirrored_one_without_reflecting() -> None:
    source, target, R, _ = _scene(4, scale=1.0)
    cs, ct = source - source.mean(0), target - target.mean(0)
    rotation, _ = best_rotation(cs, ct)
    np.testing.assert_allclose(rotation, R, atol=EXACT_TOL)
    mirrored = ct * np.array([1.0, 1.0, -1.0])  # only a reflection would fit this exactly
    rotation, _ = best_rotation(cs, mirrored)
    assert np.linalg.det(rotation) == pytest.approx(1.0, abs=EXACT_TOL)
    assert np.linalg.norm(cs @ rotation.T - mirrored) > 0.01
