"""Camera calibration: intrinsics, distortion and world←camera pose, and its YAML file.

A calibration file lists cameras in an explicit order (never sorted by name)::

    world_frame: world
    cameras:
      - name: cam0
        frame_id: cam0_optical_frame
        image_size: [640, 480]            # width, height, pixels
        camera_matrix: [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]   # pixels
        distortion_model: plumb_bob       # as sensor_msgs/CameraInfo: plumb_bob |
                                          # rational_polynomial | equidistant | none
        distortion: [k1, k2, p1, p2, k3]
        world_T_camera:                   # 4x4, maps camera-optical-frame points (metres,
          - [r00, r01, r02, tx]           # x right, y down, z forward; REP 103 optical)
          - [r10, r11, r12, ty]           # to world-frame points (metres)
          - [r20, r21, r22, tz]
          - [0, 0, 0, 1]

Where the intrinsics come from each camera's CameraInfo (the node's ``intrinsics.source:
camera_info``), a camera may omit ``image_size``, ``camera_matrix`` and the distortion
(``load_calibration(path, require_intrinsics=False)``): it is loaded without intrinsics
(``has_intrinsics`` False) and completed with ``with_intrinsics``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import yaml

from hand_pose_ros.types import check_shape

__all__ = ["CameraCalibration", "Rig", "load_calibration", "save_calibration", "look_at", "DISTORTION_MODELS"]

# Number of distortion coefficients each CameraInfo model takes (0 = any length allowed to be empty).
DISTORTION_MODELS: dict[str, tuple[int, ...]] = {
    "none": (0,),
    "plumb_bob": (5,),
    "rational_polynomial": (8,),
    "equidistant": (4,),
}


@dataclasses.dataclass(frozen=True, eq=False)
class CameraCalibration:
    """One calibrated camera.

    Attributes:
        name: camera name, unique in a rig (also the key in detections files).
        frame_id: the camera's optical frame (REP 103 optical: x right, y down, z forward).
        width, height: image size in pixels (0, 0 for a camera without intrinsics).
        camera_matrix: (3, 3) float64 K in pixels; None for a camera without intrinsics
            (pose only, intrinsics to come from CameraInfo): ``has_intrinsics`` is False.
        distortion_model: one of ``DISTORTION_MODELS``.
        distortion: (N,) float64 coefficients in CameraInfo's order for the model.
        world_T_camera: (4, 4) float64 rigid transform, camera optical frame → world, metres.
    """

    name: str
    frame_id: str
    width: int = 0
    height: int = 0
    camera_matrix: np.ndarray | None = None
    distortion_model: str = "none"
    distortion: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    world_T_camera: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        where = f"camera {self.name!r}"
        if not self.name:
            raise ValueError("camera name must not be empty")
        self._check_world_T_camera(where)
        if self.camera_matrix is None:
            if self.width or self.height or self.distortion_model != "none" or np.asarray(self.distortion).size:
                raise ValueError(f"{where}: a camera without camera_matrix has no intrinsics: no image_size or distortion either")
            object.__setattr__(self, "distortion", np.zeros(0))
            return
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"{where}: image size must be positive, got {self.width}x{self.height}")
        K = check_shape("camera_matrix", self.camera_matrix, (3, 3), where).astype(np.float64)
        if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1.0:
            raise ValueError(f"{where}: camera_matrix must be finite with fx, fy > 0 and K[2,2] = 1, got {K.tolist()}")
        if self.distortion_model not in DISTORTION_MODELS:
            raise ValueError(
                f"{where}: distortion_model must be one of {sorted(DISTORTION_MODELS)}, got {self.distortion_model!r}"
            )
        D = np.asarray(self.distortion, np.float64).reshape(-1)
        if not np.all(np.isfinite(D)):
            raise ValueError(f"{where}: distortion must be finite, got {D.tolist()}")
        if self.distortion_model == "none":
            if np.any(D != 0):
                raise ValueError(f"{where}: distortion_model 'none' needs no (or all-zero) coefficients")
            D = np.zeros(0)
        elif D.size not in DISTORTION_MODELS[self.distortion_model]:
            raise ValueError(
                f"{where}: {self.distortion_model} takes {DISTORTION_MODELS[self.distortion_model][0]} "
                f"distortion coefficients, got {D.size}"
            )
        object.__setattr__(self, "camera_matrix", K)
        object.__setattr__(self, "distortion", D)

    def _check_world_T_camera(self, where: str) -> None:
        T = check_shape("world_T_camera", self.world_T_camera, (4, 4), where).astype(np.float64)
        if not np.all(np.isfinite(T)):
            raise ValueError(f"{where}: world_T_camera must be finite (rotation and translation), got {T.tolist()}")
        R = T[:3, :3]
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0 or not np.allclose(T[3], [0, 0, 0, 1]):
            raise ValueError(f"{where}: world_T_camera must be a rigid transform (rotation + translation)")
        object.__setattr__(self, "world_T_camera", T)

    @property
    def has_intrinsics(self) -> bool:
        """False for a camera loaded with its pose only (intrinsics to come from CameraInfo)."""
        return self.camera_matrix is not None

    def with_intrinsics(
        self, width: int, height: int, camera_matrix: np.ndarray, distortion_model: str, distortion: np.ndarray
    ) -> "CameraCalibration":
        """This camera (name, frame, pose) with the given intrinsics (checked as in the constructor)."""
        return dataclasses.replace(
            self, width=width, height=height, camera_matrix=camera_matrix,
            distortion_model=distortion_model, distortion=distortion,
        )

    @property
    def camera_T_world(self) -> np.ndarray:
        """(4, 4) world → camera optical frame."""
        R, t = self.world_T_camera[:3, :3], self.world_T_camera[:3, 3]
        out = np.eye(4)
        out[:3, :3] = R.T
        out[:3, 3] = -R.T @ t
        return out

    @property
    def projection_matrix(self) -> np.ndarray:
        """(3, 4) K [R | t] mapping homogeneous world points to homogeneous undistorted pixels."""
        return self.camera_matrix @ self.camera_T_world[:3]

    def same_intrinsics(self, other: "CameraCalibration") -> bool:
        """Whether ``other`` has exactly these intrinsics (size, K, distortion model and coefficients)."""
        if not (self.has_intrinsics and other.has_intrinsics):
            return self.has_intrinsics == other.has_intrinsics
        return (
            (self.width, self.height, self.distortion_model) == (other.width, other.height, other.distortion_model)
            and np.array_equal(self.camera_matrix, other.camera_matrix)
            and np.array_equal(self.distortion, other.distortion)
        )

    def describe_intrinsics(self) -> str:
        """One line: size, fx, fy, cx, cy and the distortion (for logs and diagnostics)."""
        if not self.has_intrinsics:
            return "no intrinsics"
        K = self.camera_matrix
        return (f"{self.width}x{self.height} fx {K[0, 0]:.2f} fy {K[1, 1]:.2f} cx {K[0, 2]:.2f} cy {K[1, 2]:.2f} "
                f"{self.distortion_model} {np.round(self.distortion, 6).tolist()}")

    def to_dict(self) -> dict[str, Any]:
        if not self.has_intrinsics:
            return {"name": self.name, "frame_id": self.frame_id, "world_T_camera": self.world_T_camera.tolist()}
        return {
            "name": self.name,
            "frame_id": self.frame_id,
            "image_size": [int(self.width), int(self.height)],
            "camera_matrix": self.camera_matrix.tolist(),
            "distortion_model": self.distortion_model,
            "distortion": self.distortion.tolist(),
            "world_T_camera": self.world_T_camera.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, require_intrinsics: bool = True) -> "CameraCalibration":
        """A camera from its file entry; with ``require_intrinsics`` False, an entry without
        ``camera_matrix`` is a camera without intrinsics (name, frame_id, world_T_camera)."""
        name = data.get("name", "")
        if not require_intrinsics and "camera_matrix" not in data:
            extra = sorted({"image_size", "distortion_model", "distortion"} & set(data))
            if extra:
                raise ValueError(f"camera {name!r}: {extra} given without camera_matrix (give all intrinsics or none)")
            return cls(
                name=name,
                frame_id=data.get("frame_id", f"{name}_optical_frame"),
                world_T_camera=np.asarray(data.get("world_T_camera", np.eye(4)), np.float64),
            )
        try:
            width, height = (int(v) for v in data["image_size"])
            return cls(
                name=name,
                frame_id=data.get("frame_id", f"{name}_optical_frame"),
                width=width,
                height=height,
                camera_matrix=np.asarray(data["camera_matrix"], np.float64),
                distortion_model=data.get("distortion_model", "none"),
                distortion=np.asarray(data.get("distortion", []), np.float64),
                world_T_camera=np.asarray(data.get("world_T_camera", np.eye(4)), np.float64),
            )
        except KeyError as exc:
            raise ValueError(f"camera {name!r}: missing key {exc.args[0]!r}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class Rig:
    """Calibrated cameras in a fixed order, and the world frame their poses are given in."""

    cameras: tuple[CameraCalibration, ...]
    world_frame: str = "world"

    def __post_init__(self) -> None:
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")
        object.__setattr__(self, "cameras", tuple(self.cameras))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def __len__(self) -> int:
        return len(self.cameras)

    def __getitem__(self, key: int | str) -> CameraCalibration:
        if isinstance(key, str):
            for camera in self.cameras:
                if camera.name == key:
                    return camera
            raise KeyError(f"no camera named {key!r}; cameras are {self.names}")
        return self.cameras[key]


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(3,), (3,) metres, world (z up) → (4, 4) world_T_camera of an optical frame (x right,
    y down, z forward) at ``position`` looking at ``target``, level (x horizontal).

    Raises:
        ValueError: the camera looks straight up or down (no horizontal right direction).
    """
    forward = np.asarray(target, np.float64) - np.asarray(position, np.float64)
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:
        raise ValueError(f"look_at: a camera at {position} looking straight up or down at {target} has no level pose")
    right = right / np.linalg.norm(right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, np.cross(forward, right), forward], axis=1)
    T[:3, 3] = position
    return T


def load_calibration(path: str | os.PathLike[str], *, require_intrinsics: bool = True) -> Rig:
    """Read a calibration YAML file (format in this module's docstring).

    Args:
        require_intrinsics: False accepts cameras without intrinsics (pose only), for
            intrinsics from CameraInfo; their ``has_intrinsics`` is False.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming the file and the camera or key that is wrong.
    """
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list) or not data["cameras"]:
        raise ValueError(f"{path}: expected a mapping with a non-empty 'cameras' list")
    try:
        cameras = tuple(CameraCalibration.from_dict(c, require_intrinsics=require_intrinsics) for c in data["cameras"])
        return Rig(cameras=cameras, world_frame=str(data.get("world_frame", "world")))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def save_calibration(path: str | os.PathLike[str], rig: Rig | Sequence[CameraCalibration], world_frame: str = "world") -> None:
    """Write ``rig`` as a calibration YAML file that ``load_calibration`` reads back exactly."""
    if not isinstance(rig, Rig):
        rig = Rig(cameras=tuple(rig), world_frame=world_frame)
    data = {"world_frame": rig.world_frame, "cameras": [c.to_dict() for c in rig.cameras]}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False, default_flow_style=None)
