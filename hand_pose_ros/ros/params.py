"""The node's parameters: one commented defaults table, validation, and the configs they make.

ROS parameters are flat dotted names (a nested YAML ``sync: {slop: ...}`` becomes
``sync.slop``). ``NodeConfig.from_parameters`` takes such a flat mapping, from the running
node or from a parameters file (``load_parameters_file``), and reports *every* problem at
once in a ``ParameterError`` (one line per problem) so start-up stops with a clear message.
The detector's, fusion's and mesh fitter's own configs are built from the ``detector.*``,
``fusion.*`` and ``mesh.*`` groups (``startup.build_pipeline``); their errors join the same list.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import yaml

from hand_pose_ros.ros.sync import SyncConfig

__all__ = [
    "NODE_NAME",
    "PARAMETER_DEFAULTS",
    "ParameterError",
    "CameraInput",
    "NodeConfig",
    "load_parameters_file",
    "expand_path",
]

NODE_NAME = "hand_pose_node"
# Parameters every rclpy node declares itself; not ours to validate.
ROS_BUILTIN_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})

# The defaults, in one place (config/multiview.yaml repeats them with the sample's values).
PARAMETER_DEFAULTS: dict[str, Any] = {
    "world_frame": "world",  # frame_id of /hands/pose; must match the calibration's world frame
    # Cameras in the node's order (the order of detector views and HandPoseArray.camera_*).
    "cameras.image_topics": [f"/cam{i}/image_raw" for i in range(4)],  # the bundled sample's rig
    "cameras.camera_info_topics": [""],  # "" → sibling "camera_info" of each image topic
    "cameras.names": [""],  # "" → the calibration file's camera names, in order
    "cameras.compressed": False,  # subscribe sensor_msgs/CompressedImage (JPEG/PNG) instead
    "extrinsics.source": "file",  # file | tf (camera poses from TF, intrinsics from the file)
    "extrinsics.calibration_file": "{cache}/sample/calibration.yaml",  # {cache}: the asset cache
    "extrinsics.tf_timeout": 10.0,  # s to wait at start-up for TF's world <- camera transforms
    "qos.reliability": "best_effort",  # best_effort (SensorDataQoS) | reliable
    "qos.depth": 5,  # subscription history depth per camera
    "sync.slop": 0.010,  # s: largest stamp difference within one set (cameras at 30 Hz: 33 ms apart)
    "sync.queue_size": 5,  # messages kept per camera while waiting for a set
    "sync.min_views": 2,  # cameras a partial set needs (2 = still triangulable)
    "sync.partial_timeout": 0.1,  # s a message waits for a full set before a partial one
    "sync.time_jump": 1.0,  # s back in time that means a restarted source (bag loop): reset
    # builtin (linear cost, tested) | message_filters (ROS 2's ApproximateTimeSynchronizer, if importable)
    "sync.implementation": "builtin",
    # onnxruntime runs the networks ~1.8x faster than torch on a CPU; torch if it cannot start.
    "detector.backend": "onnxruntime",
    "detector.fallback": ["torch"],
    "detector.device": "cpu",
    "detector.precision": "fp32",
    "detector.model": "full",  # full | lite
    "detector.max_hands": 2,
    "detector.tracking": True,
    "mesh.model": "webxr",  # none | webxr | mano (MeshFitterConfig; mano needs mesh.mano_dir)
    "publish.markers": True,  # /hands/markers (MarkerArray; with the mesh when mesh.model is not none)
    "publish.meshes": True,  # /hands/meshes (HandMeshArray) when mesh.model is not none
    "publish.overlays": False,  # /hands/debug/<camera>/image_raw: keypoints drawn on each view
    "publish.tf": False,  # world→<hand>_wrist transforms (needs tf2_ros)
    "publish.diagnostics_period": 1.0,  # s between /diagnostics messages
}

EXTRINSICS_SOURCES = ("file", "tf")
# Parameter groups passed whole to a component's own config dataclass (which validates them).
COMPONENT_GROUPS = ("detector.", "fusion.", "mesh.")
RELIABILITIES = ("best_effort", "reliable")


class ParameterError(ValueError):
    """Invalid node parameters; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid parameters:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclasses.dataclass(frozen=True, kw_only=True)
class CameraInput:
    """One camera the node subscribes to."""

    name: str
    image_topic: str
    camera_info_topic: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """The node's validated settings (detector/fusion/mesh groups kept raw for their own configs)."""

    world_frame: str
    cameras: tuple[CameraInput, ...]
    compressed: bool
    extrinsics_source: str
    tf_timeout: float
    calibration_file: str
    reliability: str
    qos_depth: int
    sync: SyncConfig
    detector: dict[str, Any]
    fusion: dict[str, Any]
    mesh: dict[str, Any]
    publish_markers: bool
    publish_meshes: bool
    publish_overlays: bool
    publish_tf: bool
    diagnostics_period: float

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any], calibration_names: list[str] | None = None) -> "NodeConfig":
        """Validate flat parameters (defaults filled in) into a NodeConfig.

        Args:
            params: dotted name → value; unknown names outside the component groups are errors.
            calibration_names: camera names of the calibration file, when already loaded,
                to fill in and check ``cameras.names``.

        Raises:
            ParameterError: listing every problem found.
        """
        problems: list[str] = []
        p = dict(PARAMETER_DEFAULTS)
        p.update({k: v for k, v in params.items() if k not in ROS_BUILTIN_PARAMETERS})
        for name in params:
            if name in ROS_BUILTIN_PARAMETERS:
                continue
            if name not in PARAMETER_DEFAULTS and not name.startswith(COMPONENT_GROUPS):
                problems.append(f"{name}: unknown parameter (the known ones are listed in config/multiview.yaml)")

        def typed(name: str, kind: type | tuple[type, ...], what: str) -> Any:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            value = p[name]
            # bool is an int subclass: `true` is not a queue size.
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                problems.append(f"{name}: expected {what}, got {value!r}")
                return PARAMETER_DEFAULTS[name]
            return value

        def choice(name: str, choices: tuple[str, ...]) -> str:
            value = typed(name, str, "a string")
            if value not in choices:
                problems.append(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
            return value

        world_frame = typed("world_frame", str, "a frame id")
        if not world_frame:
            problems.append("world_frame: must not be empty")
        image_topics = [str(t) for t in typed("cameras.image_topics", (list, tuple), "a list of topics")]
        if not image_topics or not all(image_topics):
            problems.append(f"cameras.image_topics: expected a non-empty list of topic names, got {image_topics!r}")
        if len(set(image_topics)) != len(image_topics):
            problems.append(f"cameras.image_topics: each camera needs its own topic, got {image_topics!r}")
        info_topics = _per_camera(typed("cameras.camera_info_topics", (list, tuple), "a list"), len(image_topics), "cameras.camera_info_topics", problems)
        names = _per_camera(typed("cameras.names", (list, tuple), "a list"), len(image_topics), "cameras.names", problems)
        if calibration_names is not None:
            if not any(names) and len(calibration_names) != len(image_topics):
                problems.append(
                    f"cameras.image_topics: {len(image_topics)} topics but the calibration has "
                    f"{len(calibration_names)} cameras {calibration_names}; set cameras.names to pick them"
                )
            elif not any(names):
                names = list(calibration_names)
            for name in names:
                if name and name not in calibration_names:
                    problems.append(f"cameras.names: {name!r} is not in the calibration (cameras: {calibration_names})")
        names = [n or f"cam{i}" for i, n in enumerate(names)]
        if len(set(names)) != len(names):
            problems.append(f"cameras.names: names must be unique, got {names}")
        cameras = tuple(
            CameraInput(name=n, image_topic=t, camera_info_topic=i or _sibling_info_topic(t))
            for n, t, i in zip(names, image_topics, info_topics)
        )
        extrinsics = choice("extrinsics.source", EXTRINSICS_SOURCES)
        calibration_file = expand_path(typed("extrinsics.calibration_file", str, "a path"))
        if not os.path.isfile(calibration_file):
            problems.append(f"extrinsics.calibration_file: no such file {calibration_file!r}")
        tf_timeout = float(typed("extrinsics.tf_timeout", (int, float), "seconds"))
        if tf_timeout <= 0:
            problems.append(f"extrinsics.tf_timeout: expected seconds > 0, got {tf_timeout}")
        reliability = choice("qos.reliability", RELIABILITIES)
        depth = typed("qos.depth", int, "an integer")
        if depth < 1:
            problems.append(f"qos.depth: expected >= 1, got {depth}")
        sync = None
        try:
            sync = SyncConfig(
                num_cameras=max(1, len(cameras)),
                slop=float(typed("sync.slop", (int, float), "seconds")),
                queue_size=typed("sync.queue_size", int, "an integer"),
                min_views=typed("sync.min_views", int, "an integer"),
                partial_timeout=float(typed("sync.partial_timeout", (int, float), "seconds")),
                time_jump=float(typed("sync.time_jump", (int, float), "seconds")),
                implementation=typed("sync.implementation", str, "a string"),
            )
        except ValueError as exc:
            problems.append(f"sync.{exc}")
        period = float(typed("publish.diagnostics_period", (int, float), "seconds"))
        if period <= 0:
            problems.append(f"publish.diagnostics_period: expected seconds > 0, got {period}")
        flags = {name: typed(f"publish.{name}", bool, "true or false") for name in ("markers", "meshes", "overlays", "tf")}
        compressed = typed("cameras.compressed", bool, "true or false")
        if problems:
            raise ParameterError(problems)
        assert sync is not None  # set whenever no problem was recorded
        return cls(
            world_frame=world_frame,
            cameras=cameras,
            compressed=compressed,
            extrinsics_source=extrinsics,
            tf_timeout=tf_timeout,
            calibration_file=calibration_file,
            reliability=reliability,
            qos_depth=depth,
            sync=sync,
            detector=_group(p, "detector."),
            fusion=_group(p, "fusion."),
            mesh=_group(p, "mesh."),
            publish_markers=flags["markers"],
            publish_meshes=flags["meshes"],
            publish_overlays=flags["overlays"],
            publish_tf=flags["tf"],
            diagnostics_period=period,
        )


def _group(params: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def _per_camera(values: list[Any] | tuple[Any, ...], count: int, name: str, problems: list[str]) -> list[str]:
    """A per-camera list: ``[""]`` (or empty) means all defaults; otherwise one entry per camera."""
    values = [str(v) for v in values]
    if not any(values):
        return [""] * count
    if len(values) != count:
        problems.append(f"{name}: expected {count} entries (one per image topic), got {len(values)}")
        return [""] * count
    return values


def _sibling_info_topic(image_topic: str) -> str:
    """``/cam0/image_raw`` → ``/cam0/camera_info`` (image_transport's convention)."""
    head, _, _ = image_topic.rpartition("/")
    return f"{head}/camera_info"


def expand_path(path: str) -> str:
    """Expand ``{cache}`` (the asset cache directory), ``~`` and environment variables."""
    from hand_pose_ros.assets import cache_dir

    return os.path.expandvars(os.path.expanduser(path.replace("{cache}", str(cache_dir()))))


def load_parameters_file(path: str | os.PathLike[str], node_name: str = NODE_NAME) -> dict[str, Any]:
    """The flat parameters a ROS 2 ``--params-file`` gives ``node_name`` (``/**`` entries included).

    Raises:
        ValueError: the file is not a ROS 2 parameters file or has no entry for the node.
    """
    data = yaml.safe_load(pathlib.Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a ROS 2 parameters file (mapping of node name → ros__parameters)")
    flat: dict[str, Any] = {}
    found = False
    for key in ("/**", node_name, f"/{node_name}"):
        entry = data.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("ros__parameters"), dict):
            found = True
            _flatten(entry["ros__parameters"], "", flat)
    if not found:
        raise ValueError(f"{path}: no '{node_name}: ros__parameters:' (or '/**') section")
    return flat


def _flatten(tree: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in tree.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[f"{prefix}{key}"] = value
