"""Ground truth per frame: projecting world keypoints into cameras and deciding visibility."""

from __future__ import annotations

import cv2
import numpy as np

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.types import check_shape

__all__ = ["project_points", "keypoint_visibility", "OCCLUSION_TOLERANCE_M"]

# A keypoint lies inside the finger, up to about this far below the skin the camera sees;
# a surface nearer than that (another finger, the other hand) occludes it.
OCCLUSION_TOLERANCE_M = 0.015
_DEPTH_WINDOW_PX = 1  # half-size of the window whose median depth is compared


def project_points(camera: CameraCalibration, points: np.ndarray, *, distort: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) metres world → ((N, 2) float64 px, (N,) float64 depth along the optical axis, metres).

    Pixel origin at the centre of the top-left pixel (OpenCV); ``distort=False`` gives the
    ideal pinhole projection.
    """
    points = check_shape("points", points, (None, 3), f"camera {camera.name!r}").astype(np.float64)
    T = camera.camera_T_world
    cam = points @ T[:3, :3].T + T[:3, 3]
    distortion = camera.distortion if distort and camera.distortion.size else np.zeros(0)
    pixels, _ = cv2.projectPoints(cam.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), camera.camera_matrix, distortion)
    return pixels.reshape(-1, 2), cam[:, 2]


def keypoint_visibility(camera: CameraCalibration, keypoints: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(21, 3) metres world + (H, W) rendered depth (0 = empty) → (21,) bool seen by ``camera``.

    Visible: in front of the camera, inside the image, and no rendered surface more than
    ``OCCLUSION_TOLERANCE_M`` in front of the keypoint along its pixel's ray.
    """
    pixels, z = project_points(camera, keypoints)
    ideal, _ = project_points(camera, keypoints, distort=False)  # the depth map is the pinhole render
    inside = (z > 0) & (pixels[:, 0] >= -0.5) & (pixels[:, 0] <= camera.width - 0.5)
    inside &= (pixels[:, 1] >= -0.5) & (pixels[:, 1] <= camera.height - 0.5)
    visible = np.zeros(len(keypoints), bool)
    h, w = depth.shape
    for k in np.flatnonzero(inside):
        u, v = int(round(ideal[k, 0])), int(round(ideal[k, 1]))
        window = depth[max(v - _DEPTH_WINDOW_PX, 0): v + _DEPTH_WINDOW_PX + 1, max(u - _DEPTH_WINDOW_PX, 0): u + _DEPTH_WINDOW_PX + 1]
        surface = window[window > 0]
        visible[k] = surface.size == 0 or float(np.median(surface)) > z[k] - OCCLUSION_TOLERANCE_M
    return visible
