"""Synthetic multi-camera hand datasets with exact ground truth (``hand-pose-ros synth``).

Rig layouts (``rig``), looks (``appearance``), rendering (``renderer``), two-hand motion
(``motion``), ground truth (``groundtruth``), the dataset writer (``writer``), the rosbag2
writer (``bag``) and the bundled sample (``sample``). Layout on disk:
``hand_pose_ros.dataset_layout`` (format: docs/dataset.md).
"""
