"""``hand_pose_lifecycle_node``: ``hand_pose_node`` as a managed (lifecycle) node.

The same node (``node.HandPoseNode``'s pieces) driven by the standard lifecycle services
(``/hand_pose_node/change_state``, ``get_state``; ``ros2 lifecycle set`` or a launch
system's lifecycle manager):

- ``configure``: parameters read and checked, the pipeline built (weights loaded, warmed up);
  a refused configuration fails the transition with one error line per problem;
- ``activate``: publishers, subscriptions, the worker thread and the timers (as the plain node);
- ``deactivate``: all of those stopped and destroyed (no input taken, nothing published);
- ``cleanup``: the pipeline's networks and sessions released, the log bridge removed;
- ``shutdown`` (from any state): what is running stopped, what is built released.

Parameters are read at ``configure``: change a start-up parameter while unconfigured, then
configure again.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from hand_pose_ros.ros.node import HandPoseNode
from hand_pose_ros.ros.node import main as node_main
from hand_pose_ros.ros.params import NODE_NAME
from hand_pose_ros.ros.startup import StartupError

__all__ = ["HandPoseLifecycleNode", "main"]


class HandPoseLifecycleNode(HandPoseNode, LifecycleNode):
    """``HandPoseNode`` behind the lifecycle transitions (module docstring): its ``_configure``
    and ``_activate`` steps, callbacks and publishing, run by ``on_configure``/``on_activate``."""

    # Its transitions destroy and re-create publishers and subscriptions that carry QoS event
    # callbacks while it spins: the pattern of an open EventsExecutor segfault in rclpy
    # (ros2/rclpy#1644), so it keeps rclpy's SingleThreadedExecutor.
    EVENTS_EXECUTOR = False

    def __init__(self, **kwargs: Any) -> None:
        # LifecycleNode's (and Node's) constructor, not HandPoseNode's: that one configures and
        # activates at once.
        super(HandPoseNode, self).__init__(NODE_NAME, automatically_declare_parameters_from_overrides=True, **kwargs)
        self._configured = False
        self._active_entities: tuple[list[Any], list[Any], list[Any]] | None = None  # publishers, subscriptions, timers

    # --- transitions ------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except StartupError as exc:
            for problem in exc.problems:
                self.get_logger().error(f"invalid configuration: {problem}")
            return TransitionCallbackReturn.FAILURE
        self._configured = True
        self.get_logger().info("configured: pipeline built and warmed up")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        before = (set(self.publishers), set(self.subscriptions), set(self.timers))
        self._activate()
        self._active_entities = tuple(  # type: ignore[assignment]
            [e for e in now if e not in old] for now, old in zip((self.publishers, self.subscriptions, self.timers), before)
        )
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self.get_logger().info("deactivated: not subscribed, not publishing")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info("cleaned up: networks and threads released")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    # --- helpers ------------------------------------------------------------------------------
    def _stop(self) -> None:
        """Undo ``activate``: the worker joined, the set-parameters callback, timers,
        subscriptions and publishers it created destroyed (and no longer on the QoS status)."""
        if self._active_entities is None:
            return
        self._worker.stop()
        self.remove_on_set_parameters_callback(self._parameters_callback)
        publishers, subscriptions, timers = self._active_entities
        for timer in timers:
            self.destroy_timer(timer)
        for subscription in subscriptions:
            self.qos_events.forget(subscription.topic_name, "subscription")
            self.destroy_subscription(subscription)
        for publisher in publishers:
            self.qos_events.forget(publisher.topic_name, "publisher")
            self.destroy_publisher(publisher)
        self._active_entities = None
        self._marker_pub = self._mesh_pub = self._overlay_pubs = self._tf = None

    def _release(self) -> None:
        """Undo ``configure``: the pipeline closed (networks, sessions), the log bridge removed."""
        if not self._configured:
            return
        self._pipeline.close()
        self._log_bridge.remove()
        self._configured = False

    def destroy_node(self) -> None:
        self._stop()
        self._release()
        super(HandPoseNode, self).destroy_node()


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hand_pose_lifecycle_node``): starts unconfigured."""
    return node_main(argv, HandPoseLifecycleNode)


if __name__ == "__main__":
    sys.exit(main())
