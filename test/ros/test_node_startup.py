"""Start-up refusal: invalid parameters stop the node with one message per problem, exit 2."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
import yaml

from hand_pose_ros.tools.launch_spec import node_command, node_spec

pytestmark = pytest.mark.ros

START_TIMEOUT_S = 120  # bounded: the node must refuse long before this


def test_invalid_parameters_stop_startup_with_one_line_per_problem(tmp_path, ros_env):
    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump({"hand_pose_node": {"ros__parameters": {
        "qos": {"reliability": "sometimes"},
        "sync": {"min_views": 9},
        "extrinsics": {"calibration_file": str(tmp_path / "missing.yaml")},
        "publish": {"markers": "yes"},
        "bogus": 3,
    }}}))
    out = subprocess.run(node_command(node_spec(params_file=params)), env=ros_env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert out.returncode == 2
    lines = [line for line in (out.stdout + out.stderr).splitlines() if "invalid configuration:" in line]
    expected = ["qos.reliability", "sync.min_views", "extrinsics.calibration_file: no such file", "publish.markers", "bogus: unknown parameter"]
    for text in expected:
        assert sum(text in line for line in lines) == 1, (text, lines)
    assert len(lines) == len(expected)


def test_issue_bad_values_stop_startup_naming_each_key(ros_env):
    """Values that used to start cleanly (and failed on every set) stop start-up, one line each."""
    bad = {"fusion.refine_iterations": "1.5", "fusion.monocular": '"no"', "sync.queue_size": "2.5", "sync.partial_timeout": ".nan"}
    command = node_command(node_spec())
    for name, text in bad.items():
        command += ["-p", f"{name}:={text}"]
    out = subprocess.run(command, env=ros_env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert out.returncode == 2
    lines = [line for line in (out.stdout + out.stderr).splitlines() if "invalid configuration:" in line]
    for name in bad:
        assert sum(f"invalid configuration: {name}: expected" in line for line in lines) == 1, (name, lines)
    assert len(lines) == len(bad), lines
@pytest.mark.skipif(importlib.util.find_spec("message_filters") is not None, reason="message_filters is importable here")
def test_message_filters_requested_where_missing_stops_startup_with_the_reason(tmp_path, ros_env):
    from hand_pose_ros.assets import sample_dir

    params = tmp_path / "mf.yaml"
    params.write_text(yaml.safe_dump({"hand_pose_node": {"ros__parameters": {
        "extrinsics": {"calibration_file": str(sample_dir() / "calibration.yaml")},
        "sync": {"implementation": "message_filters"},
    }}}))
    out = subprocess.run(node_command(node_spec(params_file=params)), env=ros_env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert out.returncode == 2
    lines = [line for line in (out.stdout + out.stderr).splitlines() if "invalid configuration:" in line]
    assert len(lines) == 1 and "sync.implementation: 'message_filters' needs ROS 2 message_filters" in lines[0], lines


_SIGINT_AFTER_EXECUTOR = """
import os, signal, time
from hand_pose_ros.ros.node import make_executor
executor = make_executor()
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(1.0)
    print("SIGINT swallowed", type(executor).__name__)
except KeyboardInterrupt:
    print("KeyboardInterrupt", type(executor).__name__)
"""


def test_the_nodes_executor_leaves_ctrl_c_to_python(ros_env):
    """Ctrl-C must reach ``main`` as KeyboardInterrupt (the worker stops before the context):
    the events executor's own SIGINT handler, which shuts the context down at once, is undone."""
    out = subprocess.run([sys.executable, "-c", _SIGINT_AFTER_EXECUTOR], env=ros_env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["KeyboardInterrupt", "EventsExecutor"], out.stdout + out.stderr
