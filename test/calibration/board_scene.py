"""A ChArUco board rendered by pyrender (EGL) into a synthetic rig at known poses.

The board is a textured plane (``BoardSpec.image`` as its texture, mip-mapped, drawn unlit) in
front of a grey background; the rendered views get slight blur and sensor noise as the hand
renders do (``synth/renderer.py``). OpenCV's K is exact (principal point + 0.5 for pyrender,
FIELD_NOTES). A lens's distortion (any model of ``fusion.camera``) is applied by rendering the
pinhole view on a larger canvas and resampling it at each pixel's undistorted position.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from hand_pose_ros.calibration import CameraCalibration, Rig, look_at
from hand_pose_ros.calibration.board import BoardSpec
from hand_pose_ros.fusion.camera import CameraArray

# Optical frame (x right, y down, z forward) → OpenGL camera (x right, y up, z backward).
_OPTICAL_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])
_TEXTURE_PX_PER_SQUARE = 128  # texture resolution: ≥ 4× the pixels a square covers in the views
_BACKGROUND = 0.45  # grey, linear
_BLUR_SIGMA_PX = 0.5
_NOISE_SIGMA = 2.0  # 8-bit levels
TARGET = np.array([0.0, 0.0, 1.0])  # where the board moves, world (z up), metres
# How far the board's centre moves from the target along each axis: a calibration capture
# sweeps the board through the shared workspace so that its corners reach every camera's image
# borders (as calibration guides ask). At ±5 cm they covered only the central ≈ 50 % of each
# image and the principal points were determined to only ≈ 0.3 px (0.05° of camera rotation).
WORKSPACE_M = 0.15


def arc_rig(num_cameras: int, rng: np.random.Generator, spread_deg: float = 100.0,
            lenses: tuple[tuple[str, tuple[float, ...]], ...] = ()) -> Rig:
    """Cameras on an arc facing the target from 0.55–0.7 m, 20–35° above it, f ≈ 520–600 px;
    camera i gets ``lenses[i]`` = (distortion model, coefficients) where given, else none
    (plumb_bob with zeros)."""
    cameras = []
    for i, az in enumerate(np.radians(np.linspace(-spread_deg / 2, spread_deg / 2, num_cameras))):
        el = np.radians(rng.uniform(20, 35))
        eye = TARGET + rng.uniform(0.55, 0.7) * np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
        f = rng.uniform(520, 600)
        K = np.array([[f, 0, 319.5 + rng.uniform(-5, 5)], [0, f, 239.5 + rng.uniform(-5, 5)], [0, 0, 1]])
        model, coefficients = lenses[i] if i < len(lenses) else ("plumb_bob", (0.0,) * 5)
        cameras.append(CameraCalibration(name=f"cam{i}", frame_id=f"cam{i}_optical_frame", width=640, height=480,
                                         camera_matrix=K, distortion_model=model, distortion=np.array(coefficients),
                                         world_T_camera=look_at(eye, TARGET + rng.normal(0, 0.02, 3))))
    return Rig(cameras=tuple(cameras))


def board_poses(rig: Rig, spec: BoardSpec, count: int, rng: np.random.Generator, max_tilt_deg: float = 35.0,
                spread_m: float = WORKSPACE_M) -> np.ndarray:
    """(count, 4, 4) world_T_board: centres within ``spread_m`` of the target along each axis, the
    printed face (−z) turned towards the rig (mean camera direction) and tilted up to
    ``max_tilt_deg`` either way, spun in-plane ±20°."""
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
        T[:3, 3] = TARGET + rng.uniform(-spread_m, spread_m, 3) - R @ np.array([w / 2, h / 2, 0.0])
        out.append(T)
    return np.stack(out)


def _pinhole_lookup(rig: Rig) -> tuple[int, list[np.ndarray]]:
    """→ (canvas margin px, per camera (H, W, 2) float32 position of each image pixel in a pinhole
    render with the same K whose canvas is ``margin`` larger on every side)."""
    cam0 = rig.cameras[0]
    u, v = np.meshgrid(np.arange(cam0.width, dtype=np.float64), np.arange(cam0.height, dtype=np.float64))
    pixels = np.stack([u, v], -1).reshape(1, -1, 2)
    array = CameraArray.from_rig(rig)
    lookup = []
    for i in range(len(rig)):
        xy = array.pixels_to_normalized(pixels, views=np.array([i]))  # (1, H·W, 2) undistorted
        lookup.append(array.normalized_to_pixels(np.repeat(xy, len(rig), 0), distort=False)[i].reshape(v.shape + (2,)))
    reach = max(max(-m.min(), m[..., 0].max() - cam0.width + 1, m[..., 1].max() - cam0.height + 1) for m in lookup)
    margin = int(np.ceil(max(reach, 0.0))) + 2
    return margin, [(m + margin).astype(np.float32) for m in lookup]


def render_board(rig: Rig, spec: BoardSpec, world_T_board: np.ndarray, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """(B, 4, 4) board poses → [pose][camera] (H, W, 3) uint8 images (all cameras of one size)."""
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
    margin, lookup = _pinhole_lookup(rig)
    camera_nodes = []
    for cam in rig.cameras:
        K = cam.camera_matrix
        intrinsics = pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2] + margin + 0.5, K[1, 2] + margin + 0.5,
                                               znear=0.05, zfar=10.0)
        camera_nodes.append(scene.add(intrinsics, pose=cam.world_T_camera @ _OPTICAL_TO_GL))
    renderer = pyrender.OffscreenRenderer(rig.cameras[0].width + 2 * margin, rig.cameras[0].height + 2 * margin)
    out = []
    try:
        for T in world_T_board:
            scene.set_pose(board_node, T)
            views = []
            for node, where in zip(camera_nodes, lookup):
                scene.main_camera_node = node
                color, _ = renderer.render(scene, flags=pyrender.RenderFlags.FLAT)
                image = cv2.remap(color.astype(np.float32), where[..., 0], where[..., 1], cv2.INTER_LINEAR)
                image = cv2.GaussianBlur(image, (0, 0), _BLUR_SIGMA_PX)
                image += rng.normal(0.0, _NOISE_SIGMA, image.shape).astype(np.float32)
                views.append(np.clip(image + 0.5, 0, 255).astype(np.uint8))
            out.append(views)
    finally:
        renderer.delete()
    return out
