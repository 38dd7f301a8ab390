"""One-Euro filter (Casiez et al., CHI 2012) on arrays of 3D joints, NaN-aware.

Each point (last axis) is filtered with a low-pass whose cutoff rises with its speed:
``cutoff = min_cutoff + beta · |dx/dt|``, so slow motion is smoothed (less jitter) and fast
motion follows with little lag. A NaN input leaves that element's state untouched and
yields NaN; the next finite sample continues from the stored state.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OneEuroFilter"]


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * np.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters a stream of same-shaped (…, D) arrays (e.g. (21, 3) metres) sampled at given times (s)."""

    def __init__(self, min_cutoff_hz: float, beta: float, derivative_cutoff_hz: float) -> None:
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.derivative_cutoff_hz = derivative_cutoff_hz
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._stamp: float | None = None

    def __call__(self, x: np.ndarray, stamp: float) -> np.ndarray:
        """Filter sample ``x`` taken at ``stamp`` seconds; returns an array like ``x``."""
        x = np.asarray(x, np.float64)
        finite = np.isfinite(x)
        if self._x is None or self._stamp is None or stamp <= self._stamp:
            # First sample, or a non-increasing stamp (a replay restarted): start over.
            self._x = np.where(finite, x, np.nan)
            self._dx = np.zeros_like(x)
            self._stamp = stamp
            return self._x.copy()
        dt = stamp - self._stamp
        self._stamp = stamp
        fresh = finite & ~np.isfinite(self._x)  # elements seen for the first time
        dx = np.where(finite & ~fresh, (x - self._x) / dt, 0.0)
        a_d = _alpha(self.derivative_cutoff_hz, dt)
        self._dx = np.where(finite, a_d * dx + (1 - a_d) * self._dx, self._dx)
        # Speed of the whole point (norm over the last axis), not of each coordinate.
        speed = np.sqrt((self._dx * self._dx).sum(-1, keepdims=True))
        cutoff = self.min_cutoff_hz + self.beta * speed
        a = _alpha(cutoff, dt)
        smoothed = np.where(fresh, x, a * x + (1 - a) * self._x)  # NaN only where masked below
        self._x = np.where(finite, smoothed, self._x)
        return np.where(finite, self._x, np.nan)
