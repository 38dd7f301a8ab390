"""HandDetection2D refuses scalar fields that are not probabilities, naming the field and value."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.types import Hand3D, HandDetection2D, KeypointSource


def _detection(**overrides) -> HandDetection2D:
    fields = dict(keypoints_2d=np.zeros((21, 2)), keypoint_scores=np.ones(21), handedness=Handedness.RIGHT,
                  handedness_score=0.9, presence=0.8)
    fields.update(overrides)
    return HandDetection2D(**fields)


@pytest.mark.parametrize(("field", "value"), [
    ("handedness_score", float("nan")), ("handedness_score", float("inf")), ("handedness_score", 1.2),
    ("handedness_score", 0.3), ("handedness_score", "high"), ("handedness_score", None),
    ("presence", float("nan")), ("presence", -0.1), ("presence", 1.5),
])
def test_bad_scalar_fields_are_named(field: str, value) -> None:
    with pytest.raises(ValueError, match=rf"HandDetection2D\.{field}: expected a finite number in .*got {value!r}"):
        _detection(**{field: value})


def test_good_scalar_fields_are_kept_as_floats() -> None:
    det = _detection(handedness_score=np.float32(0.5), presence=1)
    assert det.handedness_score == 0.5 and type(det.handedness_score) is float
    assert det.presence == 1.0 and type(det.presence) is float
    # An UNKNOWN label makes no claim: any probability is allowed, but still a finite one in [0, 1].
    assert _detection(handedness=Handedness.UNKNOWN, handedness_score=0.0).handedness_score == 0.0
    with pytest.raises(ValueError, match="handedness_score"):
        _detection(handedness=Handedness.UNKNOWN, handedness_score=-1.0)
    assert HandDetection2D.from_dict(_detection().to_dict()).handedness_score == pytest.approx(0.9)


def test_an_unchecked_hand3d_is_the_object_the_constructor_makes() -> None:
    # Arrays of other dtypes than Hand3D's (float32 points, float64 scores, int64 counts and sources),
    # as a producer's own arithmetic leaves them: unchecked converts them as __post_init__ does.
    rng = np.random.default_rng(0)
    fields = dict(track_id=3, handedness=Handedness.LEFT, handedness_score=0.9, presence=0.8,
                  keypoints_3d=rng.normal(size=(21, 3)).astype(np.float32), keypoint_confidence=rng.random(21),
                  num_views=rng.integers(0, 4, 21), reprojection_error_px=rng.random(21),
                  keypoint_source=np.full(21, int(KeypointSource.TRIANGULATED)), monocular=False, depth_stddev=0.0,
                  age=5)
    checked, unchecked = Hand3D(**fields), Hand3D.unchecked(**fields)
    assert pickle.dumps(unchecked) == pickle.dumps(checked)
    for f in dataclasses.fields(Hand3D):
        a, b = getattr(unchecked, f.name), getattr(checked, f.name)
        assert type(a) is type(b) and getattr(a, "dtype", None) == getattr(b, "dtype", None), f.name
