"""``MultiViewFusion``: per-view 2D hand detections of one instant → tracked 3D hands (world frame).

Per frame: undistort all keypoints → group detections into hands (tracks, then epipolar
geometry) → robust triangulation of every hand's joints at once → refinement with the
track's bone lengths (and aligned depth, when given) → one-view hands by PnP on the
detector's metric landmarks, their distance from aligned depth when given → optional
priors for missing joints → tracks (ids, handedness vote, One-Euro filter) → ``Hand3D``.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
from collections.abc import Sequence

import numpy as np

from hand_pose_ros.calibration import Rig
from hand_pose_ros.fusion.association import epipolar_costs, essential_matrices, group_detections, track_costs
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.fusion.config import FusionConfig
from hand_pose_ros.fusion.depth_fit import SurfaceFitConfig, fit_hand_to_surface, region_points
from hand_pose_ros.fusion.depth import (hand_on_depth, hidden_weight, joint_depth_stddev, joint_depths,
                                       occluded_keypoints, triangulated_depth_stddev)
from hand_pose_ros.fusion.frame import FrameInputs, HandCandidate, Triangulated
from hand_pose_ros.fusion.monocular import (PALM_KEYPOINTS, DepthFilter, PalmTemplate, estimate_monocular,
                                            on_keypoint_rays, palm_depth, palm_length, toward_keypoint_rays)
from hand_pose_ros.fusion.refinement import bone_lengths, refine_points
from hand_pose_ros.fusion.tracking import BONE_INDEX, Track, Tracker
from hand_pose_ros.fusion.triangulation import robust_triangulate
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.similarity import umeyama
from hand_pose_ros.types import Hand3D, HandDetection2D, KeypointSource

__all__ = ["MultiViewFusion"]

logger = logging.getLogger(__name__)

J = NUM_KEYPOINTS
# A detection whose seen joints agree with its hand's triangulation less often than this
# fraction is not part of that hand (a wrong association); it is treated on its own.
_MIN_INLIER_FRACTION = 0.3
# A multi-view hand needs this many triangulated joints; fewer, and its views go on alone.
_MIN_TRIANGULATED_JOINTS = 5
# Handedness scores are clipped to this before taking log-odds (a score of 1 is not infinite evidence).
_MAX_HANDEDNESS_SCORE = 0.99
# Joint confidence falls by half when the mean reprojection error reaches the inlier threshold × this.
_CONFIDENCE_ERROR_SCALE = 0.5
# A one-view hand continuing a track takes the track's depth, good to about this (metres, 1σ).
_TRACK_DEPTH_STDDEV_M = 0.02
# Monocular confidence = score / (1 + this × relative depth 1σ): 10 % depth 1σ halves it.
_MONOCULAR_CONFIDENCE_SLOPE = 10.0
# A one-view hand's keypoints agree with its PnP pose within the inlier threshold or this
# fraction of the hand's extent in pixels, whichever is larger (20 px on a 200 px hand: the
# landmarks' shape misses its keypoints by more on a hand filling a 1280×720 frame).
_MONOCULAR_THRESHOLD_HAND_FRACTION = 0.1
# A track's learned bone lengths give a one-view hand's size to about this (relative 1σ;
# MediaPipe's metric landmarks alone: FusionConfig.monocular_scale_stddev).
_LEARNED_SIZE_STDDEV = 0.05
# The learned size needs at least this many established bones (of 20).
_MIN_SIZE_BONES = 10
# Confidence of priors relative to a detection score: a filled joint is a guess.
_PRIOR_CONFIDENCE = 0.3
# Sets of active views whose CameraArray is kept (a hand moving through a big rig changes its
# set every few frames; each costs ~20 µs to rebuild).
_ACTIVE_SETS_CACHE = 32
# A view's measured joint depth enters the refinement when it lies within this many σ of the
# colour-only triangulation's depth in that camera (fusion._observed_depths).
_DEPTH_GATE_SIGMAS = 3.0
# A view's depth is dropped for a hand when fewer than this fraction of its measured joints
# agree with the triangulation: the majority decides whether the map sees this hand there.
_MIN_AGREEING_DEPTH_FRACTION = 0.5
# Sign of each label's evidence in the log-odds for RIGHT (UNKNOWN: none).
_HANDEDNESS_SIGN = {Handedness.RIGHT: 1.0, Handedness.LEFT: -1.0}
_PALM_INDEX = np.array(PALM_KEYPOINTS)
# A landmark palm deviating from its track's template by more than this (RMS, relative to
# the palm's size, after rotating and scaling it onto the template) is the landmark network
# foreshortening the palm, not the palm: it does not update the template. hand-graph-cnn's
# landmark palms against their track's template: median 6 %, 90th percentile 16 %.
_MAX_PALM_DEVIATION = 0.1
# A one-view track's palm is the consensus of its last this many landmark palms (≈ 1 s at 30 Hz).
_PALM_CONSENSUS_FRAMES = 30
# The learned palm is used only when at least this fraction of those palms agree with it: a
# minority shape is noise (landmarks jittered by 5 mm agree in small groups only).
_MIN_PALM_SUPPORT = 0.5
# The inlier threshold is about this many σ of the detector's 2D noise (FusionConfig.inlier_threshold_px).
_INLIER_SIGMAS = 3.0
# A one-view palm depth replaces its PnP hand's when it lies further by more than this many
# of its own σ: by chance a 2σ excess happens in 2 % of frames (1σ: 16 %, and on DexYCB's
# 45–60 px hands, palm 1σ ≈ 23 %, that let a 25 % excess through twice in 18 frames, 0.4 m off).
_PALM_DEPTH_SIGMAS = 2.0
# A one-view palm placed further than its PnP hand is taken only when it faces the camera
# within this |cos| (60°): the 2D shape of a palm turned further away says more about how it
# is cupped (around a grasped object) than how far it is: on DexYCB's single cameras, without
# this gate oblique palms put the flat template 10 % too far (836212060125, with a 1σ margin)
# or a frame 0.3 m off (932122060861, 2σ) (docs/benchmarks.md, fourth round).
_MIN_PALM_FACING = 0.5
# 1σ (m) of the detector's world landmarks across the camera's ray, posed by PnP: on the bundled
# sample's renders (159 detections, 30 frames) the landmarks after a similarity onto the truth
# are 8.7 / 9.9 mm RMS in the camera's x / y (12.6 along the ray). With the keypoints' 1σ
# (inlier_threshold_px / _INLIER_SIGMAS) it weighs each joint's keypoint ray against its posed
# landmark (monocular.toward_keypoint_rays; docs/benchmarks.md, sixth round).
_LANDMARK_SHAPE_STDDEV_M = 0.009
# A one-view track's palm depth, frame to frame, scatters about the hand's smooth path by about
# this (relative 1σ): hand-graph-cnn's palm and PnP depths 4–5 % (MAD against the truth), DexYCB's
# single cameras 2–7 % between consecutive frames (docs/benchmarks.md, fourth round).
_ONE_VIEW_DEPTH_STDDEV = 0.05
# Spectral density ((1/s²)² · s) of the noise driving the rate of a one-view track's log depth
# between manoeuvres: with the rate's time constant below, its steady 1σ is √(0.03 × 0.5 / 2) =
# 0.09 /s (a hand at 0.5 m drifting 4 cm/s in depth); a reach is the manoeuvre test's. 0.01:
# hand-graph-cnn 19.5 mm against 20.1, but the synthetic one camera (tools/bench/fusion.py's
# sequences, 30 / 10 Hz) 17.8 / 15.8 against 16.4 / 14.8, DexYCB single cameras and the bundled
# sample's within 0.5 mm: kept at 0.03 (docs/benchmarks.md, fifth round).
_ONE_VIEW_DEPTH_ACCELERATION = 0.03
# The rate of a one-view track's log depth persists for about this (s) and then decays
# (monocular.DepthFilter): a reach or a withdrawal of the hand lasts about half a second. With a
# constant rate, DexYCB 932122062010 alone followed a drift of its one-view depth for 15 frames
# after it turned (docs/benchmarks.md, fifth round).
_ONE_VIEW_DEPTH_RATE_TIME_S = 0.5
# A one-view depth filter whose last this many innovations average beyond 2σ of their mean
# (white noise: 1 / √4) is following a manoeuvre, not noise, and widens (monocular.DepthFilter):
# 4 frames is 0.13 s at 30 Hz, 0.4 s at 10 Hz; the 2σ test of a mean, 5 % false alarms.
_ONE_VIEW_DEPTH_MANOEUVRE_FRAMES = 4
_ONE_VIEW_DEPTH_MANOEUVRE_SIGMAS = 2.0
# A one-view track's depth filter starts once the track has been updated this many times: its
# first one-view depths settle as its palm is learned (the bundled sample's cam1: a new track's
# depth 0.41 → 0.50 → 0.53 m over its first three frames at 30 Hz), a change the filter would
# take for the hand's motion and carry on.
_ONE_VIEW_DEPTH_MIN_TRACK_AGE = 3
# A one-view depth further than this many σ from its filter's prediction restarts the filter (4:
# DexYCB 840412060917 70.7 → 77.0 mm against 71.6 at 5, the gate cutting in on its wide scatter).
_ONE_VIEW_DEPTH_GATE_SIGMAS = 5.0
# A one-view track seen again after more than this (s) restarts its depth filter: a rate learned
# from a few frames with 5 % scatter (≈ 1.5 /s at 30 Hz) would carry the hand 30 % off over 0.3 s.
_ONE_VIEW_DEPTH_MAX_GAP_S = 0.2
# A one-view detection continues the track whose prediction projects within the association
# threshold, or the only track within this fraction of the detection's extent in pixels: a
# hand sampled at 10 Hz moves up to half its size between frames.
_ONE_VIEW_TRACK_HAND_FRACTION = 1.0
# A track's prediction of a joint (its last joints moved on by the hand centre's velocity) is
# good to about this (m, 1σ) one frame on: the fingers move against the centre by millimetres
# per frame. It joins the per-joint vote as one more witness, its 1σ costing as much as a
# view's 2D 1σ (DexYCB mustard, 4 cameras: two views that place a tip the bottle hides alike,
# and wrongly, no longer outvote the two that see it; σ 5 / 10 / 20 / 40 mm: 9.41 / 9.43 /
# 9.48 / 9.71 mm against 9.99 without, on fixed detections; bench fusion 6.34 → 6.24).
_PREDICTION_STDDEV_M = 0.01
# The prediction votes once its track has been updated this many times: a track's first
# triangulation is not yet confirmed by any other frame, and a joint it got wrong would win
# its own next vote (bundled sample's renders: a 100 mm joint of the first frame kept in the
# second; MPJPE 7.03 / 6.83 mm with 0 / 2, 6.71 without the vote).
_MIN_VOTING_TRACK_AGE = 2


# The bone targets of a group without a track: none (NaN, no bone term).
_NO_BONES = np.full(len(BONE_INDEX), np.nan)
_NO_BONES.flags.writeable = False


@functools.lru_cache(maxsize=None)
def _group_bones(groups: int) -> np.ndarray:
    """(G·20, 2) int, the bones of ``groups`` hands' stacked joints (G·21), read-only (shared)."""
    bones = (BONE_INDEX[None] + (np.arange(groups) * J)[:, None, None]).reshape(-1, 2)
    bones.flags.writeable = False
    return bones


class MultiViewFusion:
    """Fuses per-camera ``HandDetection2D`` lists into tracked ``Hand3D`` (see module docstring).

    Args:
        rig: the calibrated cameras; ``process`` takes detections in this order.
        config: settings; defaults suit 640×480 detections from 2–8 cameras.
    """

    def __init__(self, rig: Rig, config: FusionConfig | None = None) -> None:
        if not isinstance(rig, Rig) or len(rig) == 0:
            raise ValueError(f"rig must be a non-empty hand_pose_ros.calibration.Rig, got {rig!r}")
        self.rig = rig
        self.config = config if config is not None else FusionConfig()
        self.cams = CameraArray.from_rig(rig)
        self._essential = essential_matrices(self.cams)
        self._active_sets: dict[tuple[int, ...], CameraArray] = {}  # memo of active_cameras
        self.tracker = Tracker(self.config)
        self._palms: dict[int, PalmTemplate] = {}  # track id → its palm's learned shape
        self._depth_filters: dict[int, DepthFilter] = {}  # track id → its one-view depth's filter

    def active_cameras(self, active: np.ndarray) -> CameraArray:
        """(A,) ascending rig indices → those cameras as one array (the rig's own when all are active)."""
        key = tuple(active.tolist())
        cams = self._active_sets.get(key)
        if cams is None:
            cams = self.cams if len(key) == len(self.cams) else self.cams.select(active)
            if len(self._active_sets) >= _ACTIVE_SETS_CACHE:
                self._active_sets.pop(next(iter(self._active_sets)))  # the oldest
            self._active_sets[key] = cams
        return cams

    def reset(self) -> None:
        """Forget all tracks (ids restart at 0)."""
        self.tracker.reset()
        self._palms.clear()
        self._depth_filters.clear()

    def checkpoint(self) -> object:
        """What ``process`` changes between frames (the tracks, their learned palms and one-view
        depth filters), as an opaque copy for ``restore``: a frame fused again
        (``HandPosePipeline``'s second look) starts from the state before its first fusion."""
        # The settings are frozen: shared, not copied.
        return copy.deepcopy((self.tracker, self._palms, self._depth_filters), {id(self.config): self.config})

    def restore(self, checkpoint: object) -> None:
        """Go back to a ``checkpoint``'s state (taken from this fusion)."""
        self.tracker, self._palms, self._depth_filters = copy.deepcopy(checkpoint, {id(self.config): self.config})

    def _flatten(self, detections: Sequence[Sequence[HandDetection2D]]) -> tuple[np.ndarray, list[HandDetection2D]]:
        if len(detections) != len(self.rig):
            raise ValueError(f"detections: expected one list per camera ({len(self.rig)}: {self.rig.names}), got {len(detections)}")
        view, dets = [], []
        for v, per_view in enumerate(detections):
            for i, det in enumerate(per_view):
                if not isinstance(det, HandDetection2D):
                    raise TypeError(f"detections for camera {self.rig.names[v]!r}, item {i}: expected HandDetection2D, got {type(det).__name__}")
                view.append(v)
                dets.append(det)
        return np.array(view, dtype=int), dets

    def process(self, detections: Sequence[Sequence[HandDetection2D]], stamp: float, *,
                depths: Sequence[np.ndarray | None] | None = None) -> list[Hand3D]:
        """One frame: a list of detections per camera (rig order; empty = none) at ``stamp`` s → hands.

        ``depths``: None, or per camera an aligned ``(H, W) float32`` metres depth map (NaN = no
        measurement; checked by the caller with ``fusion.depth.check_depth``) or None.
        Returns the hands of this frame sorted by track id (empty list when there are none).

        Raises:
            ValueError: wrong number of camera lists or a non-finite stamp.
            TypeError: an item that is not a HandDetection2D (naming the camera).
        """
        if not np.isfinite(stamp):
            raise ValueError(f"stamp must be finite seconds, got {stamp!r}")
        if depths is not None and len(depths) != len(self.rig):
            raise ValueError(f"depths: expected one per camera ({len(self.rig)}: {self.rig.names}), got {len(depths)}")
        cfg = self.config
        view, dets = self._flatten(detections)
        self.tracker.prune(stamp)
        alive = {t.track_id for t in self.tracker.tracks}
        self._palms = {k: p for k, p in self._palms.items() if k in alive}
        self._depth_filters = {k: f for k, f in self._depth_filters.items() if k in alive}
        if not dets:
            return []
        scores = np.array([d.keypoint_scores for d in dets], np.float64)  # (D, 21)
        pixels = np.array([d.keypoints_2d for d in dets], np.float64)  # (D, 21, 2) px
        seen = np.isfinite(pixels).all(-1) & (scores >= cfg.min_keypoint_score) & (scores > 0)
        pixels[~seen] = np.nan
        predicted = self.tracker.predictions(stamp)  # (K, 21, 3)
        # ``view`` ascends (rig order): each new value opens a slot (np.unique costs more here).
        opens = np.ones(len(view), bool)
        opens[1:] = view[1:] != view[:-1]
        active, slot = view[opens], np.cumsum(opens) - 1
        frame = FrameInputs(stamp=stamp, dets=dets, view=view, active=active, slot=slot,
                            active_cams=self.active_cameras(active), xy=self.cams.pixels_to_normalized(pixels, view),
                            scores=scores, predicted=predicted, known=self._depth_known(stamp),
                            depths=tuple(depths) if depths is not None else (None,) * len(self.rig))
        xy = frame.xy  # (D, 21, 2)
        # Only tracks triangulated recently know their depth: a one-view track's prediction
        # would project to the wrong place in the other views, so it joins in 3D only (_finish).
        groups, hints = group_detections(
            view, lambda: epipolar_costs(view, xy, self.cams, self._essential),
            # Projected into the active views only (slot indexes them): the same costs, at the cost of the views seen.
            track_costs(frame.slot, xy, np.where(frame.known[:, None, None], predicted, np.nan), frame.active_cams),
            cfg.association_threshold_px,
        )
        tri = self._triangulate(frame, groups, hints)
        confidence = self._confidence(tri.mean_score, tri.num_views, tri.errors)  # (G, 21)
        hands = [self._multi_view_hand(frame, tri.points[g], confidence[g], tri.errors[g], tri.num_views[g], members, tri.hints[g])
                 for g, members in enumerate(tri.groups) if tri.multi[g] and members]  # a group can lose every member
        # (np.array of same-shaped arrays is np.stack's result without its Python wrapper.)
        fused = np.array([h.points for h in hands]) if hands else np.zeros((0, J, 3))
        for g, members in enumerate(tri.groups):
            if not tri.multi[g] and cfg.monocular and members:
                hand = self._monocular_hand(frame, members[0], fused, tri.hints[g])
                if hand is not None:
                    hands.append(hand)
        return self._finish(frame, hands)

    def _triangulate(self, frame: FrameInputs, groups: list[list[int]], hints: list[int]) -> Triangulated:
        """Triangulate all groups' joints at once; detach views that disagree with their hand."""
        cfg = self.config
        view, slot, xy, scores, cams = frame.view, frame.slot, frame.xy, frame.scores, frame.active_cams
        V, G = len(cams), len(groups)  # V: the active views only
        group_of = np.empty(len(view), int)  # (D,) group of each detection
        for g, members in enumerate(groups):
            group_of[members] = g
        obs = np.full((V, G, J, 2), np.nan)
        obs_scores = np.zeros((V, G, J))
        support = np.zeros((V, G, J))  # each view's say in which hypothesis wins: its detection's presence
        obs[slot, group_of] = xy
        obs_scores[slot, group_of] = scores
        support[slot, group_of] = np.array([d.presence for d in frame.dets], np.float64)[:, None]
        obs, obs_scores = obs.reshape(V, G * J, 2), obs_scores.reshape(V, G * J)
        # Each group's track's prediction is one more witness per joint: tracks whose depth is
        # known and that have been confirmed (_MIN_VOTING_TRACK_AGE), and only the joints their
        # last update gave (a joint missing there is a carried guess).
        tracked = [g for g, k in enumerate(hints)
                   if k >= 0 and frame.known[k] and self.tracker.tracks[k].age >= _MIN_VOTING_TRACK_AGE]
        prior = None
        if tracked:
            given = np.array([self.tracker.tracks[hints[g]].updated_joints for g in tracked])  # (g, 21)
            prior = np.full((G, J, 3), np.nan)
            prior[tracked] = np.where(given[..., None], frame.predicted[[hints[g] for g in tracked]], np.nan)
            prior = prior.reshape(G * J, 3)
        tri = robust_triangulate(obs, obs_scores, cams, cfg.inlier_threshold_px, support=support.reshape(V, G * J),
                                 prior=prior,
                                 prior_weight_px_per_m=cfg.inlier_threshold_px / _INLIER_SIGMAS / _PREDICTION_STDDEV_M)
        points = tri.points
        inlier_scores = np.where(tri.inliers, obs_scores, 0.0)  # (V, G·21)
        if cfg.refine and cfg.refine_iterations:
            bones = _group_bones(G)
            targets = np.concatenate([self.tracker.tracks[k].bones if k >= 0 else _NO_BONES for k in hints])
            depth_z, occluded = self._observed_depths(frame, group_of, points, tri.inliers)
            weights = inlier_scores
            if occluded is not None:
                # A view whose depth shows something in front of the joint does not see it: its
                # keypoint there is the network's guess of a hidden joint, weighed by how far off
                # this frame's hidden keypoints are against its seen ones (fusion.depth.hidden_weight).
                hidden = hidden_weight(cams, points, obs, occluded, tri.inliers & ~occluded)
                weights = np.where(occluded, hidden, 1.0) * inlier_scores
            points = refine_points(points, obs, weights, cams, bones, targets,
                                   huber_px=cfg.huber_px, bone_weight_px_per_mm=cfg.bone_weight_px_per_mm,
                                   iterations=cfg.refine_iterations, depth_z=depth_z,
                                   depth_weight_px_per_mm=cfg.depth_weight_px_per_mm, depth_huber_mm=cfg.depth_huber_mm)
        points = points.reshape(G, J, 3)
        num_views = tri.num_views.reshape(G, J)
        self._gate_two_view_joints(frame, points, num_views, hints)
        multi = (num_views >= 2).sum(1) >= _MIN_TRIANGULATED_JOINTS  # (G,)
        inliers = tri.inliers.reshape(V, G, J).transpose(1, 0, 2)  # (G, V, 21)
        # Per detection: joints seen, and joints agreeing with its hand's triangulation.
        n_seen = np.isfinite(xy[..., 0]).sum(1)  # (D,)
        agree = inliers[group_of, slot].sum(1)  # (D,)
        leaves = multi[group_of] & (agree < _MIN_INLIER_FRACTION * n_seen)
        # Views that disagree with their hand leave it and go on as one-view hands; a group with
        # too few triangulated joints goes on as its best-seen view alone.
        leaving = np.flatnonzero(leaves).tolist()
        new_groups, new_hints = [[d] for d in leaving], [-1] * len(leaving)
        for d in leaving:
            logger.debug("camera %s: detection agrees on %d of %d joints with its hand; treated alone",
                         self.rig.names[view[d]], agree[d], n_seen[d])
        for g in np.flatnonzero(~multi):
            new_groups.append([max(groups[g], key=lambda d: n_seen[d])])
            new_hints.append(hints[g])
        keep_g = np.flatnonzero(multi)
        kept = [[d for d in groups[g] if not leaves[d]] for g in keep_g]
        errors = tri.reprojection_error.reshape(G, J)  # mean over inlier views; used where num_views >= 2
        # Mean score of the inlier views, which num_views counts (a gated joint's 0 views: score unused).
        mean_score = inlier_scores.reshape(V, G, J).sum(0) / np.maximum(num_views, 1)  # (G, 21)
        rows = len(keep_g) + len(new_groups)

        def pad(a: np.ndarray, fill: float) -> np.ndarray:
            """(G, …) → (rows, …): the kept groups, then ``fill`` for the groups made here."""
            if rows == G == len(keep_g):  # every group kept, none made (the usual case): as it is
                return a
            out = np.full((rows,) + a.shape[1:], fill, a.dtype)
            out[: len(keep_g)] = a[keep_g]
            return out

        return Triangulated(points=pad(points, np.nan), mean_score=pad(mean_score, 0.0), errors=pad(errors, np.nan),
                            num_views=pad(num_views, 0), multi=np.arange(rows) < len(keep_g),
                            groups=kept + new_groups, hints=[hints[g] for g in keep_g] + new_hints)

    def _observed_depths(self, frame: FrameInputs, group_of: np.ndarray, points: np.ndarray,
                         inliers: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Measured joint depths for the refinement: (D,) group of each detection, (G·21, 3) m
        triangulated joints, (A, G·21) inlier views → (A, G·21) m in each active camera (NaN:
        none; None when no active view has a depth map or none agrees), and (A, G·21) bool
        the inlier views that do not see the joint (None when no active view has a depth map:
        then none is known hidden) (``fusion.depth.occluded_keypoints``: their
        measured surface lies in front of the triangulated joint by more than the gate below,
        in a view the majority of whose measured joints agree or are hidden so; also with
        ``depth_weight_px_per_mm`` 0, which only turns the depth residual off).

        Depth only enters where it agrees with the colour-only triangulation: a view's joint
        depth counts where the view is an inlier for the joint and the measurement lies within
        ``_DEPTH_GATE_SIGMAS`` σ of the triangulated joint's depth in that camera, at most
        ``depth_gate_m`` (σ: the measurement's, ``joint_depth_stddev``, and the triangulation's
        along that camera's axis, ``triangulated_depth_stddev`` with 2D 1σ =
        ``inlier_threshold_px`` / ``_INLIER_SIGMAS``, in quadrature). A view fewer than
        ``_MIN_AGREEING_DEPTH_FRACTION`` of whose measured joints of a hand pass sees something
        else there (its depth registered at another time or place, the hand merged into what
        lies behind it, an occluder): its depth is dropped for that hand. Of the rest, a joint's
        depth counts only where the triangulation's σ along that camera's axis exceeds the
        measurement's (the better witness).
        """
        cfg = self.config
        A, N = inliers.shape
        if all(frame.depths[v] is None for v in frame.active):
            return None, None
        measured = np.full((A, N // J, J), np.nan)
        spread = np.full((A, N // J, J), np.nan)
        for d, det in enumerate(frame.dets):
            depth = frame.depths[frame.view[d]]
            if depth is not None:
                pixels = np.where(np.isfinite(frame.xy[d]), det.keypoints_2d, np.nan)  # unseen keypoints: none
                measured[frame.slot[d], group_of[d]], spread[frame.slot[d], group_of[d]] = joint_depths(
                    depth, pixels, window_px=cfg.depth_window_px)
        measured = measured.reshape(A, N)  # (A, N) m joint depths
        with np.errstate(invalid="ignore"):
            z = frame.active_cams.to_every_camera(np.where(np.isfinite(points), points, 0.0))[..., 2].T  # (A, N)
            measured_sigma = joint_depth_stddev(measured, spread.reshape(A, N))  # (A, N) m
            triangulated_sigma = triangulated_depth_stddev(frame.active_cams, points, inliers,
                                                           pixel_stddev=cfg.inlier_threshold_px / _INLIER_SIGMAS)  # (A, N) m
            gate = np.minimum(_DEPTH_GATE_SIGMAS * np.hypot(measured_sigma, triangulated_sigma), cfg.depth_gate_m)
            agree = inliers & (np.abs(measured - z) < gate)  # (A, N)
            occluded = inliers & occluded_keypoints(measured, z, gate)  # (A, N)
        sampled = (np.isfinite(measured) & inliers).reshape(A, N // J, J).sum(-1)  # (A, G)
        agreeing = agree.reshape(A, N // J, J).sum(-1)
        view_agrees = agreeing >= _MIN_AGREEING_DEPTH_FRACTION * sampled  # (A, G)
        agree &= np.repeat(view_agrees, J, axis=1)
        # The same vote for the hidden joints, counting them with the agreeing ones: a map whose
        # joints read mostly behind the hand sees past it (registered at another time or place,
        # the hand merged into its background) and says nothing of what covers it.
        covering = agreeing + occluded.reshape(A, N // J, J).sum(-1) >= _MIN_AGREEING_DEPTH_FRACTION * sampled
        occluded &= np.repeat(covering, J, axis=1)
        # Where the views already fix the joint's depth in this camera better than its depth
        # map can, the measurement adds its bias (the offset model's, the sensor's on skin:
        # 1-2 cm on DexYCB) more than it removes noise: it stays out.
        agree &= triangulated_sigma > measured_sigma
        measured[~agree] = np.nan
        return (measured if cfg.depth_weight_px_per_mm > 0 and np.isfinite(measured).any() else None), occluded

    def _fit_to_depth(self, frame: FrameInputs, d: int, points_camera: np.ndarray,
                      agrees: np.ndarray) -> tuple[np.ndarray, float] | None:
        """Detection ``d``'s one-view hand, (21, 3) m in its camera, (21,) keypoints within the PnP
        threshold → the hand on the measured depths (``fusion.depth.hand_on_depth``; only those
        keypoints are sampled and keep their own rays), refined on the measured surface of its
        2D region (``fusion.depth_fit``), and the depth 1σ (m); None without depth or agreement."""
        depth = frame.depths[frame.view[d]]
        if depth is None:
            return None
        use = np.isfinite(frame.xy[d]).all(-1) & agrees
        pixels = np.where(use[:, None], frame.dets[d].keypoints_2d, np.nan)
        measured, _ = joint_depths(depth, pixels, window_px=self.config.depth_window_px)
        xy = np.where(use[:, None], frame.xy[d], np.nan)
        placed = hand_on_depth(points_camera, measured, xy, gate_m=self.config.depth_gate_m)
        if placed is None:
            return None
        v = int(frame.view[d])
        focal = float(self.cams.focal[v])
        points = region_points(depth, np.where(np.isfinite(frame.xy[d]), frame.dets[d].keypoints_2d, np.nan),
                               lambda px: self.cams.pixels_to_normalized(px[None], np.array([v]))[0], placed[0], focal)
        fit = SurfaceFitConfig(iterations=self.config.depth_surface_fit_iterations)
        return fit_hand_to_surface(placed[0], xy, points, focal_px=focal, config=fit), placed[1].stddev_m

    def _depth_known(self, stamp: float) -> np.ndarray:
        """(K,) bool: the track was triangulated (or placed on aligned depth) within ``track_timeout_s``."""
        timeout = self.config.track_timeout_s
        return np.array([stamp - t.last_multi_view_stamp <= timeout for t in self.tracker.tracks], bool)

    def _gate_two_view_joints(self, frame: FrameInputs, points: np.ndarray, num_views: np.ndarray, hints: list[int]) -> None:
        """(G, 21, 3), (G, 21): reject in place 2-view joints far from their track's prediction.

        Only a track triangulated at its last update gates: one that went on from one view
        since predicts its depth from that view's guess (and its velocity carries the guess on),
        so two views that now agree measure the hand, as for a new track (DexYCB 2 cameras: a
        4 cm gate against a one-view guess drifting 8 mm a frame kept a hand both views saw
        one-view for 11 frames, up to 14 cm off)."""
        tracks = self.tracker.tracks
        tracked = [g for g, k in enumerate(hints) if k >= 0 and frame.known[k] and tracks[k].triangulated_last]
        if not tracked:
            return
        diff = points[tracked] - frame.predicted[[hints[g] for g in tracked]]  # (g, 21, 3)
        far = np.sqrt(np.einsum("gji,gji->gj", diff, diff)) > self.config.joint_gate_m  # (g, 21)
        reject = np.zeros(num_views.shape, bool)  # (G, 21)
        reject[tracked] = far & (num_views[tracked] == 2)
        points[reject] = np.nan
        num_views[reject] = 0

    def _confidence(self, mean_score: np.ndarray, num_views: np.ndarray, error_px: np.ndarray) -> np.ndarray:
        """(…, 21) ×3 → (…, 21) in [0, 1]: mean inlier score × view agreement × reprojection fit."""
        views_term = 1.0 - 0.5 ** np.maximum(num_views - 1, 0)  # 2 views 0.5, 3 0.75, 4 0.875 …
        scale = _CONFIDENCE_ERROR_SCALE * self.config.inlier_threshold_px
        fit = 1.0 / (1.0 + (np.where(np.isfinite(error_px), error_px, 0.0) / scale) ** 2)
        return np.where(num_views >= 2, mean_score * views_term * fit, 0.0)

    def _multi_view_hand(self, frame: FrameInputs, points: np.ndarray, conf: np.ndarray, errors: np.ndarray,
                         num_views: np.ndarray, members: list[int], hint: int) -> HandCandidate:
        """(21, 3) m, (21,), (21,) px, (21,) of one triangulated group → its candidate."""
        triangulated = num_views >= 2  # (21,)
        # Plain int values: numpy converts IntEnum members through Python, several µs each.
        source = np.where(triangulated, KeypointSource.TRIANGULATED.value, KeypointSource.MISSING.value)
        errors = np.where(triangulated, errors, np.nan)
        return HandCandidate(points=points, measured=points.copy(), confidence=conf, num_views=num_views, errors=errors,
                             source=source, members=members, hint=hint, monocular=False, depth_stddev=0.0,
                             vote=handedness_evidence([frame.dets[d] for d in members]),
                             presence=max(float(frame.dets[d].presence) for d in members))

    def _monocular_hand(self, frame: FrameInputs, d: int, fused: np.ndarray, hint: int) -> HandCandidate | None:
        """Detection ``d`` seen by one view, (H, 21, 3) m hands fused this frame → its candidate, or None."""
        cfg = self.config
        view, xy, scores, dets = frame.view, frame.xy, frame.scores, frame.dets
        v = int(view[d])
        # A lone detection on top of a fused hand's projection is that hand seen again, not a new one.
        slot = frame.slot[d:d + 1]
        if fused.shape[0] and (track_costs(slot, xy[d:d + 1], fused, frame.active_cams)[:, 0] < cfg.association_threshold_px).any():
            return None
        landmarks = dets[d].world_landmarks.astype(np.float64)
        source = KeypointSource.MONOCULAR
        if not np.isfinite(landmarks).all(-1).any() and hint >= 0 and "previous_frame" in cfg.fill_missing:
            prev = self.tracker.tracks[hint].points  # the track's last shape, in this camera's axes
            cam_prev = prev @ self.cams.camera_T_world[v, :3, :3].T
            landmarks = cam_prev - np.nanmean(cam_prev, axis=0)
            source = KeypointSource.PREVIOUS_FRAME
        if hint < 0:
            hint = self._continued_track(frame, d)
        scale, size_stddev = self._landmark_scale(landmarks, hint)
        focal = float(self.cams.focal[v])
        seen = np.isfinite(xy[d]).all(-1)
        extent_px = focal * float(np.ptp(xy[d][seen], axis=0).max()) if seen.any() else 0.0
        threshold = max(cfg.inlier_threshold_px, _MONOCULAR_THRESHOLD_HAND_FRACTION * extent_px)
        est = estimate_monocular(xy[d], scores[d], landmarks * scale, focal, threshold)
        if est is None:
            logger.debug("camera %s: one-view hand with too few keypoints matching its landmarks, or behind the "
                         "camera; dropped", self.rig.names[v])
            return None
        # Across its ray each joint is measured twice, by its keypoint and by the posed landmarks:
        # the two combined (a keypoint PnP left out stays out).
        agrees = np.nan_to_num(est.residual_px, nan=np.inf) < threshold  # (21,)
        points_camera = toward_keypoint_rays(est.points_camera, np.where(agrees[:, None], xy[d], np.nan),
                                             pixel_stddev=cfg.inlier_threshold_px / _INLIER_SIGMAS / focal,
                                             shape_stddev_m=_LANDMARK_SHAPE_STDDEV_M)
        depth_stddev = size_stddev * est.depth
        fitted = self._fit_to_depth(frame, d, points_camera, agrees)
        if fitted is not None:
            points_camera, depth_stddev = fitted
            source = KeypointSource.DEPTH
        elif (hint < 0 or not frame.known[hint]) and (depth := self._palm_depth(frame, d, hint, scale, points_camera, threshold)):
            # The landmarks misjudged the hand's shape and the track's rigid palm places it
            # where the track was heading: that depth, each joint on its keypoint's ray.
            points_camera = on_keypoint_rays(points_camera, xy[d], depth[0])
            depth_stddev = depth[1] * depth[0]
        elif hint >= 0 and frame.known[hint]:
            # A track triangulated moments ago knows the depth better than one view's hand
            # size: slide the hand along the ray through its centre to the predicted depth.
            predicted = frame.predicted[hint]
            pred_cam = predicted @ self.cams.camera_T_world[v, :3, :3].T + self.cams.camera_T_world[v, :3, 3]
            pred_depth = np.nanmean(pred_cam[:, 2])
            centre = np.nanmean(points_camera, axis=0)
            if np.isfinite(pred_depth) and centre[2] > 0:
                points_camera = points_camera + centre * (pred_depth / centre[2] - 1.0)
                depth_stddev = min(depth_stddev, _TRACK_DEPTH_STDDEV_M)
        # How loosely the pose fits the keypoints (as a triangulated joint's, _confidence): a
        # loose fit is the landmarks' shape disagreeing with the keypoints, whose PnP depth is
        # off too (hand-graph-cnn: residual against |depth error| correlation 0.8).
        fit = 1.0 / (1.0 + (np.nanmedian(est.residual_px) / (_CONFIDENCE_ERROR_SCALE * threshold)) ** 2)
        if hint >= 0 and cfg.monocular_depth_filter and cfg.filter != "none":
            points_camera = self._filter_depth(frame, hint, points_camera, filtered=source != KeypointSource.DEPTH,
                                               variance_scale=1.0 / fit)
        world_T_camera = self.rig.cameras[v].world_T_camera
        points = points_camera @ world_T_camera[:3, :3].T + world_T_camera[:3, 3]
        ok = np.isfinite(points).all(-1)
        # Confidence: the detector's score discounted by the relative depth uncertainty and by the fit.
        conf = np.where(ok, fit * scores[d] / (1.0 + _MONOCULAR_CONFIDENCE_SLOPE * depth_stddev / max(est.depth, 1e-6)), 0.0)
        return HandCandidate(points=points, measured=np.full((J, 3), np.nan), confidence=conf, num_views=ok.astype(int),
                             errors=np.where(ok, est.residual_px, np.nan),
                             source=np.where(ok, source, KeypointSource.MISSING), members=[d], hint=hint, monocular=True,
                             depth_stddev=depth_stddev, vote=handedness_evidence([dets[d]]), presence=float(dets[d].presence))

    def _filter_depth(self, frame: FrameInputs, hint: int, points_camera: np.ndarray, *, filtered: bool,
                      variance_scale: float) -> np.ndarray:
        """One-view hand of track ``hint``, (21, 3) m in its camera → the same hand scaled about
        the camera's centre (its projection unchanged) to its track's filtered palm depth
        (``monocular.DepthFilter``; with ``FusionConfig.monocular_depth_filter``, and not with
        ``filter`` "none": per-frame output); this frame's depth counts with its measurement
        variance × ``variance_scale``.
        A track whose depth is known (triangulated or on aligned depth recently), or a hand
        placed on aligned depth (``filtered`` False), passes unchanged and its filter starts
        over afterwards."""
        track = self.tracker.tracks[hint]
        track_id = track.track_id
        depth = float(np.mean(points_camera[_PALM_INDEX, 2]))
        if frame.known[hint] or not filtered or not depth > 0 or track.age < _ONE_VIEW_DEPTH_MIN_TRACK_AGE:
            self._depth_filters.pop(track_id, None)
            return points_camera
        depth_filter = self._depth_filters.setdefault(track_id, DepthFilter(
            measurement_stddev=_ONE_VIEW_DEPTH_STDDEV, acceleration_density=_ONE_VIEW_DEPTH_ACCELERATION,
            rate_time_constant_s=_ONE_VIEW_DEPTH_RATE_TIME_S, manoeuvre_frames=_ONE_VIEW_DEPTH_MANOEUVRE_FRAMES,
            manoeuvre_sigmas=_ONE_VIEW_DEPTH_MANOEUVRE_SIGMAS, gate_sigmas=_ONE_VIEW_DEPTH_GATE_SIGMAS,
            max_gap_s=_ONE_VIEW_DEPTH_MAX_GAP_S))
        return points_camera * (depth_filter.update(depth, frame.stamp, variance_scale=variance_scale) / depth)

    def _palm_depth(self, frame: FrameInputs, d: int, hint: int, scale: float, points_camera: np.ndarray,
                    threshold_px: float) -> tuple[float, float] | None:
        """Detection ``d``'s one-view hand, (21, 3) m in its camera by PnP on its landmarks (×
        ``scale``), of track ``hint``, the PnP's inlier threshold (px) → (depth (m) of its palm's
        centre, relative 1σ) from the track's learned palm, or None where the PnP pose stands.

        The landmark network sometimes foreshortens the whole hand (it takes a palm facing the
        camera for one pointing at it: on hand-graph-cnn's real-world set a run of frames came
        out 40–60 % too near) and PnP on that shape puts the hand far from where it is. The
        track's rigid palm on this frame's palm keypoints gives another depth
        (``monocular.palm_depth``), taken:

        - where it lies further than the PnP depth by more than ``_PALM_DEPTH_SIGMAS`` of its
          own σ (from the keypoints' 2D noise, at least ``inlier_threshold_px`` /
          ``_INLIER_SIGMAS``) and the placed palm faces the camera (``_MIN_PALM_FACING``):
          foreshortened landmarks only ever bring the PnP hand nearer, and over a run of such
          frames the track's prediction follows it, so no jump shows;
        - else where the palm of this frame's landmarks deviates from the track's
          (``_MAX_PALM_DEVIATION``) and the PnP depth jumps from the track's predicted depth by
          more than its own 1σ (``monocular_scale_stddev``, in ratio): the one of the two
          nearer the prediction.

        A palm learned from triangulated joints is metric; one learned from landmarks is brought
        to ``FusionConfig.monocular_hand_size_m`` when that is set, else scaled as this frame's
        landmarks are.
        """
        palm = self._palms.get(self.tracker.tracks[hint].track_id) if hint >= 0 else None
        if palm is None or palm.points is None or palm.support < _MIN_PALM_SUPPORT:
            return None
        if palm.measured:
            template, stddev = palm.points, _LEARNED_SIZE_STDDEV
        elif self.config.monocular_hand_size_m > 0:
            template = palm.points * (self.config.monocular_hand_size_m / palm_length(palm.points))
            stddev = self.config.monocular_scale_stddev
        else:
            template, stddev = palm.points * scale, self.config.monocular_scale_stddev
        v = int(frame.view[d])
        focal = float(self.cams.focal[v])
        placed = palm_depth(frame.xy[d], template, threshold_px / focal,
                            pixel_stddev=self.config.inlier_threshold_px / _INLIER_SIGMAS / focal)
        posed = float(np.mean(points_camera[_PALM_INDEX, 2]))
        if placed is None or not posed > 0:
            return None
        if placed.facing >= _MIN_PALM_FACING and placed.depth > posed * (1.0 + _PALM_DEPTH_SIGMAS * placed.relative_stddev):
            return placed.depth, stddev
        landmarks = frame.dets[d].world_landmarks.astype(np.float64)[_PALM_INDEX] * scale  # (6, 3) m
        if palm.deviation(landmarks) <= _MAX_PALM_DEVIATION:
            return None
        predicted = self.tracker.tracks[hint].predict(frame.stamp)[_PALM_INDEX]  # (6, 3) m world
        expected = float(np.nanmean(predicted @ self.cams.camera_T_world[v, 2, :3] + self.cams.camera_T_world[v, 2, 3]))  # m
        if not expected > 0:
            return None
        # A PnP depth within its own 1σ of the prediction is no jump: it stands.
        if abs(math.log(posed / expected)) <= self.config.monocular_scale_stddev:
            return None
        if abs(math.log(placed.depth / expected)) >= abs(math.log(posed / expected)):
            return None
        return placed.depth, stddev

    def _learn_palm(self, frame: FrameInputs, hand: HandCandidate, track_id: int) -> None:
        """This frame's palm into track ``track_id``'s template (``monocular.PalmTemplate``): its
        triangulated joints, or a one-view hand's landmarks."""
        palm = self._palms.setdefault(track_id, PalmTemplate(max_deviation=_MAX_PALM_DEVIATION,
                                                             capacity=_PALM_CONSENSUS_FRAMES))
        if hand.monocular:
            palm.update(frame.dets[hand.members[0]].world_landmarks.astype(np.float64)[_PALM_INDEX], measured=False)
        else:
            palm.update(hand.measured[_PALM_INDEX], measured=True)

    def _continued_track(self, frame: FrameInputs, d: int) -> int:
        """The track whose prediction lies on detection ``d`` in its view (-1: none).

        The association hints only tracks whose depth is known (see ``process``); a track seen
        by one view for longer still projects onto its hand in that view, and continuing it
        lets its learned size and palm fix the hand's depth. Beyond the association threshold
        the gate grows with the hand's size in pixels (``_ONE_VIEW_TRACK_HAND_FRACTION``) for
        a track that is the only one within it.
        """
        if not self.tracker.tracks:
            return -1
        cost = track_costs(frame.slot[d:d + 1], frame.xy[d:d + 1], frame.predicted, frame.active_cams)[:, 0]  # (K,) px
        best = int(np.argmin(cost))
        pixels = frame.dets[d].keypoints_2d[np.isfinite(frame.xy[d]).all(-1)]  # (n, 2) px, the seen keypoints
        extent_px = float(np.ptp(pixels, axis=0).max()) if len(pixels) else 0.0
        if cost[best] < self.config.association_threshold_px:
            return best
        # Beyond the fixed threshold only a track that is alone within the wider gate: with two
        # hands in view, the nearest track within a hand's size may be the other hand's.
        near = cost < _ONE_VIEW_TRACK_HAND_FRACTION * extent_px  # (K,)
        if not near[best] or near.sum() > 1:
            return -1
        # Nor another detection in the same view nearer that track (a hand entering beside it).
        others = np.flatnonzero((frame.view == frame.view[d]) & (np.arange(len(frame.dets)) != d))
        if len(others):
            rival = track_costs(frame.slot[others], frame.xy[others], frame.predicted[best:best + 1], frame.active_cams)
            if (rival[0] < cost[best]).any():
                return -1
        return best

    def _landmark_scale(self, landmarks: np.ndarray, hint: int) -> tuple[float, float]:
        """(21, 3) m landmarks, track index → (factor for the landmarks, relative 1σ of the size).

        A track with enough learned bones (from triangulation) sets the size: the factor makes
        the landmarks' bones as long as the track's, in total. Otherwise the landmarks' own
        metric size stands, with ``monocular_scale_stddev``.
        """
        if hint >= 0:
            bones = self.tracker.tracks[hint].established_bones  # (20,) m
            measured = bone_lengths(landmarks, BONE_INDEX)  # (20,) m
            ok = np.isfinite(bones) & np.isfinite(measured)
            if ok.sum() >= _MIN_SIZE_BONES and measured[ok].sum() > 0:
                return float(bones[ok].sum() / measured[ok].sum()), _LEARNED_SIZE_STDDEV
        return 1.0, self.config.monocular_scale_stddev

    def _fill_missing(self, frame: FrameInputs, hand: HandCandidate, track_points: np.ndarray | None) -> None:
        """Fill joints with < 2 consistent views from the configured priors, marking their source."""
        for prior in self.config.fill_missing:
            missing = ~np.isfinite(hand.points).all(-1)
            if not missing.any():
                return
            if prior == "world_landmarks":
                best = max(hand.members, key=lambda d: np.isfinite(frame.dets[d].world_landmarks).all(-1).sum())
                landmarks = frame.dets[best].world_landmarks.astype(np.float64)
                world_T_cam = self.rig.cameras[frame.view[best]].world_T_camera
                source = landmarks @ world_T_cam[:3, :3].T  # camera-aligned axes → world axes
                kind = KeypointSource.WORLD_LANDMARKS
            elif track_points is not None:
                source, kind = track_points, KeypointSource.PREVIOUS_FRAME
            else:
                continue
            T = umeyama(source, hand.points, scale=False)
            if T is None:
                continue
            filled = T.apply(source)
            use = missing & np.isfinite(filled).all(-1)
            hand.points[use] = filled[use]
            hand.source[use] = kind
            hand.confidence[use] = _PRIOR_CONFIDENCE * np.median(hand.confidence[~missing])

    def _finish(self, frame: FrameInputs, hands: list[HandCandidate]) -> list[Hand3D]:
        cfg, stamp = self.config, frame.stamp
        hands = self._suppress_duplicates(hands)
        if len(hands) > cfg.max_hands:
            hands = sorted(hands, key=lambda h: (not h.monocular, h.confidence.sum()), reverse=True)[: cfg.max_hands]
        points = np.array([h.points for h in hands]) if hands else np.zeros((0, J, 3))
        track_index = self.tracker.match(points, [h.hint for h in hands], stamp)
        # Two hands cannot continue one track: the later one starts a new track.
        used: set[int] = set()
        for i, k in enumerate(track_index):
            if k in used:
                track_index[i] = -1
            used.add(k)
        tracks = []
        for hand, k in zip(hands, track_index):
            self._fill_missing(frame, hand, self.tracker.tracks[k].points if k >= 0 else None)
            # A one-view hand placed on aligned depth has its depth measured too: its track knows it.
            depth_known = not hand.monocular or bool((hand.source == KeypointSource.DEPTH).any())
            tracks.append(self.tracker.update(k, hand.points, hand.measured, hand.vote, stamp, depth_known))
            self._learn_palm(frame, hand, tracks[-1].track_id)
        # Labels are settled on the tracks, after every vote of the frame: what a track says is what it outputs.
        self.tracker.settle_handedness()
        out = [_fused_hand(hand, track) for hand, track in zip(hands, tracks)]
        return sorted(out, key=lambda h: h.track_id)

    def _suppress_duplicates(self, hands: list[HandCandidate]) -> list[HandCandidate]:
        """Drop one-view hands whose centre lies within ``track_gate_m`` of a better hand's."""
        if not any(h.monocular for h in hands):
            return hands
        order = sorted(hands, key=lambda h: (not h.monocular, h.confidence.sum()), reverse=True)
        kept: list[HandCandidate] = []
        for hand in order:
            centre = np.nanmean(hand.points, axis=0)
            if hand.monocular and any(
                np.linalg.norm(centre - np.nanmean(k.points, axis=0)) < self.config.track_gate_m for k in kept
            ):
                continue
            kept.append(hand)
        return kept


def _fused_hand(hand: HandCandidate, track: Track) -> Hand3D:
    """A candidate and its updated track → its ``Hand3D`` (``Hand3D.unchecked``: every array here
    is the fusion's own, (21, 3) or (21,) by construction)."""
    return Hand3D.unchecked(
        track_id=track.track_id, handedness=track.handedness, handedness_score=track.handedness_score,
        presence=hand.presence,
        keypoints_3d=np.where(np.isfinite(hand.points), track.points if track.filter is not None else hand.points, np.nan),
        keypoint_confidence=hand.confidence, num_views=hand.num_views, reprojection_error_px=hand.errors,
        keypoint_source=hand.source, monocular=hand.monocular, depth_stddev=hand.depth_stddev, age=track.age,
    )


def handedness_evidence(dets: Sequence[HandDetection2D]) -> float:
    """Log-odds for RIGHT summed over one hand's detections; a non-finite score is no evidence."""
    total = 0.0
    for det in dets:
        score = float(det.handedness_score)
        if not math.isfinite(score):
            continue
        p = min(max(score, 1 - _MAX_HANDEDNESS_SCORE), _MAX_HANDEDNESS_SCORE)
        total += _HANDEDNESS_SIGN.get(det.handedness, 0.0) * math.log(p / (1 - p))
    return total
