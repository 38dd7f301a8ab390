"""``--set KEY=VALUE``: the one way the CLIs change a component's settings.

Keys are the node's parameter names (``detector.model``, ``fusion.filter``, ``sync.slop``; all
in config/multiview.yaml and docs/node.md); values are read as YAML (``true``, ``2``, ``[torch]``).
Defaults are never restated by a CLI: what is not set keeps the config dataclass's default.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from hand_pose_ros.config import StartupError, parse_overrides, section_config

__all__ = ["add_set_option", "component_config", "node_overrides"]


def add_set_option(parser: argparse.ArgumentParser, example: str) -> None:
    """Add the repeatable ``--set KEY=VALUE`` option (``example``: e.g. ``detector.model=lite``)."""
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
        help=f"change a setting, e.g. --set {example} (repeatable; values are YAML; names and defaults in docs/node.md)",
    )


def component_config(section: str, items: Sequence[str], **base: Any) -> Any:
    """The ``section``'s config from ``--set`` items over ``base`` (the tool's own choices,
    e.g. no tracking between unrelated stills).

    Raises:
        ValueError: a malformed item, a key outside ``section`` or a refused value, one line each.
    """
    try:
        params = {**{f"{section}.{k}": v for k, v in base.items()}, **parse_overrides(items)}
        return section_config(section, params)
    except StartupError as exc:
        raise ValueError("\n".join(exc.problems)) from None


def node_overrides(items: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    """``--set`` items as the node's parameter overrides (``launch_spec.node_spec(overrides=...)``);
    the node itself validates them at start-up.

    Raises:
        ValueError: a malformed item.
    """
    return tuple(parse_overrides(items).items())
