"""Batched Gauss-Newton / Levenberg-Marquardt fit of an articulated hand to 3D keypoints.

The hand model is an ``Articulation``: pose parameters (P,) → its 21 MediaPipe keypoints in
the model's wrist frame, with their Jacobian. On top the solver fits a similarity per hand,
``world = s · R · local + t`` (s = exp(log_scale)), so every hand model shares the global
pose, scale, priors, bounds and damping below. B = hands in the batch.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, TypeVar

import numpy as np
from scipy.spatial.transform import Rotation

from hand_pose_ros.keypoints import NUM_KEYPOINTS
from hand_pose_ros.similarity import umeyama
from hand_pose_ros.types import check_shape

__all__ = [
    "Articulation",
    "FitState",
    "Posed",
    "SolverSettings",
    "gauss_newton",
    "similarity_align",
    "similarity_matrix",
    "world_keypoints",
]

_GLOBAL_PARAMS = 7  # rotation increment (3), translation (3), log-scale (1)
# Keeps the normal matrix invertible when a parameter has neither data nor prior (e.g. a
# joint of a finger whose keypoints are all missing and a zero pose prior): m² per unit².
_RIDGE = 1e-12
# Levenberg-Marquardt: a refused step multiplies its hand's damping by this, a kept one divides it.
_DAMPING_FACTOR = 10.0


def _fields(item: "FitState | Posed") -> list:
    """A dataclass's field values in order, as they are (``dataclasses.astuple`` deep-copies every array)."""
    return [getattr(item, f.name) for f in dataclasses.fields(item)]


@dataclasses.dataclass(frozen=True)
class Posed:
    """B hands posed by an articulation in their wrist frames (root = identity, unit scale).

    Attributes:
        keypoints: (B, 21, 3) float64 metres, MediaPipe order.
        transforms: (B, J, 4, 4) float64 wrist_T_joint of the model's J joints.
        vertices: (B, V, 3) float64 metres when the forward pass makes them (MANO), else None.
    """

    keypoints: np.ndarray
    transforms: np.ndarray
    vertices: np.ndarray | None = None

    def take(self, index: list[int]) -> "Posed":
        return Posed(*(None if v is None else v[index] for v in _fields(self)))

    @staticmethod
    def concat(items: list["Posed"]) -> "Posed":
        columns = zip(*(_fields(p) for p in items))
        return Posed(*(None if c[0] is None else np.concatenate(c) for c in columns))


class Articulation(Protocol):
    """A hand model as seen by the solver and the fitter (WebXR or MANO)."""

    name: str  # "webxr" | "mano"
    faces: np.ndarray  # (F, 3) int64 triangles
    lower: np.ndarray  # (P,) parameter lower bounds (-inf: none)
    upper: np.ndarray  # (P,) upper bounds

    def rest_params(self) -> np.ndarray:
        """(P,) the model's rest pose."""
        ...

    def joint_pose(self, params: np.ndarray) -> np.ndarray:
        """(B, P) → (B, J, 3) the model's per-joint pose (radians)."""
        ...

    def forward(self, params: np.ndarray) -> Posed:
        """(B, P) → the hands posed in their wrist frames."""
        ...

    def jacobian(self, params: np.ndarray, posed: Posed) -> np.ndarray:
        """(B, P) and their ``forward`` → (B, 21, 3, P) d keypoints / d params, wrist frame."""
        ...

    def world_vertices(self, posed: Posed, world_T_wrist: np.ndarray) -> np.ndarray:
        """``forward`` output, (B, 4, 4) similarity → (B, V, 3) vertices, metres, world frame."""
        ...


@dataclasses.dataclass(frozen=True)
class FitState:
    """Fitted parameters of B hands: ``world = exp(log_scale) · rotation · local + translation``.

    Attributes:
        params: (B, P) float64 articulation parameters.
        rotation: (B, 3, 3) float64 world_R_wrist.
        translation: (B, 3) float64 metres, the wrist in the world frame.
        log_scale: (B,) float64, log of the hand's size relative to the model.
    """

    params: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    log_scale: np.ndarray

    def take(self, index: np.ndarray | list[int]) -> "FitState":
        """The hands at ``index`` (a sub-batch)."""
        return FitState(self.params[index], self.rotation[index], self.translation[index], self.log_scale[index])

    @staticmethod
    def concat(states: list["FitState"]) -> "FitState":
        return FitState(*(np.concatenate([getattr(s, f.name) for s in states]) for f in dataclasses.fields(FitState)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SolverSettings:
    """Numerical settings of ``gauss_newton`` (see ``MeshFitterConfig`` for their meaning)."""

    iterations: int
    pose_prior_weight: float
    scale_prior_weight: float
    log_scale_bounds: tuple[float, float]
    damping: float
    max_step: float
    robust_scale: float


def similarity_matrix(state: FitState) -> np.ndarray:
    """(B, 4, 4) float64 world_T_wrist with the scale folded into the rotation block."""
    T = np.zeros(state.rotation.shape[:-2] + (4, 4))
    T[..., :3, :3] = np.exp(state.log_scale)[..., None, None] * state.rotation
    T[..., :3, 3] = state.translation
    T[..., 3, 3] = 1.0
    return T


def similarity_align(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted Umeyama: (N, 3) source, (N, 3) target (m), (N,) weights → s, (3, 3) R, (3,) t.

    Minimises Σ w ‖s R source + t − target‖² (``hand_pose_ros.similarity.umeyama``). Needs ≥ 3
    positively weighted, non-collinear points (rows with weight 0 may hold NaN); with fewer:
    scale 1, identity rotation, NaN translation.
    """
    transform = umeyama(source, target, weights)
    if transform is None:
        return 1.0, np.eye(3), np.full(3, np.nan)
    return transform.scale, transform.rotation, transform.translation


def _skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) → (..., 3, 3) cross-product matrices."""
    x, y, z = np.moveaxis(v, -1, 0)
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)


def world_keypoints(state: FitState, posed: Posed) -> np.ndarray:
    """(B, 21, 3) float64 metres, world frame: ``posed``'s keypoints under ``state``'s similarity."""
    return np.exp(state.log_scale)[:, None, None] * np.einsum("bij,bkj->bki", state.rotation, posed.keypoints) \
        + state.translation[:, None]


def _cost(targets: np.ndarray, weights: np.ndarray, state: FitState, posed: Posed, prior: FitState,
          settings: SolverSettings) -> np.ndarray:
    """(B,) what ``gauss_newton`` minimises: Σ weight · Cauchy(keypoint error) plus the priors.

    ``targets`` (B, 21, 3) metres with 0 where ``weights`` (B, 21) is 0; ``posed`` is
    ``state``'s forward pass. Cauchy ρ(r) = c²/2 · log(1 + r²/c²), c = ``robust_scale``: its
    IRLS weight is the solver's 1 / (1 + (r / c)²).
    """
    world = world_keypoints(state, posed)  # (B, 21, 3)
    c2 = settings.robust_scale**2
    data = (weights * c2 * np.log1p(((world - targets) ** 2).sum(-1) / c2)).sum(-1)  # (B,) 2·Σ w ρ
    pose = settings.pose_prior_weight**2 * ((state.params - prior.params) ** 2).sum(-1)
    scale = settings.scale_prior_weight**2 * (state.log_scale - prior.log_scale) ** 2
    return 0.5 * (data + pose + scale)


_Batch = TypeVar("_Batch", FitState, Posed)


def _where(keep: np.ndarray, new: _Batch, old: _Batch) -> _Batch:
    """Per hand, ``new``'s arrays where ``keep`` (B,) bool, else ``old``'s."""
    def pick(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.where(keep.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)

    return type(new)(*(pick(a, b) for a, b in zip(_fields(new), _fields(old))))


def gauss_newton(
    articulation: Articulation,
    targets: np.ndarray,
    weights: np.ndarray,
    init: FitState,
    prior: FitState,
    settings: SolverSettings,
    posed: Posed | None = None,
) -> tuple[FitState, Posed]:
    """Fit B hands to their keypoints.

    Projected Levenberg-Marquardt: each step is solved with the parameters that sit at a bound
    and are pushed outwards held there, and kept only where it lowers the hand's cost
    (``_cost``); a step refused raises that hand's damping tenfold for the next iteration, one
    kept lowers it tenfold again, down to ``settings.damping``.

    Args:
        articulation: the hand model (all B hands use it).
        targets: (B, 21, 3) float64 metres, world frame; NaN rows are ignored.
        weights: (B, 21) per-keypoint weights (confidences); 0 for missing keypoints.
        init: starting point.
        prior: pose parameters and log-scale the priors pull towards.
        settings: iterations, prior weights, bounds, damping.
        posed: ``articulation.forward(init.params)`` when the caller has it (a track's last
            fit), saving one forward pass.

    Returns:
        The fitted state (pose parameters within the articulation's bounds; never costlier
        than ``init``) and the model posed with it; ``iterations`` forward passes (one more
        without ``posed``).
    """
    batch = targets.shape[0]
    check_shape("targets", targets, (batch, NUM_KEYPOINTS, 3), "gauss_newton")
    check_shape("weights", weights, (batch, NUM_KEYPOINTS), "gauss_newton")
    valid = np.isfinite(targets).all(-1) & (weights > 0)
    y = np.where(valid[..., None], targets, 0.0)
    conf = np.where(valid, weights, 0.0)  # (B, 21)
    sqrt_conf = np.sqrt(conf)[..., None, None]  # (B, 21, 1, 1)
    state = init
    num_params = state.params.shape[1]
    n = num_params + _GLOBAL_PARAMS
    prior_diag = np.zeros(n)
    prior_diag[:num_params] = settings.pose_prior_weight**2
    prior_diag[-1] = settings.scale_prior_weight**2
    low_s, high_s = settings.log_scale_bounds
    if posed is None:
        posed = articulation.forward(state.params)
    cost = _cost(y, conf, state, posed, prior, settings)  # (B,)
    damping = np.full(batch, settings.damping)  # (B,) per hand, raised after a refused step
    for _ in range(settings.iterations):
        params, rotation, translation, log_scale = state.params, state.rotation, state.translation, state.log_scale
        local, dlocal = posed.keypoints, articulation.jacobian(params, posed)  # (B, 21, 3), (B, 21, 3, P)
        s = np.exp(log_scale)[:, None, None]
        rotated = s * np.einsum("bij,bkj->bki", rotation, local)  # (B, 21, 3) s·R·local
        error = rotated + translation[:, None] - y  # (B, 21, 3) metres
        # Cauchy IRLS: a keypoint r metres off keeps 1 / (1 + (r / c)²) of its weight.
        robust = 1.0 / np.sqrt(1.0 + (error**2).sum(-1) / settings.robust_scale**2)  # (B, 21) √ of it
        sqrt_w = sqrt_conf * robust[..., None, None]
        residual = error[..., None] * sqrt_w  # (B, 21, 3, 1)
        jac = np.concatenate(
            [
                s[..., None] * np.einsum("bij,bkjp->bkip", rotation, dlocal),  # pose parameters
                -_skew(rotated),  # world-frame rotation increment about the wrist
                np.broadcast_to(np.eye(3), rotated.shape + (3,)),  # translation
                rotated[..., None],  # log-scale
            ],
            axis=-1,
        ) * sqrt_w  # (B, 21, 3, n)
        jac = jac.reshape(batch, -1, n)
        normal = np.einsum("bmi,bmj->bij", jac, jac)  # (B, n, n)
        gradient = np.einsum("bmi,bm->bi", jac, residual.reshape(batch, -1))  # (B, n)
        gradient[:, :num_params] += settings.pose_prior_weight**2 * (params - prior.params)
        gradient[:, -1] += settings.scale_prior_weight**2 * (log_scale - prior.log_scale)
        diagonal = np.einsum("bii->bi", normal) + prior_diag
        system = normal + np.einsum("bi,ij->bij", diagonal * damping[:, None] + prior_diag + _RIDGE, np.eye(n))
        # A parameter at a bound that the gradient pushes outwards stays there: the others'
        # step is solved without it. Solving for all and clipping afterwards moves the others
        # as if it had moved too, which is no descent once joints reach their limits (joints
        # 3 mm off the truth: cold fits went 13 → 40 mm RMS over 20 iterations, half the
        # joints at a limit, the cost rising every iteration).
        pose_gradient = gradient[:, :num_params]
        pinned = (((params <= articulation.lower) & (pose_gradient > 0))
                  | ((params >= articulation.upper) & (pose_gradient < 0)))  # (B, P)
        free = np.concatenate([~pinned, np.ones((batch, _GLOBAL_PARAMS), bool)], axis=1)  # (B, n)
        system = np.where(free[:, :, None] & free[:, None, :], system, 0.0) + np.einsum("bi,ij->bij", ~free, np.eye(n))
        step = -np.linalg.solve(system, np.where(free, gradient, 0.0)[..., None])[..., 0]  # (B, n), 0 where pinned
        increment = np.clip(step[:, num_params:num_params + 3], -settings.max_step, settings.max_step)
        candidate = FitState(
            np.clip(params + np.clip(step[:, :num_params], -settings.max_step, settings.max_step),
                    articulation.lower, articulation.upper),
            Rotation.from_rotvec(increment).as_matrix() @ rotation,
            translation + step[:, num_params + 3:num_params + 6],
            np.clip(log_scale + step[:, -1], low_s, high_s),
        )
        candidate_posed = articulation.forward(candidate.params)
        candidate_cost = _cost(y, conf, candidate, candidate_posed, prior, settings)
        # A Gauss-Newton step of a fixed small damping overshoots on noisy joints (the cost
        # alternating between two poses, 4.7 and 6.4 mm RMS): a step that does not lower the
        # cost is refused and the next one taken shorter.
        better = candidate_cost <= cost  # (B,)
        state, posed = _where(better, candidate, state), _where(better, candidate_posed, posed)
        cost = np.where(better, candidate_cost, cost)
        damping = np.where(better, np.maximum(damping / _DAMPING_FACTOR, settings.damping), damping * _DAMPING_FACTOR)
    return state, posed
