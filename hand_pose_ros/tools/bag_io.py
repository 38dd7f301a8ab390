"""rosbag2 (MCAP or SQLite) reading into rclpy messages, and MCAP writing of rclpy messages.

Messages travel as raw CDR: ``rosbags`` reads/writes the container, ``rclpy.serialization``
(de)serialises, so any type importable in Python works, our HandPoseArray included.
"""

from __future__ import annotations

import importlib
import logging
import os
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

from rclpy.serialization import deserialize_message, serialize_message

__all__ = ["BagMessage", "read_bag", "bag_topics", "message_class", "McapWriter"]

LOG = logging.getLogger(__name__)


def message_class(msgtype: str) -> type:
    """``"sensor_msgs/msg/Image"`` → the rclpy message class.

    Raises:
        ValueError: the type is not importable here.
    """
    package, _, name = msgtype.replace("/msg/", "/").partition("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        raise ValueError(f"message type {msgtype!r} is not available in this Python environment") from None


class BagMessage:
    """One recorded message: topic, type name, log time (ns) and the deserialised message."""

    __slots__ = ("topic", "msgtype", "log_time_ns", "message")

    def __init__(self, topic: str, msgtype: str, log_time_ns: int, message: Any) -> None:
        self.topic, self.msgtype, self.log_time_ns, self.message = topic, msgtype, log_time_ns, message


def bag_topics(path: str | os.PathLike[str]) -> dict[str, tuple[str, int]]:
    """topic → (message type, message count) of a rosbag2 directory."""
    from rosbags.rosbag2 import Reader

    with Reader(_bag_path(path)) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}


def read_bag(path: str | os.PathLike[str], topics: Sequence[str] | None = None) -> Iterator[BagMessage]:
    """Messages of ``topics`` (all whose type imports here, if None) in log-time order.

    Raises:
        FileNotFoundError: no bag at ``path``.
        ValueError: a topic's type cannot be deserialised here.
    """
    from rosbags.rosbag2 import Reader

    with Reader(_bag_path(path)) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        classes = {}
        for c in connections:
            try:
                classes[c.id] = message_class(c.msgtype)
            except ValueError:
                if topics is not None:  # asked for by name: say so
                    raise
                LOG.info("skipping %s: %s is not importable here", c.topic, c.msgtype)
        connections = [c for c in connections if c.id in classes]
        for connection, log_time, raw in reader.messages(connections=connections):
            yield BagMessage(connection.topic, connection.msgtype, log_time, deserialize_message(bytes(raw), classes[connection.id]))


def _bag_path(path: str | os.PathLike[str]) -> pathlib.Path:
    p = pathlib.Path(path)
    if p.is_file() and p.suffix == ".mcap" and (p.parent / "metadata.yaml").exists():
        p = p.parent
    if not (p / "metadata.yaml").exists():
        raise FileNotFoundError(f"no rosbag2 recording (metadata.yaml) at {p}")
    return p


def _typestore():
    """rosbags' Kilted typestore plus this package's messages (for MCAP schemas)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    msg_dir = pathlib.Path(__file__).resolve().parents[2] / "msg"
    if not msg_dir.is_dir():
        from ament_index_python.packages import get_package_share_directory

        msg_dir = pathlib.Path(get_package_share_directory("hand_pose_ros")) / "msg"
    types: dict[str, Any] = {}
    for file in sorted(msg_dir.glob("*.msg")):
        types.update(get_types_from_msg(file.read_text(encoding="utf-8"), f"hand_pose_ros/msg/{file.stem}"))
    store.register(types)
    return store


class McapWriter:
    """Write rclpy messages into a new rosbag2 MCAP directory; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = pathlib.Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists; choose a new output directory")
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._store = _typestore()
        self._connections: dict[str, Any] = {}

    def __enter__(self) -> "McapWriter":
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()

    def write(self, topic: str, message: Any, log_time_ns: int) -> None:
        connection = self._connections.get(topic)
        if connection is None:
            module = type(message).__module__.split(".")[0]
            msgtype = f"{module}/msg/{type(message).__name__}"
            connection = self._writer.add_connection(topic, msgtype, typestore=self._store)
            self._connections[topic] = connection
        self._writer.write(connection, log_time_ns, serialize_message(message))
