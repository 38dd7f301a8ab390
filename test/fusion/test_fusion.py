"""MultiViewFusion on synthetic scenes: exact geometry, outliers, missing joints, swapped labels,
crossing hands, a dead camera, one camera."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest

from hand_pose_ros.calibration import Rig, look_at
from hand_pose_ros.fusion import CameraArray, FusionConfig, MultiViewFusion
from hand_pose_ros.fusion import fusion as fusion_module
from hand_pose_ros.fusion.monocular import PALM_KEYPOINTS
from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections
from hand_pose_ros.keypoints import HandKeypoint, Handedness
from hand_pose_ros.types import Hand3D, KeypointSource

LABELS = ("Left", "Right")
FPS = 30.0
# Exact input must come back exactly (the bound).
EXACT_TOL_M = 1e-4
# With σ = 3 px at 0.5-1.5 m, triangulated joints are within a few mm; this bounds the mean.
NOISY_MEAN_TOL_M = 0.012


def _errors(hands, truth: np.ndarray) -> dict[int, np.ndarray]:
    """Track id → (21,) metres to the closest ground-truth hand; asserts one hand per truth hand."""
    out = {}
    for hand in hands:
        e = np.linalg.norm(hand.keypoints_3d[None] - truth, axis=-1)  # (H, 21)
        out[hand.track_id] = e[int(np.nanargmin(np.nanmean(e, 1)))]
    return out


def _run(rig: Rig, truth: np.ndarray, noise: NoiseModel, config: FusionConfig, seed: int = 0, corrupt=None):
    rng = np.random.default_rng(seed)
    fusion = MultiViewFusion(rig, config)
    results = []
    for t in range(truth.shape[0]):
        dets, _ = synthesize_detections(truth[t], LABELS, rig, noise, rng)
        if corrupt is not None:
            dets = corrupt(t, dets)
        results.append(fusion.process(dets, t / FPS))
    return results


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(7)
    return make_rig(4, rng), hand_sequence(12, rng)


def test_exact_geometry_is_recovered_exactly(scene) -> None:
    rig, truth = scene
    # No bone prior: the hand model's keypoint-to-keypoint distances change with pose by up
    # to ~3 mm (keypoints sit off the joint centres), so a learned length would bias exact data.
    results = _run(rig, truth, NoiseModel(), FusionConfig(filter="none", bone_weight_px_per_mm=0.0))
    for t, hands in enumerate(results):
        assert len(hands) == 2
        for hand in hands:
            err = _errors([hand], truth[t])[hand.track_id]
            assert np.all(err < EXACT_TOL_M), (t, err.max())
            assert np.all(hand.keypoint_source == KeypointSource.TRIANGULATED)
            assert np.all(hand.num_views >= 2) and np.all(hand.keypoint_confidence > 0)
            assert np.nanmax(hand.reprojection_error_px) < 0.01
    assert {h.track_id for h in results[-1]} == {h.track_id for h in results[0]}


def test_noise_outliers_and_dropouts_stay_accurate(scene) -> None:
    rig, truth = scene
    noise = NoiseModel(sigma_px=(3, 3), outlier_rate=0.1, dropout_rate=0.1)
    results = _run(rig, truth, noise, FusionConfig(filter="none"))
    errs = np.concatenate([np.concatenate(list(_errors(h, truth[t]).values())) for t, h in enumerate(results)])
    assert np.nanmean(errs) < NOISY_MEAN_TOL_M
    assert np.nanpercentile(errs, 95) < 3 * NOISY_MEAN_TOL_M


def test_an_outlier_view_is_rejected(scene) -> None:
    rig, truth = scene

    def corrupt(t, dets):
        for det in dets[0]:  # camera 0 sees every joint 60 px off
            det.keypoints_2d[:] += 60.0
        return dets

    results = _run(rig, truth[:3], NoiseModel(), FusionConfig(filter="none"), corrupt=corrupt)
    for t, hands in enumerate(results):
        for hand in hands:
            err = _errors([hand], truth[t])[hand.track_id]
            assert np.nanmax(err) < EXACT_TOL_M
            assert np.all(hand.num_views[np.isfinite(err)] <= 3)


# The finger an object hides in three of five views (as the bottle hides DexYCB's pinky).
_HIDDEN = [HandKeypoint.PINKY_PIP, HandKeypoint.PINKY_DIP, HandKeypoint.PINKY_TIP]
# Where the landmark network puts a finger it cannot see, alike in those views (metres off).
_HIDDEN_SHIFT_M = np.array([0.06, -0.06, 0.0])


@pytest.mark.parametrize("hidden_presence", [0.4, 1.0])
def test_views_unsure_of_the_hand_count_less_when_they_agree_on_a_hidden_finger(hidden_presence: float) -> None:
    """Three views place a hidden finger alike, 8.5 cm off; two see it. With those three
    detections' presence low (a guided crop behind the object), the two confident views win;
    at full presence the three outvote them: presence, not the count, decides."""
    rng = np.random.default_rng(5)
    rig = make_rig(5, rng, distortion=False)
    cams = CameraArray.from_rig(rig)
    truth = hand_sequence(3, rng)
    moved = truth.copy()
    moved[:, :, _HIDDEN] += _HIDDEN_SHIFT_M
    hiding = (0, 2, 4)
    # The shift shows in every view by more than the inlier threshold (the test's premise).
    shown = np.linalg.norm(cams.project(moved.reshape(-1, 3)) - cams.project(truth.reshape(-1, 3)), axis=-1)
    assert shown.reshape(len(rig), *truth.shape[:3])[..., _HIDDEN].min() > FusionConfig().inlier_threshold_px

    def corrupt(t, dets):
        for v in hiding:
            for i, det in enumerate(dets[v]):
                hand = int(np.argmin(np.nanmean(np.linalg.norm(cams.project(truth[t].reshape(-1, 3))[v].reshape(2, 21, 2)
                                                               - det.keypoints_2d, axis=-1), axis=1)))
                keypoints = det.keypoints_2d.copy()
                keypoints[_HIDDEN] = cams.project(moved[t, hand])[v, _HIDDEN]
                dets[v][i] = dataclasses.replace(det, keypoints_2d=keypoints, presence=hidden_presence)
        return dets

    config = FusionConfig(filter="none", bone_weight_px_per_mm=0.0)
    for t, hands in enumerate(_run(rig, truth, NoiseModel(), config, corrupt=corrupt)):
        assert len(hands) == 2
        for hand in hands:
            err = np.linalg.norm(hand.keypoints_3d[None] - truth[t], axis=-1)  # (2, 21)
            h = int(np.argmin(err[:, :HandKeypoint.PINKY_MCP].mean(1)))  # the truth hand, by its unhidden joints
            if hidden_presence < 1.0:
                assert np.all(err[h, _HIDDEN] < EXACT_TOL_M), (t, err[h, _HIDDEN])
            else:
                moved_err = np.linalg.norm(hand.keypoints_3d[_HIDDEN] - moved[t, h, _HIDDEN], axis=-1)
                assert np.all(moved_err < EXACT_TOL_M), (t, moved_err)


def test_joints_seen_once_are_missing_unless_a_prior_fills_them(scene) -> None:
    rig, truth = scene
    hidden = [HandKeypoint.INDEX_FINGER_TIP, HandKeypoint.PINKY_DIP]

    def corrupt(t, dets):
        for v, view in enumerate(dets):
            for det in view:
                if v > 0:
                    det.keypoints_2d[hidden] = np.nan
        return dets

    for config, expected in ((FusionConfig(filter="none"), KeypointSource.MISSING),
                             (FusionConfig(filter="none", fill_missing=("world_landmarks",)), KeypointSource.WORLD_LANDMARKS)):
        hands = _run(rig, truth[:1], NoiseModel(), config, corrupt=corrupt)[0]
        assert len(hands) == 2
        for hand in hands:
            assert np.all(hand.keypoint_source[hidden] == expected)
            if expected == KeypointSource.MISSING:
                assert np.isnan(hand.keypoints_3d[hidden]).all()
                assert np.all(hand.keypoint_confidence[hidden] == 0)
            else:
                err = _errors([hand], truth[0])[hand.track_id]
                assert np.all(err[hidden] < 0.005)  # landmarks here are exact up to the rigid fit
                assert np.all(hand.keypoint_confidence[hidden] < hand.keypoint_confidence.max())


def test_swapped_labels_do_not_swap_hands_and_handedness_is_voted(scene) -> None:
    rig, truth = scene

    def corrupt(t, dets):  # camera 1 always labels the hands the wrong way round
        for det in dets[1]:
            object.__setattr__(det, "handedness", Handedness.LEFT if det.handedness == Handedness.RIGHT else Handedness.RIGHT)
        return dets

    results = _run(rig, truth, NoiseModel(sigma_px=(1, 1)), FusionConfig(filter="none"), corrupt=corrupt)
    for t, hands in enumerate(results):
        assert len(hands) == 2
        for hand in hands:
            e = np.linalg.norm(hand.keypoints_3d[None] - truth[t], axis=-1).mean(1)
            assert np.nanmin(e) < 0.01
            assert hand.handedness == Handedness.from_label(LABELS[int(np.nanargmin(e))])


def test_two_hands_crossing_keep_their_ids() -> None:
    rng = np.random.default_rng(3)
    rig = make_rig(4, rng)
    base = hand_sequence(1, rng)[0]  # (2, 21, 3)
    T = 24
    # The left hand sweeps through the right hand's place and beyond (passing within ~1 cm).
    sweep = np.linspace(0.0, 0.6, T)
    truth = np.stack([np.stack([base[0] + [0.0, s, 0.01], base[1]]) for s in sweep])
    results = _run(rig, truth, NoiseModel(sigma_px=(1, 1)), FusionConfig(filter="none"))
    owner: dict[int, int] = {}
    for t, hands in enumerate(results):
        for hand in hands:
            e = np.linalg.norm(hand.keypoints_3d[None] - truth[t], axis=-1)
            gt = int(np.nanargmin(np.nanmean(e, 1)))
            assert owner.setdefault(hand.track_id, gt) == gt, f"track {hand.track_id} switched hands at frame {t}"
    assert set(owner.values()) == {0, 1}


def test_a_dead_camera_is_survived(scene) -> None:
    rig, truth = scene

    def corrupt(t, dets):
        dets[2] = []
        return dets

    results = _run(rig, truth[:4], NoiseModel(), FusionConfig(filter="none"), corrupt=corrupt)
    for t, hands in enumerate(results):
        assert len(hands) == 2
        for hand in hands:
            assert np.nanmax(_errors([hand], truth[t])[hand.track_id]) < EXACT_TOL_M


@pytest.mark.parametrize("scale_sigma", [0.0, 0.08])
def test_single_camera_gives_metric_monocular_hands(scale_sigma: float) -> None:
    rng = np.random.default_rng(11)
    rig = make_rig(1, rng, distance=(0.6, 0.6))
    truth = hand_sequence(8, rng)
    fusion = MultiViewFusion(rig, FusionConfig(filter="none"))
    depth_errors, stddevs = [], []
    for t in range(truth.shape[0]):
        dets, _ = synthesize_detections(truth[t], LABELS, rig, NoiseModel(), rng, landmark_scale_sigma=scale_sigma)
        hands = fusion.process(dets, t / FPS)
        assert len(hands) == len(dets[0])
        for hand in hands:
            assert hand.monocular and hand.depth_stddev > 0
            assert np.all(hand.keypoint_source == KeypointSource.MONOCULAR)
            e = np.linalg.norm(hand.keypoints_3d[None] - truth[t], axis=-1).mean(1)
            depth_errors.append(np.nanmin(e))
            stddevs.append(hand.depth_stddev)
    assert depth_errors
    if scale_sigma == 0:
        assert max(depth_errors) < 1e-3  # exact landmarks: exact pose
    else:
        # The reported 1σ is honest: errors stay within 3σ.
        assert np.all(np.array(depth_errors) < 3 * np.array(stddevs))


def test_a_big_rig_with_hands_in_four_views_gives_the_hands_of_those_four_cameras() -> None:
    """Fusion works on the views that see hands: the other 60 cameras change nothing."""
    rng = np.random.default_rng(13)
    big = make_rig(64, rng)
    chosen = [3, 20, 37, 54]  # spread around the workspace
    small = Rig(cameras=tuple(big.cameras[v] for v in chosen))
    truth = hand_sequence(10, rng)
    noise = NoiseModel(sigma_px=(2, 8), outlier_rate=0.1, dropout_rate=0.1, hand_miss_rate=0.05)
    fused_small, fused_big = MultiViewFusion(small, FusionConfig()), MultiViewFusion(big, FusionConfig())
    for t in range(truth.shape[0]):
        dets, _ = synthesize_detections(truth[t], LABELS, small, noise, rng)
        spread = [[] for _ in big.cameras]
        for v, view in zip(chosen, dets):
            spread[v] = view
        a, b = fused_small.process(dets, t / FPS), fused_big.process(spread, t / FPS)
        assert len(a) == len(b) == 2, t
        for x, y in zip(a, b):
            assert (x.track_id, x.handedness, x.monocular) == (y.track_id, y.handedness, y.monocular)
            np.testing.assert_allclose(y.keypoints_3d, x.keypoints_3d, atol=1e-9, rtol=0)
            np.testing.assert_array_equal(y.num_views, x.num_views)
            np.testing.assert_array_equal(y.keypoint_source, x.keypoint_source)
            np.testing.assert_allclose(y.keypoint_confidence, x.keypoint_confidence, atol=1e-6)


def test_a_triangulated_track_sizes_its_one_view_frames_with_its_bones() -> None:
    """Seen by 4 cameras, then by one whose landmarks are 25 % too big: the learned bones fix
    the size, so the depth stays right long after the track's triangulated depth expired."""
    rng = np.random.default_rng(17)
    rig = make_rig(4, rng, distance=(0.6, 0.9))
    truth = hand_sequence(40, rng)[:, :1]  # one hand
    config = FusionConfig(filter="none", bone_weight_px_per_mm=0.0, track_timeout_s=0.2)
    fusion = MultiViewFusion(rig, config)
    ids, late_errors = set(), []
    for t in range(truth.shape[0]):
        dets, _ = synthesize_detections(truth[t], LABELS[:1], rig, NoiseModel(), rng)
        if t >= 10:  # camera 0 only, its metric landmarks 25 % too large
            dets = [dets[0]] + [[] for _ in dets[1:]]
            for det in dets[0]:
                object.__setattr__(det, "world_landmarks", det.world_landmarks * np.float32(1.25))
        hands = fusion.process(dets, t / FPS)
        assert len(hands) == 1, t
        ids.add(hands[0].track_id)
        if t >= 10 + 2 * int(config.track_timeout_s * FPS):  # well past the triangulated depth's timeout
            assert hands[0].monocular
            late_errors.append(np.linalg.norm(hands[0].keypoints_3d - truth[t, 0], axis=-1).mean())
    assert ids == {0}  # one track throughout
    # Exact keypoints, exact shape: the learned size gives the depth to a few mm (the landmarks'
    # own size would put the hand 25 % too far, ≈ 0.15-0.2 m).
    assert late_errors and max(late_errors) < 0.01, max(late_errors)


def test_bad_input_is_named() -> None:
    rig = make_rig(2, np.random.default_rng(0))
    fusion = MultiViewFusion(rig)
    with pytest.raises(ValueError, match="one list per camera"):
        fusion.process([[]], 0.0)
    with pytest.raises(TypeError, match="cam1"):
        fusion.process([[], [np.zeros((21, 2))]], 0.0)
    assert fusion.process([[], []], 0.0) == []


@pytest.mark.parametrize(("kwargs", "field"), [({"inlier_threshold_px": 0}, "inlier_threshold_px"),
                                              ({"filter": "kalman"}, "one_euro"),
                                              ({"fill_missing": ("mesh",)}, "world_landmarks")])
def test_config_errors_name_the_field(kwargs, field) -> None:
    with pytest.raises(ValueError, match=field):
        FusionConfig(**kwargs)


def test_track_ids_survive_a_short_dropout_and_expire_after_a_long_one(scene) -> None:
    rig, truth = scene
    config = FusionConfig(filter="none", track_timeout_s=0.2)

    def corrupt(t, dets):
        return [[] for _ in dets] if 3 <= t < 6 or t >= 9 else dets  # 0.1 s gap, then a long one

    results = _run(rig, truth, NoiseModel(), config, corrupt=corrupt)
    ids_before = {h.track_id for h in results[2]}
    assert len(ids_before) == 2 and all(results[t] == [] for t in (3, 4, 5))
    assert {h.track_id for h in results[6]} == ids_before
    assert all(h.age == 4 for h in results[6])  # frames 0-2 and 6
    fusion = MultiViewFusion(rig, config)
    rng = np.random.default_rng(0)
    first = fusion.process(synthesize_detections(truth[0], LABELS, rig, NoiseModel(), rng)[0], 0.0)
    later = fusion.process(synthesize_detections(truth[1], LABELS, rig, NoiseModel(), rng)[0], 1.0)  # after the timeout
    assert {h.track_id for h in later}.isdisjoint({h.track_id for h in first})


def test_mixed_distortion_models_fuse_exactly() -> None:
    import dataclasses

    rng = np.random.default_rng(21)
    base = make_rig(4, rng)
    models = {"none": [], "plumb_bob": [-0.2, 0.08, 0.001, -0.001, -0.01],
              "rational_polynomial": [0.3, -0.1, 0.001, -0.001, 0.02, 0.5, -0.05, 0.04],
              "equidistant": [0.04, -0.02, 0.003, -0.001]}
    cameras = tuple(dataclasses.replace(cam, distortion_model=model, distortion=np.array(coeffs))
                    for cam, (model, coeffs) in zip(base.cameras, models.items()))
    rig = Rig(cameras=cameras)
    truth = hand_sequence(2, rng)
    results = _run(rig, truth, NoiseModel(), FusionConfig(filter="none", bone_weight_px_per_mm=0.0))
    for t, hands in enumerate(results):
        assert len(hands) == 2
        for hand in hands:
            assert np.nanmax(_errors([hand], truth[t])[hand.track_id]) < EXACT_TOL_M


def test_both_hands_labelled_alike_still_get_two_labels(scene) -> None:
    rig, truth = scene

    def corrupt(t, dets):  # every detection says "Right"
        for view in dets:
            for det in view:
                object.__setattr__(det, "handedness", Handedness.RIGHT)
        return dets

    for hands in _run(rig, truth[:4], NoiseModel(), FusionConfig(filter="none"), corrupt=corrupt):
        assert len(hands) == 2
        assert {h.handedness for h in hands} == {Handedness.LEFT, Handedness.RIGHT}


@pytest.mark.parametrize("seed", [0, 2])
def test_two_hands_labelled_alike_keep_steady_labels_that_match_their_tracks(seed: int) -> None:
    """Every detection says RIGHT: the tracks share LEFT/RIGHT once and keep them (no flicker)."""
    rng = np.random.default_rng(seed)
    rig = make_rig(4, rng)
    truth = hand_sequence(40, rng)
    noise = NoiseModel(sigma_px=(2, 8), outlier_rate=0.1, dropout_rate=0.1, swap_rate=0.05, hand_miss_rate=0.02)
    fusion = MultiViewFusion(rig, FusionConfig())
    labels: dict[int, list[Handedness]] = {}
    for t in range(truth.shape[0]):
        dets, _ = synthesize_detections(truth[t], LABELS, rig, noise, rng)
        for view in dets:
            for det in view:
                object.__setattr__(det, "handedness", Handedness.RIGHT)
        hands = fusion.process(dets, t / FPS)
        tracks = {track.track_id: track for track in fusion.tracker.tracks}
        for hand in hands:
            assert hand.handedness == tracks[hand.track_id].handedness, f"frame {t}: track and output disagree"
            labels.setdefault(hand.track_id, []).append(hand.handedness)
        if len(hands) == 2:
            assert {h.handedness for h in hands} == {Handedness.LEFT, Handedness.RIGHT}
    assert len(labels) == 2
    # Settled from the track's first output on: a swap is a label differing from the one before.
    swaps = {k: sum(a != b for a, b in zip(seq, seq[1:])) for k, seq in labels.items()}
    assert swaps == {k: 0 for k in labels}, swaps


def test_a_nan_handedness_score_does_not_poison_the_vote(scene) -> None:
    """A score that slipped past validation (NaN) is no evidence: labels and scores stay sound."""
    rig, truth = scene

    def corrupt(t, dets):
        if t == 1:
            for det in dets[0]:
                object.__setattr__(det, "handedness_score", float("nan"))
        return dets

    results = _run(rig, truth[:6], NoiseModel(), FusionConfig(filter="none"), corrupt=corrupt)
    for t, hands in enumerate(results):
        assert len(hands) == 2
        for hand in hands:
            e = np.linalg.norm(hand.keypoints_3d[None] - truth[t], axis=-1).mean(1)
            assert hand.handedness == Handedness.from_label(LABELS[int(np.nanargmin(e))]), t
            assert np.isfinite(hand.handedness_score) and 0.5 <= hand.handedness_score <= 1


def test_previous_frame_prior_fills_joints_hidden_later(scene) -> None:
    rig, truth = scene
    hidden = [HandKeypoint.THUMB_TIP, HandKeypoint.RING_FINGER_TIP]

    def corrupt(t, dets):
        if t >= 3:
            for view in dets[1:]:
                for det in view:
                    det.keypoints_2d[hidden] = np.nan
        return dets

    config = FusionConfig(filter="none", fill_missing=("previous_frame",))
    results = _run(rig, truth[:5], NoiseModel(), config, corrupt=corrupt)
    for t in (3, 4):
        assert len(results[t]) == 2
        for hand in results[t]:
            assert np.all(hand.keypoint_source[hidden] == KeypointSource.PREVIOUS_FRAME)
            err = _errors([hand], truth[t])[hand.track_id]
            assert np.all(err[hidden] < 0.03)  # the hand moved and bent a little since frame 2
            assert np.all(err[np.setdiff1d(np.arange(21), hidden)] < 0.001)  # the bone prior moves them < 1 mm


def test_one_view_depth_survives_landmarks_that_foreshorten_the_hand() -> None:
    """One camera; from frame 12 the landmark network halves the hand's extent across the image
    (as MediaPipe's did on hand-graph-cnn, taking a hand facing the camera for one pointing at
    it). PnP on that shape alone puts the hand at about half its distance (≈ 0.3 m off); the
    track's learned palm keeps it where the track was heading."""
    rng = np.random.default_rng(0)
    rig = make_rig(1, rng, distance=(0.6, 0.6))
    truth = hand_sequence(20, rng)[:, :1]
    fusion = MultiViewFusion(rig, FusionConfig(filter="none"))
    errors, sources = [], []
    for t in range(truth.shape[0]):
        dets, _ = synthesize_detections(truth[t], LABELS[:1], rig, NoiseModel(), rng)
        if t >= 12:
            for det in dets[0]:
                centre = det.world_landmarks.mean(0)
                squashed = centre + (det.world_landmarks - centre) * np.float32([0.5, 0.5, 1.0])
                object.__setattr__(det, "world_landmarks", squashed.astype(np.float32))
        hands = fusion.process(dets, t / FPS)
        assert len(hands) == 1 and hands[0].track_id == 0, t
        errors.append(np.linalg.norm(hands[0].keypoints_3d - truth[t, 0], axis=-1).mean())
        sources.append(hands[0].keypoint_source)
    assert max(errors[:12]) < 1e-3  # exact landmarks: the PnP pose
    # Squashed: within a few cm (the synthetic palm flexes a little, so the learned one is an average).
    assert max(errors[12:]) < 0.04, np.round(errors[12:], 3)
    assert all(np.all(s == KeypointSource.MONOCULAR) for s in sources)


def test_one_view_depth_survives_landmarks_that_foreshorten_the_hand_a_little_more_each_frame() -> None:
    """One camera 0.6 m in front of the palm; from frame 12 the landmark network draws the
    fingers in towards the palm across the image by 10 % more each frame (to 0.43 of their
    reach by frame 19), as if they pointed at the camera. Each frame's PnP depth is then only
    a little nearer than the track's prediction, which follows it (no jump), while the track's
    rigid palm on the palm keypoints keeps the hand where it is."""
    rng = np.random.default_rng(0)
    truth = hand_sequence(20, rng)[:, :1]
    palm = truth[0, 0, list(PALM_KEYPOINTS)]
    normal = np.linalg.svd(palm - palm.mean(0))[2][2]
    camera = make_rig(1, rng).cameras[0]
    rig = Rig(cameras=(dataclasses.replace(camera, world_T_camera=look_at(palm.mean(0) + 0.6 * normal, palm.mean(0))),))
    fusion = MultiViewFusion(rig, FusionConfig(filter="none"))
    palm_index = list(PALM_KEYPOINTS)
    fingers = np.setdiff1d(np.arange(21), palm_index)
    errors = []
    for t in range(truth.shape[0]):
        dets, _ = synthesize_detections(truth[t], LABELS[:1], rig, NoiseModel(), rng)
        squash = np.float32(0.9 ** max(t - 11, 0))
        for det in dets[0]:
            landmarks = det.world_landmarks.copy()
            centre = landmarks[palm_index].mean(0)
            landmarks[fingers, :2] = centre[:2] + (landmarks[fingers, :2] - centre[:2]) * squash
            object.__setattr__(det, "world_landmarks", landmarks)
        hands = fusion.process(dets, t / FPS)
        assert len(hands) == 1 and hands[0].track_id == 0, t
        errors.append(np.linalg.norm(hands[0].keypoints_3d - truth[t, 0], axis=-1).mean())
    assert max(errors[:12]) < 1e-3  # exact landmarks: the PnP pose
    # Frames 12–14 (PnP at 0.9–0.81 of the distance): nearer than the palm depth by less than
    # twice its own σ (≈ 11 % here), so PnP stands. From frame 15 on, PnP alone is 0.2–0.4 m
    # off; the palm keeps the hand within 2 cm.
    assert max(errors[12:15]) < 0.15
    assert max(errors[15:]) < 0.02, np.round(errors[15:], 3)


def test_a_one_view_tracks_depth_filter_narrows_the_scatter_of_its_depth() -> None:
    """One camera, one hand over 3 s at 30 Hz, its landmarks' size off by 5 % (1σ) each frame:
    with ``monocular_depth_filter`` (and the default temporal filter) the one-view depth
    scatters less about the truth than per frame (``filter="none"``, which leaves the one-view
    depth filter out too)."""
    rng = np.random.default_rng(4)
    rig = make_rig(1, rng, distance=(0.6, 0.6))
    truth = hand_sequence(90, rng)[:, :1]
    frames = [synthesize_detections(truth[t], LABELS[:1], rig, NoiseModel(), rng, landmark_scale_sigma=0.05)[0]
              for t in range(truth.shape[0])]
    camera_T_world = np.linalg.inv(rig.cameras[0].world_T_camera)

    def depth_errors(config: FusionConfig) -> np.ndarray:
        fusion, out = MultiViewFusion(rig, config), []
        for t, dets in enumerate(frames):
            hands = fusion.process(copy.deepcopy(dets), t / FPS)
            assert len(hands) == 1 and hands[0].track_id == 0, t
            z = (np.stack([hands[0].keypoints_3d, truth[t, 0]]) @ camera_T_world[:3, :3].T + camera_T_world[:3, 3])[..., 2]
            out.append(np.log(z[0].mean() / z[1].mean()))
        return np.array(out[30:])  # after the filters settle

    filtered = depth_errors(FusionConfig(monocular_depth_filter=True))
    per_frame = depth_errors(FusionConfig(monocular_depth_filter=True, filter="none"))
    assert np.sqrt(np.mean(filtered**2)) < 0.7 * np.sqrt(np.mean(per_frame**2))


def test_a_new_one_view_tracks_first_depths_are_not_filtered() -> None:
    """A one-view track's depth filter starts only once the track has been updated a few times
    (its first depths settle as its palm is learned): until then the hand is the same with the
    depth filter as without it; afterwards the filter moves it."""
    rng = np.random.default_rng(4)  # the next test's first 20 frames: one hand found in each
    rig = make_rig(1, rng, distance=(0.6, 0.6))
    truth = hand_sequence(90, rng)[:20, :1]
    frames = [synthesize_detections(truth[t], LABELS[:1], rig, NoiseModel(), rng, landmark_scale_sigma=0.05)[0]
              for t in range(truth.shape[0])]

    def run(config: FusionConfig) -> np.ndarray:
        fusion = MultiViewFusion(rig, config)
        return np.array([fusion.process(copy.deepcopy(dets), t / FPS)[0].keypoints_3d for t, dets in enumerate(frames)])

    filtered, unfiltered = run(FusionConfig(monocular_depth_filter=True)), run(FusionConfig(monocular_depth_filter=False))
    first = fusion_module._ONE_VIEW_DEPTH_MIN_TRACK_AGE + 1  # frames: the track's creation, then its updates
    np.testing.assert_array_equal(filtered[:first], unfiltered[:first])
    assert np.abs(filtered[first:] - unfiltered[first:]).max() > 1e-4


def test_a_one_view_track_continues_across_a_move_of_half_its_size() -> None:
    """The one-view track gate grows with the hand's size in pixels: a hand that moves by half
    its extent between frames (10 Hz video), its landmarks' size off by 30 % (1σ) each frame so
    that its one-view depth jumps by more than ``track_gate_m``, keeps its track."""
    rng = np.random.default_rng(5)
    rig = make_rig(1, rng, distance=(0.5, 0.5))
    base = hand_sequence(1, rng)[0, :1]  # (1, 21, 3)
    fusion = MultiViewFusion(rig, FusionConfig(filter="none"))
    cams = fusion.cams
    extent_px = float(np.ptp(cams.project(base[0])[0], axis=0).max())
    # Sideways in the camera's axes by about half the hand's extent per frame, back and forth.
    sideways = fusion.rig.cameras[0].world_T_camera[:3, 0] * 0.5 * extent_px * 0.5 / float(cams.focal[0])
    ids = set()
    for t in range(12):
        points = base + sideways * (t % 4 if t % 8 < 4 else 4 - t % 4)
        dets, _ = synthesize_detections(points, LABELS[:1], rig, NoiseModel(), rng, landmark_scale_sigma=0.3)
        hands = fusion.process(dets, t / 10.0)
        assert len(hands) == 1
        ids.add(hands[0].track_id)
    assert extent_px * 0.5 > FusionConfig().association_threshold_px  # the move is beyond the fixed threshold
    assert ids == {0}


def test_monocular_hand_size_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="monocular_hand_size_m"):
        FusionConfig(monocular_hand_size_m=-0.08)


def test_a_checkpoint_restores_the_tracks_a_frame_changed():
    rng = np.random.default_rng(5)
    rig = make_rig(3, rng)
    sequence = hand_sequence(3, rng)
    fusion = MultiViewFusion(rig)
    frames = [synthesize_detections(sequence[t], ("Left", "Right"), rig, NoiseModel(), rng)[0] for t in range(3)]
    fusion.process(frames[0], 0.0)
    saved = fusion.checkpoint()
    once = fusion.process(frames[1], 1 / 30)
    fusion.restore(saved)
    again = fusion.process(frames[1], 1 / 30)  # as if the first pass never happened
    assert [h.track_id for h in again] == [h.track_id for h in once]
    assert [h.age for h in again] == [h.age for h in once]
    for a, b in zip(once, again):
        np.testing.assert_array_equal(a.keypoints_3d, b.keypoints_3d)


@pytest.mark.parametrize("filter_name", ["one_euro_predictive", "one_euro", "none"])
def test_a_copied_track_owns_its_arrays_and_filter_and_continues_as_the_original(filter_name):
    """Track/filter ``__deepcopy__`` (``filtering.copy_state``): the same fields as the generic
    deep copy, nothing shared with the original, and the same outputs after it."""
    from hand_pose_ros.fusion.tracking import Tracker

    rng = np.random.default_rng(9)
    tracker = Tracker(FusionConfig(filter=filter_name))
    points = rng.normal(0.0, 0.05, (21, 3))
    track = tracker.update(-1, points, points, 0.5, 0.0, True)
    for t in (1, 2):
        moved = points + 0.01 * t
        moved[3] = np.nan  # a joint missing: the filters' masked branch has state too
        tracker.update(0, moved, moved, 0.5, t / 30, True)
    copied = copy.deepcopy(track)
    generic = copy.deepcopy(vars(track))  # the generic deep copy of every field
    assert copied is not track and vars(copied).keys() == generic.keys()

    def arrays(obj, path=""):
        """Every array reachable through plain attributes: path → array."""
        found = {}
        for name, value in vars(obj).items():
            if isinstance(value, np.ndarray):
                found[path + name] = value
            elif hasattr(value, "__dict__") and not isinstance(value, Handedness):
                found.update(arrays(value, path + name + "."))
        return found

    mine, theirs = arrays(copied), arrays(track)
    assert mine.keys() == theirs.keys()
    for name, value in mine.items():
        assert not np.shares_memory(value, theirs[name]), name
        np.testing.assert_array_equal(value, theirs[name])
    later = points + 0.03
    a = tracker.update(0, later, later, 0.5, 3 / 30, True)
    tracker.tracks[0] = copied
    b = tracker.update(0, later, later, 0.5, 3 / 30, True)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.velocity, b.velocity)
    np.testing.assert_array_equal(a.bones, b.bones)


def test_a_confirmed_tracks_prediction_outvotes_two_views_placing_a_joint_alike_and_wrongly(scene) -> None:
    """Four views: two show the index tip at one point 8 cm off (a tip an object hides, placed
    alike), the two that see it right, one of them unsure (presence 0.5). A fusion without a
    track takes the pair's wrong point; a confirmed track's prediction sides with the views
    that see it. A young track, or one whose last update lacked that joint, does not vote.
    (No bone term, no filter: exact input comes back exactly.)"""
    rig, truth = scene
    cams = CameraArray.from_rig(rig)
    hand = truth[:, 1:]  # (T, 1, 21, 3): one hand, the one every view sees
    tip = HandKeypoint.INDEX_FINGER_TIP
    config = FusionConfig(filter="none", bone_weight_px_per_mm=0.0)
    rng = np.random.default_rng(3)

    def frame(t, shifted_tip=None, hide_tip=False):
        dets, _ = synthesize_detections(hand[t], ("Right",), rig, NoiseModel(), rng)
        out = []
        for v, view in enumerate(dets):
            det = view[0]
            pixels = det.keypoints_2d.copy()
            if shifted_tip is not None and v in (0, 2):
                pixels[tip] = cams.project(shifted_tip[None])[v, 0]
            if hide_tip:
                pixels[tip] = np.nan
            out.append([dataclasses.replace(det, keypoints_2d=pixels, presence=0.5 if v == 3 else 1.0)])
        return out

    t = 6
    # 8 cm along the axis whose shift shows most in the view that shows it least.
    candidates = hand[t, 0, tip] + 0.08 * np.concatenate([np.eye(3), -np.eye(3)])  # (6, 3)
    shown = np.linalg.norm(cams.project(candidates) - cams.project(hand[t, 0, tip][None]), axis=-1).min(0)  # (6,) px
    wrong = candidates[int(np.argmax(shown))]
    assert shown.max() > config.inlier_threshold_px  # the premise: the shift shows in every view

    def tip_after(history: range, hide_last=False) -> np.ndarray:
        fusion = MultiViewFusion(rig, config)
        for s in history:
            fusion.process(frame(s, hide_tip=hide_last and s == history[-1]), s / FPS)
        (out,) = fusion.process(frame(t, shifted_tip=wrong), t / FPS)
        return out.keypoints_3d[tip]

    np.testing.assert_allclose(tip_after(range(0)), wrong, atol=1e-6)  # no track: the pair wins
    assert np.linalg.norm(tip_after(range(t)) - hand[t, 0, tip]) < 1e-3  # confirmed track: the views that see it
    # No vote: the pair's point wins, and the two-view gate (4 cm from the prediction) drops it.
    assert np.isnan(tip_after(range(t - 1, t))).all()  # a track of 1 frame
    assert np.isnan(tip_after(range(t), hide_last=True)).all()  # the tip carried from before its last update


def test_fused_hands_are_the_hands_a_checked_constructor_makes() -> None:
    # The fusion builds its Hand3D without __post_init__'s checks (Hand3D.unchecked): each
    # must be the object Hand3D(...) would make of the same fields, dtypes and pickle included,
    # for triangulated and one-view hands.
    rng = np.random.default_rng(3)
    rig = make_rig(3, rng)
    sequence = hand_sequence(4, rng)
    fusion = MultiViewFusion(rig)
    one_view = [True, True, False, False]
    seen = 0
    for t in range(4):
        dets, _ = synthesize_detections(sequence[t], LABELS, rig, NoiseModel(sigma_px=(2, 4)), rng)
        if one_view[t]:
            dets = [dets[0]] + [[] for _ in dets[1:]]
        for hand in fusion.process(dets, t / FPS):
            checked = Hand3D(**{f.name: getattr(hand, f.name) for f in dataclasses.fields(Hand3D)})
            assert pickle.dumps(hand) == pickle.dumps(checked)
            seen += hand.monocular == one_view[t]
    assert seen >= 6


def test_two_views_that_agree_again_replace_a_one_view_tracks_drifted_depth() -> None:
    """Two cameras; camera 1 loses the hand while it moves away along camera 0's ray, so the
    one-view track keeps the depth it predicted and falls behind (≈ 1 cm a frame). When
    camera 1 sees the hand again the two views measure it: the output is triangulated and
    right, not gated against the drifted prediction (DexYCB 2 cameras: 11 frames one-view)."""
    rng = np.random.default_rng(5)
    rig = make_rig(2, rng, distance=(0.6, 0.9))
    base = hand_sequence(1, rng)[0, :1]  # (1, 21, 3): one hand, held still in shape
    centre0 = rig.cameras[0].world_T_camera[:3, 3]
    ray = base[0].mean(0) - centre0
    ray /= np.linalg.norm(ray)
    config = FusionConfig(filter="none", bone_weight_px_per_mm=0.0)
    assert config.joint_gate_m < 0.06  # the premise: the lag below exceeds the two-view gate
    fusion = MultiViewFusion(rig, config)
    away = 0.3 / FPS  # m per frame, from frame 10 on
    for t in range(20):
        truth = base + ray * away * max(t - 9, 0)
        dets, _ = synthesize_detections(truth, LABELS[1:], rig, NoiseModel(), rng)
        if 10 <= t < 17:
            dets = [dets[0], []]
        (hand,) = fusion.process(dets, t / FPS)
        error = np.linalg.norm(hand.keypoints_3d - truth[0], axis=-1).mean()
        if t == 16:
            assert hand.monocular and error > config.joint_gate_m, error  # the drift this is about
        if t == 17:
            assert not hand.monocular and np.all(hand.num_views == 2), hand.num_views
            assert error < EXACT_TOL_M * 10, error
