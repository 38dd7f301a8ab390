"""The node's topic names, defined once: the node publishes on them, the tools and tests listen.

The outputs are relative names: they follow the node's namespace and are renamed by
remapping (``hands/pose:=/out/pose``). ``resolved`` gives the absolute name a node in the root
namespace publishes on, which is what the tools and tests subscribe to. The cameras' input
topics are the recording's (``hand_pose_ros.dataset_layout.image_topic``); the node reads its
own from the ``cameras.image_topics`` parameter.
"""

from __future__ import annotations

__all__ = [
    "DIAGNOSTICS_TOPIC",
    "MARKERS_TOPIC",
    "MESHES_TOPIC",
    "OVERLAY_TOPIC",
    "POSE_TOPIC",
    "STATE_TOPIC",
    "overlay_topic",
    "resolved",
]

POSE_TOPIC = "hands/pose"
MARKERS_TOPIC = "hands/markers"
MESHES_TOPIC = "hands/meshes"
STATE_TOPIC = "hands/state"
# One per camera, ``OVERLAY_TOPIC.format(camera=name)`` (``overlay_topic``).
OVERLAY_TOPIC = "hands/debug/{camera}/image_raw"
# Absolute: diagnostic aggregators listen there whatever the node's namespace (REP 107).
DIAGNOSTICS_TOPIC = "/diagnostics"


def overlay_topic(camera: str) -> str:
    """The relative topic of camera ``camera``'s debug overlay."""
    return OVERLAY_TOPIC.format(camera=camera)


def resolved(topic: str) -> str:
    """The absolute name of ``topic`` for a node in the root namespace, not remapped."""
    return topic if topic.startswith("/") else "/" + topic
