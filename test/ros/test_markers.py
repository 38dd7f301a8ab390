"""Hand3D → MarkerArray: stable ids, missing joints skipped, lost hands deleted, the shared colours."""

from __future__ import annotations

import numpy as np
import pytest
from hand_helpers import random_hand as make_hand
from rclpy.serialization import deserialize_message
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from hand_pose_ros.drawing import HAND_COLOURS, HAND_COLOURS_RGB8
from hand_pose_ros.keypoints import HAND_EDGES, HandKeypoint, Handedness
from hand_pose_ros.ros.markers import HandMarkers


def _update(markers: HandMarkers, hands, header, **kwargs) -> MarkerArray:
    """``markers.update``'s bytes read back by rclpy."""
    return deserialize_message(markers.update(hands, header, **kwargs), MarkerArray)


def test_markers_stable_ids_skip_missing_and_delete_lost_hands():
    markers = HandMarkers()
    header = Header(frame_id="world")
    left, right = make_hand(4, Handedness.LEFT, missing=[HandKeypoint.WRIST]), make_hand(9, Handedness.RIGHT)
    first = _update(markers, [left, right], header)
    by_key = {(m.ns, m.id): m for m in first.markers}
    assert set(by_key) == {("joints", 4), ("bones", 4), ("joints", 9), ("bones", 9), ("labels", 9)}
    assert len(by_key[("joints", 4)].points) == 20  # wrist missing: not drawn
    wrist_edges = sum(HandKeypoint.WRIST in e for e in HAND_EDGES)
    assert len(by_key[("bones", 4)].points) == 2 * (len(HAND_EDGES) - wrist_edges)
    a, b = HAND_EDGES[-1]
    bones = by_key[("bones", 9)].points
    assert [bones[-2].x, bones[-1].z] == pytest.approx([right.keypoints_3d[a][0], right.keypoints_3d[b][2]])
    assert by_key[("joints", 4)].color != by_key[("joints", 9)].color
    assert all(np.isfinite([p.x for p in m.points]).all() for m in first.markers)
    second = _update(markers, [right], header)
    deletes = {(m.ns, m.id) for m in second.markers if m.action == Marker.DELETE}
    assert deletes == {("joints", 4), ("bones", 4)}
    assert _update(markers, [right], header).markers and not any(
        m.action == Marker.DELETE for m in _update(markers, [right], header).markers
    )


def test_markers_use_the_overlay_colours() -> None:
    # One table for both: a hand looks the same in RViz and in the image overlays.
    hands = [make_hand(track_id, side) for track_id, side in enumerate(Handedness)]
    markers = _update(HandMarkers(), hands, Header(frame_id="world")).markers
    assert {m.id for m in markers} == set(range(len(hands)))
    for marker in markers:
        side = hands[marker.id].handedness
        rgba = (marker.color.r, marker.color.g, marker.color.b, marker.color.a)
        assert rgba == pytest.approx(HAND_COLOURS[side])
        # The wire holds float32 (0.9 reads back as 0.89999998): rounding within half a step.
        np.testing.assert_allclose(255 * np.array(rgba[:3]), HAND_COLOURS_RGB8[side], atol=0.5 + 1e-4)
