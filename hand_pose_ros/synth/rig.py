"""Virtual camera rigs: realistic intrinsics placed on ring, hemisphere or two-facing layouts.

World frame REP 103 (x forward, y left, z up), metres. Cameras look at a workspace centre
where the hands move; the returned ``Rig`` is what ``save_calibration`` writes.
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.calibration import CameraCalibration, Rig, look_at

__all__ = ["LAYOUTS", "WORKSPACE_CENTRE", "make_rig"]

LAYOUTS = ("ring", "hemisphere", "two-facing")
# Where the hands move: about a table top's height above the floor, metres.
WORKSPACE_CENTRE = np.array([0.0, 0.0, 1.0])
# Camera distance to the workspace centre: hands (±0.15 m around it) stay 0.3–0.7 m away.
_DISTANCE_RANGE_M = (0.48, 0.58)
# Horizontal field of view of webcam-like lenses, degrees.
_HFOV_RANGE_DEG = (55.0, 68.0)
# Principal point scatter around the image centre, pixels (typical factory calibration).
_PRINCIPAL_JITTER_PX = 6.0
# Mild barrel distortion of such lenses (plumb_bob k1, k2, p1, p2, k3) when asked for.
_DISTORTION_SCALE = np.array([-0.08, 0.03, 0.0005, 0.0005, 0.0])
_RING_ELEVATION_DEG = (10.0, 30.0)  # cameras look slightly down at the hands
_AZIMUTH_JITTER_DEG = 8.0
_HEMISPHERE_ELEVATION_DEG = (5.0, 60.0)
_TWO_FACING_SPREAD_DEG = 30.0  # azimuth spread of each facing group


def _directions(layout: str, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """(azimuth, elevation) in degrees for each camera."""
    start = rng.uniform(0.0, 360.0)
    if layout == "ring":
        return [
            (start + 360.0 * i / n + rng.uniform(-1, 1) * _AZIMUTH_JITTER_DEG, rng.uniform(*_RING_ELEVATION_DEG))
            for i in range(n)
        ]
    if layout == "hemisphere":
        low, high = _HEMISPHERE_ELEVATION_DEG
        golden = 180.0 * (3.0 - np.sqrt(5.0))  # golden angle: even spread on the sphere
        return [
            (start + golden * i, np.degrees(np.arcsin(np.sin(np.radians(low)) + (i + 0.5) / n * (np.sin(np.radians(high)) - np.sin(np.radians(low))))))
            for i in range(n)
        ]
    if layout == "two-facing":
        out = []
        for i in range(n):
            group, k = i % 2, i // 2
            per_group = (n - group + 1) // 2
            offset = 0.0 if per_group == 1 else _TWO_FACING_SPREAD_DEG * (k / (per_group - 1) - 0.5) * 2
            out.append((start + 180.0 * group + offset, rng.uniform(*_RING_ELEVATION_DEG)))
        return out
    raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")


def make_rig(
    *,
    num_cameras: int,
    layout: str = "ring",
    rng: np.random.Generator,
    width: int = 640,
    height: int = 480,
    distortion: bool = False,
    target: np.ndarray = WORKSPACE_CENTRE,
) -> Rig:
    """Cameras ``cam0..cam{N-1}`` around ``target`` (metres, world frame), deterministic from ``rng``.

    Raises:
        ValueError: unknown layout, or fewer than 1 camera.
    """
    if num_cameras < 1:
        raise ValueError(f"num_cameras must be at least 1, got {num_cameras}")
    cameras = []
    for i, (azimuth, elevation) in enumerate(_directions(layout, num_cameras, rng)):
        az, el = np.radians(azimuth), np.radians(elevation)
        direction = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        position = target + rng.uniform(*_DISTANCE_RANGE_M) * direction
        fx = (width / 2.0) / np.tan(np.radians(rng.uniform(*_HFOV_RANGE_DEG)) / 2.0)
        K = np.array([
            [fx, 0.0, (width - 1) / 2.0 + rng.uniform(-1, 1) * _PRINCIPAL_JITTER_PX],
            [0.0, fx, (height - 1) / 2.0 + rng.uniform(-1, 1) * _PRINCIPAL_JITTER_PX],
            [0.0, 0.0, 1.0],
        ])
        cameras.append(
            CameraCalibration(
                name=f"cam{i}",
                frame_id=f"cam{i}_optical_frame",
                width=width,
                height=height,
                camera_matrix=K,
                distortion_model="plumb_bob",
                distortion=_DISTORTION_SCALE * rng.uniform(0.5, 1.0) if distortion else np.zeros(5),
                world_T_camera=look_at(position, target),
            )
        )
    return Rig(cameras=tuple(cameras), world_frame="world")
