"""Width and height of a JPEG or PNG from its header bytes, before anything is decoded.

A compressed image is a promise of pixels: 68 bytes of PNG can claim 200000 × 200000 and a
decoder would allocate for them (OpenCV raises ``cv2.error`` above its own limit and
allocates in full below it). Reading the size from the header first lets a caller refuse an
image that is too large, or not the size it expects, for the price of a few byte reads.

ROS-free; the node's ``ros.image_conversion`` uses it for CompressedImage messages.
"""

from __future__ import annotations

import dataclasses
import struct

__all__ = ["ImageHeaderError", "ImageHeader", "MAX_IMAGE_PIXELS", "read_header", "check_pixels"]

# 64 Mpixel: 8K UHD (7680 × 4320 = 33 M) fits twice, while one such RGB frame (200 MB)
# already costs more than a hand-pose set should; far below OpenCV's 2^30 default.
MAX_IMAGE_PIXELS = 1 << 26

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR_END = 8 + 8 + 8  # signature, chunk length + type "IHDR", width + height
JPEG_SOI = b"\xff\xd8"
# Start-of-frame markers carry the size: baseline/extended/progressive/lossless, Huffman or
# arithmetic. 0xC4 (DHT), 0xC8 (JPG extension) and 0xCC (DAC) share the range but are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone (no length field): TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9


class ImageHeaderError(ValueError):
    """The bytes are not a JPEG or PNG whose size can be read (the message says why)."""


@dataclasses.dataclass(frozen=True)
class ImageHeader:
    """What the header says: ``format`` ("jpeg" | "png"), ``width`` and ``height`` in pixels."""

    format: str
    width: int
    height: int


def read_header(data: bytes | bytearray | memoryview) -> ImageHeader:
    """The format and size of a JPEG (its SOFn segment) or PNG (its IHDR chunk).

    Raises:
        ImageHeaderError: neither signature, a header cut short, a JPEG without a frame
            header before its scan data, or a zero width or height.
    """
    data = memoryview(data).cast("B")
    if bytes(data[:8]) == PNG_SIGNATURE:
        header = _png(data)
    elif bytes(data[:2]) == JPEG_SOI:
        header = _jpeg(data)
    else:
        raise ImageHeaderError(f"not a JPEG or PNG (first bytes {bytes(data[:8]).hex(' ') or 'none'})")
    if header.width <= 0 or header.height <= 0:
        raise ImageHeaderError(f"{header.format.upper()} header gives a zero size ({header.width}x{header.height})")
    return header


def check_pixels(header: ImageHeader, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Raise ImageHeaderError if the image would have more than ``max_pixels`` pixels."""
    pixels = header.width * header.height
    if pixels > max_pixels:
        raise ImageHeaderError(
            f"{header.format.upper()} header claims {header.width}x{header.height} = {pixels} pixels, "
            f"more than the limit of {max_pixels}"
        )


def _png(data: memoryview) -> ImageHeader:
    if len(data) < _PNG_IHDR_END:
        raise ImageHeaderError(f"PNG cut short: {len(data)} bytes, its IHDR header needs {_PNG_IHDR_END}")
    if bytes(data[12:16]) != b"IHDR":
        raise ImageHeaderError(f"PNG's first chunk is {bytes(data[12:16])!r}, not IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return ImageHeader("png", width, height)


def _jpeg(data: memoryview) -> ImageHeader:
    pos = 2  # after SOI
    size = len(data)
    while pos < size:
        if data[pos] != 0xFF:
            raise ImageHeaderError(f"JPEG: expected a marker at byte {pos}, found 0x{data[pos]:02x}")
        while pos < size and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= size:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (_JPEG_SOS, _JPEG_EOI):
            raise ImageHeaderError(f"JPEG has no frame header (SOFn) before its {'scan' if marker == _JPEG_SOS else 'end'}")
        if pos + 2 > size:
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise ImageHeaderError(f"JPEG: segment 0x{marker:02x} at byte {pos - 2} has length {length} < 2")
        if marker in _JPEG_SOF:
            if pos + 7 > size:
                break
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])  # after length and precision
            return ImageHeader("jpeg", width, height)
        pos += length
    raise ImageHeaderError(f"JPEG cut short: {size} bytes and no complete frame header (SOFn)")
