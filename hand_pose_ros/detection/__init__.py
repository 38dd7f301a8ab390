"""2D hand detection: MediaPipe's palm detector + hand landmark networks on real weights, in torch.

Public API: ``HandDetector`` and ``HandDetectorConfig`` (see ``detector.py``, ``config.py``);
the errors it raises beyond ``ValueError``: ``BackendUnavailable``, ``WeightsError``.
Exports resolve lazily, so ``hand_pose_ros.detection.config`` (used by ``--help``) does not
import torch.
"""

from __future__ import annotations

import importlib

__all__ = ["HandDetector", "HandDetectorConfig", "BackendUnavailable", "WeightsError"]

_EXPORTS = {
    "HandDetector": "hand_pose_ros.detection.detector",
    "HandDetectorConfig": "hand_pose_ros.detection.config",
    "BackendUnavailable": "hand_pose_ros.detection.runtime",
    "WeightsError": "hand_pose_ros.detection.weights",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hand_pose_ros.detection' has no attribute {name!r}")
