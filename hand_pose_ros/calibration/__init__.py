"""Camera rigs: the calibration file (``rig``), and the tools that make one.

    rig = load_calibration("calibration.yaml")   # Rig of CameraCalibration, in file order
"""

from hand_pose_ros.calibration.rig import (
    DISTORTION_MODELS,
    CameraCalibration,
    Rig,
    load_calibration,
    look_at,
    save_calibration,
)

__all__ = ["CameraCalibration", "Rig", "load_calibration", "save_calibration", "look_at", "DISTORTION_MODELS"]
