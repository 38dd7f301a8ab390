"""2D hand detection: MediaPipe's palm detector + hand landmark networks on real weights, in torch.

Public API: ``HandDetector`` and ``HandDetectorConfig`` (see ``detector.py``, ``config.py``).
"""

from hand_pose_ros.detection.config import HandDetectorConfig
from hand_pose_ros.detection.detector import HandDetector

__all__ = ["HandDetector", "HandDetectorConfig"]
