"""``hand-pose-ros calibrate board|hands``: make a calibration file, or refine one from tracked hands.

    hand-pose-ros calibrate board --images DIR --squares 7x5 --square-size 0.04 --marker-size 0.03 \\
        --dictionary DICT_5X5_100 [--intrinsics CALIB] [--fisheye] [--world board:FILE] --out calibration.yaml
    hand-pose-ros calibrate hands --calib CALIB --detections DETS|--bag BAG [--refine-focal] [--bones] [--depth]
        --out refined.yaml

The report (per camera) goes to standard error and to ``<out>.report.txt``; ``calibrate board``
also writes ``<out>.png``: the cameras and board poses in 3D (docs/calibration.md).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

__all__ = ["add_arguments", "run", "read_depth_maps"]

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
    hands_source.add_argument("--bag", help="rosbag2 folder or .mcap to run the detector on: Image/CompressedImage "
                                            "topics, camera = the topic's first name component")
    hands.add_argument("--slop", type=float, default=0.01,
                       help="--bag: largest stamp difference (s) of the images of one set (default 0.01)")
    hands.add_argument("--refine-focal", action="store_true", help="also refine focal lengths")
    hands.add_argument("--systematic", action="store_true",
                       help="down-weight cameras whose detections' offsets wander over the recording "
                            "(HandRefinementConfig.systematic; docs/calibration.md)")
    hands.add_argument("--offsets", default="none", choices=("none", "shift", "similarity"),
                       help="per-detection nuisance transforms absorbing the detector's offsets "
                            "(HandRefinementConfig.offsets; docs/calibration.md; default none)")
    hands.add_argument("--bones", action="store_true",
                       help="a rigid skeleton: each hand keeps its bone lengths over the recording "
                            "(HandRefinementConfig.bones; docs/calibration.md)")
    hands.add_argument("--depth", action="store_true",
                       help="use the aligned depth maps the detections file names per frame (\"depth\": {camera: "
                            "PNG}) as metric witnesses of each camera's distance to the hands (docs/calibration.md)")
    hands.add_argument("--hidden-weights", action="store_true",
                       help="with --depth, keypoints the depth shows covered weigh less "
                            "(HandRefinementConfig.hidden_weights; docs/calibration.md)")
    hands.add_argument("--reference", help="camera held fixed during the adjustment (default: the first)")
    hands.add_argument("--out", required=True, help="refined calibration YAML to write")


def _natural_key(name: str) -> list:
    """'cam10' after 'cam2': digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _progress(items, description: str, total: int | None = None, unit: str = "img"):
    from tqdm import tqdm

    return tqdm(items, desc=description, unit=unit, total=total, file=sys.stderr, disable=None)


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
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise BoardCalibrationError(f"camera {name}: cannot read image {path}")
        # The same grey as a bag's image of the same pixels (``_read_bag``).
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        size = (image.shape[1], image.shape[0])
        if sizes.setdefault(name, size) != size:
            raise BoardCalibrationError(f"camera {name}: {path.name} is {size[0]}x{size[1]}, its other images "
                                        f"{sizes[name][0]}x{sizes[name][1]}")
        detections[name][path.stem] = detector.detect(image)
    empty = [f.name for f in folders if f.name not in sizes]
    if empty:
        raise BoardCalibrationError(f"cameras {empty}: no images ({', '.join(_IMAGE_SUFFIXES)}) in their folders")
    return [f.name for f in folders], detections, sizes


_IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


def _image_topics(path: str) -> dict[str, str]:
    """Image / CompressedImage topics of a bag → camera name (the topic's first component,
    ``/cam0/image_raw`` → ``cam0``).

    Raises:
        ValueError: no such topic.
    """
    from hand_pose_ros.tools.bag_io import bag_topics

    topics = [t for t, (msgtype, _) in bag_topics(path).items() if msgtype in _IMAGE_TYPES]
    if not topics:
        raise ValueError(f"--bag {path}: no Image or CompressedImage topics")
    return {t: t.strip("/").split("/")[0] for t in topics}


def _to_rgb(item):
    """A bag's Image or CompressedImage message → (H, W, 3) uint8 RGB."""
    from hand_pose_ros.ros.image_conversion import compressed_to_rgb, image_to_rgb

    convert = compressed_to_rgb if item.msgtype.endswith("CompressedImage") else image_to_rgb
    return convert(item.message, where=item.topic)


def _read_bag(path: str, detector):
    """Image / CompressedImage topics of a bag → as ``_read_image_folders``; images named by stamp (ms)."""
    import cv2

    from hand_pose_ros.ros.conversions import stamp_to_ns
    from hand_pose_ros.tools.bag_io import read_bag

    names = _image_topics(path)
    order = sorted(set(names.values()), key=_natural_key)
    detections: dict[str, dict] = {n: {} for n in order}
    sizes: dict[str, tuple[int, int]] = {}
    for item in _progress(list(read_bag(path, list(names))), "board corners"):
        image = cv2.cvtColor(_to_rgb(item), cv2.COLOR_RGB2GRAY)
        name = names[item.topic]
        key = f"{stamp_to_ns(item.message.header.stamp) // 1_000_000:d}"  # cameras triggered together: same ms
        sizes[name] = (image.shape[1], image.shape[0])
        detections[name][key] = detector.detect(image)
    return order, detections, sizes


def _bag_hand_frames(path: str, rig, slop_s: float):
    """Run the detector over a recording's image sets → [(stamp s, V lists of HandDetection2D in
    rig order)], the input of ``refine_from_hands``.

    Images are grouped into sets by header stamp (``ros.sync.ApproximateSynchronizer``, all
    cameras within ``slop_s``; sets missing a camera are skipped) and go through the project's
    pipeline (``HandPosePipeline``: the detector's per-view tracking) with the 3D guidance off:
    guided crops come from hands fused with the calibration under test, and would pull the
    keypoints towards it. No meshes are fitted.

    Raises:
        ValueError: a rig camera without an image topic in the bag, a camera with two, a
            detector that cannot be built.
    """
    from hand_pose_ros.config import SyncConfig
    from hand_pose_ros.detection.config import GuidanceConfig
    from hand_pose_ros.mesh import MeshFitterConfig
    from hand_pose_ros.pipeline import HandPosePipeline, PipelineBuildError, PipelineConfig
    from hand_pose_ros.ros.conversions import stamp_to_ns
    from hand_pose_ros.ros.sync import ApproximateSynchronizer
    from hand_pose_ros.timing import NS_PER_S
    from hand_pose_ros.tools.bag_io import bag_topics, read_bag

    names = _image_topics(path)
    topic_of: dict[str, str] = {}
    for topic, camera in names.items():
        if camera in rig.names and topic_of.setdefault(camera, topic) != topic:
            raise ValueError(f"--bag {path}: camera {camera} has two image topics, {topic_of[camera]} and {topic}: "
                             "record one per camera")
    missing = [c for c in rig.names if c not in topic_of]
    if missing:
        raise ValueError(f"--bag {path}: no image topic for cameras {missing} of the calibration (the camera is the "
                         f"topic's first name component; image topics: {sorted(names)})")
    index = {topic: rig.names.index(camera) for camera, topic in topic_of.items()}
    counts = bag_topics(path)
    sync = ApproximateSynchronizer(SyncConfig(num_cameras=len(rig), slop=slop_s, partial_timeout=0.0))
    config = PipelineConfig(guidance=GuidanceConfig(enabled=False), mesh=MeshFitterConfig(model="none"))
    frames = []
    try:
        pipeline = HandPosePipeline.from_config(config, rig)
    except PipelineBuildError as exc:
        raise ValueError(f"--bag: cannot build the detector: {exc}") from None
    with pipeline:
        messages = read_bag(path, list(index))
        for item in _progress(messages, "hand detection", total=sum(counts[t][1] for t in index), unit="image"):
            try:
                ready = sync.add(index[item.topic], stamp_to_ns(item.message.header.stamp), item, item.log_time_ns / NS_PER_S)
            except ValueError:  # a duplicate or out-of-order stamp on one camera: not a new image
                continue
            if ready is None:
                continue
            result = pipeline.process([_to_rgb(i) for i in ready.items], ready.stamp_ns, fit_meshes=False)
            frames.append((ready.stamp_ns / NS_PER_S, [list(view) for view in result.detections]))
    return frames


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
             "camera  images  with-corners  corners  used  shared  rms(px)  intrinsics-rms(px)  fx(px)  "
             "distortion-terms"]
    for report, cam in zip(result.cameras, result.rig.cameras):
        lines.append(f"{report.name}  {report.images}  {report.views_with_corners}  {report.corners_found}  "
                     f"{report.views_used}  {report.views_shared}  {report.rms_px:.3f}  "
                     f"{report.intrinsics_rms_px:.3f}  {cam.camera_matrix[0, 0]:.1f}  "
                     f"{','.join(report.distortion_terms) or 'given'}")
    lines += ["baselines:"] + _baseline_lines(result.rig.names, result.baselines_m)
    _write_report(out, lines)
    _plot(out.with_suffix(".png"), result.rig, result.world_T_board, spec)
    return 0


def _write_report(out: pathlib.Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    sys.stderr.write(text)
    out.with_suffix(".report.txt").write_text(text, encoding="utf-8")


def read_depth_maps(detections: str, names: list[str]) -> list:
    """A detections file's depth PNGs → per frame None or one (H, W) float32 m map (or None) per
    camera in rig order, for ``refine_from_hands(depths=…)``.

    Raises:
        ValueError: no frame of the file names a depth map (``fuse_cli.read_depth_paths`` for the others).
    """
    from hand_pose_ros.tools.fuse_cli import load_depth_png, read_depth_paths

    paths = read_depth_paths(detections, names)
    if not any(paths):
        raise ValueError(f"{detections}: --depth, but no frame names a depth map (\"depth\": {{camera: PNG}})")
    return [[load_depth_png(frame[name]) if name in frame else None for name in names] if frame else None
            for frame in paths]


def _hands(args: argparse.Namespace) -> int:

    from hand_pose_ros.calibration import load_calibration, save_calibration
    from hand_pose_ros.calibration.from_hands import HandRefinementConfig, refine_from_hands
    from hand_pose_ros.tools.fuse_cli import read_detections

    try:
        rig = load_calibration(args.calib)
        if (args.depth or args.hidden_weights) and not args.detections:
            raise ValueError("--depth and --hidden-weights read the depth maps a detections file names (--detections); "
                             "a bag's images carry none here")
        if args.hidden_weights and not args.depth:
            raise ValueError("--hidden-weights needs --depth (the depth shows which keypoints are covered)")
        if args.bag:
            frames = _bag_hand_frames(args.bag, rig, args.slop)
        else:
            frames = read_detections(args.detections, rig.names)
        depths = read_depth_maps(args.detections, rig.names) if args.depth else None
        config = HandRefinementConfig(refine_focal=args.refine_focal, reference_camera=args.reference,
                                      systematic=args.systematic, offsets=args.offsets, bones=args.bones,
                                      hidden_weights=args.hidden_weights)
        result = refine_from_hands(rig, frames, config, depths=depths)
    except (OSError, ValueError) as exc:
        print(f"hand-pose-ros calibrate hands: {exc}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out)
    save_calibration(out, result.rig)
    lines = [f"refined {len(rig)} cameras from {result.frames} frames → {out}",
             "camera  joints  rotation(deg)  translation(mm)  uncertainty(deg/mm)  focal(%)  rms-before(px)  "
             "rms-after(px)  gauge"]
    for v, name in enumerate(rig.names):
        lines.append(f"{name}  {result.joints[v]}  {result.rotation_deg[v]:.3f}  {result.translation_mm[v]:.1f}  "
                     f"{result.uncertainty_deg[v]:.2f}/{result.uncertainty_mm[v]:.0f}  "
                     f"{100 * result.focal_change[v]:+.2f}  {result.rms_before_px[v]:.2f}  {result.rms_after_px[v]:.2f}  "
                     f"{'yes' if result.gauge_cameras[v] else 'no'}")
    if result.depth_bias_mm is not None:
        lines.append("depth (measured joints used, the camera's depth bias found, mm): " + ", ".join(
            f"{name} {n} {b:+.1f}" for name, n, b in zip(rig.names, result.depth_samples, result.depth_bias_mm)))
    lines += [f"kept as given: {reason}" for reason in (*result.not_refined.values(), *result.not_applied.values())]
    if result.held_out_px:
        lines.append("held-out error (median over detections, px; fitted on the other frames), input → refined: "
                     + ", ".join(f"{a:.2f} → {b:.2f}" for a, b in result.held_out_px))
    if result.held_out_bones:
        lines.append("held-out hands' bone-length scatter (std / mean over the frames, %), input → refined: "
                     + ", ".join(f"{100 * a:.1f} → {100 * b:.1f}" for a, b in result.held_out_bones))
    _write_report(out, lines)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.kind == "board":
        return _board(args)
    if args.kind == "hands":
        return _hands(args)
    print("hand-pose-ros calibrate: say what to calibrate: board or hands (see --help)", file=sys.stderr)
    return 2
