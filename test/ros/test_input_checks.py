"""CameraInfo against the calibration (K, size, distortion model and coefficients) and stamps."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.ros.input_checks import MAX_STAMP_AHEAD_S, calibration_from_camera_info, camera_info_problem, check_stamp
from hand_pose_ros.tools.fuzz_messages import CAMERA_INFO_KINDS

K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
NS = 1_000_000_000


def calibration(model="plumb_bob", distortion=(0.0,) * 5) -> CameraCalibration:
    return CameraCalibration(name="cam1", frame_id="cam1_optical_frame", width=640, height=480, camera_matrix=K,
                             distortion_model=model, distortion=np.array(distortion))


def info_for(cal: CameraCalibration, **fields) -> CameraInfo:
    values = dict(width=cal.width, height=cal.height, k=cal.camera_matrix.reshape(-1).tolist(),
                  distortion_model=cal.distortion_model, d=cal.distortion.tolist())
    values.update(fields)
    return CameraInfo(**values)


def test_a_matching_camera_info_is_fine():
    cal = calibration()
    assert camera_info_problem(info_for(cal), cal) == ""
    # No distortion in the file: any model with zero coefficients (or none) agrees.
    assert camera_info_problem(info_for(cal, distortion_model="rational_polynomial", d=[0.0] * 8), cal) == ""
    assert camera_info_problem(info_for(cal, distortion_model="", d=[]), cal) == ""


@pytest.mark.parametrize("kind", sorted(CAMERA_INFO_KINDS))
def test_every_malformed_kind_is_named(kind):
    cal = calibration()
    problem = camera_info_problem(CAMERA_INFO_KINDS[kind](info_for(cal)), cal)
    assert problem.startswith("CameraInfo"), (kind, problem)


@pytest.mark.parametrize("fields, message", [
    (dict(d=[0.0] * 15), "D has 15 coefficients (at most 14)"),
    (dict(d=[0.1, np.nan, 0, 0, 0]), "D has non-finite values"),
    (dict(distortion_model="equidistant", d=[0.1, 0.01, 0, 0]), "model 'equidistant' differs from the calibration file's 'plumb_bob'"),
    (dict(d=[0.1, 0.01, 0, 0, 0.05]), "differs from the calibration file's"),
    (dict(d=[0.1, 0.01, 0, 0]), "differs from the calibration file's"),
])
def test_distortion_is_compared_with_a_distorted_calibration(fields, message):
    cal = calibration(distortion=(0.1, 0.01, 0.0, 0.0, 0.0))
    assert camera_info_problem(info_for(cal), cal) == ""
    assert camera_info_problem(info_for(cal, d=[0.1, 0.0101, 0, 0, 0]), cal) == ""  # rounding is fine
    assert message in camera_info_problem(info_for(cal, **fields), cal)


def test_stamps_zero_or_far_ahead_are_refused():
    now = 1_000 * NS
    check_stamp(now - 5 * NS, now, "cam0")  # late: fine
    check_stamp(now + NS, now, "cam0")  # a little ahead (clocks differ): fine
    with pytest.raises(ValueError, match="cam0: zero stamp"):
        check_stamp(0, now, "cam0")
    with pytest.raises(ValueError, match=r"cam0: stamp .* 3600.0 s ahead of the node's clock"):
        check_stamp(now + 3600 * NS, now, "cam0")
    check_stamp(int((MAX_STAMP_AHEAD_S + 1) * NS), 0, "cam0")  # sim time before /clock: no reference


@pytest.mark.parametrize("model, d", [("plumb_bob", [0.1, -0.02, 0.001, 0.0, 0.003]), ("equidistant", [0.1, 0.01, 0.0, 0.0]),
                                      ("plumb_bob", []), ("rational_polynomial", [0.0] * 8)])
def test_intrinsics_from_camera_info_keep_the_pose(model, d):
    pose_only = CameraCalibration(name="cam1", frame_id="cam1_optical_frame", world_T_camera=np.diag([1.0, -1.0, -1.0, 1.0]))
    K2 = K * [[1.01], [1.01], [1]]
    got = calibration_from_camera_info(CameraInfo(width=800, height=600, k=K2.reshape(-1).tolist(), distortion_model=model, d=d), pose_only)
    assert (got.width, got.height) == (800, 600) and np.array_equal(got.camera_matrix, K2)
    assert got.distortion_model == (model if any(d) else "none") and got.distortion.tolist() == ([float(v) for v in d] if any(d) else [])
    assert np.array_equal(got.world_T_camera, pose_only.world_T_camera) and got.frame_id == pose_only.frame_id


@pytest.mark.parametrize("fields, message", [
    (dict(k=[0.0] * 9), "fx, fy = 0.0, 0.0"),
    (dict(width=0, height=0), "size 0x0"),
    (dict(distortion_model="fisheye_magic", d=[0.1]), "'fisheye_magic' is not one of"),
    (dict(distortion_model="plumb_bob", d=[0.1, 0.2]), "plumb_bob takes 5 distortion coefficients, got 2"),
])
def test_an_unusable_camera_info_is_refused_with_the_reason(fields, message):
    values = dict(width=640, height=480, k=K.reshape(-1).tolist())
    values.update(fields)
    with pytest.raises(ValueError, match=message):
        calibration_from_camera_info(CameraInfo(**values), calibration())
