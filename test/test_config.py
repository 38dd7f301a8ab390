"""The configuration tree: defaults in one place, the shipped file equals them, every bad
value refused naming its key, every problem reported in one pass, --set parsing, live changes."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import pathlib
import re

import numpy as np
import pytest

from hand_pose_ros import config as cfg
from hand_pose_ros.checks import check_bool, check_choice, check_number, check_sequence
from hand_pose_ros.detection.config import HandDetectorConfig
from hand_pose_ros.tools.launch_spec import config_path

HAS_TF2 = importlib.util.find_spec("tf2_ros") is not None
# Defaults a ROS 2 parameters file cannot hold (rcl refuses empty lists, reads null as "null").
NOT_IN_A_PARAMETERS_FILE = {"detector.num_threads", "fusion.fill_missing", "mesh.mano_dir"}


def _as_yaml(value):
    return list(value) if isinstance(value, tuple) else value


def test_shipped_parameters_file_equals_the_defaults_plus_the_node_table():
    flat = cfg.load_parameters_file(config_path("multiview.yaml"))
    defaults = cfg.default_parameters()
    assert set(flat) == set(defaults) - NOT_IN_A_PARAMETERS_FILE
    assert {k: v for k, v in flat.items() if v != _as_yaml(defaults[k])} == {}
    for key in NOT_IN_A_PARAMETERS_FILE:  # still listed, commented out, with the default
        assert re.search(rf"^\s*# {key.split('.')[1]}: ", config_path("multiview.yaml").read_text(), re.M), key
    # The node table is where the node differs; HandDetectorConfig keeps its own default.
    assert flat["detector.backend"] == "openvino" != HandDetectorConfig().backend


def test_defaults_come_from_the_dataclasses_and_every_one_is_described():
    defaults = cfg.default_parameters()
    assert defaults["sync.slop"] == cfg.NodeConfig().sync.slop
    assert defaults["fusion.refine_iterations"] == 1 and "sync.num_cameras" not in defaults
    assert set(cfg.NODE_DEFAULTS) <= set(defaults)
    descriptions = cfg.parameter_descriptions()
    assert [k for k, v in descriptions.items() if not v] == []
    assert "Huber" in descriptions["fusion.huber_px"]


def test_every_parameter_is_documented_in_docs_node_md():
    text = (pathlib.Path(__file__).parents[1] / "docs" / "node.md").read_text(encoding="utf-8")
    missing = [k for k in cfg.default_parameters() if f"`{k}`" not in text]
    assert missing == []


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("fusion.refine_iterations", 1.5, "fusion.refine_iterations: expected an integer >= 0, got 1.5"),
        ("fusion.monocular", "no", "fusion.monocular: expected true or false, got 'no'"),
        ("sync.queue_size", 2.5, "sync.queue_size: expected an integer >= 1, got 2.5"),
        ("sync.partial_timeout", math.nan, "sync.partial_timeout: expected a finite number >= 0.0, got nan"),
        ("sync.slop", math.inf, "sync.slop: expected a finite number > 0.0, got inf"),
        ("qos.depth", True, "qos.depth: expected an integer >= 1, got True"),
        ("publish.markers", "yes", "publish.markers: expected true or false, got 'yes'"),
        ("detector.fallback", ["torch", "cudnn"], "detector.fallback[1]: expected one of"),
        ("mesh.scale_range", [0.7], "mesh.scale_range: expected a list of 2 items"),
        ("hand_state.pinch_off_strength", 0.9, "hand_state.pinch_off_strength: expected less than pinch_on_strength"),
        ("hand_state.thumb_curl_range_deg", [20.0], "hand_state.thumb_curl_range_deg: expected a list of 2 items"),
        ("cameras.image_topics", "/cam0/image_raw", "cameras.image_topics: expected a list"),
        ("world_frame", "", "world_frame: expected a non-empty string"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(calibration_file, key, value, expected):
    with pytest.raises(cfg.StartupError) as info:
        cfg.load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a", "/b", "/c"], key: value})
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.problems[0].startswith(expected), info.value.problems


def test_every_problem_is_reported_in_one_pass(tmp_path):
    bad_calibration = tmp_path / "bad.yaml"
    bad_calibration.write_text("not: a calibration\n")
    with pytest.raises(cfg.StartupError) as info:
        cfg.load_config({
            "extrinsics.calibration_file": str(bad_calibration),
            "extrinsics.source": "tf",
            "fusion.refine_iterations": 1.5,
            "fusion.monocular": "no",
            "sync.queue_size": 2.5,
            "sync.min_views": 9,
            "qos.reliability": "sometimes",
            "typo.param": 1,
            "sync.num_cameras": 3,
        })
    problems = info.value.problems
    expected = ["extrinsics.calibration_file: ", "fusion.refine_iterations: ", "fusion.monocular: ", "sync.queue_size: ",
                "sync.min_views: expected an integer in [1, 4]", "qos.reliability: expected one of", "typo.param: unknown parameter",
                "sync.num_cameras: not a parameter"]
    if not HAS_TF2:  # as here: tf2_ros is not installable; reported beside the calibration problem
        expected.append("extrinsics.source: 'tf' needs tf2_ros")
    for text in expected:
        assert sum(p.startswith(text) for p in problems) == 1, (text, problems)
    assert len(problems) == len(expected), problems


def test_load_config_resolves_cameras_and_checks_the_calibration(calibration_file, tmp_path):
    config, rig = cfg.load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/x/i", "/y/image_raw"],
                                   "cameras.names": ["c2", "c0"]})
    assert rig.names == ["c2", "c0"]  # the node's order, not the file's
    assert [c.camera_info_topic for c in config.cameras.inputs] == ["/x/camera_info", "/y/camera_info"]
    assert config.sync.num_cameras == 2 and isinstance(config.detector, HandDetectorConfig)
    config, rig = cfg.load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a", "/b", "/c"]})
    assert config.cameras.names == ("c0", "c1", "c2") == tuple(rig.names)
    with pytest.raises(cfg.StartupError) as info:
        cfg.load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a", "/b"],
                         "cameras.names": ["c0", "nope"], "world_frame": "map"})
    assert sorted(p.split(":")[0] for p in info.value.problems) == ["cameras.names", "world_frame"]
    with pytest.raises(cfg.StartupError, match="cameras.image_topics: 2 topics but the calibration has 3"):
        cfg.load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a", "/b"]})
    with pytest.raises(cfg.StartupError, match="no such file"):
        cfg.load_config({"extrinsics.calibration_file": str(tmp_path / "missing.yaml")})


def test_ros_lists_become_tuples(calibration_file):
    import array

    config, _ = cfg.load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a", "/b", "/c"],
                                 "mesh.scale_range": array.array("d", [0.8, 1.2]), "detector.fallback": ["torch"],
                                 "fusion.fill_missing": ["previous_frame"]})
    assert config.mesh.scale_range == (0.8, 1.2)
    assert config.detector.fallback == ("torch",) and config.fusion.fill_missing == ("previous_frame",)
    curls, _ = cfg.load_config({"extrinsics.calibration_file": calibration_file, "cameras.image_topics": ["/a", "/b", "/c"],
                                "hand_state.finger_curl_range_deg": array.array("d", [10.0, 200.0])})
    assert curls.hand_state.finger_curl_range_deg == (10.0, 200.0)


def test_parse_overrides_reads_values_as_yaml():
    assert cfg.parse_overrides(["sync.slop=0.02", "publish.tf=false", "detector.fallback=[torch, onnxruntime]",
                                "world_frame=map", "cameras.names="]) == {
        "sync.slop": 0.02, "publish.tf": False, "detector.fallback": ["torch", "onnxruntime"], "world_frame": "map",
        "cameras.names": ""}
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        cfg.parse_overrides(["sync.slop"])


def test_section_config_builds_one_component_from_settings():
    assert cfg.section_config("detector", {"detector.model": "lite"}).model == "lite"
    with pytest.raises(cfg.StartupError) as info:
        cfg.section_config("fusion", {"fusion.refine_iterations": 1.5, "detector.model": "lite"})
    assert [p.split(":")[0] for p in info.value.problems] == ["detector.model", "fusion.refine_iterations"]
    with pytest.raises(cfg.StartupError) as info:  # a field's own problem, then the cross-field one
        cfg.section_config("mesh", {"mesh.model": "mano", "mesh.cold_iterations": 0.5})
    assert [p.split(":")[0] for p in info.value.problems] == ["mesh.cold_iterations", "mesh.mano_dir"]


def test_live_update_applies_live_parameters_and_refuses_the_others():
    config = cfg.NodeConfig()
    params = cfg.default_parameters()
    new = cfg.live_update(config, params, {"publish.overlays": True, "fusion.one_euro_beta": 5.0})
    assert new.publish.overlays and new.fusion.one_euro_beta == 5.0 and new.sync == config.sync
    with pytest.raises(cfg.StartupError) as info:
        cfg.live_update(config, params, {"sync.slop": 0.02})
    assert info.value.problems == ["sync.slop: read at start-up; restart the node to change sync.slop"]
    with pytest.raises(cfg.StartupError, match="publish.diagnostics_period: expected a finite number > 0.0, got -1"):
        cfg.live_update(config, params, {"publish.diagnostics_period": -1})


def test_node_config_checks_its_sync_against_the_cameras():
    with pytest.raises(ValueError, match="NodeConfig.sync: num_cameras 4 differs"):
        cfg.NodeConfig(cameras=cfg.CamerasConfig(image_topics=("/a", "/b")))
    assert dataclasses.replace(cfg.NodeConfig(), world_frame="map").world_frame == "map"


def test_depth_topics_are_per_camera_optional_and_distinct():
    cameras = cfg.CamerasConfig(image_topics=("/a/image_raw", "/b/image_raw"), depth_topics=("", "/b/depth"))
    assert [c.depth_topic for c in cameras.inputs] == ["", "/b/depth"]
    assert [c.depth_topic for c in cfg.CamerasConfig().inputs] == [""] * 4  # default: no depth
    with pytest.raises(ValueError, match=r'CamerasConfig.depth_topics: expected \[""\] or 2 entries'):
        cfg.CamerasConfig(image_topics=("/a", "/b"), depth_topics=("/d",))
    with pytest.raises(ValueError, match="depth_topics: expected one topic per camera, distinct from the image topics"):
        cfg.CamerasConfig(image_topics=("/a", "/b"), depth_topics=("/b", ""))
    with pytest.raises(ValueError, match="depth_topics: expected one topic per camera"):
        cfg.CamerasConfig(image_topics=("/a", "/b"), depth_topics=("/d", "/d"))
    with pytest.raises(ValueError, match="SyncConfig.depth_wait: expected a finite number in"):
        cfg.SyncConfig(num_cameras=2, depth_wait=0.5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: check_number("X.n", True, integer=True), "X.n: expected an integer, got True"),
        (lambda: check_number("X.n", 2.0, integer=True), "X.n: expected an integer, got 2.0"),
        (lambda: check_number("X.n", math.nan), "X.n: expected a finite number, got nan"),
        (lambda: check_number("X.n", 0.0, low=0.0, low_open=True), "X.n: expected a finite number > 0.0, got 0.0"),
        (lambda: check_number("X.n", 1.5, low=0, high=1), "X.n: expected a finite number in [0, 1], got 1.5"),
        (lambda: check_number("X.n", "3"), "X.n: expected a finite number, got '3'"),
        (lambda: check_bool("X.b", 1), "X.b: expected true or false, got 1"),
        (lambda: check_choice("X.c", True, (1, 2)), "X.c: expected one of [1, 2], got True"),
        (lambda: check_sequence("X.s", "ab"), "X.s: expected a list, got 'ab'"),
    ],
)
def test_checker_refuses_lookalikes(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


def test_checker_accepts_what_it_should():
    check_number("X.n", np.int64(3), integer=True, low=1)
    check_number("X.n", math.inf, finite=False)
    check_number("X.n", None, optional=True)
    check_choice("X.c", "a", ("a", "b"))
    assert check_sequence("X.s", [1, 2], lambda n, v: check_number(n, v, integer=True)) == (1, 2)
