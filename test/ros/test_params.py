"""The node's parameters on a real node: declared with descriptors; a start-up-only one refused
with the reason, live ones validated and applied — in-process and over the parameter services
from another process. Also the TF rig helper and transform conversion."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from hand_pose_ros.calibration import Rig
from hand_pose_ros.ros.startup import StartupError, load_config, rig_with_extrinsics

pytestmark = pytest.mark.ros

SERVICE_TIMEOUT_S = 120  # bounded wait for discovery of the node's parameter services
GRAPH_TIMEOUT_S = 10  # bounded wait for the ROS graph to show a publisher created or destroyed


@pytest.fixture(scope="module")
def node():
    """HandPoseNode in this process (its own rclpy context), spinning in a background thread."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from hand_pose_ros.ros.node import HandPoseNode

    context = rclpy.Context()
    # torch: always installed; the backend is not what these tests are about.
    rclpy.init(args=["--ros-args", "-p", "detector.backend:=torch", "-p", "mesh.model:=none"], context=context)
    hand_pose_node = HandPoseNode(context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(hand_pose_node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield hand_pose_node
    finally:
        executor.shutdown()
        hand_pose_node.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(5)


def _set(node, name, value):
    from rclpy.parameter import Parameter

    (result,) = node.set_parameters([Parameter(name, value=value)])
    return result


def test_parameters_are_declared_with_descriptions(node):
    from hand_pose_ros.config import default_parameters

    names = set(node.get_parameters_by_prefix(""))
    assert set(default_parameters()) <= names
    slop = node.describe_parameter("sync.slop")
    assert "stamp difference" in slop.description and "read at start-up" in slop.description and slop.dynamic_typing
    assert "may change while the node runs" in node.describe_parameter("publish.overlays").description
    assert node.get_parameter("detector.backend").value == "torch"  # the override, kept on re-declaring


def test_start_up_only_parameter_is_refused_with_the_reason(node):
    result = _set(node, "sync.slop", 0.02)
    assert not result.successful
    assert result.reason == "sync.slop: read at start-up; restart the node to change sync.slop"
    assert node.get_parameter("sync.slop").value == pytest.approx(0.01) and node.config.sync.slop == pytest.approx(0.01)


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("publish.diagnostics_period", 0.0, "publish.diagnostics_period: expected a finite number > 0.0, got 0.0"),
        ("publish.overlays", "yes", "publish.overlays: expected true or false, got 'yes'"),
        ("fusion.one_euro_beta", float("nan"), "fusion.one_euro_beta: expected a finite number >= 0.0, got nan"),
        ("fusion.filter", "kalman", "fusion.filter: expected one of ['one_euro_predictive', 'one_euro', 'none'], got 'kalman'"),
    ],
)
def test_bad_live_value_is_refused_naming_the_key(node, name, value, reason):
    before = node.config
    result = _set(node, name, value)
    assert not result.successful and result.reason == reason
    assert node.config is before


def _publishers(node, topic, count):
    """Whether the graph shows ``count`` publishers on ``topic`` (its cache follows a change late)."""
    from hand_pose_ros.tools.harness import wait_until

    return wait_until(lambda: node.count_publishers(topic) == count, GRAPH_TIMEOUT_S)


def test_live_parameters_are_applied(node):
    assert _set(node, "publish.overlays", True).successful
    assert node.config.publish.overlays and len(node._overlay_pubs) == len(node.rig)
    assert _publishers(node, "/hands/debug/cam0/image_raw", 1)
    assert _set(node, "publish.overlays", False).successful
    assert node._overlay_pubs is None and _publishers(node, "/hands/debug/cam0/image_raw", 0)
    assert _set(node, "publish.markers", False).successful and node._marker_pub is None
    assert _publishers(node, "/hands/markers", 0)
    assert _set(node, "publish.markers", True).successful and _publishers(node, "/hands/markers", 1)
    assert _set(node, "fusion.one_euro_beta", 5.0).successful
    assert node._pipeline.fusion.config.one_euro_beta == 5.0 == node._pipeline.fusion.tracker.config.one_euro_beta
    assert _set(node, "publish.diagnostics_period", 0.25).successful
    assert node._diagnostics_timer.timer_period_ns == 250_000_000


_CLIENT = """
import json, sys
import rclpy
from rclpy.parameter import Parameter
from rcl_interfaces.srv import SetParameters

rclpy.init()
node = rclpy.create_node("hand_pose_param_client")
client = node.create_client(SetParameters, "/hand_pose_node/set_parameters")
if not client.wait_for_service(timeout_sec=float(sys.argv[1])):
    sys.exit("no /hand_pose_node/set_parameters service")
changes = [("sync.slop", 0.02), ("fusion.refine_iterations", 2), ("publish.meshes", "no"), ("fusion.filter", "none")]
request = SetParameters.Request(parameters=[Parameter(n, value=v).to_parameter_msg() for n, v in changes])
future = client.call_async(request)
rclpy.spin_until_future_complete(node, future, timeout_sec=float(sys.argv[1]))
print(json.dumps([[r.successful, r.reason] for r in future.result().results]))
"""


def test_set_parameters_service_from_another_process(node, ros_env):
    out = subprocess.run([sys.executable, "-c", _CLIENT, str(SERVICE_TIMEOUT_S)], env=ros_env, capture_output=True, text=True,
                         timeout=3 * SERVICE_TIMEOUT_S)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert results == [
        [False, "sync.slop: read at start-up; restart the node to change sync.slop"],
        [False, "fusion.refine_iterations: read at start-up; restart the node to change fusion.refine_iterations"],
        [False, "publish.meshes: expected true or false, got 'no'"],
        [True, ""],
    ]
    assert node.config.fusion.filter == "none" == node._pipeline.fusion.config.filter


def test_load_config_is_the_config_module_s(calibration_file):
    from hand_pose_ros import config

    assert load_config is config.load_config and StartupError is config.StartupError
    _, rig = load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/x/i", "/y/i"],
                          "cameras.names": ["c2", "c0"]})
    assert rig.names == ["c2", "c0"]


def test_tf_extrinsics_replace_the_file_poses_and_name_every_missing_camera(calibration_file):
    config, rig = load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a/i", "/b/i", "/c/i"]})
    pose = np.eye(4)
    pose[:3, 3] = (0.1, -0.2, 0.9)
    known = {("world", "c0_optical"): pose, ("world", "c2_optical"): np.eye(4)}
    posed = rig_with_extrinsics(Rig(cameras=rig.cameras[::2], world_frame="world"), lambda w, f: known.get((w, f)))
    np.testing.assert_array_equal(posed["c0"].world_T_camera, pose)
    np.testing.assert_array_equal(posed["c0"].camera_matrix, rig["c0"].camera_matrix)  # intrinsics kept
    with pytest.raises(StartupError) as info:
        rig_with_extrinsics(rig, lambda w, f: known.get((w, f)))
    assert info.value.problems == ["extrinsics: no transform world <- c1_optical (camera 'c1')"]


def test_transform_message_to_matrix():
    from geometry_msgs.msg import Transform

    from hand_pose_ros.ros.conversions import matrix_to_pose, transform_to_matrix

    angle = 0.7
    msg = Transform()
    msg.translation.x, msg.translation.y, msg.translation.z = 1.0, 2.0, 3.0
    msg.rotation.z, msg.rotation.w = np.sin(angle / 2), np.cos(angle / 2)
    T = transform_to_matrix(msg)
    np.testing.assert_allclose(T[:3, :3], [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(T[:3, 3], [1, 2, 3])
    pose = matrix_to_pose(T)  # and back, through the inverse helper
    np.testing.assert_allclose([pose.orientation.z, pose.orientation.w], [msg.rotation.z, msg.rotation.w], atol=1e-12)
