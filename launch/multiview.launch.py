"""ros2 launch hand_pose_ros multiview.launch.py [config:=...] [namespace:=...] [backend:=...] [use_rviz:=true]

The node's package, executable, parameters and remappings come from
``hand_pose_ros.tools.launch_spec.node_spec``, the same data ``hand-pose-ros run`` uses.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from hand_pose_ros.tools.launch_spec import (
    DEFAULT_PARAMS_FILE,
    FASTDDS_PROFILE,
    RVIZ_CONFIG,
    config_path,
    node_spec,
)


def _nodes(context):
    spec = node_spec(
        params_file=LaunchConfiguration("config").perform(context),
        namespace=LaunchConfiguration("namespace").perform(context),
        backend=LaunchConfiguration("backend").perform(context),
    )
    return [
        Node(
            package=spec.package,
            executable=spec.executable,
            name=spec.name,
            namespace=spec.namespace,
            parameters=[*spec.parameters, dict(spec.overrides)],
            remappings=list(spec.remappings),
            output="screen",
        )
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("config", default_value=str(config_path(DEFAULT_PARAMS_FILE)), description="ROS 2 parameters file"),
            DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
            DeclareLaunchArgument("backend", default_value="", description="detector backend override (empty: the file's)"),
            DeclareLaunchArgument("use_rviz", default_value="false", description="start RViz with the hands config"),
            # Keep a profile the user set; else the 8 MiB shared-memory one (640x480 best-effort images).
            SetEnvironmentVariable(
                "FASTDDS_DEFAULT_PROFILES_FILE",
                EnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", default_value=str(config_path(FASTDDS_PROFILE))),
            ),
            OpaqueFunction(function=_nodes),
            Node(
                package="rviz2",
                executable="rviz2",
                arguments=["-d", str(config_path(RVIZ_CONFIG))],
                condition=IfCondition(LaunchConfiguration("use_rviz")),
            ),
        ]
    )
