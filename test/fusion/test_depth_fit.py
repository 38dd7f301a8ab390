"""One view's hand fitted to its measured surface (fusion.depth_fit), and depth in several views
never pulling a well-triangulated hand onto a biased depth camera (fusion._observed_depths)."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.fusion.depth import depth_from_millimetres
from hand_pose_ros.fusion.depth_fit import (SurfaceFitConfig, capsule_distances, fit_hand_to_surface,
                                            region_points)
from hand_pose_ros.keypoints import HandKeypoint

# A wrong keypoint depth to be pulled back (m): a joint placed behind its finger's surface
# (its window half on what lies behind the finger), within the one-view gate (2 cm), so
# hand_on_depth took it, and within the fit's reach (points ≤ 12 mm from the surface).
_WRONG_DEPTH_M = 0.008


def _camera_scene(seed: int = 2):
    """A one-camera rig, one hand (21, 3) m in the camera frame, its noisy aligned depth."""
    from hand_pose_ros.tools.synthetic_depth import render_hand_depth
    from hand_pose_ros.tools.synthetic_scenes import hand_sequence, make_rig

    rng = np.random.default_rng(seed)
    rig = make_rig(1, rng, distance=(0.6, 0.7), distortion=False)
    camera = rig.cameras[0]
    hand_world = hand_sequence(1, rng)[0][:1]  # (1, 21, 3) m: one hand
    R, t = camera.camera_T_world[:3, :3], camera.camera_T_world[:3, 3]
    hand = hand_world[0] @ R.T + t  # (21, 3) m camera frame
    depth = depth_from_millimetres(render_hand_depth(camera, hand_world, rng))
    K = np.asarray(camera.camera_matrix, np.float64)
    pixels = hand[:, :2] / hand[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2]  # (21, 2) px

    def to_normalized(px: np.ndarray) -> np.ndarray:
        return (px - K[:2, 2]) / K[[0, 1], [0, 1]]

    return hand, depth, pixels, to_normalized, float(K[0, 0])


def test_capsule_distance_is_signed_and_zero_on_the_surface():
    from hand_pose_ros.fusion.depth import JOINT_BEHIND_SURFACE_M

    joints = np.zeros((21, 3))
    joints[:, 0] = np.linspace(0.0, 0.2, 21)  # a straight chain along x, 1 cm a joint, at z = 0.5 m
    joints[:, 2] = 0.5
    # Beside the pinky's middle segment (its radius: the half thickness at its PIP and DIP).
    pip, dip = joints[HandKeypoint.PINKY_PIP], joints[HandKeypoint.PINKY_DIP]
    radius = 0.5 * (JOINT_BEHIND_SURFACE_M[HandKeypoint.PINKY_PIP] + JOINT_BEHIND_SURFACE_M[HandKeypoint.PINKY_DIP])
    centre = 0.5 * (pip + dip)
    probes = centre + np.array([[0, 0.5 * radius, 0], [0, radius, 0], [0, 0, -0.05]])
    signed, _, _, normal = capsule_distances(joints, probes)
    assert signed[0] < 0 and signed[1] == pytest.approx(0.0, abs=1e-9) and signed[2] > 0.03
    np.testing.assert_allclose(normal[1], [0, 1, 0], atol=1e-9)  # outward, away from the bone


def test_a_wrong_keypoint_depth_is_pulled_back_by_the_measured_surface():
    hand, depth, pixels, to_normalized, focal = _camera_scene()
    xy = hand[:, :2] / hand[:, 2:]
    start = hand.copy()
    wrong = int(HandKeypoint.MIDDLE_FINGER_PIP)
    start[wrong] *= 1 + _WRONG_DEPTH_M / start[wrong, 2]  # along its ray, further: its projection unchanged
    points = region_points(depth, pixels, to_normalized, start, focal)
    assert len(points) > 200
    fitted = fit_hand_to_surface(start, xy, points, focal_px=focal)
    before = np.linalg.norm(start[wrong] - hand[wrong])
    after = np.linalg.norm(fitted[wrong] - hand[wrong])
    assert after < 0.5 * before, (before, after)
    others = np.arange(21) != wrong
    # The rest of the hand stays where it was (the depth noise and the two hands' different
    # radii move it by a few mm, not more).
    assert np.linalg.norm(fitted[others] - hand[others], axis=-1).mean() < 0.003


def test_surface_fit_leaves_a_hand_without_points_or_iterations_alone():
    hand, depth, pixels, to_normalized, focal = _camera_scene()
    xy = hand[:, :2] / hand[:, 2:]
    assert fit_hand_to_surface(hand, xy, np.zeros((0, 3)), focal_px=focal) is hand
    points = region_points(depth, pixels, to_normalized, hand, focal)
    assert fit_hand_to_surface(hand, xy, points, focal_px=focal, config=SurfaceFitConfig(iterations=0)) is hand
    # Points far from every capsule (the background alone) take no part.
    far = points.copy()
    far[:, 2] += 0.3
    np.testing.assert_array_equal(fit_hand_to_surface(hand, xy, far, focal_px=focal), hand)


@pytest.mark.parametrize("field, value", [("iterations", -1), ("pixel_stddev_px", 0.0), ("prior_stddev_m", -0.1)])
def test_surface_fit_config_refuses(field, value):
    with pytest.raises(ValueError, match=field):
        SurfaceFitConfig(**{field: value})


def _multi_view_errors(bias_m: float, cameras: int = 8, frames: int = 6, seed: int = 11) -> tuple[float, float]:
    """Mean joint error (m) colour only, and with every camera's depth ``bias_m`` too far."""
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.tools.synthetic_depth import render_hand_depth
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    rng = np.random.default_rng(seed)
    rig = make_rig(cameras, rng, distance=(0.6, 0.9), distortion=False)
    truth = hand_sequence(frames, rng)
    errors = {False: [], True: []}
    fusions = {use: MultiViewFusion(rig, FusionConfig(filter="none", monocular=False)) for use in errors}
    for t in range(frames):
        dets, _ = synthesize_detections(truth[t], ("Left", "Right"), rig, NoiseModel(sigma_px=(2, 8), outlier_rate=0.1), rng)
        depths = [depth_from_millimetres(render_hand_depth(c, truth[t], rng)) for c in rig.cameras]
        depths = [np.where(np.isfinite(d), d + np.float32(bias_m), d).astype(np.float32) for d in depths]
        for use, fusion in fusions.items():
            for hand in fusion.process(dets, t / 30.0, depths=depths if use else None):
                errors[use].append(np.nanmin(np.nanmean(np.linalg.norm(hand.keypoints_3d[None] - truth[t], axis=-1), 1)))
    return float(np.mean(errors[False])), float(np.mean(errors[True]))


def test_eight_cameras_with_biased_depth_are_not_worse_than_colour_only():
    # Every depth map 12 mm too far (within the agreement gate, so it would enter): eight
    # views fix every joint's depth better than one depth camera, whose bias stays out.
    colour, depth = _multi_view_errors(0.012)
    assert depth <= colour + 2e-5, (colour, depth)
