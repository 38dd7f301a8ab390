"""Offscreen rendering of posed hands (with forearms and sleeves) into every camera of a rig.

pyrender with ``PYOPENGL_PLATFORM=egl`` (set here if unset). Shading is in linear light
(sRGB colours raised to 2.2; pyrender's shader encodes its output back with 1/2.2),
composited over each camera's background, then lens distortion, slight blur and sensor noise are applied.
"""

from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np

from hand_pose_ros.calibration import CameraCalibration, Rig
from hand_pose_ros.synth.appearance import SRGB_GAMMA, Appearance, forearm_mesh

__all__ = ["PosedHand", "RenderedView", "HandRenderer", "Lighting", "sample_lighting"]

_ZNEAR_M, _ZFAR_M = 0.05, 10.0
# Optical frame (x right, y down, z forward) → OpenGL camera (x right, y up, z backward).
_OPTICAL_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])
_SKIN_ROUGHNESS = 0.65  # matte skin: a soft highlight only
_SLEEVE_ROUGHNESS = 0.9


@dataclasses.dataclass(frozen=True)
class PosedHand:
    """One hand in one frame: skinned vertices (V, 3) and wrist pose (4, 4) in metres, world frame."""

    vertices: np.ndarray
    faces: np.ndarray
    world_T_wrist: np.ndarray
    appearance: Appearance


@dataclasses.dataclass(frozen=True)
class RenderedView:
    """image: (H, W, 3) uint8 sRGB as the camera gives it; depth: (H, W) float32 metres along
    the optical axis, registered to ``image`` (lens distortion applied alike, nearest pixel),
    0 where no hand/forearm is seen."""

    image: np.ndarray
    depth: np.ndarray


@dataclasses.dataclass(frozen=True)
class Lighting:
    """key/fill: (3,) unit directions the light travels (world); intensities in pyrender units."""

    key_direction: np.ndarray
    key_intensity: float
    fill_direction: np.ndarray
    fill_intensity: float
    ambient: float
    noise_sigma: float  # sensor noise, in 8-bit levels
    blur_sigma: float  # pixels, slight defocus / motion


def sample_lighting(rng: np.random.Generator) -> Lighting:
    def direction(down: float) -> np.ndarray:
        azimuth = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(azimuth), np.sin(azimuth), -down])
        return d / np.linalg.norm(d)

    return Lighting(
        key_direction=direction(rng.uniform(1.0, 2.5)),
        key_intensity=float(rng.uniform(1.6, 3.0)),
        fill_direction=direction(rng.uniform(0.0, 0.8)),
        fill_intensity=float(rng.uniform(0.5, 1.2)),
        ambient=float(rng.uniform(0.15, 0.35)),
        noise_sigma=float(rng.uniform(1.0, 3.0)),
        blur_sigma=float(rng.uniform(0.4, 0.8)),
    )


def _light_pose(direction: np.ndarray) -> np.ndarray:
    """Pose whose −Z axis is ``direction`` (pyrender lights shine along their −Z)."""
    z = -direction / np.linalg.norm(direction)
    x = np.cross([0.0, 0.0, 1.0], z) if abs(z[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    return T


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    face_normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)  # area-weighted
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _distortion_maps(camera: CameraCalibration) -> tuple[np.ndarray, np.ndarray] | None:
    """For each pixel of the distorted image, where to sample the ideal (pinhole) render."""
    if camera.distortion.size == 0 or not np.any(camera.distortion):
        return None
    u, v = np.meshgrid(np.arange(camera.width, dtype=np.float64), np.arange(camera.height, dtype=np.float64))
    pixels = np.stack([u.ravel(), v.ravel()], axis=1)[:, None, :]
    ideal = cv2.undistortPoints(pixels, camera.camera_matrix, camera.distortion, P=camera.camera_matrix)
    ideal = ideal.reshape(camera.height, camera.width, 2).astype(np.float32)
    return ideal[..., 0], ideal[..., 1]


class HandRenderer:
    """Renders hands into all cameras of ``rig``; one OpenGL context, reused per frame.

    Args:
        rig: the cameras (all of one image size).
        backgrounds: one (H, W, 3) uint8 sRGB image per camera.
        lighting: lights and sensor effects of the whole sequence.
        rng: draws the per-frame sensor noise.
    """

    def __init__(self, *, rig: Rig, backgrounds: list[np.ndarray], lighting: Lighting, rng: np.random.Generator) -> None:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        import pyrender

        sizes = {(c.width, c.height) for c in rig.cameras}
        if len(sizes) != 1:
            raise ValueError(f"all cameras must share one image size, got {sorted(sizes)}")
        if len(backgrounds) != len(rig):
            raise ValueError(f"need one background per camera ({len(rig)}), got {len(backgrounds)}")
        self._pyrender = pyrender
        self._rig = rig
        self._backgrounds = backgrounds
        self._lighting = lighting
        self._rng = rng
        width, height = sizes.pop()
        self._renderer = pyrender.OffscreenRenderer(width, height)
        self._scene = pyrender.Scene(ambient_light=[lighting.ambient] * 3, bg_color=[0.0, 0.0, 0.0, 0.0])
        self._scene.add(pyrender.DirectionalLight(intensity=lighting.key_intensity), pose=_light_pose(lighting.key_direction))
        self._scene.add(pyrender.DirectionalLight(intensity=lighting.fill_intensity), pose=_light_pose(lighting.fill_direction))
        self._camera_nodes = []
        for camera in rig.cameras:
            K = camera.camera_matrix
            # +0.5: pyrender's principal point is in pixel-edge coordinates, OpenCV's in centres.
            intrinsics = pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5, znear=_ZNEAR_M, zfar=_ZFAR_M)
            self._camera_nodes.append(self._scene.add(intrinsics, pose=camera.world_T_camera @ _OPTICAL_TO_GL))
        self._distortion = [_distortion_maps(c) for c in rig.cameras]
        self._forearms: dict[float, tuple] = {}
        self._hand_nodes: list = []

    def close(self) -> None:
        self._renderer.delete()

    def __enter__(self) -> "HandRenderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _material(self, srgb: np.ndarray, roughness: float):
        linear = np.power(np.clip(srgb, 0.0, 1.0), SRGB_GAMMA)
        return self._pyrender.MetallicRoughnessMaterial(
            baseColorFactor=[*linear, 1.0], metallicFactor=0.0, roughnessFactor=roughness
        )

    def _mesh(self, vertices: np.ndarray, faces: np.ndarray, material):
        primitive = self._pyrender.Primitive(
            positions=vertices.astype(np.float32),
            normals=_vertex_normals(vertices, faces).astype(np.float32),
            indices=faces.astype(np.uint32),
            material=material,
        )
        return self._pyrender.Mesh([primitive])

    def _set_hands(self, hands: list[PosedHand]) -> None:
        for node in self._hand_nodes:
            self._scene.remove_node(node)
        self._hand_nodes = []
        for hand in hands:
            skin = self._material(hand.appearance.skin, _SKIN_ROUGHNESS)
            sleeve = self._material(hand.appearance.sleeve, _SLEEVE_ROUGHNESS)
            arm_v, arm_f, sleeve_v, sleeve_f = forearm_mesh(hand.appearance.sleeve_start_z)
            self._hand_nodes += [
                self._scene.add(self._mesh(hand.vertices, hand.faces, skin)),
                self._scene.add(self._mesh(arm_v, arm_f, skin), pose=hand.world_T_wrist),
                self._scene.add(self._mesh(sleeve_v, sleeve_f, sleeve), pose=hand.world_T_wrist),
            ]

    def render(self, hands: list[PosedHand]) -> list[RenderedView]:
        """One ``RenderedView`` per camera, in rig order."""
        self._set_hands(hands)
        views = []
        for index, node in enumerate(self._camera_nodes):
            self._scene.main_camera_node = node
            rgba, depth = self._renderer.render(self._scene, flags=self._pyrender.RenderFlags.RGBA)
            views.append(self._finish(index, rgba, depth))
        return views

    def _finish(self, index: int, rgba: np.ndarray, depth: np.ndarray) -> RenderedView:
        alpha = rgba[..., 3:].astype(np.float32) / 255.0
        shaded = rgba[..., :3].astype(np.float32)  # pyrender's shader already encodes with 1/2.2
        image = alpha * shaded + (1.0 - alpha) * self._backgrounds[index].astype(np.float32)
        maps = self._distortion[index]
        depth = depth.astype(np.float32)
        if maps is not None:
            image = cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            # Nearest: interpolating across a silhouette would invent surfaces between hand and nothing.
            depth = cv2.remap(depth, maps[0], maps[1], cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        image = cv2.GaussianBlur(image, (0, 0), self._lighting.blur_sigma)
        image = image + self._rng.normal(0.0, self._lighting.noise_sigma, image.shape).astype(np.float32)
        return RenderedView(image=np.clip(image + 0.5, 0, 255).astype(np.uint8), depth=depth)
