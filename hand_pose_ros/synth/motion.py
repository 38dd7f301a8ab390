"""Smooth two-hand motion sequences: wandering wrists, changing poses, crossing and touching.

Per hand: ``angles`` (T, 25, 3) radians and ``roots`` (T, 4, 4) world_T_wrist, metres, world
frame REP 103. Poses blend between key poses (named or random) with a smoothstep, wrists
follow sums of slow sinusoids, so consecutive frames are continuous like a real recording.
Sequences of 3 s or more also cross the hands over and bring them together until they touch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from hand_pose_ros.handmodel import POSE_NAMES, HandModel, named_pose, random_pose
from hand_pose_ros.keypoints import Handedness

__all__ = ["HandTrack", "make_motion", "MIN_SECONDS_FOR_CROSSING"]

MIN_SECONDS_FOR_CROSSING = 4.0  # shorter sequences only wander (crossing and touching need time)
_KEY_POSE_SECONDS = (0.7, 1.4)  # time between key poses
_RANDOM_POSE_SHARE = 0.35  # key poses drawn at random within the limits (rest: named poses)
_HALF_GAP_M = 0.09  # each wrist's lateral distance from the middle when the hands are apart
_WANDER_AMPLITUDE_M = (0.015, 0.04)
_WANDER_HZ = (0.15, 0.5)
_CROSS_DEPTH_M = 0.09  # one hand passes in front of the other by this much when crossing
_TILT_DEG = (10.0, 35.0)  # fingers lean away from vertical
_YAW_SWING_DEG = 40.0  # how far the palm turns back and forth
# Skin contact: two keypoints of different hands this far apart (finger thickness ≈ 18 mm).
_TOUCH_DISTANCE_M = 0.018
_TOUCH_ITERATIONS = 10
_CONTACT_SMOOTHING_FRAMES = 2.0  # Gaussian sigma of the contact correction over time
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
        touch = _smoothstep((times / duration - 0.42) / 0.12) * (1 - _smoothstep((times / duration - 0.62) / 0.12))
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
            fingers = np.array([np.sin(tilt) * np.cos(yaw[t]), np.sin(tilt) * np.sin(yaw[t]), np.cos(tilt)])
            wander = _orientation(fingers, np.array([-np.cos(yaw[t]), -np.sin(yaw[t]), 0.0]))
            facing = _orientation(np.array([0.0, 0.0, 1.0]), np.array([0.0, sign * side[t], 0.0]))
            # Turn (slerp) from wandering to facing the other hand: blending the vectors could
            # pass through zero and flip the hand within a frame.
            roots[t, :3, :3] = Slerp([0.0, 1.0], Rotation.from_matrix([wander, facing]))(touch[t]).as_matrix()
            roots[t, :3, 3] = position[t]
        tracks.append(HandTrack(handedness=model.handedness, angles=angles, roots=roots))
    if len(models) == 2:
        _bring_into_contact(models, tracks, touch)
    return tracks


def _bring_into_contact(models: list[HandModel], tracks: list[HandTrack], touch: np.ndarray) -> None:
    """Move the hands along the line between their closest keypoints: during the touch phase
    until those are ``_TOUCH_DISTANCE_M`` apart (skin contact), at any time apart when closer."""
    from scipy.ndimage import gaussian_filter1d

    for _ in range(_TOUCH_ITERATIONS):
        points = [model(track.angles, track.roots, skin=False).keypoints for model, track in zip(models, tracks)]  # (T, 21, 3)
        pairs = np.linalg.norm(points[0][:, :, None] - points[1][:, None], axis=-1)  # (T, 21, 21)
        flat = pairs.reshape(len(pairs), -1).argmin(axis=1)
        i, j = np.unravel_index(flat, pairs.shape[1:])
        frames = np.arange(len(pairs))
        gap = pairs[frames, i, j]  # (T,) metres
        direction = points[1][frames, j] - points[0][frames, i]
        direction /= np.maximum(gap, 1e-9)[:, None]
        error = gap - _TOUCH_DISTANCE_M
        step = np.where(error < 0, error, touch * error) / 2  # (T,) each hand moves this far
        # Smoothed over time: the closest pair can change from frame to frame.
        move = gaussian_filter1d(step[:, None] * direction, _CONTACT_SMOOTHING_FRAMES, axis=0, mode="nearest")
        tracks[0].roots[:, :3, 3] += move
        tracks[1].roots[:, :3, 3] -= move
