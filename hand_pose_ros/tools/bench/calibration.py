"""``hand-pose-ros bench calibration``: hand-based extrinsic refinement on real DexYCB data.

The exact calibration of DexYCB's mustard-bottle sequence follows from its labels (intrinsics
by least squares of joint_2d = K joint_3d / z, camera→first-camera poses by Procrustes of
joint_3d; ``../shared/data/real/dexycb_subject01/PROVENANCE.md``). Every camera is then
disturbed by a fixed rotation angle and translation length in random directions,
``calibrate hands`` refines the disturbed file from the real detector's keypoints, and 8-view
MPJPE (fusion, first camera's frame, against the labels' MANO joints) is compared under the
exact, disturbed and refined calibrations. MediaPipe keypoints are not MANO joints (≈1 cm
apart at the wrist), so the figures compare calibrations with each other, not with zero.
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
    from hand_pose_ros.fusion.monocular import rigid_align

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
        first_T_cam = rigid_align(np.concatenate([joints[serial][i] for i in both]),
                                np.concatenate([joints[first][i] for i in both]))
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


def run(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from hand_pose_ros.calibration import save_calibration
    from hand_pose_ros.calibration.from_hands import HandRefinementConfig, refine_from_hands
    from hand_pose_ros.calibration.gauge import pose_difference
    from hand_pose_ros.tools.fuse_cli import read_detections

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
    print(f"DexYCB mustard, {len(rig)} cameras, {len(frames)} frames; every camera disturbed by "
          f"{args.rotation_deg}° and {args.translation_mm} mm; 8-view MPJPE vs MANO joints, first camera's frame")
    print(f"exact calibration: {exact:.2f} mm")
    print("seed  disturbed(mm)  refined(mm)  refined-exact(mm)  pose error after: max deg / max mm (relative to camera 0)")
    true_rel = np.stack([c.camera_T_world @ rig.cameras[0].world_T_camera for c in rig.cameras])
    for seed in range(args.seeds):
        disturbed = _disturb(rig, args.rotation_deg, 1e-3 * args.translation_mm, np.random.default_rng(seed))
        save_calibration(work / f"disturbed_{seed}.yaml", disturbed)
        result = refine_from_hands(disturbed, detections, HandRefinementConfig(refine_focal=args.refine_focal))
        save_calibration(work / f"refined_{seed}.yaml", result.rig)
        got = np.stack([c.camera_T_world @ result.rig.cameras[0].world_T_camera for c in result.rig.cameras])
        angle, dist = pose_difference(got, true_rel)
        before, after = _mpjpe_mm(disturbed, detections, truth), _mpjpe_mm(result.rig, detections, truth)
        print(f"{seed}  {before:.2f}  {after:.2f}  {after - exact:+.2f}  {angle.max():.3f} / {1e3 * dist.max():.1f}")
    return 0
