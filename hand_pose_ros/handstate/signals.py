"""Per-frame hand signals, batched over hands: (H, 21, 3) float64 m, world frame → (H, ...).

``hand_signals`` takes keypoints with NaN rows for missing keypoints and returns NaN wherever
a keypoint a value needs is missing (never a value computed from a subset). All values come
from one gather of the five finger chains (wrist → … → tip), so a frame costs a few dozen
array operations whatever the number of hands. The ``*_KEYPOINTS`` tables say which
keypoints each value needs (for its validity flag and confidence).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hand_pose_ros.keypoints import FINGERS, HandKeypoint

__all__ = [
    "APERTURE_KEYPOINTS",
    "CURL_KEYPOINTS",
    "FINGER_NAMES",
    "PALM_CENTRE_KEYPOINTS",
    "PINCH_KEYPOINTS",
    "HandSignals",
    "hand_signals",
]

_K = HandKeypoint
FINGER_NAMES: tuple[str, ...] = tuple(FINGERS)  # thumb, index, middle, ring, pinky
# One row per finger: the wrist, then its four keypoints outwards. Curl bends: MCP, PIP, DIP for
# the long fingers; for the thumb (wrist → CMC → MCP → IP → tip) only MCP and IP count (its
# CMC's bend is mostly opposition, not curl): _BEND_WEIGHTS.
_CHAINS = np.array([[int(_K.WRIST), *FINGERS[f]] for f in FINGER_NAMES], np.intp)  # (5, 5)
_BEND_WEIGHTS = np.degrees(1.0) * np.array([[0.0, 1.0, 1.0]] + [[1.0, 1.0, 1.0]] * 4)  # (5, 3), radians → degrees
CURL_KEYPOINTS: tuple[tuple[int, ...], ...] = tuple(tuple(int(k) for k in chain) for chain in _CHAINS)
PINCH_KEYPOINTS: tuple[int, ...] = (int(_K.THUMB_TIP), int(_K.INDEX_FINGER_TIP))
APERTURE_KEYPOINTS: tuple[int, ...] = tuple(int(chain[-1]) for chain in _CHAINS)
PALM_CENTRE_KEYPOINTS: tuple[int, ...] = (int(_K.WRIST),) + tuple(int(chain[1]) for chain in _CHAINS[1:])
# Least-squares slope of four equally spaced samples, weights (i − 1.5) for i = 0..3, i.e.
# 1.5 (tip − MCP) + 0.5 (DIP − PIP): as noise-robust as a principal-axis fit through the index
# finger's keypoints, without an eigen-decomposition.
_RAY_WEIGHTS = np.array([-1.5, -0.5, 0.5, 1.5])
# Shorter than this (metres) a direction is undefined (coincident keypoints).
_MIN_LENGTH_M = 1e-6


class HandSignals(NamedTuple):
    """One frame's per-hand values; NaN where a needed keypoint is missing.

    Attributes:
        pinch_distance: (H,) m, thumb tip to index tip.
        hand_scale: (H,) m, mean length of the proximal (MCP→PIP) and middle (PIP→DIP)
            phalanges of the four long fingers: rigid bones whose keypoints barely slide with
            flexion (their summed length varies < 1 % over the model's poses, wrist→MCP
            distances ±10 %), so a pose-independent hand size. NaN unless all 12 are present.
        grasp_aperture: (H,) m, thumb tip to the centroid of the other four fingertips.
        finger_curl: (H, 5) [0, 1] thumb … pinky: the chain's summed bend angles between
            keypoint segments, mapped linearly from (straight, curled) degrees.
        ray_origin: (H, 3) m, the index tip; ray_direction: (H, 3) unit vector, a line fit
            through the index finger's MCP, PIP, DIP and tip, towards the tip.
        palm_centre: (H, 3) m, mean of the wrist and the four long fingers' MCPs.
    """

    pinch_distance: np.ndarray
    hand_scale: np.ndarray
    grasp_aperture: np.ndarray
    finger_curl: np.ndarray
    ray_origin: np.ndarray
    ray_direction: np.ndarray
    palm_centre: np.ndarray


def _norm(vectors: np.ndarray) -> np.ndarray:
    """(..., 3) → (...) Euclidean length (NaN propagates)."""
    return np.sqrt((vectors * vectors).sum(axis=-1))


def hand_signals(
    points: np.ndarray, finger_curl_range_deg: tuple[float, float], thumb_curl_range_deg: tuple[float, float]
) -> HandSignals:
    """(H, 21, 3) float64 m → ``HandSignals``; curl ranges are (straight, curled) summed bends, degrees."""
    chains = points[:, _CHAINS]  # (H, 5, 5, 3)
    tips = chains[:, :, 4]  # (H, 5, 3) thumb … pinky
    segments = chains[:, :, 1:] - chains[:, :, :-1]  # (H, 5, 4, 3)
    lengths = _norm(segments)  # (H, 5, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = segments / np.where(lengths > _MIN_LENGTH_M, lengths, np.nan)[..., None]
        # np.minimum/maximum rather than np.clip: same result (NaN kept), a fraction of the call cost.
        cosines = np.minimum(np.maximum((unit[:, :, :-1] * unit[:, :, 1:]).sum(axis=-1), -1.0), 1.0)  # (H, 5, 3)
        bend_deg = (np.arccos(cosines) * _BEND_WEIGHTS).sum(axis=-1)  # (H, 5)
        straight = np.array([thumb_curl_range_deg[0]] + [finger_curl_range_deg[0]] * 4)
        curled = np.array([thumb_curl_range_deg[1]] + [finger_curl_range_deg[1]] * 4)
        along = np.einsum("k,hki->hi", _RAY_WEIGHTS, chains[:, 1, 1:])  # (H, 3)
        along_len = _norm(along)
        direction = along / np.where(along_len > _MIN_LENGTH_M, along_len, np.nan)[:, None]
    return HandSignals(
        pinch_distance=_norm(tips[:, 0] - tips[:, 1]),
        hand_scale=lengths[:, 1:, 1:3].sum(axis=(1, 2)) / 8.0,
        grasp_aperture=_norm(tips[:, 0] - tips[:, 1:].sum(axis=1) / 4.0),
        finger_curl=np.minimum(np.maximum((bend_deg - straight) / (curled - straight), 0.0), 1.0),  # NaN stays NaN
        ray_origin=tips[:, 1],
        ray_direction=direction,
        palm_centre=(chains[:, 0, 0] + chains[:, 1:, 1].sum(axis=1)) / 5.0,
    )
