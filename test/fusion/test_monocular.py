"""One view: the palm's rigid shape fixes a hand's distance (``fusion.monocular``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hand_pose_ros.fusion.monocular import (PALM_KEYPOINTS, DepthFilter, PalmTemplate, on_keypoint_rays, palm_depth,
                                            palm_length, toward_keypoint_rays)
from hand_pose_ros.tools.synthetic_scenes import hand_sequence

PALM = np.array(PALM_KEYPOINTS)
# Exact input, exact depth (SQPnP on six exact points converges to rounding).
EXACT_TOL_M = 1e-6


def _hand(seed: int = 0) -> np.ndarray:
    """(21, 3) m, a hand of the synthetic model, centred on its palm."""
    hand = hand_sequence(1, np.random.default_rng(seed))[0, 0]
    return hand - hand[PALM].mean(0)


def _rotation(axis, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def _project(points: np.ndarray) -> np.ndarray:
    return points[:, :2] / points[:, 2:]


@pytest.mark.parametrize("tilt_deg", [-60.0, -30.0, 0.0, 30.0, 60.0])
def test_palm_depth_is_exact_whatever_the_tilt(tilt_deg: float) -> None:
    hand = _hand()
    template = hand[PALM] - hand[PALM].mean(0)
    R = _rotation([1.0, 0.3, 0.0], np.deg2rad(tilt_deg))
    camera = hand @ R.T + [0.05, -0.02, 0.45]
    placed = palm_depth(_project(camera), template, inlier_threshold=1e-3)
    assert placed.depth == pytest.approx(camera[PALM].mean(0)[2], abs=EXACT_TOL_M)


def test_palm_depth_leaves_out_a_palm_keypoint_far_off() -> None:
    hand = _hand() + [0.0, 0.02, 0.5]
    xy = _project(hand)
    xy[PALM[2]] += 0.05  # the index knuckle 30 px off at 600 px focal length
    template = hand[PALM] - hand[PALM].mean(0)
    assert palm_depth(xy, template, inlier_threshold=0.01).depth == pytest.approx(hand[PALM].mean(0)[2], abs=EXACT_TOL_M)


def _palm_normal(palm: np.ndarray) -> np.ndarray:
    """(6, 3) palm → its unit normal (the direction it is flattest along)."""
    return np.linalg.svd(palm - palm.mean(0))[2][2]


@pytest.mark.parametrize("tilt_deg", [0.0, 30.0, 60.0, 80.0])
def test_palm_depth_says_how_squarely_the_palm_faces_the_camera(tilt_deg: float) -> None:
    """A palm turned so its normal makes ``tilt_deg`` with the ray to its centre: facing = cos."""
    hand = _hand()
    template = hand[PALM] - hand[PALM].mean(0)
    normal = _palm_normal(template)
    # Rotate the normal onto the optical axis, then tilt it by the angle about an axis across it.
    axis = np.cross(normal, [0.0, 0.0, 1.0])
    face = _rotation(axis, np.arccos(np.clip(normal[2], -1, 1))) if np.linalg.norm(axis) > 1e-9 else np.eye(3)
    R = _rotation([1.0, 0.0, 0.0], np.deg2rad(tilt_deg)) @ face
    camera = hand @ R.T + [0.0, 0.0, 0.5]  # the palm's centre on the optical axis
    placed = palm_depth(_project(camera), template, inlier_threshold=1e-3)
    assert placed.facing == pytest.approx(np.cos(np.deg2rad(tilt_deg)), abs=1e-6)


def test_palm_depth_stddev_follows_the_pixel_noise_and_the_distance() -> None:
    """Exact keypoints: the 1σ comes from the given 2D noise alone, in proportion to it, and
    grows with the distance (a smaller palm in the image); noisy keypoints raise it."""
    hand = _hand()
    template = hand[PALM] - hand[PALM].mean(0)

    def sigma(depth: float, pixel_stddev: float, noise: float = 0.0) -> float:
        xy = _project(hand + [0.0, 0.0, depth])
        xy[PALM] += noise * np.random.default_rng(2).normal(size=(len(PALM), 2))
        return palm_depth(xy, template, inlier_threshold=1.0, pixel_stddev=pixel_stddev).relative_stddev

    assert sigma(0.5, 0.0) < 1e-6
    assert sigma(0.5, 0.02) == pytest.approx(2 * sigma(0.5, 0.01), rel=1e-6)
    assert sigma(1.0, 0.01) > 1.5 * sigma(0.5, 0.01)
    assert sigma(0.5, 1e-4, noise=0.01) > 10 * sigma(0.5, 1e-4)


def test_palm_depth_needs_four_palm_keypoints() -> None:
    hand = _hand() + [0.0, 0.0, 0.5]
    xy = _project(hand)
    xy[PALM[:3]] = np.nan
    assert palm_depth(xy, hand[PALM] - hand[PALM].mean(0), inlier_threshold=1e-3) is None


def test_a_palm_template_outvotes_foreshortened_palms_even_the_first_ones() -> None:
    """The first three landmark palms are squashed (as a network foreshortening the hand gives
    them); the eight true ones that follow make the template, and the squashed ones deviate."""
    palm = _hand()[PALM]
    squashed = palm * [1.0, 0.5, 1.0]
    template = PalmTemplate(max_deviation=0.1, capacity=30)
    rng = np.random.default_rng(1)
    for _ in range(3):
        template.update(squashed @ _rotation(rng.normal(size=3), rng.uniform(0, np.pi)).T, measured=False)
    assert template.deviation(squashed) < 1e-9
    for _ in range(8):
        template.update(palm @ _rotation(rng.normal(size=3), rng.uniform(0, np.pi)).T, measured=False)
    assert template.deviation(palm) < 1e-9
    assert template.deviation(squashed) > 0.1
    assert not template.measured and template.support == pytest.approx(8 / 11)
    assert palm_length(template.points) == pytest.approx(palm_length(palm), abs=1e-9)


def test_a_triangulated_palm_replaces_a_landmark_one_and_is_not_undone_by_landmarks() -> None:
    palm = _hand()[PALM]
    template = PalmTemplate(max_deviation=0.1, capacity=30)
    template.update(palm * 1.2, measured=False)
    template.update(palm, measured=True)
    assert template.measured and template.support == 1.0
    assert palm_length(template.points) == pytest.approx(palm_length(palm))
    template.update(palm * 1.2, measured=False)
    assert palm_length(template.points) == pytest.approx(palm_length(palm))
    template.update(palm + np.nan, measured=True)  # a palm with a missing joint: skipped
    assert np.isfinite(template.points).all()


def test_on_keypoint_rays_projects_onto_the_keypoints_at_the_palm_depth() -> None:
    hand = _hand() + [0.0, 0.0, 0.3]  # a pose at the wrong depth
    xy = _project(_hand() @ _rotation([0, 1, 0], 0.4).T + [0.02, 0.01, 0.6])
    xy[20] = np.nan  # a keypoint not seen
    placed = on_keypoint_rays(hand, xy, 0.6)
    assert placed[PALM, 2].mean() == pytest.approx(0.6)
    np.testing.assert_allclose(_project(placed)[:20], xy[:20], atol=1e-12)
    np.testing.assert_allclose(placed[:, 2] - hand[:, 2], 0.3)  # the relative depths are kept
    np.testing.assert_allclose(placed[20], hand[20] + [0.0, 0.0, 0.3])



def test_toward_keypoint_rays_combines_keypoints_and_landmarks_across_the_ray() -> None:
    """Joints measured twice across their rays, by keypoints (1σ 4 px at f = 600 px) and by a
    posed shape (1σ 5 mm): the combination is nearer the truth than either; depths stay."""
    rng = np.random.default_rng(5)
    pixel_stddev, shape_stddev = 4.0 / 600.0, 0.005
    errors = {"keypoints": [], "landmarks": [], "combined": []}
    for _ in range(50):
        truth = _hand(int(rng.integers(100))) @ _rotation(rng.normal(size=3), 1.0).T + [0.0, 0.0, 0.6]
        xy = _project(truth) + rng.normal(0.0, pixel_stddev, (21, 2))
        posed = truth + np.column_stack([rng.normal(0.0, shape_stddev, (21, 2)), np.zeros(21)])
        combined = toward_keypoint_rays(posed, xy, pixel_stddev=pixel_stddev, shape_stddev_m=shape_stddev)
        np.testing.assert_allclose(combined[:, 2], posed[:, 2])
        on_rays = np.column_stack([xy, np.ones(21)]) * truth[:, 2:]
        for name, points in (("keypoints", on_rays), ("landmarks", posed), ("combined", combined)):
            errors[name].append(np.linalg.norm(points - truth, axis=-1).mean())
    mean = {name: float(np.mean(e)) for name, e in errors.items()}
    assert mean["combined"] < 0.9 * min(mean["keypoints"], mean["landmarks"]), mean


def test_toward_keypoint_rays_leaves_joints_without_keypoints_and_follows_the_weights() -> None:
    hand = _hand() + [0.0, 0.0, 0.5]
    xy = _project(hand + [0.01, 0.0, 0.0])  # every keypoint 1 cm to the side at 0.5 m
    xy[3] = np.nan
    pixel_stddev = 0.004  # 2 mm at 0.5 m
    for shape_stddev, moved in ((0.0, 0.0), (0.002, 0.5), (1.0, 1.0)):
        out = toward_keypoint_rays(hand, xy, pixel_stddev=pixel_stddev, shape_stddev_m=shape_stddev)
        np.testing.assert_array_equal(out[3], hand[3])
        expected = shape_stddev**2 / (shape_stddev**2 + (pixel_stddev * hand[:, 2]) ** 2) * 0.01
        np.testing.assert_allclose(np.delete(out[:, 0] - hand[:, 0], 3), np.delete(expected, 3), atol=1e-12)
        assert np.delete(out[:, 0] - hand[:, 0], 3).mean() == pytest.approx(0.01 * moved, rel=0.05)


def _depth_filter(*, rate_time_constant_s: float = 0.5, manoeuvre_frames: int = 4) -> DepthFilter:
    return DepthFilter(measurement_stddev=0.05, acceleration_density=0.03, rate_time_constant_s=rate_time_constant_s,
                       manoeuvre_frames=manoeuvre_frames, manoeuvre_sigmas=2.0, gate_sigmas=5.0, max_gap_s=0.2)


def test_depth_filter_halves_the_scatter_of_a_hand_moving_steadily_in_depth() -> None:
    """A hand moving 0.5 → 0.6 m over 3 s at 30 Hz, each frame's depth off by 5 % (1σ)."""
    rng = np.random.default_rng(3)
    stamps = np.arange(90) / 30.0
    truth = 0.5 + 0.1 * stamps / 3.0
    measured = truth * np.exp(rng.normal(0.0, 0.05, len(truth)))
    depth_filter = _depth_filter()
    filtered = np.array([depth_filter.update(float(z), float(t)) for z, t in zip(measured, stamps)])
    raw, smoothed = np.log(measured / truth)[30:], np.log(filtered / truth)[30:]  # after it settles
    assert np.sqrt(np.mean(smoothed**2)) < 0.5 * np.sqrt(np.mean(raw**2))


def test_depth_filter_with_a_constant_rate_follows_exact_steady_motion_and_restarts_on_a_jump() -> None:
    depth_filter = _depth_filter(rate_time_constant_s=math.inf, manoeuvre_frames=0)
    stamps = np.arange(60) / 30.0
    truth = 0.5 * np.exp(0.3 * stamps)  # m: a steady rate of the log depth, as the filter models it
    out = [depth_filter.update(float(z), float(t)) for z, t in zip(truth, stamps)]
    assert out[0] == 0.5  # the first frame starts it
    assert abs(out[-1] - truth[-1]) < 1e-3  # the rate is learned: no lag left
    # The hand re-found at twice the distance: far beyond the gate, the filter starts there.
    assert depth_filter.update(2.0, 2.0) == 2.0
    depth_filter.update(2.0, 2.1)
    # Seen again 0.3 s later, 10 % nearer (within the gate): beyond the longest gap, it starts there too.
    assert depth_filter.update(1.8, 2.4) == 1.8


def test_depth_filter_forgets_a_rate_learned_from_a_drift_that_stopped() -> None:
    """Exact depths drifting 20 % nearer over 10 frames at 30 Hz, then still: a constant-rate
    filter carries the drift on past the stop; with the rate's memory bounded it overshoots less."""
    stamps = np.arange(40) / 30.0
    truth = 0.5 * np.exp(np.minimum(np.arange(40), 10) * np.log(0.8) / 10)

    def overshoot(depth_filter: DepthFilter) -> float:
        out = np.array([depth_filter.update(float(z), float(t)) for z, t in zip(truth, stamps)])
        return float(np.max(np.abs(np.log(out / truth))[10:]))

    bounded, constant = overshoot(_depth_filter(manoeuvre_frames=0)), overshoot(_depth_filter(rate_time_constant_s=math.inf, manoeuvre_frames=0))
    assert bounded < 0.8 * constant, (bounded, constant)


def test_depth_filter_follows_a_reach_sooner_with_the_manoeuvre_test() -> None:
    """A hand held at 0.6 m for 1 s, then reaching to 0.45 m in 0.5 s (30 Hz, 3 % noise): the
    innovations keep one sign during the reach, and the filter that tests for it lags less."""
    rng = np.random.default_rng(7)
    stamps = np.arange(60) / 30.0
    truth = 0.6 - 0.15 * np.clip((stamps - 1.0) / 0.5, 0.0, 1.0)
    measured = truth * np.exp(rng.normal(0.0, 0.03, len(truth)))

    def lag(depth_filter: DepthFilter) -> float:
        out = np.array([depth_filter.update(float(z), float(t)) for z, t in zip(measured, stamps)])
        return float(np.sqrt(np.mean(np.log(out / truth)[30:50] ** 2)))  # the reach and just after

    tested, untested = lag(_depth_filter()), lag(_depth_filter(manoeuvre_frames=0))
    assert tested < 0.8 * untested, (tested, untested)


def test_depth_filter_leans_less_on_a_frame_with_a_larger_measurement_variance() -> None:
    """A hand held still at 0.5 m (30 Hz, exact depths), then one frame 15 % too near: that
    frame told to be 9× less certain (its variance) pulls the filtered depth less than half as far."""
    stamps = np.arange(31) / 30.0
    measured = np.r_[np.full(30, 0.5), 0.5 * 0.85]

    def pulled(variance_scale: float) -> float:
        depth_filter = _depth_filter(manoeuvre_frames=0)
        for z, t in zip(measured[:-1], stamps[:-1]):
            depth_filter.update(float(z), float(t))
        return 0.5 - depth_filter.update(float(measured[-1]), float(stamps[-1]), variance_scale=variance_scale)

    usual, loose = pulled(1.0), pulled(9.0)
    assert 0.0 < loose < 0.5 * usual, (usual, loose)
