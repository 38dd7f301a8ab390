"""Camera models against OpenCV's projectPoints / undistortPoints (cv2.fisheye for equidistant)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from hand_pose_ros.calibration import CameraCalibration, Rig
from hand_pose_ros.fusion.camera import CameraArray

# Pixel agreement with OpenCV: both are float64 evaluations of the same polynomials.
PROJECT_TOL_PX = 1e-6
# Undistortion is iterative in both; ours iterates to convergence, OpenCV to its criteria.
UNDISTORT_TOL_PX = 1e-4

DISTORTIONS = {
    "none": [],
    "plumb_bob": [-0.28, 0.09, 0.0012, -0.0008, -0.015],
    "rational_polynomial": [0.35, -0.12, 0.001, -0.0015, 0.02, 0.6, -0.08, 0.05],
    "equidistant": [0.05, -0.02, 0.004, -0.001],
}


def _camera(model: str) -> CameraCalibration:
    K = np.array([[610.0, 0.0, 322.5], [0.0, 605.0, 238.0], [0.0, 0.0, 1.0]])
    rvec = np.array([0.2, -0.3, 0.1])
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(rvec)[0]
    T[:3, 3] = [0.1, -0.05, -0.6]
    return CameraCalibration(name=f"cam_{model}", frame_id="f", width=640, height=480, camera_matrix=K,
                             distortion_model=model, distortion=np.array(DISTORTIONS[model]), world_T_camera=T)


def _points_in_view(cam: CameraCalibration, rng: np.random.Generator, n: int = 200) -> np.ndarray:
    """World points inside the camera's field of view (about 60 degrees wide), 0.3-1.5 m deep."""
    xy = rng.uniform(-0.55, 0.55, (n, 2))
    z = rng.uniform(0.3, 1.5, n)
    cam_pts = np.column_stack([xy * z[:, None], z])
    return (cam.world_T_camera[:3, :3] @ cam_pts.T).T + cam.world_T_camera[:3, 3]


@pytest.mark.parametrize("model", sorted(DISTORTIONS))
def test_projection_matches_opencv(model: str) -> None:
    cam = _camera(model)
    points = _points_in_view(cam, np.random.default_rng(0))
    ours = CameraArray.from_rig(Rig(cameras=(cam,))).project(points)[0]
    cTw = cam.camera_T_world
    rvec, tvec = cv2.Rodrigues(cTw[:3, :3])[0], cTw[:3, 3]
    if model == "equidistant":
        ref = cv2.fisheye.projectPoints(points[:, None, :], rvec, tvec, cam.camera_matrix, cam.distortion)[0][:, 0]
    else:
        dist = cam.distortion if cam.distortion.size else np.zeros(5)
        ref = cv2.projectPoints(points, rvec, tvec, cam.camera_matrix, dist)[0][:, 0]
    np.testing.assert_allclose(ours, ref, atol=PROJECT_TOL_PX)


@pytest.mark.parametrize("model", sorted(DISTORTIONS))
def test_undistortion_matches_opencv_and_inverts_projection(model: str) -> None:
    cam = _camera(model)
    cams = CameraArray.from_rig(Rig(cameras=(cam,)))
    points = _points_in_view(cam, np.random.default_rng(1))
    pixels = cams.project(points)
    normalized = cams.pixels_to_normalized(pixels)[0]
    cam_pts = cams.to_camera(points)[0]
    np.testing.assert_allclose(normalized, cam_pts[:, :2] / cam_pts[:, 2:], atol=1e-7)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-14)
    if model == "equidistant":
        ref = cv2.fisheye.undistortPoints(pixels[0][:, None, :], cam.camera_matrix, cam.distortion,
                                          criteria=criteria)[:, 0]
    else:
        dist = cam.distortion if cam.distortion.size else np.zeros(5)
        ref = cv2.undistortPoints(pixels[0][:, None, :], cam.camera_matrix, dist, None, None, None, criteria)[:, 0]
    f = cam.camera_matrix[0, 0]
    np.testing.assert_allclose(normalized * f, ref * f, atol=UNDISTORT_TOL_PX)


def test_nan_pixels_stay_nan_and_points_behind_are_nan() -> None:
    cams = CameraArray.from_rig(Rig(cameras=(_camera("plumb_bob"), _camera("equidistant"))))
    pixels = np.full((2, 3, 2), np.nan)
    pixels[:, 0] = [300.0, 200.0]
    out = cams.pixels_to_normalized(pixels)
    assert np.isfinite(out[:, 0]).all() and np.isnan(out[:, 1:]).all()
    behind = cams.camera_T_world[0, :3, :3].T @ np.array([0, 0, -1.0]) - cams.camera_T_world[0, :3, :3].T @ cams.camera_T_world[0, :3, 3]
    assert np.isnan(cams.project(behind[None])[0]).all()


def test_wrong_shape_names_the_array() -> None:
    cams = CameraArray.from_rig(Rig(cameras=(_camera("none"),)))
    with pytest.raises(ValueError, match="pixels.*expected shape"):
        cams.pixels_to_normalized(np.zeros((2, 3, 2)))


@pytest.mark.parametrize("models", [("none", "none"), ("none", "plumb_bob"), ("none", "equidistant")])
def test_a_rig_without_distortion_projects_as_the_distortion_model_would(models: tuple[str, str]) -> None:
    """``project`` skips distorting when every coefficient is zero: bit for bit what the
    distortion model gives there; a rig with one distorted camera still distorts it."""
    from hand_pose_ros.fusion.camera import distort_normalized

    rig = Rig(cameras=tuple(dataclasses.replace(_camera(m), name=f"cam{i}") for i, m in enumerate(models)))
    cams = CameraArray.from_rig(rig)
    points = _points_in_view(rig.cameras[0], np.random.default_rng(3))
    cam = cams.to_camera(points)
    xy = cam[..., :2] / cam[..., 2:]
    K = cams.K
    distorted = distort_normalized(xy, cams.rational, cams.fisheye, cams.is_fisheye)
    u = K[:, None, 0, 0] * distorted[..., 0] + K[:, None, 0, 1] * distorted[..., 1] + K[:, None, 0, 2]
    v = K[:, None, 1, 1] * distorted[..., 1] + K[:, None, 1, 2]
    np.testing.assert_array_equal(cams.project(points), np.stack([u, v], axis=-1))
    if models[1] != "none":
        assert not np.allclose(cams.project(points)[1], cams.project(points, distort=False)[1])
