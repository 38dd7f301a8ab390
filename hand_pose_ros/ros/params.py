"""The node's ROS parameters: declared with descriptors, changed at run time through one callback.

Names, defaults, descriptions and validation all come from ``hand_pose_ros.config`` (the
configuration tree). Every parameter is declared with ``dynamic_typing`` so that a value of
the wrong type reaches the project's own checks, which name the key and what was expected
(rather than rclpy's generic type error). ``ros2 param set`` on a parameter read at
start-up is refused with that reason; a live one (``config.LIVE_PARAMETERS``) is validated
and handed to the node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from hand_pose_ros.config import (
    LIVE_PARAMETERS,
    NODE_NAME,
    NodeConfig,
    StartupError,
    default_parameters,
    live_update,
    parameter_descriptions,
)

__all__ = ["NODE_NAME", "declare_parameters", "current_parameters", "live_parameters_callback"]


def _ros_value(value: Any) -> Any:
    """A config default as an rclpy parameter value (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def declare_parameters(node: Node) -> dict[str, Any]:
    """Declare every parameter of the node, with its description; returns all current values.

    The node is created with ``automatically_declare_parameters_from_overrides``, so values
    from ``--params-file``/``-p`` are already declared (without a descriptor): those are
    declared again with their descriptor, keeping the value. Unknown names stay declared and
    are reported by ``config.load_config``.
    """
    descriptions = parameter_descriptions()
    for name, default in default_parameters().items():
        when = "may change while the node runs" if name in LIVE_PARAMETERS else "read at start-up"
        descriptor = ParameterDescriptor(description=f"{descriptions[name]} ({when})", dynamic_typing=True)
        value = _ros_value(default)
        if node.has_parameter(name):
            value = node.get_parameter(name).value
            node.undeclare_parameter(name)
        node.declare_parameter(name, value, descriptor)
    return current_parameters(node)


def current_parameters(node: Node) -> dict[str, Any]:
    """Dotted name → value of every parameter the node has."""
    return {name: parameter.value for name, parameter in node.get_parameters_by_prefix("").items()}


def live_parameters_callback(
    node: Node, config: Callable[[], NodeConfig], apply: Callable[[NodeConfig], None]
) -> Callable[[list[Parameter]], SetParametersResult]:
    """An on-set callback (``node.add_on_set_parameters_callback``) that refuses start-up-only
    parameters and invalid values with the reason, and passes the new config to ``apply``.

    Args:
        config: the node's current config.
        apply: called with the validated new config before the parameters are stored.
    """

    def on_set(parameters: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters}
        try:
            new = live_update(config(), current_parameters(node), changes)
        except StartupError as exc:
            return SetParametersResult(successful=False, reason="; ".join(exc.problems))
        apply(new)
        return SetParametersResult(successful=True)

    return on_set
