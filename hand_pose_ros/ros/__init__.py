"""The ROS 2 layer: the rclpy node (``node``) and its message adapters.

ROS-free helpers (usable and testable without a running ROS graph): ``image_conversion``
(message buffers → RGB arrays), ``sync`` (approximate-time sets, partial mode), ``worker``
(latest-wins thread), ``startup`` (config → rig, pipeline; the configuration tree itself is
``hand_pose_ros.config``), ``input_checks``. rclpy-level: ``params`` (parameters declared with
descriptors, the on-set callback), ``conversions``, ``markers``, ``mesh_msgs``, ``diagnostics``;
``log_bridge`` forwards the library's ``logging`` records to the node's logger (/rosout); the node's topic
names: ``topics``; ``guard``: the callback boundary and QoS-event reporting every node endpoint goes
through.
Tools that drive the node from outside (demo, playback, harness, benchmarks) live in
``hand_pose_ros.tools``.
"""
