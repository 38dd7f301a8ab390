"""After a playback: score against ground truth, summarise, write the MCAP and a contact sheet.

Ground truth is the synth format (``ground_truth.json``: frames with stamps and per-hand
``keypoints_3d`` in metres, world frame). Output hands are matched to ground-truth hands of
the same frame by position (smallest mean joint distance first, each used once), so a
wrong handedness label shows in ``handedness_accuracy`` instead of as a huge error; MPJPE is
the mean over matched hands of the mean Euclidean joint error over the joints both have.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.ros.playback import PlaybackResult

__all__ = ["Summary", "summarise", "write_outputs", "format_summary"]

CONTACT_SHEET_FRAMES = 4  # rows of the contact sheet: frames spread over the run


@dataclasses.dataclass
class Summary:
    frames_in: int
    frames_out: int
    hands_found: int
    frames_with_hands: int
    mpjpe_mm: float  # NaN without ground truth
    mpjpe_multiview_mm: float  # hands seen by ≥ 2 views (monocular ones have uncertain depth)
    matched_hands: int
    monocular_hands: int
    handedness_accuracy: float  # fraction of matched hands with the right label
    latency_ms: dict[str, float]  # end-to-end: image stamp → received here
    node_latency_ms: dict[str, float]  # the node's own HandPoseArray.latency
    output_rate_hz: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _percentiles(values_s: Sequence[float]) -> dict[str, float]:
    if not values_s:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan")}
    arr = np.asarray(values_s) * 1e3
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 90, 99)}


# An output stamp further than this from every ground-truth stamp is not one of its frames.
STAMP_MATCH_TOLERANCE_NS = 5_000_000


def _ground_truth_by_stamp(path: str | os.PathLike[str]) -> dict[int, list[tuple[Handedness, np.ndarray]]]:
    """recorded stamp (ns) → [(handedness, (21, 3) m world)] per ground-truth hand."""
    data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    return {
        int(round(frame["stamp"] * 1e9)): [
            (Handedness.from_label(h["handedness"]), np.asarray(h["keypoints_3d"], np.float64)) for h in frame["hands"]
        ]
        for frame in data["frames"]
    }


def hand_errors_m(result: PlaybackResult, ground_truth: str | os.PathLike[str]) -> list[tuple[float, bool, bool]]:
    """Per matched output hand: (mean joint error in m, handedness label correct, monocular)."""
    from hand_pose_ros.ros.conversions import msg_to_hand, stamp_to_ns

    truth = _ground_truth_by_stamp(ground_truth)
    stamps = np.array(sorted(truth))
    matches = []
    for received in result.poses:
        recorded = stamp_to_ns(received.message.header.stamp) - result.stamp_offset_ns
        nearest = int(stamps[np.argmin(np.abs(stamps - recorded))])
        if abs(nearest - recorded) > STAMP_MATCH_TOLERANCE_NS:
            continue
        hands = [msg_to_hand(h) for h in received.message.hands]
        # (output hand, gt hand) → mean joint distance over joints present in both
        pairs = []
        for i, hand in enumerate(hands):
            for j, (_, gt) in enumerate(truth[nearest]):
                distance = np.linalg.norm(hand.keypoints_3d - gt, axis=1)  # (21,) m, NaN where missing
                if np.isfinite(distance).any():
                    pairs.append((float(np.nanmean(distance)), i, j))
        used_out, used_gt = set(), set()
        for error, i, j in sorted(pairs):
            if i not in used_out and j not in used_gt:
                used_out.add(i)
                used_gt.add(j)
                matches.append((error, hands[i].handedness == truth[nearest][j][0], hands[i].monocular))
    return matches


def summarise(result: PlaybackResult, ground_truth: str | os.PathLike[str] | None) -> Summary:
    from hand_pose_ros.ros.conversions import stamp_to_ns

    latencies = [(r.time_ns - stamp_to_ns(r.message.header.stamp)) / 1e9 for r in result.poses]
    matches = hand_errors_m(result, ground_truth) if ground_truth else []
    errors = [e for e, _, _ in matches]
    multiview = [e for e, _, mono in matches if not mono]
    times = [r.time_ns for r in result.poses]
    span = (max(times) - min(times)) / 1e9 if len(times) > 1 else 0.0
    return Summary(
        frames_in=result.frames_in,
        frames_out=len(result.poses),
        hands_found=sum(len(r.message.hands) for r in result.poses),
        frames_with_hands=sum(bool(r.message.hands) for r in result.poses),
        mpjpe_mm=float(np.mean(errors) * 1e3) if errors else float("nan"),
        mpjpe_multiview_mm=float(np.mean(multiview) * 1e3) if multiview else float("nan"),
        matched_hands=len(errors),
        monocular_hands=len(errors) - len(multiview),
        handedness_accuracy=float(np.mean([ok for _, ok, _ in matches])) if matches else float("nan"),
        latency_ms=_percentiles(latencies),
        node_latency_ms=_percentiles([r.message.latency for r in result.poses]),
        output_rate_hz=(len(times) - 1) / span if span > 0 else 0.0,
    )


def format_summary(s: Summary) -> str:
    lat, node = s.latency_ms, s.node_latency_ms
    mpjpe = "n/a (no hands matched to ground truth)" if np.isnan(s.mpjpe_mm) else (
        f"{s.mpjpe_mm:.1f} mm over {s.matched_hands} hands ({s.mpjpe_multiview_mm:.1f} mm over the "
        f"{s.matched_hands - s.monocular_hands} seen by >= 2 views), handedness right for {s.handedness_accuracy:.0%}"
    )
    return "\n".join([
        f"frames in / out        {s.frames_in} / {s.frames_out}  ({s.output_rate_hz:.1f} Hz out)",
        f"hands found            {s.hands_found} in {s.frames_with_hands} frames",
        f"MPJPE vs ground truth  {mpjpe}",
        f"latency end-to-end     median {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms",
        f"latency in the node    median {node['p50']:.1f} ms, p90 {node['p90']:.1f} ms",
    ])


def write_outputs(result: PlaybackResult, out_dir: pathlib.Path, camera_names: Sequence[str]) -> dict[str, pathlib.Path]:
    """``out_dir/output`` (rosbag2 MCAP: /hands/pose, /hands/markers) and ``contact_sheet.png``."""
    import cv2

    from hand_pose_ros.ros.bag_io import McapWriter
    from hand_pose_ros.ros.image_conversion import image_to_rgb
    from hand_pose_ros.ros.overlay import contact_sheet

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"mcap": out_dir / "output"}
    if paths["mcap"].exists():
        import shutil

        shutil.rmtree(paths["mcap"])
    with McapWriter(paths["mcap"]) as writer:
        for topic, items in (("/hands/pose", result.poses), ("/hands/markers", result.markers)):
            for r in items:
                writer.write(topic, r.message, r.time_ns)
    by_camera = [result.overlays.get(name, []) for name in camera_names]
    usable = min((len(v) for v in by_camera), default=0)
    if usable:
        picks = np.linspace(0, usable - 1, min(CONTACT_SHEET_FRAMES, usable)).round().astype(int)
        tiles = [image_to_rgb(by_camera[c][k].message) for k in picks for c in range(len(camera_names))]
        sheet = contact_sheet(tiles, columns=len(camera_names))
        paths["contact_sheet"] = out_dir / "contact_sheet.png"
        cv2.imwrite(str(paths["contact_sheet"]), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return paths
