"""The node's topic names: relative outputs (they follow the namespace), absolute diagnostics."""

from __future__ import annotations

from hand_pose_ros.ros.topics import (
    DIAGNOSTICS_TOPIC, MARKERS_TOPIC, MESHES_TOPIC, OVERLAY_TOPIC, POSE_TOPIC, overlay_topic, resolved,
)


def test_outputs_are_relative_and_distinct() -> None:
    outputs = (POSE_TOPIC, MARKERS_TOPIC, MESHES_TOPIC, OVERLAY_TOPIC)
    assert not any(t.startswith("/") for t in outputs) and len(set(outputs)) == len(outputs)
    assert DIAGNOSTICS_TOPIC == "/diagnostics"  # where aggregators listen (REP 107)


def test_names_as_a_root_namespace_node_publishes_them() -> None:
    assert resolved(POSE_TOPIC) == "/hands/pose"
    assert resolved(overlay_topic("cam1")) == "/hands/debug/cam1/image_raw"
    assert resolved(DIAGNOSTICS_TOPIC) == DIAGNOSTICS_TOPIC


def test_the_shipped_configs_name_the_same_topics(repo_root) -> None:
    # Data files cannot import the constants: this keeps them from drifting apart.
    import yaml

    from hand_pose_ros.dataset_layout import image_topic

    rviz = (repo_root / "config" / "multiview.rviz").read_text(encoding="utf-8")
    assert f"Value: {resolved(MARKERS_TOPIC)}\n" in rviz
    params_text = (repo_root / "config" / "multiview.yaml").read_text(encoding="utf-8")
    for topic in (resolved(POSE_TOPIC), resolved(MARKERS_TOPIC), resolved(MESHES_TOPIC), resolved(overlay_topic("<camera>"))):
        assert topic in params_text
    params = yaml.safe_load(params_text)["hand_pose_node"]["ros__parameters"]
    assert params["cameras"]["image_topics"] == [image_topic(f"cam{i}") for i in range(4)]  # the sample's rig
