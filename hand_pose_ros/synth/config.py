"""The synthetic dataset generator's settings (one frozen dataclass, validated)."""

from __future__ import annotations

import dataclasses

from hand_pose_ros.checks import check_choice

__all__ = ["SynthConfig", "GENERATOR_VERSION"]

# Bump when the output of a given config changes (the cached sample is re-rendered then).
GENERATOR_VERSION = 3

_MAX_CAMERAS = 8
_JPEG_QUALITY_RANGE = (50, 100)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """What to render.

    Attributes:
        cameras: number of cameras, 1–8.
        frames: number of frames, ≥ 1.
        hands: 1 (left or right, drawn from the seed) or 2 (both).
        seed: everything (rig, motion, looks, noise) is a function of it.
        fps: frame rate; stamps are ``EPOCH + frame / fps`` seconds.
        layout: camera layout: ring | hemisphere | two-facing.
        width, height: image size, pixels.
        distortion: give the lenses mild plumb_bob distortion (else all coefficients 0).
        bag: also write a rosbag2 MCAP recording under ``bag/``.
        meshes: also write ``meshes.npz`` (skinned vertices per frame and hand).
        jpeg_quality: of the written images (like a camera's compressed stream).
        depth: also write aligned depth per camera and frame (``DIR/depth/``, RealSense-like
            noise and holes: ``synth.depth``) and, with ``bag``, its depth topics.
    """

    cameras: int = 4
    frames: int = 60
    hands: int = 2
    seed: int = 0
    fps: float = 30.0
    layout: str = "ring"
    width: int = 640
    height: int = 480
    distortion: bool = False
    bag: bool = False
    meshes: bool = True
    jpeg_quality: int = 92
    depth: bool = False

    def __post_init__(self) -> None:
        from hand_pose_ros.synth.rig import LAYOUTS

        if not 1 <= self.cameras <= _MAX_CAMERAS:
            raise ValueError(f"SynthConfig.cameras: expected 1..{_MAX_CAMERAS}, got {self.cameras}")
        if self.frames < 1:
            raise ValueError(f"SynthConfig.frames: expected >= 1, got {self.frames}")
        if self.hands not in (1, 2):
            raise ValueError(f"SynthConfig.hands: expected 1 or 2, got {self.hands}")
        if not self.fps > 0:
            raise ValueError(f"SynthConfig.fps: expected > 0, got {self.fps}")
        check_choice("SynthConfig.layout", self.layout, LAYOUTS)
        if self.width < 64 or self.height < 64:
            raise ValueError(f"SynthConfig.width/height: expected >= 64 pixels, got {self.width}x{self.height}")
        if not _JPEG_QUALITY_RANGE[0] <= self.jpeg_quality <= _JPEG_QUALITY_RANGE[1]:
            raise ValueError(f"SynthConfig.jpeg_quality: expected {_JPEG_QUALITY_RANGE}, got {self.jpeg_quality}")
        if self.seed < 0:
            raise ValueError(f"SynthConfig.seed: expected >= 0, got {self.seed}")
