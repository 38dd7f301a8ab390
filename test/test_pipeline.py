"""``HandPosePipeline`` on the bundled sample (real weights): its rules between frames, its
results against the components run by hand, warm-up, timings and close. No ROS."""

from __future__ import annotations

import copy
import gc
import types
import weakref

import cv2
import numpy as np
import pytest

from hand_pose_ros.assets import sample_dir
from hand_pose_ros.calibration import CameraCalibration, Rig, load_calibration, look_at
from hand_pose_ros.detection import HandDetector, HandDetectorConfig
from hand_pose_ros.keypoints import HandKeypoint
from hand_pose_ros.fusion import FusionConfig, MultiViewFusion, wrist_pose
from hand_pose_ros.handstate import HandStateConfig
from hand_pose_ros.mesh import HandMeshFitter, MeshFitterConfig
from hand_pose_ros.detection.config import GuidanceConfig
from hand_pose_ros.detection.guidance import GuidedDetector
from hand_pose_ros.pipeline import FrameResult, HandPosePipeline, PipelineBuildError, PipelineConfig
from hand_pose_ros.timing import NS_PER_S

pytestmark = pytest.mark.slow

# Sample frames 10-15: both hands seen by two or three of the four cameras (as test_renders).
FRAMES = range(10, 16)
STAMP0_NS = 1_000 * NS_PER_S
FRAME_NS = 33_333_333
# A camera that sees both hands in these frames (the missing-view test drops it for a frame).
DROPPED_VIEW = 1
# One view's keypoints from the batched detector vs a detector running that view alone: the
# detector's own batch invariance (test_detector.BATCH_INVARIANCE_PX; batch size changes the
# networks' float arithmetic, and the CPU's kernels how much: ≤ 1e-3 px measured on an Intel
# AVX-512 machine, 0.02-0.03 px on an AMD Zen 2 one); a track advanced by one more frame moves
# them by 3-7 px.
BATCH_TOL_PX = 0.5


@pytest.fixture(scope="module")
def rig():
    return load_calibration(sample_dir() / "calibration.yaml")


@pytest.fixture(scope="module")
def images(rig) -> dict[int, list[np.ndarray]]:
    """Sample frame → one (H, W, 3) uint8 RGB image per camera, in rig order."""
    root = sample_dir() / "images"
    return {
        frame: [cv2.cvtColor(cv2.imread(str(root / name / f"{frame:06d}.jpg")), cv2.COLOR_BGR2RGB) for name in rig.names]
        for frame in FRAMES
    }


def _stamp(i: int) -> int:
    return STAMP0_NS + i * FRAME_NS


def _keypoints(detections) -> np.ndarray:
    """(N, 21, 2) px of a view's detections."""
    return np.stack([d.keypoints_2d for d in detections]) if detections else np.zeros((0, 21, 2))


def _assert_same_frame(a: FrameResult, b: FrameResult, atol: float = 0.0) -> None:
    """Same detections, hands, wrist frames and meshes (to ``atol``)."""
    assert a.views_present == b.views_present
    for view_a, view_b in zip(a.detections, b.detections):
        np.testing.assert_allclose(_keypoints(view_a), _keypoints(view_b), atol=atol)
    assert [(h.track_id, h.age, h.handedness) for h in a.hands] == [(h.track_id, h.age, h.handedness) for h in b.hands]
    for hand_a, hand_b in zip(a.hands, b.hands):
        np.testing.assert_allclose(hand_a.keypoints_3d, hand_b.keypoints_3d, atol=atol)
    np.testing.assert_allclose(a.world_T_wrist, b.world_T_wrist, atol=atol)
    assert [m.track_id for m in a.meshes] == [m.track_id for m in b.meshes]
    for mesh_a, mesh_b in zip(a.meshes, b.meshes):
        np.testing.assert_allclose(mesh_a.vertices, mesh_b.vertices, atol=atol)


def test_same_results_as_the_components_run_by_hand(rig, images):
    config = PipelineConfig()
    detector, fusion, fitter = HandDetector(config.detector), MultiViewFusion(rig, config.fusion), HandMeshFitter(config.mesh)
    guided = GuidedDetector(detector, rig, config.guidance)  # the 3D → 2D feedback, on by default
    with HandPosePipeline.from_config(config, rig) as pipeline:  # warmed up: that must leave no state
        for i, frame in enumerate(FRAMES):
            result = pipeline.process(images[frame], _stamp(i))
            detections = guided.detect(images[frame], _stamp(i) / NS_PER_S)
            hands = fusion.process(detections, _stamp(i) / NS_PER_S)
            guided.update(hands, _stamp(i) / NS_PER_S, detections)
            meshes = fitter.fit(hands, _stamp(i) / NS_PER_S)
            assert len(result.detections) == len(rig) and all(result.views_present)
            for view, expected in zip(result.detections, detections):
                np.testing.assert_array_equal(_keypoints(view), _keypoints(expected))
            assert len(result.hands) == len(hands) == 2
            for hand, expected, T in zip(result.hands, hands, result.world_T_wrist):
                assert hand.track_id == expected.track_id and hand.handedness == expected.handedness
                np.testing.assert_array_equal(hand.keypoints_3d, expected.keypoints_3d)
                np.testing.assert_array_equal(T, wrist_pose(expected.keypoints_3d, expected.handedness))
            assert result.world_T_wrist.shape == (2, 4, 4)
            # A wrist frame wherever the hand has its palm (wrist, index, middle and pinky MCPs).
            palm = [HandKeypoint.WRIST, HandKeypoint.INDEX_FINGER_MCP, HandKeypoint.MIDDLE_FINGER_MCP, HandKeypoint.PINKY_MCP]
            assert [bool(np.isfinite(T).all()) for T in result.world_T_wrist] == \
                [bool(np.isfinite(h.keypoints_3d[palm]).all()) for h in result.hands]
            assert [m.track_id for m in result.meshes] == [m.track_id for m in meshes]
            for mesh, expected in zip(result.meshes, meshes):
                np.testing.assert_array_equal(mesh.vertices, expected.vertices)


def test_a_missing_view_gets_no_detections_and_keeps_its_tracking_state(rig, images):
    first, dropped, back = (images[f] for f in FRAMES[:3])
    # That camera's detector alone, seeing only the frames it has an image for.
    alone = HandDetector(PipelineConfig().detector)
    # Without the 3D feedback, which would give the dropped view crops from the others' hands.
    unguided = PipelineConfig(guidance=GuidanceConfig(enabled=False))
    with HandPosePipeline.from_config(unguided, rig, warm_up=False) as pipeline:
        pipeline.process(first, _stamp(0))
        expected_first = alone.detect([first[DROPPED_VIEW]])[0]
        partial = [None if v == DROPPED_VIEW else image for v, image in enumerate(dropped)]
        result = pipeline.process(partial, _stamp(1))
        assert result.views_present == tuple(v != DROPPED_VIEW for v in range(len(rig)))
        assert result.detections[DROPPED_VIEW] == ()
        assert result.hands, "hands still fused from the other cameras"
        later = pipeline.process(back, _stamp(2))
    expected = alone.detect([back[DROPPED_VIEW]])[0]
    assert len(expected_first) == len(expected) == len(later.detections[DROPPED_VIEW]) == 2
    # Its next frame continues the track of its last image, not of a stand-in image.
    np.testing.assert_allclose(_keypoints(later.detections[DROPPED_VIEW]), _keypoints(expected), atol=BATCH_TOL_PX)


def test_time_going_back_resets_every_track(rig, images):
    frames = [images[f] for f in FRAMES[:3]]
    with HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False) as pipeline:
        fresh = pipeline.process(frames[0], _stamp(0))
        for i in (1, 2):
            pipeline.process(frames[i], _stamp(i))
        carried = pipeline.process(frames[0], _stamp(3))  # forward in time: the tracks carry on
        assert all(h.age > 1 for h in carried.hands)
        restarted = pipeline.process(frames[0], _stamp(0) - 5 * NS_PER_S)  # a bag loop
    assert restarted.stamp_ns == _stamp(0) - 5 * NS_PER_S
    _assert_same_frame(restarted, fresh)  # detector, fusion and mesh tracks all started over


def test_warm_up_runs_on_construction_or_when_asked(rig):
    warmed = HandPosePipeline.from_config(PipelineConfig(), rig)
    assert warmed.detector.stage_calls["palm"] == 1  # black views: no palm, so no landmark call
    cold = HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False)
    assert cold.detector.stage_calls["palm"] == 0
    assert cold.warm_up() > 0 and cold.detector.stage_calls["palm"] == 1
    offline = HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig))
    assert offline.warm_up() == 0.0  # nothing to warm up without a detector


def test_close_releases_the_components_and_refuses_more_work(rig, images):
    pipeline = HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False)
    result = pipeline.process(images[FRAMES[0]], _stamp(0), fit_meshes=False)
    components = [weakref.ref(c) for c in (pipeline.detector, pipeline.fusion, pipeline.mesh_fitter)]
    with pipeline:
        pass
    pipeline.close()  # a second close is harmless
    del result  # a result does not hold the components
    gc.collect()
    assert [ref() for ref in components] == [None, None, None]
    assert pipeline.detector is None and pipeline.fusion is None and pipeline.mesh_fitter is None
    for call in (lambda: pipeline.process(images[FRAMES[0]], _stamp(1)),
                 lambda: pipeline.process_detections([[]] * len(rig), _stamp(1)),
                 pipeline.warm_up, pipeline.reset):
        with pytest.raises(RuntimeError, match="closed"):
            call()


def test_timings_and_meshes_as_a_second_step(rig, images):
    with HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False) as pipeline:
        result = pipeline.process(images[FRAMES[0]], _stamp(0), fit_meshes=False)
        t = result.timings
        assert t.detect_ms > 0 and t.fuse_ms > 0 and np.isnan(t.mesh_ms) and t.total_ms >= t.detect_ms + t.fuse_ms
        assert result.meshes == () and len(result.hands) == 2
        fitted = pipeline.fit_meshes(result)
        assert fitted.hands is result.hands and len(fitted.meshes) == 2
        assert fitted.timings.mesh_ms > 0
        assert fitted.timings.total_ms == pytest.approx(t.total_ms + fitted.timings.mesh_ms)
        with pytest.raises(ValueError, match="latest result"):
            pipeline.fit_meshes(result)  # once only
        older = result
        pipeline.process(images[FRAMES[1]], _stamp(1), fit_meshes=False)
        with pytest.raises(ValueError, match="latest result"):
            pipeline.fit_meshes(older)
    without = HandPosePipeline.from_config(PipelineConfig(mesh=MeshFitterConfig(model="none")), rig, warm_up=False)
    assert without.mesh_fitter is None
    result = without.process(images[FRAMES[0]], _stamp(0))
    assert result.meshes == () and np.isnan(result.timings.mesh_ms) and len(result.hands) == 2


def test_meshes_fitted_on_a_second_thread_while_the_next_set_runs(rig, images):
    """The node's two stages: set i's meshes are fitted on another thread while set i + 1 is
    processed; the results equal one thread's doing both in turn."""
    import concurrent.futures

    with HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False) as serial:
        expected = [serial.process(images[f], _stamp(i)) for i, f in enumerate(FRAMES)]
    fitted = []
    with HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False) as pipeline, \
            concurrent.futures.ThreadPoolExecutor(1) as second:
        pending = None
        for i, frame in enumerate(FRAMES):
            result = pipeline.process(images[frame], _stamp(i), fit_meshes=False)
            if pending is not None:
                fitted.append(pending.result())
            pending = second.submit(pipeline.fit_meshes, result)
        fitted.append(pending.result())
        # Fitting a later result first drops the earlier one: the fitter tracks hands in time.
        first = pipeline.process(images[FRAMES[0]], _stamp(len(FRAMES)), fit_meshes=False)
        later = pipeline.process(images[FRAMES[1]], _stamp(len(FRAMES) + 1), fit_meshes=False)
        assert len(pipeline.fit_meshes(later).meshes) == 2
        with pytest.raises(ValueError, match="not yet fitted"):
            pipeline.fit_meshes(first)
        # Time goes back (a restart) before a result is fitted: it is fitted to no meshes, no error.
        before = pipeline.process(images[FRAMES[2]], _stamp(100), fit_meshes=False)
        after = pipeline.process(images[FRAMES[0]], _stamp(0), fit_meshes=False)
        assert pipeline.fit_meshes(before).meshes == ()
        assert len(after.hands) > 0 and len(pipeline.fit_meshes(after).meshes) == len(after.hands)
    for got, want in zip(fitted, expected, strict=True):
        _assert_same_frame(got, want)


def test_given_detections_follow_the_same_rules(rig, images):
    with HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False) as pipeline:
        results = [pipeline.process(images[f], _stamp(i)) for i, f in enumerate(FRAMES[:3])]
    offline = HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig, FusionConfig()),
                               mesh_fitter=HandMeshFitter(MeshFitterConfig()))
    for i, result in enumerate(results):
        again = offline.process_detections(result.detections, _stamp(i))
        _assert_same_frame(again, result)
        assert np.isnan(again.timings.detect_ms)
    _assert_same_frame(offline.process_detections(results[0].detections, _stamp(0)), results[0])  # time went back
    missing = [None, *results[1].detections[1:]]
    assert offline.process_detections(missing, _stamp(1)).views_present == (False, True, True, True)
    with pytest.raises(RuntimeError, match="no detector"):
        offline.process(images[FRAMES[0]], _stamp(5))


def test_bad_input_is_refused_with_what_was_expected(rig, images):
    pipeline = HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig))
    with pytest.raises(ValueError, match=r"detections: expected one per rig camera \(4: .*got 3"):
        pipeline.process_detections([[]] * 3, _stamp(0))
    with pytest.raises(ValueError, match="stamp_ns: expected an integer number of nanoseconds, got 1.5"):
        pipeline.process_detections([[]] * 4, 1.5)
    assert pipeline.process_detections([[]] * 4, np.int64(_stamp(0))).hands == ()
    with pytest.raises(ValueError, match="fusion over the rig's 4 cameras"):
        HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(Rig(cameras=rig.cameras[:2], world_frame=rig.world_frame)))
    with pytest.raises(ValueError, match="PipelineConfig.detector: expected a HandDetectorConfig, got dict"):
        PipelineConfig(detector={"model": "lite"})


def test_the_hand_state_thresholds_come_from_the_config(rig):
    # The hand model's pinch pose (pinch strength ≈ 0.95) seen by every camera where their axes
    # meet: pinched with the default threshold (0.75), not with one at 0.99.
    from hand_pose_ros.fusion.camera import CameraArray
    from hand_pose_ros.handmodel import HandModel, named_pose
    from hand_pose_ros.types import Handedness, HandDetection2D

    cameras = CameraArray.from_rig(rig)
    axes = [camera.world_T_camera[:3, 2] for camera in rig.cameras]
    # The point nearest all optical axes (least squares over (I - a aᵀ)(x - c) = 0).
    normal = sum(np.eye(3) - np.outer(a, a) for a in axes)
    target = np.linalg.solve(normal, sum((np.eye(3) - np.outer(a, a)) @ c for a, c in zip(axes, cameras.centers)))
    root = np.eye(4)
    root[:3, 3] = target
    keypoints = HandModel.load("right")(named_pose("pinch"), root, skin=False).keypoints  # (21, 3) m world
    pixels = cameras.project(keypoints).astype(np.float32)  # (V, 21, 2)
    detections = [[HandDetection2D(keypoints_2d=pixels[v], keypoint_scores=np.ones(21, np.float32),
                                   handedness=Handedness.RIGHT, handedness_score=1.0, presence=1.0)]
                  for v in range(len(rig))]
    pinched = {}
    for on, off in ((0.75, 0.55), (0.99, 0.98)):
        config = PipelineConfig(hand_state=HandStateConfig(pinch_on_strength=on, pinch_off_strength=off))
        with HandPosePipeline.from_config(config, rig, warm_up=False) as pipeline:
            for i in range(3):  # held for longer than pinch_min_duration_s
                states = pipeline.hand_states(pipeline.process_detections(detections, _stamp(i)))
            pinched[on] = [state.pinched for state in states]
    assert pinched == {0.75: [True], 0.99: [False]}


def test_build_problems_are_listed_together(rig, tmp_path):
    config = types.SimpleNamespace(  # any object with the five fields serves (the node's config tree)
        detector=HandDetectorConfig(backend="tensorrt", device="cpu"),
        guidance=GuidanceConfig(),
        fusion=FusionConfig(),
        mesh=MeshFitterConfig(model="mano", mano_dir=str(tmp_path)),
        hand_state=HandStateConfig(),
        unrelated="ignored",
    )
    with pytest.raises(PipelineBuildError) as info:
        HandPosePipeline.from_config(config, rig)
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert problems[0].startswith("detector: ") and "tensorrt" in problems[0].lower()
    assert problems[1].startswith("mesh: ") and "MANO" in problems[1]
    with pytest.raises(PipelineBuildError, match="fusion: expected a FusionConfig, got dict"):
        HandPosePipeline.from_config(types.SimpleNamespace(detector=HandDetectorConfig(), fusion={}, mesh=MeshFitterConfig()), rig)


def test_a_hand_one_view_finds_is_searched_for_and_triangulated_in_the_same_frame(rig, images):
    # Views 1-3 pasted into a canvas 4x their size: their whole-frame palm search misses the
    # hands; view 0 finds them, so the first pass has one-view hands only.
    from hand_helpers import paste_into_canvas

    frame = FRAMES[0]
    views, cameras = [images[frame][0]], [rig.cameras[0]]
    for image, camera in zip(images[frame][1:], rig.cameras[1:]):
        canvas, moved = paste_into_canvas(image, camera, 4)
        views.append(canvas)
        cameras.append(moved)
    small = Rig(cameras=tuple(cameras), world_frame=rig.world_frame)
    outcome = {}
    for same_frame in (False, True):
        config = PipelineConfig(guidance=GuidanceConfig(search_same_frame=same_frame), mesh=MeshFitterConfig(model="none"))
        with HandPosePipeline.from_config(config, small, warm_up=False) as pipeline:
            result = pipeline.process(views, _stamp(0))
        outcome[same_frame] = result
    assert outcome[False].hands and all(h.monocular for h in outcome[False].hands)  # the premise
    assert all(view == () for view in outcome[False].detections[1:])
    triangulated = [h for h in outcome[True].hands if not h.monocular]
    assert triangulated and all(np.median(h.num_views) >= 2 for h in triangulated)
    assert any(outcome[True].detections[1:])  # the searched views' detections are in the result


def test_views_are_shed_only_when_configured_and_behind(rig, images):
    def run(shed_views: str, behind: int) -> list[FrameResult]:
        config = PipelineConfig(guidance=GuidanceConfig(shed_views=shed_views), mesh=MeshFitterConfig(model="none"))
        with HandPosePipeline.from_config(config, rig, warm_up=False) as pipeline:
            results = []
            for i, frame in enumerate(FRAMES):
                tracks = copy.deepcopy(pipeline.detector._tracks)
                results.append(pipeline.process(images[frame], _stamp(i), behind=behind))
                for view in np.flatnonzero(results[-1].views_shed):
                    # A view left out keeps its detector state, as a missing camera's.
                    after = pipeline.detector._tracks[view]
                    assert after.frames_since_palm == tracks[view].frames_since_palm
                    assert np.array_equal(after.rects, tracks[view].rects) and after.lost == tracks[view].lost
            return results

    never = run("never", 3)
    # "never", and "auto" while the caller keeps up, run every view as before shedding existed.
    for a, b in zip(never, run("auto", 0)):
        _assert_same_frame(a, b)
        assert a.views_shed == b.views_shed == (False,) * len(rig)
    for results in (run("auto", 1), run("always", 0)):
        assert any(any(r.views_shed) for r in results)
        for result in results:
            ran = len(rig) - sum(result.views_shed)
            assert len(result.views_shed) == len(rig) and all(result.views_present)
            assert all(result.detections[v] == () for v, shed in enumerate(result.views_shed) if shed)
            assert len(result.hands) == 2 and not any(h.monocular for h in result.hands)
            # Nothing of a view left out reaches the fusion: no joint has more views than ran.
            assert all(h.num_views.max() <= ran for h in result.hands)
    with HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False) as pipeline:
        for behind in (-1, 1.5, True):
            with pytest.raises(ValueError, match="behind"):
                pipeline.process(images[FRAMES[0]], _stamp(0), behind=behind)


def test_mano_definition_maps_the_output_and_the_monitor_sees_every_camera(rig, images):
    from hand_pose_ros.keypoint_definitions import to_mano

    mediapipe = HandPosePipeline.from_config(PipelineConfig(), rig, warm_up=False)
    mano = HandPosePipeline.from_config(PipelineConfig(fusion=FusionConfig(keypoint_definition="mano")), rig, warm_up=False)
    for i, frame in enumerate(FRAMES[:3]):
        a = mediapipe.process(images[frame], _stamp(i))
        b = mano.process(images[frame], _stamp(i))
    assert a.keypoint_definition == "mediapipe" and b.keypoint_definition == "mano"
    for hand_b, expected in zip(b.hands, to_mano(a.hands)):
        np.testing.assert_allclose(hand_b.keypoints_3d, expected.keypoints_3d, atol=1e-9)
    # Meshes are fitted to MediaPipe's keypoints whatever the output definition.
    for mesh_a, mesh_b in zip(a.meshes, b.meshes):
        np.testing.assert_allclose(mesh_a.vertices, mesh_b.vertices, atol=1e-9)
    report = mano.calibration_report()
    assert set(report.median_px) == set(rig.names) and sum(report.samples.values()) > 0 and not report.warnings
    mediapipe.close()
    mano.close()
def test_set_rig_changes_the_intrinsics_the_fusion_uses_and_keeps_its_tracks():
    """The node's CameraInfo path: a new rig between sets replaces the fusion's cameras, not its tracks."""
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    cams = tuple(CameraCalibration(name=f"c{i}", frame_id=f"c{i}", width=640, height=480, camera_matrix=K,
                                   world_T_camera=look_at(np.array([0.6 * np.cos(a), 0.6 * np.sin(a), 0.3]), np.zeros(3)))
                 for i, a in enumerate((0.0, 2.0)))
    rig = Rig(cameras=cams)
    pipeline = HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig))
    tracker = pipeline.fusion.tracker
    wider = cams[1].with_intrinsics(640, 480, K * [[0.8], [0.8], [1]], "none", np.zeros(0))
    pipeline.set_rig(Rig(cameras=(cams[0], wider)))
    assert np.allclose(pipeline.fusion.cams.K[1], wider.camera_matrix) and np.allclose(pipeline.rig[1].camera_matrix, wider.camera_matrix)
    assert pipeline.fusion.tracker is tracker
    with pytest.raises(ValueError, match=r"set_rig: expected the cameras \['c0', 'c1'\]"):
        pipeline.set_rig(Rig(cameras=(cams[1], cams[0])))
    with pytest.raises(ValueError, match=r"cameras \['c1'\] have no intrinsics"):
        pipeline.set_rig(Rig(cameras=(cams[0], CameraCalibration(name="c1", frame_id="c1"))))
