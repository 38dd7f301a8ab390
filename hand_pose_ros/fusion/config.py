"""``FusionConfig``: every setting of the multi-view fusion, with its default and reason."""

from __future__ import annotations

import dataclasses

from hand_pose_ros.checks import check_bool, check_choice, check_number, check_sequence

__all__ = ["FusionConfig", "FILTERS", "FILL_PRIORS", "KEYPOINT_DEFINITIONS"]

FILTERS = ("one_euro_predictive", "one_euro", "none")
FILL_PRIORS = ("world_landmarks", "previous_frame")
# Values of keypoint_definition (HandPose.msg KEYPOINTS_* in this order).
KEYPOINT_DEFINITIONS = ("mediapipe", "mano")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FusionConfig:
    """Settings of ``MultiViewFusion`` (pixels are full-resolution image pixels, times seconds).

    Attributes:
        min_keypoint_score: 2D keypoints scoring below this are treated as unseen.
        inlier_threshold_px: a view agrees on a joint when its reprojection error is below this
            (≈ 3σ of the detector's 2D noise).
        association_threshold_px: detections in two views are the same hand when their joints'
            median epipolar distance is below this; a detection joins a track when its joints'
            median distance to the track's projected prediction is below it.
        refine: run the robust nonlinear refinement after triangulation.
        refine_iterations: Gauss-Newton iterations of the refinement (from the DLT solution one
            is enough: a second changed the benchmark's MPJPE by < 0.05 mm).
        huber_px: Huber scale of the refinement's reprojection term.
        bone_weight_px_per_mm: weight of the bone-length term (1 mm error costs this many px).
        bone_learning_rate: per-frame rate at which a track's bone lengths follow new measurements.
        fill_missing: priors, in order, that fill joints with < 2 consistent views; any of
            ``FILL_PRIORS``; empty: such joints are reported missing (NaN, confidence 0).
        monocular: estimate hands seen by one view from the detector's world landmarks (PnP).
        monocular_scale_stddev: relative 1σ error of the detector's metric hand size; the
            monocular depth 1σ is this × the depth. MediaPipe's landmarks on the project's
            synthetic renders: size ratio to the truth 0.79–1.15 (10th–90th percentile).
        monocular_hand_size_m: the distance (m) from the wrist to the middle finger's knuckle
            (in the detector's keypoint definition) that fixes a one-view hand's scale while
            its track has no triangulated palm; 0: the landmarks' own size, averaged over the
            track (``MultiViewFusion``, one view, in docs/fusion.md).
        monocular_depth_filter: pass a one-view track's palm depth through its own Kalman
            filter (``monocular.DepthFilter``: a decaying rate, a manoeuvre test, not over a
            new track's first frames; not with ``filter`` "none"; a frame whose landmarks fit
            its keypoints loosely counts less). hand-graph-cnn (one free hand, 10 Hz): MPJPE
            23.8 → 20.1 mm when the filter came in, 19.5 with the fit weighting; DexYCB's single
            cameras 94.4 → 89.8 mm on average (−18 to +2.8 mm each); the bundled sample's
            single cameras within 2 mm.
        max_hands: at most this many hands are reported per frame (the most confident).
        track_gate_m: a hand continues a track when its mean joint distance to the track's
            prediction is below this (metres).
        track_timeout_s: a track survives dropouts up to this long.
        joint_gate_m: a joint agreed on by only two views that lies further than this from its
            track's prediction is rejected (two views alone cannot expose an outlier lying
            near the epipolar line).
        handedness_memory: weight of the past in the handedness vote, per frame (0: no memory).
        filter: temporal filter on the 3D joints, one of ``FILTERS``: ``one_euro_predictive``
            (the hand's centre through a One-Euro around its constant-velocity prediction, its
            shape through a plain One-Euro: ``filtering.HandFilter``), ``one_euro`` (every joint
            through a plain One-Euro, which lags a moving hand by its motion over ≈ (1 − α)/α
            frames) or ``none``. DexYCB mustard, 8 cameras: MPJPE 10.4 / 10.0 mm plain /
            predictive; bundled sample 7.28 / 7.07 mm (PA-MPJPE 5.44 / 5.49).
        one_euro_min_cutoff_hz, one_euro_beta, one_euro_derivative_cutoff_hz: One-Euro
            parameters (beta in s/m: the cutoff rises by beta Hz per m/s of joint speed; the
            derivative cutoff also sets how fast the predictive filter's velocity follows:
            1 Hz at 30 Hz weighs a new velocity by 0.17, 3 Hz by 0.39).
        depth_window_px: aligned depth is sampled at each keypoint over a square window of
            this half-width (px; 2: 5 × 5 pixels, ≈ 8 mm at 0.7 m with a 615 px focal length).
        depth_gate_m: a keypoint's measured joint depth counts when it lies within this of the
            hand's (one view: the scaled PnP hand; several: the triangulated joint, and also
            within 3σ of it, σ from the sensor's and the triangulation's noise, and only from
            a view most of whose joints agree: docs/fusion.md "Depth"); beyond it it is off
            the hand (a hole's edge, the grasped object, another finger).
        depth_weight_px_per_mm: weight of the depth residual in the multi-view refinement
            (1 mm of depth error costs this many px); 0: depth unused with several views.
            Synthetic 2 / 4 cameras: 0 → 1 takes 12.1 → 11.3 / 8.9 → 8.1 mm; DexYCB 8 cameras
            (biased depth on skin): 9.8 → 10.7 mm; 0.3 is between (docs/benchmarks.md).
        depth_huber_mm: Huber scale of the refinement's depth residual.
        depth_surface_fit_iterations: Gauss–Newton steps of a one-view hand's fit to the
            measured surface of its 2D region (``depth_fit.fit_hand_to_surface``, ≈ 1 CPU-ms
            a step); 0: the hand stays on its keypoints' measured depths. DexYCB singles
            with depth: 8 steps gain 0.1–1.8 mm on every camera that finds the hand.
        keypoint_definition: which joints the output hands follow, one of
            ``KEYPOINT_DEFINITIONS``: ``mediapipe`` (the detector's keypoints) or ``mano``
            (MANO's joints, as DexYCB, HO3D, InterHand2.6M and FreiHAND label them, by a fixed
            per-joint offset in the hand's frame: ``hand_pose_ros.keypoint_definitions``).
    """

    min_keypoint_score: float = 0.05
    inlier_threshold_px: float = 20.0
    association_threshold_px: float = 40.0
    refine: bool = True
    refine_iterations: int = 1
    huber_px: float = 10.0
    bone_weight_px_per_mm: float = 0.3
    bone_learning_rate: float = 0.05
    fill_missing: tuple[str, ...] = ()
    monocular: bool = True
    monocular_scale_stddev: float = 0.15
    monocular_hand_size_m: float = 0.0
    monocular_depth_filter: bool = True
    max_hands: int = 2
    track_gate_m: float = 0.15
    track_timeout_s: float = 0.5
    joint_gate_m: float = 0.04
    handedness_memory: float = 0.95
    filter: str = "one_euro_predictive"
    one_euro_min_cutoff_hz: float = 2.0
    one_euro_beta: float = 30.0
    one_euro_derivative_cutoff_hz: float = 3.0
    depth_window_px: int = 2
    depth_gate_m: float = 0.02
    depth_weight_px_per_mm: float = 0.3
    depth_huber_mm: float = 10.0
    depth_surface_fit_iterations: int = 8
    keypoint_definition: str = "mediapipe"

    def __post_init__(self) -> None:
        name = "FusionConfig"
        positive = ("inlier_threshold_px", "association_threshold_px", "huber_px", "track_gate_m",
                    "track_timeout_s", "joint_gate_m", "one_euro_min_cutoff_hz", "one_euro_derivative_cutoff_hz",
                    "depth_gate_m", "depth_huber_mm")
        for field in positive:
            check_number(f"{name}.{field}", getattr(self, field), low=0.0, low_open=True)
        for field in ("bone_weight_px_per_mm", "one_euro_beta", "monocular_scale_stddev", "depth_weight_px_per_mm",
                      "monocular_hand_size_m"):
            check_number(f"{name}.{field}", getattr(self, field), low=0.0)
        for field in ("min_keypoint_score", "bone_learning_rate", "handedness_memory"):
            check_number(f"{name}.{field}", getattr(self, field), low=0.0, high=1.0)
        check_bool(f"{name}.refine", self.refine)
        check_number(f"{name}.refine_iterations", self.refine_iterations, integer=True, low=0)
        check_number(f"{name}.depth_window_px", self.depth_window_px, integer=True, low=0)
        check_number(f"{name}.depth_surface_fit_iterations", self.depth_surface_fit_iterations, integer=True, low=0)
        check_bool(f"{name}.monocular", self.monocular)
        check_bool(f"{name}.monocular_depth_filter", self.monocular_depth_filter)
        check_number(f"{name}.max_hands", self.max_hands, integer=True, low=1)
        check_choice(f"{name}.filter", self.filter, FILTERS)
        check_choice(f"{name}.keypoint_definition", self.keypoint_definition, KEYPOINT_DEFINITIONS)
        fill = check_sequence(f"{name}.fill_missing", self.fill_missing, lambda n, v: check_choice(n, v, FILL_PRIORS))
        object.__setattr__(self, "fill_missing", fill)
