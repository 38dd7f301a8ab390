"""``MeshFitterConfig``: every setting of the hand mesh fitting, with its default and reason."""

from __future__ import annotations

import dataclasses

from hand_pose_ros.checks import check_choice, check_number, check_sequence, check_string

__all__ = ["MeshFitterConfig", "MESH_MODELS", "HANDEDNESS_SOURCES"]

MESH_MODELS = ("none", "webxr", "mano")
HANDEDNESS_SOURCES = ("geometry", "label")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MeshFitterConfig:
    """Settings of ``HandMeshFitter`` (distances in metres, angles in radians, times in seconds).

    Attributes:
        model: hand model to fit, one of ``MESH_MODELS`` ("none": the fitter returns no meshes).
        mano_dir: directory holding the user's ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``
            (required for ``model="mano"``; MANO is never shipped).
        handedness: which hand model a track gets, one of ``HANDEDNESS_SOURCES``: "label" fits
            the hand's handedness label (unknown: not fitted); "geometry" also fits the other
            hand on a track's first frame and keeps it when it fits clearly better (a logged
            warning), and fits unknown hands with whichever fits best.
        cold_iterations: Gauss-Newton iterations for a track seen for the first time.
        warm_iterations: iterations for a track warm-started from its previous frame.
        pose_prior_weight: metres of residual per radian of pose change from the track's
            previous fit: temporal smoothing, and unobserved joints stay where they were.
            0.02 against 0.01: detected-joint MPVPE 9.3 vs 10.2 mm on the sample, σ = 5 mm
            noise 4.6 vs 6.1 mm, lag on exact joints of a hand closing in 0.5 s 1.9 vs 1.6 mm.
        rest_prior_weight: the same towards the rest pose for a track's first fit (small: it
            only keeps joints without data at rest).
        scale_prior_weight: metres of residual per unit of log-scale change from the track's
            scale; the hand's size changes slowly, so new frames only nudge it.
        scale_learning_rate: per-frame rate at which a track's scale prior follows its fits.
        scale_range: (min, max) hand scale relative to the model's own size.
        robust_scale: Cauchy loss scale, metres: a fused keypoint this far from the model counts
            half (twice as far: a fifth), so outlier joints cannot drag the hand.
        damping: Levenberg-Marquardt damping, relative to the normal matrix's diagonal: the
            smallest; a step that does not lower the fit's cost is refused and the hand's
            damping raised tenfold for its next iteration (lowered again after a kept step).
        max_step: largest change of one joint parameter per iteration (radians).
        min_keypoints: hands with fewer valid (finite, confidence > 0) keypoints are not fitted.
        track_timeout_s: a track's warm start is forgotten after this long unseen.
    """

    model: str = "webxr"
    mano_dir: str | None = None
    handedness: str = "geometry"
    cold_iterations: int = 20
    warm_iterations: int = 1
    pose_prior_weight: float = 0.02
    rest_prior_weight: float = 1e-3
    scale_prior_weight: float = 0.1
    scale_learning_rate: float = 0.1
    scale_range: tuple[float, float] = (0.7, 1.4)
    robust_scale: float = 0.02
    damping: float = 1e-3
    max_step: float = 0.5
    min_keypoints: int = 6
    track_timeout_s: float = 0.5

    def __post_init__(self) -> None:
        name = "MeshFitterConfig"
        check_choice(f"{name}.model", self.model, MESH_MODELS)
        check_string(f"{name}.mano_dir", self.mano_dir, optional=True)
        check_choice(f"{name}.handedness", self.handedness, HANDEDNESS_SOURCES)
        for field in ("cold_iterations", "warm_iterations"):
            check_number(f"{name}.{field}", getattr(self, field), integer=True, low=1)
        for field in ("pose_prior_weight", "rest_prior_weight", "scale_prior_weight", "damping"):
            check_number(f"{name}.{field}", getattr(self, field), low=0.0)
        for field in ("max_step", "track_timeout_s", "robust_scale"):
            check_number(f"{name}.{field}", getattr(self, field), low=0.0, low_open=True)
        check_number(f"{name}.scale_learning_rate", self.scale_learning_rate, low=0.0, high=1.0)
        low, high = check_sequence(f"{name}.scale_range", self.scale_range, lambda n, v: check_number(n, v, low=0.0, low_open=True), length=2)
        object.__setattr__(self, "scale_range", (float(low), float(high)))
        if not low <= 1 <= high:
            raise ValueError(f"{name}.scale_range: expected (min, max) with 0 < min <= 1 <= max, got {self.scale_range!r}")
        # 3 keypoints fix a rigid pose.
        check_number(f"{name}.min_keypoints", self.min_keypoints, integer=True, low=3)
        # Last: a field-by-field loader reports the fields' own problems before this one.
        if self.model == "mano" and not self.mano_dir:
            raise ValueError(
                f"{name}.mano_dir: expected the directory with MANO_RIGHT.pkl / MANO_LEFT.pkl "
                f"when model='mano', got {self.mano_dir!r}"
            )
