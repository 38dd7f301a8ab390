"""3D-guided hand crops: a projected 3D hand gives keypoints where the palm detector misses,
and nothing where there is no hand."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from hand_helpers import paste_into_canvas
from hand_pose_ros.assets import sample_dir
from hand_pose_ros.calibration import Rig, load_calibration
from hand_pose_ros.detection import HandDetector, HandDetectorConfig
from hand_pose_ros.detection.guidance import (GuidanceConfig, GuidedDetector, crops_from_hands, crops_from_keypoints, palm_tiles,
                                            ray_crops)
from hand_pose_ros.fusion import CameraArray
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.types import Hand3D, HandDetection2D, KeypointSource

# The sample view is pasted into a canvas this many times its size: its hands become too small
# for the palm detector on the whole (letterboxed 192 px) frame.
_CANVAS_FACTOR = 4
# The sample's hands (≈ 150–250 px) shrunk by this are ≈ 60–100 px, DexYCB's size.
_SHRINK = 0.4
# A found hand's keypoints lie this close to the projected ground truth (px, median over joints):
# the detector's 2D noise plus the offset between the ground truth's and MediaPipe's keypoints.
_KEYPOINT_TOLERANCE_PX = 15.0


def _hand(points: np.ndarray, *, views: int = 3, monocular: bool = False) -> Hand3D:
    """(21, 3) m world → a fused hand seen by ``views`` views."""
    return Hand3D(track_id=0, handedness=Handedness.RIGHT, handedness_score=1.0, presence=1.0,
                  keypoints_3d=points, keypoint_confidence=np.ones(NUM_KEYPOINTS),
                  num_views=np.full(NUM_KEYPOINTS, views), reprojection_error_px=np.zeros(NUM_KEYPOINTS),
                  keypoint_source=np.full(NUM_KEYPOINTS, KeypointSource.TRIANGULATED), monocular=monocular)


@pytest.fixture(scope="module")
def detector() -> HandDetector:
    return HandDetector(HandDetectorConfig(tracking=False))


@pytest.fixture(scope="module")
def small_hand():
    """A sample view pasted into a large grey canvas, its one-camera rig, and the GT hands."""
    directory = sample_dir()
    rig = load_calibration(directory / "calibration.yaml")
    frame = json.loads((directory / "ground_truth.json").read_text())["frames"][0]
    camera = rig.cameras[0]
    image = cv2.cvtColor(cv2.imread(str(directory / "images" / camera.name / f"{frame['frame']:06d}.jpg")), cv2.COLOR_BGR2RGB)
    canvas, big = paste_into_canvas(image, camera, _CANVAS_FACTOR)
    hands = [np.array(h["keypoints_3d"], float) for h in frame["hands"]]
    return canvas, Rig(cameras=(big,)), hands


def test_guided_crop_finds_a_hand_the_palm_detector_misses(detector, small_hand) -> None:
    canvas, rig, hands = small_hand
    cams = CameraArray.from_rig(rig)
    assert detector.detect([canvas]) == [[]]  # the premise: too small for the whole-frame palm pass
    rois = crops_from_hands([_hand(h) for h in hands], cams)
    assert len(rois[0]) >= 1
    found = detector.detect([canvas], rois=rois)[0]
    assert len(found) >= 1
    projected = [cams.project(h)[0] for h in hands]
    for det in found:
        error = min(np.median(np.linalg.norm(det.keypoints_2d - p, axis=-1)) for p in projected)
        assert error < _KEYPOINT_TOLERANCE_PX


def test_guided_crops_are_sampled_as_roi_magnified_says(detector, small_hand) -> None:
    """A magnifying guided crop follows ``roi_magnified`` (the detector's own crops keep its
    config's sampling); ``GuidedDetector`` asks for ``GuidanceConfig.magnified_crops``."""
    canvas, rig, hands = small_hand
    # Shrunk so that the hand is smaller than the network's input and its crop magnifies.
    canvas = cv2.resize(canvas, None, fx=_SHRINK, fy=_SHRINK, interpolation=cv2.INTER_AREA)
    K = rig.cameras[0].camera_matrix.copy()
    K[:2, :2] *= _SHRINK
    K[:2, 2] = (K[:2, 2] + 0.5) * _SHRINK - 0.5  # pixel centres
    rig = Rig(cameras=(dataclasses.replace(rig.cameras[0], width=canvas.shape[1], height=canvas.shape[0],
                                           camera_matrix=K),))
    rois = crops_from_hands([_hand(hands[0])], CameraArray.from_rig(rig))
    assert rois[0][0][2] < 224, "the guided crop magnifies"
    assert detector.config.magnified_crops == "bilinear"
    own, = detector.detect([canvas], rois=rois)[0]
    bilinear, = detector.detect([canvas], rois=rois, roi_magnified="bilinear")[0]
    sharpened, = detector.detect([canvas], rois=rois, roi_magnified="sharpened")[0]
    np.testing.assert_array_equal(own.keypoints_2d, bilinear.keypoints_2d)
    moved = np.linalg.norm(sharpened.keypoints_2d - bilinear.keypoints_2d, axis=-1)
    assert moved.max() > 0.01, "the sharpened crop is read differently"
    projected = CameraArray.from_rig(rig).project(hands[0])[0]
    assert np.median(np.linalg.norm(sharpened.keypoints_2d - projected, axis=-1)) < _KEYPOINT_TOLERANCE_PX
    guided = GuidedDetector(detector, rig, GuidanceConfig(palm_tiles=1))
    assert guided.config.magnified_crops == "sharpened"
    guided.update([_hand(hands[0])])
    via_guidance, = guided.detect([canvas])[0]
    np.testing.assert_array_equal(via_guidance.keypoints_2d, sharpened.keypoints_2d)
    with pytest.raises(ValueError, match="roi_magnified"):
        detector.detect([canvas], rois=rois, roi_magnified="lanczos")
    with pytest.raises(ValueError, match="magnified_crops"):
        GuidanceConfig(magnified_crops="lanczos")


def test_guided_detector_feeds_back_confirmed_hands_only(detector, small_hand) -> None:
    canvas, rig, hands = small_hand
    guided = GuidedDetector(detector, rig, GuidanceConfig(palm_tiles=1))
    assert guided.detect([canvas]) == [[]]  # nothing fed back yet: only the whole-frame palm pass
    guided.update([_hand(hands[0], monocular=True)])  # a one-view guess is not fed back
    assert guided.rois_for_next_frame() == [[]]
    guided.update([_hand(hands[0], views=1)])  # nor a hand that one view alone saw
    assert guided.rois_for_next_frame() == [[]]
    guided.update([_hand(hands[0])])
    assert len(guided.rois_for_next_frame()[0]) == 1
    assert len(guided.detect([canvas])[0]) == 1


def test_guided_crop_on_a_blank_image_returns_nothing(detector, small_hand, no_hand_images) -> None:
    _, rig, hands = small_hand
    guided = GuidedDetector(detector, rig)
    guided.update([_hand(h) for h in hands])
    assert len(guided.rois_for_next_frame()[0]) == len(hands)
    height, width = rig.cameras[0].height, rig.cameras[0].width
    for image in no_hand_images:
        blank = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
        assert guided.detect([blank]) == [[]]


def test_crops_from_hands_skips_views_that_do_not_see_the_hand(small_hand) -> None:
    _, rig, hands = small_hand
    cams = CameraArray.from_rig(rig)
    behind = hands[0].copy()
    behind[:, 2] = -1.0  # world = this camera's frame up to a rotation: put it behind the camera
    cam_T_world = rig.cameras[0].camera_T_world
    behind = (np.c_[behind, np.ones(NUM_KEYPOINTS)] @ np.linalg.inv(cam_T_world).T)[:, :3]
    behind_in_camera = behind @ cam_T_world[:3, :3].T + cam_T_world[:3, 3]
    assert (behind_in_camera[:, 2] < 0).all()
    missing_wrist = hands[0].copy()
    missing_wrist[0] = np.nan
    assert crops_from_hands([_hand(behind), _hand(missing_wrist)], cams) == [[]]
    (rect,), = crops_from_hands([_hand(hands[0])], cams)
    centre = np.nanmean(cams.project(hands[0])[0], axis=0)
    assert np.linalg.norm(rect[:2] - centre) < rect[2] / 2  # the crop is on the hand


def test_crops_of_several_hands_are_each_hands_own_in_order(small_hand) -> None:
    _, rig, hands = small_hand
    cams = CameraArray.from_rig(rig)
    missing_wrist = hands[0].copy()
    missing_wrist[0] = np.nan
    moved = hands[0] + np.array([0.05, 0.02, 0.0])
    # All hands are cropped in one batch: a skipped hand must not shift or mix the others.
    (first, second), = crops_from_keypoints([hands[0], missing_wrist, moved], cams)
    (alone_first,), = crops_from_keypoints([hands[0]], cams)
    (alone_second,), = crops_from_keypoints([moved], cams)
    np.testing.assert_array_equal(first, alone_first)
    np.testing.assert_array_equal(second, alone_second)
    assert crops_from_keypoints([], cams) == [[]]


def test_palm_tiles_cover_the_frame() -> None:
    tiles = palm_tiles(640, 480, 2, 0.5)
    assert len(tiles) == 5 and np.allclose(tiles[0], [320, 240, 640])
    lo = np.min([t[:2] - t[2] / 2 for t in tiles[1:]], axis=0)
    hi = np.max([t[:2] + t[2] / 2 for t in tiles[1:]], axis=0)
    assert (lo <= 0).all() and hi[0] >= 640 and hi[1] >= 480
    assert palm_tiles(640, 480, 1, 0.5)[0].tolist() == [320, 240, 640]
    with pytest.raises(ValueError, match="palm_tiles"):
        GuidanceConfig(palm_tiles=0)


def test_rois_are_validated(detector, small_hand) -> None:
    canvas, _, _ = small_hand
    with pytest.raises(ValueError, match=r"rois\[0\]\[0\]"):
        detector.detect([canvas], rois=[[np.array([1.0, 2.0, -3.0, 4.0, 0.0])]])
    with pytest.raises(ValueError, match="roi_min_presence"):
        detector.detect([canvas], rois=[[]], roi_min_presence=2.0)


def _dexycb_sequence():
    from hand_pose_ros.tools.datasets import RealDataMissing, real_data_dir

    try:
        from hand_pose_ros.tools.bench.real import DEXYCB_SEQUENCE
        from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence

        return DexYCBSequence(real_data_dir() / DEXYCB_SEQUENCE), ""
    except RealDataMissing as exc:
        return None, str(exc)


# DexYCB camera whose palm detector misses the hand behind the bottle, and instants where it does.
_OCCLUDED_CAMERA, _OCCLUDED_FRAMES = "839512060362", range(27, 39)
# Same hand: median keypoint distance to DexYCB's labels below this (px; hands ≈ 60–120 px).
_SAME_HAND_PX = 30.0


def test_guided_crop_on_real_dexycb_view_whose_palm_detector_misses(detector) -> None:
    sequence, reason = _dexycb_sequence()
    if sequence is None:
        pytest.skip(reason)
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion

    view = sequence.serials.index(_OCCLUDED_CAMERA)
    cams = CameraArray.from_rig(sequence.rig)
    checked = 0
    for frame in sequence.frames(_OCCLUDED_FRAMES):
        detections = detector.detect(frame.images)
        if detections[view]:
            continue  # the palm detector found it here: not the case under test
        detections[view] = []
        hands = MultiViewFusion(sequence.rig, FusionConfig()).process(detections, 0.0)  # the other 7 views
        assert hands and not hands[0].monocular
        rois = crops_from_hands(hands, cams)
        found = detector.detect([frame.images[view]], rois=[rois[view]],
                                roi_min_presence=GuidanceConfig().min_presence)[0]
        if found:
            error = np.median(np.linalg.norm(found[0].keypoints_2d - frame.joints_2d[view], axis=-1))
            assert error < _SAME_HAND_PX
            checked += 1
            break
    assert checked == 1  # an instant where only the guided crop gives keypoints


def test_fed_back_hands_are_moved_to_the_next_stamp_by_their_velocity(detector, small_hand) -> None:
    _, rig, hands = small_hand
    cams = CameraArray.from_rig(rig)
    guided = GuidedDetector(detector, rig)
    step = np.array([0.01, 0.0, 0.0])  # metres per frame: 0.3 m/s at 30 Hz
    guided.update([_hand(hands[0])], 0.0)
    guided.update([_hand(hands[0] + step)], 1 / 30)
    ahead = guided.rois_for_next_frame(2 / 30)[0][0]
    expected = crops_from_keypoints([hands[0] + 2 * step], cams)[0][0]
    np.testing.assert_allclose(ahead, expected, atol=1e-6)
    still = crops_from_keypoints([hands[0] + step], cams)[0][0]
    np.testing.assert_allclose(guided.rois_for_next_frame()[0][0], still, atol=1e-6)  # no stamp: where it was
    assert np.linalg.norm(ahead[:2] - still[:2]) > 1.0  # the move is visible in pixels
    # A new track id, or a gap longer than one frame's motion, gives no velocity.
    guided.update([dataclasses.replace(_hand(hands[0] + 2 * step), track_id=1)], 2 / 30)
    np.testing.assert_allclose(guided.rois_for_next_frame(3 / 30)[0][0],
                               crops_from_keypoints([hands[0] + 2 * step], cams)[0][0], atol=1e-6)
    guided.update([dataclasses.replace(_hand(hands[0] + 3 * step), track_id=1)], 2.0)
    np.testing.assert_allclose(guided.rois_for_next_frame(2.1)[0][0],
                               crops_from_keypoints([hands[0] + 3 * step], cams)[0][0], atol=1e-6)


def _one_view_on_a_twin(detector, small_hand):
    """Two cameras at the same place: the hand the first one sees lies, whatever its depth, on
    the second one's copy of the image, where the whole-frame palm search misses it. → the
    canvas, the GT hands, the twin rig's cameras, a guided detector over it, the first view's
    detection and the one-view hand it gives."""
    canvas, rig, hands = small_hand
    camera = rig.cameras[0]
    twin = Rig(cameras=(camera, dataclasses.replace(camera, name="twin", frame_id="twin_optical_frame")))
    cams = CameraArray.from_rig(twin)
    guided = GuidedDetector(detector, twin, GuidanceConfig(palm_tiles=1))
    assert guided.detect([canvas, canvas])[1] == []  # the premise
    seen = HandDetection2D(keypoints_2d=cams.project(hands[0])[0].astype(np.float32),
                           keypoint_scores=np.ones(NUM_KEYPOINTS, np.float32), handedness=Handedness.RIGHT,
                           handedness_score=1.0, presence=1.0)
    one_view = dataclasses.replace(_hand(hands[0], views=1, monocular=True), depth_stddev=0.1)
    return canvas, hands, cams, guided, seen, one_view


def test_a_one_view_hand_makes_the_other_views_search_for_it(detector, small_hand) -> None:
    canvas, hands, cams, guided, seen, one_view = _one_view_on_a_twin(detector, small_hand)
    guided.update([one_view], 0.0, [[seen], []])
    assert guided.rois_for_next_frame() == [[], []]  # a one-view hand gives no crop
    squares, views = guided.searches_for_next_frame()
    assert views == [1] and len(squares[1]) == 1 and squares[0] == []
    found = guided.detect([canvas, canvas], 1 / 30)[1]
    assert len(found) >= 1
    error = min(np.median(np.linalg.norm(d.keypoints_2d - cams.project(h)[1], axis=-1)) for d in found for h in hands)
    assert error < _KEYPOINT_TOLERANCE_PX
    # A view that already shows a hand is not searched, nor are views for a triangulated hand.
    guided.update([one_view], 2 / 30, [[seen], [seen]])
    assert guided.detect([canvas, canvas], 3 / 30)[1] == []
    guided.update([_hand(hands[0])], 4 / 30, [[seen], []])
    assert guided.searches_for_next_frame() == ([[], []], [])


def test_the_same_frame_search_finds_a_one_view_hand_at_once(detector, small_hand) -> None:
    canvas, hands, cams, guided, seen, one_view = _one_view_on_a_twin(detector, small_hand)
    found = guided.search_now([canvas, canvas], [one_view], [[seen], []])
    assert found is not None and found[0] == [] and len(found[1]) >= 1  # only the view without a hand is searched
    error = min(np.median(np.linalg.norm(d.keypoints_2d - cams.project(h)[1], axis=-1)) for d in found[1] for h in hands)
    assert error < _KEYPOINT_TOLERANCE_PX
    assert guided.searches_for_next_frame() == ([[], []], [])  # done now, not again on the next frame
    # Nothing to search: every view shows a hand, or the hand is triangulated.
    assert guided.search_now([canvas, canvas], [one_view], [[seen], [seen]]) is None
    assert guided.search_now([canvas, canvas], [_hand(hands[0])], [[seen], []]) is None


def _sample_two_cameras():
    """The bundled sample's first two cameras and its first frame's GT hands (world, m)."""
    directory = sample_dir()
    rig = load_calibration(directory / "calibration.yaml")
    frame = json.loads((directory / "ground_truth.json").read_text())["frames"][0]
    two = Rig(cameras=rig.cameras[:2])
    return two, CameraArray.from_rig(two), [np.array(h["keypoints_3d"], float) for h in frame["hands"]]


def test_ray_crops_step_along_the_seeing_cameras_ray_nearest_the_estimate_first() -> None:
    rig, cams, hands = _sample_two_cameras()
    truth = hands[0]
    origin = cams.centers[0]
    # One view misjudged the depth by 20 %: the hand scaled about its camera projects the same there.
    guess = origin + 1.2 * (truth - origin)
    np.testing.assert_allclose(cams.project(guess)[0], cams.project(truth)[0], atol=1e-6)
    depth = float(np.linalg.norm(guess.mean(0) - origin))
    one_view = dataclasses.replace(_hand(guess, views=1, monocular=True), depth_stddev=0.15 * depth)
    seen = HandDetection2D(keypoints_2d=cams.project(truth)[0].astype(np.float32),
                           keypoint_scores=np.ones(NUM_KEYPOINTS, np.float32), handedness=Handedness.RIGHT,
                           handedness_score=1.0, presence=1.0)
    crops = ray_crops(one_view, [[seen], []], cams)
    assert list(crops) == [1]  # not the seeing view
    rects = crops[1]
    assert len(rects) >= 3
    np.testing.assert_allclose(rects[0], crops_from_keypoints([guess], cams)[1][0], atol=1e-6)  # the estimate first
    # Each crop steps by at least the spacing from the others, and one lands near the true hand
    # (within half its crop: every position of the stretch lies within the spacing of a crop).
    centres = np.array([r[:2] for r in rects])
    spacing = 0.25 * min(r[2] for r in rects)
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(len(rects), 1)]
    assert gaps.min() >= spacing - 1e-9
    true_crop = crops_from_keypoints([truth], cams)[1][0]
    assert np.linalg.norm(centres - true_crop[:2], axis=-1).min() < 0.5 * true_crop[2]
    # A view that already shows a hand gets none; nor does a hand no detection lies on.
    assert ray_crops(one_view, [[seen], [seen]], cams) == {}
    assert ray_crops(one_view, [[], []], cams) == {}


# DexYCB 4-camera rig (tools.bench.real.DEXYCB_FOUR) at its first instant with a hand: only
# 839512060362 finds it; 932122060861 shows it cut by the image's right edge (31 px, its palm
# partly outside), where the palm search finds nothing.
_RAY_INSTANT, _SEEING, _EDGE = 1, "839512060362", "932122060861"


def test_the_same_frame_search_finds_a_hand_cut_by_the_edge_along_the_ray() -> None:
    sequence, reason = _dexycb_sequence()
    if sequence is None:
        pytest.skip(reason)
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.tools.bench.real import DEXYCB_FOUR
    from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence

    four = DexYCBSequence(sequence.path, cameras=list(DEXYCB_FOUR))
    seeing, edge = four.serials.index(_SEEING), four.serials.index(_EDGE)
    frame = next(iter(four.frames(range(_RAY_INSTANT, _RAY_INSTANT + 1))))
    detector = HandDetector(HandDetectorConfig(tracking=False))
    detections = [detector.detect([image])[0] if v == seeing else [] for v, image in enumerate(frame.images)]
    assert detections[seeing]
    hands = MultiViewFusion(four.rig, FusionConfig()).process(detections, 0.0)
    assert len(hands) == 1 and hands[0].monocular
    palm_only = HandDetector(HandDetectorConfig(tracking=False)).detect(
        [frame.images[edge]], palm_regions=None, force_palm={0})[0]
    assert palm_only == []  # the premise: the palm detector misses it
    guided = GuidedDetector(HandDetector(HandDetectorConfig(tracking=False)), four.rig)
    found = guided.search_now(frame.images, hands, detections)
    assert found is not None and len(found[edge]) >= 1
    error = min(np.median(np.linalg.norm(d.keypoints_2d - frame.joints_2d[edge], axis=-1)) for d in found[edge])
    assert error < _SAME_HAND_PX
    # Fused again with it, the hand is triangulated in this frame.
    both = [list(view) + list(extra) for view, extra in zip(detections, found)]
    again = MultiViewFusion(four.rig, FusionConfig()).process(both, 0.0)
    assert any(not h.monocular for h in again)


def test_the_ray_search_finds_nothing_where_there_is_no_hand(small_hand) -> None:
    canvas, hands, cams, guided, seen, one_view = _one_view_on_a_twin(
        HandDetector(HandDetectorConfig(tracking=False)), small_hand)
    blank = np.full_like(canvas, 127)
    found = guided.search_now([canvas, blank], [one_view], [[seen], []])
    assert found is not None and found[1] == []


# --- shedding views (GuidanceConfig.shed_views) ------------------------------------------------

class _TrackingStub:
    """Stands in for ``HandDetector`` where shedding is decided: each view tracks
    ``tracked[view]`` hands (None: a palm run due) and gives ``detections[view]`` whenever it
    gets an image; ``ran`` records the views each call got images for."""

    config = HandDetectorConfig()

    def __init__(self, tracked: list[int | None], detections: list[list[HandDetection2D]]) -> None:
        self.tracked, self.detections, self.ran = tracked, detections, []

    def tracked_hands(self, view: int) -> int | None:
        return self.tracked[view]

    def detect(self, images, rois=None, palm_regions=None, roi_min_presence=None, force_palm=(), roi_magnified=None):
        self.ran.append({v for v, image in enumerate(images) if image is not None})
        return [list(self.detections[v]) if image is not None else [] for v, image in enumerate(images)]

    def reset(self) -> None:
        pass


def _sample_hands_in_views(seen_by: list[set[int]], cameras: int = 4):
    """A rig of ``cameras`` cameras (camera i: the sample's camera i mod 4), the sample's first
    frame's two hands as fused hands (track ids 0, 1), and per view the detections (exact
    projections) of the hands ``seen_by`` names."""
    directory = sample_dir()
    sample = load_calibration(directory / "calibration.yaml")
    rig = Rig(cameras=tuple(dataclasses.replace(sample.cameras[i % len(sample)], name=f"cam{i}") for i in range(cameras)))
    frame = json.loads((directory / "ground_truth.json").read_text())["frames"][0]
    points = [np.array(h["keypoints_3d"], float) for h in frame["hands"]][:2]
    hands = [dataclasses.replace(_hand(p, views=len(views)), track_id=i) for i, (p, views) in enumerate(zip(points, seen_by))]
    projected = CameraArray.from_rig(rig).project(np.concatenate(points)).reshape(len(rig), len(points), NUM_KEYPOINTS, 2)
    detections = [[HandDetection2D(keypoints_2d=projected[v, h].astype(np.float32), keypoint_scores=np.ones(NUM_KEYPOINTS),
                                   handedness=Handedness.RIGHT, handedness_score=1.0, presence=1.0)
                   for h, views in enumerate(seen_by) if v in views] for v in range(len(rig))]
    images = [np.zeros((c.height, c.width, 3), np.uint8) for c in rig.cameras]
    return rig, hands, detections, images


def _run_sets(guided: GuidedDetector, hands, images, sets: int, shed: bool = True) -> list[set[int]]:
    """``sets`` sets as the pipeline runs them (the views ``views_to_shed`` names passed as
    None, detect, update with the same hands) → the views each set ran."""
    for i in range(sets):
        left_out = guided.views_to_shed(images) if shed else set()
        detections = guided.detect([None if v in left_out else image for v, image in enumerate(images)], i / 30)
        guided.update(hands, i / 30, detections)
    return guided.detector.ran[-sets:]


@pytest.mark.parametrize("cameras, min_fresh", [(4, 2), (4, 3), (8, 2), (8, 3), (5, 2), (2, 2)])
def test_shedding_keeps_min_fresh_views_per_hand_and_runs_every_view_within_the_period(cameras, min_fresh) -> None:
    everywhere = [set(range(cameras))] * 2
    rig, hands, detections, images = _sample_hands_in_views(everywhere, cameras)
    guided = GuidedDetector(_TrackingStub([2] * cameras, detections), rig,
                            GuidanceConfig(shed_views="always", min_fresh_views=min_fresh))
    ran = _run_sets(guided, hands, images, 4 * cameras)
    assert ran[0] == set(range(cameras)), "nothing is known about the hands' views before the first update"
    period = -(-cameras // min_fresh)  # ⌈V / min_fresh_views⌉
    for views in ran[1:]:
        assert len(views) >= min_fresh, "each hand, seen by every view, keeps min_fresh_views"
    for start in range(len(ran) - period + 1):
        assert set().union(*ran[start:start + period]) == set(range(cameras)), f"sets {start}..: a view sat out a period"
    if cameras > min_fresh:
        assert sum(cameras - len(views) for views in ran[1:]) > 0
    else:
        assert all(views == set(range(cameras)) for views in ran), "V <= min_fresh_views: nothing to shed"
    # Asked not to shed, every view runs.
    assert all(views == set(range(cameras)) for views in _run_sets(guided, hands, images, 3, shed=False))


def test_a_hand_seen_by_min_fresh_views_views_keeps_them_all() -> None:
    # Hand 0 is seen by views 0, 1 only (= min_fresh_views): neither is shed; hand 1 by all four.
    rig, hands, detections, images = _sample_hands_in_views([{0, 1}, {0, 1, 2, 3}])
    guided = GuidedDetector(_TrackingStub([2, 2, 1, 1], detections), rig, GuidanceConfig(shed_views="always", min_fresh_views=2))
    ran = _run_sets(guided, hands, images, 6)[1:]
    assert all({0, 1} <= views for views in ran)
    assert all(first | second == {0, 1, 2, 3} for first, second in zip(ran, ran[1:])), "views 2, 3 still rotate"
    assert any(views != {0, 1, 2, 3} for views in ran)
    # min_fresh_views = 3: hand 1 keeps 3 of its 4 views, hand 0 both of its.
    guided = GuidedDetector(_TrackingStub([2, 2, 1, 1], detections), rig, GuidanceConfig(shed_views="always", min_fresh_views=3))
    ran = _run_sets(guided, hands, images, 6)[1:]
    assert all(len(views) == 3 and {0, 1} <= views for views in ran)
    assert set().union(*ran) == {0, 1, 2, 3}


def test_views_with_a_palm_run_due_or_a_hand_the_tracks_do_not_explain_are_never_shed() -> None:
    rig, hands, detections, images = _sample_hands_in_views([{0, 1, 2, 3}, {0, 1, 2, 3}])
    # View 0: its palm detector runs next (None); view 1 tracks a third hand no fused hand accounts for.
    guided = GuidedDetector(_TrackingStub([None, 3, 2, 2], detections), rig,
                            GuidanceConfig(shed_views="always", min_fresh_views=2))
    ran = _run_sets(guided, hands, images, 5)[1:]
    assert all({0, 1} <= views for views in ran)
    assert {0, 1} in ran, "views 2, 3 are shed (each in turn with running: every second set)"
    # A fused hand that starts (a new track id) in a set that sheds is known only to the views
    # that ran: it is unaccounted for in those left out, and it keeps just two views.
    guided = GuidedDetector(_TrackingStub([2] * 4, detections), rig, GuidanceConfig(shed_views="always"))
    _run_sets(guided, hands, images, 1)
    left_out = guided.views_to_shed(images)
    assert len(left_out) == 2
    detections_now = guided.detect([None if v in left_out else image for v, image in enumerate(images)], 1 / 30)
    guided.update([hands[0], dataclasses.replace(hands[1], track_id=7)], 1 / 30, detections_now)
    assert guided.views_to_shed(images) == set(), "every view runs before a view is shed again"


def test_a_view_searching_for_a_one_view_hand_is_never_shed() -> None:
    # A one-view (monocular) hand seen by view 0 only: view 3, which shows no hand, plans a palm
    # search for it; hand 1 is seen by views 0-2.
    rig, hands, detections, images = _sample_hands_in_views([{0}, {0, 1, 2}])
    one_view = dataclasses.replace(hands[0], monocular=True, depth_stddev=0.05)
    config = GuidanceConfig(shed_views="always", min_fresh_views=2)
    for given, searching in (([hands[1]], False), ([one_view, hands[1]], True)):
        guided = GuidedDetector(_TrackingStub([2, 1, 1, 0], detections), rig, config)
        guided.update(given, 0.0, guided.detect(images, 0.0))
        assert (3 in guided.searches_for_next_frame()[1]) == searching
        # Shed without a search (it shows no hand), run with one; view 1 is shed either way
        # (views 0, 2 keep hand 1 at two views; view 0 also sees the one-view hand).
        assert guided.views_to_shed(images) == ({1} if searching else {1, 3})


def test_views_without_an_image_are_neither_shed_nor_counted_as_fresh() -> None:
    rig, hands, detections, images = _sample_hands_in_views([{0, 1, 2, 3}, {0, 1, 2, 3}])
    guided = GuidedDetector(_TrackingStub([2] * 4, detections), rig, GuidanceConfig(shed_views="always"))
    _run_sets(guided, hands, images, 1)
    assert len(guided.views_to_shed(images)) == 2
    # Camera 3 missing: three views with images, each hand keeps two, so one is shed.
    partial = [*images[:3], None]
    shed = guided.views_to_shed(partial)
    assert len(shed) == 1 and 3 not in shed
    # Two cameras missing: nothing may go.
    assert guided.views_to_shed([images[0], None, images[2], None]) == set()


def test_shedding_settings_are_validated() -> None:
    with pytest.raises(ValueError, match=r"shed_views.*'never', 'auto', 'always'"):
        GuidanceConfig(shed_views="sometimes")
    with pytest.raises(ValueError, match="min_fresh_views"):
        GuidanceConfig(min_fresh_views=1)  # one view would leave a hand monocular
    with pytest.raises(ValueError, match="min_fresh_views"):
        GuidanceConfig(min_fresh_views=2.5)
    assert (GuidanceConfig().shed_views, GuidanceConfig().min_fresh_views) == ("never", 2)
