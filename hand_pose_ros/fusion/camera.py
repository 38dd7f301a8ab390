"""Vectorized camera models: projection and point undistortion for a rig of V cameras.

Distortion follows ``sensor_msgs/CameraInfo`` (and OpenCV): ``none``, ``plumb_bob``
(k1, k2, p1, p2, k3), ``rational_polynomial`` (k1, k2, p1, p2, k3, k4, k5, k6) and
``equidistant`` (k1, k2, k3, k4; OpenCV's fisheye model). plumb_bob and none are the
rational model with the missing coefficients zero, so all three share one code path.

Coordinates: "normalized" points are undistorted ``(X/Z, Y/Z)`` in the camera optical frame
(x right, y down, z forward); pixels have their origin at the centre of the top-left pixel.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from hand_pose_ros.calibration import Rig
from hand_pose_ros.types import check_shape

__all__ = ["CameraArray", "distort_normalized", "undistort_normalized"]

# The rational model's 8 coefficients in CameraInfo/OpenCV order.
_RATIONAL_COEFFS = 8
# Undistortion is solved by fixed-point / Newton iteration; stop when the update is below
# this (normalized units: 6e-5 px at f = 600 px, far below any detector's noise), checking
# from the third iteration on, or after this many steps.
_UNDISTORT_TOL = 1e-7
_FIRST_CHECK = 2
_UNDISTORT_MAX_ITER = 40
# Points closer than this to the camera plane (metres) are behind/at the camera: NaN.
_MIN_DEPTH = 1e-6


def _rational_factors(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radial factor and tangential offsets; x, y (V, N), d (V, 8) → three (V, N) arrays."""
    k1, k2, p1, p2, k3, k4, k5, k6 = (d[:, i : i + 1] for i in range(_RATIONAL_COEFFS))
    r2 = x * x + y * y
    r4 = r2 * r2
    r6 = r4 * r2
    radial = (1.0 + k1 * r2 + k2 * r4 + k3 * r6) / (1.0 + k4 * r2 + k5 * r4 + k6 * r6)
    dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return radial, dx, dy


def _fisheye_theta_d(theta: np.ndarray, d: np.ndarray) -> np.ndarray:
    """θd = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸); theta (V, N), d (V, 4)."""
    t2 = theta * theta
    k1, k2, k3, k4 = (d[:, i : i + 1] for i in range(4))
    return theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))


def distort_normalized(xy: np.ndarray, rational: np.ndarray, fisheye: np.ndarray, is_fisheye: np.ndarray) -> np.ndarray:
    """(V, N, 2) normalized undistorted → (V, N, 2) normalized distorted coordinates.

    Args:
        rational: (V, 8) rational-model coefficients (zeros for none).
        fisheye: (V, 4) equidistant coefficients, used where ``is_fisheye`` (V,) is true.
    """
    x, y = xy[..., 0], xy[..., 1]
    out = np.empty_like(xy)
    radial, dx, dy = _rational_factors(x, y, rational)
    out[..., 0] = x * radial + dx
    out[..., 1] = y * radial + dy
    if is_fisheye.any():
        fx, fy, fd = x[is_fisheye], y[is_fisheye], fisheye[is_fisheye]
        r = np.hypot(fx, fy)
        theta = np.arctan(r)
        scale = np.where(r > 0, _fisheye_theta_d(theta, fd) / np.where(r > 0, r, 1.0), 1.0)
        out[is_fisheye] = np.stack([fx * scale, fy * scale], axis=-1)
    return out


def undistort_normalized(xy_d: np.ndarray, rational: np.ndarray, fisheye: np.ndarray, is_fisheye: np.ndarray) -> np.ndarray:
    """(V, N, 2) normalized distorted → (V, N, 2) normalized undistorted (inverse of ``distort_normalized``)."""
    out = xy_d.copy()
    radtan = ~is_fisheye & (rational != 0).any(axis=1)  # (V,)
    if radtan.any():
        # Only seen points are iterated (M of them, flattened); a point with a NaN coordinate is missing.
        finite = np.isfinite(xy_d).all(-1)  # (V, N)
        out[radtan[:, None] & ~finite] = np.nan
        rows, cols = np.nonzero(radtan[:, None] & finite)  # (M,) each
        # Complex form, both coordinates per operation: z = x + iy; with P = p2 + i p1 the
        # tangential term is conj(P) z² + 2 |z|² P. Fixed point as OpenCV's undistortPoints:
        # z = (z_d − tangential(z)) / radial(|z|²).
        d = rational[rows]  # (M, 8)
        seen = xy_d[rows, cols]  # (M, 2): one gather for both coordinates
        zd = seen[:, 0] + 1j * seen[:, 1]  # (M,)
        k1, k2, p1, p2, k3, k4, k5, k6 = d.T
        i_p1 = 1j * p1
        P_conj, P2 = p2 - i_p1, 2.0 * (p2 + i_p1)
        has_denominator = bool((d[:, 5:] != 0).any())
        z = zd
        for it in range(_UNDISTORT_MAX_ITER):
            r2 = z.real * z.real + z.imag * z.imag
            radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
            if has_denominator:
                radial = radial / (1.0 + r2 * (k4 + r2 * (k5 + r2 * k6)))
            z_new = (zd - P_conj * (z * z) - P2 * r2) / radial
            # (np.maximum.reduce is ndarray.max without its Python wrapper.)
            done = it >= _FIRST_CHECK and np.maximum.reduce(np.abs(z_new - z), initial=0.0) < _UNDISTORT_TOL
            z = z_new
            if done:
                break
        # A complex array read as its real dtype is its (real, imaginary) pairs: one scatter for both.
        out[rows, cols] = np.ascontiguousarray(z).view(z.real.dtype).reshape(-1, 2)
    if is_fisheye.any():
        fxd, d = xy_d[is_fisheye], fisheye[is_fisheye]
        theta_d = np.hypot(fxd[..., 0], fxd[..., 1])
        theta = theta_d.copy()
        # Newton on f(θ) = θ (1 + k1 θ² + …) − θd.
        k1, k2, k3, k4 = (d[:, i : i + 1] for i in range(4))
        for _ in range(_UNDISTORT_MAX_ITER):
            t2 = theta * theta
            deriv = 1.0 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))
            step = (_fisheye_theta_d(theta, d) - theta_d) / deriv
            theta = theta - step
            if np.nanmax(np.abs(step), initial=0.0) < _UNDISTORT_TOL:
                break
        scale = np.where(theta_d > 0, np.tan(theta) / np.where(theta_d > 0, theta_d, 1.0), 1.0)
        out[is_fisheye] = fxd * scale[..., None]
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class CameraArray:
    """The rig's V cameras stacked for batched maths (build with ``from_rig``).

    Attributes:
        names: camera names in rig order.
        K: (V, 3, 3) float64 intrinsics, pixels.
        camera_T_world: (V, 4, 4) float64 world → camera optical frame, metres.
        rational: (V, 8) rational-model coefficients (zeros for none / equidistant).
        fisheye: (V, 4) equidistant coefficients (zeros otherwise).
        is_fisheye: (V,) bool.
        image_size: (V, 2) int width, height in pixels.
    """

    names: tuple[str, ...]
    K: np.ndarray
    camera_T_world: np.ndarray
    rational: np.ndarray
    fisheye: np.ndarray
    is_fisheye: np.ndarray
    image_size: np.ndarray

    @classmethod
    def from_rig(cls, rig: Rig) -> "CameraArray":
        V = len(rig)
        rational = np.zeros((V, _RATIONAL_COEFFS))
        fisheye = np.zeros((V, 4))
        is_fisheye = np.zeros(V, bool)
        for v, cam in enumerate(rig.cameras):
            if cam.distortion_model == "equidistant":
                fisheye[v] = cam.distortion
                is_fisheye[v] = True
            elif cam.distortion.size:
                rational[v, : cam.distortion.size] = cam.distortion
        return cls(
            names=tuple(rig.names),
            K=np.stack([c.camera_matrix for c in rig.cameras]),
            camera_T_world=np.stack([c.camera_T_world for c in rig.cameras]),
            rational=rational,
            fisheye=fisheye,
            is_fisheye=is_fisheye,
            image_size=np.array([[c.width, c.height] for c in rig.cameras]),
        )

    def __len__(self) -> int:
        return len(self.names)

    def select(self, views: np.ndarray) -> "CameraArray":
        """The cameras ``views`` ((A,) int rig indices), in that order, as a new A-camera array."""
        views = np.asarray(views, int)
        return CameraArray(
            names=tuple(self.names[v] for v in views.tolist()), K=self.K[views], camera_T_world=self.camera_T_world[views],
            rational=self.rational[views], fisheye=self.fisheye[views], is_fisheye=self.is_fisheye[views],
            image_size=self.image_size[views],
        )

    @functools.cached_property
    def focal(self) -> np.ndarray:
        """(V,) mean focal length in pixels (converts normalized errors to pixels)."""
        return 0.5 * (self.K[:, 0, 0] + self.K[:, 1, 1])

    @functools.cached_property
    def centers(self) -> np.ndarray:
        """(V, 3) camera centres in the world frame, metres."""
        R, t = self.camera_T_world[:, :3, :3], self.camera_T_world[:, :3, 3]
        return -(t[:, None, :] @ R)[:, 0]

    @functools.cached_property
    def _distorts(self) -> bool:
        """Some camera has a distortion coefficient other than zero (else distorting leaves
        every finite point where it is: radial factor exactly 1, tangential terms 0)."""
        return bool(self.is_fisheye.any() or self.rational.any())

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) or (V, N, 3) world points, metres → (V, N, 3) in each camera's optical frame."""
        R, t = self.camera_T_world[:, :3, :3], self.camera_T_world[:, :3, 3]
        return points @ R.transpose(0, 2, 1) + t[:, None, :]

    @functools.cached_property
    def _stacked_extrinsics(self) -> tuple[np.ndarray, np.ndarray]:
        """(3, 3V) [R_0ᵀ | R_1ᵀ | …] and (3V,) [t_0, t_1, …]: ``X @ R + t`` is X in every camera."""
        R, t = self.camera_T_world[:, :3, :3], self.camera_T_world[:, :3, 3]
        return R.transpose(2, 0, 1).reshape(3, -1), t.reshape(-1)

    def to_every_camera(self, points: np.ndarray) -> np.ndarray:
        """(…, N, 3) world points, metres → (…, N, V, 3) in every camera's optical frame.

        One matrix product for all cameras (faster than ``to_camera`` on many small batches).
        """
        R, t = self._stacked_extrinsics
        return (points @ R + t).reshape(points.shape[:-1] + (len(self), 3))

    def normalized_to_pixels(self, xy: np.ndarray, distort: bool = True) -> np.ndarray:
        """(V, N, 2) normalized → (V, N, 2) pixels (distorted by each camera's model if ``distort``)."""
        if distort and self._distorts:
            xy = distort_normalized(xy, self.rational, self.fisheye, self.is_fisheye)
        K = self.K
        u = K[:, None, 0, 0] * xy[..., 0] + K[:, None, 0, 1] * xy[..., 1] + K[:, None, 0, 2]
        v = K[:, None, 1, 1] * xy[..., 1] + K[:, None, 1, 2]
        return np.stack([u, v], axis=-1)

    def pixels_to_normalized(self, pixels: np.ndarray, views: np.ndarray | None = None) -> np.ndarray:
        """(V, N, 2) distorted pixels → (V, N, 2) undistorted normalized coordinates; NaN stays NaN.

        With ``views`` ((M,) camera index per row), ``pixels`` is (M, N, 2): row m seen by camera views[m].
        """
        if views is None:
            views = np.arange(len(self))
            pixels = check_shape("pixels", pixels, (len(self), None, 2), "CameraArray.pixels_to_normalized")
        K = self.K[views]
        xy_d = np.empty(pixels.shape)  # (…, 2) filled in place: np.stack's result without its wrapper
        yd = xy_d[..., 1]
        np.divide(pixels[..., 1] - K[:, None, 1, 2], K[:, None, 1, 1], out=yd)
        xy_d[..., 0] = (pixels[..., 0] - K[:, None, 0, 2] - K[:, None, 0, 1] * yd) / K[:, None, 0, 0]
        return undistort_normalized(xy_d, self.rational[views], self.fisheye[views], self.is_fisheye[views])

    def project(self, points: np.ndarray, distort: bool = True) -> np.ndarray:
        """(N, 3) or (V, N, 3) world points, metres → (V, N, 2) pixels; NaN behind a camera."""
        cam = self.to_camera(np.asarray(points, np.float64))
        z = cam[..., 2]
        z = np.where(z > _MIN_DEPTH, z, np.nan)
        return self.normalized_to_pixels(cam[..., :2] / z[..., None], distort)
