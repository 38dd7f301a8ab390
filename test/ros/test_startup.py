"""``startup.pipeline_config``: the node's component parameter groups → the typed PipelineConfig."""

from __future__ import annotations

import types

import pytest

from hand_pose_ros.detection.config import HandDetectorConfig
from hand_pose_ros.pipeline import PipelineConfig
from hand_pose_ros.ros.startup import StartupError, pipeline_config


def test_groups_become_typed_configs_and_bad_groups_are_listed_together():
    groups = types.SimpleNamespace(detector={"model": "lite", "fallback": ["torch"]}, fusion={"filter": "none"}, mesh={})
    config = pipeline_config(groups)
    assert isinstance(config, PipelineConfig)
    assert config.detector == HandDetectorConfig(model="lite", fallback=("torch",))
    assert config.fusion.filter == "none" and config.mesh.model == "webxr"
    bad = types.SimpleNamespace(detector={"modle": "lite"}, fusion={"filter": "kalman"}, mesh={})
    with pytest.raises(StartupError) as info:
        pipeline_config(bad)
    problems = info.value.problems
    assert len(problems) == 2 and problems[0].startswith("detector.*: ") and "modle" in problems[0]
    assert problems[1].startswith("fusion.*: ") and "kalman" in problems[1]
