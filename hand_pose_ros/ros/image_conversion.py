"""sensor_msgs Image / CompressedImage → ``(H, W, 3) uint8`` RGB arrays for the detector, and
aligned depth Images → ``(H, W) float32`` metres (``image_to_depth``).

``cv_bridge`` is used where it imports *and* converts correctly (its PyPI build breaks with
OpenCV 5); otherwise the project's own path reads the message buffer in place with
``np.frombuffer`` (zero copy for ``rgb8``/``rgba8``; one colour conversion otherwise).
Every refusal raises ``ImageConversionError`` naming the camera and what was wrong, whatever
the message holds: OpenCV's and cv_bridge's own errors are translated, and a compressed image
is size-checked from its header (``hand_pose_ros.image_headers``) before it is decoded.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import cv2
import numpy as np
from sensor_msgs.msg import Image

from hand_pose_ros.fusion.depth import depth_from_millimetres
from hand_pose_ros.image_headers import MAX_IMAGE_PIXELS, ImageHeader, ImageHeaderError, check_pixels, read_header
from hand_pose_ros.ros.cdr import PackedFields, serialize

__all__ = [
    "ImageConversionError",
    "SUPPORTED_ENCODINGS",
    "image_to_rgb",
    "image_to_depth",
    "DEPTH_ENCODINGS",
    "compressed_to_rgb",
    "compressed_header",
    "rgb_to_image_fields",
    "rgb_to_image_bytes",
    "cv_bridge_available",
]

LOG = logging.getLogger(__name__)

# encoding → (channels, how to get RGB from the (H, W, C) uint8 view).
_RGB_FROM: dict[str, tuple[int, Any]] = {
    "rgb8": (3, lambda a: a),
    "bgr8": (3, lambda a: cv2.cvtColor(a, cv2.COLOR_BGR2RGB)),
    "mono8": (1, lambda a: cv2.cvtColor(a[..., 0], cv2.COLOR_GRAY2RGB)),
    "rgba8": (4, lambda a: a[..., :3]),
    "bgra8": (4, lambda a: cv2.cvtColor(a, cv2.COLOR_BGRA2RGB)),
    # 4:2:2 packed: 2 bytes per pixel. "yuv422" is UYVY in sensor_msgs' image_encodings.
    "yuv422": (2, lambda a: cv2.cvtColor(a, cv2.COLOR_YUV2RGB_UYVY)),
    "uyvy": (2, lambda a: cv2.cvtColor(a, cv2.COLOR_YUV2RGB_UYVY)),
    "yuv422_yuy2": (2, lambda a: cv2.cvtColor(a, cv2.COLOR_YUV2RGB_YUY2)),
    "yuyv": (2, lambda a: cv2.cvtColor(a, cv2.COLOR_YUV2RGB_YUY2)),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_RGB_FROM)
# 4:2:2 shares one chroma pair between two pixels: rows must hold whole pairs.
_PAIRED_CHANNELS = 2
# What CompressedImage.format may name (image_transport writes e.g. "rgb8; jpeg compressed bgr8").
_COMPRESSED_FORMATS = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png"}

# Encodings with more than 8 bits per channel (depth cameras, raw sensors): the hand
# network takes 8-bit colour, and guessing a scaling would silently change the input.
_WIDE_ENCODINGS = ("mono16", "rgb16", "bgr16", "rgba16", "bgra16", "16uc1", "16sc1", "32fc1", "64fc1")


# Depth encodings (REP 118 and RealSense's aligned_depth_to_color): element dtype and unit.
DEPTH_ENCODINGS: dict[str, str] = {"16UC1": "uint16 millimetres, 0 = none", "32FC1": "float32 metres, NaN/Inf/0 = none"}
_DEPTH_DTYPES = {"16uc1": np.dtype("<u2"), "32fc1": np.dtype("<f4")}


class ImageConversionError(ValueError):
    """An image message that cannot become an RGB array (the message says why and where)."""


def _bridge() -> Any | None:
    """A cv_bridge.CvBridge that round-trips an rgb8 image exactly, else None."""
    try:
        from cv_bridge import CvBridge  # type: ignore[import-not-found]
    except ImportError:
        return None
    bridge = CvBridge()
    probe = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    try:
        back = bridge.imgmsg_to_cv2(bridge.cv2_to_imgmsg(probe, encoding="rgb8"), desired_encoding="rgb8")
    except Exception as exc:  # the PyPI build fails with OpenCV 5 (FIELD_NOTES)
        LOG.info("cv_bridge imports but does not work here (%s); using the numpy conversion", exc)
        return None
    return bridge if np.array_equal(np.asarray(back), probe) else None


_BRIDGE = _bridge()


def cv_bridge_available() -> bool:
    """True when conversions go through a working cv_bridge."""
    return _BRIDGE is not None


def image_to_rgb(msg: Any, where: str = "image", use_cv_bridge: bool = True) -> np.ndarray:
    """A sensor_msgs/Image → ``(H, W, 3) uint8`` RGB, a view of ``msg.data`` when possible.

    Args:
        msg: anything with ``height, width, encoding, step, data`` (sensor_msgs/Image).
        where: names the source in errors (e.g. ``"camera 'cam0' (/cam0/image_raw)"``).
        use_cv_bridge: go through cv_bridge when it works here.

    Raises:
        ImageConversionError: zero size, unsupported or 16-bit encoding, an odd width for a
            4:2:2 encoding, a step/data size that does not match width × height × bytes per
            pixel, or cv_bridge / OpenCV refusing the data.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    encoding = str(msg.encoding).strip().lower()
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"{where}: zero-size image ({width}x{height})")
    if encoding in _WIDE_ENCODINGS or "16" in encoding or "32" in encoding:
        raise ImageConversionError(
            f"{where}: encoding {msg.encoding!r} has more than 8 bits per channel; the hand "
            f"detector takes 8-bit colour or mono ({', '.join(SUPPORTED_ENCODINGS)})"
        )
    if encoding not in _RGB_FROM:
        raise ImageConversionError(
            f"{where}: unsupported encoding {msg.encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    channels, to_rgb = _RGB_FROM[encoding]
    if channels == _PAIRED_CHANNELS and width % 2:
        raise ImageConversionError(f"{where}: {msg.encoding} packs pixels in pairs; width {width} is odd")
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageConversionError(
            f"{where}: step {step} is smaller than width {width} x {channels} bytes per pixel = {row_bytes}"
        )
    rows = _rows(msg.data, height, step, where)
    if use_cv_bridge and _BRIDGE is not None:
        try:
            return np.asarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="rgb8"))
        except Exception as exc:  # cv_bridge raises CvBridgeError, cv2.error, TypeError, ...
            raise ImageConversionError(f"{where}: cv_bridge refused the {msg.encoding!r} image: {exc}") from exc
    # (H, step) rows → (H, W, C) pixels; padding bytes at row ends are skipped by the slice.
    pixels = rows[:, :row_bytes].reshape(height, width, channels)
    try:
        return to_rgb(pixels)
    except cv2.error as exc:
        raise ImageConversionError(f"{where}: OpenCV cannot convert the {msg.encoding!r} image: {exc}") from exc


def image_to_depth(msg: Any, where: str = "depth image") -> np.ndarray:
    """An aligned depth sensor_msgs/Image (``16UC1`` mm or ``32FC1`` m) → ``(H, W) float32``
    metres along the optical axis, NaN = no measurement (a new array; ``msg.data`` is not kept).

    ``16UC1``: 0 is no measurement (``fusion.depth.depth_from_millimetres``). ``32FC1``: NaN,
    ±Inf (REP 118: none, too close, too far) and 0 (what some drivers write) are no
    measurement; other values are kept as they are, so that negative garbage reaches the
    pipeline's depth check (``fusion.depth.check_depth``) and is reported. Whether the map
    holds any measurement at all is that check's business too.

    Args:
        msg: anything with ``height, width, encoding, is_bigendian, step, data``.
        where: names the source in errors.

    Raises:
        ImageConversionError: zero size, an encoding other than ``DEPTH_ENCODINGS``, or a
            step/data size that does not match width × height × bytes per pixel.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"{where}: zero-size image ({width}x{height})")
    dtype = _DEPTH_DTYPES.get(str(msg.encoding).strip().lower())
    if dtype is None:
        choices = ", ".join(f"{k} ({v})" for k, v in DEPTH_ENCODINGS.items())
        raise ImageConversionError(f"{where}: depth encoding {msg.encoding!r} is not one of {choices}")
    if msg.is_bigendian:
        dtype = dtype.newbyteorder(">")
    row_bytes = width * dtype.itemsize
    if step < row_bytes or step % dtype.itemsize:
        raise ImageConversionError(
            f"{where}: step {step} does not fit width {width} x {dtype.itemsize} bytes per pixel = {row_bytes} ({msg.encoding})"
        )
    rows = _rows(msg.data, height, step, where)
    # (H, step) bytes → (H, W) values; padding at row ends is skipped by the slice.
    values = rows.view(dtype)[:, :width]
    if dtype.kind == "u":
        return depth_from_millimetres(values.astype(np.uint16, copy=False))  # native order; it copies
    depth = values.astype(np.float32)  # native byte order, a copy
    depth[np.isinf(depth) | (depth == 0)] = np.nan
    return depth


def _rows(data: Any, height: int, step: int, where: str) -> np.ndarray:
    """A message's pixel buffer as ``(height, step) uint8`` rows, a view of ``data``.

    Raises:
        ImageConversionError: ``data`` is not ``step × height`` bytes.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size != step * height:
        raise ImageConversionError(
            f"{where}: data has {buffer.size} bytes, expected step {step} x height {height} = {step * height}"
        )
    return buffer.reshape(height, step)


def compressed_header(msg: Any, where: str = "compressed image", max_pixels: int = MAX_IMAGE_PIXELS) -> ImageHeader:
    """The size a sensor_msgs/CompressedImage claims, read from its JPEG/PNG header only.

    Raises:
        ImageConversionError: a format that is not JPEG or PNG, data of another format than
            ``msg.format`` names (an empty format accepts either), a header that cannot be
            read, or more than ``max_pixels``.
    """
    fmt = str(msg.format).lower()
    # An empty format names nothing: the data's own signature decides.
    named = {_COMPRESSED_FORMATS[w] for w in _words(fmt) if w in _COMPRESSED_FORMATS} if fmt.strip() else {"jpeg", "png"}
    if not named:
        raise ImageConversionError(f"{where}: compressed format {msg.format!r} is not JPEG or PNG")
    if len(msg.data) == 0:
        raise ImageConversionError(f"{where}: empty compressed data")
    try:
        header = read_header(msg.data)
        check_pixels(header, max_pixels)
    except ImageHeaderError as exc:
        raise ImageConversionError(f"{where}: {exc}") from exc
    if header.format not in named:
        raise ImageConversionError(f"{where}: format {msg.format!r} names {'/'.join(sorted(named))} but the data is {header.format.upper()}")
    return header


def compressed_to_rgb(msg: Any, where: str = "compressed image", max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """A sensor_msgs/CompressedImage (JPEG or PNG) → ``(H, W, 3) uint8`` RGB.

    The header is checked first (``compressed_header``), so nothing larger than
    ``max_pixels`` is ever allocated; then the data is decoded.

    Raises:
        ImageConversionError: see ``compressed_header``; data that does not decode, or
            decodes to another size than its header claims.
    """
    header = compressed_header(msg, where, max_pixels)
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    try:
        decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV's own limits and corrupt streams
        raise ImageConversionError(f"{where}: {buffer.size} bytes of {msg.format!r} data do not decode: {exc}") from exc
    if decoded is None:
        raise ImageConversionError(f"{where}: {buffer.size} bytes of {msg.format!r} data do not decode")
    if decoded.shape[:2] != (header.height, header.width):
        raise ImageConversionError(
            f"{where}: decoded to {decoded.shape[1]}x{decoded.shape[0]}, its header says {header.width}x{header.height}"
        )
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def _words(text: str) -> list[str]:
    """The alphanumeric words of ``text`` ("rgb8; jpeg compressed bgr8" → rgb8, jpeg, ...)."""
    return re.findall(r"[a-z0-9]+", text)


def _rgb8(rgb: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """``(H, W, 3) uint8`` RGB → the rgb8 Image fields but ``data``, and the pixels C-contiguous."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    fields = {"height": rgb.shape[0], "width": rgb.shape[1], "encoding": "rgb8", "is_bigendian": 0, "step": rgb.shape[1] * 3}
    return fields, np.ascontiguousarray(rgb)


def rgb_to_image_fields(rgb: np.ndarray) -> dict[str, Any]:
    """``(H, W, 3) uint8`` RGB → the fields of an rgb8 sensor_msgs/Image (for publishers)."""
    fields, pixels = _rgb8(rgb)
    return {**fields, "data": pixels.tobytes()}


def rgb_to_image_bytes(rgb: np.ndarray, header: Any) -> bytes:
    """``(H, W, 3) uint8`` RGB → a serialised rgb8 sensor_msgs/Image with ``header`` (for
    ``publisher.publish``): the pixels are written once, not through a Python ``data`` field."""
    fields, pixels = _rgb8(rgb)
    msg, packed = Image(header=header, **fields), PackedFields()
    packed.set(msg, "data", pixels.reshape(-1))
    return serialize(msg, packed)
