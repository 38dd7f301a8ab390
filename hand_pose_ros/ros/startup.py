"""From parameters to a running pipeline: validated config, the rig, the ``HandPosePipeline``.

ROS-free (the node calls it; tests use it without a node). Every problem found is
collected into one ``StartupError`` so the node stops with one message per problem;
``load_config`` (validation, calibration, rig) is ``hand_pose_ros.config``'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from hand_pose_ros.calibration import Rig
from hand_pose_ros.config import NodeConfig, StartupError, load_config
from hand_pose_ros.pipeline import HandPosePipeline, PipelineBuildError

__all__ = ["StartupError", "load_config", "build_pipeline", "rig_with_extrinsics", "start_up_rig", "START_UP_SIZE"]

# Image size (width, height) the detector is warmed up with for a camera whose intrinsics are
# still to come from CameraInfo: the common VGA of robot cameras (and of the bundled sample).
START_UP_SIZE = (640, 480)


def build_pipeline(config: NodeConfig, rig: Rig) -> HandPosePipeline:
    """The node's pipeline (detector, fusion, mesh fitter) from its typed config, warmed up.

    Raises:
        StartupError: a component that cannot start (missing weights, no backend, missing
            MANO file), one line each.
    """
    try:
        return HandPosePipeline.from_config(config, rig)
    except PipelineBuildError as exc:
        raise StartupError(exc.problems) from exc


def start_up_rig(rig: Rig) -> Rig:
    """``rig`` with a camera of ``START_UP_SIZE`` (K: 90° field of view, no distortion) in
    place of each camera without intrinsics: for building and warming up the pipeline only.
    The node holds such a camera's images out of sets until its CameraInfo has replaced it
    (``HandPosePipeline.set_rig``), so no result ever uses these intrinsics."""
    width, height = START_UP_SIZE
    K = np.array([[width / 2, 0.0, (width - 1) / 2], [0.0, width / 2, (height - 1) / 2], [0.0, 0.0, 1.0]])
    cameras = tuple(c if c.has_intrinsics else c.with_intrinsics(width, height, K, "none", np.zeros(0)) for c in rig.cameras)
    return Rig(cameras=cameras, world_frame=rig.world_frame)


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
