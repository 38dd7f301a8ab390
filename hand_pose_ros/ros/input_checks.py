"""Checks of incoming camera data against the rig's calibration (messages only, no maths)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hand_pose_ros.calibration import DISTORTION_MODELS, CameraCalibration

__all__ = ["check_image_size", "check_stamp", "camera_info_problem", "calibration_from_camera_info", "MAX_STAMP_AHEAD_S", "MAX_DISTORTION_COEFFICIENTS"]

# CameraInfo K may be rounded when written by drivers; beyond 1 % it is another calibration.
K_RELATIVE_TOLERANCE = 0.01
# Distortion coefficients are printed with a few decimals by calibration tools; a difference
# beyond this is another calibration (k1 = 0.1 vs 0.1001 is not worth a warning).
D_ABSOLUTE_TOLERANCE = 1e-3
# The longest model OpenCV knows (k1-k6, p1, p2, s1-s4, tx, ty) has 14 coefficients; more is
# garbage, and its length alone is not worth formatting into a message.
MAX_DISTORTION_COEFFICIENTS = 14
# Cameras and the node share a clock (or sim time); a stamp this far ahead of the node's
# clock is a wrong clock, and accepting it would make every later, right stamp "backwards".
MAX_STAMP_AHEAD_S = 10.0
NS_PER_S = 1_000_000_000


def check_image_size(width: int, height: int, calibration: CameraCalibration, where: str) -> None:
    """Raise ValueError unless the image is the calibrated size (also bounds huge images)."""
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"{where}: zero-size image ({width}x{height})")
    if (int(width), int(height)) != (calibration.width, calibration.height):
        raise ValueError(
            f"{where}: image is {width}x{height}, the calibration of camera {calibration.name!r} "
            f"is {calibration.width}x{calibration.height}"
        )


def check_stamp(stamp_ns: int, now_ns: int, where: str) -> None:
    """Raise ValueError for a zero (unset) stamp or one more than ``MAX_STAMP_AHEAD_S`` ahead
    of the node's clock ``now_ns`` (not checked while that clock is zero: sim time before /clock)."""
    if stamp_ns <= 0:
        raise ValueError(f"{where}: zero stamp (the camera driver did not stamp the image)")
    if now_ns > 0 and stamp_ns - now_ns > MAX_STAMP_AHEAD_S * NS_PER_S:
        raise ValueError(
            f"{where}: stamp {stamp_ns} ns is {(stamp_ns - now_ns) / NS_PER_S:.1f} s ahead of the node's clock "
            f"(at most {MAX_STAMP_AHEAD_S} s)"
        )


def calibration_from_camera_info(msg: Any, camera: CameraCalibration) -> CameraCalibration:
    """``camera`` (name, frame, pose) with the intrinsics of a CameraInfo: K, size, distortion
    model and coefficients (an empty or all-zero D is no distortion, whatever the model).

    Raises:
        ValueError: naming what of the CameraInfo is unusable (K, size, model, coefficient count).
    """
    if len(msg.k) != 9:
        raise ValueError(f"CameraInfo K has {len(msg.k)} values, expected 9")
    if len(msg.d) > MAX_DISTORTION_COEFFICIENTS:
        raise ValueError(f"CameraInfo D has {len(msg.d)} coefficients (at most {MAX_DISTORTION_COEFFICIENTS})")
    K = np.asarray(msg.k, np.float64).reshape(3, 3)
    D = np.asarray(msg.d, np.float64)
    if not np.all(np.isfinite(K)):
        raise ValueError(f"CameraInfo K has non-finite values {K.tolist()}")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"CameraInfo K has fx, fy = {K[0, 0]}, {K[1, 1]} (must be > 0)")
    if int(msg.width) <= 0 or int(msg.height) <= 0:
        raise ValueError(f"CameraInfo size {msg.width}x{msg.height} (unset: the driver is not calibrated)")
    model = str(msg.distortion_model)
    if not np.any(D):
        model, D = "none", np.zeros(0)
    elif model not in DISTORTION_MODELS:
        raise ValueError(f"CameraInfo distortion model {model!r} is not one of {sorted(DISTORTION_MODELS)}")
    try:
        return camera.with_intrinsics(int(msg.width), int(msg.height), K, model, D)
    except ValueError as exc:  # names the camera: K[2,2], coefficient count, non-finite D
        raise ValueError(f"CameraInfo unusable: {exc}") from None


def camera_info_problem(msg: Any, calibration: CameraCalibration) -> str:
    """Why a CameraInfo is unusable or disagrees with the calibration file; "" if fine.

    Checked: K (9 finite values, fx, fy > 0, within 1 % of the file's), the image size, the
    distortion model and coefficients (finite, a sane count, the file's model and values; a
    file with no distortion accepts any model with all-zero coefficients).
    """
    if len(msg.k) != 9:
        return f"CameraInfo K has {len(msg.k)} values, expected 9"
    K = np.asarray(msg.k, np.float64).reshape(3, 3)
    if not np.all(np.isfinite(K)):
        return f"CameraInfo K has non-finite values {K.tolist()}"
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        return f"CameraInfo K has fx, fy = {K[0, 0]}, {K[1, 1]} (must be > 0)"
    if (msg.width, msg.height) != (calibration.width, calibration.height):
        return f"CameraInfo size {msg.width}x{msg.height} differs from the calibration's {calibration.width}x{calibration.height}"
    if not np.allclose(K, calibration.camera_matrix, rtol=K_RELATIVE_TOLERANCE, atol=0):
        return "CameraInfo K differs from the calibration file's camera_matrix by more than 1 %"
    return _distortion_problem(str(msg.distortion_model), msg.d, calibration)


def _distortion_problem(model: str, d: Any, calibration: CameraCalibration) -> str:
    if len(d) > MAX_DISTORTION_COEFFICIENTS:
        return f"CameraInfo D has {len(d)} coefficients (at most {MAX_DISTORTION_COEFFICIENTS})"
    D = np.asarray(d, np.float64)
    if not np.all(np.isfinite(D)):
        return f"CameraInfo D has non-finite values {D.tolist()}"
    if model and model not in DISTORTION_MODELS:
        return f"CameraInfo distortion model {model!r} is not one of {sorted(DISTORTION_MODELS)}"
    expected = calibration.distortion
    if calibration.distortion_model == "none" or not np.any(expected):
        if np.any(np.abs(D) > D_ABSOLUTE_TOLERANCE):
            return f"CameraInfo D = {D.tolist()} ({model or 'no model'}) but the calibration file has no distortion"
        return ""
    if model != calibration.distortion_model:
        return f"CameraInfo distortion model {model!r} differs from the calibration file's {calibration.distortion_model!r}"
    if D.shape != expected.shape or not np.allclose(D, expected, rtol=0, atol=D_ABSOLUTE_TOLERANCE):
        return f"CameraInfo D = {D.tolist()} differs from the calibration file's {expected.tolist()}"
    return ""
