"""2D hand detection: MediaPipe's palm detector + hand landmark networks on real weights, in torch.

Public API: ``HandDetector`` and ``HandDetectorConfig`` (see ``detector.py``, ``config.py``);
the errors it raises beyond ``ValueError``: ``BackendUnavailable``, ``WeightsError``.
"""

from hand_pose_ros.detection.backends import BackendUnavailable
from hand_pose_ros.detection.config import HandDetectorConfig
from hand_pose_ros.detection.detector import HandDetector
from hand_pose_ros.detection.weights import WeightsError

__all__ = ["HandDetector", "HandDetectorConfig", "BackendUnavailable", "WeightsError"]
