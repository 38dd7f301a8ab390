"""RealSense-like aligned depth for the synthetic rig: the one noise and hole model (``realsense_depth``).

A clean depth map (the renderer's, ``RenderedView.depth``: metres along the optical axis,
registered to the colour image) becomes what an active-stereo camera such as the Intel
RealSense D435 publishes on ``aligned_depth_to_color``. The model, in order (numbers in
``DepthNoiseConfig``, from Intel's D400 datasheet and its depth-quality white paper):

1. **Scene**: pixels without a hand or forearm see a fronto-parallel wall at ``background_m``
   (``wall_depth``: the workspace centre's depth plus ``WALL_BEHIND_CENTRE_M``), so the hand
   has depth edges against something, as in a room.
2. **Noise**: stereo depth ``z = f·b/d`` with a disparity error of ``subpixel_rms_px`` gives
   ``σ_z = z² · subpixel_rms_px / (depth_focal_px · baseline_m)`` (``depth_noise_stddev``):
   quadratic in distance, ≈1.0 mm at 0.5 m, 4.2 mm at 1 m, 17 mm at 2 m (0.8 %; the datasheet
   promises < 2 % at 2 m). Stereo matching windows make it spatially correlated: white noise
   blurred by a Gaussian of ``noise_correlation_px`` and rescaled to unit variance.
3. **Occlusion shadows**: the far surface that the second imager (``baseline_m`` to the right
   of the reference one) cannot see is invalid: background pixel ``x`` is shadowed when some
   pixel ``x + k`` to its right has a disparity larger by at least ``k``. On D400 cameras this
   is the band to the left of a near object, ``f·b·(1/z_near − 1/z_far)`` pixels wide.
4. **Edges and grazing surfaces**: within ``edge_px`` of a jump larger than ``edge_jump_m``
   a pixel is a hole with probability ``edge_hole_probability`` (the left-right check throws
   out mixed "flying" pixels); a surface seen at more than ``grazing_angle_deg`` from its
   normal is a hole with probability ``grazing_hole_probability``.
5. **Dropouts**: any pixel is a hole with probability ``dropout_probability`` (specular
   spots, low texture), and nothing outside ``min_depth_m``..``max_depth_m`` is measured.

The result is ``(H, W) float32`` metres, NaN = hole, as ``fusion.depth`` expects; written as a
16-bit PNG / ``16UC1`` message by ``depth_to_millimetres`` (1 mm steps, 0 = none).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.checks import check_number
from hand_pose_ros.fusion.depth import MM_PER_M

__all__ = ["DepthNoiseConfig", "depth_noise_stddev", "realsense_depth", "wall_depth", "depth_to_millimetres", "WALL_BEHIND_CENTRE_M"]

# The wall behind the hands: this far behind the workspace centre along each camera's axis
# (cameras stand 0.48-0.58 m from the centre, so the wall is ≈1.1 m away, like a room's).
WALL_BEHIND_CENTRE_M = 0.6
# Largest disparity difference (px) searched for occlusion shadows: a hand at 0.2 m before a
# wall at 6 m with a 640-px focal length and 50 mm baseline is 155 px; more is never reached here.
_MAX_SHADOW_PX = 160
_UINT16_MAX_MM = np.iinfo(np.uint16).max


@dataclasses.dataclass(frozen=True, kw_only=True)
class DepthNoiseConfig:
    """The depth camera model (defaults: a RealSense D435 at 640×480; see the module docstring).

    Attributes:
        baseline_m: distance between the stereo imagers (D435: 50 mm).
        depth_focal_px: the depth imager's focal length in its pixels (D435 at 640×480: ≈382).
        subpixel_rms_px: disparity noise, RMS (datasheet: 0.08 on a textured flat target).
        noise_correlation_px: Gaussian σ of the noise's spatial correlation (matching window).
        min_depth_m, max_depth_m: measured range (D435 at 640×480: min-Z ≈0.2 m; 6 m usable).
        edge_jump_m: a depth step larger than this between neighbours is an edge.
        edge_px: pixels either side of an edge that may be holes.
        edge_hole_probability: per edge pixel.
        grazing_angle_deg: angle between viewing ray and surface normal beyond which a surface grazes.
        grazing_hole_probability: per grazing pixel.
        dropout_probability: per pixel, anywhere.
    """

    baseline_m: float = 0.050
    depth_focal_px: float = 382.0
    subpixel_rms_px: float = 0.08
    noise_correlation_px: float = 1.0
    min_depth_m: float = 0.2
    max_depth_m: float = 6.0
    edge_jump_m: float = 0.02
    edge_px: int = 1
    edge_hole_probability: float = 0.5
    grazing_angle_deg: float = 75.0
    grazing_hole_probability: float = 0.8
    dropout_probability: float = 0.005

    def __post_init__(self) -> None:
        name = "DepthNoiseConfig"
        for field in ("baseline_m", "depth_focal_px", "min_depth_m", "edge_jump_m"):
            check_number(f"{name}.{field}", getattr(self, field), low=0, low_open=True)
        for field in ("subpixel_rms_px", "noise_correlation_px"):
            check_number(f"{name}.{field}", getattr(self, field), low=0)
        check_number(f"{name}.max_depth_m", self.max_depth_m, low=self.min_depth_m, low_open=True)
        check_number(f"{name}.edge_px", self.edge_px, integer=True, low=0)
        check_number(f"{name}.grazing_angle_deg", self.grazing_angle_deg, low=0, high=90)
        for field in ("edge_hole_probability", "grazing_hole_probability", "dropout_probability"):
            check_number(f"{name}.{field}", getattr(self, field), low=0, high=1)


def depth_noise_stddev(depth_m: np.ndarray | float, config: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """Depth noise σ (metres) at depth ``depth_m`` (metres, any shape): ``z² · s / (f · b)``."""
    z = np.asarray(depth_m, dtype=np.float64)
    return z * z * config.subpixel_rms_px / (config.depth_focal_px * config.baseline_m)


def wall_depth(camera: CameraCalibration, centre: np.ndarray) -> float:
    """Depth (m, along ``camera``'s optical axis) of the wall behind the world point ``centre`` (3,)."""
    camera_T_world = np.linalg.inv(camera.world_T_camera)
    return float((camera_T_world[:3, :3] @ np.asarray(centre, np.float64) + camera_T_world[:3, 3])[2]) + WALL_BEHIND_CENTRE_M


def realsense_depth(
    clean_m: np.ndarray,
    camera_matrix: np.ndarray,
    rng: np.random.Generator,
    *,
    background_m: float,
    config: DepthNoiseConfig = DepthNoiseConfig(),
) -> np.ndarray:
    """A clean aligned depth map → what a RealSense-like camera measures (module docstring).

    Args:
        clean_m: (H, W) metres along the optical axis; 0 or NaN where no surface was rendered
            (the wall at ``background_m`` is put there).
        camera_matrix: (3, 3) K of the colour image the map is registered to (pixel geometry
            of shadows and grazing angles).
        rng: draws the noise and the holes.
        background_m: depth of the wall, metres (``wall_depth``).
    Returns:
        (H, W) float32 metres, NaN = no measurement.
    Raises:
        ValueError: ``clean_m`` not 2-D, ``camera_matrix`` not (3, 3), ``background_m`` not > 0.
    """
    clean = np.asarray(clean_m, dtype=np.float64)
    K = np.asarray(camera_matrix, dtype=np.float64)
    if clean.ndim != 2:
        raise ValueError(f"realsense_depth: clean_m must be (H, W) metres, got shape {clean.shape}")
    if K.shape != (3, 3):
        raise ValueError(f"realsense_depth: camera_matrix must be (3, 3), got {K.shape}")
    check_number("realsense_depth: background_m", background_m, low=0, low_open=True)
    z = np.where(np.isfinite(clean) & (clean > 0), clean, background_m)  # (H, W) m, every pixel a surface
    holes = _occlusion_shadow(z, K[0, 0] * config.baseline_m)
    holes |= _near_edges(z, config) & (rng.random(z.shape) < config.edge_hole_probability)
    holes |= _grazing(z, K, config) & (rng.random(z.shape) < config.grazing_hole_probability)
    holes |= rng.random(z.shape) < config.dropout_probability
    noisy = z + depth_noise_stddev(z, config) * _correlated_noise(z.shape, config.noise_correlation_px, rng)
    holes |= (noisy < config.min_depth_m) | (noisy > config.max_depth_m)
    return np.where(holes, np.nan, noisy).astype(np.float32)


def depth_to_millimetres(depth_m: np.ndarray) -> np.ndarray:
    """(H, W) float metres, NaN = none → (H, W) uint16 millimetres, 0 = none (16UC1 / 16-bit PNG);
    the inverse of ``fusion.depth.depth_from_millimetres`` up to the 1 mm step.

    Raises:
        ValueError: a finite depth that does not fit 1..65535 mm.
    """
    depth = np.asarray(depth_m, dtype=np.float64)
    mm = np.round(np.nan_to_num(depth, nan=0.0) * MM_PER_M)
    measured = np.isfinite(depth)
    if np.any(measured & ((mm < 1) | (mm > _UINT16_MAX_MM))):
        raise ValueError(f"depth_to_millimetres: depths must lie in 1..{_UINT16_MAX_MM} mm, got "
                         f"{np.nanmin(depth) * MM_PER_M:.1f}..{np.nanmax(depth) * MM_PER_M:.1f} mm")
    return np.where(measured, mm, 0).astype(np.uint16)


def _correlated_noise(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float64 Gaussian noise of unit variance, correlated over ``sigma_px`` pixels."""
    white = rng.standard_normal(shape)
    if sigma_px == 0:
        return white
    # A unit-sum 2-D Gaussian of σ keeps 1 / (4π σ²) of white noise's variance: scale back.
    return cv2.GaussianBlur(white, (0, 0), sigma_px) * (2.0 * np.sqrt(np.pi) * sigma_px)


def _occlusion_shadow(z: np.ndarray, focal_baseline: float) -> np.ndarray:
    """(H, W) bool: pixels the second imager (to the right) cannot see. ``focal_baseline``: f·b, px·m."""
    disparity = focal_baseline / z  # (H, W) px
    reach = min(int(np.ceil(disparity.max() - disparity.min())), _MAX_SHADOW_PX, z.shape[1] - 1)
    shadow = np.zeros(z.shape, dtype=bool)
    for k in range(1, reach + 1):  # pixel x is hidden by x + k when its disparity is ≥ k larger
        shadow[:, :-k] |= disparity[:, k:] - disparity[:, :-k] >= k
    return shadow


def _near_edges(z: np.ndarray, config: DepthNoiseConfig) -> np.ndarray:
    """(H, W) bool: within ``edge_px`` of a step larger than ``edge_jump_m`` between 4-neighbours."""
    edge = np.zeros(z.shape, dtype=bool)
    if config.edge_px == 0:
        return edge
    step_x = np.abs(np.diff(z, axis=1)) > config.edge_jump_m
    step_y = np.abs(np.diff(z, axis=0)) > config.edge_jump_m
    edge[:, 1:] |= step_x
    edge[:, :-1] |= step_x
    edge[1:, :] |= step_y
    edge[:-1, :] |= step_y
    if config.edge_px > 1:
        size = 2 * config.edge_px - 1
        edge = cv2.dilate(edge.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
    return edge


def _grazing(z: np.ndarray, K: np.ndarray, config: DepthNoiseConfig) -> np.ndarray:
    """(H, W) bool: the surface's normal is more than ``grazing_angle_deg`` from the viewing ray."""
    height, width = z.shape
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1)  # (H, W, 3)
    points = rays * z[..., None]  # (H, W, 3) m, camera frame
    normal = np.cross(np.gradient(points, axis=1), np.gradient(points, axis=0))  # (H, W, 3)
    cos = np.abs(np.sum(normal * rays, axis=-1)) / np.maximum(np.linalg.norm(normal, axis=-1) * np.linalg.norm(rays, axis=-1), 1e-12)
    return cos < np.cos(np.radians(config.grazing_angle_deg))
