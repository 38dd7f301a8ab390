"""Node parameters: the shipped file parses, defaults fill in, every problem is reported."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.calibration import CameraCalibration, Rig, save_calibration
from hand_pose_ros.tools.launch_spec import config_path
from hand_pose_ros.ros.startup import StartupError, load_config, rig_with_extrinsics
from hand_pose_ros.ros.params import COMPONENT_GROUPS, PARAMETER_DEFAULTS, NodeConfig, ParameterError, load_parameters_file


@pytest.fixture
def calibration_file(tmp_path):
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    rig = Rig(cameras=tuple(CameraCalibration(name=f"c{i}", frame_id=f"c{i}_optical", width=640, height=480, camera_matrix=K) for i in range(3)))
    path = tmp_path / "calibration.yaml"
    save_calibration(path, rig)
    return str(path)


def test_shipped_parameters_file_is_complete_and_known():
    flat = load_parameters_file(config_path("multiview.yaml"))
    unknown = [k for k in flat if k not in PARAMETER_DEFAULTS and not k.startswith(COMPONENT_GROUPS)]
    assert unknown == []
    assert flat["cameras.image_topics"] == [f"/cam{i}/image_raw" for i in range(4)]
    assert flat["detector.model"] == "full"


def test_defaults_and_derived_topics(calibration_file):
    config = NodeConfig.from_parameters(
        {"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a/image_raw", "/b/img", "/c/x/image"]},
        calibration_names=["c0", "c1", "c2"],
    )
    assert [c.name for c in config.cameras] == ["c0", "c1", "c2"]
    assert [c.camera_info_topic for c in config.cameras] == ["/a/camera_info", "/b/camera_info", "/c/x/camera_info"]
    assert config.sync.num_cameras == 3 and config.sync.slop == PARAMETER_DEFAULTS["sync.slop"]
    assert config.detector["backend"] == "onnxruntime" and config.detector["fallback"] == ["torch"]


def test_every_problem_is_reported_once(calibration_file):
    with pytest.raises(ParameterError) as info:
        NodeConfig.from_parameters(
            {
                "extrinsics.calibration_file": calibration_file,
                "cameras.image_topics": ["/a/image", "/b/image"],
                "cameras.names": ["c0", "nope"],
                "qos.reliability": "sometimes",
                "sync.queue_size": True,
                "sync.min_views": 5,
                "publish.diagnostics_period": 0.0,
                "typo.param": 1,
            },
            calibration_names=["c0", "c1", "c2"],
        )
    problems = info.value.problems
    text = "\n".join(problems)
    for expected in ("cameras.names: 'nope' is not in the calibration", "qos.reliability: expected one of best_effort, reliable",
                     "sync.queue_size: expected an integer, got True", "publish.diagnostics_period", "typo.param: unknown parameter"):
        assert sum(expected in p for p in problems) == 1, (expected, text)


def test_min_views_problem_names_the_field(calibration_file):
    with pytest.raises(ParameterError, match="sync.min_views: expected 1..2"):
        NodeConfig.from_parameters(
            {"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a/i", "/b/i"], "sync.min_views": 3}
        )


def test_load_config_checks_calibration_and_world_frame(calibration_file, tmp_path):
    params = {"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/x/i", "/y/i"], "cameras.names": ["c2", "c0"]}
    config, rig = load_config(params)
    assert rig.names == ["c2", "c0"]  # the node's order, not the file's
    try:
        import tf2_ros  # noqa: F401
    except ImportError:  # as here: 'tf' is refused with a reason, next to the other problems
        with pytest.raises(StartupError) as info:
            load_config({**params, "world_frame": "map", "extrinsics.source": "tf"})
        assert any(p.startswith("extrinsics.source: 'tf' needs tf2_ros") for p in info.value.problems)
        assert any("world frame" in p for p in info.value.problems)
    with pytest.raises(StartupError) as info:
        load_config({**params, "extrinsics.calibration_file": str(tmp_path / "missing.yaml")})
    assert any("no such file" in p for p in info.value.problems)
    with pytest.raises(StartupError, match="differs from the calibration's world frame"):
        load_config({**params, "world_frame": "map"})


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
