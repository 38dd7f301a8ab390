"""A pip install carries what ros2 run/launch need: the executable under lib/, launch and config under share/."""

from __future__ import annotations

import subprocess
import sys
import zipfile

WHEEL_TIMEOUT_S = 300


def test_wheel_installs_executable_launch_and_config(tmp_path, repo_root):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(repo_root)],
        check=True, timeout=WHEEL_TIMEOUT_S, capture_output=True,
    )
    (wheel,) = tmp_path.glob("hand_pose_ros-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        modes = {i.filename.split(".data/data/", 1)[1]: i.external_attr >> 16 for i in archive.infolist() if ".data/data/" in i.filename}
    assert modes["lib/hand_pose_ros/hand_pose_node"] & 0o111, "the node script must stay executable"
    for path in ("share/hand_pose_ros/launch/multiview.launch.py", "share/hand_pose_ros/config/multiview.yaml",
                 "share/hand_pose_ros/config/multiview.rviz", "share/hand_pose_ros/config/fastdds_shm_8mib.xml"):
        assert path in modes
