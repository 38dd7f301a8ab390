"""CameraCalibration refuses non-finite poses and distortion, naming the camera and the key."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.calibration import CameraCalibration, Rig, load_calibration, save_calibration

K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])


def camera(**kwargs) -> CameraCalibration:
    values = dict(name="cam2", frame_id="cam2_optical_frame", width=640, height=480, camera_matrix=K,
                  distortion_model="plumb_bob", distortion=np.zeros(5))
    values.update(kwargs)
    return CameraCalibration(**values)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("row", [0, 1, 2])
def test_non_finite_translation_is_refused(bad, row):
    T = np.eye(4)
    T[row, 3] = bad
    with pytest.raises(ValueError, match="camera 'cam2': world_T_camera must be finite"):
        camera(world_T_camera=T)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_distortion_is_refused(bad):
    D = np.zeros(5)
    D[1] = bad
    with pytest.raises(ValueError, match="camera 'cam2': distortion must be finite"):
        camera(distortion=D)


def test_the_file_names_path_camera_and_key(tmp_path):
    path = tmp_path / "calibration.yaml"
    save_calibration(path, Rig(cameras=(camera(),)))
    text = path.read_text().replace("0.0, 0.0, 0.0, 0.0, 0.0]", "0.0, .nan, 0.0, 0.0, 0.0]", 1)
    assert ".nan" in text
    path.write_text(text)
    with pytest.raises(ValueError, match=f"{path}: camera 'cam2': distortion must be finite"):
        load_calibration(path)


def test_finite_calibration_still_loads():
    T = np.eye(4)
    T[:3, 3] = [0.1, -0.2, 1.5]
    assert np.allclose(camera(world_T_camera=T, distortion=[0.1, -0.05, 0, 0, 0.01]).world_T_camera, T)
