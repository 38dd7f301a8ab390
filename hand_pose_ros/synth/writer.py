"""Render a synthetic multi-camera dataset to a directory (format in docs/dataset.md).

The file names, image paths and stamps are ``hand_pose_ros.dataset_layout``'s: calibration,
images per camera and frame, ground truth, meshes (optional) and a rosbag2 MCAP (optional,
written by ``bag.write_bag`` from the finished directory), and with ``SynthConfig.depth`` aligned
depth per camera and frame (``synth.depth``'s RealSense-like model).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib

import cv2
import numpy as np

from hand_pose_ros.calibration import save_calibration
from hand_pose_ros.dataset_layout import (
    BAG_DIR, CALIBRATION_FILE, DEPTH_DIR, GROUND_TRUTH_FILE, IMAGES_DIR, MESHES_FILE, depth_path, image_path, stamp_ns,
)
from hand_pose_ros.handmodel import HandModel
from hand_pose_ros.keypoints import Handedness
from hand_pose_ros.synth.appearance import forearm_mesh, make_background, sample_appearance
from hand_pose_ros.synth.config import GENERATOR_VERSION, SynthConfig
from hand_pose_ros.synth.depth import depth_to_millimetres, realsense_depth, wall_depth
from hand_pose_ros.synth.groundtruth import FOREARM_PART, PARTS_PER_HAND, face_parts, keypoint_visibility
from hand_pose_ros.synth.motion import make_motion
from hand_pose_ros.synth.renderer import HandRenderer, PosedHand, sample_lighting
from hand_pose_ros.synth.rig import WORKSPACE_CENTRE, make_rig
from hand_pose_ros.timing import NS_PER_S

__all__ = ["generate_dataset"]

LOG = logging.getLogger(__name__)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators per concern, so changing one (e.g. frames) keeps the others."""
    names = ("rig", "motion", "looks", "noise", "depth")  # appended: the earlier streams stay as they were
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, children)}


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="synth", disable=not enabled)


def _occluders(posed, models, roots, forearms, hand_parts) -> tuple[np.ndarray, np.ndarray]:
    """All triangles of the scene (M, 3, 3) metres world and their part labels (M,)."""
    triangles, parts = [], []
    for h, (p, model, root, arm, labels) in enumerate(zip(posed, models, roots, forearms, hand_parts)):
        triangles += [p.vertices[model.faces], arm @ root[:3, :3].T + root[:3, 3]]
        parts += [h * PARTS_PER_HAND + labels, np.full(len(arm), h * PARTS_PER_HAND + FOREARM_PART)]
    return np.concatenate(triangles), np.concatenate(parts)


def _write_depth(out: pathlib.Path, camera, frame: int, clean: np.ndarray, wall_m: float, rng: np.random.Generator) -> None:
    """Camera ``camera``'s aligned depth of ``frame``: the render's (H, W) m through the
    RealSense-like model (``synth.depth``), as a 16-bit PNG of millimetres (0 = none)."""
    measured = realsense_depth(clean, camera.camera_matrix, rng, background_m=wall_m)
    path = depth_path(out, camera.name, frame)
    if not cv2.imwrite(str(path), depth_to_millimetres(measured)):
        raise OSError(f"could not write {path}")


def generate_dataset(out_dir: str | os.PathLike[str], config: SynthConfig, *, progress: bool = False) -> pathlib.Path:
    """Render ``config`` into ``out_dir`` (created; existing files of the same names are replaced).

    Returns:
        the output directory.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = _streams(config.seed)
    rig = make_rig(
        num_cameras=config.cameras, layout=config.layout, rng=rng["rig"],
        width=config.width, height=config.height, distortion=config.distortion,
    )
    save_calibration(out / CALIBRATION_FILE, rig)
    if config.hands == 2:
        sides = [Handedness.LEFT, Handedness.RIGHT]
    else:
        sides = [Handedness.LEFT if rng["motion"].uniform() < 0.5 else Handedness.RIGHT]
    models = [HandModel.load(side) for side in sides]
    tracks = make_motion(models=models, num_frames=config.frames, fps=config.fps, rng=rng["motion"], centre=WORKSPACE_CENTRE)
    looks = [sample_appearance(rng["looks"]) for _ in models]
    lighting = sample_lighting(rng["looks"])
    backgrounds = [make_background(config.width, config.height, rng["looks"]) for _ in rig.cameras]
    for camera in rig.cameras:
        (out / IMAGES_DIR / camera.name).mkdir(parents=True, exist_ok=True)
        if config.depth:
            (out / DEPTH_DIR / camera.name).mkdir(parents=True, exist_ok=True)
    walls = [wall_depth(camera, WORKSPACE_CENTRE) for camera in rig.cameras]  # m, behind the hands

    hand_parts = [face_parts(m.mesh.skin_joints, m.mesh.skin_weights, m.faces) for m in models]
    forearms = []  # per hand: (M, 3, 3) triangles of forearm and sleeve in the wrist frame
    for look in looks:
        arm_v, arm_f, sleeve_v, sleeve_f = forearm_mesh(look.sleeve_start_z)
        forearms.append(np.concatenate([arm_v[arm_f], sleeve_v[sleeve_f]]))
    frames = []
    vertices = []  # per frame (H, V, 3)
    encode = [int(cv2.IMWRITE_JPEG_QUALITY), config.jpeg_quality]
    with HandRenderer(rig=rig, backgrounds=backgrounds, lighting=lighting, rng=rng["noise"]) as renderer, \
            _progress(config.frames, progress) as bar:
        for t in range(config.frames):
            posed = [model(track.angles[t], track.roots[t]) for model, track in zip(models, tracks)]
            views = renderer.render([
                PosedHand(vertices=p.vertices, faces=m.faces, world_T_wrist=tr.roots[t], appearance=look)
                for p, m, tr, look in zip(posed, models, tracks, looks)
            ])
            for camera, view, wall_m in zip(rig.cameras, views, walls):
                path = image_path(out, camera.name, t)
                if not cv2.imwrite(str(path), cv2.cvtColor(view.image, cv2.COLOR_RGB2BGR), encode):
                    raise OSError(f"could not write {path}")
                if config.depth:
                    _write_depth(out, camera, t, view.depth, wall_m, rng["depth"])
            keypoints = np.stack([p.keypoints for p in posed])  # (H, 21, 3)
            triangles, parts = _occluders(posed, models, [tr.roots[t] for tr in tracks], forearms, hand_parts)
            visible = {camera.name: keypoint_visibility(camera, keypoints, triangles, parts) for camera in rig.cameras}
            hands = [
                {
                    "id": index,
                    "handedness": model.handedness.label,
                    "keypoints_3d": keypoints[index].tolist(),
                    "visible": {name: v[index].tolist() for name, v in visible.items()},
                }
                for index, model in enumerate(models)
            ]
            frames.append({"frame": t, "stamp": stamp_ns(t, config.fps) / NS_PER_S, "hands": hands})
            vertices.append(np.stack([p.vertices for p in posed]).astype(np.float32))
            bar.update(1)

    ground_truth = {
        "fps": float(config.fps),
        "world_frame": rig.world_frame,
        "cameras": rig.names,
        "frames": frames,
        "generator": {"name": "hand_pose_ros.synth", "version": GENERATOR_VERSION, "config": dataclasses.asdict(config)},
    }
    (out / GROUND_TRUTH_FILE).write_text(json.dumps(ground_truth), encoding="utf-8")
    if config.meshes:
        np.savez_compressed(
            out / MESHES_FILE,
            vertices=np.stack(vertices),  # (T, H, V, 3) float32 metres, world frame
            faces=np.stack([m.faces for m in models]).astype(np.int32),  # (H, F, 3)
            hand_ids=np.arange(len(models), dtype=np.int32),
            stamps=np.array([f["stamp"] for f in frames]),
        )
    if config.bag:
        from hand_pose_ros.synth.bag import write_bag

        write_bag(out, out / BAG_DIR)
    LOG.info("wrote %d frames x %d cameras to %s", config.frames, config.cameras, out)
    return out
