"""Data passed between the pipeline's stages: 2D detections per view, fused 3D hands.

Data flows one way: images → ``HandDetection2D`` per view → ``Hand3D`` in the world
frame → messages. Arrays are numpy; shapes, dtypes, units and frames are stated per field.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import numpy as np

from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness

__all__ = ["HandDetection2D", "Hand3D", "KeypointSource", "check_shape"]


def check_shape(name: str, array: Any, shape: tuple[int | None, ...], where: str = "") -> np.ndarray:
    """Return ``array`` as an ndarray after checking its shape; ``None`` in ``shape`` matches any size.

    Raises:
        ValueError: naming the array, where it came from, the expected and the actual shape.
    """
    arr = np.asarray(array)
    ok = arr.ndim == len(shape) and all(e is None or e == a for e, a in zip(shape, arr.shape))
    if not ok:
        expected = "(" + ", ".join("*" if e is None else str(e) for e in shape) + ")"
        place = f" in {where}" if where else ""
        raise ValueError(f"{name}{place}: expected shape {expected}, got {tuple(arr.shape)}")
    return arr


class KeypointSource(enum.IntEnum):
    """Where a 3D keypoint came from (same values as HandPose.msg SOURCE_*)."""

    MISSING = 0
    TRIANGULATED = 1
    MONOCULAR = 2
    PREVIOUS_FRAME = 3
    WORLD_LANDMARKS = 4
    DEPTH = 5


@dataclasses.dataclass(frozen=True, eq=False)
class HandDetection2D:
    """One hand found in one camera view by the 2D detector.

    Attributes:
        keypoints_2d: (21, 2) float32 pixels in the full (undistorted-or-not, as received) image,
            origin at the centre of the top-left pixel.
        keypoint_scores: (21,) float32 in [0, 1].
        handedness: the person's own hand, for un-mirrored images.
        handedness_score: probability of ``handedness``, in [0.5, 1] (in [0, 1] for UNKNOWN).
        presence: probability that the crop holds a hand, in [0, 1].
        palm_box: (4,) float32 pixels, x_min, y_min, x_max, y_max of the palm detection
            (or of the tracked ROI when the palm detector did not run).
        world_landmarks: (21, 3) float32 metres, MediaPipe's metric landmarks: axes aligned
            with the camera's (x right, y down, z forward), origin at the hand's approximate
            geometric centre. NaN when the backend does not provide them.
    """

    keypoints_2d: np.ndarray
    keypoint_scores: np.ndarray
    handedness: Handedness
    handedness_score: float
    presence: float
    palm_box: np.ndarray = dataclasses.field(
        default_factory=lambda: np.full(4, np.nan, np.float32)
    )
    world_landmarks: np.ndarray = dataclasses.field(
        default_factory=lambda: np.full((NUM_KEYPOINTS, 3), np.nan, np.float32)
    )

    def __post_init__(self) -> None:
        for name, shape in (
            ("keypoints_2d", (NUM_KEYPOINTS, 2)),
            ("keypoint_scores", (NUM_KEYPOINTS,)),
            ("palm_box", (4,)),
            ("world_landmarks", (NUM_KEYPOINTS, 3)),
        ):
            value = check_shape(name, getattr(self, name), shape, "HandDetection2D")
            object.__setattr__(self, name, value.astype(np.float32, copy=False))
        object.__setattr__(self, "handedness", Handedness(self.handedness))
        # A label's probability is at least one half (else the other label would be named);
        # an UNKNOWN label carries no claim, so any probability goes.
        low = 0.0 if self.handedness == Handedness.UNKNOWN else 0.5
        for name, lo in (("handedness_score", low), ("presence", 0.0)):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            if not (np.isfinite(number) and lo <= number <= 1.0):
                raise ValueError(f"HandDetection2D.{name}: expected a finite number in [{lo:g}, 1], got {value!r}")
            object.__setattr__(self, name, number)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the documented detections format (docs/fusion.md)."""
        return {
            "keypoints_2d": self.keypoints_2d.tolist(),
            "keypoint_scores": self.keypoint_scores.tolist(),
            "handedness": self.handedness.label,
            "handedness_score": float(self.handedness_score),
            "presence": float(self.presence),
            "palm_box": self.palm_box.tolist(),
            "world_landmarks": self.world_landmarks.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HandDetection2D":
        """Inverse of ``to_dict``; ``presence``, ``palm_box`` and ``world_landmarks`` are optional."""
        kwargs: dict[str, Any] = {
            "keypoints_2d": np.asarray(data["keypoints_2d"], np.float32),
            "keypoint_scores": np.asarray(data["keypoint_scores"], np.float32),
            "handedness": Handedness.from_label(data["handedness"]),
            "handedness_score": float(data["handedness_score"]),
            "presence": float(data.get("presence", 1.0)),
        }
        for key in ("palm_box", "world_landmarks"):
            if data.get(key) is not None:
                kwargs[key] = np.asarray(data[key], np.float32)
        return cls(**kwargs)


# Hand3D's per-keypoint (21,) arrays and their dtypes (the constructor's and ``unchecked``'s).
_HAND3D_PER_KEYPOINT_DTYPES = (
    ("keypoint_confidence", np.float32),
    ("num_views", np.int32),
    ("reprojection_error_px", np.float32),
    ("keypoint_source", np.uint8),
)


@dataclasses.dataclass(eq=False)
class Hand3D:
    """One hand in the world frame, fused from all views (one frame of one track).

    Attributes:
        track_id: stable while the hand is tracked.
        handedness / handedness_score: decided by vote over time.
        presence: probability that this is a hand, in [0, 1].
        keypoints_3d: (21, 3) float64 metres, world frame; NaN rows for missing keypoints.
        keypoint_confidence: (21,) float32 in [0, 1]; 0 where missing.
        num_views: (21,) int, views that agreed on each keypoint.
        reprojection_error_px: (21,) float32, mean over supporting views; NaN where none.
        keypoint_source: (21,) uint8 ``KeypointSource`` values.
        monocular: estimated from a single view (depth less certain).
        depth_stddev: metres, 1-sigma depth uncertainty along the camera ray (0 if not monocular).
        age: frames this track has been observed, this one included.
    """

    track_id: int
    handedness: Handedness
    handedness_score: float
    presence: float
    keypoints_3d: np.ndarray
    keypoint_confidence: np.ndarray
    num_views: np.ndarray
    reprojection_error_px: np.ndarray
    keypoint_source: np.ndarray
    monocular: bool = False
    depth_stddev: float = 0.0
    age: int = 1

    def __post_init__(self) -> None:
        self.keypoints_3d = check_shape("keypoints_3d", self.keypoints_3d, (NUM_KEYPOINTS, 3), "Hand3D").astype(np.float64, copy=False)
        for name, dtype in _HAND3D_PER_KEYPOINT_DTYPES:
            value = check_shape(name, getattr(self, name), (NUM_KEYPOINTS,), "Hand3D")
            setattr(self, name, value.astype(dtype, copy=False))
        self.handedness = Handedness(self.handedness)

    @classmethod
    def unchecked(cls, **fields: Any) -> "Hand3D":
        """The ``Hand3D`` the constructor makes of ``fields`` (every field given; arrays of the
        documented shapes, a ``Handedness``), without its shape checks: for a producer whose
        arrays are its own, built every frame (the fusion: the checks cost 17 calls a hand).
        Same dtypes, same field order, hence the same object and pickle."""
        for name, dtype in _HAND3D_PER_KEYPOINT_DTYPES:
            fields[name] = fields[name].astype(dtype, copy=False)
        fields["keypoints_3d"] = fields["keypoints_3d"].astype(np.float64, copy=False)
        hand = object.__new__(cls)
        hand.__dict__.update((name, fields[name]) for name in _HAND3D_FIELDS)
        return hand

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the documented fused-output format (docs/fusion.md)."""
        return {
            "id": int(self.track_id),
            "handedness": self.handedness.label,
            "handedness_score": float(self.handedness_score),
            "presence": float(self.presence),
            "keypoints_3d": [None if np.isnan(p).any() else p.tolist() for p in self.keypoints_3d],
            "keypoint_confidence": self.keypoint_confidence.tolist(),
            "num_views": self.num_views.tolist(),
            "reprojection_error_px": [None if np.isnan(e) else float(e) for e in self.reprojection_error_px],
            "keypoint_source": [KeypointSource(int(s)).name.lower() for s in self.keypoint_source],
            "monocular": bool(self.monocular),
            "depth_stddev": float(self.depth_stddev),
            "age": int(self.age),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Hand3D":
        """Inverse of ``to_dict``."""
        points = np.array(
            [[np.nan] * 3 if p is None else p for p in data["keypoints_3d"]], np.float64
        )
        errors = [np.nan if e is None else e for e in data.get("reprojection_error_px", [None] * NUM_KEYPOINTS)]
        sources = data.get("keypoint_source")
        if sources is None:
            source_arr = np.where(np.isnan(points).any(1), KeypointSource.MISSING, KeypointSource.TRIANGULATED)
        else:
            source_arr = np.array([KeypointSource[s.upper()] if isinstance(s, str) else int(s) for s in sources])
        return cls(
            track_id=int(data["id"]),
            handedness=Handedness.from_label(data["handedness"]),
            handedness_score=float(data.get("handedness_score", 1.0)),
            presence=float(data.get("presence", 1.0)),
            keypoints_3d=points,
            keypoint_confidence=np.asarray(data["keypoint_confidence"], np.float32),
            num_views=np.asarray(data["num_views"]),
            reprojection_error_px=np.asarray(errors, np.float32),
            keypoint_source=source_arr,
            monocular=bool(data.get("monocular", False)),
            depth_stddev=float(data.get("depth_stddev", 0.0)),
            age=int(data.get("age", 1)),
        )


_HAND3D_FIELDS = tuple(f.name for f in dataclasses.fields(Hand3D))  # declaration order, as __init__ sets them
