"""ChArUco board calibration on boards rendered by pyrender into a synthetic rig at known poses
(``board_scene.py``: textured plane, lens distortion, blur and noise), and its refusals of
degenerate inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from board_scene import arc_rig, board_poses, render_board
from hand_pose_ros.calibration import Rig
from hand_pose_ros.calibration.board import BoardDetection, BoardDetector, BoardSpec
from hand_pose_ros.calibration.from_board import BoardCalibrationConfig, BoardCalibrationError, calibrate_from_board
from hand_pose_ros.calibration.gauge import pose_difference
from hand_pose_ros.fusion.camera import CameraArray

SPEC = BoardSpec(squares=(7, 5), square_size_m=0.04, marker_size_m=0.03)
VIEWS = 24
# cam0: radial and tangential distortion (a webcam-like lens), cam1: mild radial only, cam2: none.
LENSES = (("plumb_bob", (-0.12, 0.08, 0.0015, -0.001, 0.0)), ("plumb_bob", (-0.05, 0.02, 0.0, 0.0, 0.0)))
# Rendered corners vs the projected truth: OpenCV's sub-pixel corners ≈ 0.06 px RMS; up to
# 0.72 px at the borders of the strongly distorted cam0 (its resampled render).
CORNER_TOLERANCE_PX = 0.8
# The targets, with the true intrinsics (the --intrinsics route) and with intrinsics
# estimated from the same renders (measured there: 0.017°, 0.30 mm, focal 0.13 %).
EXTRINSIC_MM, EXTRINSIC_DEG = 1.0, 0.05
FOCAL_REL = 0.005
# --world board:FILE rests on one board pose, seen by ≤ 3 cameras with ≤ 24 corners each: its
# orientation is known less well than the cameras' (measured on image 000: 0.07°, which moves a
# camera 0.6 m away by 0.7 mm; 1.0 mm measured).
WORLD_BOARD_DEG, WORLD_BOARD_MM = 0.15, 2.0


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(1)
    rig = arc_rig(3, rng, spread_deg=60.0, lenses=LENSES)
    poses = board_poses(rig, SPEC, VIEWS, rng, max_tilt_deg=30.0)
    images = render_board(rig, SPEC, poses, rng)
    detector = BoardDetector(SPEC)
    detections = {name: {f"{b:03d}": detector.detect(images[b][v]) for b in range(VIEWS)}
                  for v, name in enumerate(rig.names)}
    return rig, poses, detections


def _relative_errors(result_rig: Rig, truth: Rig) -> tuple[np.ndarray, np.ndarray]:
    """Pose errors of every camera relative to the first (the output's world frame)."""
    true = np.stack([c.camera_T_world @ truth.cameras[0].world_T_camera for c in truth.cameras])
    got = np.stack([c.camera_T_world for c in result_rig.cameras])
    return pose_difference(got, true)


def test_rendered_corners_land_on_the_projected_board(scene) -> None:
    rig, poses, detections = scene
    cameras = CameraArray.from_rig(rig)
    for v, name in enumerate(rig.names):
        for b, det in enumerate(detections[name].values()):
            if len(det):
                world = SPEC.corners[det.ids] @ poses[b][:3, :3].T + poses[b][:3, 3]
                assert np.abs(cameras.project(world)[v] - det.corners).max() < CORNER_TOLERANCE_PX


def test_known_intrinsics_give_extrinsics_within_the_targets(scene) -> None:
    rig, _, detections = scene
    result = calibrate_from_board(detections, {n: (640, 480) for n in rig.names}, SPEC, camera_order=rig.names,
                                  intrinsics=rig)
    angle, dist = _relative_errors(result.rig, rig)
    assert angle.max() < EXTRINSIC_DEG and 1e3 * dist.max() < EXTRINSIC_MM
    assert all(r.rms_px < 0.5 for r in result.cameras)


def test_estimated_intrinsics_and_extrinsics(scene) -> None:
    rig, _, detections = scene
    result = calibrate_from_board(detections, {n: (640, 480) for n in rig.names}, SPEC, camera_order=rig.names)
    for got, true in zip(result.rig.cameras, rig.cameras):
        assert abs(got.camera_matrix[0, 0] / true.camera_matrix[0, 0] - 1) < FOCAL_REL
        assert abs(got.camera_matrix[1, 1] / true.camera_matrix[1, 1] - 1) < FOCAL_REL
    angle, dist = _relative_errors(result.rig, rig)
    assert angle.max() < EXTRINSIC_DEG and 1e3 * dist.max() < EXTRINSIC_MM
    # Tangential terms only where the lens has them; k3 nowhere (no lens here has it).
    assert [r.distortion_terms for r in result.cameras] == [("k1", "k2", "p1", "p2"), ("k1", "k2"), ("k1", "k2")]
    assert result.rig.cameras[2].distortion[2:].tolist() == [0.0, 0.0, 0.0]
    assert result.rig.world_frame == "cam0_optical_frame"
    assert np.allclose(result.rig.cameras[0].world_T_camera, np.eye(4))
    assert result.baselines_m[0, 1] == pytest.approx(
        np.linalg.norm(rig.cameras[0].world_T_camera[:3, 3] - rig.cameras[1].world_T_camera[:3, 3]), abs=2e-3)


# Equidistant (fisheye-model) lenses, intrinsics estimated with the equidistant option: k3, k4
# of these lenses are small and not earned, so k1, k2 absorb them: measured 0.025°, 0.06 mm here,
# 0.08°, 0.5 mm on a 3-camera scene of another seed; a looser target than plumb_bob's.
FISHEYE = ("equidistant", (-0.02, 0.01, -0.005, 0.001))
FISHEYE_DEG, FISHEYE_MM = 0.15, 1.0


def test_equidistant_lenses_are_calibrated_with_the_equidistant_model() -> None:
    rng = np.random.default_rng(2)
    rig = arc_rig(2, rng, spread_deg=50.0, lenses=(FISHEYE, FISHEYE))
    poses = board_poses(rig, SPEC, 20, rng, max_tilt_deg=30.0)
    images = render_board(rig, SPEC, poses, rng)
    detector = BoardDetector(SPEC)
    detections = {name: {f"{b:03d}": detector.detect(images[b][v]) for b in range(len(poses))}
                  for v, name in enumerate(rig.names)}
    result = calibrate_from_board(detections, {n: (640, 480) for n in rig.names}, SPEC,
                                  BoardCalibrationConfig(distortion_model="equidistant"), camera_order=rig.names)
    assert [c.distortion_model for c in result.rig.cameras] == ["equidistant"] * 2
    for got, true in zip(result.rig.cameras, rig.cameras):
        assert abs(got.camera_matrix[0, 0] / true.camera_matrix[0, 0] - 1) < FOCAL_REL
    angle, dist = _relative_errors(result.rig, rig)
    assert angle.max() < FISHEYE_DEG and 1e3 * dist.max() < FISHEYE_MM
    assert all(r.rms_px < 0.5 for r in result.cameras)


def test_world_frame_on_the_board_is_rep103(scene) -> None:
    rig, poses, detections = scene
    result = calibrate_from_board(detections, {n: (640, 480) for n in rig.names}, SPEC, camera_order=rig.names,
                                  intrinsics=rig, world_image="000")
    assert result.rig.world_frame == "world"
    # Camera 0 in the board's REP 103 frame: x = board x, y = −board y, z = −board z (out of the print).
    board_T_cam = np.linalg.inv(poses[0]) @ rig.cameras[0].world_T_camera
    expected = np.diag([1.0, -1.0, -1.0, 1.0]) @ board_T_cam
    angle, dist = pose_difference(np.linalg.inv(result.rig.cameras[0].world_T_camera)[None], np.linalg.inv(expected)[None])
    assert angle[0] < WORLD_BOARD_DEG and 1e3 * dist[0] < WORLD_BOARD_MM
    assert result.rig.cameras[0].world_T_camera[2, 3] > 0  # the camera is above the printed face


def test_a_camera_without_corners_is_named_with_the_likely_cause(scene) -> None:
    rig, _, detections = scene
    empty = BoardDetection(ids=np.zeros(0, np.int64), corners=np.zeros((0, 2)))
    broken = dict(detections, cam2={k: empty for k in detections["cam2"]})
    with pytest.raises(BoardCalibrationError, match=r"camera cam2: no ChArUco corners.*--squares.*--dictionary"):
        calibrate_from_board(broken, {n: (640, 480) for n in rig.names}, SPEC, camera_order=rig.names)


def test_cameras_without_shared_views_are_refused(scene) -> None:
    rig, _, detections = scene
    keys = sorted(detections["cam0"])
    split = dict(detections, cam2={k: d for k, d in detections["cam2"].items() if k in keys[:12]},
                 cam0={k: d for k, d in detections["cam0"].items() if k in keys[12:]},
                 cam1={k: d for k, d in detections["cam1"].items() if k in keys[12:]})
    with pytest.raises(BoardCalibrationError, match=r"cameras \['cam2'\] share no board image with cam0"):
        calibrate_from_board(split, {n: (640, 480) for n in rig.names}, SPEC, camera_order=rig.names, intrinsics=rig)


def test_too_few_views_for_intrinsics_say_so(scene) -> None:
    rig, _, detections = scene
    few = dict(detections, cam1=dict(list(detections["cam1"].items())[:3]))
    with pytest.raises(BoardCalibrationError, match=r"camera cam1: the board is usable in only 3 images.*--intrinsics"):
        calibrate_from_board(few, {n: (640, 480) for n in rig.names}, SPEC, camera_order=rig.names)


def test_boards_that_never_tilt_are_refused_rather_than_giving_a_wrong_focal_length() -> None:
    # Every view within 3° of square-on: the focal length came out 11 % off at 0.06 px RMS.
    rng = np.random.default_rng(4)
    rig = arc_rig(1, rng)
    poses = board_poses(rig, SPEC, 8, rng, max_tilt_deg=3.0)
    detector = BoardDetector(SPEC)
    detections = {"cam0": {f"{b:03d}": detector.detect(views[0]) for b, views in enumerate(render_board(rig, SPEC, poses, rng))}}
    with pytest.raises(BoardCalibrationError, match=r"camera cam0: the board is \(nearly\) square-on.*tilted by 20–45°"):
        calibrate_from_board(detections, {"cam0": (640, 480)}, SPEC, camera_order=["cam0"])


def test_a_board_seen_only_edge_on_is_refused() -> None:
    rng = np.random.default_rng(3)
    rig = arc_rig(2, rng)
    cameras = CameraArray.from_rig(rig)
    # The board turned 89.5° away from cam1: its corners project onto (nearly) one line.
    cam = rig.cameras[1].world_T_camera
    T = np.eye(4)
    T[:3, :3] = cam[:3, :3] @ np.array([[0, 0, 1.0], [0, 1, 0], [-1, 0, 0]]) @ \
        np.array([[1, 0, 0], [0, np.cos(0.009), -np.sin(0.009)], [0, np.sin(0.009), np.cos(0.009)]])
    T[:3, 3] = cam[:3, 3] + 0.5 * cam[:3, 2]
    world = SPEC.corners @ T[:3, :3].T + T[:3, 3]
    pixels = cameras.project(world)
    edge_on = BoardDetection(ids=np.arange(len(world)), corners=pixels[1])
    assert edge_on.is_degenerate
    detections = {"cam0": {"a": BoardDetection(ids=np.arange(len(world)), corners=pixels[0])}, "cam1": {"a": edge_on}}
    with pytest.raises(BoardCalibrationError, match=r"camera cam1: the board is seen edge-on"):
        calibrate_from_board(detections, {n: (640, 480) for n in rig.names}, SPEC, camera_order=rig.names, intrinsics=rig)


def test_board_spec_checks() -> None:
    with pytest.raises(ValueError, match="marker_size_m < square_size_m"):
        BoardSpec(squares=(7, 5), square_size_m=0.03, marker_size_m=0.04)
    with pytest.raises(ValueError, match="DICT_4X4_50"):
        BoardSpec(squares=(7, 5), square_size_m=0.04, marker_size_m=0.03, dictionary="DICT_5X5")
    with pytest.raises(ValueError, match="more than DICT_4X4_50 holds"):
        BoardSpec(squares=(12, 12), square_size_m=0.04, marker_size_m=0.03, dictionary="DICT_4X4_50")
    assert dataclasses.replace(SPEC).corners.shape == (24, 3)
