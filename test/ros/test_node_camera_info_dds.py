"""hand_pose_node with its intrinsics from CameraInfo (the default), across processes over real DDS.

The calibration file holds only each camera's name, frame_id and world_T_camera; the
intrinsics come from the sample bag's CameraInfo. Tests run in file order on one node:
images before any CameraInfo are held out, then sets flow and are accurate, then a changed
CameraInfo is applied and reported.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hand_pose_ros.calibration import load_calibration
from hand_pose_ros.ros.conversions import ns_to_stamp
from hand_pose_ros.ros.topics import POSE_TOPIC, resolved
from test_node_dds import (  # noqa: F401 (sample is a fixture)
    ACCURACY_MM,
    CAMERAS,
    FRAMES,
    NODE_TEST_PARAMETERS,
    Feeder,
    _values,
    hand_errors,
    node_rig,
    sample,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]

HELD_OUT_WAIT_S = 3.0  # a set goes through in ≤ ~2 s here: none in this long means none was made


@pytest.fixture(scope="module")
def feeder(sample, tmp_path_factory, ros_env):
    tmp = tmp_path_factory.mktemp("node_info")
    full = load_calibration(sample["calibration"])
    poses_only = tmp / "extrinsics_only.yaml"
    poses_only.write_text(yaml.safe_dump({"world_frame": full.world_frame, "cameras": [
        {"name": c.name, "frame_id": c.frame_id, "world_T_camera": c.world_T_camera.tolist()} for c in full.cameras
    ]}, sort_keys=False))
    with node_rig({
        "extrinsics": {"calibration_file": str(poses_only)},  # intrinsics.source: camera_info by default
        **NODE_TEST_PARAMETERS,
    }, tmp, ros_env) as rig:
        yield Feeder(rig, sample)


def test_images_wait_for_the_first_camera_info(feeder):
    stamp = feeder.publish(0, with_info=False)
    status = feeder.next_diagnostics("hand_pose_node: camera cam1", "waiting for camera_info on /cam1/camera_info")
    assert status is not None, "no 'waiting for camera_info' in /diagnostics"
    rec = feeder.rig["rec"]
    assert not [r for r in rec.get(resolved(POSE_TOPIC)) if r.message.header.stamp.sec == stamp // 10**9
                and r.message.header.stamp.nanosec == stamp % 10**9]


def test_hands_from_camera_info_intrinsics_are_accurate(feeder, sample):
    feeder.publish(0)  # each camera's image goes out before its CameraInfo: this set is held out
    for cam in range(CAMERAS):
        K = sample["frames"][0][cam][1].k
        assert feeder.next_diagnostics(f"hand_pose_node: camera cam{cam}", f"fx {K[0]:.2f}") is not None
    errors = []
    for frame in range(FRAMES):
        msg = feeder.wait_pose(feeder.publish(frame))
        assert msg is not None, f"no /hands/pose for frame {frame}:\n{feeder.rig['log'].read_text()[-2000:]}"
        assert list(msg.camera_used) == [True] * CAMERAS
        errors.extend(hand_errors(msg, sample["truth"][frame]))
    assert len(errors) >= FRAMES
    assert np.median(errors) * 1e3 < ACCURACY_MM
    status = feeder.next_diagnostics("hand_pose_node: camera cam0")
    assert "waiting" not in status.message and _values(status)["Intrinsics"].startswith("640x480 fx ")


def test_a_changed_camera_info_is_applied_and_reported(feeder, sample):
    """cam2's CameraInfo with a focal length 1.5 times the true one: the node takes it (and
    says so in /diagnostics and the log) before the next set; the true one is taken back."""
    info = sample["frames"][2][2][1]
    k = np.asarray(info.k, np.float64).copy()
    k[0] *= 1.5
    k[4] *= 1.5
    frame = 2
    image_msgs = sample["frames"][frame]
    stamp = feeder.rig["clock"].now().nanoseconds
    from sensor_msgs.msg import CameraInfo

    bad = CameraInfo(header=info.header, width=info.width, height=info.height, distortion_model=info.distortion_model,
                     d=list(info.d), k=k.tolist(), r=list(info.r), p=list(info.p))
    bad.header.stamp = ns_to_stamp(stamp)
    feeder.rig["pub"].infos[2].publish(bad)
    status = feeder.next_diagnostics("hand_pose_node: camera cam2", f"fx {k[0]:.2f}")
    assert status is not None, "the changed CameraInfo is not reported in /diagnostics"
    assert "CameraInfo changed" in feeder.rig["log"].read_text()
    # The images of the same set go out with the changed intrinsics applied.
    for cam in range(CAMERAS):
        image_msgs[cam][0].header.stamp = ns_to_stamp(stamp)
        feeder.rig["pub"].images[cam].publish(image_msgs[cam][0])
    assert feeder.wait_pose(stamp) is not None
    feeder.publish(frame)  # the true CameraInfo again
    assert feeder.next_diagnostics("hand_pose_node: camera cam2", f"fx {info.k[0]:.2f}") is not None
