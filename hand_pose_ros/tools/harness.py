"""Driving the node from another process: start it, feed it camera topics, record its output.

Used by ``demo``, ``play``, ``bench`` and the cross-process tests. ``NodeProcess`` runs
``hand_pose_node`` as a subprocess (the command ``hand-pose-ros run`` uses) and always ends
it (SIGINT, then SIGKILL after a grace period). ``Recorder`` subscribes to the outputs in
this process; ``RigPublisher`` publishes per-camera Image/CameraInfo with fresh stamps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hand_pose_ros.tools.launch_spec import NodeSpec, node_command, ros_environment

__all__ = ["NodeProcess", "RigPublisher", "Recorder", "Received", "apply_ros_environment", "wait_until", "spinning_node", "spin_in_background"]

STOP_GRACE_S = 10.0  # SIGINT → clean shutdown (worker join, DDS teardown) before SIGKILL
SPIN_JOIN_S = 5.0  # the spin thread ends within one executor wake-up once shut down


def apply_ros_environment() -> None:
    """Put the project's DDS defaults into this process's environment (before rclpy.init)."""
    os.environ.update(ros_environment())


def wait_until(condition: Callable[[], bool], timeout: float, period: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(period)
    return condition()


class NodeProcess:
    """``hand_pose_node`` in a subprocess; a context manager that always stops it."""

    def __init__(self, spec: NodeSpec, env: dict[str, str] | None = None, log_path: str | os.PathLike[str] | None = None) -> None:
        self.command = node_command(spec)
        self._env = ros_environment(env)
        self._log_path = log_path
        self._log = None
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "NodeProcess":
        self._log = open(self._log_path, "wb") if self._log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command, env=self._env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int:
        """SIGINT, wait, SIGKILL if needed; the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        return self.process.returncode

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclasses.dataclass
class Received:
    """One message received by ``Recorder``: when (this process's ROS clock, ns) and what."""

    time_ns: int
    message: Any


class Recorder:
    """Subscribes to the node's outputs and keeps everything received (thread-safe lists)."""

    def __init__(self, node: Any, topics: dict[str, type], qos_depth: int = 50) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self._node = node
        self._lock = threading.Lock()
        self.received: dict[str, list[Received]] = {t: [] for t in topics}
        qos = QoSProfile(depth=qos_depth, reliability=ReliabilityPolicy.RELIABLE)
        for topic, msg_type in topics.items():
            node.create_subscription(msg_type, topic, lambda m, t=topic: self._on(t, m), qos)

    def _on(self, topic: str, msg: Any) -> None:
        item = Received(self._node.get_clock().now().nanoseconds, msg)
        with self._lock:
            self.received[topic].append(item)

    def get(self, topic: str) -> list[Received]:
        with self._lock:
            return list(self.received[topic])

    def count(self, topic: str) -> int:
        with self._lock:
            return len(self.received[topic])


class RigPublisher:
    """Publishers of ``image_topics[i]`` (Image) and ``info_topics[i]`` (CameraInfo)."""

    def __init__(self, node: Any, image_topics: Sequence[str], info_topics: Sequence[str], reliable: bool = True, image_type: type | None = None) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)
        self.images = [node.create_publisher(image_type or Image, t, qos) for t in image_topics]
        self.infos = [node.create_publisher(CameraInfo, t, qos) for t in info_topics]

    def connected(self, subscribers: int = 1) -> bool:
        return all(p.get_subscription_count() >= subscribers for p in self.images + self.infos)


def spin_in_background(node: Any) -> tuple[Any, threading.Thread]:
    """Spin ``node`` on a daemon thread; returns (executor, thread). Shut down the executor to stop."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True, name="ros_spin")
    thread.start()
    return executor, thread


@contextlib.contextmanager
def spinning_node(name: str) -> Iterator[Any]:
    """rclpy started and a node ``name`` spinning on a daemon thread; on exit the executor, the
    node and rclpy are shut down (in that order) and the thread joined."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node(name)
    executor, thread = spin_in_background(node)
    try:
        yield node
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        thread.join(SPIN_JOIN_S)
