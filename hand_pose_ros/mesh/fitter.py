"""``HandMeshFitter``: fused 3D hands → fitted hand meshes, per track, warm-started over time.

Per call, hands are grouped by hand model (left / right) and by cold / warm start, and each
group is fitted in one batch (``solver.gauss_newton``). A track's previous fit is its next
starting point and its pose prior; its scale prior follows its fits slowly
(``scale_learning_rate``). With ``handedness="geometry"`` a track's first frame (and a poorly
fitting one) is fitted with both hand models and the better fit kept (``_choose``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from hand_pose_ros.keypoints import HandKeypoint, Handedness
from hand_pose_ros.mesh.config import MeshFitterConfig
from hand_pose_ros.mesh.solver import (
    Articulation,
    FitState,
    Posed,
    SolverSettings,
    gauss_newton,
    similarity_align,
    similarity_matrix,
    world_keypoints,
)
from hand_pose_ros.types import Hand3D

__all__ = ["FittedMesh", "HandMeshFitter", "load_articulation"]

_LOG = logging.getLogger(__name__)

# Keypoints that stay put relative to the wrist when fingers move: they give a cold start's
# global pose and scale (the flat rest hand against the observed palm).
_PALM = (HandKeypoint.WRIST, HandKeypoint.INDEX_FINGER_MCP, HandKeypoint.MIDDLE_FINGER_MCP,
         HandKeypoint.RING_FINGER_MCP, HandKeypoint.PINKY_MCP)
_MIN_ALIGN_POINTS = 3  # a similarity needs three non-collinear points
# With handedness="geometry", the other hand's model replaces the labelled one on a track's
# first frame when its median keypoint error is below this fraction of the labelled one's
# (a mirrored hand misses by centimetres, a correct one by the joints' noise).
_HANDEDNESS_MARGIN = 0.5
# A track whose last fit missed its keypoints by more than this (median, metres) has the other
# hand tried again (a first frame can be too poor to tell the hands apart), at most once per
# period: trying costs a cold fit.
_RECHECK_ERROR_M = 0.015
_RECHECK_PERIOD_S = 0.25


@dataclasses.dataclass(frozen=True, eq=False)
class FittedMesh:
    """One hand's fitted mesh, world frame, metres.

    Attributes:
        track_id: the ``Hand3D`` track it was fitted to.
        handedness: LEFT or RIGHT: the hand model fitted (see ``MeshFitterConfig.handedness``).
        model: "webxr" or "mano".
        vertices: (V, 3) float64 metres, world frame.
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside.
        joint_pose: (J, 3) float64 radians: WebXR (25, 3) (flexion, abduction, twist) per
            ``WEBXR_JOINTS``; MANO (15, 3) axis-angle per finger joint (kintree order).
        world_T_wrist: (4, 4) float64 rigid transform of the model's wrist frame.
        scale: hand size relative to the model (vertices = scale · rigid · model).
        keypoints: (21, 3) float64 metres, the fitted model's MediaPipe keypoints.
        residual: (21,) float64 metres, distance keypoint → fused keypoint; NaN where missing.
        rms_error: root-mean-square of the finite residuals, metres.
    """

    track_id: int
    handedness: Handedness
    model: str
    vertices: np.ndarray
    faces: np.ndarray
    joint_pose: np.ndarray
    world_T_wrist: np.ndarray
    scale: float
    keypoints: np.ndarray
    residual: np.ndarray
    rms_error: float


@dataclasses.dataclass
class _Track:
    label: Handedness  # the hand's handedness label when the track started (a change restarts it)
    side: Handedness  # the hand model fitted to it
    state: FitState  # batch of one
    posed: Posed  # the model posed with ``state`` (the next frame's first linearisation)
    log_scale_prior: float
    last_stamp: float
    error: float  # median keypoint residual of the last fit, metres
    checked: float  # when the other hand was last tried, seconds


def load_articulation(config: MeshFitterConfig, handedness: Handedness) -> Articulation:
    """The configured hand model for one hand (loads the WebXR glb or the user's MANO pkl)."""
    if config.model == "webxr":
        from hand_pose_ros.handmodel import HandModel
        from hand_pose_ros.mesh.webxr import WebXRArticulation

        return WebXRArticulation(HandModel.load(handedness))
    if config.model == "mano":
        from hand_pose_ros.mesh.mano import ManoArticulation, ManoLayer
        from hand_pose_ros.mesh.mano_io import load_mano

        return ManoArticulation(ManoLayer(load_mano(config.mano_dir, handedness)))
    raise ValueError(f"no articulation for model {config.model!r}")


class HandMeshFitter:
    """Fits the configured hand model to each fused hand; remembers tracks between calls.

    Example::

        fitter = HandMeshFitter(MeshFitterConfig(model="webxr"))
        meshes = fitter.fit(hands, stamp)   # list[FittedMesh], one per fitted hand
    """

    def __init__(self, config: MeshFitterConfig, articulations: dict[Handedness, Articulation] | None = None) -> None:
        """Load both hands' models now, so a missing or bad file fails here, not mid-stream.

        Args:
            config: the settings.
            articulations: models to use instead of loading them (e.g. a test's); per hand.

        Raises:
            AssetMissingError: the WebXR meshes are not set up.
            ManoFileError: a MANO file is missing or wrong (the message names it).
        """
        self.config = config
        self._articulations: dict[Handedness, Articulation] = dict(articulations or {})
        if config.model != "none":
            for side in (Handedness.LEFT, Handedness.RIGHT):
                if side not in self._articulations:
                    self._articulations[side] = load_articulation(config, side)
        self._tracks: dict[int, _Track] = {}
        low, high = config.scale_range
        self._log_scale_bounds = (float(np.log(low)), float(np.log(high)))

    def articulation(self, handedness: Handedness) -> Articulation:
        """The model for one hand (LEFT or RIGHT)."""
        return self._articulations[handedness]

    def reset(self) -> None:
        """Forget every track (the next fits start cold)."""
        self._tracks.clear()

    def fit(self, hands: Sequence[Hand3D], stamp: float) -> list[FittedMesh]:
        """Fit one synchronized set's hands (``stamp``: capture time, seconds).

        Returns one ``FittedMesh`` per fitted hand, in the order of ``hands``; [] for model
        "none". Hands with fewer than ``min_keypoints`` valid keypoints are not fitted, nor,
        with ``handedness="label"``, hands of unknown handedness.

        Raises:
            ValueError: two hands with the same track id.
        """
        if self.config.model == "none":
            return []
        ids = [h.track_id for h in hands]
        if len(set(ids)) != len(ids):
            raise ValueError(f"HandMeshFitter.fit: track ids must be unique within a set, got {ids}")
        self._tracks = {i: t for i, t in self._tracks.items()
                        if 0 <= stamp - t.last_stamp <= self.config.track_timeout_s}
        warm: dict[Handedness, list[Hand3D]] = {}
        cold: dict[Handedness, list[Hand3D]] = {}
        for hand in hands:
            valid = np.isfinite(hand.keypoints_3d).all(-1) & (hand.keypoint_confidence > 0)
            sides = self._candidate_sides(hand.handedness)
            if not sides or valid.sum() < self.config.min_keypoints:
                _LOG.debug("track %d not fitted: handedness %s, %d valid keypoints",
                           hand.track_id, hand.handedness.label, valid.sum())
                continue
            track = self._tracks.get(hand.track_id)
            if track is not None and track.label == hand.handedness:
                warm.setdefault(track.side, []).append(hand)
                poor = track.error > _RECHECK_ERROR_M and stamp - track.checked >= _RECHECK_PERIOD_S
                if len(sides) > 1 and poor:
                    cold.setdefault(next(s for s in sides if s != track.side), []).append(hand)
            else:
                for side in sides:
                    cold.setdefault(side, []).append(hand)
        results: dict[int, list[tuple[FittedMesh, _Track]]] = {}
        for side, members in warm.items():
            for hand, result in zip(members, self._solve(side, members, True, stamp)):
                results[hand.track_id] = [result]
        for side, members in cold.items():
            for hand, result in zip(members, self._solve(side, members, False, stamp)):
                results.setdefault(hand.track_id, []).append(result)
        out = []
        for hand in hands:
            if hand.track_id in results:
                previous = self._tracks.get(hand.track_id)
                continued = previous is not None and previous.label == hand.handedness
                incumbent = previous.side if continued else hand.handedness
                mesh, track = self._choose(hand, results[hand.track_id], incumbent)
                if len(results[hand.track_id]) == 1 and previous is not None:
                    track.checked = previous.checked  # fitted warm only: the other hand was not tried
                if not np.isfinite(mesh.vertices).all():  # degenerate input; never publish NaN
                    _LOG.warning("track %d: the fit diverged; no mesh this frame", hand.track_id)
                    self._tracks.pop(hand.track_id, None)
                    continue
                self._tracks[hand.track_id] = track
                out.append(mesh)
        return out

    def _candidate_sides(self, label: Handedness) -> tuple[Handedness, ...]:
        both = (Handedness.LEFT, Handedness.RIGHT)
        if label == Handedness.UNKNOWN:
            return both if self.config.handedness == "geometry" else ()
        if self.config.handedness == "geometry":
            return (label,) + tuple(s for s in both if s != label)
        return (label,)

    @staticmethod
    def _choose(
        hand: Hand3D, candidates: list[tuple[FittedMesh, _Track]], incumbent: Handedness
    ) -> tuple[FittedMesh, _Track]:
        """The ``incumbent`` hand model's fit (the track's, else the label's), unless the other
        hand's fits clearly better."""
        kept = [c for c in candidates if c[1].side == incumbent]
        best = min(candidates, key=lambda c: c[1].error)
        if not kept:
            return best
        if best is not kept[0] and best[1].error < _HANDEDNESS_MARGIN * kept[0][1].error:
            if best[1].side != hand.handedness:
                _LOG.warning("track %d is labelled %s but fits a %s hand (median keypoint error %.1f vs %.1f mm); "
                             "fitting the %s hand", hand.track_id, hand.handedness.label, best[1].side.label,
                             best[1].error * 1e3, kept[0][1].error * 1e3, best[1].side.label)
            return best
        return kept[0]

    def _solve(
        self, side: Handedness, hands: list[Hand3D], warm: bool, stamp: float
    ) -> list[tuple[FittedMesh, _Track]]:
        """One batched fit of ``hands`` with the ``side`` hand model → (mesh, new track) per hand."""
        articulation = self.articulation(side)
        targets = np.stack([h.keypoints_3d for h in hands])  # (B, 21, 3) m, world
        weights = np.stack([h.keypoint_confidence for h in hands]).astype(np.float64)  # (B, 21)
        weights = np.where(np.isfinite(targets).all(-1), weights, 0.0)
        if warm:
            init = FitState.concat([self._tracks[h.track_id].state for h in hands])
            posed = Posed.concat([self._tracks[h.track_id].posed for h in hands])
            prior = dataclasses.replace(
                init, log_scale=np.array([self._tracks[h.track_id].log_scale_prior for h in hands]))
        else:
            init = self._cold_start(articulation, targets, weights)
            prior, posed = init, None
        settings = SolverSettings(
            iterations=self.config.warm_iterations if warm else self.config.cold_iterations,
            pose_prior_weight=self.config.pose_prior_weight if warm else self.config.rest_prior_weight,
            scale_prior_weight=self.config.scale_prior_weight if warm else 0.0,  # first fit: the data decide
            log_scale_bounds=self._log_scale_bounds,
            damping=self.config.damping,
            max_step=self.config.max_step,
            robust_scale=self.config.robust_scale,
        )
        state, posed = gauss_newton(articulation, targets, weights, init, prior, settings, posed)
        world_T = similarity_matrix(state)  # (B, 4, 4)
        keypoints = world_keypoints(state, posed)
        vertices = articulation.world_vertices(posed, world_T)
        joint_pose = articulation.joint_pose(state.params)
        residual = np.linalg.norm(keypoints - targets, axis=-1)  # (B, 21), NaN where missing
        residual = np.where(weights > 0, residual, np.nan)
        rate = self.config.scale_learning_rate
        out = []
        for b, hand in enumerate(hands):
            log_scale_prior = float((1 - rate) * prior.log_scale[b] + rate * state.log_scale[b])
            finite = residual[b][np.isfinite(residual[b])]
            track = _Track(hand.handedness, side, state.take([b]), posed.take([b]), log_scale_prior, stamp,
                           float(np.median(finite)), stamp)
            world_T_wrist = np.eye(4)
            world_T_wrist[:3, :3], world_T_wrist[:3, 3] = state.rotation[b], state.translation[b]
            mesh = FittedMesh(
                track_id=hand.track_id,
                handedness=side,
                model=articulation.name,
                vertices=vertices[b],
                faces=articulation.faces,
                joint_pose=joint_pose[b],
                world_T_wrist=world_T_wrist,
                scale=float(np.exp(state.log_scale[b])),
                keypoints=keypoints[b],
                residual=residual[b],
                rms_error=float(np.sqrt(np.mean(finite**2))),
            )
            out.append((mesh, track))
        return out

    def _cold_start(self, articulation: Articulation, targets: np.ndarray, weights: np.ndarray) -> FitState:
        """Rest pose placed by a similarity on the palm keypoints (all keypoints if too few)."""
        rest = articulation.rest_params()
        local = articulation.forward(rest[None]).keypoints[0]  # (21, 3) m, wrist frame
        low, high = self.config.scale_range
        scales, rotations, translations = [], [], []
        for target, weight in zip(targets, weights):
            palm = np.zeros_like(weight)
            palm[list(_PALM)] = weight[list(_PALM)]
            use = palm if (palm > 0).sum() >= _MIN_ALIGN_POINTS else weight
            s, R, t = similarity_align(local, target, use)
            scales.append(np.clip(s, low, high))
            rotations.append(R)
            translations.append(t)
        batch = len(targets)
        return FitState(np.tile(rest, (batch, 1)), np.stack(rotations), np.stack(translations), np.log(scales))
