"""Aligned depth maps: conversion, checks, and the pipeline dropping a bad map per camera."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.fusion.depth import check_depth, depth_from_millimetres


def test_millimetres_to_metres_with_holes():
    raw = np.array([[0, 1000], [65535, 523]], np.uint16)
    depth = depth_from_millimetres(raw)
    assert depth.dtype == np.float32 and depth.shape == (2, 2)
    assert np.isnan(depth[0, 0])
    np.testing.assert_allclose(depth[[0, 1, 1], [1, 0, 1]], [1.0, 65.535, 0.523], rtol=1e-6)


@pytest.mark.parametrize("raw", [np.zeros((2, 2), np.float32), np.zeros((2, 2, 1), np.uint16)])
def test_millimetres_rejects_other_arrays(raw):
    with pytest.raises(ValueError, match="uint16"):
        depth_from_millimetres(raw)


def test_check_depth_accepts_an_aligned_map():
    depth = np.full((4, 6), np.nan, np.float32)
    depth[1, 2] = 0.7
    check_depth(depth, (4, 6, 3), view="cam0")
    check_depth(depth, (4, 6), view="cam0")


@pytest.mark.parametrize(("depth", "problem"), [
    (np.full((4, 6), 0.5, np.float64), "dtype float32"),
    (np.full((6, 4), 0.5, np.float32), r"size \(4, 6\)"),
    (np.full((4, 6), np.nan, np.float32), "no measurement"),
    (np.zeros((4, 6), np.float32), "every pixel zero"),
    (np.full((4, 6), -0.5, np.float32), "positive metres"),
    ([[0.5] * 6] * 4, "float32 array"),
])
def test_check_depth_names_the_view_and_the_problem(depth, problem):
    with pytest.raises(ValueError, match=problem) as info:
        check_depth(depth, (4, 6, 3), view="wrist_cam")
    assert "'wrist_cam'" in str(info.value)


def test_check_depth_rejects_zero_as_no_measurement():
    depth = np.full((4, 6), 0.5, np.float32)
    depth[0, 0] = 0.0
    with pytest.raises(ValueError, match="1 pixels at zero"):
        check_depth(depth, (4, 6), view="cam0")


def test_pipeline_drops_a_bad_depth_map_and_keeps_the_colour_path():
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.pipeline import HandPosePipeline
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    rng = np.random.default_rng(3)
    rig = make_rig(2, rng)
    truth = hand_sequence(1, rng)[0]
    dets, _ = synthesize_detections(truth, ("Left", "Right"), rig, NoiseModel(), rng)
    pipeline = HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig, FusionConfig(filter="none")))
    cams = rig.cameras
    bad = [np.zeros((cams[0].height, cams[0].width), np.float32), np.full((3, 3), 0.5, np.float32)]
    with_bad = pipeline.process_detections(dets, 0, depths=bad, fit_meshes=False)
    assert set(with_bad.depth_problems) == set(rig.names)
    assert "every pixel zero" in with_bad.depth_problems[rig.names[0]]
    assert "size" in with_bad.depth_problems[rig.names[1]]
    assert not any(reason.startswith("depth of camera") for reason in with_bad.depth_problems.values())  # the key names it
    pipeline.reset()
    plain = pipeline.process_detections(dets, 0, fit_meshes=False)
    assert plain.depth_problems == {} and len(plain.hands) == len(with_bad.hands) == 2
    for a, b in zip(plain.hands, with_bad.hands):
        np.testing.assert_array_equal(a.keypoints_3d, b.keypoints_3d)
    with pytest.raises(ValueError, match="depths: expected one per rig camera"):
        pipeline.process_detections(dets, 1, depths=[None])


# --- the method --------------------------------------------------------------------------------
from hand_pose_ros.fusion.depth import JOINT_BEHIND_SURFACE_M, fit_depth_scale, sample_keypoint_depths  # noqa: E402


def test_window_sample_takes_the_front_layer_and_reports_holes():
    depth = np.full((20, 20), 1.5, np.float32)  # background
    depth[:, :10] = 0.6  # a finger covering the left half
    depth[15:, 15:] = np.nan  # a hole
    surface, spread = sample_keypoint_depths(depth, np.array([[9.0, 5.0], [4.0, 4.0], [18.0, 18.0], [np.nan, 1.0]]),
                                             window_px=2)
    # On the finger's edge 3 of 5 columns see the finger: its depth, not a mix with the background.
    np.testing.assert_allclose(surface[:2], [0.6, 0.6], atol=1e-6)
    assert spread[0] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(surface[2:]).all()


def test_scale_fit_recovers_the_distance_and_rejects_occluders_in_front():
    rng = np.random.default_rng(0)
    model_z = 0.5 + rng.uniform(-0.03, 0.03, 21)  # the PnP hand, 30 % too near
    measured = 1.3 * model_z + rng.normal(0, 0.002, 21)
    exact = fit_depth_scale(model_z, measured, gate_m=0.02)
    assert exact.scale == pytest.approx(1.3, rel=0.01) and exact.inliers.all()
    assert 0.001 < exact.stddev_m < 0.005
    occluded = measured.copy()
    occluded[:9] = 1.3 * model_z[:9] - 0.05 + rng.normal(0, 0.001, 9)  # the grasped object, 5 cm in front
    occluded[9:12] = 3.0  # the background past the fingers' edge
    fit = fit_depth_scale(model_z, occluded, gate_m=0.02)
    assert fit.scale == pytest.approx(1.3, rel=0.01)
    assert not fit.inliers[:12].any() and fit.inliers[12:].all()
    assert fit_depth_scale(model_z, np.where(np.arange(21) < 2, measured, np.nan), gate_m=0.02) is None


def test_scale_fit_counts_only_measured_keypoints_when_few_are():
    """Three agreeing keypoints fit where they are half of the measured ones (a map's
    invalid band), not where most measured keypoints disagree among themselves."""
    rng = np.random.default_rng(1)
    model_z = 0.9 + rng.uniform(-0.03, 0.03, 21)
    measured = np.full(21, np.nan)
    measured[:3] = 1.1 * model_z[:3]
    measured[3:6] = [1.3, 1.45, 1.6]  # each at its own scale: no two agree
    fit = fit_depth_scale(model_z, measured, gate_m=0.02)
    assert fit is not None and fit.scale == pytest.approx(1.1, rel=1e-6)
    assert fit.inliers[:3].all() and not fit.inliers[3:].any()
    measured[6:8] = [1.75, 1.9]  # 3 of 8 measured: fewer than half
    assert fit_depth_scale(model_z, measured, gate_m=0.02) is None


def _one_camera_run(depth: bool, frames: int = 12, seed: int = 4, **config):
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.tools.synthetic_depth import render_hand_depth
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections
    from hand_pose_ros.types import KeypointSource

    rng = np.random.default_rng(seed)
    rig = make_rig(1, rng, distance=(0.6, 0.9), distortion=False)
    truth = hand_sequence(frames, rng)
    fusion = MultiViewFusion(rig, FusionConfig(filter="none", **config))
    errors, sources, stddevs = [], set(), []
    for t in range(frames):
        dets, _ = synthesize_detections(truth[t], ("Left", "Right"), rig, NoiseModel(sigma_px=(2, 4)), rng,
                                        landmark_scale_sigma=0.15, landmark_noise_m=0.003)
        depths = [depth_from_millimetres(render_hand_depth(rig.cameras[0], truth[t], rng))] if depth else None
        for hand in fusion.process(dets, t / 30.0, depths=depths):
            errors.append(np.nanmin(np.linalg.norm(hand.keypoints_3d[None] - truth[t], axis=-1).mean(1)))
            sources.update(KeypointSource(int(s)) for s in hand.keypoint_source)
            stddevs.append(hand.depth_stddev)
    return np.array(errors), sources, np.array(stddevs)


def test_one_camera_with_depth_is_metric():
    from hand_pose_ros.types import KeypointSource

    plain, plain_sources, _ = _one_camera_run(depth=False)
    errors, sources, stddevs = _one_camera_run(depth=True)
    assert KeypointSource.DEPTH not in plain_sources and sources == {KeypointSource.DEPTH}
    # Median over hands: a hand hidden behind the other one can still fall back to PnP.
    assert np.median(errors) < 0.02 < np.median(plain), (np.median(errors), np.median(plain))
    assert (stddevs > 0).all() and np.median(stddevs) < 0.02


def test_the_surface_fit_can_be_turned_off_and_refuses_negative_steps():
    from hand_pose_ros.fusion import FusionConfig

    fitted, _, _ = _one_camera_run(depth=True)
    on_keypoints, sources, _ = _one_camera_run(depth=True, depth_surface_fit_iterations=0)
    assert len(fitted) == len(on_keypoints) and np.median(on_keypoints) < 0.02
    assert not np.allclose(fitted, on_keypoints)  # the setting reaches the fit
    with pytest.raises(ValueError, match="FusionConfig.depth_surface_fit_iterations"):
        FusionConfig(depth_surface_fit_iterations=-1)


def test_depth_pulls_a_joint_along_the_ray_in_the_refinement():
    from hand_pose_ros.fusion.camera import CameraArray
    from hand_pose_ros.fusion.refinement import refine_points
    from hand_pose_ros.tools.synthetic_scenes import WORKSPACE_CENTER, make_rig

    rig = make_rig(2, np.random.default_rng(1), distortion=False)
    cams = CameraArray.from_rig(rig)
    truth = WORKSPACE_CENTER + np.array([[0.0, 0.0, 0.0], [0.02, 0.01, 0.03]])  # (2, 3) m world
    in_cams = cams.to_camera(truth)  # (2 views, 2 points, 3)
    obs = in_cams[..., :2] / in_cams[..., 2:]  # (V, N, 2) normalized
    true_z = in_cams[..., 2]  # (V, N)
    biased_z = true_z + 0.01  # every depth 1 cm too far: the refinement must follow it, a little
    start = truth.copy()
    kwargs = dict(huber_px=10.0, bone_weight_px_per_mm=0.0, iterations=5, bones=np.zeros((0, 2), int),
                  bone_targets=np.zeros(0))
    without = refine_points(start, obs, np.ones((2, 2)), cams, **kwargs)
    np.testing.assert_allclose(without, truth, atol=1e-9)
    pulled = refine_points(start, obs, np.ones((2, 2)), cams, depth_z=biased_z, depth_weight_px_per_mm=1.0,
                           depth_huber_mm=10.0, **kwargs)
    z_after = cams.to_camera(pulled)[..., 2]  # (V, N)
    # Towards the measured depth in both views, not past it.
    assert (z_after > true_z + 1e-3).all() and (z_after < biased_z + 1e-3).all(), (z_after - true_z)


def _multi_view_scene(seed: int = 5):
    from hand_pose_ros.fusion.camera import CameraArray
    from hand_pose_ros.tools.synthetic_depth import render_hand_depth
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    rng = np.random.default_rng(seed)
    rig = make_rig(4, rng, distance=(0.6, 0.9), distortion=False)
    truth = hand_sequence(1, rng)[0]  # (2, 21, 3) m world
    dets, _ = synthesize_detections(truth, ("Left", "Right"), rig, NoiseModel(sigma_px=(2, 4)), rng)
    clean = depth_from_millimetres(render_hand_depth(rig.cameras[0], truth, rng))
    pixels = CameraArray.from_rig(rig).project(truth.reshape(-1, 3))[0]  # (42, 2) px in camera 0
    return rig, truth, dets, clean, pixels


def _fused(rig, dets, depths, **config):
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion

    hands = MultiViewFusion(rig, FusionConfig(filter="none", **config)).process(dets, 0.0, depths=depths)
    return np.stack([h.keypoints_3d for h in hands])


def test_a_view_whose_depth_sees_something_else_does_not_move_the_multi_view_hands():
    rig, truth, dets, clean, pixels = _multi_view_scene()
    colour_only = _fused(rig, dets, None)
    assert np.isfinite(colour_only).all()
    # Camera 0's depth registered at another instant: below a row through the hands' upper
    # joints it reads 8 cm further (the hand merged into what lay behind it), above it the
    # hands as they are. Most joints then disagree with the triangulation; the few that
    # agree are not evidence: the view's depth is dropped for both hands, not sampled: the
    # same hands as with the depth residual off. (What its upper part, as it is, shows of the
    # hands covering each other may still reweigh camera 0's keypoints of the hidden joints.)
    row = np.quantile(pixels[:, 1], 0.3)
    shifted = clean.copy()
    shifted[int(np.ceil(row)) + 3:] += np.float32(0.08)
    others = [None] * (len(rig) - 1)
    np.testing.assert_array_equal(_fused(rig, dets, [shifted] + others),
                                  _fused(rig, dets, [shifted] + others, depth_weight_px_per_mm=0.0))
    # Background only (the hands not in the map at all): nothing enters either.
    background = np.full_like(clean, 1.8)
    np.testing.assert_array_equal(_fused(rig, dets, [background] + others), colour_only)
    # The same view's depth as it should be does enter the refinement.
    with_depth = _fused(rig, dets, [clean] + others)
    assert np.abs(with_depth - colour_only).max() > 1e-5


def _covered(rig, dets, clean, truth, joints, shift_px: float):
    """Camera 0 with an occluder 8 cm in front of hand 0's ``joints`` and those keypoints moved
    by ``shift_px`` (the detector's guess of joints it cannot see): (detections, depth maps)."""
    import dataclasses

    from hand_pose_ros.fusion.camera import CameraArray

    cams = CameraArray.from_rig(rig)
    true_px = cams.project(truth[0])[0]  # (21, 2) hand 0 in camera 0
    k = int(np.argmin([np.nanmean(np.linalg.norm(d.keypoints_2d - true_px, axis=1)) for d in dets[0]]))
    keypoints = dets[0][k].keypoints_2d.copy()
    keypoints[joints] += shift_px
    covered = [list(view) for view in dets]
    covered[0][k] = dataclasses.replace(dets[0][k], keypoints_2d=keypoints)
    depth = clean.copy()
    ys, xs = np.mgrid[: depth.shape[0], : depth.shape[1]]
    for j in joints:
        for centre in (true_px[j], keypoints[j]):
            depth[np.hypot(xs - centre[0], ys - centre[1]) < 8] = cams.to_camera(truth[0, j][None])[0, 0, 2] - 0.08
    return covered, [depth] + [None] * (len(rig) - 1)


def test_depth_shows_which_views_keypoints_guess_a_hidden_joint():
    from hand_pose_ros.keypoints import HandKeypoint as K

    rig, truth, dets, clean, _ = _multi_view_scene()
    hidden = [int(j) for j in (K.INDEX_FINGER_PIP, K.INDEX_FINGER_DIP, K.INDEX_FINGER_TIP,
                               K.MIDDLE_FINGER_PIP, K.MIDDLE_FINGER_DIP, K.MIDDLE_FINGER_TIP)]

    def error(hands: np.ndarray) -> float:  # hand 0's hidden joints, metres
        match = int(np.argmin(np.nanmean(np.linalg.norm(hands - truth[0], axis=-1), 1)))
        return float(np.mean(np.linalg.norm(hands[match, hidden] - truth[0, hidden], axis=-1)))

    # Camera 0 guesses the covered joints 15 px off; its depth shows them covered: they weigh less.
    guessed, depths = _covered(rig, dets, clean, truth, hidden, 15.0)
    colour_only = error(_fused(rig, guessed, None))
    witnessed = error(_fused(rig, guessed, depths, depth_weight_px_per_mm=0.0))  # the witness alone
    assert witnessed < 0.8 * colour_only, (colour_only, witnessed)
    # Covered but as well placed as the seen ones: the frame's errors say so, little changes.
    placed, depths = _covered(rig, dets, clean, truth, hidden, 0.0)
    moved = _fused(rig, placed, depths, depth_weight_px_per_mm=0.0) - _fused(rig, placed, None)
    assert np.abs(moved).max() < 1e-3, np.abs(moved).max()


def test_triangulated_depth_is_uncertain_along_nearly_parallel_views():
    from hand_pose_ros.calibration import CameraCalibration, Rig
    from hand_pose_ros.fusion.camera import CameraArray
    from hand_pose_ros.fusion.depth import triangulated_depth_stddev
    from hand_pose_ros.tools.synthetic_scenes import look_at

    point = np.zeros((1, 3))
    K = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])

    def stddev(angle_deg: float) -> np.ndarray:
        eyes = [0.8 * np.array([np.sin(a), np.cos(a), 0.0]) for a in np.deg2rad([0.0, angle_deg])]
        rig = Rig(cameras=tuple(CameraCalibration(name=f"c{i}", frame_id=f"c{i}", width=640, height=480, camera_matrix=K,
                                                  world_T_camera=look_at(eye, point[0])) for i, eye in enumerate(eyes)))
        return triangulated_depth_stddev(CameraArray.from_rig(rig), point, np.ones((2, 1), bool), pixel_stddev=3.0)[:, 0]

    # Perpendicular views: camera 0's depth is the other's lateral direction, 3 px at 0.8 m ≈ 4 mm.
    assert stddev(90.0) == pytest.approx(np.full(2, 3.0 * 0.8 / 600), rel=0.05)
    # 5° apart: depth along either ray ≈ 1/sin(5°) ≈ 11 × worse: there depth has most to add.
    assert (stddev(5.0) > 8 * stddev(90.0)).all()
    one_view = triangulated_depth_stddev(CameraArray.from_rig(Rig(cameras=(CameraCalibration(
        name="c", frame_id="c", width=640, height=480, camera_matrix=K,
        world_T_camera=look_at(np.array([0.0, 0.8, 0.0]), point[0])),))), point, np.ones((1, 1), bool), pixel_stddev=3.0)
    assert np.isinf(one_view).all()


def test_hidden_keypoints_weigh_by_how_much_worse_they_fit():
    from hand_pose_ros.fusion.camera import CameraArray
    from hand_pose_ros.fusion.depth import hidden_weight, occluded_keypoints
    from hand_pose_ros.tools.synthetic_scenes import WORKSPACE_CENTER, make_rig

    rng = np.random.default_rng(3)
    cams = CameraArray.from_rig(make_rig(4, rng, distortion=False))
    points = WORKSPACE_CENTER + rng.normal(0.0, 0.03, (40, 3))  # (N, 3) m world
    in_cams = cams.to_camera(points)
    xy = in_cams[..., :2] / in_cams[..., 2:]  # (V, N, 2) exact keypoints
    hidden = np.zeros((4, 40), bool)
    hidden[0, :20] = True
    directions = rng.normal(size=(4, 40, 2))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    off_px = np.where(hidden, 10.0, 5.0)[..., None] * directions  # hidden keypoints twice as far off
    noisy = xy + off_px / cams.focal[:, None, None]
    assert hidden_weight(cams, points, noisy, hidden, ~hidden) == pytest.approx(0.25, rel=1e-6)
    # As good as the seen ones, or better: full weight; too few to tell: full weight.
    assert hidden_weight(cams, points, xy + 5.0 * directions / cams.focal[:, None, None], hidden, ~hidden) == 1.0
    few = np.zeros_like(hidden)
    few[0, :3] = True
    assert hidden_weight(cams, points, noisy, few, ~few) == 1.0
    # Covered: the measured surface in front of the joint by more than the gate; behind is not.
    assert occluded_keypoints(np.array([0.90, 0.99, 1.10, np.nan]), np.ones(4), 0.02).tolist() == [True, False, False, False]
