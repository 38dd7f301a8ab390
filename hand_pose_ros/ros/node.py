"""``hand_pose_node``: synchronised camera images → one batched detector call → fused 3D hands.

A thin shell: callbacks convert messages and hand off; the synchroniser (``sync``) makes
sets; a latest-wins worker (``worker``) hands each set to the ROS-free ``HandPosePipeline``
(detector and fusion) and publishes ``/hands/pose`` (HandPoseArray) and, while subscribed, the
pipeline's hand states on ``/hands/state`` (HandStateArray); a second, in-order stage then
has the pipeline fit the hand meshes (``/hands/meshes``, HandMeshArray) and publishes
``/hands/markers`` (skeleton and mesh), optional overlays and wrist TF, while the first
stage already runs the next set's networks; ``/diagnostics`` reports per-camera
health, sync drops, latency and the active backend. Cameras with a ``cameras.depth_topics``
entry also hand their aligned depth to the pipeline (``depth_input``). No maths here, and no rules between
frames: those live in ``hand_pose_ros.pipeline``. The library's ``logging`` records reach
/rosout through ``log_bridge``.

Every subscription and timer callback the node creates runs behind the callback boundary,
and every subscription and publisher reports incompatible QoS (``guard.GuardedEndpoints``).
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray
from diagnostic_msgs.msg import DiagnosticArray

from hand_pose_ros.pipeline import FrameResult
from hand_pose_ros.msg import HandMeshArray, HandPoseArray, HandStateArray
from hand_pose_ros.ros import cdr, input_checks
from hand_pose_ros.ros.conversions import (
    hands_to_array_msg,
    ns_to_stamp,
    transform_to_matrix,
    wrist_transforms,
)
from hand_pose_ros.ros.diagnostics import (
    CameraHealth,
    LatencyStats,
    ProcessingInfo,
    RateMeter,
    StageStats,
    callbacks_status,
    calibration_status,
    diagnostic_array,
    pipeline_status,
)
from hand_pose_ros.ros.depth_input import DepthInputs
from hand_pose_ros.ros.guard import GuardedEndpoints
from hand_pose_ros.ros.image_conversion import (
    ImageConversionError,
    compressed_header,
    compressed_to_rgb,
    image_to_rgb,
    rgb_to_image_bytes,
)
from hand_pose_ros.ros.log_bridge import RosLogBridge
from hand_pose_ros.ros.markers import HandMarkers
from hand_pose_ros.ros.mesh_msgs import MeshMarkerSource, meshes_to_array_msg
from hand_pose_ros.ros.state_msgs import states_to_array_msg
from hand_pose_ros.calibration import Rig
from hand_pose_ros.drawing import draw_detections
from hand_pose_ros.config import NodeConfig
from hand_pose_ros.ros.params import NODE_NAME, declare_parameters, live_parameters_callback
from hand_pose_ros.ros.startup import StartupError, build_pipeline, load_config, rig_with_extrinsics, start_up_rig
from hand_pose_ros.ros.sync import SyncedSet, make_synchronizer
from hand_pose_ros.ros.topics import MARKERS_TOPIC, MESHES_TOPIC, OVERLAY_TOPIC, POSE_TOPIC, STATE_TOPIC
from hand_pose_ros.ros.worker import LatestWinsWorker, SerialStage
from hand_pose_ros.timing import NS_PER_S

__all__ = ["HandPoseNode", "main", "StartupError"]

LOG_THROTTLE_S = 2.0  # one warning per camera per 2 s, whatever the input rate
MIN_TIMER_NS = 100_000  # a deadline already passed fires at the executor's next round, 0.1 ms on
# Ctrl-C reaches Python only when the executor returns: it waits at most this long (s). The
# events executor's spin() busy-waits in rclpy 9.1 (a core at 100 % with nothing to do).
SPIN_WAKE_S = 0.5
# Python's GIL switch interval in the node's process (s; see main): 5 ms → 0.5 ms gave the
# pipeline's median set 8–18 % shorter under load (docs/benchmarks.md, ninth round).
GIL_SWITCH_INTERVAL_S = 0.0005
# The worker counts as behind its input while it skipped a set this recently (s): the signal for
# guidance.shed_views "auto", long enough that shedding, once it lets the worker keep up, goes
# on for a second's sets instead of stopping at the first set that was not skipped.
BEHIND_WINDOW_S = 1.0


class HandPoseNode(GuardedEndpoints, Node):
    """The multi-view hand pose node (see the module docstring)."""

    # Spun by rclpy's EventsExecutor where rclpy has it (``make_executor``): this node makes its
    # endpoints once and keeps them until it is destroyed.
    EVENTS_EXECUTOR = True

    def __init__(self, **kwargs: Any) -> None:
        # Overrides are declared automatically so that unknown names can be reported.
        super().__init__(NODE_NAME, automatically_declare_parameters_from_overrides=True, **kwargs)
        self._configure()
        self._activate()

    def _configure(self) -> None:
        """Parameters → config and rig, the warmed-up pipeline and the per-camera state (also
        the managed node's ``configure``, ``lifecycle_node``)."""
        self.config, self.rig = load_config(declare_parameters(self))
        if self.config.extrinsics.source == "tf":
            self.rig = self._rig_from_tf()
        self._log_bridge = RosLogBridge(self.get_logger()).install()
        try:
            # Cameras whose intrinsics are still to come from CameraInfo start with placeholders.
            self._pipeline = build_pipeline(self.config, start_up_rig(self.rig))  # warmed up
        except BaseException:
            self._log_bridge.remove()
            raise
        detector = self._pipeline.detector
        self._backend, self._device = detector.backend_name, detector.device
        cfg = self.config
        from_info = cfg.intrinsics.source == "camera_info"
        self._health = [CameraHealth(c.name, c.image_topic, c.camera_info_topic, waiting_for_camera_info=from_info) for c in cfg.cameras.inputs]
        self._pipeline_rig = self.rig  # the rig the pipeline was last given (worker thread)
        self._sync = make_synchronizer(cfg.sync)
        # Aligned depth rides along with the colour sets (never holds one back): ``depth_input``.
        self._depth = (
            DepthInputs(cfg.cameras.inputs, cfg.sync, lambda text: self.get_logger().warning(text, throttle_duration_sec=LOG_THROTTLE_S))
            if any(c.depth_topic for c in cfg.cameras.inputs)
            else None
        )
        self._latency = LatencyStats()
        self._stages = StageStats()
        self._output = RateMeter()
        self._last_error = ""
        self._last_error_time = float("-inf")  # monotonic s of _last_error
        has_meshes = self._pipeline.mesh_fitter is not None
        self._mesh_markers = MeshMarkerSource() if has_meshes else None
        self._markers = HandMarkers(extra=[self._mesh_markers] if self._mesh_markers is not None else ())
        self._next_mesh_marker_s = float("-inf")  # monotonic s; worker thread only

    def _activate(self) -> None:
        """Publishers, subscriptions, the worker and the timers (also the managed node's ``activate``)."""
        cfg = self.config
        has_meshes = self._pipeline.mesh_fitter is not None
        self._pose_pub = self.create_publisher(HandPoseArray, POSE_TOPIC, 10)
        self._marker_pub = self.create_publisher(MarkerArray, MARKERS_TOPIC, 10) if cfg.publish.markers else None
        self._mesh_pub = (
            self.create_publisher(HandMeshArray, MESHES_TOPIC, 10)
            if cfg.publish.meshes and has_meshes
            else None
        )
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # Hand states (pinch, pointing, ...) are computed only while /hands/state has a subscriber.
        self._state_pub = self.create_publisher(HandStateArray, STATE_TOPIC, 10)
        self._state_subscribed = False  # worker thread only
        self._overlay_pubs = (
            [self.create_publisher(Image, OVERLAY_TOPIC.format(camera=c.name), 2) for c in cfg.cameras.inputs]
            if cfg.publish.overlays
            else None
        )
        self._tf = None
        if cfg.publish.tf:
            from tf2_ros import TransformBroadcaster  # checked importable by load_config

            self._tf = TransformBroadcaster(self)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=cfg.qos.depth,
            reliability=ReliabilityPolicy.RELIABLE if cfg.qos.reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        )
        image_type = CompressedImage if cfg.cameras.compressed else Image
        for index, camera in enumerate(cfg.cameras.inputs):
            # raw=True: the callback gets the serialised bytes, parsed in place (no message object).
            self.create_subscription(image_type, camera.image_topic, lambda m, i=index: self._on_image(i, m), qos, raw=True)
            self.create_subscription(CameraInfo, camera.camera_info_topic, lambda m, i=index: self._on_info(i, m), qos)
            if camera.depth_topic:
                self.create_subscription(Image, camera.depth_topic, lambda m, i=index: self._on_depth(i, m), qos, raw=True)
        # Two stages: poses on the first, meshes and views on the second, which finishes each
        # set in order (none dropped) while the first runs the next set's detector.
        self._worker: LatestWinsWorker[SyncedSet] = LatestWinsWorker(
            self._process_set, self._on_process_error, "hand_pose_worker",
            then=SerialStage(self._finish_set, self._on_process_error, "hand_pose_outputs"))
        # Partial sets leave at their deadline: a one-shot timer armed on every arrival for the
        # earliest pending deadline (see _poll_sync), not a polling period that caps the rate.
        self._partial_timer = self.create_timer(cfg.sync.partial_timeout or 1.0, self._poll_sync)
        self._partial_timer.cancel()
        self._partial_grace = False  # the timer fired once at the deadline; executor thread only
        self._armed_deadline: float | None = None  # the sync deadline the timer is armed for; executor thread only
        self._diagnostics_timer = self.create_timer(cfg.publish.diagnostics_period, self._publish_diagnostics)
        self.get_logger().info(
            f"{len(cfg.cameras.inputs)} cameras {[c.name for c in cfg.cameras.inputs]}, detector {self._backend} "
            f"on {self._device}, mesh {cfg.mesh.model}, world frame {cfg.world_frame!r}"
        )
        # Registered last: a change can only be applied to a node that has started.
        self._parameters_callback = live_parameters_callback(self, lambda: self.config, self._apply_live_parameters)
        self.add_on_set_parameters_callback(self._parameters_callback)

    def _apply_live_parameters(self, new: NodeConfig) -> None:
        """Apply a validated change of ``config.LIVE_PARAMETERS`` (executor thread).

        The fusion's filter settings apply to tracks started after the change (a running
        track keeps its filter state); optional publishers are created or destroyed.
        """
        old, self.config = self.config, new
        if new.fusion != old.fusion:
            fusion = self._pipeline.fusion
            fusion.config = fusion.tracker.config = new.fusion
        if new.publish.diagnostics_period != old.publish.diagnostics_period:
            self._diagnostics_timer.timer_period_ns = round(new.publish.diagnostics_period * NS_PER_S)
        if new.publish.markers != old.publish.markers:
            self._marker_pub = self._swap_publisher(self._marker_pub, new.publish.markers, MarkerArray, MARKERS_TOPIC, 10)
        if new.publish.meshes != old.publish.meshes and self._pipeline.mesh_fitter is not None:
            self._mesh_pub = self._swap_publisher(self._mesh_pub, new.publish.meshes, HandMeshArray, MESHES_TOPIC, 10)
        if new.publish.overlays != old.publish.overlays:
            pubs, self._overlay_pubs = self._overlay_pubs, None
            for pub in pubs or ():
                self.destroy_publisher(pub)
            if new.publish.overlays:
                self._overlay_pubs = [self.create_publisher(Image, OVERLAY_TOPIC.format(camera=c.name), 2) for c in new.cameras.inputs]

    def _swap_publisher(self, old: Any, wanted: bool, msg_type: Any, topic: str, depth: int) -> Any:
        """A publisher on ``topic`` when ``wanted`` (``old`` destroyed when not), else None."""
        if not wanted:
            if old is not None:
                self.destroy_publisher(old)
            return None
        return old if old is not None else self.create_publisher(msg_type, topic, depth)

    def _rig_from_tf(self) -> Any:
        """The calibration's cameras posed by TF (world <- each camera's optical frame).

        Cameras are static: each transform is looked up once, waiting up to
        ``extrinsics.tf_timeout`` in total (this runs before the node joins an executor, so it
        spins itself to receive /tf_static).
        """
        import tf2_ros  # checked importable by load_config
        from rclpy.time import Time

        buffer = tf2_ros.Buffer()
        self._tf_listener = tf2_ros.TransformListener(buffer, self)
        deadline = time.monotonic() + self.config.extrinsics.tf_timeout

        def lookup(world_frame: str, camera_frame: str) -> np.ndarray | None:
            while True:
                try:
                    return transform_to_matrix(buffer.lookup_transform(world_frame, camera_frame, Time()).transform)
                except tf2_ros.TransformException:
                    if time.monotonic() > deadline:
                        return None
                    rclpy.spin_once(self, timeout_sec=0.1)

        rig = rig_with_extrinsics(self.rig, lookup)
        self.get_logger().info(f"camera poses from TF in {rig.world_frame!r}: {rig.names}")
        return rig

    # --- callbacks: convert and hand off --------------------------------------------------
    def _on_image(self, index: int, raw: bytes) -> None:
        """One serialised Image or CompressedImage: parsed as a view of ``raw``, checked, queued."""
        now = time.monotonic()
        health = self._health[index]
        health.images.tick(now)
        if health.waiting_for_camera_info:  # intrinsics from CameraInfo, none yet: held out of sets
            return
        where = f"camera {health.name!r} ({health.image_topic})"
        try:
            calibration = self.rig[index]
            compressed = self.config.cameras.compressed
            msg = cdr.parse_compressed_image(raw, where) if compressed else cdr.parse_image(raw, where)
            stamp_ns = msg.stamp_ns
            if self._depth is not None:  # depth from another time is told by this, even if the image is refused
                self._depth.colour(index, stamp_ns)
            input_checks.check_stamp(stamp_ns, self.get_clock().now().nanoseconds, where)
            # Size first: a huge or mis-sized image is refused before its data is touched
            # (a compressed one from its JPEG/PNG header, before decoding).
            if compressed:
                header = compressed_header(msg, where)
                input_checks.check_image_size(header.width, header.height, calibration, where)
                rgb = compressed_to_rgb(msg, where)
            else:
                input_checks.check_image_size(msg.width, msg.height, calibration, where)
                # A view of ``raw`` for rgb8 (read-only; the pipeline never writes its inputs).
                rgb = image_to_rgb(msg, where, use_cv_bridge=False)
            ready = self._sync.add(index, stamp_ns, rgb, now)
        except (ImageConversionError, ValueError) as exc:
            health.reject(str(exc) if where in str(exc) else f"{where}: {exc}", now)
            self.get_logger().warning(health.last_error, throttle_duration_sec=LOG_THROTTLE_S)
            return
        if ready is not None:
            self._worker.submit(ready)
        self._arm_partial_timer(now)

    def _on_depth(self, index: int, raw: bytes) -> None:
        """One serialised aligned depth Image: checked, converted and queued for its camera's set
        (``depth_input``; a refusal goes to the camera's depth status, never to its colour path)."""
        if self._health[index].waiting_for_camera_info:  # its size is not known yet
            return
        self._depth.on_message(index, raw, self.rig[index], self.get_clock().now().nanoseconds, time.monotonic())

    def _on_info(self, index: int, msg: CameraInfo) -> None:
        health = self._health[index]
        health.camera_info_received += 1
        if self.config.intrinsics.source == "camera_info":
            health.camera_info_error = self._take_intrinsics(index, msg)
        else:
            health.camera_info_error = input_checks.camera_info_problem(msg, self.rig[index])
        if health.camera_info_error:
            health.camera_info_rejected += 1
            self.get_logger().warning(
                f"camera {health.name!r} ({health.camera_info_topic}): {health.camera_info_error}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )

    def _take_intrinsics(self, index: int, msg: CameraInfo) -> str:
        """Camera ``index``'s intrinsics from ``msg`` (``intrinsics.source: camera_info``): a first
        or changed one replaces the node's rig (the worker hands it to the pipeline between
        sets, ``_process_set``) and is logged. Returns the CameraInfo's problem, "" if none."""
        health, old = self._health[index], self.rig[index]
        try:
            new = input_checks.calibration_from_camera_info(msg, old)
        except ValueError as exc:
            return str(exc)
        if health.waiting_for_camera_info or not new.same_intrinsics(old):
            cameras = list(self.rig.cameras)
            cameras[index] = new
            self.rig = Rig(cameras=tuple(cameras), world_frame=self.rig.world_frame)
            health.intrinsics = new.describe_intrinsics()
            what = "intrinsics from CameraInfo" if health.waiting_for_camera_info else "CameraInfo changed, intrinsics now"
            self.get_logger().info(f"camera {health.name!r} ({health.camera_info_topic}): {what} {health.intrinsics}")
            health.waiting_for_camera_info = False
        return ""

    def _process_set(self, synced: SyncedSet) -> tuple[Any, ...]:
        """The worker's job: the node's latest rig to the pipeline when it changed, then the set
        (its second stage's part returned, ``_finish_set``)."""
        rig = self.rig  # replaced whole by the executor thread; read once
        if rig is not self._pipeline_rig:
            self._pipeline.set_rig(start_up_rig(rig))
            self._pipeline_rig = rig
        return self._process(synced)

    def _poll_sync(self) -> None:
        """The partial-set timer: at a deadline, first one more executor round (images already
        received are handed to their callbacks before this timer fires again), then every due set."""
        now = time.monotonic()
        self._armed_deadline = None  # the timer fired: armed anew whatever the deadline
        if not self._partial_grace:
            self._partial_grace = True
            self._arm_partial_timer(now, MIN_TIMER_NS)
            return
        self._partial_grace = False
        for ready in self._sync.poll_all(now):
            self._worker.submit(ready)
        self._arm_partial_timer(now)

    def _arm_partial_timer(self, now: float, delay_ns: int | None = None) -> None:
        """Arm the one-shot timer for the earliest pending deadline (or ``delay_ns``); executor thread.

        Only when that deadline changed: a timer's reset wakes the executor once more (rcl
        triggers the timer's guard condition), so re-arming it on every image of a set cost a
        whole extra wait-set round per image for the same deadline.
        """
        deadline = self._sync.next_deadline()
        if delay_ns is None and deadline == self._armed_deadline:
            return
        self._armed_deadline = deadline
        if deadline is None:
            self._partial_timer.cancel()
            self._partial_grace = False
            return
        if delay_ns is None:
            delay_ns = round((deadline - now) * NS_PER_S)
            if delay_ns > 0:
                self._partial_grace = False
        self._partial_timer.timer_period_ns = max(delay_ns, MIN_TIMER_NS)
        self._partial_timer.reset()

    # --- worker threads ---------------------------------------------------------------------
    def _process(self, synced: SyncedSet) -> tuple[Any, ...]:
        """First stage: the pipeline and the poses → the second stage's arguments (``_finish_set``)."""
        depths = self._depth.for_set(synced.stamps_ns, time.monotonic()) if self._depth is not None else None
        # Behind: sets the worker skipped lately (guidance.shed_views "auto" sheds views then).
        behind = self._worker.skipped_since(time.monotonic() - BEHIND_WINDOW_S)
        result = self._pipeline.process(synced.items, synced.stamp_ns, depths=depths, fit_meshes=False, behind=behind)
        if self._depth is not None:
            self._depth.after_set(synced.stamps_ns, depths, result.depth_problems, time.monotonic())
        self._publish_poses(synced, result)
        # Outputs cost what is consumed: each is built only while someone subscribes, and the
        # mesh fit runs only for a /hands/meshes subscriber or a mesh marker that is due.
        # Publishers read once: a live parameter may swap them from the executor thread meanwhile.
        mesh_pub, marker_pub = _if_subscribed(self._mesh_pub), _if_subscribed(self._marker_pub)
        mesh_marker_due = marker_pub is not None and self._mesh_markers is not None and self._mesh_marker_due(time.monotonic())
        return synced, result, mesh_pub, marker_pub, mesh_marker_due

    def _finish_set(self, job: tuple[Any, ...]) -> None:
        """Second stage, in set order: the mesh fit where consumed, meshes, markers, overlays, TF
        (after the poses, so fitting never delays /hands/pose), then the set's stage timings."""
        synced, result, mesh_pub, marker_pub, mesh_marker_due = job
        if mesh_pub is not None or mesh_marker_due:
            result = self._pipeline.fit_meshes(result)
        self._publish_meshes_and_views(synced, result, mesh_pub, marker_pub, mesh_marker_due)
        self._stages.add(result.timings, sum(result.views_shed))

    def _mesh_marker_due(self, now: float) -> bool:
        """Whether this set's markers carry the meshes (``publish.mesh_marker_rate_hz``; worker thread)."""
        rate = self.config.publish.mesh_marker_rate_hz
        if rate == 0:
            return True
        if now < self._next_mesh_marker_s:
            return False
        # On a grid of 1/rate, so that a 30 Hz input gives 10 Hz (not 7.5) at a 10 Hz limit.
        step = self._next_mesh_marker_s + 1 / rate
        self._next_mesh_marker_s = step if step > now else now + 1 / rate
        return True

    def _publish_poses(self, synced: SyncedSet, result: FrameResult) -> None:
        latency = (self.get_clock().now().nanoseconds - synced.stamp_ns) / NS_PER_S
        self._pose_pub.publish(
            hands_to_array_msg(
                result.hands,
                stamp_ns=synced.stamp_ns,
                world_frame=self.config.world_frame,
                camera_frame_ids=[c.frame_id for c in self.rig.cameras],
                camera_stamps_ns=synced.stamps_ns,
                sync_spread=synced.spread_s,
                latency=latency,
                world_T_wrist=result.world_T_wrist,
                keypoint_definition=result.keypoint_definition,
            )
        )
        self._publish_state(result)
        self._latency.add(latency)
        self._output.tick(time.monotonic())
        self._last_error = ""

    def _publish_meshes_and_views(
        self, synced: SyncedSet, result: FrameResult, mesh_pub: Any, marker_pub: Any, mesh_marker: bool
    ) -> None:
        """The optional outputs of one set; ``mesh_pub``/``marker_pub``: their publishers where
        subscribed (else None), ``mesh_marker``: the markers carry the meshes (``result`` is then fitted)."""
        header = Header(stamp=ns_to_stamp(synced.stamp_ns), frame_id=self.config.world_frame)
        if mesh_pub is not None:
            mesh_pub.publish(meshes_to_array_msg(result.meshes, header))
        if marker_pub is not None:
            if mesh_marker:
                self._mesh_markers.update(result.meshes)
            marker_pub.publish(self._markers.update(result.hands, header, extra=mesh_marker))
        for i, pub in enumerate(self._overlay_pubs or ()):
            rgb = synced.items[i]
            if rgb is None or _if_subscribed(pub) is None:
                continue
            overlay = draw_detections(rgb, result.detections[i], self.config.cameras.inputs[i].name)
            pub.publish(rgb_to_image_bytes(overlay, Header(stamp=ns_to_stamp(synced.stamps_ns[i]), frame_id=self.rig[i].frame_id)))
        if self._tf is not None:
            self._tf.sendTransform(wrist_transforms(result.hands, result.world_T_wrist, header))

    def _publish_state(self, result: FrameResult) -> None:
        """/hands/state with the pose message's header, only while subscribed; the history restarts
        with each first subscriber (a state from before the gap would be stale)."""
        subscribed = self._state_pub.get_subscription_count() > 0
        if subscribed != self._state_subscribed:
            self._state_subscribed = subscribed
            self._pipeline.reset_hand_states()
            self.get_logger().info(f"/{STATE_TOPIC}: " + ("subscribed, computing hand states" if subscribed else "no subscribers, hand states not computed"))
        if subscribed:
            header = Header(stamp=ns_to_stamp(result.stamp_ns), frame_id=self.config.world_frame)
            self._state_pub.publish(states_to_array_msg(self._pipeline.hand_states(result), header))

    def _on_process_error(self, exc: BaseException) -> None:
        self._last_error = f"processing failed: {type(exc).__name__}: {exc}"
        self._last_error_time = time.monotonic()

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        sync = self._sync
        info = ProcessingInfo(
            backend=str(self._backend),
            device=str(self._device),
            sets_processed=self._worker.processed,
            sets_skipped=self._worker.skipped,
            errors=self._worker.errors + self._worker.then.errors,
            last_error=self._last_error,
            output_rate_hz=self._output.rate(now),
            latency=self._latency,
            last_error_time=self._last_error_time,
        )
        extra = [
            callbacks_status(NODE_NAME, now, self.callback_errors),
            self.qos_events.status(NODE_NAME, now),
            pipeline_status(NODE_NAME, self._stages),
            calibration_status(NODE_NAME, self._pipeline.calibration_report()),
            *(self._depth.statuses(NODE_NAME, now) if self._depth is not None else ()),
        ]
        self._diag_pub.publish(
            diagnostic_array(NODE_NAME, now, self.get_clock().now().to_msg(), self._health, sync.counts(), info, extra)
        )

    def destroy_node(self) -> None:
        self._worker.stop()
        self._pipeline.close()
        self._log_bridge.remove()
        super().destroy_node()


def _if_subscribed(publisher: Any) -> Any:
    """An optional output's publisher (None when switched off) if it has a subscriber now, else None."""
    return publisher if publisher is not None and publisher.get_subscription_count() > 0 else None


def main(argv: Sequence[str] | None = None, node_class: type[HandPoseNode] | None = None) -> int:
    """Console entry point (``hand_pose_node``; ``node_class``: the managed node's, see
    ``lifecycle_node``); returns 2 when start-up is refused."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Ctrl-C is handled here, not by rclpy's handler, so the worker stops before the context.
    rclpy.init(args=list(sys.argv if argv is None else argv), signal_handler_options=SignalHandlerOptions.NO)
    # The worker's set is the critical path: between its network calls it needs the GIL, which
    # the executor, the output stage or a descheduled holder keep up to the switch interval
    # (5 ms by default) before being made to drop it.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    node_class = node_class or HandPoseNode
    executor = make_executor(events=node_class.EVENTS_EXECUTOR)
    node = None
    try:
        node = node_class()
        node.get_logger().info(f"executor: {type(executor).__name__}")
        executor.add_node(node)
        while rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_WAKE_S)
    except StartupError as exc:
        log = rclpy.logging.get_logger(NODE_NAME)
        for problem in exc.problems:
            log.error(f"invalid configuration: {problem}")
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0


def make_executor(events: bool = True) -> Any:
    """rclpy's EventsExecutor where this rclpy has it (9.1, Kilted's, does) and ``events``, else
    SingleThreadedExecutor.

    The events executor takes each message from a callback of the middleware, in C++: no wait
    set rebuilt in Python per round (at 4 cameras 8 subscriptions, 7 parameter services, 2
    timers and 28 QoS event handlers). Measured over DDS: the executor thread's CPU per
    640×480 image 0.89 → 0.54 ms (docs/benchmarks.md, ninth round). Newer rclpy than 9.1 has
    it install SIGINT/SIGTERM handlers that shut the context down at once; Python's are put
    back, so that Ctrl-C still stops the worker before the context (``main``).
    """
    from rclpy.executors import SingleThreadedExecutor

    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:  # an older rclpy
        events = False
    if not events:
        return SingleThreadedExecutor()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    executor = EventsExecutor()
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    return executor


if __name__ == "__main__":
    sys.exit(main())
