"""The ROS 2 layer: a thin rclpy node over the detector and fusion, its launch data and CLIs.

Modules importing rclpy (``node``, ``run_cli``'s runtime, ``demo``, ``play``, ``bench``)
stay separate from the ROS-free helpers (``image_conversion``, ``sync``, ``params``,
``launch_spec``) so those are usable and testable without a ROS installation.
"""
