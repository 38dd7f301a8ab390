"""``MeshFitterConfig``: every setting of the hand mesh fitting, with its default and reason."""

from __future__ import annotations

import dataclasses

from hand_pose_ros.types import check_choice

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
        damping: Levenberg-Marquardt damping, relative to the normal matrix's diagonal.
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
        check_choice("MeshFitterConfig.model", self.model, MESH_MODELS)
        check_choice("MeshFitterConfig.handedness", self.handedness, HANDEDNESS_SOURCES)
        if self.model == "mano" and not self.mano_dir:
            raise ValueError(
                "MeshFitterConfig.mano_dir must name the directory with MANO_RIGHT.pkl / MANO_LEFT.pkl "
                "when model='mano', got None"
            )
        for name in ("cold_iterations", "warm_iterations"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"MeshFitterConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("pose_prior_weight", "rest_prior_weight", "scale_prior_weight", "damping"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"MeshFitterConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("max_step", "track_timeout_s", "robust_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"MeshFitterConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.scale_learning_rate <= 1:
            raise ValueError(
                f"MeshFitterConfig.scale_learning_rate must be in [0, 1], got {self.scale_learning_rate!r}")
        try:  # ROS parameters arrive as lists
            low, high = (float(v) for v in self.scale_range)
        except (TypeError, ValueError):
            raise ValueError(f"MeshFitterConfig.scale_range must be (min, max), got {self.scale_range!r}") from None
        object.__setattr__(self, "scale_range", (low, high))
        if not 0 < low <= 1 <= high:
            raise ValueError(f"MeshFitterConfig.scale_range must satisfy 0 < min <= 1 <= max, got {self.scale_range!r}")
        if self.min_keypoints < 3:
            raise ValueError(f"MeshFitterConfig.min_keypoints must be >= 3 (a rigid pose), got {self.min_keypoints!r}")
