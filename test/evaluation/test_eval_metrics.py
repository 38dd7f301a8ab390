"""Metrics against hand-computed cases: rigid transforms, scale, permutations, missing joints."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hand_pose_ros.evaluation.metrics import (
    PCK_THRESHOLDS_M,
    auc,
    joint_errors,
    mpjpe,
    mpvpe,
    pa_mpvpe,
    pa_mpjpe,
    pck_curve,
    procrustes_align,
    root_relative_mpjpe,
)

TIGHT = 1e-9


@pytest.fixture
def hand() -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, 0.05, (21, 3)) + [0.1, -0.2, 1.0]


def test_mpjpe_of_a_uniform_shift_is_the_shift(hand: np.ndarray) -> None:
    assert mpjpe(hand + [0.003, 0.004, 0.0], hand) == pytest.approx(0.005, abs=TIGHT)
    assert root_relative_mpjpe(hand + [0.003, 0.004, 0.0], hand) == pytest.approx(0.0, abs=TIGHT)


def test_missing_joints_are_left_out_of_means_and_count_as_misses_in_pck(hand: np.ndarray) -> None:
    pred = hand.copy()
    pred[:10] += [0.0, 0.0, 0.002]  # 2 mm on 10 joints, exact on 10, one missing
    pred[20] = np.nan
    assert mpjpe(pred, hand) == pytest.approx(0.001, abs=TIGHT)  # (10 * 2 + 10 * 0) / 20 mm
    pck = pck_curve(joint_errors(pred, hand), np.array([0.0, 0.001, 0.0025]))
    np.testing.assert_allclose(pck, [10 / 21, 10 / 21, 20 / 21])


def test_pa_mpjpe_removes_rotation_translation_and_scale(hand: np.ndarray) -> None:
    R = Rotation.from_euler("xyz", [30, -50, 100], degrees=True).as_matrix()
    moved = 1.3 * hand @ R.T + [0.5, -0.2, 0.3]
    assert mpjpe(moved, hand) > 0.1
    assert pa_mpjpe(moved[None], hand[None]) == pytest.approx(0.0, abs=TIGHT)
    np.testing.assert_allclose(procrustes_align(moved, hand), hand, atol=TIGHT)
    # Without scale, a scaled copy keeps an error: the centred points differ by 30 %.
    centred = hand - hand.mean(0)
    expected = 0.3 * np.linalg.norm(centred, axis=1).mean()
    assert pa_mpjpe(1.3 * centred[None], centred[None], scale=False) == pytest.approx(expected, rel=1e-9)


def test_procrustes_never_reflects(hand: np.ndarray) -> None:
    mirrored = hand * [-1.0, 1.0, 1.0]
    aligned = procrustes_align(mirrored, hand)
    assert np.linalg.norm(aligned - hand, axis=1).mean() > 0.005  # a mirror image is not a rigid motion


def test_procrustes_uses_only_joints_present_in_both(hand: np.ndarray) -> None:
    R = Rotation.from_euler("z", 40, degrees=True).as_matrix()
    moved = hand @ R.T + 0.1
    moved[[3, 7]] = [[9.0, 9.0, 9.0], [np.nan] * 3]
    truth = hand.copy()
    truth[3] = np.nan  # an outlier where GT is missing must not disturb the fit
    aligned = procrustes_align(moved, truth)
    assert np.isnan(aligned[[3, 7]]).all()
    np.testing.assert_allclose(np.delete(aligned, [3, 7], 0), np.delete(hand, [3, 7], 0), atol=TIGHT)
    assert np.isnan(procrustes_align(moved[:2], truth[:2])).all()  # too few points: undefined


def test_joint_order_matters_permuted_joints_are_errors(hand: np.ndarray) -> None:
    permuted = hand[np.random.default_rng(1).permutation(21)]
    assert mpjpe(permuted, hand) > 0.01 and pa_mpjpe(permuted[None], hand[None]) > 0.005


def test_auc_of_known_curves() -> None:
    assert auc(PCK_THRESHOLDS_M, np.ones(len(PCK_THRESHOLDS_M))) == pytest.approx(1.0)
    assert auc(PCK_THRESHOLDS_M, PCK_THRESHOLDS_M / PCK_THRESHOLDS_M[-1]) == pytest.approx(0.5)
    # Errors spread evenly over 0–50 mm: PCK rises linearly, AUC 0.5.
    errors = np.linspace(0.0, 0.050, 10001)
    assert auc(PCK_THRESHOLDS_M, pck_curve(errors)) == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="thresholds must increase"):
        auc(np.array([0.05, 0.0]), np.array([1.0, 0.0]))


def test_mpvpe_and_shape_errors(hand: np.ndarray) -> None:
    vertices = np.random.default_rng(2).normal(size=(5, 100, 3))
    assert mpvpe(vertices + [0.0, 0.01, 0.0], vertices) == pytest.approx(0.01)
    # A similarity transform of a mesh is no shape error; per-vertex noise is.
    c, s = np.cos(0.4), np.sin(0.4)
    moved = 1.2 * vertices @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T + [0.3, -0.1, 0.5]
    assert pa_mpvpe(moved, vertices) == pytest.approx(0.0, abs=1e-9)
    assert mpvpe(moved, vertices) > 0.1
    noisy = vertices + np.random.default_rng(3).normal(0.0, 0.01, vertices.shape)
    assert 0.0 < pa_mpvpe(noisy, vertices) <= mpvpe(noisy, vertices)
    with pytest.raises(ValueError, match=r"pred in joint_errors: expected shape \(21, 3\), got \(20, 3\)"):
        joint_errors(hand[:20], hand)
