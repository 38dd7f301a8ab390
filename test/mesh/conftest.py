"""Fixtures for the mesh tests: the hand models, loaded once."""

from __future__ import annotations

import pytest

from hand_pose_ros.keypoints import Handedness


@pytest.fixture(scope="session")
def webxr_articulations():
    """Both WebXR hands, loaded once."""
    from hand_pose_ros.handmodel import HandModel
    from hand_pose_ros.mesh.webxr import WebXRArticulation

    return {side: WebXRArticulation(HandModel.load(side)) for side in (Handedness.LEFT, Handedness.RIGHT)}
