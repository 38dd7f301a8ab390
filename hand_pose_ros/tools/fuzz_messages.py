"""Malformed camera messages, as a hostile or broken camera would send them.

Used by the fuzz test of the node (``test/ros/test_node_fuzz.py``) and the header/conversion
tests. Each builder takes a good message of the rig (the right size and calibration) and
returns a bad variant; ``IMAGE_KINDS``, ``COMPRESSED_KINDS`` and ``CAMERA_INFO_KINDS`` name
them; ``STAMP_KINDS`` are stamp games played with good images.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["png_claiming", "IMAGE_KINDS", "COMPRESSED_KINDS", "CAMERA_INFO_KINDS", "STAMP_KINDS"]

HUGE_SIDE = 200_000  # px: 4e10 pixels, far past any decoder's limit
NS_PER_S = 1_000_000_000


def png_claiming(width: int, height: int) -> bytes:
    """A complete, well-formed PNG (IHDR, one tiny IDAT, IEND) whose header claims width × height
    8-bit RGB pixels: 68 bytes, whatever the size claimed (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # bit depth 8, colour type 2 (RGB)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b"")


def _image(good: Any, **fields: Any) -> Any:
    from sensor_msgs.msg import Image

    values = dict(header=good.header, height=good.height, width=good.width, encoding=good.encoding, step=good.step, data=good.data)
    values.update(fields)
    return Image(**values)


def _compressed(good: Any, **fields: Any) -> Any:
    from sensor_msgs.msg import CompressedImage

    values = dict(header=good.header, format=good.format, data=good.data)
    values.update(fields)
    return CompressedImage(**values)


def _info(good: Any, **fields: Any) -> Any:
    from sensor_msgs.msg import CameraInfo

    values = dict(header=good.header, width=good.width, height=good.height, distortion_model=good.distortion_model,
                  d=list(good.d), k=list(good.k), r=list(good.r), p=list(good.p))
    values.update(fields)
    return CameraInfo(**values)


def _jpeg_without_sof(data: bytes) -> bytes:
    sof = data.index(b"\xff\xc0")
    return data[: sof + 1] + b"\xfe" + data[sof + 2 :]  # the frame header becomes a comment


def _reencoded(good: Any, ext: str, size: tuple[int, int] | None = None) -> bytes:
    import cv2

    image = cv2.imdecode(np.frombuffer(good.data, np.uint8), cv2.IMREAD_COLOR)
    if size is not None:
        image = cv2.resize(image, size)
    ok, data = cv2.imencode(ext, image)
    return data.tobytes()


def _random(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# kind → builder(good rgb8 Image) → bad Image
IMAGE_KINDS: dict[str, Callable[[Any], Any]] = {
    "16-bit encoding": lambda g: _image(g, encoding="16UC1", step=g.width * 2, data=bytes(g.width * 2 * g.height)),
    "unknown encoding": lambda g: _image(g, encoding="bayer_rggb8"),
    "empty encoding": lambda g: _image(g, encoding=""),
    "step too small": lambda g: _image(g, step=g.width),
    "data short": lambda g: _image(g, data=bytes(g.step * g.height - 7)),
    "data long": lambda g: _image(g, data=bytes(g.step * g.height + 3)),
    "zero size": lambda g: _image(g, height=0, width=0, step=0, data=b""),
    "huge claimed size": lambda g: _image(g, height=HUGE_SIDE, width=HUGE_SIDE, step=HUGE_SIDE * 3, data=bytes(64)),
    "wrong size": lambda g: _image(g, height=g.height // 2, width=g.width // 2, step=g.width // 2 * 3, data=bytes(g.width // 2 * 3 * (g.height // 2))),
    "odd-width yuv422": lambda g: _image(g, encoding="yuv422", width=g.width - 1, step=(g.width - 1) * 2, data=bytes((g.width - 1) * 2 * g.height)),
}

# kind → builder(good JPEG CompressedImage) → bad CompressedImage
COMPRESSED_KINDS: dict[str, Callable[[Any], Any]] = {
    "truncated jpeg": lambda g: _compressed(g, data=bytes(g.data)[: len(g.data) // 3]),
    "jpeg header only": lambda g: _compressed(g, data=bytes(g.data)[:200]),
    "random bytes": lambda g: _compressed(g, data=_random(5000, 1)),
    "random after SOI": lambda g: _compressed(g, data=b"\xff\xd8" + _random(5000, 2)),
    "png bomb": lambda g: _compressed(g, format="png", data=png_claiming(HUGE_SIDE, HUGE_SIDE)),
    "png bomb under OpenCV's limit": lambda g: _compressed(g, format="png", data=png_claiming(20_000, 20_000)),
    "png of the right size, no pixels": lambda g: _compressed(g, format="png", data=png_claiming(640, 480)),
    "jpeg without SOF": lambda g: _compressed(g, data=_jpeg_without_sof(bytes(g.data))),
    "wrong size jpeg": lambda g: _compressed(g, data=_reencoded(g, ".jpg", (320, 240))),
    "png named jpeg": lambda g: _compressed(g, data=_reencoded(g, ".png")),
    "tiff format": lambda g: _compressed(g, format="tiff"),
    "empty data": lambda g: _compressed(g, data=b""),
}

# kind → builder(good CameraInfo) → bad CameraInfo
CAMERA_INFO_KINDS: dict[str, Callable[[Any], Any]] = {
    "NaN K": lambda g: _info(g, k=[float("nan")] * 9),
    "zero K": lambda g: _info(g, k=[0.0] * 9),
    "inf K": lambda g: _info(g, k=[float("inf")] + list(g.k)[1:]),
    "other K": lambda g: _info(g, k=[v * 1.5 if i in (0, 4) else v for i, v in enumerate(g.k)]),
    "NaN D": lambda g: _info(g, d=[float("nan")] * len(g.d)),
    "inf D": lambda g: _info(g, d=[float("inf")] * len(g.d)),
    "absurd D length": lambda g: _info(g, d=[0.0] * 100_000),
    "other D": lambda g: _info(g, d=[0.3] + list(g.d)[1:]),
    "other distortion model": lambda g: _info(g, distortion_model="equidistant", d=[0.1, 0.01, 0.0, 0.0]),
    "unknown distortion model": lambda g: _info(g, distortion_model="fisheye_magic"),
    "wrong size": lambda g: _info(g, width=g.width * 2, height=g.height * 2),
}

# kind → the stamp (ns) a good image is sent again with, from that camera's last good stamp
# and the clock's now. Backwards stays within SyncConfig.time_jump (1 s): further back is a
# restarted source (bag loop), which the node follows instead of refusing.
STAMP_KINDS: dict[str, Callable[[int, int], int]] = {
    "duplicate stamp": lambda last, now: last,
    "backwards stamp": lambda last, now: last - 5_000_000,
    "far-future stamp": lambda last, now: now + 3600 * NS_PER_S,
    "zero stamp": lambda last, now: 0,
}
