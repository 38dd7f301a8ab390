"""What starts the node: package, executable, parameters file, remappings — plain data.

``launch/multiview.launch.py`` (standard ROS 2 launch) and ``hand-pose-ros run`` both build
their node from ``node_spec``, so the two cannot drift apart (test/tools/test_launch_spec.py).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import sys

from hand_pose_ros.config import NODE_NAME

__all__ = [
    "PACKAGE",
    "EXECUTABLE",
    "LIFECYCLE_EXECUTABLE",
    "DEFAULT_PARAMS_FILE",
    "RVIZ_CONFIG",
    "FASTDDS_PROFILE",
    "NodeSpec",
    "node_spec",
    "config_path",
    "node_command",
    "ros_environment",
    "LOCALHOST_PROFILE",
]

PACKAGE = "hand_pose_ros"
EXECUTABLE = NODE_NAME  # console script (pip) and lib/hand_pose_ros/hand_pose_node (colcon)
LIFECYCLE_EXECUTABLE = "hand_pose_lifecycle_node"  # the managed node (ros.lifecycle_node), same layout
# Each executable's module, run with ``python -m`` where the console script is not installed.
_MODULES = {EXECUTABLE: "hand_pose_ros.ros.node", LIFECYCLE_EXECUTABLE: "hand_pose_ros.ros.lifecycle_node"}
DEFAULT_PARAMS_FILE = "multiview.yaml"
RVIZ_CONFIG = "multiview.rviz"
FASTDDS_PROFILE = "fastdds_shm_8mib.xml"
# The shipped profile with UDP on loopback only: for the tests and benchmarks (``localhost=True``).
LOCALHOST_PROFILE = pathlib.Path(__file__).resolve().parent / "fastdds_shm_8mib_localhost.xml"


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    namespace: str
    parameters: tuple[str, ...]  # parameter files, in order
    remappings: tuple[tuple[str, str], ...]
    overrides: tuple[tuple[str, object], ...]  # single parameters given on the command line


def config_path(name: str) -> pathlib.Path:
    """A file of the package's ``config/``: the source checkout's when running from one
    (editable installs: edits apply at once), else the installed ``share/hand_pose_ros``."""
    checkout = pathlib.Path(__file__).resolve().parents[2] / "config" / name
    if checkout.exists():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory

        return pathlib.Path(get_package_share_directory(PACKAGE)) / "config" / name
    except (ImportError, LookupError, OSError):  # no ament index or package: say where it was looked for
        return checkout


def node_spec(
    params_file: str | os.PathLike[str] | None = None,
    namespace: str = "",
    backend: str = "",
    remappings: tuple[tuple[str, str], ...] = (),
    overrides: tuple[tuple[str, object], ...] = (),
    managed: bool = False,
) -> NodeSpec:
    """The node as both the launch file and ``hand-pose-ros run`` start it.

    Args:
        params_file: a ROS 2 parameters file; default ``config/multiview.yaml``.
        namespace: ROS namespace of the node (and its relative output topics).
        backend: override ``detector.backend`` when not empty.
        remappings: extra ``(from, to)`` topic remappings.
        overrides: single parameters set after the file (e.g. ``("publish.overlays", True)``).
        managed: the lifecycle node (``hand_pose_lifecycle_node``, starts unconfigured).
    """
    overrides = ((("detector.backend", backend),) if backend else ()) + tuple(overrides)
    return NodeSpec(
        package=PACKAGE,
        executable=LIFECYCLE_EXECUTABLE if managed else EXECUTABLE,
        name=NODE_NAME,
        namespace=namespace,
        parameters=(str(params_file or config_path(DEFAULT_PARAMS_FILE)),),
        remappings=tuple(remappings),
        overrides=overrides,
    )


def node_command(spec: NodeSpec) -> list[str]:
    """The command line ``ros2 run``/launch would execute for ``spec``."""
    exe = shutil.which(spec.executable, path=os.pathsep.join([str(pathlib.Path(sys.executable).parent), os.environ.get("PATH", "")]))
    cmd = [exe] if exe else [sys.executable, "-m", _MODULES[spec.executable]]
    cmd += ["--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        cmd += ["-r", f"__ns:={spec.namespace if spec.namespace.startswith('/') else '/' + spec.namespace}"]
    for path in spec.parameters:
        cmd += ["--params-file", path]
    for name, value in spec.overrides:
        cmd += ["-p", f"{name}:={_param_text(value)}"]
    for src, dst in spec.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    return cmd


def ros_environment(base: dict[str, str] | None = None, *, localhost: bool = False) -> dict[str, str]:
    """``base`` (default os.environ) plus this project's DDS settings where not set already.

    The Fast DDS profile with an 8 MiB shared-memory segment (the default 512 KiB loses
    best-effort 640×480 images, FIELD_NOTES) and UDP to other hosts; discovery as ROS 2's
    defaults and the environment say. ``localhost`` (tests, benchmarks): discovery and UDP
    confined to this machine (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, ``LOCALHOST_PROFILE``).
    """
    env = dict(os.environ if base is None else base)
    if localhost:
        env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(LOCALHOST_PROFILE))
    env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(config_path(FASTDDS_PROFILE)))
    return env


def _param_text(value: object) -> str:
    """A parameter value as ``--ros-args -p`` parses it (YAML): booleans lower-case, lists in brackets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_param_text(v) for v in value) + "]"
    return str(value)
