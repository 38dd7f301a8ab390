"""``hand-pose-ros fuse``: offline fusion of a detections file (formats in docs/fusion.md).

Runs ``HandPosePipeline.process_detections`` (no detector), so the pipeline's rules apply:
tracks restart when the stamps go back. A frame may name aligned depth images per camera
(``"depth": {camera: "file.png"}``, 16-bit PNG millimetres, relative to the detections file):
they are read one frame at a time and given to the pipeline; a map the pipeline drops (wrong
size, no measurement) is reported in that frame's ``depth_problems``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

__all__ = ["add_arguments", "run", "read_detections", "read_depth_paths", "load_depth_png"]


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


def read_depth_paths(path: str, camera_names: list[str]) -> list[dict[str, pathlib.Path]]:
    """DETS file → per frame, camera name → its depth PNG (resolved against the file's folder;
    empty where the frame has no ``"depth"``).

    Raises:
        ValueError: naming the file, frame and camera: an unknown camera, a value that is not
            a string, a file that does not exist.
    """
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    folder = pathlib.Path(path).resolve().parent
    out = []
    for i, frame in enumerate(data):
        depth = frame.get("depth", {}) if isinstance(frame, dict) else {}
        where = f"{path}: frame {i}"
        if not isinstance(depth, dict):
            raise ValueError(f"{where}: expected 'depth' to map camera names to PNG paths, got {type(depth).__name__}")
        unknown = sorted(set(depth) - set(camera_names))
        if unknown:
            raise ValueError(f"{where}: depth for cameras {unknown} that are not in the calibration {camera_names}")
        paths = {}
        for name, file in depth.items():
            if not isinstance(file, str):
                raise ValueError(f"{where}, camera {name!r}: expected a depth PNG path, got {file!r}")
            paths[name] = folder / file
            if not paths[name].is_file():
                raise ValueError(f"{where}, camera {name!r}: depth file {paths[name]} does not exist")
        out.append(paths)
    return out


def load_depth_png(path: pathlib.Path):
    """A 16-bit PNG of millimetres (0 = none) → ``(H, W) float32`` metres, NaN = none.

    Raises:
        ValueError: naming the file: unreadable, or not single-channel 16-bit.
    """
    from hand_pose_ros.fusion.depth import depth_from_millimetres, read_depth_png

    return depth_from_millimetres(read_depth_png(path))


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
        depth_paths = read_depth_paths(args.detections, rig.names)
    except (OSError, ValueError) as exc:
        print(f"hand-pose-ros fuse: {exc}", file=sys.stderr)
        return 2
    out = []
    with HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig, config)) as pipeline:
        for (stamp, detections), paths in zip(frames, depth_paths):
            try:
                depths = [load_depth_png(paths[name]) if name in paths else None for name in rig.names] if paths else None
            except ValueError as exc:
                print(f"hand-pose-ros fuse: {exc}", file=sys.stderr)
                return 2
            result = pipeline.process_detections(detections, round(stamp * NS_PER_S), depths=depths)
            frame_out = {"stamp": stamp, "hands": [h.to_dict() for h in result.hands]}
            if result.depth_problems:
                frame_out["depth_problems"] = result.depth_problems
                for name, reason in result.depth_problems.items():
                    print(f"hand-pose-ros fuse: frame at {stamp} s: depth of camera {name!r}: {reason} (dropped; colour only)",
                          file=sys.stderr)
            out.append(frame_out)
    text = json.dumps(out)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"fused {len(frames)} frames, {sum(len(f['hands']) for f in out)} hands → {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 0
