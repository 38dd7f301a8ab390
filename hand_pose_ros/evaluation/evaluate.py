"""Score a prediction sequence against ground truth: per hand and overall (docs/evaluation.md)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from hand_pose_ros.evaluation.matching import Frame, match_frames, match_hands
from hand_pose_ros.evaluation.metrics import (
    PCK_THRESHOLDS_M,
    auc,
    joint_errors,
    mpjpe,
    mpvpe,
    pa_mpvpe,
    pa_mpjpe,
    pck_curve,
    root_relative_mpjpe,
)
from hand_pose_ros.keypoints import NUM_KEYPOINTS, HandKeypoint

__all__ = ["EvaluationConfig", "evaluate"]

_MM = 1000.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvaluationConfig:
    """How predictions are matched to ground truth.

    Attributes:
        max_match_distance_m: a predicted hand farther than this (mean joint distance) from
            every GT hand is a false positive, and that GT hand a miss.
        stamp_tolerance_s: prediction frames match GT frames within this; None = half the
            GT frame period.
    """

    max_match_distance_m: float = 0.10
    stamp_tolerance_s: float | None = None

    def __post_init__(self) -> None:
        if not self.max_match_distance_m > 0:
            raise ValueError(f"EvaluationConfig.max_match_distance_m: expected > 0, got {self.max_match_distance_m}")
        if self.stamp_tolerance_s is not None and not self.stamp_tolerance_s >= 0:
            raise ValueError(f"EvaluationConfig.stamp_tolerance_s: expected >= 0 or None, got {self.stamp_tolerance_s}")


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _summary(pairs: list[tuple], gt_count: int, id_switches: int) -> dict[str, Any]:
    """Metrics over matched (gt, pred) hand pairs, out of ``gt_count`` GT hands."""
    if pairs:
        gt_k = np.stack([g.keypoints for g, _ in pairs])  # (N, 21, 3)
        pred_k = np.stack([p.keypoints for _, p in pairs])
        errors = joint_errors(pred_k, gt_k)  # (N, 21)
    else:
        gt_k = pred_k = np.zeros((0, NUM_KEYPOINTS, 3))
        errors = np.zeros((0, NUM_KEYPOINTS))
    pck = pck_curve(errors)
    mesh_pairs = [(g.vertices, p.vertices) for g, p in pairs if g.vertices is not None and p.vertices is not None and g.vertices.shape == p.vertices.shape]
    if mesh_pairs:
        gt_v, pred_v = (np.stack(side) for side in zip(*mesh_pairs))  # (M, V, 3) each
    with warnings.catch_warnings():  # a joint missing in every frame has no mean: NaN is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        per_joint = np.nanmean(errors, axis=0) if len(errors) else np.full(NUM_KEYPOINTS, np.nan)
        per_joint_std = np.nanstd(errors, axis=0) if len(errors) else np.full(NUM_KEYPOINTS, np.nan)
    return {
        "gt_hands": gt_count,
        "matched_hands": len(pairs),
        "detection_rate": _nan_to_none(len(pairs) / gt_count if gt_count else np.nan),
        "joint_completeness": _nan_to_none(float(np.mean(~np.isnan(errors))) if errors.size else np.nan),
        "handedness_accuracy": _nan_to_none(np.mean([g.handedness == p.handedness for g, p in pairs]) if pairs else np.nan),
        "id_switches": id_switches,
        "mpjpe_mm": _nan_to_none(mpjpe(pred_k, gt_k) * _MM if pairs else np.nan),
        "pa_mpjpe_mm": _nan_to_none(pa_mpjpe(pred_k, gt_k) * _MM if pairs else np.nan),
        "root_relative_mpjpe_mm": _nan_to_none(root_relative_mpjpe(pred_k, gt_k) * _MM if pairs else np.nan),
        "auc_0_50mm": _nan_to_none(auc(PCK_THRESHOLDS_M, pck) if pairs else np.nan),
        "pck": [_nan_to_none(v) for v in pck],
        "mpvpe_mm": _nan_to_none(mpvpe(pred_v, gt_v) * _MM) if mesh_pairs else None,
        "pa_mpvpe_mm": _nan_to_none(pa_mpvpe(pred_v, gt_v) * _MM) if mesh_pairs else None,
        "per_joint_mpjpe_mm": {k.name: _nan_to_none(v * _MM) for k, v in zip(HandKeypoint, per_joint)},
        "per_joint_std_mm": {k.name: _nan_to_none(v * _MM) for k, v in zip(HandKeypoint, per_joint_std)},
    }


def evaluate(gt: list[Frame], pred: list[Frame], config: EvaluationConfig = EvaluationConfig(), *, fps: float | None = None) -> dict[str, Any]:
    """Metrics per GT hand id and overall, JSON-ready (millimetres, fractions).

    Args:
        gt, pred: frames from ``load_ground_truth`` / ``load_predictions``.
        fps: GT frame rate, for the default stamp tolerance (else taken from the stamps).
    """
    if config.stamp_tolerance_s is not None:
        tolerance = config.stamp_tolerance_s
    elif fps:
        tolerance = 0.5 / fps
    else:
        stamps = np.array([f.stamp for f in gt])
        tolerance = 0.5 * float(np.median(np.diff(stamps))) if len(stamps) > 1 else 0.0
    frame_match = match_frames(gt, pred, tolerance)
    pairs: dict[int, list[tuple]] = {}
    gt_counts: dict[int, int] = {}
    labels: dict[int, str] = {}
    last_pred_id: dict[int, int] = {}
    switches: dict[int, int] = {}
    false_positives = 0
    for frame, j in zip(gt, frame_match):
        predicted = pred[j].hands if j is not None else ()
        matches = match_hands(frame.hands, predicted, config.max_match_distance_m)
        false_positives += len(predicted) - len(matches)
        for i, hand in enumerate(frame.hands):
            gt_counts[hand.id] = gt_counts.get(hand.id, 0) + 1
            labels[hand.id] = hand.handedness.label
            switches.setdefault(hand.id, 0)
            if i in matches:
                match = predicted[matches[i]]
                pairs.setdefault(hand.id, []).append((hand, match))
                if hand.id in last_pred_id and last_pred_id[hand.id] != match.id:
                    switches[hand.id] += 1
                last_pred_id[hand.id] = match.id
    per_hand = {
        f"{hand_id}": {"handedness": labels[hand_id], **_summary(pairs.get(hand_id, []), gt_counts[hand_id], switches[hand_id])}
        for hand_id in sorted(gt_counts)
    }
    every_pair = [p for hand_id in sorted(pairs) for p in pairs[hand_id]]
    return {
        "frames": {"gt": len(gt), "pred": len(pred), "matched": sum(j is not None for j in frame_match)},
        "stamp_tolerance_s": tolerance,
        "max_match_distance_m": config.max_match_distance_m,
        "pck_thresholds_mm": (PCK_THRESHOLDS_M * _MM).tolist(),
        "false_positive_hands": false_positives,
        "overall": _summary(every_pair, sum(gt_counts.values()), sum(switches.values())),
        "per_hand": per_hand,
    }
