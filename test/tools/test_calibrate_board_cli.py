"""``hand-pose-ros calibrate board`` end to end with intrinsics estimated: rendered board images in
camera folders and the same images in a bag (one camera as Image, one as CompressedImage), the
world on a board (REP 103), the equidistant option; the YAML, the report and the plot."""

from __future__ import annotations

import pathlib
import sys

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from hand_pose_ros.calibration import load_calibration
from hand_pose_ros.calibration.board import BoardSpec
from hand_pose_ros.calibration.gauge import pose_difference
from hand_pose_ros.ros.image_conversion import rgb_to_image_fields
from hand_pose_ros.tools.bag_io import McapWriter
from hand_pose_ros.tools.cli import main

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "calibration"))
from board_scene import arc_rig, board_poses, render_board  # noqa: E402

SPEC = BoardSpec(squares=(7, 5), square_size_m=0.04, marker_size_m=0.03)
BOARD_ARGS = ["--squares", "7x5", "--square-size", "0.04", "--marker-size", "0.03", "--dictionary", "DICT_5X5_100"]
VIEWS = 12
LENS = ("plumb_bob", (-0.08, 0.05, 0.0, 0.0, 0.0))
# 12 views and 2 cameras (fewer than test/calibration/test_board.py's 24 and 3): the CLI's
# plumbing is under test here, its accuracy there.
CLI_DEG, CLI_MM = 0.1, 2.0
# Bag images are stamped at this start and interval (cameras triggered together).
START_NS, INTERVAL_NS = 1_000_000_000, 100_000_000


@pytest.fixture(scope="module")
def board_set(tmp_path_factory):
    """→ (tmp folder with images/<camera>/<NNN>.png and board.mcap, rig, world_T_board (B, 4, 4))."""
    tmp = tmp_path_factory.mktemp("board_cli")
    rng = np.random.default_rng(7)
    rig = arc_rig(2, rng, spread_deg=50.0, lenses=(LENS, LENS))
    poses = board_poses(rig, SPEC, VIEWS, rng, max_tilt_deg=30.0)
    images = render_board(rig, SPEC, poses, rng)
    with McapWriter(tmp / "board.mcap") as writer:
        for b, views in enumerate(images):
            stamp = START_NS + b * INTERVAL_NS
            header = Header(stamp=Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000), frame_id="")
            for v, name in enumerate(rig.names):
                (tmp / "images" / name).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(tmp / "images" / name / f"{stamp // 1_000_000}.png"), cv2.cvtColor(views[v], cv2.COLOR_RGB2BGR))
            writer.write("/cam0/image_raw", Image(header=header, **rgb_to_image_fields(images[b][0])), stamp)
            png = cv2.imencode(".png", cv2.cvtColor(images[b][1], cv2.COLOR_RGB2BGR))[1].tobytes()
            writer.write("/cam1/image_raw/compressed", CompressedImage(header=header, format="png", data=png), stamp)
    return tmp, rig, poses


def _errors(got, rig) -> tuple[np.ndarray, np.ndarray]:
    true = np.stack([c.camera_T_world @ rig.cameras[0].world_T_camera for c in rig.cameras])
    return pose_difference(np.stack([c.camera_T_world for c in got.cameras]), true)


def test_images_estimate_intrinsics_and_write_calibration_report_and_plot(board_set, capsys) -> None:
    tmp, rig, _ = board_set
    out = tmp / "from_images.yaml"
    assert main(["calibrate", "board", "--images", str(tmp / "images"), *BOARD_ARGS, "--out", str(out)]) == 0
    got = load_calibration(out)
    assert got.names == rig.names and got.world_frame == "cam0_optical_frame"
    angle, dist = _errors(got, rig)
    assert angle.max() < CLI_DEG and 1e3 * dist.max() < CLI_MM
    for cam, true in zip(got.cameras, rig.cameras):
        assert cam.distortion_model == "plumb_bob"
        assert abs(cam.camera_matrix[0, 0] / true.camera_matrix[0, 0] - 1) < 0.005
    report = out.with_suffix(".report.txt").read_text()
    for name in rig.names:
        # camera, images, with corners, corners, used, shared, rms, intrinsics rms, fx, terms
        row = next(line for line in report.splitlines() if line.startswith(name + " "))
        assert row.split()[1] == str(VIEWS) and "k1,k2" in row
    assert "cam0 – cam1:" in report
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert report in capsys.readouterr().err


def test_a_bag_of_image_and_compressed_topics_gives_the_same_calibration(board_set) -> None:
    tmp, rig, _ = board_set
    from_images, from_bag = tmp / "a.yaml", tmp / "b.yaml"
    assert main(["calibrate", "board", "--images", str(tmp / "images"), *BOARD_ARGS, "--out", str(from_images)]) == 0
    assert main(["calibrate", "board", "--bag", str(tmp / "board.mcap"), *BOARD_ARGS, "--out", str(from_bag)]) == 0
    a, b = load_calibration(from_images), load_calibration(from_bag)
    assert b.names == rig.names
    # Lossless images and the same pairing: the same corners, so the same solution to the
    # optimiser's convergence (measured: 1e-3 px apart in K).
    for ca, cb in zip(a.cameras, b.cameras):
        np.testing.assert_allclose(cb.camera_matrix, ca.camera_matrix, atol=0.01)
        np.testing.assert_allclose(cb.world_T_camera, ca.world_T_camera, atol=1e-5)
    report_a, report_b = (p.with_suffix(".report.txt").read_text().splitlines()[2:4] for p in (from_images, from_bag))
    assert [r.split()[:6] for r in report_a] == [r.split()[:6] for r in report_b]  # images, corners, views


def test_world_on_a_board_image_is_rep103(board_set) -> None:
    tmp, rig, poses = board_set
    out = tmp / "world.yaml"
    image = f"{(START_NS + 3 * INTERVAL_NS) // 1_000_000}.png"
    assert main(["calibrate", "board", "--images", str(tmp / "images"), *BOARD_ARGS,
                 "--world", f"board:{image}", "--out", str(out)]) == 0
    got = load_calibration(out)
    assert got.world_frame == "world"
    board_T_cam = np.linalg.inv(poses[3]) @ rig.cameras[0].world_T_camera
    expected = np.diag([1.0, -1.0, -1.0, 1.0]) @ board_T_cam  # REP 103: x = board x, z out of the print
    angle, dist = pose_difference(got.cameras[0].camera_T_world[None], np.linalg.inv(expected)[None])
    assert angle[0] < 0.2 and 1e3 * dist[0] < 3.0
    assert got.cameras[0].world_T_camera[2, 3] > 0.3  # the camera looks down at the board from above


def test_fisheye_option_writes_equidistant_cameras(board_set) -> None:
    tmp, _, _ = board_set
    out = tmp / "fisheye.yaml"
    assert main(["calibrate", "board", "--images", str(tmp / "images"), *BOARD_ARGS, "--fisheye", "--out", str(out)]) == 0
    got = load_calibration(out)
    assert [c.distortion_model for c in got.cameras] == ["equidistant"] * 2
    assert all(c.distortion.shape == (4,) for c in got.cameras)


def test_a_world_image_nobody_sees_is_refused(board_set, capsys) -> None:
    tmp, _, _ = board_set
    code = main(["calibrate", "board", "--images", str(tmp / "images"), *BOARD_ARGS, "--world", "board:nope.png",
                 "--out", str(tmp / "x.yaml")])
    assert code == 2
    assert "--world board:nope" in capsys.readouterr().err
    assert not (tmp / "x.yaml").exists()
