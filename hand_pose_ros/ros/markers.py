"""RViz markers for fused hands: joints, bones and a label per hand, with stable ids.

Each hand track owns marker id ``track_id`` in the namespaces ``joints``, ``bones`` and
``labels``; when a track disappears its markers are sent once more as DELETE. Hand meshes
(the mesh issue) plug in through ``extra``: callables returning more markers per hand, which
must use their own namespace (e.g. ``mesh``) and the hand's track id.

``update`` returns the MarkerArray's serialised bytes (``cdr.serialize``; publishers take them
as they are): point lists go in as numpy arrays (``PackedFields``), never one Python
``Point`` per point. An update may leave the extra markers out (``extra=False``, e.g. a
mesh marker sent at a lower rate): those already shown stay, and are still deleted when
their hand is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from hand_pose_ros.config import MARKER_LIFETIME_S
from hand_pose_ros.drawing import HAND_COLOURS
from hand_pose_ros.keypoints import HAND_EDGES, HandKeypoint
from hand_pose_ros.ros.cdr import PackedFields, serialize
from hand_pose_ros.types import Hand3D

__all__ = ["HandMarkers", "MarkerSource"]

JOINT_DIAMETER_M = 0.012  # about a fingertip's width
BONE_WIDTH_M = 0.005
LABEL_HEIGHT_M = 0.025
LABEL_OFFSET_M = 0.05  # label above the wrist, along world +z (REP 103 up)
MARKER_LIFETIME = Duration(sec=MARKER_LIFETIME_S)
_EDGES = np.array(HAND_EDGES)  # (E, 2) joint indices

# (hand, header, packed) → markers; long point lists go into ``packed`` (``cdr.PackedFields``).
MarkerSource = Callable[[Hand3D, Header, PackedFields], Sequence[Marker]]


class HandMarkers:
    """Turns each set's hands into a MarkerArray; remembers shown tracks to delete them later."""

    def __init__(self, extra: Sequence[MarkerSource] = ()) -> None:
        self._extra = list(extra)
        self._shown: dict[int, set[str]] = {}  # track id → namespaces shown
        self._shown_extra: dict[int, set[str]] = {}  # track id → those of them from ``extra``

    def update(self, hands: Sequence[Hand3D], header: Header, *, extra: bool = True) -> bytes:
        """This set's markers (and DELETEs of lost ones) → serialised ``MarkerArray``."""
        out, packed = MarkerArray(), PackedFields()
        current: dict[int, set[str]] = {}
        current_extra: dict[int, set[str]] = {}
        for hand in hands:
            markers = self._hand_markers(hand, header, packed)
            if extra:
                added = [m for source in self._extra for m in source(hand, header, packed)]
                current_extra[hand.track_id] = {m.ns for m in added}
                markers.extend(added)
            else:  # left as shown
                current_extra[hand.track_id] = self._shown_extra.get(hand.track_id, set())
            current[hand.track_id] = {m.ns for m in markers} | current_extra[hand.track_id]
            out.markers.extend(markers)
        for track_id, namespaces in self._shown.items():
            for ns in namespaces - current.get(track_id, set()):
                out.markers.append(Marker(header=header, ns=ns, id=track_id, action=Marker.DELETE))
        self._shown, self._shown_extra = current, current_extra
        return serialize(out, packed)

    def _hand_markers(self, hand: Hand3D, header: Header, packed: PackedFields) -> list[Marker]:
        colour = ColorRGBA(**dict(zip("rgba", HAND_COLOURS[hand.handedness])))
        points = hand.keypoints_3d  # (21, 3) m, world
        valid = ~np.isnan(points).any(axis=1)

        def base(ns: str, kind: int) -> Marker:
            m = Marker(header=header, ns=ns, id=int(hand.track_id), type=kind, action=Marker.ADD)
            m.pose.orientation.w = 1.0
            m.color = colour
            m.lifetime = MARKER_LIFETIME
            return m

        joints = base("joints", Marker.SPHERE_LIST)
        joints.scale.x = joints.scale.y = joints.scale.z = JOINT_DIAMETER_M
        packed.set(joints, "points", np.ascontiguousarray(points[valid], np.float64))
        bones = base("bones", Marker.LINE_LIST)
        bones.scale.x = BONE_WIDTH_M
        edges = _EDGES[valid[_EDGES].all(axis=1)]  # (E', 2): both ends present
        packed.set(bones, "points", np.ascontiguousarray(points[edges.reshape(-1)], np.float64))
        markers = [joints, bones]
        if valid[HandKeypoint.WRIST]:
            label = base("labels", Marker.TEXT_VIEW_FACING)
            label.scale.z = LABEL_HEIGHT_M
            label.text = f"{hand.handedness.label} #{hand.track_id}"
            label.pose.position = _point(points[HandKeypoint.WRIST] + [0.0, 0.0, LABEL_OFFSET_M])
            markers.append(label)
        return markers


def _point(p: np.ndarray) -> Point:
    return Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
