"""The calibration file: an exact save → load round trip per distortion model, and every
refusal names the file, the camera and the key that is wrong."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from hand_pose_ros.calibration import DISTORTION_MODELS, CameraCalibration, Rig, load_calibration, look_at, save_calibration

K = np.array([[610.5, 0.0, 321.25], [0.0, 612.75, 238.5], [0.0, 0.0, 1.0]])


def _pose(seed: int) -> np.ndarray:
    """(4, 4) a random rigid world_T_camera, translations within a metre."""
    rng = np.random.default_rng(seed)
    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=seed).as_matrix()
    T[:3, 3] = rng.uniform(-1.0, 1.0, 3)
    return T


def _camera(name: str = "cam0", **changes) -> CameraCalibration:
    fields = dict(name=name, frame_id=f"{name}_optical_frame", width=640, height=480, camera_matrix=K)
    fields.update(changes)
    return CameraCalibration(**fields)


def _coefficients(model: str, seed: int) -> np.ndarray:
    # Small, irrational-looking values: a float printed with too few digits would not survive.
    return np.random.default_rng(seed).normal(scale=0.05, size=DISTORTION_MODELS[model][0])


@pytest.mark.parametrize("model", sorted(DISTORTION_MODELS))
def test_save_then_load_gives_the_same_camera_exactly(tmp_path: pathlib.Path, model: str) -> None:
    camera = _camera("cam_a", distortion_model=model, distortion=_coefficients(model, 1), world_T_camera=_pose(2),
                     camera_matrix=K + np.array([[1 / 3, 0, 1 / 7], [0, 1 / 11, 1 / 13], [0, 0, 0]]))
    path = tmp_path / "calibration.yaml"
    save_calibration(path, Rig(cameras=(camera,), world_frame="lab"))
    (back,) = (rig := load_calibration(path)).cameras
    assert rig.world_frame == "lab"
    assert (back.name, back.frame_id, back.width, back.height, back.distortion_model) == (
        camera.name, camera.frame_id, camera.width, camera.height, model)
    np.testing.assert_array_equal(back.camera_matrix, camera.camera_matrix)
    np.testing.assert_array_equal(back.distortion, camera.distortion)
    np.testing.assert_array_equal(back.world_T_camera, camera.world_T_camera)
    assert back.distortion.shape == (DISTORTION_MODELS[model][0],)


def test_a_rig_keeps_its_camera_order_through_the_file(tmp_path: pathlib.Path) -> None:
    # File order, never sorted by name ("cam10" would sort before "cam2").
    names = ["cam2", "cam10", "cam1"]
    models = ["plumb_bob", "equidistant", "rational_polynomial"]
    cameras = [_camera(n, distortion_model=m, distortion=_coefficients(m, i), world_T_camera=_pose(i))
               for i, (n, m) in enumerate(zip(names, models))]
    path = tmp_path / "rig.yaml"
    save_calibration(path, cameras)  # a plain sequence is accepted too, world frame "world"
    rig = load_calibration(path)
    assert rig.names == names and rig.world_frame == "world"
    assert [c.distortion_model for c in rig.cameras] == models
    assert rig["cam10"].name == "cam10" and rig[1] is rig["cam10"]
    for saved, loaded in zip(cameras, rig.cameras):
        np.testing.assert_array_equal(loaded.projection_matrix, saved.projection_matrix)


def test_model_none_accepts_zero_coefficients_and_stores_none() -> None:
    assert _camera(distortion_model="none", distortion=np.zeros(5)).distortion.shape == (0,)


def test_defaults_fill_the_optional_keys(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "minimal.yaml"
    path.write_text(yaml.safe_dump({"cameras": [{"name": "c", "image_size": [64, 48], "camera_matrix": K.tolist()}]}))
    (camera,) = load_calibration(path).cameras
    assert camera.frame_id == "c_optical_frame" and camera.distortion_model == "none"
    np.testing.assert_array_equal(camera.world_T_camera, np.eye(4))


# Each refusal of CameraCalibration: (changed fields, the words the message must hold).
REFUSALS = {
    "empty name": (dict(name=""), "camera name must not be empty"),
    "zero width": (dict(width=0), "camera 'cam0': image size must be positive, got 0x480"),
    "negative height": (dict(height=-1), "camera 'cam0': image size must be positive, got 640x-1"),
    "K not 3x3": (dict(camera_matrix=np.eye(3, 4)), "camera_matrix in camera 'cam0': expected shape (3, 3), got (3, 4)"),
    "K not finite": (dict(camera_matrix=np.where(np.eye(3) == 1, np.nan, K)), "camera 'cam0': camera_matrix must be finite"),
    "fx not positive": (dict(camera_matrix=K * [[-1], [1], [1]]), "camera 'cam0': camera_matrix must be finite with fx, fy > 0"),
    "K[2,2] not 1": (dict(camera_matrix=K * 2), "camera 'cam0': camera_matrix must be finite with fx, fy > 0 and K[2,2] = 1"),
    "unknown model": (dict(distortion_model="fisheye"),
                      "camera 'cam0': distortion_model must be one of ['equidistant', 'none', 'plumb_bob', "
                      "'rational_polynomial'], got 'fisheye'"),
    "none with coefficients": (dict(distortion_model="none", distortion=[0.1, 0, 0, 0, 0]),
                               "camera 'cam0': distortion_model 'none' needs no (or all-zero) coefficients"),
    "plumb_bob count": (dict(distortion_model="plumb_bob", distortion=np.zeros(4)),
                        "camera 'cam0': plumb_bob takes 5 distortion coefficients, got 4"),
    "rational_polynomial count": (dict(distortion_model="rational_polynomial", distortion=np.zeros(5)),
                                  "camera 'cam0': rational_polynomial takes 8 distortion coefficients, got 5"),
    "equidistant count": (dict(distortion_model="equidistant", distortion=np.zeros(5)),
                          "camera 'cam0': equidistant takes 4 distortion coefficients, got 5"),
    "pose not 4x4": (dict(world_T_camera=np.eye(3)), "world_T_camera in camera 'cam0': expected shape (4, 4), got (3, 3)"),
    "pose scaled": (dict(world_T_camera=np.diag([2.0, 2.0, 2.0, 1.0])),
                    "camera 'cam0': world_T_camera must be a rigid transform"),
    "pose mirrored": (dict(world_T_camera=np.diag([-1.0, 1.0, 1.0, 1.0])),
                      "camera 'cam0': world_T_camera must be a rigid transform"),
    "pose bottom row": (dict(world_T_camera=np.vstack([np.eye(4)[:3], [0.0, 0.0, 1.0, 1.0]])),
                        "camera 'cam0': world_T_camera must be a rigid transform"),
}


@pytest.mark.parametrize("changes, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_each_refusal_names_the_camera_and_what_is_wrong(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _camera(**changes)


@pytest.mark.parametrize("key", ["image_size", "camera_matrix"])
def test_a_missing_required_key_is_named_with_the_file_and_camera(tmp_path: pathlib.Path, key: str) -> None:
    camera = _camera("side").to_dict()
    del camera[key]
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump({"cameras": [camera]}))
    with pytest.raises(ValueError, match=re.escape(f"{path}: camera 'side': missing key '{key}'")):
        load_calibration(path)


def test_a_bad_camera_in_a_file_is_reported_with_the_file(tmp_path: pathlib.Path) -> None:
    good, bad = _camera("front").to_dict(), _camera("back").to_dict()
    bad["distortion_model"] = "plumb_bob"
    bad["distortion"] = [0.0, 0.0]
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump({"cameras": [good, bad]}))
    with pytest.raises(ValueError, match=re.escape(f"{path}: camera 'back': plumb_bob takes 5 distortion coefficients, got 2")):
        load_calibration(path)


def test_duplicate_camera_names_are_refused_by_the_rig_and_the_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match=re.escape("camera names must be unique, got ['a', 'b', 'a']")):
        Rig(cameras=(_camera("a"), _camera("b"), _camera("a")))
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump({"cameras": [_camera("a").to_dict(), _camera("a").to_dict()]}))
    with pytest.raises(ValueError, match=re.escape(f"{path}: camera names must be unique, got ['a', 'a']")):
        load_calibration(path)


@pytest.mark.parametrize("content", ["[]", "cameras: []", "cameras: {cam0: {}}", "world_frame: world", "just text"],
                         ids=["a list", "no cameras", "cameras not a list", "no cameras key", "a string"])
def test_a_file_that_is_not_a_calibration_is_refused_with_its_name(tmp_path: pathlib.Path, content: str) -> None:
    path = tmp_path / "calibration.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(f"{path}: expected a mapping with a non-empty 'cameras' list")):
        load_calibration(path)


def test_a_missing_file_and_a_missing_camera_are_named(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_calibration(tmp_path / "absent.yaml")
    with pytest.raises(KeyError, match=re.escape("no camera named 'top'; cameras are ['a', 'b']")):
        Rig(cameras=(_camera("a"), _camera("b")))["top"]


def test_look_at_is_a_level_optical_frame_facing_the_target() -> None:
    position, target = np.array([1.0, -0.5, 0.8]), np.array([0.0, 0.2, 0.3])
    T = look_at(position, target)
    forward = (target - position) / np.linalg.norm(target - position)
    np.testing.assert_allclose(T[:3, 2], forward, atol=1e-12)  # optical z forward
    assert abs(T[2, 0]) < 1e-12 and T[2, 1] < 0  # x level, y (down in the image) points down in the world
    np.testing.assert_array_equal(T[:3, 3], position)
    _camera(world_T_camera=T)  # a rigid transform the calibration accepts
    with pytest.raises(ValueError, match="straight up or down"):
        look_at(position, position + [0.0, 0.0, 1.0])


def test_a_pose_only_camera_loads_without_intrinsics_and_round_trips(tmp_path: pathlib.Path) -> None:
    """For intrinsics from CameraInfo: name, frame_id and world_T_camera only."""
    pose = look_at(np.array([0.5, 0.0, 0.4]), np.zeros(3))
    path = tmp_path / "poses.yaml"
    path.write_text(yaml.safe_dump({"cameras": [{"name": "cam0", "frame_id": "f0", "world_T_camera": pose.tolist()}]}))
    with pytest.raises(ValueError, match="camera 'cam0': missing key 'image_size'"):
        load_calibration(path)
    (camera,) = load_calibration(path, require_intrinsics=False).cameras
    assert not camera.has_intrinsics and camera.frame_id == "f0" and np.allclose(camera.world_T_camera, pose)
    save_calibration(tmp_path / "again.yaml", [camera])
    (again,) = load_calibration(tmp_path / "again.yaml", require_intrinsics=False).cameras
    assert not again.has_intrinsics and np.array_equal(again.world_T_camera, camera.world_T_camera)
    full = camera.with_intrinsics(640, 480, np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]]), "none", np.zeros(0))
    assert full.has_intrinsics and np.array_equal(full.world_T_camera, pose) and not full.same_intrinsics(camera)


def test_half_given_intrinsics_are_refused_naming_the_keys(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "half.yaml"
    path.write_text(yaml.safe_dump({"cameras": [{"name": "cam0", "image_size": [640, 480]}]}))
    with pytest.raises(ValueError, match=r"half.yaml: camera 'cam0': \['image_size'\] given without camera_matrix"):
        load_calibration(path, require_intrinsics=False)
