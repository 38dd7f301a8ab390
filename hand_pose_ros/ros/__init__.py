"""The ROS 2 layer: the rclpy node (``node``) and its message adapters.

ROS-free helpers (usable and testable without a running ROS graph): ``image_conversion``
(message buffers → RGB arrays), ``sync`` (approximate-time sets, partial mode), ``worker``
(latest-wins thread), ``params`` and ``startup`` (parameters → configs, rig, pipeline),
``input_checks``. Message-level: ``conversions``, ``markers``, ``mesh_msgs``, ``diagnostics``,
``guard`` (the callback boundary and QoS-event reporting every node endpoint goes through).
Tools that drive the node from outside (demo, playback, harness, benchmarks) live in
``hand_pose_ros.tools``.
"""
