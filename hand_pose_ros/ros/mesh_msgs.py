"""Fitted hand meshes → RViz ``TRIANGLE_LIST`` markers and ``HandMeshArray`` messages.

Markers: one per hand in namespace ``mesh`` with the hand's track id as marker id, so RViz
updates it in place; coloured like the hand's joints (``HAND_COLOURS``), a little
see-through. ``MeshMarkerSource`` plugs into ``HandMarkers(extra=...)``, which sends the
DELETE when a track's mesh disappears. Robot code gets the indexed mesh instead:
``HandMeshArray`` (one ``shape_msgs/Mesh`` per track, metres, the header's world frame).

Vertices and faces go to the wire as numpy arrays (``cdr.PackedFields``): ``mesh_marker``
fills the caller's ``PackedFields``, ``meshes_to_array_msg`` returns the serialised bytes;
no Python object per point or triangle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from shape_msgs.msg import Mesh
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from hand_pose_ros.drawing import HAND_COLOURS
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.mesh import FittedMesh
from hand_pose_ros.msg import HandMesh, HandMeshArray
from hand_pose_ros.ros.cdr import PackedFields, serialize
from hand_pose_ros.ros.markers import MARKER_LIFETIME
from hand_pose_ros.types import Hand3D, check_shape

__all__ = [
    "MESH_NAMESPACE",
    "MeshMarkerSource",
    "mesh_marker",
    "mesh_to_msg",
    "meshes_to_array_msg",
    "msg_to_arrays",
]

MESH_NAMESPACE = "mesh"
MESH_ALPHA = 0.6  # see-through, so the joints and bones drawn inside stay visible


def _check_mesh(mesh: FittedMesh) -> None:
    check_shape("vertices", mesh.vertices, (None, 3), f"mesh of track {mesh.track_id}")
    check_shape("faces", mesh.faces, (None, 3), f"mesh of track {mesh.track_id}")
    if mesh.faces.size and not 0 <= mesh.faces.min() <= mesh.faces.max() < len(mesh.vertices):
        raise ValueError(
            f"faces of track {mesh.track_id}: indices must be in [0, {len(mesh.vertices)}), "
            f"got [{mesh.faces.min()}, {mesh.faces.max()}]"
        )


def mesh_marker(mesh: FittedMesh, header: Header, packed: PackedFields) -> Marker:
    """One fitted hand → ADD ``TRIANGLE_LIST`` marker (3 points per face, world frame, metres);
    its points, (3F, 3) float64, go into ``packed`` (serialise the marker with it)."""
    _check_mesh(mesh)
    marker = Marker(header=header, ns=MESH_NAMESPACE, id=int(mesh.track_id), type=Marker.TRIANGLE_LIST,
                    action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = 1.0  # TRIANGLE_LIST scales its points by this
    r, g, b, _ = HAND_COLOURS[Handedness(mesh.handedness)]
    marker.color = ColorRGBA(r=r, g=g, b=b, a=MESH_ALPHA)
    marker.lifetime = MARKER_LIFETIME
    packed.set(marker, "points", np.ascontiguousarray(mesh.vertices[mesh.faces.reshape(-1)], np.float64))
    return marker


class MeshMarkerSource:
    """``HandMarkers`` extra source: each hand's latest fitted mesh as a marker.

    Per frame: ``source.update(meshes)`` then ``hand_markers.update(hands, header)``; hands
    without a mesh get none, and ``HandMarkers`` deletes their previous one.
    """

    def __init__(self) -> None:
        self._meshes: dict[int, FittedMesh] = {}

    def update(self, meshes: Sequence[FittedMesh]) -> None:
        self._meshes = {m.track_id: m for m in meshes}

    def __call__(self, hand: Hand3D, header: Header, packed: PackedFields) -> list[Marker]:
        mesh = self._meshes.get(hand.track_id)
        return [] if mesh is None else [mesh_marker(mesh, header, packed)]


def mesh_to_msg(mesh: FittedMesh, packed: PackedFields) -> HandMesh:
    """One fitted hand → ``HandMesh`` (indexed ``shape_msgs/Mesh``, metres); its vertices
    ((V, 3) float64) and triangles ((F, 3) uint32) go into ``packed``."""
    _check_mesh(mesh)
    msg = HandMesh()
    msg.id = int(mesh.track_id)
    msg.handedness = int(mesh.handedness)
    msg.model = mesh.model
    msg.mesh = Mesh()
    packed.set(msg.mesh, "vertices", np.ascontiguousarray(mesh.vertices, np.float64))
    packed.set(msg.mesh, "triangles", np.ascontiguousarray(mesh.faces, np.uint32))
    msg.fit_rms_error = float(mesh.rms_error)
    return msg


def meshes_to_array_msg(meshes: Sequence[FittedMesh], header: Header) -> bytes:
    """One set's fitted hands → serialised ``HandMeshArray`` (same header as its ``HandPoseArray``)."""
    packed = PackedFields()
    return serialize(HandMeshArray(header=header, meshes=[mesh_to_msg(m, packed) for m in meshes]), packed)


def msg_to_arrays(msg: HandMesh) -> tuple[np.ndarray, np.ndarray]:
    """``HandMesh`` → (V, 3) float64 vertices (m), (F, 3) int64 faces, for robot code."""
    vertices = np.array([[p.x, p.y, p.z] for p in msg.mesh.vertices], np.float64).reshape(-1, 3)
    faces = np.array([t.vertex_indices for t in msg.mesh.triangles], np.int64).reshape(-1, 3)
    return vertices, faces
