"""JPEG/PNG sizes from the header bytes: real encoded images, crafted and truncated headers."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from hand_pose_ros.image_headers import MAX_IMAGE_PIXELS, ImageHeader, ImageHeaderError, check_pixels, read_header
from hand_pose_ros.tools.fuzz_messages import png_claiming


@pytest.mark.parametrize("ext", [".jpg", ".png"])
@pytest.mark.parametrize("width, height", [(640, 480), (1, 1), (1281, 719), (4000, 16)])
def test_real_encoded_images_give_their_size(ext, width, height):
    image = np.random.default_rng(width).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(ext, image)
    assert ok
    assert read_header(data.tobytes()) == ImageHeader("jpeg" if ext == ".jpg" else "png", width, height)


def test_progressive_jpeg_and_a_grey_one():
    image = np.random.default_rng(0).integers(0, 255, (37, 53), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok and read_header(data) == ImageHeader("jpeg", 53, 37)


def test_the_68_byte_png_claiming_200000_squared_is_read_and_refused_without_decoding():
    bomb = png_claiming(200_000, 200_000)
    assert len(bomb) <= 70  # a few dozen bytes promising 40 G pixels
    header = read_header(bomb)
    assert (header.width, header.height) == (200_000, 200_000)
    with pytest.raises(ImageHeaderError, match="200000x200000 = 40000000000 pixels"):
        check_pixels(header)
    check_pixels(read_header(png_claiming(640, 480)))  # an ordinary size passes
    with pytest.raises(ImageHeaderError, match="more than the limit of 100"):
        check_pixels(read_header(png_claiming(11, 10)), max_pixels=100)


def test_pixel_cap_is_below_opencvs_own_limit():
    assert 7680 * 4320 <= MAX_IMAGE_PIXELS < 1 << 30


@pytest.mark.parametrize("ext", [".jpg", ".png"])
@pytest.mark.parametrize("keep", [0, 1, 5, 12, 20])
def test_truncated_headers_are_refused(ext, keep):
    ok, data = cv2.imencode(ext, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ImageHeaderError):
        read_header(data.tobytes()[:keep])


def test_jpeg_without_a_frame_header_is_refused():
    ok, data = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 1] = 0xFE  # the frame header becomes a comment (COM) segment
    with pytest.raises(ImageHeaderError, match="no frame header"):
        read_header(bytes(data))
    with pytest.raises(ImageHeaderError, match="no frame header"):
        read_header(b"\xff\xd8\xff\xda\x00\x08" + bytes(6))  # SOI then scan data


@pytest.mark.parametrize("data, message", [
    (b"", "not a JPEG or PNG"),
    (b"GIF89a" + bytes(20), "not a JPEG or PNG"),
    (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IDAT" + bytes(13), "not IHDR"),
    (png_claiming(0, 480), "zero size"),
    (b"\xff\xd8\x12\x34", "expected a marker"),
    (b"\xff\xd8\xff\xe0\x00\x01", "length 1 < 2"),
])
def test_malformed_headers_say_why(data, message):
    with pytest.raises(ImageHeaderError, match=message):
        read_header(data)
