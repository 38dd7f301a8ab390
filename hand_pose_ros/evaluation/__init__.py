"""Accuracy of 3D hand predictions against ground truth (``hand-pose-ros eval``).

``metrics`` holds plain numpy metric functions (mpjpe, pa_mpjpe, root_relative_mpjpe,
pck_curve, auc, mpvpe); ``matching`` reads files and matches frames and hands;
``evaluate`` aggregates per hand and overall. The figure is drawn by
``hand_pose_ros.tools.eval_plot`` (``hand-pose-ros eval --plot``).
"""
