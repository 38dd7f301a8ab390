"""``hand-pose-ros calibrate board|hands``: make a calibration file, or refine one from tracked hands.

    hand-pose-ros calibrate board --images DIR --squares 7x5 --square-size 0.04 --marker-size 0.03 \\
        --dictionary DICT_5X5_100 [--intrinsics CALIB] [--fisheye] [--world board:FILE] --out calibration.yaml
    hand-pose-ros calibrate hands --calib CALIB --detections DETS [--refine-focal] --out refined.yaml

The report (per camera) goes to standard error and to ``<out>.report.txt``; ``calibrate board``
also writes ``<out>.png``: the cameras and board poses in 3D (docs/calibration.md).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

__all__ = ["add_arguments", "run"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(title="what to calibrate", metavar="KIND", dest="kind")
    board = sub.add_parser("board", help="intrinsics and extrinsics from ChArUco board images")
    source = board.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="folder with one sub-folder of images per camera (folder name = camera name); "
                                         "images of one moment share a file name across the folders")
    source.add_argument("--bag", help="rosbag2 folder or .mcap with Image/CompressedImage topics (camera = the "
                                      "topic's first name component; images paired by header stamp)")
    board.add_argument("--squares", required=True, help="squares of the board, COLUMNSxROWS (e.g. 7x5)")
    board.add_argument("--square-size", type=float, required=True, help="side of a square, metres")
    board.add_argument("--marker-size", type=float, required=True, help="side of a marker, metres")
    board.add_argument("--dictionary", default="DICT_5X5_100", help="ArUco dictionary (default DICT_5X5_100)")
    board.add_argument("--legacy-pattern", action="store_true", help="board made by OpenCV < 4.6 with even rows")
    board.add_argument("--intrinsics", help="calibration YAML whose intrinsics to keep (extrinsics only)")
    board.add_argument("--fisheye", action="store_true", help="estimate equidistant (fisheye) instead of plumb_bob")
    board.add_argument("--world", default="camera", help="world frame: 'camera' (first camera's optical frame, "
                                                         "default) or board:FILE (the board in image FILE, REP 103)")
    board.add_argument("--out", required=True, help="calibration YAML to write")
    hands = sub.add_parser("hands", help="refine extrinsics from hands several cameras see")
    hands.add_argument("--calib", required=True, help="calibration YAML to refine (keeps its world frame and scale)")
    hands_source = hands.add_mutually_exclusive_group(required=True)
    hands_source.add_argument("--detections", help="detections JSON (docs/fusion.md)")
    hands_source.add_argument("--bag", help="recording to run the detector on (not available yet: use "
                                            "--detections)")
    hands.add_argument("--refine-focal", action="store_true", help="also refine focal lengths")
    hands.add_argument("--reference", help="camera held fixed during the adjustment (default: the first)")
    hands.add_argument("--out", required=True, help="refined calibration YAML to write")


def _natural_key(name: str) -> list:
    """'cam10' after 'cam2': digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _progress(items, description: str):
    from tqdm import tqdm

    return tqdm(items, desc=description, unit="img", file=sys.stderr, disable=None)


def _read_image_folders(root: pathlib.Path, detector):
    """→ (camera order, camera → image name → detection, camera → (w, h))."""
    import cv2

    from hand_pose_ros.calibration.from_board import BoardCalibrationError

    if not root.is_dir():
        raise BoardCalibrationError(f"--images {root}: not a folder")
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: _natural_key(p.name))
    if not folders:
        raise BoardCalibrationError(f"--images {root}: no camera sub-folders (expected one folder per camera)")
    jobs = [(f.name, p) for f in folders for p in sorted(f.iterdir()) if p.suffix.lower() in _IMAGE_SUFFIXES]
    detections = {f.name: {} for f in folders}
    sizes: dict[str, tuple[int, int]] = {}
    for name, path in _progress(jobs, "board corners"):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise BoardCalibrationError(f"camera {name}: cannot read image {path}")
        size = (image.shape[1], image.shape[0])
        if sizes.setdefault(name, size) != size:
            raise BoardCalibrationError(f"camera {name}: {path.name} is {size[0]}x{size[1]}, its other images "
                                        f"{sizes[name][0]}x{sizes[name][1]}")
        detections[name][path.stem] = detector.detect(image)
    empty = [f.name for f in folders if f.name not in sizes]
    if empty:
        raise BoardCalibrationError(f"cameras {empty}: no images ({', '.join(_IMAGE_SUFFIXES)}) in their folders")
    return [f.name for f in folders], detections, sizes


def _read_bag(path: str, detector):
    """Image / CompressedImage topics of a bag → as ``_read_image_folders``; images named by stamp (ms)."""
    from hand_pose_ros.calibration.from_board import BoardCalibrationError
    from hand_pose_ros.ros.image_conversion import compressed_to_rgb, image_to_rgb
    from hand_pose_ros.tools.bag_io import bag_topics, read_bag

    kinds = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
    topics = [t for t, (msgtype, _) in bag_topics(path).items() if msgtype in kinds]
    if not topics:
        raise BoardCalibrationError(f"--bag {path}: no Image or CompressedImage topics")
    names = {t: t.strip("/").split("/")[0] for t in topics}
    order = sorted(set(names.values()), key=_natural_key)
    detections: dict[str, dict] = {n: {} for n in order}
    sizes: dict[str, tuple[int, int]] = {}
    for item in _progress(list(read_bag(path, topics)), "board corners"):
        convert = compressed_to_rgb if item.msgtype.endswith("CompressedImage") else image_to_rgb
        image = convert(item.message, where=item.topic)
        name = names[item.topic]
        stamp = item.message.header.stamp
        key = f"{(stamp.sec * 1_000_000_000 + stamp.nanosec) // 1_000_000:d}"  # cameras triggered together: same ms
        sizes[name] = (image.shape[1], image.shape[0])
        detections[name][key] = detector.detect(image)
    return order, detections, sizes


def _baseline_lines(names, baselines) -> list[str]:
    return [f"  {names[a]} – {names[b]}: {1e3 * baselines[a, b]:.1f} mm"
            for a in range(len(names)) for b in range(a + 1, len(names))]


def _plot(path: pathlib.Path, rig, boards, spec) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    axis_m = 0.6 * max(spec.size_m)
    for cam in rig.cameras:
        T = cam.world_T_camera
        for k, colour in enumerate("rgb"):
            end = T[:3, 3] + axis_m * T[:3, k]
            ax.plot(*np.stack([T[:3, 3], end]).T, colour)
        ax.text(*T[:3, 3], cam.name)
    w, h = spec.size_m
    outline = np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0], [0, 0, 0]], float)
    for T in boards.values():
        ax.plot(*(outline @ T[:3, :3].T + T[:3, 3]).T, "k-", linewidth=0.6)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    ax.set_title(f"cameras (x red, y green, z blue) and {len(boards)} board poses; world: {rig.world_frame}")
    ax.set_aspect("equal")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _board(args: argparse.Namespace) -> int:
    from hand_pose_ros.calibration import load_calibration, save_calibration
    from hand_pose_ros.calibration.board import BoardDetector, BoardSpec, parse_squares
    from hand_pose_ros.calibration.from_board import BoardCalibrationConfig, calibrate_from_board

    if args.world != "camera" and not args.world.startswith("board:"):
        print(f"hand-pose-ros calibrate board: --world must be 'camera' or board:FILE, got {args.world!r}", file=sys.stderr)
        return 2
    world_image = pathlib.Path(args.world[len("board:"):]).stem if args.world.startswith("board:") else None
    try:
        spec = BoardSpec(squares=parse_squares(args.squares), square_size_m=args.square_size,
                         marker_size_m=args.marker_size, dictionary=args.dictionary, legacy_pattern=args.legacy_pattern)
        intrinsics = load_calibration(args.intrinsics) if args.intrinsics else None
        detector = BoardDetector(spec)
        if args.images:
            order, detections, sizes = _read_image_folders(pathlib.Path(args.images), detector)
        else:
            order, detections, sizes = _read_bag(args.bag, detector)
        if intrinsics is not None:
            order = [n for n in intrinsics.names if n in order] + [n for n in order if n not in intrinsics.names]
        config = BoardCalibrationConfig(distortion_model="equidistant" if args.fisheye else "plumb_bob")
        result = calibrate_from_board(detections, sizes, spec, config, camera_order=order, intrinsics=intrinsics,
                                      world_image=world_image)
    except (OSError, ValueError) as exc:
        print(f"hand-pose-ros calibrate board: {exc}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out)
    save_calibration(out, result.rig)
    lines = [f"calibration of {len(order)} cameras from {len(result.world_T_board)} board poses → {out}",
             "camera  images  with-corners  corners  used  shared  rms(px)  intrinsics-rms(px)  fx(px)"]
    for report, cam in zip(result.cameras, result.rig.cameras):
        lines.append(f"{report.name}  {report.images}  {report.views_with_corners}  {report.corners_found}  "
                     f"{report.views_used}  {report.views_shared}  {report.rms_px:.3f}  "
                     f"{report.intrinsics_rms_px:.3f}  {cam.camera_matrix[0, 0]:.1f}")
    lines += ["baselines:"] + _baseline_lines(result.rig.names, result.baselines_m)
    _write_report(out, lines)
    _plot(out.with_suffix(".png"), result.rig, result.world_T_board, spec)
    return 0


def _write_report(out: pathlib.Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    sys.stderr.write(text)
    out.with_suffix(".report.txt").write_text(text, encoding="utf-8")


def _hands(args: argparse.Namespace) -> int:

    from hand_pose_ros.calibration import load_calibration, save_calibration
    from hand_pose_ros.calibration.from_hands import HandRefinementConfig, refine_from_hands
    from hand_pose_ros.tools.fuse_cli import read_detections

    if args.bag:
        print("hand-pose-ros calibrate hands: --bag is not available yet; run the detector first "
              "(`hand-pose-ros detect --json`) and pass --detections", file=sys.stderr)
        return 2
    try:
        rig = load_calibration(args.calib)
        frames = read_detections(args.detections, rig.names)
        config = HandRefinementConfig(refine_focal=args.refine_focal, reference_camera=args.reference)
        result = refine_from_hands(rig, frames, config)
    except (OSError, ValueError) as exc:
        print(f"hand-pose-ros calibrate hands: {exc}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out)
    save_calibration(out, result.rig)
    lines = [f"refined {len(rig)} cameras from {result.frames} frames → {out}",
             "camera  joints  rotation(deg)  translation(mm)  focal(%)  rms-before(px)  rms-after(px)  gauge"]
    for v, name in enumerate(rig.names):
        lines.append(f"{name}  {result.joints[v]}  {result.rotation_deg[v]:.3f}  {result.translation_mm[v]:.1f}  "
                     f"{100 * result.focal_change[v]:+.2f}  {result.rms_before_px[v]:.2f}  {result.rms_after_px[v]:.2f}  "
                     f"{'yes' if result.gauge_cameras[v] else 'no'}")
    lines += [f"kept as given: {reason}" for reason in result.not_refined.values()]
    _write_report(out, lines)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.kind == "board":
        return _board(args)
    if args.kind == "hands":
        return _hands(args)
    print("hand-pose-ros calibrate: say what to calibrate: board or hands (see --help)", file=sys.stderr)
    return 2
