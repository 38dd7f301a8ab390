"""The repo builds as a ROS 2 package with colcon, over the pip-installed ROS 2 underlay."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

VENV = pathlib.Path(sys.prefix)


@pytest.mark.slow
def test_colcon_build_gives_an_importable_install_space(tmp_path, repo_root, ros_env):
    colcon = VENV / "bin" / "colcon"
    if not colcon.exists():
        pytest.fail(f"colcon is not installed in {VENV}; run ./dev setup")
    src = tmp_path / "ws" / "src"
    src.mkdir(parents=True)
    (src / "hand_pose_ros").symlink_to(repo_root, target_is_directory=True)
    env = dict(
        ros_env,
        AMENT_PREFIX_PATH=str(VENV),
        CMAKE_PREFIX_PATH=str(VENV),
        PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}",
    )
    build = subprocess.run(
        [str(colcon), "build", "--base-paths", "src", "--event-handlers", "console_cohesion+",
         "--cmake-args", "-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={sys.executable}"],
        cwd=tmp_path / "ws", env=env, capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]

    install = tmp_path / "ws" / "install" / "hand_pose_ros"
    assert (install / "lib" / "hand_pose_ros" / "hand_pose_node").is_file()
    assert (install / "share" / "hand_pose_ros" / "package.xml").is_file()
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "hand_pose_ros").exists()
    site = install / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    # What `source install/setup.bash` would set for this package.
    run_env = dict(
        ros_env,
        PYTHONPATH=str(site),
        LD_LIBRARY_PATH=f"{install / 'lib'}{os.pathsep}{os.environ.get('LD_LIBRARY_PATH', '')}",
        AMENT_PREFIX_PATH=f"{install}{os.pathsep}{VENV}",
    )
    code = textwrap.dedent(
        """
        import hand_pose_ros, hand_pose_ros.keypoints, hand_pose_ros.calibration, hand_pose_ros.types
        from hand_pose_ros.msg import HandPose, HandPoseArray
        from rclpy.serialization import deserialize_message, serialize_message
        msg = HandPoseArray(hands=[HandPose(id=3)])
        assert deserialize_message(serialize_message(msg), HandPoseArray) == msg
        import hand_pose_ros.msg as m
        print(hand_pose_ros.__version__, hand_pose_ros.keypoints.__file__, m.__file__)
        """
    )
    # Run outside the checkout so the current directory cannot supply the package.
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=run_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    version, keypoints_file, msg_file = result.stdout.split()
    import hand_pose_ros

    assert version == hand_pose_ros.__version__
    # Both the code and the messages come from the install space, not the checkout or the venv.
    assert keypoints_file.startswith(str(site)), keypoints_file
    assert msg_file.startswith(str(site)), msg_file
    shutil.rmtree(tmp_path / "ws" / "build", ignore_errors=True)
