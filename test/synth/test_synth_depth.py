"""The RealSense-like depth model (``synth.depth``) on scenes with known geometry, and the
synthetic dataset's aligned depth files and bag topics (``synth --depth``)."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np
import pytest

from hand_pose_ros.calibration import load_calibration
from hand_pose_ros.dataset_layout import depth_path, depth_topic, image_topic, stamp_ns
from hand_pose_ros.fusion.depth import depth_from_millimetres
from hand_pose_ros.synth.config import SynthConfig
from hand_pose_ros.synth.depth import (
    DepthNoiseConfig, depth_noise_stddev, depth_to_millimetres, realsense_depth, wall_depth,
)
from hand_pose_ros.synth.groundtruth import project_points
from hand_pose_ros.synth.writer import generate_dataset

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
H, W = 480, 640
STD_TOLERANCE = 0.1  # relative; ≥ 10^4 correlated samples per estimate
NO_DROPOUT = DepthNoiseConfig(dropout_probability=0.0)


def test_noise_grows_quadratically_with_distance_with_the_d435_numbers():
    sigma = depth_noise_stddev(np.array([0.5, 1.0, 2.0]))
    np.testing.assert_allclose(sigma, np.array([0.25, 1.0, 4.0]) * 0.08 / (382.0 * 0.05))
    assert 0.9e-3 < sigma[0] < 1.2e-3 and sigma[2] / 2.0 < 0.02  # datasheet: < 2 % at 2 m


@pytest.mark.parametrize("distance_m", [0.5, 1.5])
def test_a_flat_wall_has_the_modelled_spread_and_only_dropout_holes(distance_m):
    measured = realsense_depth(np.zeros((H, W)), K, np.random.default_rng(1), background_m=distance_m)
    assert measured.dtype == np.float32 and measured.shape == (H, W)
    error = measured - distance_m
    assert abs(np.nanmean(error)) < 0.1 * depth_noise_stddev(distance_m)
    assert np.nanstd(error) == pytest.approx(depth_noise_stddev(distance_m), rel=STD_TOLERANCE)
    assert np.isnan(measured).mean() == pytest.approx(DepthNoiseConfig().dropout_probability, rel=0.3)
    # Correlated like a stereo matcher's output: neighbours share much of their error.
    filled = np.nan_to_num(error)
    assert np.corrcoef(filled[:, 1:].ravel(), filled[:, :-1].ravel())[0, 1] > 0.5


def test_a_near_block_casts_its_occlusion_shadow_to_its_left_and_loses_its_edges():
    clean = np.zeros((H, W))
    clean[200:300, 300:400] = 0.5  # a 0.5 m block before a wall at 1.1 m
    measured = realsense_depth(clean, K, np.random.default_rng(2), background_m=1.1, config=NO_DROPOUT)
    width_px = K[0, 0] * 0.05 * (1 / 0.5 - 1 / 1.1)  # f·b·(1/z_near − 1/z_far) ≈ 27 px
    rows = measured[210:290]
    shadow = np.isnan(rows[:, 300 - int(width_px) + 1: 299]).mean()  # inside the band (edge columns aside)
    assert shadow == 1.0
    assert np.isnan(rows[:, 300 - int(width_px) - 3: 300 - int(width_px) - 1]).mean() < 0.05  # band ends there
    assert np.isnan(rows[:, 401:420]).mean() < 0.05  # nothing on the right side
    edge_columns = np.isnan(measured[210:290, [300, 399]]).mean()
    # Edge pixels are holes by the edge rule (0.5) or, their depth gradient spanning the jump,
    # as grazing (0.8): 1 − 0.5 · 0.2 = 0.9 of them, not all.
    cfg = DepthNoiseConfig()
    expected = 1 - (1 - cfg.edge_hole_probability) * (1 - cfg.grazing_hole_probability)
    assert edge_columns == pytest.approx(expected, abs=0.08) and edge_columns < 1.0
    assert np.isnan(measured[210:290, 310:390]).mean() == 0.0  # the block's face is measured
    np.testing.assert_allclose(np.nanmean(measured[210:290, 310:390]), 0.5, atol=3e-4)


@pytest.mark.parametrize("tilt_deg, holes", [(45.0, (0.0, 0.01)), (82.0, (0.7, 0.9))])
def test_surfaces_seen_at_grazing_angles_are_holes(tilt_deg, holes):
    """A plane through (0, 0, 0.8 m) tilted about the camera's y axis by ``tilt_deg``."""
    u = np.arange(W, dtype=np.float64)[None, :].repeat(H, 0)
    x_over_z = (u - K[0, 2]) / K[0, 0]
    slope = np.tan(np.radians(tilt_deg))  # z = 0.8 + slope · x  →  z = 0.8 / (1 − slope · x/z)
    z = 0.8 / (1.0 - slope * x_over_z)
    inside = (z > 0.3) & (z < 3.0)
    clean = np.where(inside, z, 0.0)
    measured = realsense_depth(clean, K, np.random.default_rng(3), background_m=3.5, config=NO_DROPOUT)
    centre = np.isnan(measured[100:380, 300:340])  # on the plane, away from its ends
    assert holes[0] <= centre.mean() <= holes[1]


def test_out_of_range_is_not_measured_and_same_seed_same_map():
    clean = np.full((60, 80), 0.15)  # nearer than min-Z
    clean[:, 40:] = 0.0  # the wall beyond max range
    measured = realsense_depth(clean, K, np.random.default_rng(4), background_m=7.0)
    assert np.isnan(measured).all()
    a = realsense_depth(np.full((60, 80), 0.6), K, np.random.default_rng(5), background_m=1.0)
    b = realsense_depth(np.full((60, 80), 0.6), K, np.random.default_rng(5), background_m=1.0)
    np.testing.assert_array_equal(a, b)


def test_millimetres_round_trip_and_refuse_what_16_bits_cannot_hold():
    depth = np.array([[0.4004, np.nan], [65.535, 1.0]], np.float32)
    mm = depth_to_millimetres(depth)
    assert mm.dtype == np.uint16 and mm.tolist() == [[400, 0], [65535, 1000]]
    back = depth_from_millimetres(mm)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(depth))
    np.testing.assert_allclose(back[~np.isnan(back)], depth[~np.isnan(depth)], atol=5e-4)
    with pytest.raises(ValueError, match="1..65535 mm"):
        depth_to_millimetres(np.array([[70.0]]))


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="DepthNoiseConfig.dropout_probability"):
        DepthNoiseConfig(dropout_probability=1.5)
    with pytest.raises(ValueError, match="DepthNoiseConfig.max_depth_m"):
        DepthNoiseConfig(min_depth_m=2.0, max_depth_m=1.0)
    with pytest.raises(ValueError, match="clean_m must be"):
        realsense_depth(np.zeros(5), K, np.random.default_rng(0), background_m=1.0)


# --- the dataset ---------------------------------------------------------------------------------------

DEPTH_SET = SynthConfig(cameras=2, frames=2, hands=2, seed=11, width=320, height=240, distortion=True, bag=True, depth=True)
SURFACE_GAP_M = (-0.005, 0.03)  # a seen keypoint lies under its skin (test_synth_dataset's bound) ± noise


@pytest.fixture(scope="module")
def depth_dataset(tmp_path_factory) -> pathlib.Path:
    return generate_dataset(tmp_path_factory.mktemp("synth_depth") / "ds", DEPTH_SET)


def test_depth_files_are_aligned_to_the_colour_images(depth_dataset):
    rig = load_calibration(depth_dataset / "calibration.yaml")
    truth = json.loads((depth_dataset / "ground_truth.json").read_text())
    gaps = []
    for frame in truth["frames"]:
        for cam in rig.cameras:
            mm = cv2.imread(str(depth_path(depth_dataset, cam.name, frame["frame"])), cv2.IMREAD_UNCHANGED)
            assert mm.dtype == np.uint16 and mm.shape == (240, 320)
            depth = depth_from_millimetres(mm)
            # The wall is where the hands are not, at its modelled distance.
            assert np.nanmedian(depth) == pytest.approx(wall_depth(cam, np.array([0.0, 0.0, 1.0])), abs=0.01)
            for hand in frame["hands"]:
                points = np.asarray(hand["keypoints_3d"])
                pixels, z = project_points(cam, points)  # distorted, as the colour image
                u, v = np.round(pixels).astype(int).T
                seen = np.asarray(hand["visible"][cam.name]) & (u >= 0) & (u < 320) & (v >= 0) & (v < 240)
                surface = depth[v[seen], u[seen]]
                gaps += (z[seen] - surface)[np.isfinite(surface)].tolist()
    gaps = np.array(gaps)
    assert len(gaps) >= 20
    # Keypoints sit just under the measured skin; distortion not applied to depth would miss by cm.
    assert np.mean((gaps > SURFACE_GAP_M[0]) & (gaps < SURFACE_GAP_M[1])) > 0.8


def test_the_bag_carries_16uc1_depth_topics_equal_to_the_files(depth_dataset):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    rig = load_calibration(depth_dataset / "calibration.yaml")
    typestore = get_typestore(Stores.ROS2_KILTED)
    seen: dict[str, list] = {}
    with Reader(depth_dataset / "bag") as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        for conn, timestamp, raw in reader.messages():
            if conn.topic.endswith("aligned_depth_to_color/image_raw"):
                seen.setdefault(conn.topic, []).append((timestamp, typestore.deserialize_cdr(raw, conn.msgtype)))
    for cam in rig.cameras:
        assert topics[depth_topic(cam.name)] == "sensor_msgs/msg/Image" and image_topic(cam.name) in topics
        messages = seen[depth_topic(cam.name)]
        assert [t for t, _ in messages] == [stamp_ns(f, DEPTH_SET.fps) for f in range(DEPTH_SET.frames)]
        for frame, (stamp, msg) in enumerate(messages):
            assert msg.encoding == "16UC1" and msg.header.frame_id == cam.frame_id and msg.step == 2 * 320
            assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp
            on_disk = cv2.imread(str(depth_path(depth_dataset, cam.name, frame)), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(np.frombuffer(bytes(msg.data), "<u2").reshape(240, 320), on_disk)


def test_depth_leaves_the_colour_images_and_ground_truth_unchanged(depth_dataset, tmp_path):
    import dataclasses

    plain = generate_dataset(tmp_path / "plain", dataclasses.replace(DEPTH_SET, depth=False, bag=False))
    assert not (plain / "depth").exists()
    for cam in ("cam0", "cam1"):
        for frame in range(DEPTH_SET.frames):
            name = f"images/{cam}/{frame:06d}.jpg"
            assert (plain / name).read_bytes() == (depth_dataset / name).read_bytes()
    strip = lambda d: {k: v for k, v in d.items() if k != "generator"}  # noqa: E731
    assert strip(json.loads((plain / "ground_truth.json").read_text())) == strip(json.loads((depth_dataset / "ground_truth.json").read_text()))
