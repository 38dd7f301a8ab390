"""One checker for config values: numbers, booleans, strings, choices and sequences.

Every config dataclass validates its fields with these in ``__post_init__``; each error is a
``ValueError`` reading ``<name>: expected <what>, got <value>`` where ``name`` is
``Class.field`` (the configuration loader rewrites it to the YAML key, e.g.
``fusion.refine_iterations: expected an integer, got 1.5``).

They are strict where a loose check would accept a typo: ``True`` is not a number (bool is
an int subclass), ``1.5`` or ``2.0`` is not an integer, ``"no"`` is not a boolean, NaN is never
a valid number and infinity only where ``finite=False``.
"""

from __future__ import annotations

import array
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["check_number", "check_bool", "check_string", "check_choice", "check_sequence"]


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    finite: bool = True,
    optional: bool = False,
) -> None:
    """Raise ValueError unless ``value`` is a real number (an integer where ``integer``) within
    ``[low, high]`` (ends excluded where ``low_open``/``high_open``; ``None``: unbounded).

    Args:
        finite: refuse ±infinity as well as NaN (NaN is always refused).
        optional: ``None`` is accepted (e.g. "library default").
    """
    if optional and value is None:
        return
    kind = "an integer" if integer else "a finite number" if finite else "a number"
    expected = kind + _range_text(low, high, low_open, high_open) + (" or None" if optional else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and not isinstance(value, numbers.Integral)):
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name}: expected {expected}, got {value!r}")


def check_bool(name: str, value: Any) -> None:
    """Raise ValueError unless ``value`` is ``True`` or ``False`` (not 0/1, not ``"no"``)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected true or false, got {value!r}")


def check_string(name: str, value: Any, *, empty: bool = True, optional: bool = False) -> None:
    """Raise ValueError unless ``value`` is a string (non-empty unless ``empty``; ``None`` where ``optional``)."""
    if optional and value is None:
        return
    if not isinstance(value, str) or (not empty and not value):
        what = "a string" if empty else "a non-empty string"
        raise ValueError(f"{name}: expected {what}{' or None' if optional else ''}, got {value!r}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise ValueError naming ``name`` (e.g. ``FusionConfig.filter``), the valid choices and ``value``
    unless ``value`` is one of ``choices`` (a strategy string)."""
    # `True in (1, 2)` holds in Python; a bool is never a valid choice of strings or numbers.
    if isinstance(value, bool) and not any(isinstance(c, bool) for c in choices) or value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def check_sequence(
    name: str,
    value: Any,
    item: Callable[[str, Any], None] | None = None,
    *,
    length: int | None = None,
    nonempty: bool = False,
) -> tuple[Any, ...]:
    """``value`` (list, tuple or ROS's ``array.array``) as a tuple, each item checked by
    ``item(f"{name}[i]", v)``.

    A string is refused (it is a sequence of characters, never meant as one here).

    Raises:
        ValueError: not a sequence, wrong length, or an item the ``item`` check refuses.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, array.array)):
        raise ValueError(f"{name}: expected a list, got {value!r}")
    items = tuple(value)
    if length is not None and len(items) != length:
        raise ValueError(f"{name}: expected a list of {length} items, got {list(items)!r}")
    if nonempty and not items:
        raise ValueError(f"{name}: expected a non-empty list, got []")
    if item is not None:
        for i, v in enumerate(items):
            item(f"{name}[{i}]", v)
    return items
