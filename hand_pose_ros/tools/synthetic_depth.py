"""Aligned depth of the synthetic scenes' hands, from their known geometry, with sensor noise.

The hand is a union of spheres swept along its bones and palm links (radii interpolated
between the joints' own, ``HAND_RADII_M``), in front of a flat background; every pixel's ray
is intersected with it exactly. The noise is a RealSense-D4xx-like model (``DepthNoise``):
depth-proportional-squared Gaussian error, 1 mm quantisation (the 16-bit millimetre format),
random holes and invalidated pixels at depth edges. Returns what a camera driver sends:
``(H, W) uint16`` millimetres, 0 = none (``fusion.depth.depth_from_millimetres`` converts).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.keypoints import BONES, NUM_KEYPOINTS, PALM_LINKS, HandKeypoint

__all__ = ["DepthNoise", "HAND_RADII_M", "render_hand_depth"]

# Spheres per bone or palm link (ends included): close enough that the swept surface's
# ripple stays below 0.3 mm for these radii and ≤ 50 mm links.
_SPHERES_PER_LINK = 12


def _radii() -> np.ndarray:
    """(21,) m: the rendered hand's thickness / 2 at each keypoint, a slightly different hand
    from the fusion's offset model (``JOINT_BEHIND_SURFACE_M``): a test of the model, not of itself."""
    k = HandKeypoint
    mm = {k.WRIST: 22.0, k.THUMB_CMC: 16.0, k.THUMB_MCP: 11.0, k.THUMB_IP: 9.0, k.THUMB_TIP: 7.5}
    for finger, scale in (("INDEX_FINGER", 1.0), ("MIDDLE_FINGER", 1.05), ("RING_FINGER", 0.95), ("PINKY", 0.85)):
        mm.update({k[f"{finger}_MCP"]: 12.0 * scale, k[f"{finger}_PIP"]: 9.0 * scale, k[f"{finger}_DIP"]: 8.0 * scale,
                   k[f"{finger}_TIP"]: 6.5 * scale})
    out = np.zeros(NUM_KEYPOINTS)
    for keypoint, value in mm.items():
        out[int(keypoint)] = value / 1000.0
    return out


HAND_RADII_M = _radii()


@dataclasses.dataclass(frozen=True, kw_only=True)
class DepthNoise:
    """A RealSense D4xx-like depth error model (all zero: exact depth, still in whole mm).

    Attributes:
        stddev_at_1m_m: Gaussian 1σ at 1 m; it grows with the depth squared (stereo).
        hole_rate: fraction of pixels without a measurement, anywhere.
        edge_hole_rate: fraction of pixels next to a depth jump > ``edge_jump_m`` dropped.
        edge_jump_m: a neighbour this much further or nearer makes a pixel an edge.
        background_m: depth of the flat background behind the hands (0: none, no measurement).
    """

    stddev_at_1m_m: float = 0.004
    hole_rate: float = 0.02
    edge_hole_rate: float = 0.5
    edge_jump_m: float = 0.03
    background_m: float = 1.8


def _spheres(hands_camera: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, 21, 3) m camera frame → (S, 3) centres, (S,) radii along every bone and palm link."""
    links = np.array(tuple(BONES) + tuple((int(a), int(b)) for a, b in PALM_LINKS))  # (L, 2)
    s = np.linspace(0.0, 1.0, _SPHERES_PER_LINK)[:, None]  # (n, 1)
    centres, sizes = [], []
    for hand in hands_camera:
        if not np.isfinite(hand).all():
            continue
        a, b = hand[links[:, 0]], hand[links[:, 1]]  # (L, 3)
        centres.append((a[:, None] * (1 - s) + b[:, None] * s).reshape(-1, 3))
        sizes.append((radii[links[:, 0], None] * (1 - s[:, 0]) + radii[links[:, 1], None] * s[:, 0]).reshape(-1))
    if not centres:
        return np.zeros((0, 3)), np.zeros(0)
    return np.concatenate(centres), np.concatenate(sizes)


def render_hand_depth(camera: CameraCalibration, hands_world: np.ndarray, rng: np.random.Generator, *,
                      noise: DepthNoise = DepthNoise(), radii_m: np.ndarray = HAND_RADII_M) -> np.ndarray:
    """(H, 21, 3) m world joints seen by ``camera`` → its aligned depth, ``(height, width)``
    uint16 millimetres along the optical axis, 0 = no measurement.

    Pixel rays are those of the undistorted pinhole (the synthetic cameras' distortion moves
    the colour pixels by a few px at the edges; the hands sit near the image centre).
    """
    R, t = camera.camera_T_world[:3, :3], camera.camera_T_world[:3, 3]
    hands_camera = np.asarray(hands_world, np.float64) @ R.T + t  # (H, 21, 3)
    depth = np.full((camera.height, camera.width), noise.background_m, np.float64)
    centres, radii = _spheres(hands_camera, radii_m)  # traced one by one over its own image box
    K = camera.camera_matrix
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    for c, r in zip(centres, radii):
        if c[2] <= r:
            continue  # touching or behind the camera: not in view
        # The sphere's image lies within its centre's projection ± f·r / (z − r) (+1 px).
        u, v, reach = fx * c[0] / c[2] + cx, fy * c[1] / c[2] + cy, fx * r / (c[2] - r) + 1.0
        x0, x1 = max(0, int(u - reach)), min(camera.width, int(u + reach) + 2)
        y0, y1 = max(0, int(v - reach)), min(camera.height, int(v + reach) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        rx = (np.arange(x0, x1) - cx) / fx  # (w,) ray x at z = 1
        ry = (np.arange(y0, y1) - cy) / fy  # (h,)
        aa = 1.0 + rx[None, :] ** 2 + ry[:, None] ** 2  # (h, w) |ray|², ray = (rx, ry, 1)
        b = rx[None, :] * c[0] + ry[:, None] * c[1] + c[2]  # (h, w) ray · c
        disc = b * b - aa * (c @ c - r * r)
        hit = disc >= 0
        z = np.where(hit, (b - np.sqrt(np.where(hit, disc, 0.0))) / aa, np.inf)  # ray parameter = depth z
        region = depth[y0:y1, x0:x1]
        np.minimum(region, z, out=region)
    depth = depth + rng.normal(0.0, 1.0, depth.shape) * noise.stddev_at_1m_m * depth * depth
    holes = rng.random(depth.shape) < noise.hole_rate
    jump = np.zeros(depth.shape, bool)
    jump[:, 1:] |= np.abs(np.diff(depth, axis=1)) > noise.edge_jump_m
    jump[:, :-1] |= np.abs(np.diff(depth, axis=1)) > noise.edge_jump_m
    jump[1:] |= np.abs(np.diff(depth, axis=0)) > noise.edge_jump_m
    jump[:-1] |= np.abs(np.diff(depth, axis=0)) > noise.edge_jump_m
    holes |= jump & (rng.random(depth.shape) < noise.edge_hole_rate)
    holes |= depth <= 0  # no background (background_m 0)
    millimetres = np.clip(np.round(depth * 1000.0), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    millimetres[holes] = 0
    return millimetres
