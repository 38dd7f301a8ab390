"""Hand tracks over time: ids, constant-velocity prediction, learned bone lengths, handedness vote.

Handedness is decided here, on the tracks, so a track and the hand it outputs always carry
the same label: each track votes (decayed sum of log-odds), and when the two live tracks'
votes name the same label, the labels are shared out once and kept until the votes
disagree again (the weaker vote can swing either way frame to frame; the labels do not).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from hand_pose_ros.fusion.config import FusionConfig
from hand_pose_ros.fusion.filtering import HandFilter, OneEuroFilter, copy_state
from hand_pose_ros.fusion.refinement import bone_lengths
from hand_pose_ros.keypoints import BONES, NUM_KEYPOINTS, Handedness

__all__ = ["Track", "Tracker", "BONE_INDEX"]

BONE_INDEX = np.array(BONES, dtype=int)  # (20, 2) parent, child
# A bone measurement further than this (relative) from the learned length is an outlier
# once the length is established (after _BONES_ESTABLISHED measurements).
_BONE_OUTLIER_REL = 0.25
_BONES_ESTABLISHED = 5
# Velocity of the hand centre is smoothed with this weight on the newest estimate.
_VELOCITY_SMOOTHING = 0.5
# Hands rarely move faster than this (m/s); faster apparent motion is estimation noise.
_MAX_HAND_SPEED = 2.0


@dataclasses.dataclass(eq=False)
class Track:
    """One hand followed over time (world frame, metres, seconds)."""

    track_id: int
    points: np.ndarray  # (21, 3) last output (filtered)
    last_stamp: float
    velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))  # (3,) m/s of the centre
    age: int = 1
    handedness_vote: float = 0.0  # log-odds for RIGHT, decayed sum over frames
    bones: np.ndarray = dataclasses.field(default_factory=lambda: np.full(len(BONES), np.nan))  # (20,) m
    bone_counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(len(BONES), int))
    filter: HandFilter | OneEuroFilter | None = None
    last_multi_view_stamp: float = -np.inf  # when a multi-view hand last fixed this track's depth
    handedness: Handedness = Handedness.UNKNOWN  # the label it outputs, set by Tracker.settle_handedness
    handedness_score: float = 0.5  # probability of ``handedness``
    # (21,) the joints its last update gave (the others in ``points`` are carried predictions).
    updated_joints: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(NUM_KEYPOINTS, bool))
    # Every bone established and past its running mean (its step is the learning rate for good).
    bones_settled: bool = False

    def __deepcopy__(self, memo: dict[int, Any]) -> "Track":
        return copy_state(self, memo)

    def predict(self, stamp: float) -> np.ndarray:
        """(21, 3) joints expected at ``stamp`` (constant velocity of the hand centre)."""
        return self.points + self.velocity * max(stamp - self.last_stamp, 0.0)

    @property
    def triangulated_last(self) -> bool:
        """Its last update was a multi-view hand (its depth measured, not a one-view guess)."""
        return self.last_multi_view_stamp == self.last_stamp

    @property
    def established_bones(self) -> np.ndarray:
        """(20,) metres, the bone lengths measured often enough to trust; NaN elsewhere."""
        return np.where(self.bone_counts >= _BONES_ESTABLISHED, self.bones, np.nan)

    def learn_bones(self, points: np.ndarray, rate: float) -> None:
        """Update bone lengths from (21, 3) triangulated joints (NaN-safe, outliers skipped)."""
        measured = bone_lengths(points, BONE_INDEX)
        ok = np.isfinite(measured)
        if not ok.any():  # nothing measured (a one-view hand): nothing to learn
            return
        change = measured - self.bones  # (20,) m; NaN until a bone is learned
        if self.bones_settled:
            # The arithmetic below with every bone established and every step ``rate`` (the
            # usual case after a second of a hand): without the masks that are then all true.
            ok &= np.abs(change) < _BONE_OUTLIER_REL * self.bones
            self.bones = np.where(ok, self.bones + rate * change, self.bones)
            self.bone_counts = self.bone_counts + ok
            return
        established = self.bone_counts >= _BONES_ESTABLISHED
        ok &= ~established | (np.abs(change) < _BONE_OUTLIER_REL * self.bones)
        # Running mean at first, then an exponential average with ``rate``.
        step = np.maximum(1.0 / (self.bone_counts + 1), rate)
        self.bones = np.where(ok, np.where(self.bone_counts > 0, self.bones + step * change, measured), self.bones)
        self.bone_counts = self.bone_counts + ok
        # Counts only grow: once every bone is established and steps by ``rate``, it stays so.
        self.bones_settled = bool((self.bone_counts >= _BONES_ESTABLISHED).all()
                                  and (np.maximum(1.0 / (self.bone_counts + 1), rate) == rate).all())

    @property
    def voted_handedness(self) -> Handedness:
        """The label its own vote names (UNKNOWN without evidence)."""
        if self.handedness_vote == 0:
            return Handedness.UNKNOWN
        return Handedness.RIGHT if self.handedness_vote > 0 else Handedness.LEFT

    @property
    def voted_score(self) -> float:
        """Probability of ``voted_handedness`` from the vote's log-odds."""
        return float(1.0 / (1.0 + np.exp(-abs(self.handedness_vote))))


class Tracker:
    """Keeps tracks, matches fused hands to them, votes handedness and filters the joints."""

    def __init__(self, config: FusionConfig) -> None:
        self.config = config
        self.tracks: list[Track] = []
        self._ids = itertools.count()

    def __deepcopy__(self, memo: dict[int, Any]) -> "Tracker":
        return copy_state(self, memo)  # the settings are shared where memo holds them (MultiViewFusion.checkpoint)

    def reset(self) -> None:
        self.tracks = []
        self._ids = itertools.count()

    def prune(self, stamp: float) -> None:
        """Drop tracks unseen for longer than the timeout (or from the future: a restarted replay)."""
        timeout = self.config.track_timeout_s
        self.tracks = [t for t in self.tracks if 0 <= stamp - t.last_stamp <= timeout]

    def predictions(self, stamp: float) -> np.ndarray:
        """(K, 21, 3) predicted joints of the live tracks."""
        if not self.tracks:
            return np.zeros((0, NUM_KEYPOINTS, 3))
        return np.array([t.predict(stamp) for t in self.tracks])  # np.stack's result, without its wrapper

    def match(self, points: np.ndarray, hinted: list[int], stamp: float) -> list[int]:
        """(H, 21, 3) hands + track hint per hand (-1: none) → track index per hand (-1: new).

        Hints from the 2D association are kept; the other hands are matched by mean joint
        distance to the predictions of the tracks not hinted, within ``track_gate_m``.
        """
        result = list(hinted)
        free_tracks = [k for k in range(len(self.tracks)) if k not in hinted]
        free_hands = [h for h, k in enumerate(hinted) if k < 0]
        if free_tracks and free_hands:
            pred = self.predictions(stamp)[free_tracks]  # (F, 21, 3)
            dist = np.linalg.norm(points[free_hands][:, None] - pred[None], axis=-1)  # (h, F, 21)
            with np.errstate(invalid="ignore"):
                cost = np.nanmean(np.where(np.isfinite(dist), dist, np.nan), axis=-1) if dist.size else dist
            cost = np.where(np.isfinite(cost), cost, np.inf)
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
            for r, c in zip(rows, cols):
                if cost[r, c] < self.config.track_gate_m:
                    result[free_hands[r]] = free_tracks[c]
        return result

    def _new_filter(self) -> HandFilter | OneEuroFilter | None:
        cfg = self.config
        if cfg.filter == "one_euro_predictive":
            return HandFilter(cfg.one_euro_min_cutoff_hz, cfg.one_euro_beta, cfg.one_euro_derivative_cutoff_hz)
        if cfg.filter == "one_euro":
            return OneEuroFilter(cfg.one_euro_min_cutoff_hz, cfg.one_euro_beta, cfg.one_euro_derivative_cutoff_hz)
        return None

    def update(self, track_index: int, points: np.ndarray, measured: np.ndarray, vote: float, stamp: float,
               multi_view: bool) -> Track:
        """Feed a hand's (21, 3) fused joints to its track (-1: start one); returns the track.

        ``measured``: (21, 3) joints trusted for learning bone lengths (NaN elsewhere).
        ``multi_view``: the hand was triangulated (its depth is measured, not guessed).
        """
        cfg = self.config
        if track_index < 0:
            track = Track(track_id=next(self._ids), points=points.copy(), last_stamp=stamp, age=0)
            self.tracks.append(track)
        else:
            track = self.tracks[track_index]
        # A track's first triangulation moves it from a one-view guess to its measured place:
        # that jump is not motion. Its velocity and its filter start over there (a filter
        # still holding the guess would pull the output, and the prediction that gates the
        # next frame's two-view joints, centimetres off for several frames).
        depth_fixed = multi_view and not track.triangulated_last
        if depth_fixed or track.age == 0:
            track.filter = self._new_filter()
        out = track.filter(points, stamp) if track.filter is not None else points.copy()
        finite = np.isfinite(out)
        complete = bool(finite.all())
        dt = stamp - track.last_stamp
        if depth_fixed:
            track.velocity = np.zeros(3)
        elif track.age > 0 and dt > 0:
            diff = out - track.points
            # sum / count is np.mean's arithmetic without its Python wrapper; every joint moved
            # (the usual case: every joint out now and last time, so ``points`` is that output) needs no gather.
            ok = None if complete and track.updated_joints.all() else np.isfinite(diff).all(-1)
            if ok is None or ok.all():
                moved = diff.sum(0) / len(diff) / dt
            else:
                moved = diff[ok].sum(0) / ok.sum() / dt if ok.any() else np.zeros(3)
            velocity = _VELOCITY_SMOOTHING * moved + (1 - _VELOCITY_SMOOTHING) * track.velocity
            speed = np.sqrt(velocity @ velocity)
            track.velocity = velocity * min(1.0, _MAX_HAND_SPEED / speed) if speed > 0 else velocity
        track.points = out if complete else np.where(finite, out, track.predict(stamp))
        track.updated_joints = finite.all(-1)
        track.last_stamp = stamp
        if multi_view:
            track.last_multi_view_stamp = stamp
        track.age += 1
        if math.isfinite(vote):  # a NaN would stay in the decayed sum for good
            track.handedness_vote = cfg.handedness_memory * track.handedness_vote + vote
        track.learn_bones(measured, cfg.bone_learning_rate)
        return track

    def settle_handedness(self) -> None:
        """Set every live track's ``handedness`` and score from the votes (call once per frame).

        Each track takes the label its vote names, except when exactly two live tracks vote
        for the same label: then the two share LEFT and RIGHT, both scored by the stronger
        vote. A pair already holding different labels keeps them (so the labels do not flicker
        while the stronger vote changes hands); otherwise the stronger vote keeps its label.
        """
        if len(self.tracks) == 2:
            a, b = self.tracks
            label = a.voted_handedness
            if label != Handedness.UNKNOWN and b.voted_handedness == label:
                score = max(a.voted_score, b.voted_score)
                if {a.handedness, b.handedness} != {Handedness.LEFT, Handedness.RIGHT}:
                    stronger, weaker = (a, b) if abs(a.handedness_vote) >= abs(b.handedness_vote) else (b, a)
                    stronger.handedness = label
                    weaker.handedness = Handedness.LEFT if label == Handedness.RIGHT else Handedness.RIGHT
                a.handedness_score = b.handedness_score = score
                return
        for track in self.tracks:
            track.handedness, track.handedness_score = track.voted_handedness, track.voted_score
