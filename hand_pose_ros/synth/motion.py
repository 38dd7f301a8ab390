"""Smooth two-hand motion sequences: wandering wrists, changing poses, crossing and touching.

Per hand: ``angles`` (T, 25, 3) radians and ``roots`` (T, 4, 4) world_T_wrist, metres, world
frame REP 103. Poses blend between key poses (named or random) with a smoothstep, wrists
follow sums of slow sinusoids, so consecutive frames are continuous like a real recording.
Sequences of 3 s or more also cross the hands over and bring them together until they touch.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hand_pose_ros.handmodel import POSE_NAMES, HandModel, named_pose, random_pose
from hand_pose_ros.keypoints import Handedness

__all__ = ["HandTrack", "make_motion", "MIN_SECONDS_FOR_CROSSING"]

MIN_SECONDS_FOR_CROSSING = 3.0  # shorter sequences only wander (no room for cross + touch)
_KEY_POSE_SECONDS = (0.7, 1.4)  # time between key poses
_RANDOM_POSE_SHARE = 0.35  # key poses drawn at random within the limits (rest: named poses)
_HALF_GAP_M = 0.09  # each wrist's lateral distance from the middle when the hands are apart
_WANDER_AMPLITUDE_M = (0.015, 0.04)
_WANDER_HZ = (0.15, 0.5)
_CROSS_DEPTH_M = 0.06  # one hand passes in front of the other by this much when crossing
_TILT_DEG = (10.0, 35.0)  # fingers lean away from vertical
_YAW_SWING_DEG = 40.0  # how far the palm turns back and forth
# Skin contact: two keypoints of different hands this far apart (finger thickness ≈ 18 mm).
_TOUCH_DISTANCE_M = 0.018
_TOUCH_ITERATIONS = 4
_TOUCH_START_HALF_GAP_M = 0.035  # palms facing, clear of each other, before closing the gap


@dataclasses.dataclass(frozen=True)
class HandTrack:
    """One hand over a sequence: angles (T, 25, 3) radians, roots (T, 4, 4) world_T_wrist."""

    handedness: Handedness
    angles: np.ndarray
    roots: np.ndarray


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _pose_track(times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T,) seconds → (T, 25, 3) radians blending through random key poses."""
    keys_t, keys = [0.0], []
    while keys_t[-1] <= times[-1]:
        keys_t.append(keys_t[-1] + rng.uniform(*_KEY_POSE_SECONDS))
    for _ in keys_t:
        if rng.uniform() < _RANDOM_POSE_SHARE:
            keys.append(random_pose(rng))
        else:
            keys.append(named_pose(POSE_NAMES[rng.integers(len(POSE_NAMES))]))
    keys_t_arr = np.asarray(keys_t)
    segment = np.clip(np.searchsorted(keys_t_arr, times, side="right") - 1, 0, len(keys) - 2)
    local = (times - keys_t_arr[segment]) / (keys_t_arr[segment + 1] - keys_t_arr[segment])
    w = _smoothstep(local)[:, None, None]
    stacked = np.stack(keys)
    return (1 - w) * stacked[segment] + w * stacked[segment + 1]


def _wander(times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T,) seconds → (T, 3) metres of smooth drift."""
    out = np.zeros((len(times), 3))
    for axis in range(3):
        for _ in range(2):
            amplitude = rng.uniform(*_WANDER_AMPLITUDE_M) / 2
            hz = rng.uniform(*_WANDER_HZ)
            out[:, axis] += amplitude * np.sin(2 * np.pi * hz * times + rng.uniform(0, 2 * np.pi))
    return out


def _orientation(finger_dir: np.ndarray, back_dir: np.ndarray) -> np.ndarray:
    """Rotation whose −Z is ``finger_dir`` and +Y is ``back_dir`` made orthogonal to it."""
    z = -finger_dir / np.linalg.norm(finger_dir)
    y = back_dir - np.dot(back_dir, z) * z
    y /= np.linalg.norm(y)
    return np.stack([np.cross(y, z), y, z], axis=1)


def make_motion(
    *, models: list[HandModel], num_frames: int, fps: float, rng: np.random.Generator, centre: np.ndarray
) -> list[HandTrack]:
    """Tracks for one or two hands (``models``: left and/or right) moving around ``centre`` (metres)."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    times = np.arange(num_frames) / fps
    duration = max(times[-1], 1e-9)
    crossing = len(models) == 2 and num_frames / fps >= MIN_SECONDS_FOR_CROSSING
    # Lateral side in [-1, 1] of the left hand (+1: left side, world +y); it goes to -1 and back.
    if crossing:
        swap = _smoothstep((times / duration - 0.2) / 0.2) - _smoothstep((times / duration - 0.75) / 0.2)
        touch = _smoothstep((times / duration - 0.45) / 0.08) * (1 - _smoothstep((times / duration - 0.62) / 0.08))
    else:
        swap = np.zeros_like(times)
        touch = np.zeros_like(times)
    side = 1.0 - 2.0 * swap
    tracks = []
    for model in models:
        sign = 1.0 if model.handedness == Handedness.LEFT else -1.0
        angles = _pose_track(times, rng)
        touching_pose = named_pose("open")
        angles = (1 - touch)[:, None, None] * angles + touch[:, None, None] * touching_pose
        position = centre + _wander(times, rng) * (1 - touch)[:, None]
        position = position + np.stack([
            sign * _CROSS_DEPTH_M * (1 - side**2),  # pass in front / behind while crossing
            sign * side * (_HALF_GAP_M * (1 - touch) + _TOUCH_START_HALF_GAP_M * touch),
            np.zeros_like(times),
        ], axis=1)
        tilt = np.radians(rng.uniform(*_TILT_DEG))
        yaw0 = rng.uniform(-np.pi / 4, np.pi / 4)
        yaw = yaw0 + np.radians(_YAW_SWING_DEG) * np.sin(2 * np.pi * rng.uniform(*_WANDER_HZ) * times + rng.uniform(0, 2 * np.pi))
        roots = np.tile(np.eye(4), (num_frames, 1, 1))
        for t in range(num_frames):
            # Palms towards +x (the back of the hand to −x), turning; when touching, palms face each other.
            back = (1 - touch[t]) * np.array([-np.cos(yaw[t]), -np.sin(yaw[t]), 0.0]) + touch[t] * np.array([0.0, sign * side[t], 0.0])
            fingers = np.array([np.sin(tilt) * np.cos(yaw[t]), np.sin(tilt) * np.sin(yaw[t]), np.cos(tilt)])
            roots[t, :3, :3] = _orientation(fingers, back)
            roots[t, :3, 3] = position[t]
        tracks.append(HandTrack(handedness=model.handedness, angles=angles, roots=roots))
    if crossing:
        _bring_into_contact(models, tracks, touch, side)
    return tracks


def _bring_into_contact(models: list[HandModel], tracks: list[HandTrack], touch: np.ndarray, side: np.ndarray) -> None:
    """Slide the hands along y during the touch phase until their closest keypoints touch."""
    frames = np.flatnonzero(touch > 0)
    if frames.size == 0:
        return
    for _ in range(_TOUCH_ITERATIONS):
        points = [
            model(track.angles[frames], track.roots[frames], skin=False).keypoints for model, track in zip(models, tracks)
        ]  # each (T', 21, 3)
        gaps = np.linalg.norm(points[0][:, :, None] - points[1][:, None], axis=-1).min(axis=(1, 2))
        shift = touch[frames] * (gaps - _TOUCH_DISTANCE_M) / 2  # (T',) metres each hand moves
        for model, track in zip(models, tracks):
            sign = 1.0 if model.handedness == Handedness.LEFT else -1.0
            toward = -sign * side[frames]  # the other hand's side along y
            track.roots[frames, 1, 3] += toward * shift
