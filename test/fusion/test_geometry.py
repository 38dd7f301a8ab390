"""Triangulation, association costs, refinement, One-Euro filter and the wrist frame, piece by piece."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hand_pose_ros.fusion import CameraArray, wrist_pose
from hand_pose_ros.fusion.association import _masked_median, epipolar_costs, essential_matrices
from hand_pose_ros.fusion.filtering import HandFilter, OneEuroFilter
from hand_pose_ros.fusion.refinement import bone_lengths, refine_points
from hand_pose_ros.tools.synthetic_scenes import WORKSPACE_CENTER, hand_sequence, make_rig
from hand_pose_ros.fusion.tracking import BONE_INDEX
from hand_pose_ros.fusion.triangulation import robust_triangulate, weighted_dlt
from hand_pose_ros.keypoints import HandKeypoint, Handedness

THRESHOLD_PX = 15.0


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(2)
    rig = make_rig(5, rng, distortion=True)
    cams = CameraArray.from_rig(rig)
    points = WORKSPACE_CENTER + rng.uniform(-0.12, 0.12, (40, 3))
    xy = cams.to_camera(points)
    return cams, points, xy[..., :2] / xy[..., 2:]


def test_a_large_rig_triangulates_from_its_best_views_and_keeps_every_inlier() -> None:
    """32 views (hypotheses from each point's 8 best-scored): exact points, outliers out, all inliers in."""
    rng = np.random.default_rng(4)
    cams = CameraArray.from_rig(make_rig(32, rng))
    points = WORKSPACE_CENTER + rng.uniform(-0.12, 0.12, (30, 3))
    cam = cams.to_camera(points)
    xy = cam[..., :2] / cam[..., 2:]
    scores = rng.uniform(0.5, 1.0, xy.shape[:2])
    outlier = rng.random(xy.shape[:2]) < 0.3
    outlier[:, :3] = False  # 3 points: their best-scored views all wrong but 2
    ranked = np.argsort(-scores[:, :3], axis=0)[:8]  # (8, 3)
    outlier[ranked[2:], np.arange(3)] = True
    shift = rng.uniform(40, 150, xy.shape[:2]) / cams.focal[:, None]
    angle = rng.uniform(0, 2 * np.pi, xy.shape[:2])
    bad = xy + np.where(outlier[..., None], np.stack([np.cos(angle), np.sin(angle)], -1) * shift[..., None], 0.0)
    tri = robust_triangulate(bad, scores, cams, THRESHOLD_PX)
    np.testing.assert_allclose(tri.points, points, atol=1e-7)
    np.testing.assert_array_equal(tri.inliers, ~outlier)


def test_weighted_dlt_is_exact_and_needs_two_views(setup) -> None:
    cams, points, xy = setup
    weights = np.random.default_rng(0).uniform(0.1, 1.0, xy.shape[:2])
    np.testing.assert_allclose(weighted_dlt(xy, weights, cams), points, atol=1e-9)
    weights[1:, :5] = 0.0
    out = weighted_dlt(xy, weights, cams)
    assert np.isnan(out[:5]).all() and np.isfinite(out[5:]).all()


def test_robust_triangulation_rejects_outlier_views(setup) -> None:
    cams, points, xy = setup
    rng = np.random.default_rng(1)
    bad = xy.copy()
    # Two of five views wrong for every point, each by 40-150 px in a random direction.
    for v in (0, 3):
        shift = rng.uniform(40, 150, 40) / cams.focal[v]
        angle = rng.uniform(0, 2 * np.pi, 40)
        bad[v] += np.stack([np.cos(angle), np.sin(angle)], -1) * shift[:, None]
    tri = robust_triangulate(bad, np.ones(bad.shape[:2]), cams, THRESHOLD_PX)
    np.testing.assert_allclose(tri.points, points, atol=1e-7)
    assert not tri.inliers[[0, 3]].any() and tri.inliers[[1, 2, 4]].all()
    assert np.all(tri.num_views == 3) and np.all(tri.reprojection_error < 1e-4)
    # Two views that disagree cannot make a point (unless the error lies along the epipolar line).
    two = np.full_like(bad, np.nan)
    two[[0, 1]] = bad[[0, 1]]
    out = robust_triangulate(two, np.ones(bad.shape[:2]), cams, THRESHOLD_PX)
    missing = np.isnan(out.points).all(-1)
    assert missing.mean() > 0.6  # random directions: ~20 % fall within the threshold of the epipolar line
    assert np.all(out.num_views[missing] == 0) and np.isnan(out.reprojection_error[missing]).all()
    assert np.all(out.reprojection_error[~missing] < THRESHOLD_PX)


def _shifted_in_views(setup, rng: np.random.Generator, distance_m: float, wrong: list[int]):
    """The setup's points moved ``distance_m`` in random directions → (40, 3) those points,
    (V, 40, 3) them in every camera, and the observations with the ``wrong`` views seeing them."""
    cams, points, xy = setup
    direction = rng.normal(size=points.shape)
    shifted = points + distance_m * direction / np.linalg.norm(direction, axis=-1, keepdims=True)  # (40, 3)
    cam = cams.to_camera(shifted)
    biased = xy.copy()
    biased[wrong] = (cam[..., :2] / cam[..., 2:])[wrong]
    return shifted, cam, biased


def test_views_with_little_support_count_less_when_they_agree_on_a_wrong_point(setup) -> None:
    """Three views agree on a point 8 cm off (a hidden joint that the landmark network places
    alike in several views); two see the true point. Each view's truncated cost weighs by its
    support, so with those three at 0.3 the pair wins; with equal support the majority would."""
    cams, points, xy = setup
    wrong = [0, 2, 4]
    shifted, cam, biased = _shifted_in_views(setup, np.random.default_rng(5), 0.08, wrong)
    # Points whose shift shows in every view by more than the threshold (a shift along a
    # view's ray would not show in it).
    shown = (np.linalg.norm(cam[..., :2] / cam[..., 2:] - xy, axis=-1) * cams.focal[:, None]).min(0) > THRESHOLD_PX
    assert shown.mean() > 0.5
    support = np.ones(xy.shape[:2])
    support[wrong] = 0.3
    scores = np.ones(xy.shape[:2])
    tri = robust_triangulate(biased, scores, cams, THRESHOLD_PX, support=support)
    np.testing.assert_allclose(tri.points[shown], points[shown], atol=1e-7)
    assert not tri.inliers[np.ix_(wrong, shown)].any() and tri.inliers[np.ix_([1, 3], shown)].all()
    for majority in (robust_triangulate(biased, scores, cams, THRESHOLD_PX),
                     robust_triangulate(biased, scores, cams, THRESHOLD_PX, support=np.ones(xy.shape[:2]))):
        np.testing.assert_allclose(majority.points[shown], shifted[shown], atol=1e-7)
    with pytest.raises(ValueError, match="support"):
        robust_triangulate(biased, scores, cams, THRESHOLD_PX, support=support[:, :5])


def test_the_tracks_prediction_breaks_a_tie_of_two_views_against_two_and_moves_nothing_seen_alike(setup) -> None:
    """Four views: two agree on a point 6 cm off (a tip the object hides, placed alike), the
    other two see the true point, one of them with little support: the pair agreeing on the
    wrong point wins the plain vote. The track's prediction near the true point, as one more
    witness, sides with the views that see it. Where every view agrees (exactly seen points),
    a prediction off by a few cm changes nothing: it is worth one view's vote at most."""
    cams, points, xy = setup
    rng = np.random.default_rng(6)
    wrong, right = [0, 2], [1, 3]
    shifted, cam, four = _shifted_in_views(setup, rng, 0.06, wrong)
    four[4] = np.nan  # four views
    shown = (np.linalg.norm(cam[..., :2] / cam[..., 2:] - xy, axis=-1) * cams.focal[:, None])[:4].min(0) > THRESHOLD_PX
    support = np.ones(xy.shape[:2])
    support[3] = 0.5
    scores = np.ones(xy.shape[:2])
    weight = THRESHOLD_PX / 3 / 0.01  # px per m: a 1 cm 1σ prediction as a view's 1σ
    plain = robust_triangulate(four, scores, cams, THRESHOLD_PX, support=support)
    # The case under test: points where the plain vote takes the wrong pair's point.
    shown &= np.isclose(plain.points, shifted, atol=1e-7).all(-1)
    assert shown.sum() >= 5
    prediction = points + rng.normal(0.0, 0.003, points.shape)  # the track, a few mm off
    tri = robust_triangulate(four, scores, cams, THRESHOLD_PX, support=support, prior=prediction,
                             prior_weight_px_per_m=weight)
    np.testing.assert_allclose(tri.points[shown], points[shown], atol=1e-7)  # the views' point, not the prediction
    assert tri.inliers[np.ix_(right, shown)].all() and not tri.inliers[np.ix_(wrong, shown)].any()
    # Exactly seen by all five views: a prediction 3 cm off moves nothing, and gives the same inliers.
    off = points + 0.03 * (shifted - points) / 0.06
    seen = robust_triangulate(xy, scores, cams, THRESHOLD_PX, prior=off, prior_weight_px_per_m=weight)
    np.testing.assert_allclose(seen.points, points, atol=1e-7)
    assert seen.inliers.all()
    # NaN predictions (a new hand) are no witness: the plain vote.
    nan = robust_triangulate(four, scores, cams, THRESHOLD_PX, support=support, prior=np.full_like(points, np.nan),
                             prior_weight_px_per_m=weight)
    np.testing.assert_allclose(nan.points, plain.points, atol=1e-12, equal_nan=True)
    with pytest.raises(ValueError, match="prior"):
        robust_triangulate(four, scores, cams, THRESHOLD_PX, prior=prediction[:5], prior_weight_px_per_m=weight)


def test_epipolar_cost_separates_hands(setup) -> None:
    cams, _, _ = setup
    hands = hand_sequence(1, np.random.default_rng(4))[0]  # (2, 21, 3)
    xy = np.stack([cams.to_camera(h) for h in hands], 1)  # (V, 2, 21, 3)
    xy = (xy[..., :2] / xy[..., 2:]).reshape(-1, 21, 2)  # detections ordered view-major
    view = np.repeat(np.arange(len(cams)), 2)
    hand = np.tile([0, 1], len(cams))
    cost = epipolar_costs(view, xy, cams, essential_matrices(cams))
    same = (hand[:, None] == hand[None]) & (view[:, None] != view[None])
    assert np.all(cost[same] < 1e-6)
    assert np.all(cost[~same & (view[:, None] != view[None])] > 5.0)
    assert np.isinf(cost[view[:, None] == view[None]]).all()


def test_masked_median_matches_nanmedian() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(6, 7, 21))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[0, 0, :18] = np.nan  # too few values: inf
    ref = np.nanmedian(values, axis=-1)
    out = _masked_median(values)
    assert np.isinf(out[0, 0])
    ok = np.isfinite(values).sum(-1) >= 5
    np.testing.assert_allclose(out[ok], ref[ok])


def test_refinement_pulls_bones_toward_their_targets(setup) -> None:
    cams, _, _ = setup
    hand = hand_sequence(1, np.random.default_rng(5))[0, 1]
    cam = cams.to_camera(hand)
    xy = cam[..., :2] / cam[..., 2:]
    rng = np.random.default_rng(6)
    noisy = xy + rng.normal(0, 4.0, xy.shape) / cams.focal[:, None, None]
    start = weighted_dlt(noisy, np.ones(xy.shape[:2]), cams)
    target = bone_lengths(hand, BONE_INDEX)
    kwargs = dict(huber_px=10.0, iterations=5)
    free = refine_points(start, noisy, np.ones(xy.shape[:2]), cams, BONE_INDEX, target, bone_weight_px_per_mm=0.0, **kwargs)
    tied = refine_points(start, noisy, np.ones(xy.shape[:2]), cams, BONE_INDEX, target, bone_weight_px_per_mm=5.0, **kwargs)
    err_free = np.abs(bone_lengths(free, BONE_INDEX) - target).mean()
    err_tied = np.abs(bone_lengths(tied, BONE_INDEX) - target).mean()
    assert err_tied < 0.5 * err_free
    # Without a bone term the refinement is the maximum-likelihood point: no worse than DLT.
    assert np.linalg.norm(free - hand, axis=-1).mean() <= np.linalg.norm(start - hand, axis=-1).mean() + 1e-5


def test_one_euro_smooths_jitter_follows_motion_and_skips_nan() -> None:
    rng = np.random.default_rng(0)
    filt = OneEuroFilter(min_cutoff_hz=1.0, beta=10.0, derivative_cutoff_hz=1.0)
    still = [filt(np.array([[0.0, 0.0, 1.0]]) + rng.normal(0, 0.005, (1, 3)), t / 30) for t in range(60)]
    assert np.std(np.array(still)[30:, 0, 0]) < 0.5 * 0.005
    moving = OneEuroFilter(min_cutoff_hz=1.0, beta=10.0, derivative_cutoff_hz=1.0)
    for t in range(60):
        out = moving(np.array([[t / 30.0, 0.0, 0.0]]), t / 30)  # 1 m/s ramp
    assert abs(out[0, 0] - 59 / 30) < 0.05
    gap = moving(np.array([[np.nan, np.nan, np.nan]]), 60 / 30)
    assert np.isnan(gap).all()
    assert np.isfinite(moving(np.array([[61 / 30, 0.0, 0.0]]), 61 / 30)).all()


def test_predictive_one_euro_has_no_lag_on_a_constant_velocity() -> None:
    plain = OneEuroFilter(min_cutoff_hz=2.0, beta=30.0, derivative_cutoff_hz=3.0)
    predictive = OneEuroFilter(min_cutoff_hz=2.0, beta=30.0, derivative_cutoff_hz=3.0, predict=True)
    speed = 0.2  # m/s, a hand reaching
    for t in range(60):
        x = np.array([[speed * t / 30, 0.0, 1.0]])
        lag_plain = x[0, 0] - plain(x, t / 30)[0, 0]
        lag_predictive = x[0, 0] - predictive(x, t / 30)[0, 0]
    assert lag_plain > 1e-3  # the plain filter trails the ramp by millimetres
    assert abs(lag_predictive) < 1e-4


def test_hand_filter_follows_the_moving_centre_keeps_the_shape_smooth_and_ignores_a_dropped_joint() -> None:
    rng = np.random.default_rng(1)
    shape = rng.normal(0, 0.03, (21, 3))
    hand = HandFilter(min_cutoff_hz=2.0, beta=30.0, derivative_cutoff_hz=3.0)
    plain = OneEuroFilter(min_cutoff_hz=2.0, beta=30.0, derivative_cutoff_hz=3.0)
    velocity = np.array([0.2, -0.1, 0.05])  # m/s
    direction = velocity / np.linalg.norm(velocity)
    lead, lead_plain, errors = [], [], []
    for t in range(90):
        truth = shape + velocity * t / 30
        noisy = truth + rng.normal(0, 0.002, truth.shape)
        if 60 <= t < 70:
            noisy[20] = np.nan  # a fingertip drops out
        out, out_plain = hand(noisy, t / 30), plain(noisy, t / 30)
        if t >= 30:
            keep = np.isfinite(noisy).all(-1)
            lead.append((out[keep] - truth[keep]).mean(0) @ direction)  # m along the motion
            lead_plain.append((out_plain[keep] - truth[keep]).mean(0) @ direction)
            errors.append(np.linalg.norm(out - truth, axis=-1))
    errors = np.array(errors)  # (60, 21) m
    assert np.isnan(errors[30:40, 20]).all() and np.isfinite(np.delete(errors, 20, axis=1)).all()
    assert np.mean(lead_plain) < -2e-3  # the plain filter trails the hand by millimetres
    assert abs(np.mean(lead)) < 0.5e-3  # the hand filter does not, dropped joint included
    assert np.nanmedian(errors) < 2.5e-3  # input noise: 2 mm per coordinate, ≈ 3.5 mm per joint


@pytest.mark.parametrize("label", ["Left", "Right"])
def test_wrist_pose_axes_match_the_hand_model_and_are_nan_safe(label: str) -> None:
    from hand_pose_ros.handmodel import HandModel, named_pose

    # The hand model's wrist frame (WebXR): −z along the hand toward the fingers, +y out of the back.
    root = np.eye(4)
    root[:3, :3] = Rotation.from_rotvec([0.4, -1.1, 0.7]).as_matrix()
    root[:3, 3] = [0.2, -0.1, 1.0]
    points = HandModel.load(label)(named_pose("open"), root, skin=False).keypoints
    T = wrist_pose(points, Handedness.from_label(label))
    R = T[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(T[:3, 3], points[HandKeypoint.WRIST])
    x_dir = points[HandKeypoint.MIDDLE_FINGER_MCP] - points[HandKeypoint.WRIST]
    np.testing.assert_allclose(R[:, 0], x_dir / np.linalg.norm(x_dir), atol=1e-12)
    assert R[:, 0] @ -root[:3, 2] > 0.95  # toward the fingers
    assert R[:, 2] @ root[:3, 1] > 0.95  # out of the back of the hand
    missing = points.copy()
    missing[HandKeypoint.PINKY_MCP] = np.nan
    assert np.isnan(wrist_pose(missing, Handedness.from_label(label))[:3]).all()
