"""pip install of the hand_pose_ros Python package and its console scripts.

The messages (msg/) are built by CMake (see ./dev setup or colcon); this installs the code.
"""

from setuptools import find_packages, setup

setup(
    name="hand_pose_ros",
    version="0.1.0",
    description="Real-time multi-view 3D hand pose estimation for ROS 2",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["hand_pose_ros", "hand_pose_ros.*"]),
    # The tests' and benchmarks' localhost-only Fast DDS profile (launch_spec.LOCALHOST_PROFILE).
    package_data={"hand_pose_ros.tools": ["fastdds_shm_8mib_localhost.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/hand_pose_ros"]),
        # The node's launch file, parameters, RViz config and Fast DDS profile (ros2 launch finds
        # them under share/hand_pose_ros; hand_pose_ros.tools.launch_spec.config_path too).
        ("share/hand_pose_ros/launch", ["launch/multiview.launch.py"]),
        ("share/hand_pose_ros/config", ["config/multiview.yaml", "config/multiview.rviz", "config/fastdds_shm_8mib.xml"]),
        # Where `ros2 run hand_pose_ros hand_pose_node` and launch_ros look for the executable.
        ("lib/hand_pose_ros", ["scripts/hand_pose_node", "scripts/hand_pose_lifecycle_node"]),
    ],
    install_requires=["numpy", "scipy", "opencv-python-headless", "pyyaml", "torch"],
    entry_points={
        "console_scripts": [
            "hand-pose-ros = hand_pose_ros.tools.cli:main",
            "hand_pose_node = hand_pose_ros.ros.node:main",
            "hand_pose_lifecycle_node = hand_pose_ros.ros.lifecycle_node:main",
        ]
    },
)
