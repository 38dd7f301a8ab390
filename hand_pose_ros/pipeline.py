"""``HandPosePipeline``: V camera images → per-view 2D hands → fused 3D hands → hand meshes.

The ROS-free facade over the detector, the multi-view fusion and the mesh fitter: the node,
the benchmarks and offline tools run through it, and so can a notebook (docs/pipeline.md)::

    with HandPosePipeline.from_config(PipelineConfig(), rig) as pipeline:
        result = pipeline.process(images, stamp_ns)   # images: one (H, W, 3) uint8 RGB or None per camera
        result.hands, result.world_T_wrist, result.meshes, result.timings

It owns the rules between frames: tracks are reset when time goes back; a camera without an
image (``None``) gets no detections and its detector tracking state is kept for its next
image; the wrist pose is computed once per hand. Meshes are a second step
(``fit_meshes``), so a caller can publish the hands before the fit, and fit one set's meshes
on a second thread while ``process`` runs the next set (the node does); ``process(...,
fit_meshes=True)`` does both.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hand_pose_ros.calibration import Rig
from hand_pose_ros.calibration.monitor import MonitorReport, ReprojectionMonitor
from hand_pose_ros.checks import check_number
from hand_pose_ros.detection.config import GuidanceConfig, HandDetectorConfig
from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
from hand_pose_ros.fusion.depth import DepthMapError, check_depth
from hand_pose_ros.fusion.pose import wrist_poses
from hand_pose_ros.handstate import HandState, HandStateConfig, HandStateEstimator
from hand_pose_ros.keypoint_definitions import to_mano
from hand_pose_ros.keypoints import NUM_KEYPOINTS
from hand_pose_ros.mesh import FittedMesh, HandMeshFitter, MeshFitterConfig
from hand_pose_ros.timing import NS_PER_S
from hand_pose_ros.types import Hand3D, HandDetection2D

if TYPE_CHECKING:  # imported when built: torch takes seconds to import, offline fusion needs none of it
    from hand_pose_ros.detection.detector import HandDetector

__all__ = ["PipelineConfig", "PipelineBuildError", "StageTimings", "FrameResult", "HandPosePipeline"]

LOG = logging.getLogger(__name__)

# Results of ``process`` kept for ``fit_meshes``: the one a second thread fits and the next
# one ``process`` made meanwhile. An older one is dropped unfitted (the fitter moves on).
_MAX_UNFITTED = 2


@dataclasses.dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """The components' configs (defaults: each component's defaults).

    ``HandPosePipeline.from_config`` reads only these five fields, so any object that has
    them (the node's configuration tree) serves too.
    """

    detector: HandDetectorConfig = dataclasses.field(default_factory=HandDetectorConfig)
    guidance: GuidanceConfig = dataclasses.field(default_factory=GuidanceConfig)
    fusion: FusionConfig = dataclasses.field(default_factory=FusionConfig)
    mesh: MeshFitterConfig = dataclasses.field(default_factory=MeshFitterConfig)
    hand_state: HandStateConfig = dataclasses.field(default_factory=HandStateConfig)

    def __post_init__(self) -> None:
        problems = _config_problems(self)
        if problems:
            raise ValueError("PipelineConfig." + "; PipelineConfig.".join(problems))


def _config_problems(config: Any) -> list[str]:
    """One line per field of ``config`` that is not its component's config type."""
    problems = []
    for name, expected in (("detector", HandDetectorConfig), ("guidance", GuidanceConfig), ("fusion", FusionConfig),
                           ("mesh", MeshFitterConfig), ("hand_state", HandStateConfig)):
        value = getattr(config, name, None)
        if not isinstance(value, expected):
            problems.append(f"{name}: expected a {expected.__name__}, got {type(value).__name__}")
    return problems


class PipelineBuildError(RuntimeError):
    """A component could not be built; ``problems`` holds one message per component problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclasses.dataclass(frozen=True, kw_only=True)
class StageTimings:
    """Wall time of one frame's stages, milliseconds; NaN for a stage that did not run.

    Attributes:
        detect_ms: the detector over the views with an image (NaN in ``process_detections``).
        fuse_ms: the fusion and the wrist poses.
        mesh_ms: the mesh fit (NaN until ``fit_meshes`` ran, or without a mesh fitter).
        total_ms: ``process``/``process_detections`` plus ``fit_meshes`` when it ran.
    """

    detect_ms: float
    fuse_ms: float
    mesh_ms: float
    total_ms: float


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class FrameResult:
    """One synchronised set through the pipeline. Per-view fields are indexed by rig camera.

    Attributes:
        stamp_ns: capture time of the set, nanoseconds (as given to ``process``).
        views_present: (V,) whether each camera had an image (``process``; a view left out
            by ``views_shed`` had one) or a detection list (``process_detections``) this frame.
        views_shed: (V,) whether the guided detector left each camera's image out of this set
            (``guidance.shed_views``): no network ran there and it gave the fusion nothing, as
            a missing camera; all False when none was left out (always in ``process_detections``).
        detections: V tuples of ``HandDetection2D`` (keypoints in that camera's pixels);
            empty for a missing camera and a view left out.
        hands: H fused ``Hand3D`` (metres, the rig's world frame), their keypoints in
            ``keypoint_definition``'s joints.
        world_T_wrist: (H, 4, 4) float64, each hand's wrist frame (``fusion.wrist_pose``);
            NaN where its palm keypoints are missing.
        meshes: ``FittedMesh`` per fitted hand (world frame, metres); empty until
            ``fit_meshes`` ran, and always without a mesh fitter.
        timings: per-stage wall time (``StageTimings``).
        keypoint_definition: ``"mediapipe"`` (the detector's keypoints) or ``"mano"``
            (``fusion.keypoint_definition``; ``hand_pose_ros.keypoint_definitions``).
        depth_problems: camera name → why its depth map was dropped this frame (the reason
            alone: wrong size or dtype, no measurement: ``fusion.depth.check_depth``); that camera's colour
            detections were used all the same. Empty when every given depth map was used.
    """

    stamp_ns: int
    views_present: tuple[bool, ...]
    views_shed: tuple[bool, ...]
    detections: tuple[tuple[HandDetection2D, ...], ...]
    hands: tuple[Hand3D, ...]
    world_T_wrist: np.ndarray
    meshes: tuple[FittedMesh, ...] = ()
    timings: StageTimings
    keypoint_definition: str = "mediapipe"
    depth_problems: dict[str, str] = dataclasses.field(default_factory=dict)


class HandPosePipeline:
    """Detector → fusion → mesh fitter over one rig, with the rules between frames (module docstring).

    Built from components (``HandPosePipeline(rig=..., detector=..., fusion=...)``, e.g. in a
    test) or from configs (``from_config``, which also warms the detector up). ``detector``
    may be None for a pipeline fed detections (``process_detections``), ``mesh_fitter`` None
    for no meshes. With ``guidance`` enabled (the default) each frame's fused hands become
    the next frame's landmark crops in every view (``detection.guidance``): the one
    deliberate feedback in the data flow. Every frame's hands are also checked against each
    camera's detections (``calibration_report``: a moved camera shows up there). Not
    thread-safe, with one exception: ``fit_meshes`` (the mesh fitter alone) may run on a
    second thread while ``process`` runs the next set; otherwise one caller at a time. A
    context manager: ``close()`` releases the networks and sessions.
    """

    def __init__(
        self,
        *,
        rig: Rig,
        detector: HandDetector | None,
        fusion: MultiViewFusion,
        mesh_fitter: HandMeshFitter | None = None,
        hand_state: HandStateConfig | None = None,
        guidance: GuidanceConfig | None = None,
    ) -> None:
        if len(fusion.rig) != len(rig):
            raise ValueError(f"fusion: expected a fusion over the rig's {len(rig)} cameras {rig.names}, "
                             f"got one over {len(fusion.rig)} {fusion.rig.names}")
        self.rig = rig
        self._detector = detector
        self._fusion = fusion
        self._mesh_fitter = mesh_fitter
        self._hand_state = HandStateEstimator(hand_state if hand_state is not None else HandStateConfig())
        guidance = guidance if guidance is not None else GuidanceConfig()
        self._guided = None
        if detector is not None and guidance.enabled:
            from hand_pose_ros.detection.guidance import GuidedDetector

            self._guided = GuidedDetector(detector, rig, guidance)
        self._monitor = ReprojectionMonitor(rig)
        self._closed = False
        self._last_stamp_ns: int | None = None
        # Results not fitted yet, oldest first, each with its hands in MediaPipe's keypoints
        # (the mesh fit's input) and the reset count when it was made. fit_meshes may run on
        # another thread than process: the list has its lock (held briefly), the mesh fitter
        # and the reset count theirs (held for a fit).
        self._unfitted: list[tuple[FrameResult, tuple[Hand3D, ...], int]] = []
        self._unfitted_lock = threading.Lock()
        self._fitter_lock = threading.Lock()
        self._resets = 0

    @classmethod
    def from_config(cls, config: PipelineConfig | Any, rig: Rig, *, warm_up: bool = True) -> HandPosePipeline:
        """Build the detector, the fusion and (unless ``config.mesh.model`` is "none") the mesh
        fitter, then warm the detector up (``warm_up``).

        Args:
            config: reads ``config.detector``, ``config.guidance``, ``config.fusion``,
                ``config.mesh`` and ``config.hand_state`` only.
        Raises:
            PipelineBuildError: every component that could not be built, one line each
                (missing weights, no backend that starts, a missing MANO file, ...).
        """
        problems = _config_problems(config)
        if problems:
            raise PipelineBuildError(problems)
        detector = fusion = mesh_fitter = None
        try:
            from hand_pose_ros.detection.detector import HandDetector

            detector = HandDetector(config.detector)
        except (ValueError, ImportError, OSError, RuntimeError) as exc:  # incl. a backend that cannot start
            problems.append(f"detector: {exc}")
        try:
            fusion = MultiViewFusion(rig, config.fusion)
        except ValueError as exc:
            problems.append(f"fusion: {exc}")
        if config.mesh.model != "none":
            try:
                # Both hand models load here, so a missing MANO file stops the build.
                mesh_fitter = HandMeshFitter(config.mesh)
            except (ValueError, ImportError, OSError) as exc:  # ManoFileError is a ValueError
                problems.append(f"mesh: {exc}")
        if problems:
            raise PipelineBuildError(problems)
        pipeline = cls(rig=rig, detector=detector, fusion=fusion, mesh_fitter=mesh_fitter, guidance=config.guidance,
                       hand_state=config.hand_state)
        if warm_up:
            pipeline.warm_up()
        return pipeline

    # --- components (read-only; None after close) -------------------------------------------
    @property
    def detector(self) -> HandDetector | None:
        return self._detector

    @property
    def fusion(self) -> MultiViewFusion | None:
        return self._fusion

    @property
    def mesh_fitter(self) -> HandMeshFitter | None:
        return self._mesh_fitter

    # --- life cycle -----------------------------------------------------------------------------
    def warm_up(self) -> float:
        """One detector call on black views at each camera's size, then a reset: the first real
        set is not delayed by lazy initialisation (seconds with torch). Returns seconds taken."""
        self._check_open("warm_up")
        if self._detector is None:
            return 0.0
        started = time.perf_counter()
        self._detector.detect([np.zeros((c.height, c.width, 3), np.uint8) for c in self.rig.cameras])
        self._detector.reset()
        elapsed = time.perf_counter() - started
        LOG.info("detector warmed up in %.1f s", elapsed)
        return elapsed

    def reset(self) -> None:
        """Forget every track: the detector's per view, the fusion's and the mesh fitter's."""
        self._check_open("reset")
        if self._guided is not None:
            self._guided.reset()  # the detector's tracks too
        elif self._detector is not None:
            self._detector.reset()
        self._fusion.reset()
        with self._fitter_lock:
            if self._mesh_fitter is not None:
                self._mesh_fitter.reset()
            self._resets += 1  # results made before are still fitted once, to no meshes (fit_meshes)
        self._hand_state.reset()
        self._last_stamp_ns = None

    def close(self) -> None:
        """Release the networks, sessions and tracks; calling it again does nothing."""
        with self._fitter_lock, self._unfitted_lock:
            self._detector = self._fusion = self._mesh_fitter = self._guided = None
            self._unfitted = []
        self._closed = True

    def __enter__(self) -> HandPosePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- per frame ------------------------------------------------------------------------------
    def process(self, images: Sequence[np.ndarray | None], stamp_ns: int, *,
                depths: Sequence[np.ndarray | None] | None = None, fit_meshes: bool = True,
                behind: int = 0) -> FrameResult:
        """One synchronised set of images → detections, 3D hands, wrist poses (and meshes).

        Args:
            images: one per rig camera, in rig order: ``(H, W, 3)`` uint8 RGB, or None for a
                camera missing from a partial set.
            stamp_ns: capture time, integer nanoseconds. Earlier than the previous set's:
                the sources restarted, and every track is reset first.
            depths: None, or one per rig camera: an aligned depth map ``(H, W) float32``
                metres along the optical axis, NaN = no measurement, registered to that
                camera's colour image (same size and intrinsics; ``fusion.depth``), or None.
                A map that fails ``check_depth`` is dropped for this frame and named in
                ``FrameResult.depth_problems``; the colour path goes on.
            fit_meshes: also fit the meshes (``fit_meshes``) before returning; False returns
                the hands first, for the caller to fit when it wants.
            behind: how far the caller lags its input, in sets (e.g. those it dropped over
                the last second); with ``guidance.shed_views="auto"``, more than 0 lets the
                guided detector leave out views of well-tracked hands (``"always"``: on every
                set; ``FrameResult.views_shed``).
        Raises:
            ValueError: wrong number of images, a non-integer stamp, an unusable image
                (naming its view), a ``behind`` that is not an integer >= 0.
            RuntimeError: the pipeline is closed or has no detector.
        """
        self._check_open("process")
        if self._detector is None:
            raise RuntimeError("HandPosePipeline.process: this pipeline has no detector; feed detections "
                               "to process_detections instead")
        self._check_views("images", images)
        check_number("behind", behind, integer=True, low=0)
        started = time.perf_counter()
        self._follow_time(stamp_ns)
        present = tuple(image is not None for image in images)
        shapes = [image.shape if image is not None else (c.height, c.width) for image, c in zip(images, self.rig.cameras)]
        shed: set[int] = set()
        if self._guided is not None:
            mode = self._guided.config.shed_views
            if mode == "always" or (mode == "auto" and behind > 0):
                shed = self._guided.views_to_shed(images)
                # From here on a view left out is a missing camera (the same-frame search too).
                images = [None if view in shed else image for view, image in enumerate(images)]
            detections = self._guided.detect(list(images), stamp_ns / NS_PER_S)
        else:
            detections = self._detector.detect(list(images))
        detect_ms = 1e3 * (time.perf_counter() - started)
        usable, problems = self._usable_depths(depths, shapes)
        return self._fuse(detections, present, stamp_ns, started, detect_ms, fit_meshes, usable, problems,
                          tuple(view in shed for view in range(len(present))), images)

    def process_detections(
        self, detections: Sequence[Sequence[HandDetection2D] | None], stamp_ns: int, *,
        depths: Sequence[np.ndarray | None] | None = None, fit_meshes: bool = True
    ) -> FrameResult:
        """``process`` from given detections (offline fusion of a detections file): the same
        rules, without the detector.

        Args:
            detections: one sequence of ``HandDetection2D`` per rig camera (None: missing camera).
            depths: as ``process``'s, checked against each rig camera's size.
        """
        self._check_open("process_detections")
        self._check_views("detections", detections)
        started = time.perf_counter()
        self._follow_time(stamp_ns)
        views = [list(view) if view is not None else [] for view in detections]
        present = tuple(view is not None for view in detections)
        usable, problems = self._usable_depths(depths, [(c.height, c.width) for c in self.rig.cameras])
        return self._fuse(views, present, stamp_ns, started, float("nan"), fit_meshes, usable, problems,
                          (False,) * len(views))

    def fit_meshes(self, result: FrameResult) -> FrameResult:
        """``result`` with its hands' meshes and ``timings.mesh_ms`` (unchanged meshes without a
        mesh fitter). Once per result of ``process``, in stamp order: the fitter tracks hands
        in time, so fitting a result drops the unfitted ones before it. It may run on a second
        thread while ``process`` runs the next set (the class docstring); of the results not
        fitted, the latest two are kept (``_MAX_UNFITTED``).

        Raises:
            ValueError: ``result`` is not a kept unfitted result (fitted already, older than
                one fitted, or dropped).
        """
        self._check_open("fit_meshes")
        with self._unfitted_lock:
            index = next((i for i, (r, _, _) in enumerate(self._unfitted) if r is result), None)
            if index is None:
                raise ValueError(f"fit_meshes: expected one of the latest results of process() not yet fitted, got "
                                 f"the result of stamp {result.stamp_ns} ns (latest processed: {self._last_stamp_ns} ns)")
            _, detector_hands, resets = self._unfitted[index]
            del self._unfitted[: index + 1]
        with self._fitter_lock:
            # Without a fitter, or reset since (time went back): the result as it is.
            if self._mesh_fitter is None or resets != self._resets:
                return result
            started = time.perf_counter()
            # The fitter's hand models are placed on MediaPipe's keypoints (docs/mesh.md).
            meshes = tuple(self._mesh_fitter.fit(detector_hands, result.stamp_ns / NS_PER_S))
            mesh_ms = 1e3 * (time.perf_counter() - started)
        timings = dataclasses.replace(result.timings, mesh_ms=mesh_ms, total_ms=result.timings.total_ms + mesh_ms)
        return dataclasses.replace(result, meshes=meshes, timings=timings)

    def hand_states(self, result: FrameResult) -> list[HandState]:
        """Robot-facing signals of ``result``'s hands (pinch, aperture, curl, pointing ray, palm
        normal, speed; ``hand_pose_ros.handstate``), one ``HandState`` per hand. The estimator
        keeps each track's history (pinch hysteresis, speed): call it for consecutive frames,
        and ``reset_hand_states`` after a gap."""
        self._check_open("hand_states")
        return self._hand_state.update(result.hands, result.stamp_ns)

    def calibration_report(self) -> MonitorReport:
        """Per camera, the median reprojection error (px) of the fused hands against that
        camera's detections over recent frames, and a warning for a camera whose error stays
        well above the others' (it probably moved: ``hand-pose-ros calibrate hands``)."""
        return self._monitor.report()

    def reset_hand_states(self) -> None:
        """Forget the hand-state history (e.g. when nobody consumed the states for a while)."""
        self._hand_state.reset()

    # --- helpers ----------------------------------------------------------------------------------
    def _check_open(self, what: str) -> None:
        if self._closed:
            raise RuntimeError(f"HandPosePipeline.{what}: the pipeline is closed")

    def _check_views(self, name: str, views: Sequence[Any]) -> None:
        if isinstance(views, np.ndarray) or len(views) != len(self.rig):
            got = f"an array of shape {views.shape}" if isinstance(views, np.ndarray) else f"{len(views)}"
            raise ValueError(f"{name}: expected one per rig camera ({len(self.rig)}: {self.rig.names}), got {got}")

    def _usable_depths(
        self, depths: Sequence[np.ndarray | None] | None, shapes: Sequence[tuple[int, ...]]
    ) -> tuple[list[np.ndarray | None] | None, dict[str, str]]:
        """Per camera the depth map that passes ``check_depth`` against ``shapes`` (else None),
        and camera name → the reason for each one dropped."""
        if depths is None:
            return None, {}
        self._check_views("depths", depths)
        usable: list[np.ndarray | None] = []
        problems: dict[str, str] = {}
        for depth, shape, name in zip(depths, shapes, self.rig.names):
            if depth is not None:
                try:
                    check_depth(depth, shape, view=name)
                except DepthMapError as exc:
                    problems[name] = exc.reason
                    LOG.debug("camera %s: depth dropped for this frame: %s", name, exc)
                    depth = None
            usable.append(depth)
        return usable, problems

    def _follow_time(self, stamp_ns: int) -> None:
        """Check the stamp; reset every track when it is earlier than the last one (a restart)."""
        if isinstance(stamp_ns, bool) or not isinstance(stamp_ns, numbers.Integral):
            raise ValueError(f"stamp_ns: expected an integer number of nanoseconds, got {stamp_ns!r} "
                             f"({type(stamp_ns).__name__}; seconds s → round(s * 1e9))")
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            LOG.info("time went back (%d ns → %d ns): detector, fusion and mesh tracks reset",
                     self._last_stamp_ns, stamp_ns)
            self.reset()
        self._last_stamp_ns = int(stamp_ns)

    def _fuse(
        self,
        detections: Sequence[Sequence[HandDetection2D]],
        present: tuple[bool, ...],
        stamp_ns: int,
        started: float,
        detect_ms: float,
        fit_meshes: bool,
        depths: list[np.ndarray | None] | None,
        depth_problems: dict[str, str],
        views_shed: tuple[bool, ...],
        images: Sequence[np.ndarray | None] | None = None,
    ) -> FrameResult:
        fuse_start = time.perf_counter()
        stamp = stamp_ns / NS_PER_S
        # A one-camera rig has no other view to search.
        second_look = (self._guided is not None and images is not None and len(self.rig) > 1
                       and self._guided.config.search_same_frame)
        # The tracks before this frame: a second look re-fuses the frame from them.
        checkpoint = self._fusion.checkpoint() if second_look else None
        detector_hands = tuple(self._fusion.process(detections, stamp, depths=depths))
        if second_look:
            search_start = time.perf_counter()
            found = self._guided.search_now(images, detector_hands, detections)
            if found is not None and any(found):
                detections = [list(view) + list(extra) for view, extra in zip(detections, found)]
                self._fusion.restore(checkpoint)
                detector_hands = tuple(self._fusion.process(detections, stamp, depths=depths))
            # The palm search (and the fusion again) count as detection time, not fusion time.
            searched_s = time.perf_counter() - search_start
            detect_ms += 1e3 * searched_s
            fuse_start += searched_s
            # The second look replaces the next frame's searches.
            self._guided.update(detector_hands, stamp, detections, plan_searches=False)
        elif self._guided is not None:
            self._guided.update(detector_hands, stamp, detections)
        self._monitor.update(detector_hands, detections)
        definition = self._fusion.config.keypoint_definition
        hands = detector_hands if definition == "mediapipe" else tuple(to_mano(detector_hands))
        world_T_wrist = wrist_poses(np.stack([h.keypoints_3d for h in hands]) if hands else np.zeros((0, NUM_KEYPOINTS, 3)),
                                    np.array([int(h.handedness) for h in hands], int))  # (H, 4, 4), one batched call
        end = time.perf_counter()
        result = FrameResult(
            stamp_ns=int(stamp_ns),
            views_present=present,
            views_shed=views_shed,
            detections=tuple(tuple(view) for view in detections),
            hands=hands,
            world_T_wrist=world_T_wrist,
            timings=StageTimings(detect_ms=detect_ms, fuse_ms=1e3 * (end - fuse_start), mesh_ms=float("nan"),
                                 total_ms=1e3 * (end - started)),
            keypoint_definition=definition,
            depth_problems=depth_problems,
        )
        with self._unfitted_lock:
            self._unfitted = [*self._unfitted, (result, detector_hands, self._resets)][-_MAX_UNFITTED:]
        return self.fit_meshes(result) if fit_meshes else result

    # --- calibration at run time (intrinsics from CameraInfo) ---------------------------------
    def set_rig(self, rig: Rig) -> None:
        """Use ``rig`` (the same cameras in the same order, e.g. with intrinsics from a new
        CameraInfo) from the next set on; call between sets. The fusion's per-camera data
        (camera arrays, essential matrices), the 3D feedback's cameras and the reprojection
        monitor are rebuilt; the fusion's and the detector's tracks and settings are kept.

        Raises:
            ValueError: ``rig`` has other cameras, another order or a camera without intrinsics.
            RuntimeError: the pipeline is closed.
        """
        self._check_open("set_rig")
        if rig.names != self.rig.names:
            raise ValueError(f"set_rig: expected the cameras {self.rig.names}, got {rig.names}")
        missing = [c.name for c in rig.cameras if not c.has_intrinsics]
        if missing:
            raise ValueError(f"set_rig: cameras {missing} have no intrinsics")
        fusion = MultiViewFusion(rig, self._fusion.config)
        fusion.tracker = self._fusion.tracker
        self.rig, self._fusion = rig, fusion
        # The feedback and the monitor project into the cameras: they take the new ones too
        # (the detector keeps its tracks; the next frame has no fed-back crops yet).
        if self._guided is not None:
            from hand_pose_ros.detection.guidance import GuidedDetector

            self._guided = GuidedDetector(self._detector, rig, self._guided.config)
        self._monitor = ReprojectionMonitor(rig, self._monitor.config)
