"""Rendered datasets: exact ground truth, files in the documented format, determinism, the bag."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np
import pytest

from hand_pose_ros.calibration import load_calibration
from hand_pose_ros.dataset_layout import (
    EPOCH_NS, TF_STATIC_TOPIC, camera_info_topic, image_path, image_topic, read_images, stamp_ns,
)
from hand_pose_ros.handmodel import HandModel
from hand_pose_ros.synth.appearance import forearm_mesh, make_background, sample_appearance
from hand_pose_ros.synth.config import SynthConfig
from hand_pose_ros.synth.groundtruth import FOREARM_PART, face_parts, keypoint_visibility, project_points
from hand_pose_ros.synth.motion import make_motion
from hand_pose_ros.synth.renderer import HandRenderer, PosedHand, sample_lighting
from hand_pose_ros.synth.rig import LAYOUTS, WORKSPACE_CENTRE, make_rig
from hand_pose_ros.synth.writer import generate_dataset
from hand_pose_ros.timing import NS_PER_S

SMALL = SynthConfig(cameras=3, frames=4, hands=2, seed=7, width=320, height=240, distortion=True, bag=True)
EXACT_MM = 0.01  # the bound for project → triangulate round trips


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> pathlib.Path:
    return generate_dataset(tmp_path_factory.mktemp("synth") / "ds", SMALL)


def _ground_truth(directory: pathlib.Path) -> dict:
    return json.loads((directory / "ground_truth.json").read_text())


def _dlt(pixels: list[np.ndarray], cameras) -> np.ndarray:
    """(V, N, 2) undistorted-by-OpenCV pixels → (N, 3) by linear least squares (DLT)."""
    out = []
    for n in range(len(pixels[0])):
        rows = []
        for xy, cam in zip(pixels, cameras):
            P = cam.projection_matrix
            rows += [xy[n, 0] * P[2] - P[0], xy[n, 1] * P[2] - P[1]]
        _, _, vt = np.linalg.svd(np.asarray(rows))
        out.append(vt[-1, :3] / vt[-1, 3])
    return np.asarray(out)


def test_ground_truth_reprojects_and_triangulates_back_exactly(dataset: pathlib.Path) -> None:
    rig = load_calibration(dataset / "calibration.yaml")
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    for frame in _ground_truth(dataset)["frames"]:
        for hand in frame["hands"]:
            truth = np.asarray(hand["keypoints_3d"])
            ideal = []
            for cam in rig.cameras:
                distorted, _ = project_points(cam, truth)  # what a detector would see (lens included)
                undistorted = cv2.undistortPoints(distorted.reshape(-1, 1, 2), cam.camera_matrix, cam.distortion,
                                                  R=None, P=cam.camera_matrix, criteria=criteria)
                ideal.append(undistorted.reshape(-1, 2))
            error_mm = 1000 * np.linalg.norm(_dlt(ideal, rig.cameras) - truth, axis=1)
            assert error_mm.max() < EXACT_MM


def test_files_follow_the_documented_layout(dataset: pathlib.Path) -> None:
    rig = load_calibration(dataset / "calibration.yaml")
    assert rig.world_frame == "world"
    assert rig.names == ["cam0", "cam1", "cam2"]
    assert [c.frame_id for c in rig.cameras] == ["cam0_optical_frame", "cam1_optical_frame", "cam2_optical_frame"]
    truth = _ground_truth(dataset)
    assert truth["fps"] == 30.0 and truth["world_frame"] == "world" and truth["cameras"] == rig.names
    assert [f["frame"] for f in truth["frames"]] == [0, 1, 2, 3]
    for frame in truth["frames"]:
        assert frame["stamp"] == pytest.approx((EPOCH_NS + frame["frame"] * NS_PER_S / 30.0) / NS_PER_S, abs=1e-6)
        assert [h["handedness"] for h in frame["hands"]] == ["Left", "Right"] and [h["id"] for h in frame["hands"]] == [0, 1]
        for hand in frame["hands"]:
            assert np.asarray(hand["keypoints_3d"]).shape == (21, 3)
            assert set(hand["visible"]) == set(rig.names) and all(len(v) == 21 for v in hand["visible"].values())
        for cam in rig.cameras:
            image = cv2.imread(str(image_path(dataset, cam.name, frame["frame"])))
            assert image.shape == (240, 320, 3)
    meshes = np.load(dataset / "meshes.npz")
    assert meshes["vertices"].shape == (4, 2, 1360, 3) and meshes["faces"].shape == (2, 2314, 3)


def test_hands_are_where_the_cameras_see_them_well(dataset: pathlib.Path) -> None:
    """Distances 0.3–0.7 m, most keypoints inside the image and visible."""
    rig = load_calibration(dataset / "calibration.yaml")
    visible = []
    for frame in _ground_truth(dataset)["frames"]:
        for hand in frame["hands"]:
            for cam in rig.cameras:
                _, depth = project_points(cam, np.asarray(hand["keypoints_3d"]))
                assert 0.25 < depth.min() and depth.max() < 0.75
                visible += hand["visible"][cam.name]
    assert 0.5 < np.mean(visible) < 1.0  # some joints hidden by fingers or the other hand, most seen


def test_visible_keypoints_lie_just_under_the_rendered_skin() -> None:
    """Two independent views of the scene agree: ray-cast visibility and the renderer's depth."""
    rng = np.random.default_rng(3)
    model = HandModel.load("Right")
    rig = make_rig(num_cameras=4, rng=rng, width=320, height=240)
    track = make_motion(models=[model], num_frames=1, fps=30.0, rng=rng, centre=WORKSPACE_CENTRE)[0]
    posed = model(track.angles[0], track.roots[0])
    look = sample_appearance(rng)
    hand = PosedHand(vertices=posed.vertices, faces=model.faces, world_T_wrist=track.roots[0], appearance=look)
    backgrounds = [make_background(320, 240, rng) for _ in rig.cameras]
    with HandRenderer(rig=rig, backgrounds=backgrounds, lighting=sample_lighting(rng), rng=rng) as renderer:
        views = renderer.render([hand])
    arm_v, arm_f, sleeve_v, sleeve_f = forearm_mesh(look.sleeve_start_z)
    arm = np.concatenate([arm_v[arm_f], sleeve_v[sleeve_f]]) @ track.roots[0][:3, :3].T + track.roots[0][:3, 3]
    triangles = np.concatenate([posed.vertices[model.faces], arm])
    parts = np.concatenate([face_parts(model.mesh.skin_joints, model.mesh.skin_weights, model.faces), np.full(len(arm), FOREARM_PART)])
    seen_gaps, hidden_gaps = [], []
    for cam, view in zip(rig.cameras, views):
        visible = keypoint_visibility(cam, posed.keypoints[None], triangles, parts)[0]
        pixels, z = project_points(cam, posed.keypoints)
        u, v = np.round(pixels).astype(int).T
        inside = (u >= 0) & (u < 320) & (v >= 0) & (v < 240)
        surface = view.depth[v[inside], u[inside]]
        on_hand = surface > 0  # fingertips may project just past the silhouette
        gap = (z[inside] - surface)[on_hand]  # how far the seen surface is in front
        seen_gaps += gap[visible[inside][on_hand]].tolist()
        hidden_gaps += gap[~visible[inside][on_hand]].tolist()
    seen_gaps, hidden_gaps = np.array(seen_gaps), np.array(hidden_gaps)
    assert len(seen_gaps) >= 20  # this pose is a fist: its fingers hide many of their own joints
    assert np.all((seen_gaps > -0.005) & (seen_gaps < 0.03))  # under (or at) its own skin
    assert np.mean(hidden_gaps > 0.005) > 0.8  # something is in front of the hidden ones (or touches them)


def test_same_seed_same_dataset_other_seed_other(tmp_path: pathlib.Path) -> None:
    config = SynthConfig(cameras=2, frames=2, hands=1, seed=11, width=160, height=120, meshes=False)
    a = generate_dataset(tmp_path / "a", config)
    b = generate_dataset(tmp_path / "b", config)
    c = generate_dataset(tmp_path / "c", SynthConfig(cameras=2, frames=2, hands=1, seed=12, width=160, height=120, meshes=False))
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 2 + 4
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "images/cam0/000000.jpg").read_bytes() != (c / "images/cam0/000000.jpg").read_bytes()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_look_at_the_workspace(layout: str) -> None:
    rig = make_rig(num_cameras=6, layout=layout, rng=np.random.default_rng(0))
    for cam in rig.cameras:
        forward = cam.world_T_camera[:3, 2]
        to_centre = WORKSPACE_CENTRE - cam.world_T_camera[:3, 3]
        assert np.dot(forward, to_centre / np.linalg.norm(to_centre)) > 0.999
        assert 0.45 < np.linalg.norm(to_centre) < 0.6 and cam.world_T_camera[2, 3] > WORKSPACE_CENTRE[2]
    with pytest.raises(ValueError, match="layout must be one of.*ring"):
        make_rig(num_cameras=2, layout="circle", rng=np.random.default_rng(0))


def test_bag_round_trips_through_rosbags_and_mcap(dataset: pathlib.Path) -> None:
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    rig = load_calibration(dataset / "calibration.yaml")
    truth = _ground_truth(dataset)
    stamps = [stamp_ns(f["frame"], truth["fps"]) for f in truth["frames"]]
    expected_topics = {TF_STATIC_TOPIC} | {image_topic(c) for c in rig.names} | {camera_info_topic(c) for c in rig.names}

    typestore = get_typestore(Stores.ROS2_KILTED)
    seen_rosbags: dict[str, list] = {}
    with Reader(dataset / "bag") as reader:
        assert {c.topic for c in reader.connections} == expected_topics
        for conn, timestamp, raw in reader.messages():
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            seen_rosbags.setdefault(conn.topic, []).append((timestamp, msg))

    seen_mcap: dict[str, list] = {}
    with open(next((dataset / "bag").glob("*.mcap")), "rb") as handle:
        for _schema, channel, message, decoded in make_reader(handle, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            seen_mcap.setdefault(channel.topic, []).append((message.log_time, decoded))

    for seen in (seen_rosbags, seen_mcap):
        assert set(seen) == expected_topics
        (tf_time, tf), = seen[TF_STATIC_TOPIC]
        for transform, cam in zip(tf.transforms, rig.cameras):
            assert transform.header.frame_id == "world" and transform.child_frame_id == cam.frame_id
            t = transform.transform.translation
            np.testing.assert_allclose([t.x, t.y, t.z], cam.world_T_camera[:3, 3], atol=1e-12)
        for cam in rig.cameras:
            images, infos = seen[image_topic(cam.name)], seen[camera_info_topic(cam.name)]
            assert [t for t, _ in images] == stamps and [t for t, _ in infos] == stamps
            for (stamp, image), (_, info), frame in zip(images, infos, truth["frames"]):
                (on_disk,) = read_images(dataset, [cam.name], frame["frame"])
                header_ns = image.header.stamp.sec * NS_PER_S + image.header.stamp.nanosec
                assert header_ns == stamp and image.header.frame_id == info.header.frame_id == cam.frame_id
                assert image.encoding == "rgb8" and (image.height, image.width) == (240, 320)
                pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(240, 320, 3)
                np.testing.assert_array_equal(pixels, on_disk)
                np.testing.assert_allclose(np.asarray(info.k).reshape(3, 3), cam.camera_matrix)
                np.testing.assert_allclose(info.d, cam.distortion)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="SynthConfig.hands: expected 1 or 2, got 3"):
        SynthConfig(hands=3)
    with pytest.raises(ValueError, match="SynthConfig.layout: expected one of"):
        SynthConfig(layout="circle")


def test_sample_check_knows_current_from_stale(tmp_path: pathlib.Path) -> None:
    from hand_pose_ros.synth.sample import sample_is_current

    config = SynthConfig(cameras=1, frames=1, hands=1, seed=5, width=96, height=96, meshes=False)
    out = generate_dataset(tmp_path / "s", config)
    assert sample_is_current(out, config)
    assert not sample_is_current(out, SynthConfig(cameras=1, frames=1, hands=1, seed=6, width=96, height=96, meshes=False))
    (out / "calibration.yaml").unlink()
    assert not sample_is_current(out, config)


def test_the_bundled_sample_is_there_and_current() -> None:
    from hand_pose_ros.assets import sample_dir
    from hand_pose_ros.synth.sample import SAMPLE_CONFIG, sample_is_current

    directory = sample_dir()
    assert sample_is_current(directory), f"{directory} is stale: run ./dev setup"
    truth = _ground_truth(directory)
    assert len(truth["frames"]) == SAMPLE_CONFIG.frames and truth["cameras"] == ["cam0", "cam1", "cam2", "cam3"]
    assert (directory / "bag" / "metadata.yaml").exists()
