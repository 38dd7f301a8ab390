"""The real-recording converters and ``bench real`` (skipped where ../shared/data/real is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.fusion import CameraArray
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.tools.datasets import RealDataMissing, real_data_dir

try:
    DATA = real_data_dir()
except RealDataMissing as exc:
    DATA, REASON = None, str(exc)
else:
    REASON = ""
needs_data = pytest.mark.skipif(DATA is None, reason=REASON)

# The recovered calibration reproduces DexYCB's own projection of its joints this closely (px):
# the labels were made with one pinhole calibration, which the least squares recovers.
_REPROJECTION_TOLERANCE_PX = 0.01
_FRAMES = (0, 36)


@pytest.fixture(scope="module")
def sequence():
    from hand_pose_ros.tools.bench.real import DEXYCB_SEQUENCE
    from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence

    return DexYCBSequence(DATA / DEXYCB_SEQUENCE)


@needs_data
def test_dexycb_calibration_reprojects_the_labels(sequence):
    cams = CameraArray.from_rig(sequence.rig)
    assert len(sequence.rig) == 8
    assert np.allclose(sequence.rig.cameras[0].world_T_camera, np.eye(4), atol=1e-9)  # world = first camera
    frames = list(sequence.frames(_FRAMES))
    for frame in frames:
        assert len(frame.images) == 8 and frame.images[0].shape == (480, 640, 3)
        assert frame.labelled.any() and frame.handedness == Handedness.RIGHT
        projected = cams.project(frame.joints_world)  # (8, 21, 2)
        error = np.linalg.norm(projected - frame.joints_2d, axis=-1)[frame.labelled]
        assert error.max() < _REPROJECTION_TOLERANCE_PX, error.max()
    # The hand moves between the two instants: the check is not of one pose twice.
    assert np.linalg.norm(frames[0].joints_world - frames[1].joints_world, axis=-1).mean() > 0.01


@needs_data
def test_dexycb_camera_subset_keeps_the_world_frame(sequence):
    from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence

    serials = sequence.serials[3:5]
    subset = DexYCBSequence(sequence.path, cameras=serials)
    assert subset.rig.names == serials
    for name in serials:
        assert np.allclose(subset.rig[name].world_T_camera, sequence.rig[name].world_T_camera)
    frame = next(subset.frames([_FRAMES[0]]))
    assert np.allclose(frame.joints_world, next(sequence.frames([_FRAMES[0]])).joints_world)
    with pytest.raises(ValueError, match="not in meta.yml"):
        DexYCBSequence(sequence.path, cameras=["nope"])


@needs_data
def test_interhand_ground_truth_projects_onto_the_reference_hand():
    """The converted GT of the one image where MediaPipe's own solution finds a hand lands on it."""
    import json

    from hand_pose_ros.tools.datasets.interhand import load_interhand

    folder = DATA / "interhand26m_mmpose"
    reference = json.loads((folder / "reference_mediapipe_0.10.21.json").read_text())["images"]
    items = list(load_interhand(folder))
    assert sum(len(i.hands) for i in items) == 6
    checked = 0
    for item in items:
        cams = CameraArray.from_rig(item.rig)
        for ref in reference[item.name]["hands"]:
            keypoints = np.array(ref["keypoints_2d"])
            distances = [np.median(np.linalg.norm(cams.project(k)[0] - keypoints, axis=-1)) for _, k in item.hands]
            assert min(distances) < 15.0  # px: MediaPipe's keypoints vs InterHand's joints
            checked += 1
    assert checked >= 1


@needs_data
def test_bench_real_runs_on_two_frames(capsys):
    from hand_pose_ros.tools.cli import main

    assert main(["bench", "real", "--datasets", "dexycb", "--subsets", "2", "--frames", "2"]) == 0
    out = capsys.readouterr().out
    assert "DexYCB 2 cameras" in out and "Per-joint MPJPE" in out


@needs_data
def test_bench_real_per_instant_lists_each_scored_instant(capsys):
    from hand_pose_ros.tools.bench.real import DEXYCB_TWO
    from hand_pose_ros.tools.cli import main

    assert main(["bench", "real", "--datasets", "dexycb", "--subsets", "2", "--frames", "6", "--per-instant"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:3] == ["instant", "MPJPE", "views"])
    assert lines[start].split()[3:] == [serial[-6:] for serial in DEXYCB_TWO]
    rows = [line.split() for line in lines[start + 1: start + 7]]
    assert [int(row[0]) for row in rows] == list(range(6))
    # Each camera's cell: a px error, 'miss' (labelled there, not found) or '.' (not in view).
    cells = [cell for row in rows for cell in row[-2:]]
    assert all(cell in (".", "miss") or float(cell) < 30 for cell in cells)
    # The reaching hand is found in 3D at some of these instants, with an error in mm.
    errors = [float(row[1]) for row in rows if row[1] != "-"]
    assert errors and all(0 < e < 300 for e in errors)


@needs_data
def test_dexycb_depth_makes_one_camera_metric(sequence):
    """Real aligned depth (holes, the bottle, the other fingers) on one camera: the labels'
    2D joints with a hand shape 20 % too large (MediaPipe's metric size misses by that much)
    land at the wrong distance without depth and within 15 mm with it."""
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence
    from hand_pose_ros.types import HandDetection2D

    indices = sequence.depth_indices()
    assert indices == list(range(0, 72, 6))
    serial = "836212060125"  # sees the hand at every depth instant
    one = DexYCBSequence(sequence.path, cameras=[serial])
    camera_T_world = one.rig.cameras[0].camera_T_world
    errors = {False: [], True: []}
    for use_depth in (False, True):
        fusion = MultiViewFusion(one.rig, FusionConfig(filter="none"))
        for frame in one.frames(indices):
            if not frame.labelled[0]:
                continue
            depth = frame.depths[0]
            assert depth.dtype == np.float32 and depth.shape == (480, 640) and np.isnan(depth).any()
            joints_camera = frame.joints_world @ camera_T_world[:3, :3].T + camera_T_world[:3, 3]
            detection = HandDetection2D(keypoints_2d=frame.joints_2d[0], keypoint_scores=np.full(21, 0.9),
                                        handedness=Handedness.RIGHT, handedness_score=0.9, presence=1.0,
                                        world_landmarks=1.2 * (joints_camera - joints_camera.mean(0)))
            hands = fusion.process([[detection]], frame.index / 30.0, depths=[depth] if use_depth else None)
            assert len(hands) == 1
            errors[use_depth].append(np.linalg.norm(hands[0].keypoints_3d - frame.joints_world, axis=-1).mean())
    without, with_depth = np.median(errors[False]), np.median(errors[True])
    assert without > 0.08 and with_depth < 0.015, (without, with_depth)  # seen: 154 mm and 5.7 mm


def test_bench_real_takes_detector_settings_and_refuses_other_sections():
    import argparse

    from hand_pose_ros.tools.bench.real import _detector, _settings, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--set", "detector.min_detection_confidence=0.6", "--set", "fusion.filter=none"])
    assert _settings(args)["detector"] == ["detector.min_detection_confidence=0.6"]
    detector = _detector(args)
    assert detector.config.min_detection_confidence == 0.6 and detector.config.num_threads == 1
    with pytest.raises(ValueError, match=r"--set mesh.model=none: bench real changes detector\.\*, fusion\.\*"):
        _settings(parser.parse_args(["--set", "mesh.model=none"]))
