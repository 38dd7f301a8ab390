"""``hand-pose-ros bench calibration``: hand-based extrinsic refinement on real DexYCB data.

The exact calibration of DexYCB's mustard-bottle sequence follows from its labels (intrinsics
by least squares of joint_2d = K joint_3d / z, camera→first-camera poses by Procrustes of
joint_3d; ``../shared/data/real/dexycb_subject01/PROVENANCE.md``). Every camera is then
disturbed by a fixed rotation angle and translation length in random directions,
``calibrate hands`` refines the disturbed file from the real detector's keypoints, and 8-view
MPJPE (fusion, first camera's frame, against the labels' MANO joints) is compared under the
exact, disturbed and refined calibrations. MediaPipe keypoints are not MANO joints (≈1 cm
apart at the wrist), so the figures compare calibrations with each other, not with zero.

Gauge: hands fix a rig only up to a similarity. The refinement keeps the input's world frame
and mean scale; with every camera disturbed that mean scale is itself off (by ≈ 0.5–1 % here),
and the hands, ≈ 0.8 m from the first camera, scale with it. So two figures: in the kept gauge
(what a user of the file gets), with the "perfect refinement" (the exact rig in the disturbed
file's gauge) as its floor; and gauge-free (the file mapped onto the exact rig by the
similarity of its camera poses first), which measures what hands can recover.
"""

from __future__ import annotations

import argparse
import pathlib

__all__ = ["add_arguments", "run", "load_dexycb_sequence"]

DEXYCB_FPS = 30.0  # DexYCB's RealSense cameras record at 30 Hz
# Where the sequence lives, relative to the repository root (never copied into it).
DEFAULT_SEQUENCE = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "real" / \
    "dexycb_subject01" / "mustard_bottle" / "20200709_143211"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sequence", default=str(DEFAULT_SEQUENCE), help="DexYCB sequence folder (one folder per serial)")
    parser.add_argument("--work", default="bench_calibration", help="folder for the detections and calibration files")
    parser.add_argument("--rotation-deg", type=float, default=1.0, help="disturbance of every camera: rotation angle")
    parser.add_argument("--translation-mm", type=float, default=20.0, help="disturbance of every camera: translation")
    parser.add_argument("--seeds", type=int, default=3, help="number of random disturbances to refine")
    parser.add_argument("--refine-focal", action="store_true", help="also refine focal lengths")
    parser.add_argument("--systematic", action="store_true",
                        help="HandRefinementConfig.systematic: down-weight cameras whose offsets wander")
    parser.add_argument("--offsets", default="none", choices=("none", "shift", "similarity"),
                        help="HandRefinementConfig.offsets: per-detection nuisance transforms (default none)")
    parser.add_argument("--bones", action="store_true",
                        help="HandRefinementConfig.bones: each hand keeps its bone lengths over the recording")
    parser.add_argument("--depth", action="store_true",
                        help="the sequence's aligned depth (the instants where every camera has it) in the refinement")
    parser.add_argument("--hidden-weights", action="store_true",
                        help="with --depth, HandRefinementConfig.hidden_weights: keypoints the depth shows covered weigh less")


def load_dexycb_sequence(folder: str | pathlib.Path):
    """A DexYCB sequence → (rig, frames): rig with the exact calibration (world = first serial's
    optical frame, pinhole), frames = [(index, {serial: image path}, {serial: (21, 3) m joints in
    that camera's frame or None})] in frame order. Serials in meta.yml's order.

    Raises:
        FileNotFoundError: the folder or its meta.yml is missing.
        ValueError: a camera without labelled frames.
    """
    import numpy as np
    import yaml

    from hand_pose_ros.calibration import CameraCalibration, Rig
    from hand_pose_ros.similarity import umeyama

    folder = pathlib.Path(folder)
    with open(folder / "meta.yml", encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    serials = [str(s) for s in meta["serials"]]
    count = int(meta["num_frames"])
    joints: dict[str, list] = {s: [] for s in serials}
    pixels: dict[str, list] = {s: [] for s in serials}
    for serial in serials:
        for i in range(count):
            labels = np.load(folder / serial / f"labels_{i:06d}.npz")
            j3, j2 = labels["joint_3d"][0].astype(np.float64), labels["joint_2d"][0].astype(np.float64)
            labelled = not np.all(j3 == -1)
            joints[serial].append(j3 if labelled else None)
            pixels[serial].append(j2 if labelled else None)
    cameras = []
    first = serials[0]
    for serial in serials:
        pts = np.concatenate([p for p in joints[serial] if p is not None])
        px = np.concatenate([p for p in pixels[serial] if p is not None])
        if not len(pts):
            raise ValueError(f"{folder}: camera {serial} has no labelled frame")
        x, y = pts[:, 0] / pts[:, 2], pts[:, 1] / pts[:, 2]
        ones = np.ones_like(x)
        fx, cx = np.linalg.lstsq(np.stack([x, ones], 1), px[:, 0], rcond=None)[0]
        fy, cy = np.linalg.lstsq(np.stack([y, ones], 1), px[:, 1], rcond=None)[0]
        both = [i for i in range(count) if joints[serial][i] is not None and joints[first][i] is not None]
        first_T_cam = umeyama(np.concatenate([joints[serial][i] for i in both]),
                              np.concatenate([joints[first][i] for i in both]), scale=False).matrix()
        cameras.append(CameraCalibration(
            name=f"cam{len(cameras)}_{serial}", frame_id=f"camera_{serial}_color_optical_frame", width=640, height=480,
            camera_matrix=np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), distortion_model="none",
            world_T_camera=first_T_cam))
    frames = []
    for i in range(count):
        frames.append((i, {c.name: folder / s / f"color_{i:06d}.jpg" for c, s in zip(cameras, serials)},
                       {c.name: joints[s][i] for c, s in zip(cameras, serials)}))
    return Rig(cameras=tuple(cameras), world_frame=f"camera_{first}_color_optical_frame"), frames


def detect_sequence(rig, frames, path: pathlib.Path) -> None:
    """Run the real detector (onnxruntime, tracking per view) on every frame's views; write a DETS file
    (docs/fusion.md), stamps = frame index / 30 s (DexYCB records at 30 Hz)."""
    import json

    import cv2

    from hand_pose_ros.detection import HandDetector, HandDetectorConfig

    detector = HandDetector(HandDetectorConfig(backend="onnxruntime", max_hands=1, num_threads=1))
    out = []
    for index, images, _ in frames:
        rgb = [cv2.cvtColor(cv2.imread(str(images[name]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for name in rig.names]
        views = detector.detect(rgb)
        out.append({"stamp": index / DEXYCB_FPS,
                    "views": {name: [d.to_dict() for d in view] for name, view in zip(rig.names, views)}})
    path.write_text(json.dumps(out), encoding="utf-8")


def write_depth_detections(sequence: pathlib.Path, rig, detections_path: pathlib.Path, path: pathlib.Path) -> None:
    """A copy of a DETS file naming, per frame that has one for every camera, each camera's aligned
    depth PNG (``"depth": {camera: path}``, docs/fusion.md), as ``calibrate hands --depth`` reads it."""
    import json

    from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence

    recording = DexYCBSequence(sequence)
    serials = recording.serials  # meta.yml order = the rig's (load_dexycb_sequence)
    data = json.loads(detections_path.read_text(encoding="utf-8"))
    for index in recording.depth_indices():
        data[index]["depth"] = {name: str((sequence / serial / f"aligned_depth_to_color_{index:06d}.png").resolve())
                                for name, serial in zip(rig.names, serials)}
    path.write_text(json.dumps(data), encoding="utf-8")


def _disturb(rig, degrees: float, metres: float, rng):
    """Every camera turned by ``degrees`` about a random axis and shifted by ``metres`` in a random direction."""
    import dataclasses

    import numpy as np
    from scipy.spatial.transform import Rotation

    from hand_pose_ros.calibration import Rig

    cameras = []
    for camera in rig.cameras:
        T = camera.world_T_camera.copy()
        axis, shift = rng.normal(size=3), rng.normal(size=3)
        T[:3, :3] = Rotation.from_rotvec(np.radians(degrees) * axis / np.linalg.norm(axis)).as_matrix() @ T[:3, :3]
        T[:3, 3] += metres * shift / np.linalg.norm(shift)
        cameras.append(dataclasses.replace(camera, world_T_camera=T))
    return Rig(cameras=tuple(cameras), world_frame=rig.world_frame)


def _mpjpe_mm(rig, detections, truth) -> float:
    """8-view fusion MPJPE (mm) in the first camera's frame against the labels (frames with a label there)."""
    import numpy as np

    from hand_pose_ros.evaluation.metrics import mpjpe
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion

    fusion = MultiViewFusion(rig, FusionConfig(filter="none", monocular=False))
    first = rig.cameras[0]
    errors = []
    for (stamp, views), gt in zip(detections, truth):
        hands = fusion.process(views, stamp)
        if gt is None or not hands:
            continue
        best = max(hands, key=lambda h: int(np.isfinite(h.keypoints_3d).all(-1).sum()))
        in_first = best.keypoints_3d @ first.camera_T_world[:3, :3].T + first.camera_T_world[:3, 3]
        errors.append(mpjpe(in_first, gt))
    return 1e3 * float(np.nanmean(errors))


def _with_poses(rig, camera_T_world):
    """``rig`` with its cameras at (V, 4, 4) ``camera_T_world``."""
    import dataclasses

    import numpy as np

    from hand_pose_ros.calibration import Rig

    return Rig(cameras=tuple(dataclasses.replace(c, world_T_camera=np.linalg.inv(T)) for c, T in zip(rig.cameras, camera_T_world)),
               world_frame=rig.world_frame)


def _poses(rig):
    import numpy as np

    return np.stack([c.camera_T_world for c in rig.cameras])


def run(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from hand_pose_ros.calibration import save_calibration
    from hand_pose_ros.calibration.from_hands import HandRefinementConfig, RefinementRefused, refine_from_hands
    from hand_pose_ros.calibration.gauge import map_onto, pose_difference
    from hand_pose_ros.tools.fuse_cli import read_detections

    if args.hidden_weights and not args.depth:
        # As calibrate hands refuses it: the depth shows which keypoints are covered.
        print("bench calibration: --hidden-weights needs --depth (the depth shows which keypoints are covered)",
              file=sys.stderr)
        return 2
    sequence = pathlib.Path(args.sequence)
    if not (sequence / "meta.yml").is_file():
        print(f"bench calibration: no DexYCB sequence at {sequence} (pass --sequence)", file=sys.stderr)
        return 2
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rig, frames = load_dexycb_sequence(sequence)
    save_calibration(work / "exact.yaml", rig)
    dets_path = work / "detections.json"
    if not dets_path.exists():
        detect_sequence(rig, frames, dets_path)
    detections = read_detections(str(dets_path), rig.names)
    truth = [labels[rig.names[0]] for _, _, labels in frames]
    exact = _mpjpe_mm(rig, detections, truth)
    # Cameras with a detection in the sequence: only their poses matter to the fused hands, and
    # only they enter the similarity of the gauge-free figures.
    seen = np.array([any(views[v] for _, views in detections) for v in range(len(rig))])
    depths = None
    if args.depth:
        from hand_pose_ros.tools.calibrate_cli import read_depth_maps

        write_depth_detections(sequence, rig, dets_path, work / "detections_depth.json")
        depths = read_depth_maps(str(work / "detections_depth.json"), rig.names)
    config = HandRefinementConfig(refine_focal=args.refine_focal, systematic=args.systematic, offsets=args.offsets,
                                  bones=args.bones, hidden_weights=args.hidden_weights)
    print(f"DexYCB mustard, {len(rig)} cameras, {len(frames)} frames; every camera disturbed by "
          f"{args.rotation_deg}° and {args.translation_mm} mm; 8-view MPJPE (mm) vs MANO joints")
    print("kept gauge: in the evaluated file's first-camera frame (the refinement keeps the input's world frame and "
          "mean scale, so this includes the disturbed file's scale error); gauge-free: the file first mapped onto the "
          "exact one by the least-squares similarity of the poses of the cameras that see the hand")
    print(f"exact calibration: {exact:.2f} mm")
    print("input  input-scale  perfect-refinement(kept gauge)  before(kept)  before(gauge-free)  after(kept)  "
          "after(gauge-free)  after-exact(gauge-free)  pose error after (gauge-free): max deg / max mm  held-out px")
    inputs = [("exact", rig)] + [(f"seed {seed}", _disturb(rig, args.rotation_deg, 1e-3 * args.translation_mm,
                                                          np.random.default_rng(seed))) for seed in range(args.seeds)]
    for label, given in inputs:
        stem = label.replace(" ", "_")
        save_calibration(work / f"input_{stem}.yaml", given)
        perfect, scale = map_onto(_poses(rig), _poses(given), seen)
        try:
            result = refine_from_hands(given, detections, config, depths=depths)
            refined, held = result.rig, ", ".join(f"{a:.2f}→{b:.2f}" for a, b in result.held_out_px)
        except RefinementRefused as exc:
            refined, held = given, f"refused: {str(exc).split(' (')[1].split(';')[0]}"
        save_calibration(work / f"refined_{stem}.yaml", refined)
        gauge_free = {name: _with_poses(r, map_onto(_poses(r), _poses(rig), seen)[0]) for name, r in
                      (("before", given), ("after", refined))}
        angle, dist = pose_difference(_poses(gauge_free["after"])[seen], _poses(rig)[seen])
        after_free = _mpjpe_mm(gauge_free["after"], detections, truth)
        print(f"{label}  {scale:.4f}  {_mpjpe_mm(_with_poses(rig, perfect), detections, truth):.2f}  "
              f"{_mpjpe_mm(given, detections, truth):.2f}  {_mpjpe_mm(gauge_free['before'], detections, truth):.2f}  "
              f"{_mpjpe_mm(refined, detections, truth):.2f}  {after_free:.2f}  {after_free - exact:+.2f}  "
              f"{angle.max():.3f} / {1e3 * dist.max():.1f}  {held}", flush=True)
    return 0
