"""What robot code needs from a hand, from fused ``Hand3D`` tracks; ROS-free.

Per hand and frame: pinch distance / strength and a debounced pinch state with start/end
events, grasp aperture, per-finger curl, a pointing ray, the palm normal and wrist pose, and
the hand's speed (docs/handstate.md)::

    estimator = HandStateEstimator(HandStateConfig())
    for hands, stamp_ns in frames:
        for state in estimator.update(hands, stamp_ns):
            if state.pinch_event == PinchEvent.STARTED: ...
"""

from hand_pose_ros.handstate.config import HandStateConfig
from hand_pose_ros.handstate.estimator import HandState, HandStateEstimator, PinchEvent

__all__ = ["HandState", "HandStateConfig", "HandStateEstimator", "PinchEvent"]
