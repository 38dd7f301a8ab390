"""Hand state on the hand model's named poses and on noisy pinch sequences (hand_pose_ros.handstate)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hand_pose_ros.fusion import wrist_pose
from hand_pose_ros.handmodel import JOINT_INDEX, HandModel, named_pose
from hand_pose_ros.handstate import HandStateConfig, HandStateEstimator, PinchEvent
from hand_pose_ros.keypoints import HandKeypoint, Handedness
from hand_pose_ros.tools.bench.handstate import hand_from_keypoints, match_onsets, onsets, pinch_sequence

K = HandKeypoint
NS_PER_FRAME = 33_333_333  # 30 fps
POINTING_BOUND_DEG = 5.0  # the bound on the `point` pose
NOISE_M = 0.003  # the keypoint noise, σ per coordinate
SIDES = (Handedness.RIGHT, Handedness.LEFT)


@pytest.fixture(scope="module")
def models():
    return {side: HandModel.load(side.label) for side in SIDES}


def _root(rng) -> np.ndarray:
    root = np.eye(4)
    root[:3, :3] = Rotation.random(random_state=rng).as_matrix()
    root[:3, 3] = rng.uniform(-0.3, 0.3, 3) + [0.0, 0.0, 0.6]
    return root


def _states(keypoints: np.ndarray, side: Handedness, frames: int = 3, config: HandStateConfig | None = None):
    """The same hand held still for ``frames`` frames → the last state."""
    estimator = HandStateEstimator(config)
    for i in range(frames):
        state = estimator.update([hand_from_keypoints(keypoints, 1, int(side))], i * NS_PER_FRAME)[0]
    return state


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


@pytest.mark.parametrize("side", SIDES)
def test_named_poses_give_their_signals(models, side):
    rng = np.random.default_rng(int(side))
    cfg = HandStateConfig()
    out = {p: models[side](named_pose(p), _root(rng), skin=False) for p in ("open", "fist", "point", "pinch")}
    s = {p: _states(o.keypoints, side) for p, o in out.items()}
    # Pinch: only the pinch pose; strength orders the poses by thumb-index distance.
    assert [p for p in s if s[p].pinched] == ["pinch"]
    assert s["pinch"].pinch_strength >= cfg.pinch_on_strength > s["fist"].pinch_strength > s["open"].pinch_strength
    assert s["open"].pinch_strength == 0.0
    k = out["pinch"].keypoints
    assert s["pinch"].pinch_distance_m == pytest.approx(np.linalg.norm(k[K.THUMB_TIP] - k[K.INDEX_FINGER_TIP]))
    # Curl: open fingers straight, fist curled, point: index straight, the others curled.
    assert np.all(s["open"].finger_curl < 0.1) and np.all(s["fist"].finger_curl > 0.9)
    assert s["point"].finger_curl[1] < 0.1 and np.all(s["point"].finger_curl[2:] > 0.9)
    # Aperture: open hand wide, fist closed.
    assert s["open"].grasp_aperture_m > 0.12 and s["fist"].grasp_aperture_m < 0.05
    # Pointing: only the point pose, its ray along the index finger's true direction.
    assert [p for p in s if s[p].pointing] == ["point"]
    for p in ("open", "fist", "pinch"):
        assert np.isnan(s[p].ray_direction).all() and np.isnan(s[p].ray_origin).all()
    T = out["point"].transforms
    true_direction = T[JOINT_INDEX["index-finger-tip"], :3, 3] - T[JOINT_INDEX["index-finger-phalanx-proximal"], :3, 3]
    assert _angle_deg(s["point"].ray_direction, true_direction) < POINTING_BOUND_DEG
    assert np.linalg.norm(s["point"].ray_direction) == pytest.approx(1.0)
    np.testing.assert_allclose(s["point"].ray_origin, out["point"].keypoints[K.INDEX_FINGER_TIP])
    # Palm normal: unit, the wrist frame's −z, and the curled fingertips lie on its side.
    fist = out["fist"].keypoints
    normal = s["fist"].palm_normal
    np.testing.assert_allclose(normal, -wrist_pose(fist, side)[:3, 2], atol=1e-12)
    tips = fist[[K.INDEX_FINGER_TIP, K.MIDDLE_FINGER_TIP, K.RING_FINGER_TIP, K.PINKY_TIP]].mean(0)
    assert (tips - fist[K.WRIST]) @ normal > 0.02
    # Hand size: about the model's mean phalanx length, whatever the pose.
    scales = [st.hand_scale_m for st in s.values()]
    assert max(scales) / min(scales) < 1.03 and 0.02 < np.mean(scales) < 0.035


@pytest.mark.parametrize("seed", range(5))
def test_noisy_pinches_change_state_once_per_pinch_within_two_frames(models, seed):
    rng = np.random.default_rng(seed)
    cfg = HandStateConfig()
    truth, stamps = pinch_sequence(models[SIDES[seed % 2]], rng, cycles=3)
    true_onsets = onsets(truth, stamps, dataclasses.replace(cfg, pinch_min_duration_s=0.0))
    assert len(true_onsets) == 3
    noisy = truth + rng.normal(0.0, NOISE_M, truth.shape)
    estimator = HandStateEstimator(cfg)
    events = [estimator.update([hand_from_keypoints(k)], int(t))[0].pinch_event for k, t in zip(noisy, stamps)]
    started = [i for i, e in enumerate(events) if e == PinchEvent.STARTED]
    ended = [i for i, e in enumerate(events) if e == PinchEvent.ENDED]
    # Exactly one start and one end per real pinch, alternating: no chatter.
    assert len(started) == len(ended) == 3
    assert all(a < b < c for a, b, c in zip(started, ended, started[1:] + [len(events)]))
    lags, missed, false = match_onsets(true_onsets, started)
    assert missed == 0 and false == 0 and all(abs(lag) <= 2 for lag in lags), lags


@pytest.mark.parametrize("seed", range(3))
def test_a_hand_held_at_the_threshold_does_not_chatter(models, seed):
    """Pinch distance held where the strength equals pinch_on_strength, 3 mm noise, 10 s."""
    rng = np.random.default_rng(seed)
    cfg = HandStateConfig()
    model, root = models[Handedness.RIGHT], _root(rng)
    weights = np.linspace(0.0, 1.0, 201)
    strengths = [_states(model((1 - w) * named_pose("open") + w * named_pose("pinch"), root, skin=False).keypoints,
                         Handedness.RIGHT, frames=1).pinch_strength for w in weights]
    w = weights[int(np.argmin(np.abs(np.array(strengths) - cfg.pinch_on_strength)))]
    held = model((1 - w) * named_pose("open") + w * named_pose("pinch"), root, skin=False).keypoints
    estimator = HandStateEstimator(cfg)
    events = [estimator.update([hand_from_keypoints(held + rng.normal(0, NOISE_M, held.shape))], i * NS_PER_FRAME)[0].pinch_event
              for i in range(300)]
    assert sum(e != PinchEvent.NONE for e in events) <= 1  # at most the one onset, never back and forth


def _values(state) -> dict[str, object]:
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}


@pytest.mark.parametrize(
    "missing, invalid",
    [
        ((K.THUMB_TIP,), {"pinch", "aperture", "curl0"}),
        ((K.INDEX_FINGER_PIP,), {"curl1", "pointing"}),
        ((K.PINKY_TIP,), {"aperture", "curl4", "pointing"}),
        ((K.WRIST,), {"palm", "speed", "curl0", "curl1", "curl2", "curl3", "curl4", "pointing"}),
        ((K.MIDDLE_FINGER_MCP,), {"palm", "speed", "curl2", "pointing"}),
    ],
)
def test_missing_keypoints_give_nan_and_false_flags_and_leave_the_rest_exact(models, missing, invalid):
    rng = np.random.default_rng(3)
    root = _root(rng)
    keypoints = models[Handedness.RIGHT](named_pose("point"), root, skin=False).keypoints
    moved = keypoints + [0.01, 0.0, 0.0]  # a second frame, so that the speed is defined
    holed = moved.copy()
    holed[list(missing)] = np.nan
    full_est, holed_est = HandStateEstimator(), HandStateEstimator()
    for est, second in ((full_est, moved), (holed_est, holed)):
        est.update([hand_from_keypoints(keypoints)], 0)
    full = full_est.update([hand_from_keypoints(moved)], NS_PER_FRAME)[0]
    state = holed_est.update([hand_from_keypoints(holed)], NS_PER_FRAME)[0]
    assert full.pointing and full.speed_valid and full.palm_valid and full.pinch_valid and full.curl_valid.all()
    groups = {
        "pinch": (state.pinch_valid, [state.pinch_distance_m, state.pinch_strength], state.pinch_confidence),
        "aperture": (state.aperture_valid, [state.grasp_aperture_m], state.aperture_confidence),
        "pointing": (state.pointing, [*state.ray_origin, *state.ray_direction], state.pointing_confidence),
        "palm": (state.palm_valid, [*state.palm_normal, *state.world_T_wrist[:3].ravel()], state.palm_confidence),
        "speed": (state.speed_valid, [state.speed_mps], state.speed_confidence),
        **{f"curl{i}": (state.curl_valid[i], [state.finger_curl[i]], state.curl_confidence[i]) for i in range(5)},
    }
    full_groups = {
        "pinch": [full.pinch_distance_m, full.pinch_strength], "aperture": [full.grasp_aperture_m],
        "pointing": [*full.ray_origin, *full.ray_direction], "palm": [*full.palm_normal, *full.world_T_wrist[:3].ravel()],
        "speed": [full.speed_mps], **{f"curl{i}": [full.finger_curl[i]] for i in range(5)},
    }
    for name, (flag, values, confidence) in groups.items():
        if name in invalid:
            assert not flag and np.isnan(values).all() and confidence == 0.0, name
        else:  # never a value computed from fewer keypoints: exactly the full hand's
            assert flag and confidence == 1.0, name
            np.testing.assert_allclose(values, full_groups[name], rtol=1e-12, err_msg=name)


def test_confidence_is_the_weakest_keypoint_used(models):
    keypoints = models[Handedness.RIGHT](named_pose("open"), np.eye(4), skin=False).keypoints
    hand = hand_from_keypoints(keypoints)
    hand.keypoint_confidence[K.THUMB_TIP] = 0.4
    hand.keypoint_confidence[K.PINKY_MCP] = 0.7
    state = HandStateEstimator().update([hand], 0)[0]
    assert state.pinch_confidence == pytest.approx(0.4) and state.aperture_confidence == pytest.approx(0.4)
    assert state.palm_confidence == pytest.approx(0.7) and state.curl_confidence[0] == pytest.approx(0.4)
    assert state.curl_confidence[4] == pytest.approx(0.7) and state.curl_confidence[1] == pytest.approx(1.0)


def test_pinch_state_holds_through_unobserved_frames(models):
    keypoints = models[Handedness.RIGHT](named_pose("pinch"), np.eye(4), skin=False).keypoints
    estimator = HandStateEstimator()
    for i in range(3):
        state = estimator.update([hand_from_keypoints(keypoints)], i * NS_PER_FRAME)[0]
    assert state.pinched
    holed = keypoints.copy()
    holed[K.INDEX_FINGER_TIP] = np.nan
    state = estimator.update([hand_from_keypoints(holed)], 3 * NS_PER_FRAME)[0]
    assert state.pinched and not state.pinch_valid and state.pinch_event == PinchEvent.NONE


def test_speed_follows_a_moving_hand(models):
    keypoints = models[Handedness.RIGHT](named_pose("open"), np.eye(4), skin=False).keypoints
    velocity = np.array([0.3, -0.4, 0.0])  # 0.5 m/s
    estimator = HandStateEstimator()
    speeds = [estimator.update([hand_from_keypoints(keypoints + velocity * i / 30)], i * NS_PER_FRAME)[0] for i in range(20)]
    assert not speeds[0].speed_valid and np.isnan(speeds[0].speed_mps)
    assert speeds[-1].speed_valid and speeds[-1].speed_mps == pytest.approx(0.5, rel=1e-3)
    # A gap longer than speed_max_gap_s: no finite difference across it.
    later = estimator.update([hand_from_keypoints(keypoints)], 20 * NS_PER_FRAME + 10**9 // 2)[0]
    assert not later.speed_valid


def test_tracks_are_separate_pruned_after_the_timeout_and_reset_when_time_goes_back(models):
    pinch = models[Handedness.RIGHT](named_pose("pinch"), np.eye(4), skin=False).keypoints
    open_ = models[Handedness.LEFT](named_pose("open"), np.eye(4), skin=False).keypoints
    estimator = HandStateEstimator(HandStateConfig(track_timeout_s=0.5))
    for i in range(3):
        a, b = estimator.update([hand_from_keypoints(pinch, 1), hand_from_keypoints(open_, 2, 0)], i * NS_PER_FRAME)
    assert (a.track_id, a.pinched, b.track_id, b.pinched) == (1, True, 2, False)
    # Track 1 unseen for more than the timeout: forgotten, so it starts unpinched again.
    estimator.update([hand_from_keypoints(open_, 2, 0)], 10**9)
    assert not estimator.update([hand_from_keypoints(pinch, 1)], 10**9 + NS_PER_FRAME)[0].pinched
    estimator.update([hand_from_keypoints(pinch, 1)], 10**9 + 2 * NS_PER_FRAME)
    assert estimator.update([hand_from_keypoints(pinch, 1)], 10**9 + 3 * NS_PER_FRAME)[0].pinched
    # A replay restarting (time back): history gone.
    assert not estimator.update([hand_from_keypoints(pinch, 1)], 0)[0].pinched
    assert estimator.update([], NS_PER_FRAME) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pinch_on_strength": 1.5}, "HandStateConfig.pinch_on_strength: expected a finite number in [0.0, 1.0], got 1.5"),
        ({"pinch_off_strength": 0.8}, "pinch_off_strength: expected less than pinch_on_strength (0.75)"),
        ({"pinch_open_ratio": 0.5}, "pinch_open_ratio: expected more than pinch_closed_ratio (1.0)"),
        ({"pinch_min_duration_s": float("nan")}, "pinch_min_duration_s: expected a finite number in [0.0, 10.0], got nan"),
        ({"finger_curl_range_deg": (200.0, 100.0)}, "finger_curl_range_deg: expected straight < curled"),
        ({"thumb_curl_range_deg": 70.0}, "thumb_curl_range_deg: expected a list"),
        ({"pointing_min_other_curl": 0.1}, "pointing_min_other_curl: expected more than pointing_max_index_curl"),
        ({"track_timeout_s": 0.0}, "track_timeout_s: expected a finite number in (0.0, 3600.0], got 0.0"),
        ({"speed_time_constant_s": True}, "speed_time_constant_s: expected a finite number in [0.0, 60.0], got True"),
    ],
)
def test_config_refuses_bad_values_naming_them(kwargs, message):
    with pytest.raises(ValueError) as info:
        HandStateConfig(**kwargs)
    assert message in str(info.value)


def test_degenerate_keypoints_are_flagged_not_reported():
    """Present but coincident keypoints (a collapsed estimate): no direction, size or curl exists."""
    state = HandStateEstimator().update([hand_from_keypoints(np.zeros((21, 3)))], 0)[0]
    assert not state.curl_valid.any() and np.isnan(state.finger_curl).all() and not state.curl_confidence.any()
    assert not state.palm_valid and np.isnan(state.palm_normal).all() and not state.pointing
    assert not state.pinch_valid and np.isnan(state.pinch_distance_m) and np.isnan(state.pinch_strength)
