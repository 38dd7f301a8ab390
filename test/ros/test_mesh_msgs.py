"""Fitted meshes → TRIANGLE_LIST markers and HandMeshArray messages (real rclpy messages)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hand_helpers import make_hand, random_similarity
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from hand_pose_ros.drawing import HAND_COLOURS
from hand_pose_ros.handmodel import named_pose
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.mesh import HandMeshFitter, MeshFitterConfig
from hand_pose_ros.msg import HandMesh, HandMeshArray
from hand_pose_ros.ros.cdr import PackedFields, serialize
from hand_pose_ros.ros.markers import HandMarkers
from hand_pose_ros.ros.mesh_msgs import (
    MESH_NAMESPACE,
    MeshMarkerSource,
    mesh_marker,
    meshes_to_array_msg,
    msg_to_arrays,
)

HEADER = Header(frame_id="world")


def _marker(mesh) -> Marker:
    """``mesh_marker`` serialised with its packed points, read back by rclpy."""
    packed = PackedFields()
    return deserialize_message(serialize(mesh_marker(mesh, HEADER, packed), packed), Marker)


@pytest.fixture(scope="module")
def fitted(webxr_articulations):
    """(hands, meshes): a right hand (track 7) and a left hand (track 8), fitted."""
    rng = np.random.default_rng(20)
    hands = []
    for track_id, side in ((7, Handedness.RIGHT), (8, Handedness.LEFT)):
        out = webxr_articulations[side].model(named_pose("pinch"), random_similarity(rng), skin=False)
        hands.append(make_hand(track_id, side, out.keypoints))
    meshes = HandMeshFitter(MeshFitterConfig(), articulations=webxr_articulations).fit(hands, stamp=0.0)
    return hands, meshes


def test_marker_is_a_valid_triangle_list_per_hand(fitted):
    _, meshes = fitted
    for mesh in meshes:
        marker = _marker(mesh)
        assert marker.type == Marker.TRIANGLE_LIST and marker.action == Marker.ADD
        assert (marker.ns, marker.id, marker.header.frame_id) == (MESH_NAMESPACE, mesh.track_id, "world")
        assert len(marker.points) == 3 * len(mesh.faces)
        points = np.array([[p.x, p.y, p.z] for p in marker.points])
        np.testing.assert_allclose(points, mesh.vertices[mesh.faces].reshape(-1, 3))
        assert (marker.scale.x, marker.scale.y, marker.scale.z) == (1.0, 1.0, 1.0)
        assert marker.pose.orientation.w == 1.0
        colour = (marker.color.r, marker.color.g, marker.color.b)
        assert colour == pytest.approx(HAND_COLOURS[mesh.handedness][:3])
        assert 0 < marker.color.a <= 1
    right, left = (_marker(m).color for m in meshes)
    assert (right.r, right.g, right.b) != (left.r, left.g, left.b)
    unpacked = mesh_marker(meshes[0], HEADER, PackedFields())
    unpacked.points = _marker(meshes[0]).points  # rclpy's own bytes of the same marker read back the same
    assert deserialize_message(serialize_message(unpacked), Marker).points == unpacked.points


def test_markers_update_in_place_and_are_deleted_when_the_hand_is_lost(fitted):
    hands, meshes = fitted
    source = MeshMarkerSource()
    markers = HandMarkers(extra=[source])
    for _ in range(2):  # the same ids frame after frame: RViz replaces, never accumulates
        source.update(meshes)
        out = deserialize_message(markers.update(hands, HEADER), MarkerArray)
        mesh_ids = sorted(m.id for m in out.markers if m.ns == MESH_NAMESPACE and m.action == Marker.ADD)
        assert mesh_ids == [7, 8]
    # A set without the mesh markers (rate-limited) neither resends nor deletes them.
    out = deserialize_message(markers.update(hands, HEADER, extra=False), MarkerArray)
    assert {m.ns for m in out.markers} == {"joints", "bones", "labels"}
    assert all(m.action == Marker.ADD for m in out.markers)
    source.update(meshes[:1])  # track 8 keeps its joints but loses its mesh
    out = deserialize_message(markers.update(hands, HEADER), MarkerArray)
    deleted = [(m.ns, m.id) for m in out.markers if m.action == Marker.DELETE]
    assert deleted == [(MESH_NAMESPACE, 8)]
    out = deserialize_message(markers.update(hands[:1], HEADER, extra=False), MarkerArray)  # track 8 lost
    deleted = sorted((m.ns, m.id) for m in out.markers if m.action == Marker.DELETE)
    assert deleted == [("bones", 8), ("joints", 8), ("labels", 8)]
    out = deserialize_message(markers.update([], HEADER, extra=False), MarkerArray)  # mesh of 7 deleted too
    assert (MESH_NAMESPACE, 7) in {(m.ns, m.id) for m in out.markers if m.action == Marker.DELETE}


def test_mesh_array_round_trips_through_serialization(fitted):
    _, meshes = fitted
    msg = deserialize_message(meshes_to_array_msg(meshes, HEADER), HandMeshArray)
    assert msg.header.frame_id == "world"
    assert [m.id for m in msg.meshes] == [7, 8]
    for got, mesh in zip(msg.meshes, meshes):
        assert got.model == HandMesh.MODEL_WEBXR
        assert got.handedness == int(mesh.handedness)
        assert got.fit_rms_error == pytest.approx(mesh.rms_error, abs=1e-7)
        vertices, faces = msg_to_arrays(got)
        np.testing.assert_allclose(vertices, mesh.vertices)
        np.testing.assert_array_equal(faces, mesh.faces)


def test_bad_faces_are_reported_with_the_track(fitted):
    _, meshes = fitted
    broken = dataclasses.replace(meshes[0], faces=meshes[0].faces + len(meshes[0].vertices))
    with pytest.raises(ValueError, match="track 7"):
        mesh_marker(broken, HEADER, PackedFields())
    with pytest.raises(ValueError, match="vertices.*track 7"):
        meshes_to_array_msg([dataclasses.replace(meshes[0], vertices=meshes[0].vertices[:, :2])], HEADER)
