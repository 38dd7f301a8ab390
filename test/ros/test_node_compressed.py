"""The node with ``cameras.compressed``: JPEG CompressedImage input over DDS gives poses."""

from __future__ import annotations

import os

import pytest
import yaml

from hand_pose_ros.assets import sample_dir
from hand_pose_ros.dataset_layout import camera_info_topic, image_path, image_topic
from hand_pose_ros.ros.conversions import ns_to_stamp, stamp_to_ns
from hand_pose_ros.ros.topics import POSE_TOPIC, resolved
from hand_pose_ros.tools.harness import NodeProcess, Recorder, RigPublisher, spinning_node, wait_until
from hand_pose_ros.tools.launch_spec import node_spec, ros_environment

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CAMERAS = 4
FRAME = 40  # both hands in view of most cameras
STARTUP_TIMEOUT_S = 120.0
OUTPUT_TIMEOUT_S = 30.0
POSE = resolved(POSE_TOPIC)


def test_compressed_jpeg_input_gives_hands(tmp_path, ros_env, monkeypatch):
    from sensor_msgs.msg import CompressedImage

    from hand_pose_ros.msg import HandPoseArray

    root = sample_dir()
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"hand_pose_node": {"ros__parameters": {
        "cameras": {"image_topics": [image_topic(f"cam{i}") + "/compressed" for i in range(CAMERAS)],
                    "camera_info_topics": [camera_info_topic(f"cam{i}") for i in range(CAMERAS)], "compressed": True},
        "extrinsics": {"calibration_file": str(root / "calibration.yaml")},
        "intrinsics": {"source": "file"},  # this test publishes images only
        "qos": {"reliability": "reliable"},
    }}}))
    jpegs = [image_path(root, f"cam{i}", FRAME).read_bytes() for i in range(CAMERAS)]
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:  # 8 MiB SHM here too (see test_node_dds)
        monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", ros_environment({})["FASTDDS_DEFAULT_PROFILES_FILE"])
    log = tmp_path / "node.log"
    with spinning_node("test_compressed_rig") as node:
        recorder = Recorder(node, {POSE: HandPoseArray})
        publisher = RigPublisher(node, [image_topic(f"cam{i}") + "/compressed" for i in range(CAMERAS)], [], image_type=CompressedImage)
        with NodeProcess(node_spec(params_file=params), env=ros_env, log_path=log) as proc:
            assert wait_until(lambda: not proc.alive() or (publisher.connected() and node.count_publishers(POSE) > 0), STARTUP_TIMEOUT_S)
            assert proc.alive(), log.read_text()[-3000:]
            stamp = node.get_clock().now().nanoseconds
            for pub, data in zip(publisher.images, jpegs):
                pub.publish(CompressedImage(header=_header(stamp, pub.topic_name), format="jpeg", data=data))
            assert wait_until(lambda: any(stamp_to_ns(r.message.header.stamp) == stamp for r in recorder.get(POSE)), OUTPUT_TIMEOUT_S)
            msg = next(r.message for r in recorder.get(POSE) if stamp_to_ns(r.message.header.stamp) == stamp)
            assert list(msg.camera_used) == [True] * CAMERAS
            assert len(msg.hands) >= 1
            assert proc.stop() == 0


def _header(stamp_ns: int, topic: str):
    from std_msgs.msg import Header

    return Header(stamp=ns_to_stamp(stamp_ns), frame_id=topic.split("/")[1] + "_optical_frame")
