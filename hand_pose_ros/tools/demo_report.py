"""After a playback: score against ground truth, summarise, write the MCAP and a contact sheet.

Scoring is ``hand_pose_ros.evaluation`` (frames by stamp, hands by Hungarian assignment on
position, so a wrong handedness label shows in ``handedness_accuracy`` rather than as a
huge error). GT frames the node produced no output for (latest-wins drops on a slow
machine) count as misses in ``detection_rate``; MPJPE is over matched hands. The same is
computed over multi-view hands only: monocular ones declare an uncertain depth.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from hand_pose_ros.timing import NS_PER_S
from hand_pose_ros.tools.playback import MARKERS, POSE, PlaybackResult

__all__ = ["Summary", "summarise", "write_outputs", "format_summary", "predicted_frames"]

CONTACT_SHEET_FRAMES = 4  # rows of the contact sheet: frames spread over the run


@dataclasses.dataclass
class Summary:
    frames_in: int
    frames_out: int
    hands_found: int
    frames_with_hands: int
    monocular_hands: int
    latency_ms: dict[str, float]  # end-to-end: image stamp → received here
    node_latency_ms: dict[str, float]  # the node's own HandPoseArray.latency
    output_rate_hz: float
    evaluation: dict[str, Any] | None  # hand_pose_ros.evaluation report, all hands
    evaluation_multiview: dict[str, Any] | None  # the same over hands seen by >= 2 views

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _percentiles(values_s: Sequence[float]) -> dict[str, float]:
    if not values_s:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan")}
    arr = np.asarray(values_s) * 1e3
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 90, 99)}


def predicted_frames(result: PlaybackResult, multiview_only: bool = False) -> list:
    """The received HandPoseArrays as evaluation frames, stamps mapped back to the recording."""
    from hand_pose_ros.evaluation.matching import Frame, HandEntry
    from hand_pose_ros.ros.conversions import msg_to_hand, stamp_to_ns

    frames = []
    for received in result.poses:
        hands = [msg_to_hand(h) for h in received.message.hands]
        frames.append(Frame(
            stamp=(stamp_to_ns(received.message.header.stamp) - result.stamp_offset_ns) / NS_PER_S,
            hands=tuple(
                HandEntry(id=h.track_id, handedness=h.handedness, keypoints=h.keypoints_3d)
                for h in hands if not (multiview_only and h.monocular)
            ),
        ))
    return frames


def summarise(result: PlaybackResult, ground_truth: str | os.PathLike[str] | None) -> Summary:
    from hand_pose_ros.ros.conversions import stamp_to_ns

    report = report_multiview = None
    if ground_truth:
        from hand_pose_ros.evaluation.evaluate import evaluate
        from hand_pose_ros.evaluation.matching import load_ground_truth

        truth = load_ground_truth(ground_truth)
        report = evaluate(truth, predicted_frames(result))
        report_multiview = evaluate(truth, predicted_frames(result, multiview_only=True))
    latencies = [(r.time_ns - stamp_to_ns(r.message.header.stamp)) / NS_PER_S for r in result.poses]
    times = [r.time_ns for r in result.poses]
    span = (max(times) - min(times)) / NS_PER_S if len(times) > 1 else 0.0
    return Summary(
        frames_in=result.frames_in,
        frames_out=len(result.poses),
        hands_found=sum(len(r.message.hands) for r in result.poses),
        frames_with_hands=sum(bool(r.message.hands) for r in result.poses),
        monocular_hands=sum(h.monocular for r in result.poses for h in r.message.hands),
        latency_ms=_percentiles(latencies),
        node_latency_ms=_percentiles([r.message.latency for r in result.poses]),
        output_rate_hz=(len(times) - 1) / span if span > 0 else 0.0,
        evaluation=report,
        evaluation_multiview=report_multiview,
    )


def format_summary(s: Summary) -> str:
    lat, node = s.latency_ms, s.node_latency_ms
    lines = [
        f"frames in / out        {s.frames_in} / {s.frames_out}  ({s.output_rate_hz:.1f} Hz out)",
        f"hands found            {s.hands_found} in {s.frames_with_hands} frames ({s.monocular_hands} monocular)",
    ]
    if s.evaluation is None:
        lines.append("MPJPE vs ground truth  n/a (no ground truth)")
    else:
        every, multi = s.evaluation["overall"], s.evaluation_multiview["overall"]
        lines += [
            f"MPJPE vs ground truth  {_mm(every['mpjpe_mm'])} over {every['matched_hands']} matched hands "
            f"(PA-MPJPE {_mm(every['pa_mpjpe_mm'])}); multi-view hands only: {_mm(multi['mpjpe_mm'])} over {multi['matched_hands']}",
            f"ground-truth hands     {every['matched_hands']} of {every['gt_hands']} matched (frames without output count as missed), "
            f"handedness right {_pct(every['handedness_accuracy'])}, {s.evaluation['false_positive_hands']} false positives",
        ]
    lines += [
        f"latency end-to-end     median {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms",
        f"latency in the node    median {node['p50']:.1f} ms, p90 {node['p90']:.1f} ms",
    ]
    return "\n".join(lines)


def _mm(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} mm"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def write_outputs(result: PlaybackResult, out_dir: pathlib.Path, camera_names: Sequence[str]) -> dict[str, pathlib.Path]:
    """``out_dir/output`` (rosbag2 MCAP: /hands/pose, /hands/markers) and ``contact_sheet.png``."""
    import cv2

    from hand_pose_ros.tools.bag_io import McapWriter
    from hand_pose_ros.ros.image_conversion import image_to_rgb
    from hand_pose_ros.drawing import contact_sheet

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"mcap": out_dir / "output"}
    if paths["mcap"].exists():
        import shutil

        shutil.rmtree(paths["mcap"])
    with McapWriter(paths["mcap"]) as writer:
        for topic, items in ((POSE, result.poses), (MARKERS, result.markers)):
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
