"""The typed values one ``MultiViewFusion.process`` call passes between its steps.

Legend: D detections of this frame over all views, A active views (the views with at least
one detection), K live tracks, G hand groups, J = 21 joints. Nothing here
outlives the frame: the tracker is the only state kept between frames.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.types import HandDetection2D

__all__ = ["FrameInputs", "Triangulated", "HandCandidate"]


@dataclasses.dataclass(frozen=True, eq=False)
class FrameInputs:
    """One frame's detections, undistorted, and what the tracks predict for it.

    Attributes:
        stamp: seconds.
        dets: the D detections, flattened in rig order.
        view: (D,) int, rig index of each detection's camera.
        active: (A,) int, rig indices of the views with detections, ascending.
        slot: (D,) int, index of each detection's camera in ``active``.
        active_cams: the A active cameras, in ``active`` order (triangulation works on these only,
            so its cost follows the views that see hands, not the rig).
        xy: (D, 21, 2) float64 undistorted normalized coordinates; NaN where unseen.
        scores: (D, 21) float64 keypoint scores in [0, 1].
        predicted: (K, 21, 3) float64 metres, world frame, each live track's prediction.
        known: (K,) bool, the track was triangulated within ``track_timeout_s`` (its depth is known).
        depths: per rig camera (all of them, not only the active), its aligned ``(H, W) float32``
            metres depth map (NaN = no measurement), or None.
    """

    stamp: float
    dets: list[HandDetection2D]
    view: np.ndarray
    active: np.ndarray
    slot: np.ndarray
    active_cams: CameraArray
    xy: np.ndarray
    scores: np.ndarray
    predicted: np.ndarray
    known: np.ndarray
    depths: tuple[np.ndarray | None, ...]


class Triangulated(NamedTuple):
    """The multi-view groups of a frame after triangulation, then the groups left to one view.

    Rows: first the groups that stay multi-view, then one row per detection treated alone.

    Attributes:
        points: (G, 21, 3) float64 metres, world frame; NaN where fewer than 2 consistent views
            (all NaN on the one-view rows).
        mean_score: (G, 21) float64, mean keypoint score of the inlier views (0 on one-view rows).
        errors: (G, 21) float64 px, mean reprojection error over the inlier views; NaN where missing.
        num_views: (G, 21) int, inlier views per joint.
        multi: (G,) bool, the row is a multi-view hand.
        groups: G lists of detection indices (one index on the one-view rows).
        hints: (G,) track index of each row from the 2D association (-1: none).
    """

    points: np.ndarray
    mean_score: np.ndarray
    errors: np.ndarray
    num_views: np.ndarray
    multi: np.ndarray
    groups: list[list[int]]
    hints: list[int]


@dataclasses.dataclass(eq=False)
class HandCandidate:
    """One hand of this frame before tracking (world frame, metres); becomes a ``Hand3D``.

    Attributes:
        points: (21, 3) float64 metres, the fused joints; NaN where missing (priors may fill them).
        measured: (21, 3) float64 metres, joints trusted to learn bone lengths (triangulated
            ones; all NaN for a one-view hand).
        confidence: (21,) float64 in [0, 1]; 0 where missing.
        num_views: (21,) int, views that agreed on each joint (1 for a one-view hand's joints).
        errors: (21,) float64 px, reprojection error per joint; NaN where missing.
        source: (21,) int ``KeypointSource`` values.
        members: indices of its detections in ``FrameInputs.dets``.
        hint: track index from the 2D association (-1: none).
        monocular: seen by one view (PnP on the detector's metric landmarks).
        depth_stddev: metres, 1σ of the depth along the camera ray (0 when triangulated).
        vote: log-odds for RIGHT from its detections' handedness (finite scores only).
        presence: the best presence of its detections, in [0, 1].
    """

    points: np.ndarray
    measured: np.ndarray
    confidence: np.ndarray
    num_views: np.ndarray
    errors: np.ndarray
    source: np.ndarray
    members: list[int]
    hint: int
    monocular: bool
    depth_stddev: float
    vote: float
    presence: float
