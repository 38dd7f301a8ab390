"""Per-frame hand signals, batched over hands: (H, 21, 3) float64 m, world frame → (H, ...).

Every function takes keypoints with NaN rows for missing keypoints and returns NaN wherever a
keypoint it needs is missing (never a value computed from a subset). Confidences are the
weakest ``keypoint_confidence`` among the keypoints a value uses, 0 where the value is NaN.
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.keypoints import FINGERS, HandKeypoint

__all__ = [
    "APERTURE_KEYPOINTS",
    "CURL_KEYPOINTS",
    "FINGER_NAMES",
    "INDEX_KEYPOINTS",
    "PALM_CENTRE_KEYPOINTS",
    "PINCH_KEYPOINTS",
    "SCALE_KEYPOINTS",
    "hand_scale",
    "pinch_distance",
    "grasp_aperture",
    "finger_curls",
    "pointing_ray",
    "palm_centre",
    "weakest",
]

_K = HandKeypoint
FINGER_NAMES: tuple[str, ...] = tuple(FINGERS)  # thumb, index, middle, ring, pinky
_LONG_FINGERS = np.array([FINGERS[f] for f in FINGER_NAMES[1:]], np.intp)  # (4, 4) MCP, PIP, DIP, TIP
PINCH_KEYPOINTS = (_K.THUMB_TIP, _K.INDEX_FINGER_TIP)
APERTURE_KEYPOINTS = (_K.THUMB_TIP,) + tuple(int(chain[-1]) for chain in _LONG_FINGERS)
# Proximal (MCP→PIP) and middle (PIP→DIP) phalanges: rigid bones whose keypoints barely slide
# with flexion (their summed length varies < 1 % over the model's poses, where wrist→MCP
# distances vary ±10 %), so their mean length is a pose-independent hand size.
SCALE_KEYPOINTS = tuple(int(k) for k in _LONG_FINGERS[:, :3].ravel())
# Chains for the curl, one row per finger: wrist → MCP → PIP → DIP → tip (bends at MCP, PIP,
# DIP), and the thumb's wrist → CMC → MCP → IP → tip, of which only the bends at MCP and IP
# count (the CMC's bend is mostly opposition, not curl): _BEND_WEIGHTS.
_CURL_CHAINS = np.array([[int(_K.WRIST), *FINGERS[f]] for f in FINGER_NAMES], np.intp)  # (5, 5)
_BEND_WEIGHTS = np.array([[0.0, 1.0, 1.0]] + [[1.0, 1.0, 1.0]] * 4)  # (5, 3)
CURL_KEYPOINTS: tuple[tuple[int, ...], ...] = tuple(tuple(int(k) for k in chain) for chain in _CURL_CHAINS)
INDEX_KEYPOINTS = tuple(int(k) for k in FINGERS["index"])
PALM_CENTRE_KEYPOINTS = (_K.WRIST,) + tuple(int(chain[0]) for chain in _LONG_FINGERS)
# Shorter than this (metres) a direction is undefined (coincident keypoints).
_MIN_LENGTH_M = 1e-6


def weakest(confidence: np.ndarray, keypoints: tuple[int, ...], valid: np.ndarray) -> np.ndarray:
    """(H, 21) [0, 1], the keypoints a value uses, (H,) bool → (H,) float64: their minimum, 0 where not valid."""
    return np.where(valid, confidence[:, list(keypoints)].min(axis=1), 0.0)


def _norm(vectors: np.ndarray) -> np.ndarray:
    """(..., 3) → (...) Euclidean length (NaN propagates)."""
    return np.sqrt(np.einsum("...i,...i->...", vectors, vectors))


def pinch_distance(points: np.ndarray) -> np.ndarray:
    """(H, 21, 3) m → (H,) m: thumb tip to index tip."""
    return _norm(points[:, _K.THUMB_TIP] - points[:, _K.INDEX_FINGER_TIP])


def hand_scale(points: np.ndarray) -> np.ndarray:
    """(H, 21, 3) m → (H,) m: mean length of the 8 proximal and middle phalanges of the long fingers."""
    bones = np.diff(points[:, _LONG_FINGERS[:, :3]], axis=2)  # (H, 4, 2, 3)
    return _norm(bones).mean(axis=(1, 2))


def grasp_aperture(points: np.ndarray) -> np.ndarray:
    """(H, 21, 3) m → (H,) m: thumb tip to the centroid of the other four fingertips."""
    tips = points[:, _LONG_FINGERS[:, -1]].mean(axis=1)  # (H, 3)
    return _norm(points[:, _K.THUMB_TIP] - tips)


def finger_curls(
    points: np.ndarray, finger_range_deg: tuple[float, float], thumb_range_deg: tuple[float, float]
) -> np.ndarray:
    """(H, 21, 3) m → (H, 5) in [0, 1] per finger (thumb … pinky): 0 straight, 1 fully curled.

    The sum of the chain's bend angles between keypoint segments, mapped linearly from
    ``(straight, curled)`` degrees.
    """
    chains = points[:, _CURL_CHAINS]  # (H, 5, 5, 3)
    segments = chains[:, :, 1:] - chains[:, :, :-1]  # (H, 5, 4, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = segments / _norm(segments)[..., None]  # coincident keypoints → NaN
    cosines = np.clip(np.einsum("hfsi,hfsi->hfs", unit[:, :, :-1], unit[:, :, 1:]), -1.0, 1.0)  # (H, 5, 3)
    bend_deg = np.degrees(np.einsum("hfs,fs->hf", np.arccos(cosines), _BEND_WEIGHTS))  # (H, 5)
    straight = np.array([thumb_range_deg[0]] + [finger_range_deg[0]] * 4)
    curled = np.array([thumb_range_deg[1]] + [finger_range_deg[1]] * 4)
    return np.clip((bend_deg - straight) / (curled - straight), 0.0, 1.0)  # NaN stays NaN


# Least-squares slope of four equally spaced samples: weights (i - 1.5) for i = 0..3, i.e.
# 1.5 (tip − MCP) + 0.5 (DIP − PIP); as noise-robust as a principal-axis fit, without the
# eigen-decomposition.
_RAY_WEIGHTS = np.array([-1.5, -0.5, 0.5, 1.5])


def pointing_ray(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, 21, 3) m → origin (H, 3) m at the index tip, direction (H, 3) unit vector.

    The direction is a line fit through the index finger's four keypoints (MCP, PIP, DIP, tip),
    which averages their noise, oriented towards the tip.
    """
    along = np.einsum("k,hki->hi", _RAY_WEIGHTS, points[:, list(INDEX_KEYPOINTS)])  # (H, 3)
    length = _norm(along)
    with np.errstate(invalid="ignore", divide="ignore"):
        direction = along / np.where(length > _MIN_LENGTH_M, length, np.nan)[:, None]
    return points[:, _K.INDEX_FINGER_TIP].copy(), direction


def palm_centre(points: np.ndarray) -> np.ndarray:
    """(H, 21, 3) m → (H, 3) m: mean of the wrist and the four finger MCPs."""
    return points[:, list(PALM_CENTRE_KEYPOINTS)].mean(axis=1)
