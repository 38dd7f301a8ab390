"""The library's ``logging`` records (``hand_pose_ros.*``) → the node's rclpy logger → /rosout.

The core logs through ``logging`` (it knows nothing of ROS); inside the node these records
should reach ``/rosout`` and the node's log file like the node's own. ``RosLogBridge``
forwards every record of the ``hand_pose_ros`` logger to an rclpy logger, prefixed with the
record's logger name, while installed. It also stops the records propagating to the root
logger meanwhile, since rclpy prints them on the console already (no doubled lines).
"""

from __future__ import annotations

import logging
from typing import Any

from rclpy.logging import LoggingSeverity

__all__ = ["LIBRARY_LOGGER", "RosLogBridge"]

LIBRARY_LOGGER = "hand_pose_ros"


class RosLogBridge(logging.Handler):
    """A ``logging.Handler`` that forwards records to an rclpy logger (``node.get_logger()``).

    Example:
        >>> bridge = RosLogBridge(node.get_logger()).install()
        >>> ...  # logging.getLogger("hand_pose_ros.pipeline").info(...) reaches /rosout
        >>> bridge.remove()
    """

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self._ros_logger = ros_logger
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self._saved: tuple[int, bool] | None = None  # the library logger's level and propagate

    def install(self) -> RosLogBridge:
        """Attach to the ``hand_pose_ros`` logger; its level becomes the rclpy logger's now
        (rclpy's severities DEBUG..FATAL are logging's numbers, 10..50)."""
        library = logging.getLogger(LIBRARY_LOGGER)
        if self._saved is None:
            self._saved = (library.level, library.propagate)
            library.addHandler(self)
        severity = self._ros_logger.get_effective_level()
        library.setLevel(logging.DEBUG if severity == LoggingSeverity.UNSET else int(severity))
        library.propagate = False
        return self

    def remove(self) -> None:
        """Detach, restoring the library logger's level and propagation; harmless when not installed."""
        if self._saved is None:
            return
        library = logging.getLogger(LIBRARY_LOGGER)
        library.removeHandler(self)
        library.setLevel(self._saved[0])
        library.propagate = self._saved[1]
        self._saved = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message, log = self.format(record), self._ros_logger
            # One call site per severity: rclpy keys its per-call-site state on the calling line
            # and refuses a second severity from the same line.
            if record.levelno >= logging.CRITICAL:
                log.fatal(message)
            elif record.levelno >= logging.ERROR:
                log.error(message)
            elif record.levelno >= logging.WARNING:
                log.warning(message)
            elif record.levelno >= logging.INFO:
                log.info(message)
            else:
                log.debug(message)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)
