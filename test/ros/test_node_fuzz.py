"""Fuzz over real DDS: good 4-camera sets interleaved with malformed Image, CompressedImage and
CameraInfo messages and stamp games, in raw and compressed mode.

The node must stay alive, answer at least ``MIN_GOOD_FRACTION`` of the good sets, count every
bad message under its camera on /diagnostics (exactly: no bad one missed, no good one refused)
and catch none of them at the callback boundary (each is a clean, per-camera refusal). A
best-effort camera publisher and a transient-local /hands/pose listener join too: both QoS
mismatches are reported on /diagnostics, naming the topic and the policy.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import yaml

from hand_pose_ros.assets import sample_dir
from hand_pose_ros.calibration import load_calibration
from hand_pose_ros.ros.conversions import ns_to_stamp, stamp_to_ns
from hand_pose_ros.ros.image_conversion import rgb_to_image_fields
from hand_pose_ros.tools.fuzz_messages import CAMERA_INFO_KINDS, COMPRESSED_KINDS, IMAGE_KINDS, STAMP_KINDS
from hand_pose_ros.tools.harness import NodeProcess, Recorder, RigPublisher, spin_in_background, wait_until
from hand_pose_ros.tools.launch_spec import node_spec, ros_environment

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CAMERAS = 4
GOOD_SETS = 20
SAMPLE_FRAMES = range(40, 60, 4)  # both hands in view of most cameras; cycled
MIN_GOOD_FRACTION = 0.95  # the bound
MIN_KINDS = 20  # the issue asks for at least 20 kinds of malformed message per mode
STARTUP_TIMEOUT_S = 120.0  # onnxruntime + weights + warm-up on a busy 2-core machine
OUTPUT_TIMEOUT_S = 30.0
COUNT_TIMEOUT_S = 15.0  # for /diagnostics to show the final counts (published every 0.5 s)


def _good_messages(mode: str, calibration) -> tuple[list[list], list]:
    """Per sample frame, per camera: a good Image or CompressedImage; per camera a good CameraInfo."""
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image

    root = sample_dir() / "images"
    frames = []
    for k in SAMPLE_FRAMES:
        views = []
        for cam in range(CAMERAS):
            path = root / f"cam{cam}" / f"{k:06d}.jpg"
            if mode == "compressed":
                views.append(CompressedImage(format="jpeg", data=path.read_bytes()))
            else:
                views.append(Image(**rgb_to_image_fields(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))))
        frames.append(views)
    infos = []
    for c in calibration.cameras:
        K = c.camera_matrix
        infos.append(CameraInfo(width=c.width, height=c.height, distortion_model=c.distortion_model, d=c.distortion.tolist(),
                                k=K.reshape(-1).tolist(), r=np.eye(3).reshape(-1).tolist(),
                                p=np.hstack([K, np.zeros((3, 1))]).reshape(-1).tolist()))
    return frames, infos


def _schedule(mode: str) -> list[tuple[str, str]]:
    """(topic kind, malformed kind) for every bad message: images (raw or compressed), stamp
    games, CameraInfo."""
    images = IMAGE_KINDS if mode == "raw" else COMPRESSED_KINDS
    return [("image", k) for k in images] + [("stamp", k) for k in STAMP_KINDS] + [("info", k) for k in CAMERA_INFO_KINDS]


def _camera_counts(diagnostics) -> dict[str, tuple[int, int]] | None:
    """camera name → (images rejected, CameraInfo rejected) in the latest /diagnostics."""
    if not diagnostics:
        return None
    out = {}
    for status in diagnostics[-1].message.status:
        if ": camera " in status.name:
            values = {kv.key: kv.value for kv in status.values}
            out[status.name.rsplit(" ", 1)[-1]] = (int(values["Images rejected"]), int(values["CameraInfo rejected"]))
    return out


def _status_values(diagnostics, suffix: str) -> dict[str, str]:
    status = next(s for s in diagnostics[-1].message.status if s.name.endswith(suffix))
    return {kv.key: kv.value for kv in status.values}


@pytest.mark.parametrize("mode", ["raw", "compressed"])
def test_malformed_inputs_never_stop_the_node_and_are_counted_per_camera(mode, tmp_path, ros_env, monkeypatch):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage
    from std_msgs.msg import Header

    from hand_pose_ros.msg import HandPoseArray

    calibration_file = sample_dir() / "calibration.yaml"
    rig = load_calibration(calibration_file)
    suffix = "/compressed" if mode == "compressed" else ""
    image_topics = [f"/cam{i}/image_raw{suffix}" for i in range(CAMERAS)]
    info_topics = [f"/cam{i}/camera_info" for i in range(CAMERAS)]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"hand_pose_node": {"ros__parameters": {
        "cameras": {"image_topics": image_topics, "camera_info_topics": info_topics, "compressed": mode == "compressed"},
        "extrinsics": {"calibration_file": str(calibration_file)},
        "intrinsics": {"source": "file"},  # bad CameraInfo is checked against the file's
        "qos": {"reliability": "reliable", "depth": 10},
        "sync": {"slop": 0.005, "partial_timeout": 1.0},
        "mesh": {"model": "none"},  # the fuzz is about the inputs: skip the mesh fit
        "publish": {"diagnostics_period": 0.5, "markers": False},
    }}}))
    frames, infos = _good_messages(mode, rig)
    schedule = _schedule(mode)
    assert len(schedule) >= MIN_KINDS
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:  # 8 MiB SHM for 921 KB images (see test_node_dds)
        monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", ros_environment({})["FASTDDS_DEFAULT_PROFILES_FILE"])
    rclpy.init()
    node = rclpy.create_node(f"test_fuzz_{mode}")
    executor, thread = spin_in_background(node)
    log = tmp_path / "node.log"
    try:
        recorder = Recorder(node, {"/hands/pose": HandPoseArray, "/diagnostics": DiagnosticArray})
        pub = RigPublisher(node, image_topics, info_topics, image_type=CompressedImage if mode == "compressed" else None)
        clock = node.get_clock()
        # Peers whose QoS the node's endpoints cannot match (nothing flows between them).
        node.create_publisher(CompressedImage if mode == "compressed" else type(frames[0][0]), image_topics[0],
                              QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        node.create_subscription(HandPoseArray, "/hands/pose", lambda msg: None,
                                 QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        with NodeProcess(node_spec(params_file=params), env=ros_env, log_path=log) as proc:
            up = wait_until(lambda: not proc.alive() or (pub.connected() and node.count_publishers("/hands/pose") > 0), STARTUP_TIMEOUT_S)
            assert up and proc.alive(), f"node did not start:\n{log.read_text()[-3000:]}"
            expected = {c.name: [0, 0] for c in rig.cameras}
            answered, last_good = 0, 0
            for g in range(GOOD_SETS):
                stamp = clock.now().nanoseconds
                for cam in range(CAMERAS):
                    image = frames[g % len(frames)][cam]
                    image.header = Header(stamp=ns_to_stamp(stamp), frame_id=rig[cam].frame_id)
                    pub.images[cam].publish(image)
                    infos[cam].header = Header(stamp=ns_to_stamp(stamp), frame_id=rig[cam].frame_id)
                    pub.infos[cam].publish(infos[cam])
                last_good = stamp
                # Then this set's share of bad messages, each on the next camera in turn.
                for b in range(g, len(schedule), GOOD_SETS):
                    topic_kind, kind = schedule[b]
                    cam = b % CAMERAS
                    good_image = frames[g % len(frames)][cam]
                    now = clock.now().nanoseconds
                    if topic_kind == "info":
                        bad = CAMERA_INFO_KINDS[kind](infos[cam])
                        bad.header = Header(stamp=ns_to_stamp(now), frame_id=rig[cam].frame_id)
                        pub.infos[cam].publish(bad)
                        expected[rig[cam].name][1] += 1
                        continue
                    if topic_kind == "stamp":
                        bad, bad_stamp = good_image, STAMP_KINDS[kind](last_good, now)
                    else:
                        bad, bad_stamp = (IMAGE_KINDS if mode == "raw" else COMPRESSED_KINDS)[kind](good_image), now
                    bad.header = Header(stamp=ns_to_stamp(bad_stamp), frame_id=rig[cam].frame_id)
                    pub.images[cam].publish(bad)
                    expected[rig[cam].name][0] += 1
                answered += wait_until(
                    lambda: any(stamp_to_ns(r.message.header.stamp) == stamp for r in recorder.get("/hands/pose")), OUTPUT_TIMEOUT_S)
                assert proc.alive(), f"the node died:\n{log.read_text()[-3000:]}"
            want = {name: tuple(v) for name, v in expected.items()}
            counted = wait_until(lambda: _camera_counts(recorder.get("/diagnostics")) == want, COUNT_TIMEOUT_S)
            diagnostics = recorder.get("/diagnostics")
            assert counted, f"per-camera (images rejected, CameraInfo rejected): {_camera_counts(diagnostics)}, sent {want}"
            assert sum(sum(v) for v in want.values()) == len(schedule)
            assert answered >= MIN_GOOD_FRACTION * GOOD_SETS, f"{answered}/{GOOD_SETS} good sets answered"
            assert _status_values(diagnostics, "callbacks")["Callback errors"] == "0", "a bad message got past the checks"
            assert _status_values(diagnostics, "processing")["Processing errors"] == "0"
            qos = _status_values(diagnostics, "QoS")
            assert "RELIABILITY" in qos.get(f"{image_topics[0]} (subscription)", ""), qos
            assert "DURABILITY" in qos.get("/hands/pose (publisher)", ""), qos
            assert proc.alive(), f"the node died:\n{log.read_text()[-3000:]}"
            assert proc.stop() == 0, log.read_text()[-3000:]
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        thread.join(5)
