"""The managed node (``hand_pose_lifecycle_node``) driven over its lifecycle services from
this process, over real DDS: configure builds, activate publishes, deactivate stops,
cleanup releases, shutdown from active; plus a refused configuration failing configure."""

from __future__ import annotations

import pytest
import yaml

from hand_pose_ros.dataset_layout import camera_info_topic, image_topic
from hand_pose_ros.ros.topics import POSE_TOPIC, resolved
from hand_pose_ros.tools.harness import NodeProcess, RigPublisher, spinning_node, wait_until
from hand_pose_ros.tools.launch_spec import node_spec
from test_node_dds import CAMERAS, Feeder, sample  # noqa: F401 (sample is a fixture)

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SERVICE_TIMEOUT_S = 60.0  # the node process starts (imports) before its services appear
CONFIGURE_TIMEOUT_S = 120.0  # configure loads the weights and warms up on a busy 2-core machine
OUTPUT_TIMEOUT_S = 30.0
POSE = resolved(POSE_TOPIC)


class Lifecycle:
    """Clients of /hand_pose_node/{change_state,get_state}."""

    def __init__(self, node):
        from lifecycle_msgs.srv import ChangeState, GetState

        self.node = node
        self.change = node.create_client(ChangeState, "/hand_pose_node/change_state")
        self.get = node.create_client(GetState, "/hand_pose_node/get_state")

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return self._call(self.get, GetState.Request(), OUTPUT_TIMEOUT_S).current_state.label

    def transition(self, transition_id: int, timeout: float = OUTPUT_TIMEOUT_S) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        return self._call(self.change, ChangeState.Request(transition=Transition(id=transition_id)), timeout).success

    @staticmethod
    def _call(client, request, timeout):
        future = client.call_async(request)
        assert wait_until(future.done, timeout), f"no answer from {client.srv_name}"
        return future.result()


@pytest.fixture
def managed(sample, tmp_path, ros_env):
    def start(parameters):
        params = tmp_path / "params.yaml"
        params.write_text(yaml.safe_dump({"hand_pose_node": {"ros__parameters": parameters}}))
        return NodeProcess(node_spec(params_file=params, managed=True), env=ros_env, log_path=tmp_path / "node.log")

    return start


def test_lifecycle_transitions_over_the_services(managed, sample, tmp_path):
    from lifecycle_msgs.msg import Transition

    with spinning_node("test_lifecycle") as node, managed({
        "extrinsics": {"calibration_file": sample["calibration"]},
        "qos": {"reliability": "reliable", "depth": 5},
        "sync": {"slop": 0.005, "min_views": 2, "partial_timeout": 1.0},
    }) as proc:
        from hand_pose_ros.msg import HandPoseArray
        from hand_pose_ros.tools.harness import Recorder

        log = tmp_path / "node.log"
        lifecycle = Lifecycle(node)
        assert wait_until(lambda: lifecycle.change.service_is_ready() and lifecycle.get.service_is_ready(), SERVICE_TIMEOUT_S), log.read_text()[-2000:]
        assert lifecycle.state() == "unconfigured"
        assert node.count_subscribers(image_topic("cam0")) == 0 and node.count_publishers(POSE) == 0

        assert lifecycle.transition(Transition.TRANSITION_CONFIGURE, CONFIGURE_TIMEOUT_S), log.read_text()[-2000:]
        assert lifecycle.state() == "inactive"
        assert "detector warmed up" in log.read_text()
        assert node.count_subscribers(image_topic("cam0")) == 0 and node.count_publishers(POSE) == 0

        recorder = Recorder(node, {POSE: HandPoseArray})
        publisher = RigPublisher(node, [image_topic(f"cam{i}") for i in range(CAMERAS)], [camera_info_topic(f"cam{i}") for i in range(CAMERAS)])
        assert lifecycle.transition(Transition.TRANSITION_ACTIVATE)
        assert lifecycle.state() == "active"
        assert wait_until(lambda: publisher.connected() and node.count_publishers(POSE) > 0, OUTPUT_TIMEOUT_S)
        feeder = Feeder({"pub": publisher, "rec": recorder, "clock": node.get_clock()}, sample)
        feeder.publish(0)  # intrinsics from CameraInfo: the first images wait for it
        msg = None
        for frame in range(1, 4):
            msg = feeder.wait_pose(feeder.publish(frame))
            if msg is not None:
                break
        assert msg is not None and msg.hands, log.read_text()[-2000:]

        assert lifecycle.transition(Transition.TRANSITION_DEACTIVATE)
        assert lifecycle.state() == "inactive"
        assert wait_until(lambda: node.count_subscribers(image_topic("cam0")) == 0 and node.count_publishers(POSE) == 0, OUTPUT_TIMEOUT_S)
        count = recorder.count(POSE)
        feeder.publish(4)
        assert not wait_until(lambda: recorder.count(POSE) > count, 3.0)  # nothing published while inactive

        assert lifecycle.transition(Transition.TRANSITION_CLEANUP)
        assert lifecycle.state() == "unconfigured"
        assert "cleaned up" in log.read_text()
        # Configure and activate again: the pipeline is rebuilt and sets flow again.
        assert lifecycle.transition(Transition.TRANSITION_CONFIGURE, CONFIGURE_TIMEOUT_S)
        assert lifecycle.transition(Transition.TRANSITION_ACTIVATE)
        assert wait_until(lambda: publisher.connected() and node.count_publishers(POSE) > 0, OUTPUT_TIMEOUT_S)
        feeder.publish(5)
        assert any(feeder.wait_pose(feeder.publish(frame)) is not None for frame in (6, 7))

        assert lifecycle.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN)
        assert lifecycle.state() == "finalized"
        assert proc.alive()  # finalized, not exited: Ctrl-C ends it cleanly
        assert proc.stop() == 0, log.read_text()[-2000:]


def test_a_refused_configuration_fails_configure_and_stays_unconfigured(managed, tmp_path):
    from lifecycle_msgs.msg import Transition

    with spinning_node("test_lifecycle_bad") as node, managed({"qos": {"reliability": "sometimes"}}):
        lifecycle = Lifecycle(node)
        assert wait_until(lambda: lifecycle.change.service_is_ready(), SERVICE_TIMEOUT_S)
        assert not lifecycle.transition(Transition.TRANSITION_CONFIGURE, CONFIGURE_TIMEOUT_S)
        assert lifecycle.state() == "unconfigured"
        assert "invalid configuration: qos.reliability" in (tmp_path / "node.log").read_text()
