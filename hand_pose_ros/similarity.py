"""The one least-squares similarity (or rigid) transform between point sets: weighted Umeyama.

Used by the evaluation (PA-MPJPE), the fusion's priors (rigid fit of landmarks onto a hand)
and the mesh fit (its cold start). NaN rows are missing and ignored, as everywhere.

    T = umeyama(source, target, weights, scale=True)   # (N, D), (N, D), (N,) → Similarity | None
    moved = T.apply(source)                            # ≈ target
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hand_pose_ros.types import check_shape

__all__ = ["Similarity", "umeyama", "best_rotation", "MIN_POINTS"]

# Three non-collinear points fix a 3D rotation; fewer leave the transform undetermined.
MIN_POINTS = 3


@dataclasses.dataclass(frozen=True)
class Similarity:
    """``target ≈ scale · rotation @ source + translation``.

    Attributes:
        scale: uniform scale (1.0 for a rigid fit).
        rotation: (D, D) float64, a proper rotation (determinant +1, never a reflection).
        translation: (D,) float64, in the target's units.
    """

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(…, D) → (…, D): the points moved by the transform (NaN stays NaN)."""
        return self.scale * np.asarray(points, np.float64) @ self.rotation.T + self.translation

    def matrix(self) -> np.ndarray:
        """(D + 1, D + 1) float64 homogeneous matrix, the scale folded into the rotation block."""
        D = len(self.translation)
        out = np.eye(D + 1)
        out[:D, :D] = self.scale * self.rotation
        out[:D, D] = self.translation
        return out


def umeyama(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None, *,
            scale: bool = True) -> Similarity | None:
    """(N, D) source, (N, D) target, (N,) weights ≥ 0 → the best ``Similarity`` (Umeyama 1991).

    Minimises Σ w_n ‖s R source_n + t − target_n‖² over rotations R, translations t and, with
    ``scale``, s > 0 (else s = 1: Kabsch). Rows with a NaN in either set, or a weight that is
    0 or not finite, are left out. Returns None when fewer than ``MIN_POINTS`` rows remain or
    the source rows all coincide.

    Raises:
        ValueError: shapes that do not match (naming the argument, expected vs actual).
    """
    source = check_shape("source", np.asarray(source, np.float64), (None, None), "umeyama")
    target = check_shape("target", np.asarray(target, np.float64), source.shape, "umeyama")
    N, D = source.shape
    w = np.ones(N) if weights is None else check_shape("weights", np.asarray(weights, np.float64), (N,), "umeyama")
    ok = np.isfinite(source).all(-1) & np.isfinite(target).all(-1) & np.isfinite(w) & (w > 0)  # (N,)
    if ok.sum() < MIN_POINTS:
        return None
    src, dst, w = source[ok], target[ok], w[ok] / w[ok].sum()
    mu_s, mu_d = w @ src, w @ dst  # (D,) each
    cs, cd = src - mu_s, dst - mu_d
    variance = w @ (cs * cs).sum(-1)  # weighted mean squared distance of the source to its centroid
    if not variance > 0:
        return None
    R, trace = best_rotation(cs * w[:, None], cd)
    s = trace / variance if scale else 1.0
    return Similarity(scale=s, rotation=R, translation=mu_d - s * R @ mu_s)


def best_rotation(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """(N, D) centred source (rows pre-multiplied by their weights), (N, D) centred target →
    the (D, D) rotation R minimising Σ ‖R source_n − target_n‖² (Kabsch; never a reflection)
    and Σ_n target_n · R source_n, the numerator of Umeyama's scale.

    The lean core of ``umeyama`` for callers in a loop: no checks, no NaN handling.
    """
    U, S, Vt = np.linalg.svd(target.T @ source)  # (D, D) cross-covariance, target × source
    d = np.ones(len(S))
    d[-1] = np.sign(np.linalg.det(U @ Vt)) or 1.0  # a rotation, never a reflection
    return (U * d) @ Vt, float((S * d).sum())
