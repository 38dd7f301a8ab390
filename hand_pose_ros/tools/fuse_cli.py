"""``hand-pose-ros fuse``: offline fusion of a detections file (formats in docs/fusion.md).

Runs ``HandPosePipeline.process_detections`` (no detector), so the pipeline's rules apply:
tracks restart when the stamps go back.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_arguments", "run", "read_detections"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("--calib", required=True, help="calibration YAML (as written by `hand-pose-ros synth`)")
    parser.add_argument("--detections", required=True, help="detections JSON: a list of frames {stamp, views}")
    parser.add_argument("--out", help="fused hands JSON (default: standard output)")
    add_set_option(parser, "fusion.filter=none")


def read_detections(path: str, camera_names: list[str]) -> list[tuple[float, list[list]]]:
    """DETS file → [(stamp, one list of HandDetection2D per camera in rig order)].

    Raises:
        ValueError: naming the file, frame and camera that are wrong.
    """
    from hand_pose_ros.types import HandDetection2D

    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of frames, got {type(data).__name__}")
    frames = []
    for i, frame in enumerate(data):
        where = f"{path}: frame {i}"
        if not isinstance(frame, dict) or "stamp" not in frame or not isinstance(frame.get("views"), dict):
            raise ValueError(f"{where}: expected an object with 'stamp' and 'views'")
        unknown = sorted(set(frame["views"]) - set(camera_names))
        if unknown:
            raise ValueError(f"{where}: cameras {unknown} are not in the calibration {camera_names}")
        per_camera = []
        for name in camera_names:
            items = frame["views"].get(name, [])
            try:
                per_camera.append([HandDetection2D.from_dict(item) for item in items])
            except (KeyError, TypeError, ValueError) as exc:
                detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
                raise ValueError(f"{where}, camera {name!r}: bad detection: {detail}") from None
        frames.append((float(frame["stamp"]), per_camera))
    return frames


def run(args: argparse.Namespace) -> int:
    from hand_pose_ros.calibration import load_calibration
    from hand_pose_ros.fusion import MultiViewFusion
    from hand_pose_ros.pipeline import HandPosePipeline
    from hand_pose_ros.timing import NS_PER_S
    from hand_pose_ros.tools.set_option import component_config

    try:
        config = component_config("fusion", args.settings)
        rig = load_calibration(args.calib)
        frames = read_detections(args.detections, rig.names)
    except (OSError, ValueError) as exc:
        print(f"hand-pose-ros fuse: {exc}", file=sys.stderr)
        return 2
    out = []
    with HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig, config)) as pipeline:
        for stamp, detections in frames:
            result = pipeline.process_detections(detections, round(stamp * NS_PER_S))
            out.append({"stamp": stamp, "hands": [h.to_dict() for h in result.hands]})
    text = json.dumps(out)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"fused {len(frames)} frames, {sum(len(f['hands']) for f in out)} hands → {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 0
