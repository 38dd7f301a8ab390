"""The ROS 2 layer: a thin rclpy node over the detector and fusion, its launch data and CLIs.

ROS-free helpers (usable and testable without a running ROS graph): ``image_conversion``
(message buffers → RGB arrays), ``sync`` (approximate-time sets, partial mode), ``worker``
(latest-wins thread), ``params`` and ``startup`` (parameters → configs, rig, pipeline),
``launch_spec`` (what the launch file and ``hand-pose-ros run`` start), ``input_checks``,
``overlay``. Message-level: ``conversions``, ``markers``, ``diagnostics``, ``bag_io``.
The node: ``node``. Driving it from outside: ``harness``, ``playback``, ``demo``/``play``
(+ ``demo_report``), ``bench`` (+ ``bench_publisher``), ``run_cli``.
"""
