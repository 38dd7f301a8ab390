"""The node's aligned depth inputs (``cameras.depth_topics``): messages in, depth maps to sets, health out.

A depth message is parsed in place (``cdr.parse_image``), its stamp and size checked like a
colour image's (``input_checks``), converted to ``(H, W) float32`` metres
(``image_conversion.image_to_depth``) and queued in a ``sync.DepthMatcher``; the worker takes
each set's depth maps when it starts the set and hands the pipeline's verdict on them
(``FrameResult.depth_problems``) back here. Every refusal lands in the camera's
``diagnostics.DepthHealth`` (its own status on /diagnostics) and nowhere else: the colour path
and its sets never wait for, or lose anything to, depth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.config import CameraInput, SyncConfig
from hand_pose_ros.ros import cdr, input_checks
from hand_pose_ros.ros.diagnostics import DepthHealth
from hand_pose_ros.ros.image_conversion import ImageConversionError, image_to_depth
from hand_pose_ros.ros.sync import DepthMatcher

__all__ = ["DepthInputs"]


class DepthInputs:
    """Depth bookkeeping of the cameras that have a depth topic (thread-safe like its parts).

    Args:
        cameras: the node's cameras, in its order (``CameraInput.depth_topic`` "" = none).
        sync: the synchroniser's settings (``slop``, ``queue_size`` apply to depth too).
        warn: called with the text of every problem (the node's throttled logger).
    """

    def __init__(self, cameras: Sequence[CameraInput], sync: SyncConfig, warn: Callable[[str], None]) -> None:
        self._cameras = tuple(cameras)
        self.health = {i: DepthHealth(c.name, c.depth_topic) for i, c in enumerate(cameras) if c.depth_topic}
        self._matcher = DepthMatcher(num_cameras=len(cameras), slop=sync.slop, queue_size=sync.queue_size, wait_s=sync.depth_wait)
        self._warn = warn

    def _where(self, index: int) -> str:
        camera = self._cameras[index]
        return f"depth of camera {camera.name!r} ({camera.depth_topic})"

    def _reject(self, index: int, problem: str, now: float) -> None:
        where = self._where(index)
        text = problem if where in problem else f"{where}: {problem}"
        self.health[index].reject(text, now)
        self._warn(text)

    def on_message(self, index: int, raw: bytes, calibration: CameraCalibration, clock_ns: int, now: float) -> None:
        """One serialised depth Image of camera ``index``: checked, converted, queued (or refused).

        Args:
            calibration: the camera's (the depth map must have its colour image's size).
            clock_ns: the node's clock (stamps far ahead of it are refused).
            now: monotonic seconds.
        """
        self.health[index].frames.tick(now)
        where = self._where(index)
        try:
            msg = cdr.parse_image(raw, where)
            input_checks.check_stamp(msg.stamp_ns, clock_ns, where)
            # Size first: a mis-sized map is refused before its data is touched.
            input_checks.check_image_size(msg.width, msg.height, calibration, where)
            depth = image_to_depth(msg, where)
        except (ImageConversionError, ValueError) as exc:
            self._reject(index, str(exc), now)
            return
        problem = self._matcher.add(index, msg.stamp_ns, depth, now)
        if problem:
            self._reject(index, problem, now)

    def colour(self, index: int, stamp_ns: int) -> None:
        """Camera ``index``'s latest colour image (usable or not) is stamped ``stamp_ns``."""
        if index in self.health:
            self._matcher.colour(index, stamp_ns)

    def for_set(self, stamps_ns: Sequence[int | None], now: float) -> list[np.ndarray | None]:
        """The depth maps of the set with colour stamps ``stamps_ns``: per camera ``(H, W)``
        float32 metres or None (the pipeline's ``depths``); waits up to ``sync.depth_wait`` for
        live depth streams (``sync.DepthMatcher``). ``now``: monotonic s."""
        depths, refused = self._matcher.take(stamps_ns, now)
        for index, problem in refused:
            self._reject(index, problem, now)
        return depths

    def after_set(
        self, stamps_ns: Sequence[int | None], depths: Sequence[Any | None], problems: Mapping[str, str], now: float
    ) -> None:
        """Record what became of a processed set's depth: ``problems`` (``FrameResult.depth_problems``,
        camera name → why its map was not used) are refused maps; a camera with a colour image
        in the set counts one set with or without depth."""
        for index, health in self.health.items():
            if stamps_ns[index] is None:
                continue
            problem = problems.get(health.name, "")
            if problem:
                self._reject(index, problem, now)
            health.used(depths[index] is not None and not problem)

    def statuses(self, node_name: str, now: float) -> list[DiagnosticStatus]:
        """One /diagnostics status per camera with a depth topic."""
        return [health.status(node_name, now) for health in self.health.values()]
