"""Aligned depth maps: conversion, checks, and robust depth of hand keypoints.

A depth map here is ``(H, W) float32 metres`` along the camera's optical axis (z, not the
range along the ray), registered to that camera's colour image (same size, same
intrinsics, as RealSense's ``aligned_depth_to_color``); NaN = no measurement. The ROS input
(``16UC1`` mm / ``32FC1`` m) and the offline loader (16-bit PNG, mm) both convert with
``depth_from_millimetres`` and check with ``check_depth``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MM_PER_M", "depth_from_millimetres", "check_depth"]

MM_PER_M = 1000.0


def depth_from_millimetres(raw: np.ndarray) -> np.ndarray:
    """(H, W) uint16 millimetres (0 = no measurement) → (H, W) float32 metres, NaN where 0.

    Raises:
        ValueError: ``raw`` is not a 2-D uint16 array.
    """
    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise ValueError(f"depth_from_millimetres: expected an (H, W) uint16 array of millimetres, "
                         f"got shape {raw.shape} dtype {raw.dtype}")
    depth = raw.astype(np.float32) / np.float32(MM_PER_M)
    depth[raw == 0] = np.nan
    return depth


def check_depth(depth: object, image_shape: tuple[int, ...], *, view: str) -> None:
    """Check one aligned depth map against its colour image.

    Args:
        depth: expected ``(H, W) float32`` metres, NaN = no measurement.
        image_shape: the colour image's shape, ``(H, W)`` or ``(H, W, C)``.
        view: the camera's name, for the message.
    Raises:
        ValueError: naming ``view`` and the problem: not an array, wrong dtype, a size other
            than the colour image's, no measurement at all (all NaN or all zero), values that
            are neither positive finite metres nor NaN (zero included: NaN means none).
    """
    where = f"depth of camera {view!r}"
    if not isinstance(depth, np.ndarray):
        raise ValueError(f"{where}: expected an (H, W) float32 array of metres, got {type(depth).__name__}")
    if depth.dtype != np.float32:
        raise ValueError(f"{where}: expected dtype float32 (metres; millimetres: depth_from_millimetres), "
                         f"got {depth.dtype}")
    expected = tuple(int(s) for s in image_shape[:2])
    if depth.shape != expected:
        raise ValueError(f"{where}: expected the colour image's size {expected} (aligned depth), got {depth.shape}")
    finite = np.isfinite(depth)
    if not finite.any():
        raise ValueError(f"{where}: no measurement (every pixel NaN or infinite)")
    values = depth[finite]
    negative = int((values < 0).sum() + np.isinf(depth).sum())
    if negative:
        raise ValueError(f"{where}: expected positive metres or NaN, got {negative} pixels negative or infinite")
    zero = int((values == 0).sum())
    if zero == values.size:
        raise ValueError(f"{where}: no measurement (every pixel zero)")
    if zero:
        raise ValueError(f"{where}: expected NaN for no measurement, got {zero} pixels at zero metres")
