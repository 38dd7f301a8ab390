"""The launch file and ``hand-pose-ros run`` start the same executable, parameters, remappings.

ROS 2 ``launch``/``launch_ros`` cannot be installed here (FIELD_NOTES), so the launch file is
executed against small recording stand-ins for the handful of launch classes it uses; what
it passes to ``launch_ros.actions.Node`` is then compared with run's command line.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
import types

import pytest

from hand_pose_ros.ros.topics import POSE_TOPIC
from hand_pose_ros.tools.launch_spec import FASTDDS_PROFILE, LOCALHOST_PROFILE, config_path, node_command, node_spec, ros_environment


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration(_Recorded):
    def perform(self, context):
        return context[self.args[0]]


@pytest.fixture
def launch_file(monkeypatch, repo_root):
    """Import launch/multiview.launch.py with recording launch modules."""
    names = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument", "OpaqueFunction", "SetEnvironmentVariable"],
        "launch.conditions": ["IfCondition"],
        "launch.substitutions": ["EnvironmentVariable", "LaunchConfiguration"],
        "launch_ros": [],
        "launch_ros.actions": ["Node"],
    }
    for module_name, classes in names.items():
        module = types.ModuleType(module_name)
        for cls in classes:
            setattr(module, cls, _LaunchConfiguration if cls == "LaunchConfiguration" else type(cls, (_Recorded,), {}))
        monkeypatch.setitem(sys.modules, module_name, module)
    spec = importlib.util.spec_from_file_location("multiview_launch", repo_root / "launch" / "multiview.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launch_node(launch_file, **arguments):
    description = launch_file.generate_launch_description()
    actions = description.args[0]
    declared = {a.args[0]: a.kwargs["default_value"] for a in actions if type(a).__name__ == "DeclareLaunchArgument"}
    assert set(declared) == {"config", "namespace", "backend", "use_rviz"}
    context = {**declared, **arguments}
    opaque = next(a for a in actions if type(a).__name__ == "OpaqueFunction")
    (node,) = opaque.kwargs["function"](context)
    return node.kwargs


def _run_command(*args):
    out = subprocess.run(
        [sys.executable, "-m", "hand_pose_ros.tools.cli", "run", "--print-command", *args],
        check=True, capture_output=True, text=True,
    )
    return shlex.split(out.stdout.strip())


def _option_values(cmd, option):
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == option]


@pytest.mark.parametrize("namespace, backend", [("", ""), ("lab", "onnx")])
def test_launch_and_run_start_the_same_node(launch_file, tmp_path, namespace, backend):
    params = str(tmp_path / "my_params.yaml")
    node = _launch_node(launch_file, config=params, namespace=namespace, backend=backend)
    cmd = _run_command("--params", params, "--namespace", namespace, *(["--set", f"detector.backend={backend}"] if backend else []))

    assert node["package"] == "hand_pose_ros"
    assert os.path.basename(cmd[0]) == node["executable"] == "hand_pose_node"
    files = [p for p in node["parameters"] if isinstance(p, str)]
    assert files == _option_values(cmd, "--params-file") == [params]
    overrides = {k: v for p in node["parameters"] if isinstance(p, dict) for k, v in p.items()}
    assert [f"{k}:={v}" for k, v in overrides.items()] == _option_values(cmd, "-p")
    assert ("detector.backend" in overrides) == bool(backend)
    remaps = [f"{a}:={b}" for a, b in node["remappings"]]
    cmd_remaps = _option_values(cmd, "-r")
    assert f"__node:={node['name']}" in cmd_remaps
    assert [r for r in cmd_remaps if not r.startswith("__")] == remaps
    assert (f"__ns:=/{namespace}" in cmd_remaps) == bool(namespace) and node["namespace"] == namespace


def test_default_parameters_file_is_the_shipped_one(launch_file):
    node = _launch_node(launch_file)
    assert node["parameters"][0] == str(config_path("multiview.yaml"))
    assert _option_values(_run_command(), "--params-file") == [node["parameters"][0]]


def test_remappings_reach_the_command_line():
    cmd = node_command(node_spec(remappings=((POSE_TOPIC, "/out/pose"),)))
    assert f"{POSE_TOPIC}:=/out/pose" in _option_values(cmd, "-r")


def test_ros_environment_keeps_user_settings_and_fills_the_rest():
    env = ros_environment({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"})
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(config_path(FASTDDS_PROFILE))
    assert config_path(FASTDDS_PROFILE).is_file()
    assert "ROS_AUTOMATIC_DISCOVERY_RANGE" not in ros_environment({})  # ROS 2's default range


def test_only_the_localhost_environment_confines_dds_to_this_machine():
    env = ros_environment({}, localhost=True)
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(LOCALHOST_PROFILE)
    assert "127.0.0.1" in LOCALHOST_PROFILE.read_text()
    assert ros_environment({"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"}, localhost=True)["FASTDDS_DEFAULT_PROFILES_FILE"] == "/mine.xml"


def test_the_shipped_dds_profile_keeps_a_large_shm_segment_and_udp_to_other_hosts():
    import xml.etree.ElementTree as ET

    ns = {"d": "http://www.eprosima.com"}
    root = ET.parse(config_path(FASTDDS_PROFILE)).getroot()
    transports = {t.findtext("d:transport_id", namespaces=ns): t for t in root.iter(f"{{{ns['d']}}}transport_descriptor")}
    kinds = {t.findtext("d:type", namespaces=ns): t for t in transports.values()}
    assert int(kinds["SHM"].findtext("d:segment_size", namespaces=ns)) >= 640 * 480 * 3
    assert "UDPv4" in kinds
    for transport in transports.values():  # no whitelist, no loopback-only interface
        assert transport.find("d:interfaceWhiteList", namespaces=ns) is None and transport.find("d:interfaces", namespaces=ns) is None
    used = [e.text for e in root.iter(f"{{{ns['d']}}}transport_id") if e.text in transports]
    assert {"SHM", "UDPv4"} <= {transports[u].findtext("d:type", namespaces=ns) for u in used}
    assert "127.0.0.1" not in config_path(FASTDDS_PROFILE).read_text()
    launch = (config_path("multiview.yaml").parent.parent / "launch" / "multiview.launch.py").read_text()
    assert "LOCALHOST" not in launch
