"""A ChArUco board rendered by pyrender (EGL) into a synthetic rig at known poses.

The board is a textured plane (``BoardSpec.image`` as its texture, mip-mapped, drawn unlit) in
front of a grey background; the rendered views get slight blur and sensor noise as the hand
renders do (``synth/renderer.py``). Cameras are pinhole (no distortion), OpenCV's K exact
(principal point + 0.5 for pyrender, FIELD_NOTES).
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from hand_pose_ros.calibration import CameraCalibration, Rig, look_at
from hand_pose_ros.calibration.board import BoardSpec

# Optical frame (x right, y down, z forward) → OpenGL camera (x right, y up, z backward).
_OPTICAL_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])
_TEXTURE_PX_PER_SQUARE = 128  # texture resolution: ≥ 4× the pixels a square covers in the views
_BACKGROUND = 0.45  # grey, linear
_BLUR_SIGMA_PX = 0.5
_NOISE_SIGMA = 2.0  # 8-bit levels
TARGET = np.array([0.0, 0.0, 1.0])  # where the board moves, world (z up), metres


def arc_rig(num_cameras: int, rng: np.random.Generator, spread_deg: float = 100.0) -> Rig:
    """Cameras on an arc facing the target from 0.55–0.7 m, 20–35° above it, f ≈ 520–600 px."""
    cameras = []
    for i, az in enumerate(np.radians(np.linspace(-spread_deg / 2, spread_deg / 2, num_cameras))):
        el = np.radians(rng.uniform(20, 35))
        eye = TARGET + rng.uniform(0.55, 0.7) * np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
        f = rng.uniform(520, 600)
        K = np.array([[f, 0, 319.5 + rng.uniform(-5, 5)], [0, f, 239.5 + rng.uniform(-5, 5)], [0, 0, 1]])
        cameras.append(CameraCalibration(name=f"cam{i}", frame_id=f"cam{i}_optical_frame", width=640, height=480,
                                         camera_matrix=K, distortion_model="plumb_bob", distortion=np.zeros(5),
                                         world_T_camera=look_at(eye, TARGET + rng.normal(0, 0.02, 3))))
    return Rig(cameras=tuple(cameras))


def board_poses(rig: Rig, spec: BoardSpec, count: int, rng: np.random.Generator, max_tilt_deg: float = 35.0) -> np.ndarray:
    """(count, 4, 4) world_T_board near the target, the printed face (−z) turned towards the rig
    (mean camera direction) and tilted up to ``max_tilt_deg`` either way, spun in-plane ±20°."""
    towards = np.mean([c.world_T_camera[:3, 3] for c in rig.cameras], 0) - TARGET
    towards /= np.linalg.norm(towards)
    out = []
    for _ in range(count):
        tilt = Rotation.from_rotvec(np.radians(rng.uniform(-max_tilt_deg, max_tilt_deg, 3) * [1, 1, 0.6]))
        normal = tilt.apply(towards)  # direction the printed face looks
        z = -normal
        x = np.cross([0.0, 0.0, 1.0], z)
        x /= np.linalg.norm(x)
        R = np.stack([x, np.cross(z, x), z], axis=1) @ Rotation.from_rotvec([0, 0, np.radians(rng.uniform(-20, 20))]).as_matrix()
        T = np.eye(4)
        T[:3, :3] = R
        w, h = spec.size_m
        T[:3, 3] = TARGET + rng.uniform(-0.05, 0.05, 3) - R @ np.array([w / 2, h / 2, 0.0])
        out.append(T)
    return np.stack(out)


def render_board(rig: Rig, spec: BoardSpec, world_T_board: np.ndarray, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """(B, 4, 4) board poses → [pose][camera] (H, W, 3) uint8 images."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import pyrender

    texture_image = cv2.cvtColor(spec.image(_TEXTURE_PX_PER_SQUARE), cv2.COLOR_GRAY2RGB)
    w, h = spec.size_m
    primitive = pyrender.Primitive(
        positions=np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]], np.float32),
        # pyrender's v runs up the texture image: board y = 0 (the image's top row) is v = 1.
        texcoord_0=np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32),
        indices=np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
        material=pyrender.MetallicRoughnessMaterial(
            baseColorTexture=pyrender.Texture(source=texture_image, source_channels="RGB"), doubleSided=True),
    )
    mesh = pyrender.Mesh([primitive])
    scene = pyrender.Scene(bg_color=[_BACKGROUND] * 3 + [1.0], ambient_light=[1.0, 1.0, 1.0])
    board_node = scene.add(mesh)
    camera_nodes = []
    for cam in rig.cameras:
        K = cam.camera_matrix
        intrinsics = pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5, znear=0.05, zfar=10.0)
        camera_nodes.append(scene.add(intrinsics, pose=cam.world_T_camera @ _OPTICAL_TO_GL))
    renderer = pyrender.OffscreenRenderer(rig.cameras[0].width, rig.cameras[0].height)
    out = []
    try:
        for T in world_T_board:
            scene.set_pose(board_node, T)
            views = []
            for node in camera_nodes:
                scene.main_camera_node = node
                color, _ = renderer.render(scene, flags=pyrender.RenderFlags.FLAT)
                image = cv2.GaussianBlur(color.astype(np.float32), (0, 0), _BLUR_SIGMA_PX)
                image += rng.normal(0.0, _NOISE_SIGMA, image.shape).astype(np.float32)
                views.append(np.clip(image + 0.5, 0, 255).astype(np.uint8))
            out.append(views)
    finally:
        renderer.delete()
    return out

