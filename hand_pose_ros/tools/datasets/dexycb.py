"""DexYCB sequences → a calibrated ``Rig``, images and MANO ground truth per instant.

Layout read (one sequence, DexYCB's own): ``<sequence>/meta.yml`` (``serials``,
``mano_sides``) and per camera serial ``<sequence>/<serial>/color_NNNNNN.jpg`` (640×480 RGB
as JPEG) with ``labels_NNNNNN.npz``: ``joint_3d`` (1, 21, 3) metres in THAT camera's colour
optical frame and ``joint_2d`` (1, 21, 2) px, both −1 where the hand is not labelled. The
joint order is MANO's, which is MediaPipe's index order (wrist, thumb CMC…tip, index MCP…tip,
…); the joints are MANO joints, not MediaPipe's skin keypoints (docs/datasets.md). Some
instants also have ``aligned_depth_to_color_NNNNNN.png`` (uint16 mm registered to the colour
image, 0 = none; the copy in ``../shared`` has every 6th): ``DexYCBFrame.depths``.

Calibration: the copy in ``../shared`` ships no intrinsics and an extrinsics file that does
not match the labels, so both come from the labels themselves (FIELD_NOTES 2026-12-01):
intrinsics by least squares of ``joint_2d = K · joint_3d / z`` per camera, camera → first
camera by Procrustes of ``joint_3d`` over the instants both label. World frame = the first
camera's (in ``meta.yml`` order) optical frame. No distortion (DexYCB's colour intrinsics
are pinhole).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import yaml

from hand_pose_ros.calibration import CameraCalibration, Rig
from hand_pose_ros.fusion.depth import depth_from_millimetres, read_depth_png
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness

__all__ = ["DexYCBFrame", "DexYCBSequence", "recover_intrinsics", "recover_extrinsics"]

# DexYCB marks an unlabelled hand with −1 in every coordinate.
_UNLABELLED = -1.0
# Fewer labelled instants than this leave Procrustes between two cameras ill-posed
# (21 joints each, so 1 instant is already 21 points; 2 guard against one bad fit).
_MIN_COMMON_INSTANTS = 2
_MANO_SIDES = {"right": Handedness.RIGHT, "left": Handedness.LEFT}


@dataclasses.dataclass(frozen=True)
class DexYCBFrame:
    """One instant of all cameras.

    Attributes:
        index: frame number in the sequence (the NNNNNN of the file names).
        images: V ``(480, 640, 3)`` uint8 RGB, rig order.
        joints_world: ``(21, 3)`` float64 metres, world (= first camera's optical) frame, MANO
            joints; NaN when no camera labels the hand.
        joints_2d: ``(V, 21, 2)`` float64 px, DexYCB's labels; NaN in views without a label.
        labelled: ``(V,)`` bool, the view labels the hand (a hand-view to find).
        handedness: the person's hand of the sequence.
        depths: V aligned depth maps ``(480, 640) float32`` metres (NaN = none), or None for a
            camera without a depth file at this instant.
    """

    index: int
    images: list[np.ndarray]
    joints_world: np.ndarray
    joints_2d: np.ndarray
    labelled: np.ndarray
    handedness: Handedness
    depths: list[np.ndarray | None] = dataclasses.field(default_factory=list)


def _labelled(joints: np.ndarray) -> np.ndarray:
    """(..., 21, D) label arrays → (...,) bool: labelled (not DexYCB's all −1)."""
    return ~np.all(joints == _UNLABELLED, axis=(-2, -1))


def recover_intrinsics(joint_3d: np.ndarray, joint_2d: np.ndarray) -> tuple[np.ndarray, float]:
    """(N, 21, 3) m camera frame, (N, 21, 2) px of labelled instants → (3, 3) K, max residual px.

    Least squares of u = fx·x/z + cx and v = fy·y/z + cy (zero skew) over every joint.
    """
    xyz = joint_3d.reshape(-1, 3).astype(np.float64)
    uv = joint_2d.reshape(-1, 2).astype(np.float64)
    if len(xyz) < 2:
        raise ValueError(f"recover_intrinsics: need labelled joints, got {len(xyz)}")
    normalised = xyz[:, :2] / xyz[:, 2:]  # (M, 2)
    K = np.eye(3)
    residual = 0.0
    for axis in (0, 1):
        design = np.column_stack([normalised[:, axis], np.ones(len(xyz))])  # (M, 2)
        (focal, centre), *_ = np.linalg.lstsq(design, uv[:, axis], rcond=None)
        K[axis, axis], K[axis, 2] = focal, centre
        residual = max(residual, float(np.abs(design @ [focal, centre] - uv[:, axis]).max()))
    return K, residual


def recover_extrinsics(points_camera: np.ndarray, points_reference: np.ndarray) -> tuple[np.ndarray, float]:
    """(M, 3), (M, 3) the same joints in a camera's and in the reference camera's frame, metres
    → (4, 4) reference_T_camera (rigid, Procrustes without scale), max residual metres."""
    mu_c, mu_r = points_camera.mean(0), points_reference.mean(0)
    u, _, vt = np.linalg.svd((points_reference - mu_r).T @ (points_camera - mu_c))  # (3, 3)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])  # a rotation, never a reflection
    R = u @ d @ vt
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, mu_r - R @ mu_c
    residual = float(np.linalg.norm(points_camera @ R.T + T[:3, 3] - points_reference, axis=1).max())
    return T, residual


class DexYCBSequence:
    """One DexYCB sequence folder: its cameras (``rig``) and instants (iterate ``frames``).

    Args:
        path: the sequence folder (holding ``meta.yml`` and one folder per camera serial).
        cameras: serials to use, in this order (default: all, ``meta.yml`` order); world is
            the first camera of ALL serials either way, so subsets share one world frame.
    Raises:
        FileNotFoundError: no ``meta.yml`` in ``path``.
        ValueError: a camera that no labelled instant shares with the first camera.
    """

    def __init__(self, path: str | os.PathLike[str], cameras: Sequence[str] | None = None) -> None:
        self.path = pathlib.Path(path)
        meta_path = self.path / "meta.yml"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: not a DexYCB sequence folder (no meta.yml)")
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        all_serials = [str(s) for s in meta["serials"]]
        self.handedness = _MANO_SIDES[meta["mano_sides"][0]]
        self.num_frames = int(meta["num_frames"])
        unknown = [s for s in (cameras or []) if s not in all_serials]
        if unknown:
            raise ValueError(f"{self.path}: cameras {unknown} not in meta.yml serials {all_serials}")
        # (C, T, 21, 3) m per camera frame and (C, T, 21, 2) px over ALL cameras (world is camera 0).
        joint_3d = np.zeros((len(all_serials), self.num_frames, NUM_KEYPOINTS, 3))
        joint_2d = np.zeros((len(all_serials), self.num_frames, NUM_KEYPOINTS, 2))
        for c, serial in enumerate(all_serials):
            for t in range(self.num_frames):
                with np.load(self.path / serial / f"labels_{t:06d}.npz") as labels:
                    joint_3d[c, t], joint_2d[c, t] = labels["joint_3d"][0], labels["joint_2d"][0]
        labelled = _labelled(joint_3d)  # (C, T)
        calibrations, self.intrinsics_residual_px, self.extrinsics_residual_m = [], {}, {}
        first = labelled[0]
        for c, serial in enumerate(all_serials):
            K, self.intrinsics_residual_px[serial] = recover_intrinsics(joint_3d[c, labelled[c]], joint_2d[c, labelled[c]])
            common = labelled[c] & first
            if common.sum() < _MIN_COMMON_INSTANTS:
                raise ValueError(f"{self.path}: camera {serial} labels the hand at {common.sum()} instants that "
                                 f"camera {all_serials[0]} also labels; need {_MIN_COMMON_INSTANTS} for its pose")
            world_T_camera, self.extrinsics_residual_m[serial] = recover_extrinsics(
                joint_3d[c, common].reshape(-1, 3), joint_3d[0, common].reshape(-1, 3))
            calibrations.append(CameraCalibration(
                name=serial, frame_id=f"camera_{serial}_color_optical_frame", width=640, height=480,
                camera_matrix=K, world_T_camera=world_T_camera))
        index = [all_serials.index(s) for s in (cameras or all_serials)]
        self.serials = [all_serials[i] for i in index]
        self.rig = Rig(cameras=tuple(calibrations[i] for i in index), world_frame=f"camera_{all_serials[0]}_color_optical_frame")
        # Ground truth in the world frame: each labelling camera's joints mapped there (they
        # agree to the extrinsics residual); the mean of them.
        world = np.stack([joint_3d[c] @ calibrations[c].world_T_camera[:3, :3].T + calibrations[c].world_T_camera[:3, 3]
                          for c in range(len(all_serials))])  # (C, T, 21, 3)
        world[~labelled] = np.nan
        with np.errstate(invalid="ignore"):
            self._world = np.nanmean(world, axis=0) if labelled.any() else world[0]  # (T, 21, 3)
        self._joint_2d = np.where(labelled[index][..., None, None], joint_2d[index], np.nan)  # (V, T, 21, 2)
        self._labelled = labelled[index]  # (V, T)

    def __len__(self) -> int:
        return self.num_frames

    def _depth_path(self, serial: str, t: int) -> pathlib.Path:
        return self.path / serial / f"aligned_depth_to_color_{t:06d}.png"

    def depth_indices(self) -> list[int]:
        """The instants at which every camera of this sequence has an aligned depth file."""
        return [t for t in range(self.num_frames) if all(self._depth_path(s, t).is_file() for s in self.serials)]

    def frames(self, indices: Sequence[int] | None = None) -> Iterator[DexYCBFrame]:
        """The instants ``indices`` (default all), images read lazily one instant at a time."""
        for t in range(self.num_frames) if indices is None else indices:
            images = []
            for serial in self.serials:
                bgr = cv2.imread(str(self.path / serial / f"color_{t:06d}.jpg"))
                if bgr is None:
                    raise FileNotFoundError(f"{self.path / serial}: color_{t:06d}.jpg missing or unreadable")
                images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            depths = []
            for serial in self.serials:
                path = self._depth_path(serial, t)
                depths.append(depth_from_millimetres(read_depth_png(path)) if path.is_file() else None)
            yield DexYCBFrame(index=t, images=images, joints_world=self._world[t], joints_2d=self._joint_2d[:, t],
                              labelled=self._labelled[:, t], handedness=self.handedness, depths=depths)
