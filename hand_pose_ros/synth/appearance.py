"""How a synthetic scene looks: skin tones, sleeves, the forearm mesh, lights and backgrounds.

Colours are sRGB in [0, 1] unless named ``*_linear``; the renderer shades in linear light.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

__all__ = ["Appearance", "SKIN_TONES_SRGB", "sample_appearance", "forearm_mesh", "make_background", "SRGB_GAMMA"]

SRGB_GAMMA = 2.2  # the usual power-law approximation of the sRGB transfer curve

# Skin tones from light to dark (sRGB), spanning the Monk skin tone scale's range.
SKIN_TONES_SRGB = np.array([
    [0.96, 0.80, 0.69],
    [0.91, 0.72, 0.60],
    [0.82, 0.61, 0.48],
    [0.67, 0.47, 0.34],
    [0.50, 0.34, 0.24],
    [0.36, 0.24, 0.17],
])
# Sleeve colours: fabrics that are clearly not skin (MediaPipe then sees where the hand ends).
SLEEVE_COLOURS_SRGB = np.array([
    [0.15, 0.20, 0.45], [0.25, 0.25, 0.28], [0.10, 0.35, 0.20], [0.55, 0.10, 0.12],
    [0.85, 0.85, 0.88], [0.05, 0.05, 0.06], [0.30, 0.45, 0.65],
])
# Forearm cross-section (semi-axes across the palm and palm-to-back, metres) where it meets
# the mesh's open wrist, and at its far end; the wrist frame's +Z runs up the forearm.
_FOREARM_START = (0.026, 0.0135, 0.010)  # (semi x, semi y, z start) matching the glb's wrist hole
_FOREARM_END = (0.033, 0.024, 0.26)
_FOREARM_Y_CENTRE = -0.0055  # the wrist hole is centred slightly to the palm side
_SLEEVE_START_Z = (0.06, 0.12)  # bare forearm length before the cuff, metres
_FOREARM_SEGMENTS = 24  # around the ellipse


@dataclasses.dataclass(frozen=True)
class Appearance:
    """Per-hand look. skin/sleeve are sRGB (3,) in [0, 1]; sleeve_start_z in metres."""

    skin: np.ndarray
    sleeve: np.ndarray
    sleeve_start_z: float


def sample_appearance(rng: np.random.Generator) -> Appearance:
    tone = SKIN_TONES_SRGB[rng.integers(len(SKIN_TONES_SRGB))] * rng.uniform(0.95, 1.05)
    return Appearance(
        skin=np.clip(tone, 0.0, 1.0),
        sleeve=SLEEVE_COLOURS_SRGB[rng.integers(len(SLEEVE_COLOURS_SRGB))],
        sleeve_start_z=float(rng.uniform(*_SLEEVE_START_Z)),
    )


def forearm_mesh(sleeve_start_z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bare forearm and sleeve as two closed-ish tubes in the wrist joint's frame.

    Returns:
        skin_vertices (N, 3), skin_faces (M, 3), sleeve_vertices (N', 3), sleeve_faces (M', 3):
        float64 metres in the wrist frame and int64 indices.
    """

    def tube(z0: float, z1: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
        theta = np.linspace(0.0, 2 * np.pi, _FOREARM_SEGMENTS, endpoint=False)
        rings = []
        for z in (z0, z1):
            f = (z - _FOREARM_START[2]) / (_FOREARM_END[2] - _FOREARM_START[2])
            ax = scale * ((1 - f) * _FOREARM_START[0] + f * _FOREARM_END[0])
            ay = scale * ((1 - f) * _FOREARM_START[1] + f * _FOREARM_END[1])
            rings.append(np.stack([ax * np.cos(theta), _FOREARM_Y_CENTRE + ay * np.sin(theta), np.full_like(theta, z)], 1))
        vertices = np.concatenate(rings + [[[0.0, _FOREARM_Y_CENTRE, z1]]])
        n = _FOREARM_SEGMENTS
        faces = []
        for i in range(n):
            j = (i + 1) % n
            faces += [[i, n + i, j], [j, n + i, n + j], [n + i, 2 * n, n + j]]  # side + far cap
        return vertices, np.asarray(faces, np.int64)

    skin_v, skin_f = tube(_FOREARM_START[2], sleeve_start_z + 0.01, 1.0)
    sleeve_v, sleeve_f = tube(sleeve_start_z, _FOREARM_END[2], 1.25)  # the cuff stands off the skin
    return skin_v, skin_f, sleeve_v, sleeve_f


def _is_skin_like(rgb: np.ndarray) -> bool:
    """Rough skin-hue test (sRGB): orange-ish hue with moderate saturation."""
    hsv = cv2.cvtColor(np.uint8([[np.clip(rgb, 0, 1) * 255]]), cv2.COLOR_RGB2HSV)[0, 0]
    return bool(hsv[0] <= 25 and 40 <= hsv[1] <= 200 and hsv[2] >= 60)


_BACKGROUND_SATURATION = 0.55  # rooms are muted: blend random colours this far from grey


def _non_skin_colour(rng: np.random.Generator) -> np.ndarray:
    while True:
        grey = rng.uniform(0.1, 0.9)
        colour = grey + _BACKGROUND_SATURATION * (rng.uniform(0.05, 0.95, 3) - grey)
        if not _is_skin_like(colour):
            return colour


_BACKGROUND_SHAPES = (6, 14)  # how many blobs and bars clutter a background
_BACKGROUND_BLUR_SIGMA = (4.0, 10.0)  # pixels: out-of-focus room behind the hands


def make_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 sRGB: a blurred, cluttered, non-skin-coloured backdrop."""
    top, bottom = _non_skin_colour(rng), _non_skin_colour(rng)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    image = (1 - ramp) * top + ramp * bottom
    image = np.broadcast_to(image, (height, width, 3)).copy()
    for _ in range(rng.integers(*_BACKGROUND_SHAPES)):
        colour = tuple(float(c) for c in _non_skin_colour(rng))
        x, y = int(rng.integers(width)), int(rng.integers(height))
        if rng.uniform() < 0.5:
            axes = (int(rng.integers(20, width // 3)), int(rng.integers(20, height // 3)))
            cv2.ellipse(image, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            w, h = int(rng.integers(10, width // 2)), int(rng.integers(10, height // 2))
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
    texture = cv2.resize(rng.normal(0.0, 0.05, (height // 16, width // 16, 3)), (width, height))
    image = cv2.GaussianBlur(image + texture, (0, 0), float(rng.uniform(*_BACKGROUND_BLUR_SIGMA)))
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
