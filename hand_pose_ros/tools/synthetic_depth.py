"""Aligned depth of the synthetic scenes' hands, from their known geometry, with sensor noise.

The hand is a union of spheres swept along its bones and palm links (radii interpolated
between the joints' own, ``HAND_RADII_M``), in front of a flat background; every pixel's ray
is intersected with it exactly. The sensor is the project's one RealSense-like model, ``synth.depth.realsense_depth``
(noise, shadows, edge, grazing and dropout holes), then 1 mm steps. Returns what a camera driver sends:
``(H, W) uint16`` millimetres, 0 = none (``fusion.depth.depth_from_millimetres`` converts).
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.synth.depth import DepthNoiseConfig, depth_to_millimetres, realsense_depth
from hand_pose_ros.keypoints import BONES, NUM_KEYPOINTS, PALM_LINKS, HandKeypoint

__all__ = ["BACKGROUND_M", "HAND_RADII_M", "render_hand_depth"]

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


# The flat background behind the synthetic scenes' hands (m along each camera's axis): beyond
# their 0.5-1 m working distances, inside a D4xx's range.
BACKGROUND_M = 1.8


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
                      noise: DepthNoiseConfig | None = DepthNoiseConfig(), background_m: float = BACKGROUND_M,
                      radii_m: np.ndarray = HAND_RADII_M) -> np.ndarray:
    """(H, 21, 3) m world joints seen by ``camera`` → its aligned depth, ``(height, width)``
    uint16 millimetres along the optical axis, 0 = no measurement. ``noise`` None: the exact
    depth (still in whole mm), the hands before a wall at ``background_m``.

    Pixel rays are those of the undistorted pinhole (the synthetic cameras' distortion moves
    the colour pixels by a few px at the edges; the hands sit near the image centre).
    """
    R, t = camera.camera_T_world[:3, :3], camera.camera_T_world[:3, 3]
    hands_camera = np.asarray(hands_world, np.float64) @ R.T + t  # (H, 21, 3)
    depth = np.full((camera.height, camera.width), background_m, np.float64)
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
    if noise is not None:
        depth = realsense_depth(depth, K, rng, background_m=background_m, config=noise)
    return depth_to_millimetres(depth)
