"""Two-hand motion: smooth trajectories, hands crossing over and touching, within the limits."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.handmodel import JOINT_LIMITS, HandModel
from hand_pose_ros.keypoints import Handedness, HandKeypoint
from hand_pose_ros.synth.motion import MIN_SECONDS_FOR_CROSSING, make_motion
from hand_pose_ros.synth.rig import WORKSPACE_CENTRE

FPS = 30.0
# A hand moving at 1.5 m/s (a brisk gesture) covers 5 cm per frame at 30 fps.
MAX_STEP_M = 0.05


@pytest.fixture(scope="module")
def scene():
    models = [HandModel.load("Left"), HandModel.load("Right")]
    frames = int(4.0 * FPS)
    tracks = make_motion(models=models, num_frames=frames, fps=FPS, rng=np.random.default_rng(5), centre=WORKSPACE_CENTRE)
    keypoints = [m(t.angles, t.roots, skin=False).keypoints for m, t in zip(models, tracks)]  # each (T, 21, 3)
    return models, tracks, keypoints


def test_tracks_are_smooth_and_within_limits(scene) -> None:
    _, tracks, keypoints = scene
    for track, points in zip(tracks, keypoints):
        assert np.all(track.angles >= JOINT_LIMITS[..., 0] - 1e-9) and np.all(track.angles <= JOINT_LIMITS[..., 1] + 1e-9)
        steps = np.linalg.norm(np.diff(points, axis=0), axis=-1)  # (T-1, 21)
        assert steps.max() < MAX_STEP_M
        rotations = track.roots[:, :3, :3]
        np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rotations.shape), atol=1e-9)


def test_hands_cross_over_and_touch(scene) -> None:
    models, tracks, keypoints = scene
    assert [m.handedness for m in models] == [Handedness.LEFT, Handedness.RIGHT]
    left_y = keypoints[0][:, HandKeypoint.WRIST, 1]
    right_y = keypoints[1][:, HandKeypoint.WRIST, 1]
    side = np.sign(left_y - right_y)  # REP 103: +y is the person's left
    assert side[0] > 0 and side[-1] > 0 and np.any(side < 0)  # they swap sides and back
    gaps = np.linalg.norm(keypoints[0][:, :, None] - keypoints[1][:, None], axis=-1).min(axis=(1, 2))  # (T,)
    assert np.sum(np.abs(gaps - 0.018) < 0.001) >= 5  # skin contact for a while (keypoints ~9 mm under the skin)
    assert np.median(gaps) > 0.03  # but mostly apart
    assert gaps.min() > 0.005  # and never through each other


def test_short_sequences_only_wander(scene) -> None:
    models, _, _ = scene
    frames = int((MIN_SECONDS_FOR_CROSSING - 1.0) * FPS)
    tracks = make_motion(models=models, num_frames=frames, fps=FPS, rng=np.random.default_rng(1), centre=WORKSPACE_CENTRE)
    left, right = (t.roots[:, 1, 3] for t in tracks)
    assert np.all(left > right)
    with pytest.raises(ValueError, match="num_frames must be at least 1"):
        make_motion(models=models, num_frames=0, fps=FPS, rng=np.random.default_rng(1), centre=WORKSPACE_CENTRE)
