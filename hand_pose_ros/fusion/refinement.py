"""Nonlinear refinement of triangulated joints: robust reprojection + bone-length consistency.

Minimises, over the joints of all hands at once,
``Σ_v,n ρ(|f_v (π_v(X_n) − x_vn)|) + Σ_bones (λ (|X_c − X_p| − L))²`` with ρ Huber, by
block-Jacobi Gauss-Newton: one 3×3 system per joint per iteration, batched (no loop over
joints). Bone targets ``L`` are the track's learned bone lengths (NaN: no term). With
measured joint depths ``d_vn`` (aligned depth maps, ``fusion.depth``) each adds
``ρ_d(μ (z_v(X_n) − d_vn))``, ρ_d Huber too: one more witness per view.
"""

from __future__ import annotations

import functools

import numpy as np

from hand_pose_ros.fusion.camera import CameraArray

__all__ = ["refine_points", "bone_lengths"]

# Points nearer than this to a camera plane (metres) contribute no reprojection term.
_MIN_DEPTH = 1e-3
# Levenberg damping relative to each joint's Hessian trace keeps the 3×3 solves well posed.
_DAMPING = 1e-6
# Block-Jacobi moves both ends of a bone at once: doubling the bone curvature avoids overshoot.
_JACOBI_BONE_FACTOR = 2.0
_EYE3 = np.eye(3)
_EYE3.flags.writeable = False
# Bone incidence matrices kept (refine_points): the sets of bones of the frames' hands (a
# couple of hand counts, each with all bones, or fewer while a track learns its bones).
_INCIDENCE_CACHE = 64


def bone_lengths(points: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """(N, 3) metres and (B, 2) joint indices (parent, child) → (B,) metres; NaN if an end is missing."""
    d = points[bones[:, 1]] - points[bones[:, 0]]  # (B, 3)
    return np.sqrt(np.einsum("bi,bi->b", d, d))


@functools.lru_cache(maxsize=_INCIDENCE_CACHE)
def _incidence(joints: int, parents: bytes, children: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Incidence of B bones (int64 joint indices as bytes) on N joints → (N, B) sign (+1 child,
    −1 parent) and (N, B) touch (1 at both ends), read-only: scatters per-bone terms onto
    joints with one matmul each. Cached: a frame's bones are those of its hands' tracks."""
    parent, child = np.frombuffer(parents, np.int64), np.frombuffer(children, np.int64)
    sign = np.zeros((joints, parent.size))  # (N, B)
    cols = np.arange(parent.size)
    sign[child, cols], sign[parent, cols] = 1.0, -1.0
    touch = np.abs(sign)  # (N, B)
    sign.flags.writeable = touch.flags.writeable = False
    return sign, touch


def refine_points(
    points: np.ndarray,
    xy: np.ndarray,
    weights: np.ndarray,
    cams: CameraArray,
    bones: np.ndarray,
    bone_targets: np.ndarray,
    *,
    huber_px: float,
    bone_weight_px_per_mm: float,
    iterations: int,
    depth_z: np.ndarray | None = None,
    depth_weight_px_per_mm: float = 0.0,
    depth_huber_mm: float = np.inf,
) -> np.ndarray:
    """(N, 3) metres start, (V, N, 2) normalized observations, (V, N) weights → (N, 3) refined.

    Args:
        weights: per observation (0 = unused: outliers and unseen views).
        bones: (B, 2) int indices into N (parent, child).
        bone_targets: (B,) metres; NaN where unknown.
        huber_px: residual (px) beyond which an observation's influence stops growing.
        bone_weight_px_per_mm: 1 mm of bone-length error costs as much as this many px.
        depth_z: (V, N) metres, measured depth of each joint in each view's camera frame
            (z), NaN where none; None: no depth term.
        depth_weight_px_per_mm: 1 mm of depth residual costs as much as this many px.
        depth_huber_mm: depth residual (mm) beyond which its influence stops growing.
    """
    active = np.isfinite(points).all(-1)  # (N,) joints with enough views; the rest stay NaN
    # Observations joint-major, as the per-joint systems are: (N, V, …).
    seen = np.isfinite(xy).all(-1).T  # (N, V)
    w_obs = np.where(seen, weights.T, 0.0) * active[:, None]  # (N, V)
    obs = np.where(seen[..., None], xy.transpose(1, 0, 2), 0.0)  # (N, V, 2)
    R = cams.camera_T_world[:, :3, :3]  # (V, 3, 3)
    f = cams.focal  # (V,)
    lam2 = (bone_weight_px_per_mm * 1e3) ** 2  # px² per m² of bone error
    bone_ok = np.isfinite(bone_targets) & active[bones[:, 0]] & active[bones[:, 1]]
    b_par, b_chi, b_len = bones[bone_ok, 0], bones[bone_ok, 1], bone_targets[bone_ok]
    sign, touch = _incidence(len(points), np.asarray(b_par, np.int64).tobytes(), np.asarray(b_chi, np.int64).tobytes())
    if depth_z is not None:
        has_depth = np.isfinite(depth_z).T & active[:, None]  # (N, V)
        measured_z = np.where(has_depth, depth_z.T, 0.0)  # (N, V) m
        mu2 = (depth_weight_px_per_mm * 1e3) ** 2  # px² per m² of depth residual
    xs = np.where(active[:, None], points, 0.0)
    for _ in range(iterations):
        cam = cams.to_every_camera(xs)  # (N, V, 3)
        z = np.where(cam[..., 2] > _MIN_DEPTH, cam[..., 2], np.inf)  # (N, V)
        u = cam[..., :2] / z[..., None]  # (N, V, 2)
        res = f[:, None] * (u - obs)  # (N, V, 2) px
        norm = np.sqrt(res[..., 0] * res[..., 0] + res[..., 1] * res[..., 1])  # (N, V)
        huber = np.where(norm > huber_px, huber_px / np.maximum(norm, 1e-12), 1.0)
        w = w_obs * huber * (z < np.inf)  # (N, V)
        # d(px)/dX = f / z [[1, 0, −u], [0, 1, −v]] R = f / z (R[:2] − [u, v]ᵀ R[2])
        J = (f / z)[..., None, None] * (R[:, :2] - u[..., None] * R[:, None, 2])  # (N, V, 2, 3)
        N = J.shape[0]
        JwT = (J * w[..., None, None]).reshape(N, -1, 3).transpose(0, 2, 1)  # (N, 3, 2V)
        H = JwT @ J.reshape(N, -1, 3)  # (N, 3, 3)
        g = (JwT @ res.reshape(N, -1, 1))[..., 0]  # (N, 3)
        if b_len.size:
            d = sign.T @ xs  # (B, 3): child − parent
            length = np.sqrt(np.einsum("bi,bi->b", d, d))[:, None]  # (B, 1)
            dirn = d / np.maximum(length, 1e-9)
            err = length[:, 0] - b_len
            outer = (lam2 * _JACOBI_BONE_FACTOR) * (dirn[:, :, None] * dirn[:, None, :]).reshape(-1, 9)  # (B, 9)
            H += (touch @ outer).reshape(-1, 3, 3)
            g += sign @ (lam2 * dirn * err[:, None])
        if depth_z is not None:
            dz = np.where(has_depth, cam[..., 2] - measured_z, 0.0)  # (N, V) m
            robust = np.where(np.abs(dz) > depth_huber_mm / 1e3, depth_huber_mm / 1e3 / np.maximum(np.abs(dz), 1e-12), 1.0)
            wz = mu2 * robust * has_depth  # (N, V); dz/dX = R[v, 2]
            H += np.einsum("nv,vi,vj->nij", wz, R[:, 2], R[:, 2])
            g += np.einsum("nv,vi->ni", wz * dz, R[:, 2])
        trace = np.einsum("nii->n", H)
        H += (_DAMPING * trace + 1e-12)[:, None, None] * _EYE3
        step = np.linalg.solve(H, -g[..., None])[..., 0]
        xs = xs + np.where(active[:, None], step, 0.0)
    xs[~active] = np.nan
    return xs
