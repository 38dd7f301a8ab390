"""From parameters to a running pipeline: validated config, the rig, detector, fusion, mesh fitter.

ROS-free (the node calls it; tests use it without a node). Every problem found is
collected into one ``StartupError`` so the node stops with one message per problem.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from hand_pose_ros.calibration import Rig, load_calibration
from hand_pose_ros.ros.params import PARAMETER_DEFAULTS, NodeConfig, ParameterError, expand_path
from hand_pose_ros.ros.sync import implementation_problem

__all__ = ["StartupError", "Pipeline", "load_config", "build_pipeline", "rig_with_extrinsics"]


class StartupError(RuntimeError):
    """The node cannot start; ``problems`` holds one message per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


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
        from hand_pose_ros.detection import HandDetector, HandDetectorConfig

        detector = HandDetector(HandDetectorConfig(**config.detector))
    except (TypeError, ValueError, ImportError, OSError, RuntimeError) as exc:  # incl. a backend that cannot start
        problems.append(f"detector.*: {exc}")
    try:
        from hand_pose_ros.fusion import FusionConfig, MultiViewFusion, wrist_pose

        fusion = MultiViewFusion(rig, FusionConfig(**config.fusion))
    except (TypeError, ValueError, ImportError) as exc:
        problems.append(f"fusion.*: {exc}")
    try:
        from hand_pose_ros.mesh import HandMeshFitter, MeshFitterConfig

        mesh_config = MeshFitterConfig(**config.mesh)
        # Both hand models load here, so a missing MANO file stops start-up.
        mesh_fitter = HandMeshFitter(mesh_config) if mesh_config.model != "none" else None
    except (TypeError, ValueError, ImportError, OSError) as exc:  # ManoFileError is a ValueError
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
    if config is not None and implementation_problem(config.sync):
        problems.append(implementation_problem(config.sync))
    if config is not None and config.publish_tf:
        try:
            import tf2_ros  # noqa: F401
        except ImportError:
            problems.append("publish.tf: needs tf2_ros, which is not importable here; set it false")
    if problems or config is None or calibration is None:
        raise StartupError(problems or ["no calibration"])
    rig = Rig(cameras=tuple(calibration[c.name] for c in config.cameras), world_frame=calibration.world_frame)
    return config, rig
