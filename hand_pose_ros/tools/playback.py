"""Play a rosbag2 recording's camera topics into a running hand_pose_node and record its output.

Shared by ``hand-pose-ros demo`` and ``hand-pose-ros play``: the node runs as a subprocess
(as ``hand-pose-ros run`` starts it), this process publishes the bag's Image/CompressedImage
and CameraInfo messages at the recorded rate over real DDS and subscribes to the outputs.
Image topics whose first message is depth (``16UC1``/``32FC1``: ``synth --depth``, RealSense's
``aligned_depth_to_color``) are played too, each given to the node as the depth topic of the
colour topic it shares the longest namespace with (``cameras.depth_topics``, unless set).
Header stamps are shifted by one constant so the first message carries "now": latencies
are then meaningful, and ``PlaybackResult.stamp_offset_ns`` maps outputs back to the bag.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import time
from collections.abc import Sequence
from typing import Any

from hand_pose_ros.ros.conversions import ns_to_stamp, stamp_to_ns
from hand_pose_ros.ros.topics import DIAGNOSTICS_TOPIC, MARKERS_TOPIC, POSE_TOPIC, overlay_topic, resolved
from hand_pose_ros.timing import NS_PER_S
from hand_pose_ros.tools.bag_io import bag_topics, read_bag
from hand_pose_ros.tools.harness import NodeProcess, Received, Recorder, RigPublisher, apply_ros_environment, spinning_node, wait_until
from hand_pose_ros.tools.launch_spec import node_spec

__all__ = ["PlaybackResult", "play_through_node", "IMAGE_TYPES", "NodeStartError", "depth_topics_for"]

LOG = logging.getLogger(__name__)

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
INFO_TYPE = "sensor_msgs/msg/CameraInfo"
DRAIN_QUIET_S = 3.0  # after the last image, stop once no output arrived for this long (a set takes up to ~2 s on 2 CPU cores)
DRAIN_MAX_S = 15.0
# Where a node started by ``node_spec`` (root namespace, no remapping) publishes.
POSE, MARKERS = resolved(POSE_TOPIC), resolved(MARKERS_TOPIC)


class NodeStartError(RuntimeError):
    """The node did not come up (its log's tail is in the message)."""


@dataclasses.dataclass
class PlaybackResult:
    image_topics: list[str]
    depth_topics: list[str]  # played aligned depth topics (none: colour only)
    frames_in: int  # images of the busiest camera topic (sets offered to the node)
    images_published: int
    stamp_offset_ns: int  # published stamp = recorded stamp + offset
    poses: list[Received]
    markers: list[Received]
    overlays: dict[str, list[Received]]
    diagnostics: list[Received]
    play_wall_s: float
    node_returncode: int


def _tail(path: pathlib.Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def play_through_node(
    bag: str | os.PathLike[str],
    *,
    params_file: str | None = None,
    overrides: Sequence[tuple[str, object]] = (),
    overlay_cameras: Sequence[str] = (),
    rate: float = 1.0,
    log_dir: str | os.PathLike[str] = ".",
    startup_timeout: float = 120.0,
    progress: bool = True,
) -> PlaybackResult:
    """Start the node, play ``bag`` into it at ``rate`` × recorded speed, stop it, return the output.

    Args:
        overrides: extra node parameters (e.g. ``("publish.overlays", True)``).
        overlay_cameras: camera names whose overlay (``topics.overlay_topic``) to record.

    Raises:
        NodeStartError: the node exited or did not subscribe within ``startup_timeout`` s.
        FileNotFoundError / ValueError: the bag is missing or has no camera topics.
    """
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image
    from visualization_msgs.msg import MarkerArray

    from hand_pose_ros.msg import HandPoseArray

    topics = bag_topics(bag)
    image_topics = [t for t, (kind, _) in topics.items() if kind in IMAGE_TYPES]
    depth_topics = _depth_topics(bag, [t for t in image_topics if topics[t][0] == IMAGE_TYPES[0]])
    image_topics = [t for t in image_topics if t not in depth_topics]
    info_topics = [t for t, (kind, _) in topics.items() if kind == INFO_TYPE]
    if not image_topics:
        raise ValueError(f"{bag}: no Image or CompressedImage topics (topics: {sorted(topics)})")
    apply_ros_environment()
    log_path = pathlib.Path(log_dir) / "hand_pose_node.log"
    with spinning_node("hand_pose_player") as node:
        outputs: dict[str, type] = {POSE: HandPoseArray, MARKERS: MarkerArray, DIAGNOSTICS_TOPIC: DiagnosticArray}
        outputs.update({resolved(overlay_topic(c)): Image for c in overlay_cameras})
        recorder = Recorder(node, outputs)
        compressed = any(topics[t][0].endswith("CompressedImage") for t in image_topics)
        from sensor_msgs.msg import CompressedImage

        publisher = RigPublisher(node, image_topics, info_topics, image_type=CompressedImage if compressed else Image)
        depth_publisher = RigPublisher(node, depth_topics, [])
        if not info_topics:  # no CameraInfo to take intrinsics from: the calibration file's
            overrides = (*overrides, ("intrinsics.source", "file"))
        if depth_topics and all(name != "cameras.depth_topics" for name, _ in overrides):
            node_cameras = _node_image_topics(params_file, overrides)
            overrides = (*overrides, ("cameras.depth_topics", depth_topics_for(node_cameras, depth_topics)))
        spec = node_spec(params_file=params_file, overrides=tuple(overrides))
        with NodeProcess(spec, log_path=log_path) as proc:
            up = wait_until(lambda: not proc.alive() or (publisher.connected() and depth_publisher.connected() and node.count_publishers(POSE) > 0), startup_timeout)
            if not proc.alive() or not up:
                raise NodeStartError(f"hand_pose_node did not start (log {log_path}):\n{_tail(log_path)}")
            LOG.info("node up; playing %s", bag)
            played = _play(bag, publisher, depth_publisher, image_topics, info_topics, depth_topics, rate, node, progress)
            last_count, last_change = -1, time.monotonic()
            deadline = time.monotonic() + DRAIN_MAX_S
            while time.monotonic() < deadline and time.monotonic() - last_change < DRAIN_QUIET_S:
                count = recorder.count(POSE)
                if count != last_count:
                    last_count, last_change = count, time.monotonic()
                time.sleep(0.05)
            returncode = proc.stop()
        return PlaybackResult(
            image_topics=image_topics,
            depth_topics=depth_topics,
            frames_in=played["frames"],
            images_published=played["images"],
            stamp_offset_ns=played["offset"],
            poses=recorder.get(POSE),
            markers=recorder.get(MARKERS),
            overlays={c: recorder.get(resolved(overlay_topic(c))) for c in overlay_cameras},
            diagnostics=recorder.get(DIAGNOSTICS_TOPIC),
            play_wall_s=played["wall"],
            node_returncode=returncode,
        )


def _depth_topics(bag, image_topics: Sequence[str]) -> list[str]:
    """The ``sensor_msgs/Image`` topics among ``image_topics`` whose first message is depth."""
    from hand_pose_ros.ros.image_conversion import DEPTH_ENCODINGS

    depth_encodings = {e.lower() for e in DEPTH_ENCODINGS}
    found: dict[str, bool] = {}
    for item in read_bag(bag, list(image_topics)):
        found.setdefault(item.topic, str(item.message.encoding).strip().lower() in depth_encodings)
        if len(found) == len(image_topics):
            break
    return [t for t in image_topics if found.get(t)]


def depth_topics_for(image_topics: Sequence[str], depth_topics: Sequence[str]) -> list[str]:
    """``cameras.depth_topics`` for a node on ``image_topics``: per colour topic the depth topic
    sharing its longest namespace (``/cam0/image_raw`` ↔ ``/cam0/aligned_depth_to_color/image_raw``),
    "" where none shares any; each depth topic goes to one camera at most."""

    def shared(a: str, b: str) -> int:
        common = 0
        for x, y in zip(a.strip("/").split("/")[:-1], b.strip("/").split("/")):
            if x != y:
                break
            common += 1
        return common

    out = []
    free = list(depth_topics)
    for topic in image_topics:
        best = max(free, key=lambda d: shared(topic, d), default=None)
        if best is None or shared(topic, best) == 0:
            out.append("")
            continue
        free.remove(best)
        out.append(best)
    return out


def _node_image_topics(params_file: str | None, overrides: Sequence[tuple[str, object]]) -> list[str]:
    """The ``cameras.image_topics`` the node will have: overrides, else the parameters file's, else the default."""
    from hand_pose_ros.config import default_parameters, load_parameters_file
    from hand_pose_ros.tools.launch_spec import DEFAULT_PARAMS_FILE, config_path

    flat = {**default_parameters(), **load_parameters_file(params_file or config_path(DEFAULT_PARAMS_FILE)), **dict(overrides)}
    return list(flat["cameras.image_topics"])


def _play(bag, publisher: RigPublisher, depth_publisher: RigPublisher, image_topics, info_topics, depth_topics,
          rate: float, node: Any, progress: bool) -> dict[str, Any]:
    """Publish the bag's camera messages at ``rate`` × recorded speed with shifted stamps."""
    from tqdm import tqdm

    index = {t: ("image", i) for i, t in enumerate(image_topics)}
    index.update({t: ("info", i) for i, t in enumerate(info_topics)})
    index.update({t: ("depth", i) for i, t in enumerate(depth_topics)})
    total = sum(c for t, (_, c) in bag_topics(bag).items() if t in image_topics)
    start_wall = time.monotonic()
    first_log = offset = None
    per_topic = dict.fromkeys(image_topics, 0)
    images = 0
    with tqdm(total=total, unit="img", desc="play", disable=not progress) as bar:
        for item in read_bag(bag, list(index)):
            if first_log is None:
                # The schedule starts now, with the stamp shift taken at the same instant:
                # a message is then never published before the time its stamp says.
                first_log, start_wall = item.log_time_ns, time.monotonic()
                offset = node.get_clock().now().nanoseconds - stamp_to_ns(item.message.header.stamp)
            delay = (item.log_time_ns - first_log) / NS_PER_S / rate - (time.monotonic() - start_wall)
            if delay > 0:
                time.sleep(delay)
            msg = item.message
            original = stamp_to_ns(msg.header.stamp)
            msg.header.stamp = ns_to_stamp(original + offset)
            kind, i = index[item.topic]
            if kind == "image":
                publisher.images[i].publish(msg)
                per_topic[item.topic] += 1
                images += 1
                bar.update(1)
            elif kind == "depth":
                depth_publisher.images[i].publish(msg)
            else:
                publisher.infos[i].publish(msg)
    return {"frames": max(per_topic.values()), "images": images, "offset": offset or 0, "wall": time.monotonic() - start_wall}
