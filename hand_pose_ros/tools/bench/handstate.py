"""``hand-pose-ros bench handstate``: pinch onsets against ground truth, and time per hand.

Onsets (docs/handstate.md): the true onset of a pinch is the frame where the true keypoints'
pinch strength reaches ``pinch_on_strength`` (the estimator run on noise-free truth with no
minimum duration); detected onsets are ``PinchEvent.STARTED`` of the estimator (default config)
on the noisy or detected hands. A detected onset within ``MATCH_WINDOW_FRAMES`` of a true one
of the same hand matches it (its lag is reported); the others are false onsets.

* ``synthetic``: ``--sequences`` sequences of the hand model going open → pinch → open
  ``--cycles`` times (random wrist pose, slow drift), keypoints plus Gaussian noise σ =
  ``--noise-mm`` per coordinate, 30 fps;
* ``sample``: the bundled sample through the real detector and the fusion (default configs),
  fused tracks matched to the ground-truth hands by mean keypoint distance.

Time: wall time of ``HandStateEstimator.update`` per frame divided by its hands (median over
``--timing-frames`` frames of 1 and 2 hands), and the same in process CPU time.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from hand_pose_ros.handstate import HandStateConfig, HandStateEstimator, PinchEvent
from hand_pose_ros.types import Hand3D, KeypointSource

__all__ = ["add_arguments", "run", "pinch_sequence", "onsets", "match_onsets", "hand_from_keypoints"]

FPS = 30.0
NS_PER_S = 1_000_000_000
MATCH_WINDOW_FRAMES = 10  # a third of a second: farther than this, an onset belongs to no true pinch
WORKSPACE_M = np.array([0.0, 0.0, 0.6])  # wrist position in front of a rig, metres


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sequences", type=int, default=20, help="synthetic pinch sequences (default 20)")
    parser.add_argument("--cycles", type=int, default=3, help="pinches per synthetic sequence (default 3)")
    parser.add_argument("--noise-mm", type=float, default=3.0, help="σ of the keypoint noise per coordinate (default 3)")
    parser.add_argument("--sample-frames", type=int, default=60, help="bundled sample frames through the detector; 0 skips")
    parser.add_argument("--timing-frames", type=int, default=2000, help="frames timed per hand count (default 2000)")
    parser.add_argument("--seed", type=int, default=0)


def hand_from_keypoints(keypoints: np.ndarray, track_id: int = 1, handedness: int = 1) -> Hand3D:
    """(21, 3) m world, NaN rows missing → a ``Hand3D`` with confidence 1 where present."""
    present = np.isfinite(keypoints).all(axis=1)
    return Hand3D(
        track_id=track_id, handedness=handedness, handedness_score=1.0, presence=1.0, keypoints_3d=keypoints,
        keypoint_confidence=present.astype(np.float32), num_views=np.where(present, 2, 0),
        reprojection_error_px=np.full(21, np.nan, np.float32),
        keypoint_source=np.where(present, KeypointSource.TRIANGULATED, KeypointSource.MISSING),
    )


def pinch_sequence(model, rng: np.random.Generator, *, cycles: int = 3, fps: float = FPS) -> tuple[np.ndarray, np.ndarray]:
    """(T, 21, 3) m noise-free keypoints of ``model`` pinching ``cycles`` times, (T,) int ns stamps.

    Each cycle: open held 0.4–0.8 s, closing (smoothstep in joint angles) over 0.25–0.5 s, pinch
    held 0.3–0.7 s, opening over 0.25–0.5 s; then open again. The wrist has a random
    orientation and drifts ≈ 5 cm/s.
    """
    from scipy.spatial.transform import Rotation

    from hand_pose_ros.handmodel import named_pose

    open_pose, pinch_pose = named_pose("open"), named_pose("pinch")
    weights: list[np.ndarray] = []  # 0 = open, 1 = pinch, per frame
    ramp = lambda seconds, up: (lambda s: s * s * (3 - 2 * s))(np.linspace(0, 1, max(int(seconds * fps), 2)))[:: 1 if up else -1]  # noqa: E731
    for _ in range(cycles):
        weights += [np.zeros(int(rng.uniform(0.4, 0.8) * fps)), ramp(rng.uniform(0.25, 0.5), True)]
        weights += [np.ones(int(rng.uniform(0.3, 0.7) * fps)), ramp(rng.uniform(0.25, 0.5), False)]
    weights.append(np.zeros(int(0.5 * fps)))
    w = np.concatenate(weights)[:, None, None]  # (T, 1, 1)
    angles = (1 - w) * open_pose + w * pinch_pose  # (T, 25, 3)
    t = np.arange(len(w)) / fps
    roots = np.tile(np.eye(4), (len(w), 1, 1))
    roots[:, :3, :3] = Rotation.random(random_state=rng).as_matrix()
    drift = rng.normal(0.0, 1.0, 3)
    roots[:, :3, 3] = WORKSPACE_M + 0.05 * t[:, None] * drift / np.linalg.norm(drift)
    return model(angles, roots, skin=False).keypoints, (t * NS_PER_S).astype(np.int64)


def onsets(keypoints: np.ndarray, stamps_ns: np.ndarray, config: HandStateConfig) -> list[int]:
    """(T, 21, 3) m one track, (T,) ns → frames with a PinchEvent.STARTED."""
    estimator = HandStateEstimator(config)
    return [i for i, (k, s) in enumerate(zip(keypoints, stamps_ns))
            if estimator.update([hand_from_keypoints(k)], int(s))[0].pinch_event == PinchEvent.STARTED]


def match_onsets(true: list[int], detected: list[int]) -> tuple[list[int], int, int]:
    """(lags of matched detections in frames, missed true onsets, false detected onsets)."""
    lags, used = [], set()
    for t in true:
        near = [d for d in detected if d not in used and abs(d - t) <= MATCH_WINDOW_FRAMES]
        if near:
            d = min(near, key=lambda d: abs(d - t))
            used.add(d)
            lags.append(d - t)
    return lags, len(true) - len(lags), len(detected) - len(used)


def _truth_config(config: HandStateConfig) -> HandStateConfig:
    """The threshold crossing itself: no minimum duration."""
    return dataclasses.replace(config, pinch_min_duration_s=0.0)


def _synthetic(args: argparse.Namespace, config: HandStateConfig) -> dict:
    from hand_pose_ros.handmodel import HandModel

    rng = np.random.default_rng(args.seed)
    models = [HandModel.load(side) for side in ("Right", "Left")]
    lags, missed, false, true_count, events = [], 0, 0, 0, 0
    for i in range(args.sequences):
        truth, stamps = pinch_sequence(models[i % 2], rng, cycles=args.cycles)
        noisy = truth + rng.normal(0.0, args.noise_mm * 1e-3, truth.shape)
        true_onsets = onsets(truth, stamps, _truth_config(config))
        found = onsets(noisy, stamps, config)
        lag, m, f = match_onsets(true_onsets, found)
        lags += lag
        missed, false, true_count, events = missed + m, false + f, true_count + len(true_onsets), events + len(found)
    return {"true": true_count, "detected": events, "lags": lags, "missed": missed, "false": false}


def _sample(frames_wanted: int, config: HandStateConfig) -> dict:
    from hand_pose_ros import assets
    from hand_pose_ros.evaluation.matching import load_ground_truth
    from hand_pose_ros.tools.bench.mesh import _detected_hands

    sample = assets.sample_dir()
    frames = load_ground_truth(sample)[:frames_wanted]
    stamps = [int(round(f.stamp * NS_PER_S)) for f in frames]
    detected = _detected_hands(sample, frames)
    true_ids = sorted({h.id for f in frames for h in f.hands})
    # Each fused track → the ground-truth hand it is closest to on average.
    distance: dict[tuple[int, int], list[float]] = {}
    for frame, (_, hands) in zip(frames, detected):
        for hand in hands:
            for gt in frame.hands:
                d = np.nanmean(np.linalg.norm(hand.keypoints_3d - gt.keypoints, axis=1))
                distance.setdefault((hand.track_id, gt.id), []).append(float(d))
    owner = {}
    for (track, gt), ds in sorted(distance.items()):
        if track not in owner or np.mean(ds) < np.mean(distance[(track, owner[track])]):
            owner[track] = gt
    truth_est, found_est = HandStateEstimator(_truth_config(config)), HandStateEstimator(config)
    true_onsets = {g: [] for g in true_ids}
    found_onsets = {g: [] for g in true_ids}
    for i, (frame, (_, hands), stamp) in enumerate(zip(frames, detected, stamps)):
        for state in truth_est.update([hand_from_keypoints(h.keypoints, h.id, int(h.handedness)) for h in frame.hands], stamp):
            if state.pinch_event == PinchEvent.STARTED:
                true_onsets[state.track_id].append(i)
        for hand, state in zip(hands, found_est.update(hands, stamp)):
            if state.pinch_event == PinchEvent.STARTED:
                found_onsets[owner[hand.track_id]].append(i)
    lags, missed, false = [], 0, 0
    for g in true_ids:
        lag, m, f = match_onsets(true_onsets[g], found_onsets[g])
        lags, missed, false = lags + lag, missed + m, false + f
    return {"true": sum(map(len, true_onsets.values())), "detected": sum(map(len, found_onsets.values())),
            "lags": lags, "missed": missed, "false": false, "frames": len(frames),
            "per_hand": {g: (true_onsets[g], found_onsets[g]) for g in true_ids}}


def _timing(frames: int, config: HandStateConfig) -> dict[int, tuple[float, float]]:
    """Hands per frame → (median wall µs, median CPU µs) per hand of ``update``."""
    import time

    from hand_pose_ros.handmodel import HandModel, named_pose

    keypoints = HandModel.load("Right")(named_pose("pinch"), np.eye(4), skin=False).keypoints
    rng = np.random.default_rng(0)
    out = {}
    for count in (1, 2):
        estimator = HandStateEstimator(config)
        wall, cpu = [], []
        for i in range(frames + 50):
            hands = [hand_from_keypoints(keypoints + rng.normal(0, 0.003, keypoints.shape), t) for t in range(count)]
            w, c = time.perf_counter_ns(), time.process_time_ns()
            estimator.update(hands, i * NS_PER_S // 30)
            if i >= 50:  # the first frames create the tracks
                wall.append((time.perf_counter_ns() - w) / count / 1e3)
                cpu.append((time.process_time_ns() - c) / count / 1e3)
        out[count] = (float(np.median(wall)), float(np.median(cpu)))
    return out


def _row(name: str, r: dict) -> str:
    lags = np.abs(r["lags"]) if r["lags"] else np.zeros(0)
    within = int((lags <= 2).sum())
    lag_text = f"{np.mean(r['lags']):+.2f} / {lags.max():.0f}" if r["lags"] else "– / –"
    return (f"{name:<22} {r['true']:>5} {r['detected']:>8} {within:>11} {r['missed']:>6} {r['false']:>6}   {lag_text}")


def run(args: argparse.Namespace) -> int:
    config = HandStateConfig()
    print("Pinch onsets (frames at 30 fps; lag = detected − true; matched within "
          f"{MATCH_WINDOW_FRAMES} frames)", flush=True)
    print(f"{'input':<22} {'true':>5} {'detected':>8} {'within ±2 f':>11} {'missed':>6} {'false':>6}   mean lag / max |lag|")
    print(_row(f"synthetic σ={args.noise_mm:g} mm ×{args.sequences}", _synthetic(args, config)), flush=True)
    if args.sample_frames:
        sample = _sample(args.sample_frames, config)
        print(_row(f"sample, detected ({sample['frames']} f)", sample), flush=True)
        for g, (true, found) in sample["per_hand"].items():
            print(f"  sample hand {g}: true onsets at frames {true}, detected at {found}")
    print("\nHandStateEstimator.update, per hand (µs, median):")
    for count, (wall, cpu) in _timing(args.timing_frames, config).items():
        print(f"  {count} hand{'s' if count > 1 else ' '} per frame: wall {wall:.1f}, CPU {cpu:.1f}")
    return 0
