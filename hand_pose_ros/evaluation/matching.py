"""Reading ground truth and predictions, and matching them: frames by stamp, hands by Hungarian.

Ground truth: ``ground_truth.json`` of a synthetic dataset (docs/dataset.md), or its directory
(then ``meshes.npz`` beside it is used for MPVPE). Predictions: the fusion output, a JSON
list of frames ``{"stamp", "hands": [Hand3D.to_dict()-like]}`` (docs/evaluation.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any

import numpy as np

from hand_pose_ros.dataset_layout import MESHES_FILE, ground_truth_path
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.types import check_shape

__all__ = ["HandEntry", "Frame", "load_ground_truth", "load_predictions", "match_frames", "match_hands"]


@dataclasses.dataclass(frozen=True)
class HandEntry:
    """One hand in one frame: keypoints (21, 3) metres world, NaN rows missing; vertices (V, 3) or None."""

    id: int
    handedness: Handedness
    keypoints: np.ndarray
    vertices: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Frame:
    stamp: float
    hands: tuple[HandEntry, ...]


def _keypoints(raw: Any, where: str) -> np.ndarray:
    if not isinstance(raw, list):
        raise ValueError(f"{where}: keypoints_3d must be a list of 21 [x, y, z] or null, got {type(raw).__name__}")
    rows = [[np.nan] * 3 if p is None else p for p in raw]
    try:
        return check_shape("keypoints_3d", np.asarray(rows, np.float64), (NUM_KEYPOINTS, 3), where)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _read_json(path: pathlib.Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def load_ground_truth(path: str | os.PathLike[str]) -> list[Frame]:
    """Frames of a ground_truth.json (or dataset directory), with mesh vertices when present.

    Raises:
        FileNotFoundError: no ground truth there.
        ValueError: naming the file, frame and hand that is malformed.
    """
    path = ground_truth_path(path)
    if not path.exists():
        raise FileNotFoundError(f"ground truth {path} not found")
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise ValueError(f"{path}: expected an object with a 'frames' list")
    meshes = None
    if (path.parent / MESHES_FILE).exists():
        meshes = np.load(path.parent / MESHES_FILE)["vertices"]  # (T, H, V, 3)
    frames = []
    for t, frame in enumerate(data["frames"]):
        hands = []
        for h, hand in enumerate(frame.get("hands", [])):
            where = f"{path} frame {frame.get('frame', t)} hand {h}"
            vertices = meshes[t, h].astype(np.float64) if meshes is not None and t < len(meshes) and h < meshes.shape[1] else None
            hands.append(HandEntry(
                id=int(hand["id"]), handedness=Handedness.from_label(hand["handedness"]),
                keypoints=_keypoints(hand["keypoints_3d"], where), vertices=vertices,
            ))
        frames.append(Frame(stamp=float(frame["stamp"]), hands=tuple(hands)))
    return frames


def load_predictions(path: str | os.PathLike[str]) -> list[Frame]:
    """Frames of a fusion output JSON (a list of frames, or ``{"frames": [...]}``).

    Raises:
        FileNotFoundError / ValueError: naming the file, frame index and hand that is wrong.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"predictions {path} not found")
    data = _read_json(path)
    if isinstance(data, dict):
        data = data.get("frames")
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of frames (or an object with 'frames')")
    frames = []
    for t, frame in enumerate(data):
        if not isinstance(frame, dict) or "stamp" not in frame:
            raise ValueError(f"{path} frame {t}: expected an object with 'stamp' and 'hands'")
        hands = []
        for h, hand in enumerate(frame.get("hands", [])):
            where = f"{path} frame {t} hand {h}"
            try:
                vertices = None if hand.get("vertices") is None else check_shape("vertices", np.asarray(hand["vertices"], np.float64), (None, 3), where)
                hands.append(HandEntry(
                    id=int(hand["id"]), handedness=Handedness.from_label(hand.get("handedness", "Unknown")),
                    keypoints=_keypoints(hand["keypoints_3d"], where), vertices=vertices,
                ))
            except KeyError as exc:
                raise ValueError(f"{where}: missing key {exc.args[0]!r}") from None
        frames.append(Frame(stamp=float(frame["stamp"]), hands=tuple(hands)))
    return frames


def match_frames(gt: list[Frame], pred: list[Frame], tolerance_s: float) -> list[int | None]:
    """For each GT frame, the index of the prediction frame nearest in stamp within ``tolerance_s``."""
    if not pred:
        return [None] * len(gt)
    stamps = np.array([f.stamp for f in pred])
    order = np.argsort(stamps)
    sorted_stamps = stamps[order]
    out: list[int | None] = []
    for frame in gt:
        i = int(np.searchsorted(sorted_stamps, frame.stamp))
        candidates = [j for j in (i - 1, i) if 0 <= j < len(sorted_stamps)]
        best = min(candidates, key=lambda j: abs(sorted_stamps[j] - frame.stamp))
        out.append(int(order[best]) if abs(sorted_stamps[best] - frame.stamp) <= tolerance_s else None)
    return out


def match_hands(gt: tuple[HandEntry, ...], pred: tuple[HandEntry, ...], max_distance_m: float) -> dict[int, int]:
    """GT hand index → predicted hand index, by Hungarian assignment on the mean distance
    over joints present in both; pairs farther apart than ``max_distance_m`` stay unmatched."""
    from scipy.optimize import linear_sum_assignment

    if not gt or not pred:
        return {}
    cost = np.full((len(gt), len(pred)), np.inf)
    for i, g in enumerate(gt):
        for j, p in enumerate(pred):
            d = np.linalg.norm(g.keypoints - p.keypoints, axis=1)
            if np.any(~np.isnan(d)):
                cost[i, j] = np.nanmean(d)
    finite = np.where(np.isfinite(cost), cost, 1e6)  # the solver needs finite costs
    rows, cols = linear_sum_assignment(finite)
    return {int(i): int(j) for i, j in zip(rows, cols) if cost[i, j] <= max_distance_m}
