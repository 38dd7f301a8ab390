"""``RosLogBridge``: the library's ``logging`` records reach /rosout through a real rclpy node."""

from __future__ import annotations

import logging
import uuid

import pytest

from hand_pose_ros.ros.log_bridge import LIBRARY_LOGGER, RosLogBridge
from hand_pose_ros.tools.harness import spinning_node, wait_until

pytestmark = pytest.mark.ros

ARRIVAL_TIMEOUT_S = 20.0  # discovery of the node's own /rosout publisher on a busy machine
RETRY_PERIOD_S = 0.5  # records logged before the subscription matched are lost: log again


@pytest.fixture
def ros_node(ros_env):
    """A real rclpy node and the /rosout records it receives."""
    from rcl_interfaces.msg import Log
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    with spinning_node(f"log_bridge_test_{uuid.uuid4().hex[:8]}") as node:
        received: list = []
        node.create_subscription(Log, "/rosout", received.append, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        yield node, received


def _arrives(received, node_name: str, text: str, log) -> list:
    """Log ``text`` (via ``log``) until a /rosout record of ``node_name`` containing it arrives."""
    found: list = []

    def check() -> bool:
        found.extend(r for r in list(received) if r.name == node_name and text in r.msg)
        if not found:
            log()
        return bool(found)

    wait_until(check, ARRIVAL_TIMEOUT_S, RETRY_PERIOD_S)
    return found


def test_library_records_reach_rosout_while_installed(ros_node):
    from rcl_interfaces.msg import Log

    node, received = ros_node
    library = logging.getLogger(LIBRARY_LOGGER)
    before = (library.level, library.propagate)
    bridge = RosLogBridge(node.get_logger()).install()
    try:
        assert library.propagate is False  # rclpy prints it already
        warning = f"warning {uuid.uuid4().hex}"
        found = _arrives(received, node.get_name(), warning,
                         lambda: logging.getLogger("hand_pose_ros.x").warning("%s", warning))
        assert found and found[0].level == Log.WARN
        assert found[0].msg == f"hand_pose_ros.x: {warning}"
        info = f"info {uuid.uuid4().hex}"
        found = _arrives(received, node.get_name(), info, lambda: logging.getLogger("hand_pose_ros.pipeline").info(info))
        assert found and found[0].level == Log.INFO
        debug = f"debug {uuid.uuid4().hex}"
        logging.getLogger("hand_pose_ros.x").debug(debug)  # below the node logger's level (INFO)
        logging.getLogger("other_library").warning(debug)  # not the library's logger
    finally:
        bridge.remove()
    bridge.remove()  # harmless twice
    assert (library.level, library.propagate) == before and bridge not in library.handlers
    after = f"after {uuid.uuid4().hex}"
    logging.getLogger("hand_pose_ros.x").warning(after)
    # /rosout records of one node arrive in order (one reliable publisher): once this later
    # record is here, the debug and after-removal ones would be too, had they been forwarded.
    marker = f"marker {uuid.uuid4().hex}"
    assert _arrives(received, node.get_name(), marker, lambda: node.get_logger().info(marker))
    assert not [r for r in received if debug in r.msg or after in r.msg]
