"""From parameters to a running pipeline: validated config, the rig, detector, fusion, mesh fitter.

ROS-free (the node calls it; tests use it without a node). Every problem found is
collected into one ``StartupError`` so the node stops with one message per problem;
``load_config`` (validation, calibration, rig) is ``hand_pose_ros.config``'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hand_pose_ros.calibration import Rig
from hand_pose_ros.config import NodeConfig, StartupError, load_config

__all__ = ["StartupError", "Pipeline", "load_config", "build_pipeline", "rig_with_extrinsics"]


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """The ROS-free components the node runs, in data-flow order."""

    detector: Any  # hand_pose_ros.detection.HandDetector
    fusion: Any  # hand_pose_ros.fusion.MultiViewFusion
    wrist_pose: Callable[..., Any]  # hand_pose_ros.fusion.wrist_pose
    mesh_fitter: Any | None  # hand_pose_ros.mesh.HandMeshFitter; None when mesh.model is none


def build_pipeline(config: NodeConfig, rig: Rig) -> Pipeline:
    """The detector, the fusion (with its ``wrist_pose``) and the mesh fitter, from the node's
    parameter groups.

    Raises:
        StartupError: a component missing or rejecting its settings (one line each).
    """
    problems: list[str] = []
    detector = fusion = wrist_pose = mesh_fitter = None
    try:
        from hand_pose_ros.detection import HandDetector

        detector = HandDetector(config.detector)
    except (ValueError, ImportError, OSError, RuntimeError) as exc:  # incl. a backend that cannot start
        problems.append(f"detector.*: {exc}")
    try:
        from hand_pose_ros.fusion import MultiViewFusion, wrist_pose

        fusion = MultiViewFusion(rig, config.fusion)
    except (ValueError, ImportError) as exc:
        problems.append(f"fusion.*: {exc}")
    try:
        from hand_pose_ros.mesh import HandMeshFitter

        # Both hand models load here, so a missing MANO file stops start-up.
        mesh_fitter = HandMeshFitter(config.mesh) if config.mesh.model != "none" else None
    except (ValueError, ImportError, OSError) as exc:  # ManoFileError is a ValueError
        problems.append(f"mesh.*: {exc}")
    if problems:
        raise StartupError(problems)
    return Pipeline(detector=detector, fusion=fusion, wrist_pose=wrist_pose, mesh_fitter=mesh_fitter)


def rig_with_extrinsics(rig: Rig, lookup: Callable[[str, str], Any]) -> Rig:
    """``rig`` with each camera's world_T_camera from ``lookup(world_frame, camera_frame_id)``.

    Args:
        lookup: returns the (4, 4) transform camera optical frame → world, or None when unknown.

    Raises:
        StartupError: one line per camera whose transform is unknown.
    """
    cameras, missing = [], []
    for camera in rig.cameras:
        transform = lookup(rig.world_frame, camera.frame_id)
        if transform is None:
            missing.append(f"extrinsics: no transform {rig.world_frame} <- {camera.frame_id} (camera {camera.name!r})")
            continue
        cameras.append(dataclasses.replace(camera, world_T_camera=transform))
    if missing:
        raise StartupError(missing)
    return Rig(cameras=tuple(cameras), world_frame=rig.world_frame)
