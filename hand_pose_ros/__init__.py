"""hand_pose_ros: real-time multi-view 3D hand pose estimation for ROS 2.

Array conventions used across the package (the legend):
  V views (cameras), H hands, T frames, J = 21 keypoints in MediaPipe's order.
  2D keypoints are float pixels in the full image, origin at the top-left pixel's centre
  (OpenCV convention); 3D keypoints are metres; world frame per REP 103. NaN means missing.

The ROS-free core (``hand_pose_ros.detection``, ``.fusion``, ``.mesh``, ``.handmodel``,
``.calibration``, ``.evaluation``, ``.synth`` and the modules beside them: ``types``,
``keypoints``, ``drawing``, ``dataset_layout``, ``timing``, ``assets``) works on numpy/torch
arrays, and ``hand_pose_ros.pipeline`` runs them as one (``HandPosePipeline``);
``hand_pose_ros.ros`` is the node and its message adapters; ``hand_pose_ros.tools`` holds the CLI, benchmarks, demo and test harness. Imports point one way, tools → ros → core
(test/test_imports.py).
"""

# The generated messages (hand_pose_ros.msg) are installed by the message build into
# site-packages/hand_pose_ros/, while this source package may be installed editable:
# let both directories serve the one package.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__version__ = "0.1.0"
