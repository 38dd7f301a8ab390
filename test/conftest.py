"""Test-session environment: ROS 2 kept on this machine, each session on its own domain.

Set before anything imports rclpy, so every node in this process and every subprocess a
test starts (they inherit the environment) uses the same isolated DDS settings.
"""

from __future__ import annotations

import os
import pathlib
import random
import tempfile

import pytest

# Fast DDS accepts domain ids 0-232; stay clear of 0 (the default other tools use).
_DOMAIN_ID = str(random.SystemRandom().randint(1, 200))
_LOG_DIR = tempfile.mkdtemp(prefix="hand_pose_ros_test_ros_log_")
os.environ["ROS_DOMAIN_ID"] = _DOMAIN_ID
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# The shipped Fast DDS profile with UDP on loopback only (the shipped one reaches other hosts).
# Set for the whole session: Fast DDS reads its profiles once per process, so every in-process
# rclpy test must already see the large shared-memory segment, or a later test's 921 KB images
# are lost (FIELD_NOTES).
os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(
    pathlib.Path(__file__).resolve().parent.parent / "hand_pose_ros" / "tools" / "fastdds_shm_8mib_localhost.xml"
)
os.environ["ROS_PYTHON_CHECK_FIELDS"] = "1"
os.environ["ROS_LOG_DIR"] = _LOG_DIR

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


@pytest.fixture(scope="session")
def ros_env() -> dict[str, str]:
    """The environment for subprocesses that talk ROS: this session's domain, localhost only."""
    return dict(os.environ)


@pytest.fixture
def ros_log_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A per-test ROS log directory under the test's tmp dir."""
    log_dir = tmp_path / "ros_log"
    log_dir.mkdir()
    monkeypatch.setenv("ROS_LOG_DIR", str(log_dir))
    return log_dir


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO_ROOT


@pytest.fixture
def calibration_file(tmp_path: pathlib.Path) -> str:
    """A calibration YAML of three 640x480 cameras c0, c1, c2 (frames c<i>_optical), world frame "world"."""
    import numpy as np

    from hand_pose_ros.calibration import CameraCalibration, Rig, save_calibration

    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    rig = Rig(cameras=tuple(CameraCalibration(name=f"c{i}", frame_id=f"c{i}_optical", width=640, height=480, camera_matrix=K) for i in range(3)))
    path = tmp_path / "calibration.yaml"
    save_calibration(path, rig)
    return str(path)
@pytest.fixture(scope="session")
def webxr_articulations():
    """Both WebXR hands as mesh articulations, loaded once (mesh fitting and mesh message tests)."""
    from hand_pose_ros.handmodel import HandModel
    from hand_pose_ros.keypoints import Handedness
    from hand_pose_ros.mesh.webxr import WebXRArticulation

    return {side: WebXRArticulation(HandModel.load(side)) for side in (Handedness.LEFT, Handedness.RIGHT)}
