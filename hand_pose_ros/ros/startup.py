"""From parameters to a running pipeline: validated config, the rig, the ``HandPosePipeline``.

ROS-free (the node calls it; tests use it without a node). Every problem found is
collected into one ``StartupError`` so the node stops with one message per problem.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from hand_pose_ros.calibration import Rig, load_calibration
from hand_pose_ros.detection.config import HandDetectorConfig
from hand_pose_ros.fusion.config import FusionConfig
from hand_pose_ros.mesh.config import MeshFitterConfig
from hand_pose_ros.pipeline import HandPosePipeline, PipelineBuildError, PipelineConfig
from hand_pose_ros.ros.params import PARAMETER_DEFAULTS, NodeConfig, ParameterError, expand_path

__all__ = ["StartupError", "load_config", "pipeline_config", "build_pipeline", "rig_with_extrinsics"]


class StartupError(RuntimeError):
    """The node cannot start; ``problems`` holds one message per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def pipeline_config(config: NodeConfig) -> PipelineConfig:
    """The components' typed configs from the node's ``detector.*``, ``fusion.*`` and ``mesh.*``
    parameter groups.

    Raises:
        StartupError: a group its component's config rejects (one line each).
    """
    problems: list[str] = []
    configs: dict[str, Any] = {}
    for group, config_type in (("detector", HandDetectorConfig), ("fusion", FusionConfig), ("mesh", MeshFitterConfig)):
        try:
            configs[group] = config_type(**getattr(config, group))
        except (TypeError, ValueError) as exc:  # TypeError: an unknown name in the group
            problems.append(f"{group}.*: {exc}")
    if problems:
        raise StartupError(problems)
    return PipelineConfig(**configs)


def build_pipeline(config: NodeConfig, rig: Rig) -> HandPosePipeline:
    """The node's pipeline (detector, fusion, mesh fitter), warmed up.

    Raises:
        StartupError: a component's settings rejected or a component that cannot start
            (missing weights, no backend, missing MANO file), one line each.
    """
    try:
        return HandPosePipeline.from_config(pipeline_config(config), rig)
    except PipelineBuildError as exc:
        raise StartupError(exc.problems) from exc


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


def load_config(params: dict[str, Any]) -> tuple[NodeConfig, Rig]:
    """Validate parameters and load the rig in the node's camera order.

    Raises:
        StartupError: every parameter problem, one line each.
    """
    merged = dict(PARAMETER_DEFAULTS)
    merged.update(params)
    calibration = None
    calibration_problem = ""
    # Intrinsics always come from the calibration file; with extrinsics.source 'tf' its
    # world_T_camera is replaced by TF's (rig_with_extrinsics, when the node starts).
    if merged["extrinsics.source"] in ("file", "tf"):
        path = expand_path(str(merged["extrinsics.calibration_file"]))
        try:
            calibration = load_calibration(path)
        except FileNotFoundError:
            pass  # reported by NodeConfig as a missing file
        except ValueError as exc:
            calibration_problem = f"extrinsics.calibration_file: {exc}"
    if merged["extrinsics.source"] == "tf":
        try:
            import tf2_ros  # noqa: F401
        except ImportError:
            calibration_problem = (
                "extrinsics.source: 'tf' needs tf2_ros, which is not importable here; use 'file' "
                "(the calibration YAML's world_T_camera)"
            )
    try:
        config = NodeConfig.from_parameters(params, calibration.names if calibration else None)
        problems = []
    except ParameterError as exc:
        config, problems = None, exc.problems
    if calibration_problem:
        problems.append(calibration_problem)
    if config is not None and calibration is not None and config.world_frame != calibration.world_frame:
        problems.append(
            f"world_frame: {config.world_frame!r} differs from the calibration's world frame {calibration.world_frame!r}"
        )
    if config is not None and config.publish_tf:
        try:
            import tf2_ros  # noqa: F401
        except ImportError:
            problems.append("publish.tf: needs tf2_ros, which is not importable here; set it false")
    if problems or config is None or calibration is None:
        raise StartupError(problems or ["no calibration"])
    rig = Rig(cameras=tuple(calibration[c.name] for c in config.cameras), world_frame=calibration.world_frame)
    return config, rig
