"""One-Euro filter (Casiez et al., CHI 2012) on arrays of 3D joints, NaN-aware.

Each point (last axis) is filtered with a low-pass whose cutoff rises with its speed:
``cutoff = min_cutoff + beta · |dx/dt|``, so slow motion is smoothed (less jitter) and fast
motion follows with little lag. A NaN input leaves that element's state untouched and
yields NaN; the next finite sample continues from the stored state.

With ``predict`` the low-pass blends the new sample with the previous estimate moved on by
the filtered velocity (x̂ = x + ẋ·dt) instead of the previous estimate itself: an alpha-beta
filter whose alpha is One-Euro's and whose beta is the derivative filter's weight. A joint
moving at constant velocity then comes out where it is, not one time constant behind
(the plain filter lags it by ≈ (1 − α)/α frames of motion: 2–4 mm for a hand reaching at
0.1–0.3 m/s at 30 Hz with the defaults).
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import numpy as np

__all__ = ["HandFilter", "OneEuroFilter", "copy_state"]

_State = TypeVar("_State")
# Immutable values, which ``copy.deepcopy`` would return as they are: ``copy_state`` keeps
# them without its dispatch (a track holds about ten of them).
_IMMUTABLE = frozenset({float, int, bool, str, type(None), np.float64})


def copy_state(state: _State, memo: dict[int, Any]) -> _State:
    """A deep copy of a plain state object (a filter, a track: attributes that are arrays,
    numbers, enums or such objects): its arrays copied, plain numbers and strings shared, the
    rest by ``copy.deepcopy``. For ``__deepcopy__`` (``MultiViewFusion.checkpoint`` copies the
    tracks every set): the generic deep copy of such an object costs several times this."""
    new = object.__new__(type(state))
    memo[id(state)] = new
    new.__dict__.update({name: value if type(value) in _IMMUTABLE else value.copy() if isinstance(value, np.ndarray)
                         else copy.deepcopy(value, memo) for name, value in vars(state).items()})
    return new


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass at ``cutoff_hz`` for a step of ``dt`` s:
    1 / (1 + τ/dt) with τ = 1 / (2π fc), written as y / (1 + y), y = 2π fc dt (fewer operations)."""
    y = (2.0 * np.pi * dt) * cutoff_hz
    return y / (1.0 + y)


class OneEuroFilter:
    """Filters a stream of same-shaped (…, D) arrays (e.g. (21, 3) metres) sampled at given times (s);
    ``predict``: blend around the constant-velocity prediction (module docstring)."""

    def __init__(self, min_cutoff_hz: float, beta: float, derivative_cutoff_hz: float, predict: bool = False) -> None:
        self.predict = predict
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.derivative_cutoff_hz = derivative_cutoff_hz
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._stamp: float | None = None
        self._complete = False  # every element of ``_x`` is finite

    def __deepcopy__(self, memo: dict[int, Any]) -> "OneEuroFilter":
        return copy_state(self, memo)

    def __call__(self, x: np.ndarray, stamp: float) -> np.ndarray:
        """Filter sample ``x`` taken at ``stamp`` seconds; returns an array like ``x``."""
        x = np.asarray(x, np.float64)
        return self._update(x, stamp, np.isfinite(x))

    def update_finite(self, x: np.ndarray, stamp: float) -> np.ndarray:
        """``__call__`` for a float64 ``x`` that the caller made finite everywhere (``HandFilter``'s
        usual case): the same result without testing ``x``."""
        return self._update(x, stamp, None)

    def _update(self, x: np.ndarray, stamp: float, finite: np.ndarray | None) -> np.ndarray:
        """``finite``: ``np.isfinite(x)``, or None where every element is."""
        all_finite = finite is None or bool(finite.all())
        if self._x is None or self._stamp is None or stamp <= self._stamp:
            # First sample, or a non-increasing stamp (a replay restarted): start over.
            self._x = x.copy() if finite is None else np.where(finite, x, np.nan)
            self._dx = np.zeros_like(x)
            self._stamp = stamp
            self._complete = all_finite
            return self._x.copy()
        dt = stamp - self._stamp
        self._stamp = stamp
        # Every element seen now and before (the usual case): the same arithmetic without the
        # masks, which cost more than the maths on (21, 3) arrays.
        complete = self._complete and all_finite
        if not complete and finite is None:
            finite = np.ones(x.shape, bool)
        known = None if complete else np.isfinite(self._x)
        # The prediction uses the velocity known before this sample.
        base = self._x + self._dx * dt if self.predict else self._x
        a_d = _alpha(self.derivative_cutoff_hz, dt)
        if complete:
            self._dx = a_d * ((x - self._x) / dt) + (1 - a_d) * self._dx
        else:
            dx = np.where(finite & known, (x - self._x) / dt, 0.0)
            self._dx = np.where(finite, a_d * dx + (1 - a_d) * self._dx, self._dx)
        # Speed of the whole point (norm over the last axis), not of each coordinate.
        speed = np.sqrt(np.add.reduce(self._dx * self._dx, axis=-1, keepdims=True))
        a = _alpha(self.min_cutoff_hz + self.beta * speed, dt)
        smoothed = a * x + (1 - a) * base  # NaN only where unseen (masked below)
        if complete:
            self._x = smoothed
            return smoothed.copy()
        fresh = finite & ~known  # elements seen for the first time
        self._x = np.where(finite, np.where(fresh, x, smoothed), self._x)
        self._complete = bool(np.isfinite(self._x).all())
        return np.where(finite, self._x, np.nan)


class HandFilter:
    """Filters one hand's (21, 3) joints (metres) over time: its centre by a predictive
    One-Euro (no lag while the hand moves), its shape (joints − centre) by a plain One-Euro
    (the articulation stays smooth: a predictive filter passes more jitter).

    The centre is each seen joint's position minus its filtered offset from the last call,
    averaged (the plain mean of the seen joints on the first call, or when no seen joint has
    an offset yet), so a joint dropping out does not move the centre. NaN joints give NaN.
    """

    def __init__(self, min_cutoff_hz: float, beta: float, derivative_cutoff_hz: float) -> None:
        self._centre = OneEuroFilter(min_cutoff_hz, beta, derivative_cutoff_hz, predict=True)
        self._shape = OneEuroFilter(min_cutoff_hz, beta, derivative_cutoff_hz)
        self._offsets: np.ndarray | None = None  # (21, 3) last filtered joints − centre; NaN rows unset
        self._has_offset: np.ndarray | None = None  # (21,) rows of ``_offsets`` that are set

    def __deepcopy__(self, memo: dict[int, Any]) -> "HandFilter":
        return copy_state(self, memo)

    def __call__(self, points: np.ndarray, stamp: float) -> np.ndarray:
        """Filter ``points`` (21, 3) taken at ``stamp`` seconds; returns (21, 3)."""
        points = np.asarray(points, np.float64)
        # (sum / count below is np.mean's arithmetic without its Python wrapper.)
        if self._offsets is not None and self._has_offset.all() and np.isfinite(points).all():
            # Every joint seen and offset (the usual case): no masks needed, and the centre and
            # the shape are finite (made of finite joints and offsets), so not tested again.
            centre = self._centre.update_finite((points - self._offsets).sum(0) / len(points), stamp)  # (3,)
            self._offsets = self._shape.update_finite(points - centre, stamp)  # (21, 3)
            return self._offsets + centre
        seen = np.isfinite(points).all(-1)  # (21,)
        if self._offsets is None:
            self._offsets, self._has_offset = np.full_like(points, np.nan), np.zeros_like(seen)
        if not seen.any():
            return np.full_like(points, np.nan)
        known = seen & self._has_offset
        use, offsets = (known, self._offsets[known]) if known.any() else (seen, 0.0)
        centre = self._centre((points[use] - offsets).sum(0) / np.count_nonzero(use), stamp)  # (3,)
        shape = self._shape(points - centre, stamp)  # (21, 3); NaN where unseen
        self._offsets = np.where(seen[:, None], shape, self._offsets)
        self._has_offset |= seen
        return shape + centre
