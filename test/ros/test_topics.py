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
