"""The CDR writer/reader against rclpy's own serializer, byte for byte (padding excepted)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from geometry_msgs.msg import Point
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from shape_msgs.msg import Mesh, MeshTriangle
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from hand_pose_ros.msg import HandMesh, HandMeshArray, HandPose, HandPoseArray
from hand_pose_ros.ros.cdr import CdrError, PackedFields, _serialize, parse_compressed_image, parse_image, serialize


def assert_same_bytes(ours: bytes, padding: list[range], reference: bytes) -> None:
    """Equal length and equal bytes outside our alignment padding (rmw does not zero it)."""
    assert len(ours) == len(reference)
    mask = np.ones(len(ours), bool)
    for gap in padding:
        mask[gap.start:gap.stop] = False
    a, b = np.frombuffer(ours, np.uint8), np.frombuffer(reference, np.uint8)
    assert np.array_equal(a[mask], b[mask]), f"first differing byte at {np.flatnonzero((a != b) & mask)[:5]}"


def _marker(points: np.ndarray, ns: str = "mesh") -> Marker:
    m = Marker(header=Header(frame_id="world"), ns=ns, id=7, type=Marker.TRIANGLE_LIST, text="right #7 é")
    m.header.stamp.sec, m.header.stamp.nanosec = 1_700_000_000, 123_456_789
    m.pose.orientation.w = 1.0
    m.scale.x = 0.5
    m.color = ColorRGBA(r=0.9, g=0.6, b=0.0, a=0.6)
    m.points = [Point(x=x, y=y, z=z) for x, y, z in points.tolist()]
    return m


@pytest.mark.parametrize(
    "msg",
    [Marker(), MarkerArray(), Image(), CameraInfo(), HandPoseArray(), HandPose(), HandMeshArray(),
     CompressedImage(format="jpeg", data=b"\xff\xd8abc"),
     CameraInfo(distortion_model="plumb_bob", d=[0.1, -0.2, 0.0, 0.001, 0.3], k=[float(i) for i in range(9)])],
    ids=lambda m: type(m).__name__,
)
def test_plain_messages_match_rclpy(msg):
    ours, padding = _serialize(msg, None)
    assert_same_bytes(ours, padding, serialize_message(msg))


def _busy_messages() -> list:
    """Messages with every kind of scalar set away from its default (negative, large, fractional):
    the writer's struct paths (one value, and whole all-one-size messages) against rclpy's."""
    marker = _marker(np.zeros((0, 3)), ns="joints")
    marker.id, marker.action, marker.frame_locked = -5, Marker.DELETE, True
    marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = -1.25, 3e-9, 1e300
    marker.pose.orientation.x, marker.pose.orientation.w = 0.5, -0.5
    marker.scale.z = 0.1  # not a float32 value: rounded on the wire
    marker.lifetime.sec, marker.lifetime.nanosec = -2**31, 2**32 - 1
    marker.color = ColorRGBA(r=0.1, g=float("inf"), b=float("nan"), a=-0.0)
    info = CameraInfo(height=2**32 - 1, width=7, binning_x=3, distortion_model="rational_polynomial",
                      d=[0.5] * 8, k=[0.1 * i for i in range(9)])
    info.roi.do_rectify, info.roi.x_offset = True, 11
    pose = HandPose(id=2**32 - 1, handedness=2, age=2**31 - 1, depth_stddev=0.02, monocular=True)
    pose.keypoint_confidence = np.linspace(0.0, 1.0, 21, dtype=np.float32)
    pose.keypoint_num_views = np.arange(21, dtype=np.uint8) * 12
    pose.keypoints = [Point(x=0.001 * i, y=-0.5, z=1e-320) for i in range(21)]
    return [marker, MarkerArray(markers=[marker, Marker(ns="a", id=2**31 - 1)]), info, pose,
            HandPoseArray(hands=[pose, HandPose()], latency=0.033, camera_used=[True, False])]


@pytest.mark.parametrize("msg", _busy_messages(), ids=lambda m: type(m).__name__)
def test_messages_with_values_set_match_rclpy(msg):
    ours, padding = _serialize(msg, None)
    assert_same_bytes(ours, padding, serialize_message(msg))


@pytest.mark.parametrize("typename, value", [("float", 1e39), ("uint8", 300), ("int8", -129), ("uint32", -1)])
def test_a_scalar_out_of_its_range_is_written_as_numpy_writes_it(typename, value):
    from hand_pose_ros.ros.cdr import _DTYPES, _Writer

    writer = _Writer(None)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns of the overflow
        writer.scalar(typename, value)
        expected = np.asarray([value]).astype(_DTYPES[typename]).tobytes()
    assert bytes(writer.buffer) == expected


def test_packed_points_and_colours_equal_the_object_lists():
    xyz = np.random.default_rng(0).normal(size=(500, 3))
    colours = np.array([[1.0, 0.5, 0.25, 1.0]] * 4, np.float32)
    reference = _marker(xyz)
    reference.colors = [ColorRGBA(r=1.0, g=0.5, b=0.25, a=1.0)] * 4
    expected = serialize_message(MarkerArray(markers=[reference, Marker(ns="joints")]))

    lean = _marker(np.zeros((0, 3)))
    packed = PackedFields()
    packed.set(lean, "points", xyz)
    packed.set(lean, "colors", colours)
    ours, padding = _serialize(MarkerArray(markers=[lean, Marker(ns="joints")]), packed)
    assert_same_bytes(ours, padding, expected)
    back = deserialize_message(ours, MarkerArray)
    assert np.allclose([[p.x, p.y, p.z] for p in back.markers[0].points], xyz)


def test_packed_mesh_triangles_and_vertices():
    vertices = np.random.default_rng(1).normal(size=(40, 3))
    faces = np.arange(60, dtype=np.uint32).reshape(20, 3) % 40
    reference = HandMesh(id=3, handedness=2, model="webxr", fit_rms_error=0.004)
    reference.mesh = Mesh(triangles=[MeshTriangle(vertex_indices=f) for f in faces],
                          vertices=[Point(x=x, y=y, z=z) for x, y, z in vertices.tolist()])
    expected = serialize_message(HandMeshArray(header=Header(frame_id="world"), meshes=[reference]))

    lean = HandMesh(id=3, handedness=2, model="webxr", fit_rms_error=0.004)
    packed = PackedFields()
    packed.set(lean.mesh, "vertices", vertices)
    packed.set(lean.mesh, "triangles", faces)
    ours, padding = _serialize(HandMeshArray(header=Header(frame_id="world"), meshes=[lean]), packed)
    assert_same_bytes(ours, padding, expected)


def test_packed_arrays_of_the_wrong_shape_or_type_are_refused():
    packed = PackedFields()
    marker = Marker()
    packed.set(marker, "points", np.zeros((3, 2)))
    with pytest.raises(CdrError, match=r"Marker.points: expected an \(N, 3\) array"):
        serialize(marker, packed)
    packed.set(marker, "points", np.zeros((3, 3), np.float32))
    with pytest.raises(CdrError, match="expected float64 values, got float32"):
        serialize(marker, packed)
    with pytest.raises(CdrError, match="no field 'vertices'"):
        packed.set(marker, "vertices", np.zeros((1, 3)))


def test_images_are_read_as_views_of_the_received_bytes():
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8)
    msg = Image(height=2, width=3, encoding="rgb8", is_bigendian=0, step=9, data=pixels.tobytes())
    msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec = "cam0_optical", 12, 34
    raw = serialize_message(msg)
    view = parse_image(raw)
    assert (view.height, view.width, view.encoding, view.step, view.frame_id) == (2, 3, "rgb8", 9, "cam0_optical")
    assert view.stamp_ns == 12_000_000_034
    assert bytes(view.data) == pixels.tobytes()
    assert view.data.obj is raw  # no copy of the pixels

    compressed = CompressedImage(format="png", data=b"\x89PNG....")
    compressed.header.stamp.sec = 3
    view = parse_compressed_image(serialize_message(compressed))
    assert (view.format, bytes(view.data), view.stamp_ns) == ("png", b"\x89PNG....", 3_000_000_000)


@pytest.mark.parametrize("cut", [3, 10, 30, -1])
def test_truncated_or_foreign_bytes_are_a_clear_error(cut):
    raw = serialize_message(Image(height=2, width=2, encoding="mono8", step=2, data=b"abcd"))
    with pytest.raises(CdrError, match="image"):
        parse_image(raw[:cut])
    with pytest.raises(CdrError, match="not little-endian CDR"):
        parse_image(b"\x00\x00\x00\x00" + raw[4:])
