"""Checks of incoming camera data against the rig's calibration (messages only, no maths)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hand_pose_ros.calibration import CameraCalibration

__all__ = ["check_image_size", "camera_info_problem"]

# CameraInfo K may be rounded when written by drivers; beyond 1 % it is another calibration.
K_RELATIVE_TOLERANCE = 0.01


def check_image_size(width: int, height: int, calibration: CameraCalibration, where: str) -> None:
    """Raise ValueError unless the image is the calibrated size (also bounds huge images)."""
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"{where}: zero-size image ({width}x{height})")
    if (int(width), int(height)) != (calibration.width, calibration.height):
        raise ValueError(
            f"{where}: image is {width}x{height}, the calibration of camera {calibration.name!r} "
            f"is {calibration.width}x{calibration.height}"
        )


def camera_info_problem(msg: Any, calibration: CameraCalibration) -> str:
    """Why a CameraInfo is unusable or disagrees with the calibration file; "" if fine."""
    K = np.asarray(msg.k, np.float64).reshape(3, 3)
    if not np.all(np.isfinite(K)):
        return f"CameraInfo K has non-finite values {K.tolist()}"
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        return f"CameraInfo K has fx, fy = {K[0, 0]}, {K[1, 1]} (must be > 0)"
    if (msg.width, msg.height) != (calibration.width, calibration.height):
        return f"CameraInfo size {msg.width}x{msg.height} differs from the calibration's {calibration.width}x{calibration.height}"
    if not np.allclose(K, calibration.camera_matrix, rtol=K_RELATIVE_TOLERANCE, atol=0):
        return "CameraInfo K differs from the calibration file's camera_matrix by more than 1 %"
    return ""
