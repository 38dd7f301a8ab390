"""hand_pose_node with aligned depth topics, across processes over real DDS (#15).

Each camera of the bundled sample gets a depth topic (``cameras.depth_topics``); this process
publishes depth maps as real rclpy ``sensor_msgs/Image`` messages next to the sample's colour
images. Bad depth (all zeros, all NaN, wrong size, wrong encoding, from another time) must be
named on that camera's depth status on /diagnostics while every colour set still gives poses
from every camera, and good depth sent afterwards must still be used. The node subprocess,
the rig publisher and the feeder are test_node_dds's (a node of this module's own).
"""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from hand_pose_ros.dataset_layout import depth_topic
from hand_pose_ros.ros.conversions import ns_to_stamp, stamp_to_ns
from hand_pose_ros.ros.topics import DIAGNOSTICS_TOPIC
from hand_pose_ros.tools.harness import wait_until
from test_node_dds import CAMERAS, NODE_TEST_PARAMETERS, OUTPUT_TIMEOUT_S, Feeder, node_rig, sample  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.ros, pytest.mark.slow]

DEPTH_TOPICS = [depth_topic(f"cam{i}") for i in range(CAMERAS)]
GOOD_DEPTH_MM = 600  # a plausible plane behind the hands; the content is the core's business
BAD_CAMERA = 0  # the camera that gets the bad depth; the others get good depth throughout
FRAME = 2


@pytest.fixture(scope="module")
def depth_rig(sample, tmp_path_factory, ros_env):  # noqa: F811 (sample is a fixture)
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    with node_rig({
        "cameras": {"depth_topics": DEPTH_TOPICS},
        "extrinsics": {"calibration_file": sample["calibration"]},
        "intrinsics": {"source": "file"},
        **NODE_TEST_PARAMETERS,
    }, tmp_path_factory.mktemp("depth_node"), ros_env) as started:
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        started["depth_pubs"] = [started["node"].create_publisher(Image, t, qos) for t in DEPTH_TOPICS]
        assert wait_until(lambda: all(p.get_subscription_count() > 0 for p in started["depth_pubs"]), OUTPUT_TIMEOUT_S)
        yield started


@pytest.fixture(scope="module")
def feeder(depth_rig, sample):  # noqa: F811
    return Feeder(depth_rig, sample)


def _depth_image(stamp_ns: int, camera: int, kind: str = "good"):
    """A depth Image for camera ``camera`` stamped ``stamp_ns``: good (16UC1 plane) or one bad ``kind``."""
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    height, width = 480, 640
    mm = np.full((height, width), GOOD_DEPTH_MM, np.uint16)
    encoding, data, step = "16UC1", mm, width * 2
    if kind == "zeros":
        data = np.zeros_like(mm)
    elif kind == "nan":
        encoding, data, step = "32FC1", np.full((height, width), np.nan, np.float32), width * 4
    elif kind == "size":
        data, step = mm[: height // 2, : width // 2], width  # 320x240
        height, width = height // 2, width // 2
    elif kind == "encoding":
        encoding, data, step = "rgb8", np.zeros((height, width, 3), np.uint8), width * 3
    header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=f"cam{camera}_optical_frame")
    return Image(header=header, height=height, width=width, encoding=encoding, is_bigendian=0, step=step,
                 data=np.ascontiguousarray(data).tobytes())


def _values(status) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def _depth_status(feeder, camera: int, contains: str = ""):
    return feeder.next_diagnostics(f"hand_pose_node: camera cam{camera} depth", contains)


def _received(feeder) -> dict[int, int]:
    """Per camera the depth frames the node says it received, from its latest /diagnostics."""
    out: dict[int, int] = {}
    records = feeder.rig["rec"].get(DIAGNOSTICS_TOPIC)
    latest = max(records, key=lambda r: stamp_to_ns(r.message.header.stamp), default=None)
    for status in latest.message.status if latest is not None else ():
        for cam in range(CAMERAS):
            if status.name == f"hand_pose_node: camera cam{cam} depth":
                out[cam] = int(_values(status)["Depth frames received"])
    return out


def _publish_set(feeder, depth_kinds: dict[int, str], stamp: int | None = None, depth_stamp: int | None = None) -> int:
    """Depth frames first (waiting until the node has them all), then the colour images of
    sample frame ``FRAME``; returns the set's stamp."""
    stamp = feeder.rig["clock"].now().nanoseconds if stamp is None else stamp
    _depth_status(feeder, 0)  # a /diagnostics from now on: the counts before
    before = _received(feeder)
    for cam, kind in depth_kinds.items():
        feeder.rig["depth_pubs"][cam].publish(_depth_image(stamp if depth_stamp is None else depth_stamp, cam, kind))
    assert wait_until(lambda: all(_received(feeder).get(cam, -1) > before.get(cam, -1) for cam in depth_kinds), OUTPUT_TIMEOUT_S)
    return feeder.publish(FRAME, stamp=stamp)


def _all_good(bad: str | None = None) -> dict[int, str]:
    return {cam: bad if cam == BAD_CAMERA and bad else "good" for cam in range(CAMERAS)}


def _sets_with_depth(feeder, camera: int) -> tuple[int, int]:
    values = _values(_depth_status(feeder, camera))
    return int(values["Sets with depth"]), int(values["Sets without depth"])


def test_good_depth_joins_every_cameras_set(feeder):
    msg = feeder.wait_pose(_publish_set(feeder, _all_good()))
    assert msg is not None and list(msg.camera_used) == [True] * CAMERAS
    for cam in range(CAMERAS):
        status = _depth_status(feeder, cam)
        # (A depth stream that stopped a second ago WARNs "no depth ... for x s": this test sends one frame.)
        assert "refused" not in status.message and _values(status)["Depth frames rejected"] == "0", status
        assert _sets_with_depth(feeder, cam) == (1, 0)


def test_a_missing_depth_frame_neither_holds_back_nor_drops_the_colour_set(feeder):
    with_before, without_before = _sets_with_depth(feeder, BAD_CAMERA)
    depths = {cam: "good" for cam in range(CAMERAS) if cam != BAD_CAMERA}
    msg = feeder.wait_pose(_publish_set(feeder, depths))
    assert msg is not None and list(msg.camera_used) == [True] * CAMERAS
    assert wait_until(lambda: _sets_with_depth(feeder, BAD_CAMERA) == (with_before, without_before + 1), OUTPUT_TIMEOUT_S)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("zeros", "no measurement"),
        ("nan", "no measurement"),
        ("size", "is 320x240, the calibration of camera 'cam0' is 640x480"),
        ("encoding", "depth encoding 'rgb8' is not one of 16UC1"),
    ],
)
def test_bad_depth_is_reported_per_camera_and_colour_and_good_depth_go_on(feeder, kind, expected):
    msg = feeder.wait_pose(_publish_set(feeder, _all_good(kind)))
    assert msg is not None and list(msg.camera_used) == [True] * CAMERAS, "the colour set went on"
    assert len(msg.hands) >= 1
    status = _depth_status(feeder, BAD_CAMERA, expected)
    assert status is not None and status.level == DiagnosticStatus.WARN
    assert status.message.startswith("depth refused, colour only: depth of camera 'cam0' (/cam0/aligned_depth_to_color/image_raw)")
    assert expected in _values(status)["Last error"]
    for cam in range(1, CAMERAS):  # the other cameras' depth is untouched by cam0's
        assert expected not in _values(_depth_status(feeder, cam))["Last error"]
    _good_depth_is_used_again(feeder)


def test_depth_from_another_time_is_reported_and_colour_goes_on(feeder):
    stamp = feeder.publish(FRAME)
    msg = feeder.wait_pose(stamp)
    assert msg is not None and list(msg.camera_used) == [True] * CAMERAS
    # Stamped 2 s before the colour image the camera just sent: another clock, a stale stream.
    feeder.rig["depth_pubs"][BAD_CAMERA].publish(_depth_image(stamp - 2_000_000_000, BAD_CAMERA))
    status = _depth_status(feeder, BAD_CAMERA, "from another time")
    assert status is not None and status.level == DiagnosticStatus.WARN
    assert "is 2000.0 ms before the camera's latest colour image" in _values(status)["Last error"]
    _good_depth_is_used_again(feeder)


def _good_depth_is_used_again(feeder) -> None:
    """After bad depth, the next good depth map of the same camera is used (no good data lost)."""
    with_before, _ = _sets_with_depth(feeder, BAD_CAMERA)
    assert feeder.wait_pose(_publish_set(feeder, _all_good())) is not None
    assert wait_until(lambda: _sets_with_depth(feeder, BAD_CAMERA)[0] == with_before + 1, OUTPUT_TIMEOUT_S)


def test_the_node_logged_the_depth_problems_and_is_alive(feeder):
    assert "depth refused" not in feeder.rig["log"].read_text()  # the log has the problem itself:
    assert "depth of camera 'cam0' (/cam0/aligned_depth_to_color/image_raw)" in feeder.rig["log"].read_text()
    assert feeder.rig["proc"].alive()
