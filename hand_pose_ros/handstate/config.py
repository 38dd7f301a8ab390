"""``HandStateConfig``: the thresholds of the hand-state signals, each with why it has its value.

Ratios are relative to the hand's own size (``hand_scale``: the mean length of the proximal
and middle phalanges of the four fingers, ≈ 0.027 m on the project's adult hand model), so one
set of thresholds suits small and large hands. Values were set on the hand model's named poses
(``hand_pose_ros.handmodel.named_pose``) and on noisy pinch sequences (docs/handstate.md).
"""

from __future__ import annotations

import dataclasses

from hand_pose_ros.checks import check_number, check_sequence

__all__ = ["HandStateConfig"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class HandStateConfig:
    """Thresholds of ``HandStateEstimator`` (see the comment on each field for its reason).

    Attributes:
        pinch_closed_ratio: pinch distance / hand_scale at which pinch_strength reaches 1.
        pinch_open_ratio: pinch distance / hand_scale at which pinch_strength falls to 0.
        pinch_on_strength, pinch_off_strength: hysteresis of the pinch state, in [0, 1].
        pinch_min_duration_s: seconds a pinch change must persist before the state follows.
        finger_curl_range_deg, thumb_curl_range_deg: (straight, curled) sum of bend angles, degrees.
        pointing_max_index_curl, pointing_min_other_curl: the pointing gesture's curls.
        scale_time_constant_s, speed_time_constant_s: smoothing of hand_scale and speed, seconds.
        speed_max_gap_s: longest gap between a track's frames that a speed is computed across.
        track_timeout_s: a track unseen for this long is forgotten.
    """

    # Tip keypoints sit at the ends of the fingers, beyond the pads: with the pads touching
    # they are still about one phalanx apart (the model's "pinch" pose: 1.1 × hand_scale).
    pinch_closed_ratio: float = 1.0
    # An open hand's thumb and index tips are ≈ 5 × hand_scale apart; by 3 × the fingers are
    # clearly apart (the model's "point" pose: 3.5 ×, "fist": 1.7 ×).
    pinch_open_ratio: float = 3.0
    # On at 1.5 × hand_scale (≈ 41 mm), off at 1.9 × (≈ 52 mm): the 11 mm band is 2.6 σ of the
    # tip-to-tip distance under 3 mm per-axis keypoint noise, so noise alone does not flip it,
    # and the model's "fist" (1.7 ×) never starts a pinch from an open hand.
    pinch_on_strength: float = 0.75
    pinch_off_strength: float = 0.55
    # Two frames at 30 fps: a single noisy frame never switches the state, and a deliberate
    # pinch (≥ 0.1 s) is reported one frame after it starts.
    pinch_min_duration_s: float = 0.03
    # Bends at MCP, PIP and DIP measured between keypoint segments: 14-18° on the model's
    # straight fingers (the keypoints are not collinear), 232-240° in its fist.
    finger_curl_range_deg: tuple[float, float] = (15.0, 235.0)
    # Bends at the thumb's MCP and IP: 23° open, 71° in the fist.
    thumb_curl_range_deg: tuple[float, float] = (20.0, 70.0)
    # The model's "point": index 0.04, others ≥ 0.98; its "pinch" index 0.48, "peace" middle 0.03.
    pointing_max_index_curl: float = 0.25
    pointing_min_other_curl: float = 0.6
    # A person's hand size is constant: averaging over ≈ 0.5 s removes most keypoint noise from
    # the normaliser while following a hand that changes (a new person under the same track).
    scale_time_constant_s: float = 0.5
    # One frame's palm-centre difference at 30 fps carries ≈ 0.1 m/s of noise from 3 mm
    # keypoints; 0.1 s (3 frames) of smoothing halves it and still follows a reach within 0.2 s.
    speed_time_constant_s: float = 0.1
    # Beyond a quarter second a finite difference is no longer a speed (the track dropped out).
    speed_max_gap_s: float = 0.25
    # The fusion keeps a lost track for well under a second; 1 s bounds the memory.
    track_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        check_number("HandStateConfig.pinch_closed_ratio", self.pinch_closed_ratio, low=0.0, high=100.0, low_open=True)
        check_number("HandStateConfig.pinch_open_ratio", self.pinch_open_ratio, low=0.0, high=100.0, low_open=True)
        if self.pinch_open_ratio <= self.pinch_closed_ratio:
            raise ValueError(
                f"HandStateConfig.pinch_open_ratio: expected more than pinch_closed_ratio "
                f"({self.pinch_closed_ratio}), got {self.pinch_open_ratio}"
            )
        check_number("HandStateConfig.pinch_on_strength", self.pinch_on_strength, low=0.0, high=1.0)
        check_number("HandStateConfig.pinch_off_strength", self.pinch_off_strength, low=0.0, high=1.0)
        if self.pinch_off_strength >= self.pinch_on_strength:
            raise ValueError(
                f"HandStateConfig.pinch_off_strength: expected less than pinch_on_strength "
                f"({self.pinch_on_strength}) for hysteresis, got {self.pinch_off_strength}"
            )
        check_number("HandStateConfig.pinch_min_duration_s", self.pinch_min_duration_s, low=0.0, high=10.0)
        for name in ("finger_curl_range_deg", "thumb_curl_range_deg"):
            # A list or ROS's array.array from a parameter becomes the (straight, curled) tuple.
            straight, curled = check_sequence(f"HandStateConfig.{name}", getattr(self, name),
                                              lambda n, v: check_number(n, v, low=0.0, high=540.0), length=2)
            value = (float(straight), float(curled))
            object.__setattr__(self, name, value)
            if value[1] <= value[0]:
                raise ValueError(f"HandStateConfig.{name}: expected straight < curled, got {value!r}")
        check_number("HandStateConfig.pointing_max_index_curl", self.pointing_max_index_curl, low=0.0, high=1.0)
        check_number("HandStateConfig.pointing_min_other_curl", self.pointing_min_other_curl, low=0.0, high=1.0)
        if self.pointing_min_other_curl <= self.pointing_max_index_curl:
            raise ValueError(
                f"HandStateConfig.pointing_min_other_curl: expected more than pointing_max_index_curl "
                f"({self.pointing_max_index_curl}), got {self.pointing_min_other_curl}"
            )
        for name in ("scale_time_constant_s", "speed_time_constant_s"):
            check_number(f"HandStateConfig.{name}", getattr(self, name), low=0.0, high=60.0)
        check_number("HandStateConfig.speed_max_gap_s", self.speed_max_gap_s, low=0.0, high=60.0, low_open=True)
        check_number("HandStateConfig.track_timeout_s", self.track_timeout_s, low=0.0, high=3600.0, low_open=True)
