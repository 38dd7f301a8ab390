"""``hand_pose_node``: synchronised camera images → one batched detector call → fused 3D hands.

A thin shell: callbacks convert messages and hand off; the synchroniser (``sync``) makes
sets; a latest-wins worker (``worker``) runs the detector and fusion and publishes
``/hands/pose`` (HandPoseArray) and, while subscribed, ``/hands/state`` (HandStateArray),
then fits hand meshes (``/hands/meshes``, HandMeshArray) and publishes ``/hands/markers``
(skeleton and mesh), optional overlays and wrist TF; ``/diagnostics`` reports per-camera
health, sync drops, latency and the active backend. No maths here: that lives in the
ROS-free detection, fusion, handstate and mesh packages.
"""

from __future__ import annotations

import logging
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

from hand_pose_ros.handstate import HandStateConfig, HandStateEstimator
from hand_pose_ros.msg import HandMeshArray, HandPoseArray, HandStateArray
from hand_pose_ros.ros import input_checks
from hand_pose_ros.ros.conversions import (
    hands_to_array_msg,
    ns_to_stamp,
    stamp_to_ns,
    transform_to_matrix,
    wrist_transforms,
)
from hand_pose_ros.ros.diagnostics import CameraHealth, LatencyStats, ProcessingInfo, RateMeter, diagnostic_array
from hand_pose_ros.ros.image_conversion import ImageConversionError, compressed_to_rgb, image_to_rgb, rgb_to_image_fields
from hand_pose_ros.ros.markers import HandMarkers
from hand_pose_ros.ros.mesh_msgs import MeshMarkerSource, meshes_to_array_msg
from hand_pose_ros.ros.state_msgs import states_to_array_msg
from hand_pose_ros.drawing import draw_detections
from hand_pose_ros.ros.params import NODE_NAME, PARAMETER_DEFAULTS
from hand_pose_ros.ros.startup import StartupError, build_pipeline, load_config, rig_with_extrinsics
from hand_pose_ros.ros.sync import SyncedSet, make_synchronizer
from hand_pose_ros.ros.worker import LatestWinsWorker

__all__ = ["HandPoseNode", "main", "POSE_TOPIC", "MARKERS_TOPIC", "MESHES_TOPIC", "STATE_TOPIC", "StartupError"]

POSE_TOPIC = "hands/pose"
MARKERS_TOPIC = "hands/markers"
MESHES_TOPIC = "hands/meshes"
STATE_TOPIC = "hands/state"
OVERLAY_TOPIC = "hands/debug/{camera}/image_raw"
LOG_THROTTLE_S = 2.0  # one warning per camera per 2 s, whatever the input rate


class HandPoseNode(Node):
    """The multi-view hand pose node (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, automatically_declare_parameters_from_overrides=True, **kwargs)
        for name, default in PARAMETER_DEFAULTS.items():
            if not self.has_parameter(name):
                self.declare_parameter(name, default)
        params = {n: p.value for n, p in self.get_parameters_by_prefix("").items()}
        self.config, self.rig = load_config(params)
        if self.config.extrinsics_source == "tf":
            self.rig = self._rig_from_tf()
        pipeline = build_pipeline(self.config, self.rig)
        self._detector, self._fusion, self._wrist_pose = pipeline.detector, pipeline.fusion, pipeline.wrist_pose
        self._mesh_fitter = pipeline.mesh_fitter
        self._warm_up()
        cfg = self.config
        self._health = [CameraHealth(c.name, c.image_topic, c.camera_info_topic) for c in cfg.cameras]
        self._sync = make_synchronizer(cfg.sync)
        self._latency = LatencyStats()
        self._output = RateMeter()
        self._last_error = ""
        self._mesh_markers = MeshMarkerSource() if self._mesh_fitter is not None else None
        self._markers = HandMarkers(extra=[self._mesh_markers] if self._mesh_markers is not None else ())
        self._last_images: list[Any] = [None] * len(cfg.cameras)  # worker thread only
        self._last_set_ns: int | None = None  # worker thread only
        self._pose_pub = self.create_publisher(HandPoseArray, POSE_TOPIC, 10)
        self._marker_pub = self.create_publisher(MarkerArray, MARKERS_TOPIC, 10) if cfg.publish_markers else None
        self._mesh_pub = (
            self.create_publisher(HandMeshArray, MESHES_TOPIC, 10)
            if cfg.publish_meshes and self._mesh_fitter is not None
            else None
        )
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # Hand states (pinch, pointing, ...) are computed only while /hands/state has a subscriber.
        self._state_pub = self.create_publisher(HandStateArray, STATE_TOPIC, 10)
        self._hand_state = HandStateEstimator(HandStateConfig())
        self._state_subscribed = False  # worker thread only
        self._overlay_pubs = (
            [self.create_publisher(Image, OVERLAY_TOPIC.format(camera=c.name), 2) for c in cfg.cameras]
            if cfg.publish_overlays
            else None
        )
        self._tf = None
        if cfg.publish_tf:
            from tf2_ros import TransformBroadcaster  # checked importable by load_config

            self._tf = TransformBroadcaster(self)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=cfg.qos_depth,
            reliability=ReliabilityPolicy.RELIABLE if cfg.reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        )
        image_type = CompressedImage if cfg.compressed else Image
        for index, camera in enumerate(cfg.cameras):
            self.create_subscription(image_type, camera.image_topic, lambda m, i=index: self._on_image(i, m), qos)
            self.create_subscription(CameraInfo, camera.camera_info_topic, lambda m, i=index: self._on_info(i, m), qos)
        self._worker: LatestWinsWorker[SyncedSet] = LatestWinsWorker(self._process, self._on_process_error, "hand_pose_worker")
        if cfg.sync.partial_timeout > 0:
            self.create_timer(cfg.sync.partial_timeout / 2, self._poll_sync)
        self.create_timer(cfg.diagnostics_period, self._publish_diagnostics)
        self.get_logger().info(
            f"{len(cfg.cameras)} cameras {[c.name for c in cfg.cameras]}, detector {self._detector.backend_name} "
            f"on {self._detector.device}, mesh {cfg.mesh.get('model', 'none')}, world frame {cfg.world_frame!r}"
        )

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
        deadline = time.monotonic() + self.config.tf_timeout

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

    def _warm_up(self) -> None:
        """One detector call on black views before subscribing: the first real set is then not
        delayed by lazy initialisation (seconds with torch)."""
        started = time.monotonic()
        self._detector.detect([np.zeros((c.height, c.width, 3), np.uint8) for c in self.rig.cameras])
        self._detector.reset()
        self.get_logger().info(f"detector warmed up in {time.monotonic() - started:.1f} s")

    # --- callbacks: convert and hand off --------------------------------------------------
    def _on_image(self, index: int, msg: Image | CompressedImage) -> None:
        now = time.monotonic()
        health = self._health[index]
        health.images.tick(now)
        where = f"camera {health.name!r} ({health.image_topic})"
        try:
            calibration = self.rig[index]
            if isinstance(msg, CompressedImage):
                rgb = compressed_to_rgb(msg, where)
                input_checks.check_image_size(rgb.shape[1], rgb.shape[0], calibration, where)
            else:
                # Size first: a huge or mis-sized image is refused before touching its data.
                input_checks.check_image_size(msg.width, msg.height, calibration, where)
                rgb = image_to_rgb(msg, where)
            ready = self._sync.add(index, stamp_to_ns(msg.header.stamp), rgb, now)
        except (ImageConversionError, ValueError) as exc:
            health.reject(str(exc) if where in str(exc) else f"{where}: {exc}", now)
            self.get_logger().warning(health.last_error, throttle_duration_sec=LOG_THROTTLE_S)
            return
        if ready is not None:
            self._worker.submit(ready)

    def _on_info(self, index: int, msg: CameraInfo) -> None:
        health = self._health[index]
        health.camera_info_received += 1
        health.camera_info_error = input_checks.camera_info_problem(msg, self.rig[index])
        if health.camera_info_error:
            self.get_logger().warning(
                f"camera {health.name!r} ({health.camera_info_topic}): {health.camera_info_error}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )

    def _poll_sync(self) -> None:
        ready = self._sync.poll(time.monotonic())
        if ready is not None:
            self._worker.submit(ready)

    # --- worker thread ----------------------------------------------------------------------
    def _process(self, synced: SyncedSet) -> None:
        if self._last_set_ns is not None and synced.stamp_ns < self._last_set_ns:
            # The sources restarted (see SyncConfig.time_jump): tracks of the old timeline go.
            self._detector.reset()
            self._fusion.reset()
            if self._mesh_fitter is not None:
                self._mesh_fitter.reset()
            self._last_images = [None] * len(self._last_images)
            self.get_logger().info("time went back: detector and fusion tracks reset")
        self._last_set_ns = synced.stamp_ns
        present = [i for i, item in enumerate(synced.items) if item is not None]
        # The detector keeps tracking state per view index, so every call gets all V views:
        # a camera missing from a partial set is filled with its last image (or black) and
        # its detections are discarded.
        images = [item if item is not None else self._filler(i) for i, item in enumerate(synced.items)]
        for i in present:
            self._last_images[i] = synced.items[i]
        detections = self._detector.detect(images)  # one batched call over all views
        views: list[list[Any]] = [list(detections[i]) if i in present else [] for i in range(len(images))]
        hands = self._fusion.process(views, synced.stamp_ns / 1e9)
        header = Header(stamp=ns_to_stamp(synced.stamp_ns), frame_id=self.config.world_frame)
        latency = (self.get_clock().now().nanoseconds - synced.stamp_ns) / 1e9
        self._pose_pub.publish(
            hands_to_array_msg(
                hands,
                stamp_ns=synced.stamp_ns,
                world_frame=self.config.world_frame,
                camera_frame_ids=[c.frame_id for c in self.rig.cameras],
                camera_stamps_ns=synced.stamps_ns,
                sync_spread=synced.spread_s,
                latency=latency,
                wrist_pose=self._wrist_pose,
            )
        )
        self._publish_state(hands, header, synced.stamp_ns)
        self._latency.add(latency)
        self._output.tick(time.monotonic())
        self._last_error = ""
        # Meshes after the poses, so fitting never delays /hands/pose.
        meshes = self._mesh_fitter.fit(hands, synced.stamp_ns / 1e9) if self._mesh_fitter is not None else []
        if self._mesh_pub is not None:
            self._mesh_pub.publish(meshes_to_array_msg(meshes, header))
        if self._mesh_markers is not None:
            self._mesh_markers.update(meshes)
        if self._marker_pub is not None:
            self._marker_pub.publish(self._markers.update(hands, header))
        if self._overlay_pubs is not None:
            for i in present:
                overlay = draw_detections(synced.items[i], views[i], self.config.cameras[i].name)
                image = Image(header=Header(stamp=ns_to_stamp(synced.stamps_ns[i]), frame_id=self.rig[i].frame_id))
                for key, value in rgb_to_image_fields(overlay).items():
                    setattr(image, key, value)
                self._overlay_pubs[i].publish(image)
        if self._tf is not None:
            self._tf.sendTransform(wrist_transforms(hands, header, self._wrist_pose))

    def _publish_state(self, hands: Sequence[Any], header: Header, stamp_ns: int) -> None:
        """/hands/state with the pose message's header, only while subscribed; the history restarts
        with each first subscriber (a state from before the gap would be stale)."""
        subscribed = self._state_pub.get_subscription_count() > 0
        if subscribed != self._state_subscribed:
            self._state_subscribed = subscribed
            self._hand_state.reset()
            self.get_logger().info(f"/{STATE_TOPIC}: " + ("subscribed, computing hand states" if subscribed else "no subscribers, hand states not computed"))
        if subscribed:
            self._state_pub.publish(states_to_array_msg(self._hand_state.update(hands, stamp_ns), header))

    def _filler(self, index: int) -> Any:
        """Stand-in view for a camera missing from a partial set (its output is discarded)."""
        last = self._last_images[index]
        if last is None:
            camera = self.rig[index]
            last = self._last_images[index] = np.zeros((camera.height, camera.width, 3), np.uint8)
        return last

    def _on_process_error(self, exc: BaseException) -> None:
        self._last_error = f"processing failed: {type(exc).__name__}: {exc}"

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        sync = self._sync
        info = ProcessingInfo(
            backend=str(self._detector.backend_name),
            device=str(self._detector.device),
            sets_processed=self._worker.processed,
            sets_skipped=self._worker.skipped,
            errors=self._worker.errors,
            last_error=self._last_error,
            output_rate_hz=self._output.rate(now),
            latency=self._latency,
        )
        counts = {"implementation": type(sync).__name__, "time_jumps": sync.time_jumps, "emitted": sync.emitted, "partial": sync.partial, "dropped": sync.dropped, "rejected": sync.rejected}
        self._diag_pub.publish(
            diagnostic_array(NODE_NAME, now, self.get_clock().now().to_msg(), self._health, counts, info)
        )

    def destroy_node(self) -> None:
        self._worker.stop()
        super().destroy_node()


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hand_pose_node``); returns 2 when start-up is refused."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Ctrl-C is handled here, not by rclpy's handler, so the worker stops before the context.
    rclpy.init(args=list(sys.argv if argv is None else argv), signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        node = HandPoseNode()
        rclpy.spin(node)
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
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
