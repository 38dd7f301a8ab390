"""The node's configuration tree (``NodeConfig``) and its one loader. ROS-free.

The tree mirrors ``config/multiview.yaml``: each YAML section is a typed, frozen config
(``cameras``, ``intrinsics``, ``extrinsics``, ``qos``, ``sync``, ``detector``, ``guidance``,
``fusion``, ``mesh``, ``publish``) whose field names are the YAML keys; ROS parameters are the same keys dotted
(``sync.slop``). Defaults live only in those dataclasses, plus ``NODE_DEFAULTS``: the few
values where the node differs from a component's own default, each with its reason.

``load_config`` takes flat parameters (from the running node, a parameters file or
``--set key=value``), validates every value with the component configs' own checks
(``hand_pose_ros.checks``), loads the calibration and reports **every** problem in one
``StartupError`` (one line per problem, naming the dotted key).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from hand_pose_ros.calibration import Rig, load_calibration
from hand_pose_ros.checks import check_bool, check_choice, check_number, check_sequence, check_string
from hand_pose_ros.detection.config import GuidanceConfig, HandDetectorConfig
from hand_pose_ros.fusion.config import FusionConfig
from hand_pose_ros.handstate.config import HandStateConfig
from hand_pose_ros.mesh.config import MeshFitterConfig

__all__ = [
    "NODE_NAME",
    "NODE_DEFAULTS",
    "LIVE_PARAMETERS",
    "StartupError",
    "CameraInput",
    "CamerasConfig",
    "IntrinsicsConfig",
    "ExtrinsicsConfig",
    "QosConfig",
    "PublishConfig",
    "NodeConfig",
    "SECTIONS",
    "default_parameters",
    "parameter_descriptions",
    "config_from_parameters",
    "load_config",
    "live_update",
    "parse_overrides",
    "section_config",
    "flatten",
    "load_parameters_file",
    "expand_path",
]

NODE_NAME = "hand_pose_node"

# Where the node's defaults differ from a component's own (everything else: the dataclasses).
NODE_DEFAULTS: dict[str, Any] = {
    # OpenVINO fp32 (MediaPipe's own .tflite graphs) costs ≈ 8 % less CPU per crop than
    # onnxruntime (≈ 6 % less per set in process under load, within the noise at low load), in
    # interleaved pairs (docs/benchmarks.md, "Seventh round"); onnxruntime runs them ~1.8x
    # faster than torch. Both are optional installs: the node falls back to onnxruntime, then
    # to torch, which the project always has. HandDetectorConfig keeps torch so that a library
    # user gets the runtime that is always there.
    "detector.backend": "openvino",
    "detector.fallback": ("onnxruntime", "torch"),
}

# Parameters that may change while the node runs (validated, then applied by the node's
# on-set callback); every other one is read at start-up only and a change is refused.
LIVE_PARAMETERS = frozenset({
    "publish.markers",
    "publish.meshes",
    "publish.overlays",
    "publish.diagnostics_period",
    "publish.mesh_marker_rate_hz",
    "fusion.filter",
    "fusion.one_euro_min_cutoff_hz",
    "fusion.one_euro_beta",
    "fusion.one_euro_derivative_cutoff_hz",
})

# Parameters every rclpy node declares itself; not ours to validate.
ROS_BUILTIN_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})
# Fields that are not parameters: the loader fills them in.
DERIVED_FIELDS = {"sync.num_cameras": "set from the number of cameras.image_topics"}

# Markers vanish by themselves this long after their last update (a crashed node leaves no ghosts).
MARKER_LIFETIME_S = 1
EXTRINSICS_SOURCES = ("file", "tf")
INTRINSICS_SOURCES = ("camera_info", "file")
RELIABILITIES = ("best_effort", "reliable")
SYNC_IMPLEMENTATIONS = ("builtin", "message_filters")
MESSAGE_FILTERS_MISSING = (
    "sync.implementation: 'message_filters' needs ROS 2 message_filters, which is not importable "
    "here ({reason}); use 'builtin' (the same approximate-time semantics)"
)


MAX_DEPTH_WAIT_S = 0.1  # s; the frame interval of a 10 Hz camera


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyncConfig:
    """Synchroniser settings (``hand_pose_ros.ros.sync``).

    Attributes:
        num_cameras: N ≥ 1 streams, indexed 0..N-1 in the node's camera order.
        slop: seconds; the largest stamp difference inside one set.
        queue_size: messages kept per camera (oldest dropped first).
        min_views: cameras a partial set needs (1..N).
        partial_timeout: seconds a message waits for a full set before a partial one is
            tried; ``0`` disables partial sets.
        time_jump: seconds; a stamp this far before the camera's previous one means the
            source restarted (bag loop, simulation reset): the camera's stream starts afresh.
            Smaller steps back are refused as out-of-order messages.
        depth_wait: seconds the worker, starting a set, waits for the aligned depth of a camera
            whose depth stream is live but has not brought this set's yet (RealSense's aligned
            depth comes a few ms after its colour image). The default, one frame at 30 Hz, bounds
            what a late depth frame may add to latency; ``0``: a set never waits for depth.
        implementation: who decides full sets: ``builtin``
            (linear cost, tested) or ``message_filters`` (ROS 2's, where importable; a time
            jump rebuilds it so the new timeline is not evicted).
    """

    num_cameras: int
    slop: float = 0.01
    queue_size: int = 5
    min_views: int = 2
    partial_timeout: float = 0.1
    time_jump: float = 1.0
    depth_wait: float = 0.03
    implementation: str = "builtin"

    def __post_init__(self) -> None:
        name = "SyncConfig"
        check_number(f"{name}.num_cameras", self.num_cameras, integer=True, low=1)
        check_number(f"{name}.slop", self.slop, low=0.0, low_open=True)
        check_number(f"{name}.queue_size", self.queue_size, integer=True, low=1)
        # min_views above the camera count could never be met: partial sets would never go out.
        check_number(f"{name}.min_views", self.min_views, integer=True, low=1, high=self.num_cameras)
        check_number(f"{name}.partial_timeout", self.partial_timeout, low=0.0)
        check_number(f"{name}.time_jump", self.time_jump, low=self.slop, low_open=True)
        # Longer than a frame would make depth, not colour, set the pace: refused.
        check_number(f"{name}.depth_wait", self.depth_wait, low=0.0, high=MAX_DEPTH_WAIT_S)
        check_choice(f"{name}.implementation", self.implementation, SYNC_IMPLEMENTATIONS)


class StartupError(RuntimeError):
    """The node cannot start; ``problems`` holds one message per problem (``key: what``)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclasses.dataclass(frozen=True, kw_only=True)
class CameraInput:
    """One camera the node subscribes to (names and topics resolved)."""

    name: str
    image_topic: str
    camera_info_topic: str
    depth_topic: str = ""  # aligned depth (16UC1 mm / 32FC1 m); "" = none


def _per_camera(name: str, values: tuple[Any, ...], count: int) -> None:
    """``[""]`` (all defaults) or one string per camera."""
    check_sequence(name, values, check_string)
    if any(values) and len(values) != count:
        raise ValueError(f"{name}: expected [\"\"] or {count} entries (one per image topic), got {list(values)!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CamerasConfig:
    """The cameras, in the node's order (detector views, ``HandPoseArray.camera_*``).

    Attributes:
        image_topics: one image topic per camera (default: the bundled sample's 4 cameras).
        camera_info_topics: ``[""]``: each image topic's sibling ``camera_info``; else one per camera.
        names: ``[""]``: the calibration file's camera names, in its order; else one
            calibration camera name per image topic.
        depth_topics: ``[""]``: no depth; else one per camera, each a ``sensor_msgs/Image`` of
            depth registered to that camera's colour image (``16UC1`` mm or ``32FC1`` m, as
            RealSense's ``aligned_depth_to_color/image_raw``), ``""`` for a camera without.
        compressed: subscribe ``sensor_msgs/CompressedImage`` (JPEG/PNG) instead of ``Image``.
    """

    image_topics: tuple[str, ...] = tuple(f"/cam{i}/image_raw" for i in range(4))
    camera_info_topics: tuple[str, ...] = ("",)
    names: tuple[str, ...] = ("",)
    depth_topics: tuple[str, ...] = ("",)
    compressed: bool = False

    def __post_init__(self) -> None:
        name = "CamerasConfig"
        topics = check_sequence(f"{name}.image_topics", self.image_topics, lambda n, v: check_string(n, v, empty=False), nonempty=True)
        if len(set(topics)) != len(topics):
            raise ValueError(f"{name}.image_topics: expected one topic per camera, got duplicates in {list(topics)!r}")
        object.__setattr__(self, "image_topics", topics)
        for field in ("camera_info_topics", "names", "depth_topics"):
            values = check_sequence(f"{name}.{field}", getattr(self, field))
            _per_camera(f"{name}.{field}", values, len(topics))
            object.__setattr__(self, field, values)
        if any(self.names) and len(set(self.names)) != len(self.names):
            raise ValueError(f"{name}.names: expected unique names, got {list(self.names)!r}")
        check_bool(f"{name}.compressed", self.compressed)
        depths = [t for t in self.depth_topics if t]
        if len(set(depths)) != len(depths) or set(depths) & set(topics):
            raise ValueError(f"{name}.depth_topics: expected one topic per camera, distinct from the image topics, got {list(self.depth_topics)!r}")

    @property
    def inputs(self) -> tuple[CameraInput, ...]:
        """Each camera's name (``cam<i>`` where unnamed) and topics."""
        names = self.names if any(self.names) else ("",) * len(self.image_topics)
        infos = self.camera_info_topics if any(self.camera_info_topics) else ("",) * len(self.image_topics)
        depths = self.depth_topics if any(self.depth_topics) else ("",) * len(self.image_topics)
        return tuple(
            CameraInput(name=n or f"cam{i}", image_topic=t, camera_info_topic=c or _sibling_info_topic(t), depth_topic=d)
            for i, (n, t, c, d) in enumerate(zip(names, self.image_topics, infos, depths))
        )


def _sibling_info_topic(image_topic: str) -> str:
    """``/cam0/image_raw`` → ``/cam0/camera_info`` (image_transport's convention)."""
    head, _, _ = image_topic.rpartition("/")
    return f"{head}/camera_info"


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntrinsicsConfig:
    """Where each camera's K, distortion and image size come from.

    Attributes:
        source: ``camera_info`` (each camera's CameraInfo, as image_pipeline nodes do; a
            camera's images are held out of sets until its first CameraInfo, a changed one is
            applied between sets; the calibration file may then hold only name, frame_id and
            world_T_camera) or ``file`` (the calibration YAML's; CameraInfo is only compared with it).
    """

    source: str = "camera_info"

    def __post_init__(self) -> None:
        check_choice("IntrinsicsConfig.source", self.source, INTRINSICS_SOURCES)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExtrinsicsConfig:
    """Where the camera poses come from.

    Attributes:
        source: ``file`` (the calibration YAML's world_T_camera) or ``tf`` (poses from TF,
            looked up once at start-up; needs tf2_ros; intrinsics as ``intrinsics.source``).
        calibration_file: calibration YAML (``hand_pose_ros.calibration`` format);
            ``{cache}`` expands to the asset cache, ``~`` and ``$VARS`` too.
        tf_timeout: seconds to wait at start-up for TF's world <- camera transforms.
    """

    source: str = "file"
    calibration_file: str = "{cache}/sample/calibration.yaml"
    tf_timeout: float = 10.0

    def __post_init__(self) -> None:
        check_choice("ExtrinsicsConfig.source", self.source, EXTRINSICS_SOURCES)
        check_string("ExtrinsicsConfig.calibration_file", self.calibration_file, empty=False)
        check_number("ExtrinsicsConfig.tf_timeout", self.tf_timeout, low=0.0, low_open=True)

    @property
    def calibration_path(self) -> str:
        return expand_path(self.calibration_file)


@dataclasses.dataclass(frozen=True, kw_only=True)
class QosConfig:
    """The image and camera_info subscriptions' QoS.

    Attributes:
        reliability: ``best_effort`` (SensorDataQoS-compatible) or ``reliable``.
        depth: history depth per subscription (messages).
    """

    reliability: str = "best_effort"
    depth: int = 5

    def __post_init__(self) -> None:
        check_choice("QosConfig.reliability", self.reliability, RELIABILITIES)
        check_number("QosConfig.depth", self.depth, integer=True, low=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PublishConfig:
    """Optional outputs.

    Attributes:
        markers: ``hands/markers`` (MarkerArray; with the mesh when mesh.model is not none).
        meshes: ``hands/meshes`` (HandMeshArray) when mesh.model is not none.
        overlays: ``hands/debug/<camera>/image_raw``: the detector's keypoints drawn on each view.
        tf: world → ``<hand>_wrist_<id>`` transforms (needs tf2_ros).
        diagnostics_period: seconds between ``/diagnostics`` messages.
        mesh_marker_rate_hz: most mesh markers per second in ``hands/markers`` (0: every set);
            at least 1 otherwise, since a marker lives 1 s. The skeleton markers keep the
            input rate.
    """

    markers: bool = True
    meshes: bool = True
    overlays: bool = False
    tf: bool = False
    diagnostics_period: float = 1.0
    # RViz needs no 30 Hz mesh: ~7,000 points per hand per marker are most of the marker bytes.
    mesh_marker_rate_hz: float = 10.0

    def __post_init__(self) -> None:
        for field in ("markers", "meshes", "overlays", "tf"):
            check_bool(f"PublishConfig.{field}", getattr(self, field))
        check_number("PublishConfig.diagnostics_period", self.diagnostics_period, low=0.0, low_open=True)
        check_number("PublishConfig.mesh_marker_rate_hz", self.mesh_marker_rate_hz, low=0.0)
        if 0 < self.mesh_marker_rate_hz < 1 / MARKER_LIFETIME_S:
            raise ValueError(
                f"PublishConfig.mesh_marker_rate_hz: expected 0 (every set) or at least {1 / MARKER_LIFETIME_S:g} Hz "
                f"(a marker lives {MARKER_LIFETIME_S:g} s), got {self.mesh_marker_rate_hz!r}"
            )


# YAML section → its config class, in the file's order.
SECTIONS: dict[str, type] = {
    "cameras": CamerasConfig,
    "intrinsics": IntrinsicsConfig,
    "extrinsics": ExtrinsicsConfig,
    "qos": QosConfig,
    "sync": SyncConfig,
    "detector": HandDetectorConfig,
    "guidance": GuidanceConfig,
    "fusion": FusionConfig,
    "mesh": MeshFitterConfig,
    "hand_state": HandStateConfig,
    "publish": PublishConfig,
}


def _default_sync() -> SyncConfig:
    return SyncConfig(num_cameras=len(CamerasConfig().image_topics))


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """Every setting of ``hand_pose_node`` (see ``config/multiview.yaml``, docs/node.md).

    Attributes:
        world_frame: frame_id of the outputs; must equal the calibration's world frame.
    """

    world_frame: str = "world"
    cameras: CamerasConfig = dataclasses.field(default_factory=CamerasConfig)
    intrinsics: IntrinsicsConfig = dataclasses.field(default_factory=IntrinsicsConfig)
    extrinsics: ExtrinsicsConfig = dataclasses.field(default_factory=ExtrinsicsConfig)
    qos: QosConfig = dataclasses.field(default_factory=QosConfig)
    sync: SyncConfig = dataclasses.field(default_factory=_default_sync)
    detector: HandDetectorConfig = dataclasses.field(default_factory=HandDetectorConfig)
    guidance: GuidanceConfig = dataclasses.field(default_factory=GuidanceConfig)
    fusion: FusionConfig = dataclasses.field(default_factory=FusionConfig)
    mesh: MeshFitterConfig = dataclasses.field(default_factory=MeshFitterConfig)
    hand_state: HandStateConfig = dataclasses.field(default_factory=HandStateConfig)
    publish: PublishConfig = dataclasses.field(default_factory=PublishConfig)

    def __post_init__(self) -> None:
        check_string("NodeConfig.world_frame", self.world_frame, empty=False)
        if self.sync.num_cameras != len(self.cameras.image_topics):
            raise ValueError(
                f"NodeConfig.sync: num_cameras {self.sync.num_cameras} differs from the "
                f"{len(self.cameras.image_topics)} cameras.image_topics"
            )


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()  # type: ignore[misc]


def default_parameters() -> dict[str, Any]:
    """Every parameter's default, dotted name → value: the dataclasses' own, then ``NODE_DEFAULTS``."""
    out: dict[str, Any] = {"world_frame": _field_default(next(f for f in dataclasses.fields(NodeConfig) if f.name == "world_frame"))}
    for section, cls in SECTIONS.items():
        for field in dataclasses.fields(cls):
            key = f"{section}.{field.name}"
            if key not in DERIVED_FIELDS:
                out[key] = _field_default(field)
    out.update(NODE_DEFAULTS)
    return out


# "name: text" entries of a Google-style "Attributes:" block; "a, b, c: text" documents several.
_ATTRIBUTE = re.compile(r"^ {8}(\w+(?:, \w+)*): (.*)$")


def parameter_descriptions() -> dict[str, str]:
    """Dotted name → the one-paragraph description from its config class's ``Attributes:``
    docstring (so ROS's parameter descriptors and the docs say the same thing)."""
    out: dict[str, str] = {}
    classes = {"": NodeConfig, **{f"{s}.": c for s, c in SECTIONS.items()}}
    for prefix, cls in classes.items():
        doc = (cls.__doc__ or "").split("Attributes:", 1)[-1]
        names: list[str] = []
        for line in doc.splitlines():
            match = _ATTRIBUTE.match(line)
            if match:
                names = match.group(1).split(", ")
                for name in names:
                    out[prefix + name] = match.group(2).strip()
            elif line.startswith(" " * 12) and names:
                for name in names:
                    out[prefix + name] += " " + line.strip()
            else:
                names = []
    return {k: out.get(k, "") for k in default_parameters()}


# A component error "Class.field: ..." or "Class.field[i]: ...".
_FIELD_ERROR = re.compile(r"^(\w+)\.(\w+)(\[\d+\])?: ")


def _build_section(section: str, cls: type, values: Mapping[str, Any], problems: list[str], **derived: Any) -> Any:
    """``cls`` from the ``section.*`` values, or None when it refuses any of them. Every field
    it refuses is reported (as ``section.field: ...``) and retried with its default, so one
    pass finds all of them."""
    given = {f.name: values[f"{section}.{f.name}"] for f in dataclasses.fields(cls) if f"{section}.{f.name}" in values}
    refused = False
    while True:
        try:
            config = cls(**derived, **given)
            return None if refused else config
        except ValueError as exc:
            refused = True
            text = str(exc)
            match = _FIELD_ERROR.match(text)
            if match is None or match.group(1) != cls.__name__:
                problems.append(f"{section}: {text}")
                return None
            problems.append(f"{section}.{text[len(cls.__name__) + 1:]}")
            if match.group(2) not in given:  # a default or derived value refused: nothing to drop
                return None
            del given[match.group(2)]


def _with_defaults(params: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    values = default_parameters()
    for key, value in params.items():
        if key in ROS_BUILTIN_PARAMETERS:
            continue
        if key in DERIVED_FIELDS:
            problems.append(f"{key}: not a parameter ({DERIVED_FIELDS[key]})")
        elif key not in values:
            problems.append(f"{key}: unknown parameter (the known ones are listed in config/multiview.yaml and docs/node.md)")
        else:
            values[key] = value
    return values


def _build(values: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """Each section built from ``values`` (None where refused), problems appended."""
    built: dict[str, Any] = {}
    try:
        check_string("world_frame", values["world_frame"], empty=False)
        built["world_frame"] = values["world_frame"]
    except ValueError as exc:
        problems.append(str(exc))
        built["world_frame"] = None
    for section, cls in SECTIONS.items():
        derived = {}
        if cls is SyncConfig:  # min_views is checked against the number of cameras
            topics = values["cameras.image_topics"]
            derived["num_cameras"] = len(topics) if isinstance(topics, (list, tuple)) and topics else len(CamerasConfig().image_topics)
        built[section] = _build_section(section, cls, values, problems, **derived)
    return built


def config_from_parameters(params: Mapping[str, Any]) -> NodeConfig:
    """``NodeConfig`` from flat dotted parameters (missing ones take their defaults), without
    the calibration checks of ``load_config``.

    Raises:
        StartupError: every unknown name and refused value, one line each.
    """
    problems: list[str] = []
    built = _build(_with_defaults(params, problems), problems)
    if problems:
        raise StartupError(problems)
    return NodeConfig(**built)


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def load_config(params: Mapping[str, Any]) -> tuple[NodeConfig, Rig]:
    """Validate flat parameters, load the calibration and return the config (camera names and
    camera_info topics resolved) with the rig in the node's camera order.

    Checks, all in one pass: unknown names, every value (type, range, choice), the
    calibration file (present, valid), camera names against it, the world frame against
    its world frame, and tf2_ros where ``extrinsics.source: tf`` or ``publish.tf`` need it.
    With ``intrinsics.source: camera_info`` the file's cameras may lack intrinsics (the rig's
    ``has_intrinsics`` False until the node has their CameraInfo).

    Raises:
        StartupError: listing every problem, one line each, each naming its dotted key.
    """
    problems: list[str] = []
    built = _build(_with_defaults(params, problems), problems)
    extrinsics: ExtrinsicsConfig | None = built["extrinsics"]
    intrinsics: IntrinsicsConfig | None = built["intrinsics"]
    calibration = None
    if extrinsics is not None and intrinsics is not None:
        path = extrinsics.calibration_path
        if not os.path.isfile(path):
            problems.append(f"extrinsics.calibration_file: no such file {path!r}")
        else:
            try:
                calibration = load_calibration(path, require_intrinsics=intrinsics.source == "file")
            except (OSError, ValueError) as exc:
                problems.append(f"extrinsics.calibration_file: {exc}")
    tf_available = _importable("tf2_ros")
    if extrinsics is not None and extrinsics.source == "tf" and not tf_available:
        problems.append(
            "extrinsics.source: 'tf' needs tf2_ros, which is not importable here; use 'file' "
            "(the calibration YAML's world_T_camera)"
        )
    if built["publish"] is not None and built["publish"].tf and not tf_available:
        problems.append("publish.tf: needs tf2_ros, which is not importable here; set it false")
    if built["sync"] is not None and built["sync"].implementation == "message_filters" and not _importable("message_filters"):
        problems.append(MESSAGE_FILTERS_MISSING.format(reason="no module named 'message_filters'"))
    cameras: CamerasConfig | None = built["cameras"]
    if calibration is not None and cameras is not None:
        built["cameras"] = cameras = _resolve_names(cameras, calibration.names, problems)
    if calibration is not None and built["world_frame"] is not None and built["world_frame"] != calibration.world_frame:
        problems.append(
            f"world_frame: {built['world_frame']!r} differs from the calibration's world frame {calibration.world_frame!r}"
        )
    if problems:
        raise StartupError(problems)
    assert calibration is not None and cameras is not None  # else a problem was recorded
    config = NodeConfig(**built)
    rig = Rig(cameras=tuple(calibration[c.name] for c in cameras.inputs), world_frame=calibration.world_frame)
    return config, rig


def _resolve_names(cameras: CamerasConfig, calibration_names: Sequence[str], problems: list[str]) -> CamerasConfig | None:
    """``cameras`` with the calibration's names filled in where ``names`` is ``[""]``."""
    count = len(cameras.image_topics)
    if not any(cameras.names):
        if len(calibration_names) != count:
            problems.append(
                f"cameras.image_topics: {count} topics but the calibration has {len(calibration_names)} "
                f"cameras {list(calibration_names)}; set cameras.names to pick them"
            )
            return None
        return dataclasses.replace(cameras, names=tuple(calibration_names))
    unknown = [n for n in cameras.names if n not in calibration_names]
    for name in unknown:
        problems.append(f"cameras.names: {name!r} is not in the calibration (cameras: {list(calibration_names)})")
    return None if unknown else cameras


def live_update(config: NodeConfig, params: Mapping[str, Any], changes: Mapping[str, Any]) -> NodeConfig:
    """``config`` with ``changes`` (dotted name → new value) applied, when all of them may
    change at run time (``LIVE_PARAMETERS``) and are valid.

    Args:
        params: every current parameter value (the changes are applied over them).

    Raises:
        StartupError: one line per refused change: a start-up-only parameter (with the
            reason) or a value its config refuses.
    """
    problems = [
        f"{name}: read at start-up; restart the node to change {name}"
        for name in changes
        if name not in LIVE_PARAMETERS and name not in ROS_BUILTIN_PARAMETERS
    ]
    if problems:
        raise StartupError(problems)
    new = config_from_parameters({**params, **changes})
    return dataclasses.replace(config, publish=new.publish, fusion=new.fusion)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["sync.slop=0.02", "detector.fallback=[torch]"]`` → dotted name → value, each value
    read as YAML (as ``--ros-args -p`` does: ``true`` is a bool, ``[a, b]`` a list).

    Raises:
        ValueError: an item without ``=`` or with an empty name.
    """
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set: expected KEY=VALUE (e.g. sync.slop=0.02), got {item!r}")
        try:
            out[name.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise ValueError(f"--set {item!r}: the value is not valid YAML ({exc})") from None
    return out


def section_config(section: str, params: Mapping[str, Any]) -> Any:
    """One section's config (``"detector"`` → ``HandDetectorConfig``) from ``section.field``
    parameters (the rest at their dataclass defaults), for tools that build one component.

    Raises:
        StartupError: every name outside the section and every refused value, one line each.
    """
    cls = SECTIONS[section]
    fields = {f"{section}.{f.name}" for f in dataclasses.fields(cls)}
    problems = [f"{key}: not a setting of {section} (one of {sorted(fields)})" for key in params if key not in fields]
    config = _build_section(section, cls, params, problems)
    if problems:
        raise StartupError(problems)
    return config


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML sections → dotted names (``{sync: {slop: x}}`` → ``{"sync.slop": x}``)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


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
            flat.update(flatten(entry["ros__parameters"]))
    if not found:
        raise ValueError(f"{path}: no '{node_name}: ros__parameters:' (or '/**') section")
    return flat


def expand_path(path: str) -> str:
    """Expand ``{cache}`` (the asset cache directory), ``~`` and environment variables."""
    from hand_pose_ros.assets import cache_dir

    return os.path.expandvars(os.path.expanduser(path.replace("{cache}", str(cache_dir()))))
