"""Image message → RGB array conversion for every supported encoding, and clear refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from hand_pose_ros.assets import hand_photos_dir
from hand_pose_ros.tools.fuzz_messages import png_claiming
from hand_pose_ros.ros.image_conversion import (
    image_to_depth,
    rgb_to_image_bytes,
    ImageConversionError,
    compressed_header,
    compressed_to_rgb,
    cv_bridge_available,
    image_to_rgb,
    rgb_to_image_fields,
)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real hand photo, RGB, cropped to an even width (4:2:2 needs pairs of pixels)."""
    bgr = cv2.imread(str(hand_photos_dir() / "handSrc.jpg"))
    h, w = bgr.shape[:2]
    return cv2.cvtColor(bgr[: h - h % 2, : w - w % 2], cv2.COLOR_BGR2RGB)


def msg_from(array: np.ndarray, encoding: str, pad: int = 0) -> Image:
    h, w = array.shape[:2]
    row = array.reshape(h, -1)
    if pad:
        row = np.concatenate([row, np.full((h, pad), 77, np.uint8)], axis=1)
    return Image(height=h, width=w, encoding=encoding, step=row.shape[1], data=row.tobytes())


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("rgb8", lambda rgb: rgb),
        ("bgr8", lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)),
        ("rgba8", lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)),
        ("bgra8", lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)),
    ],
)
@pytest.mark.parametrize("pad", [0, 6])
def test_colour_encodings_round_trip_exactly(photo, encoding, encode, pad):
    out = image_to_rgb(msg_from(encode(photo), encoding, pad), use_cv_bridge=False)
    assert out.shape == photo.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, photo)


def test_rgb8_is_zero_copy(photo):
    msg = msg_from(photo, "rgb8")
    out = image_to_rgb(msg, use_cv_bridge=False)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


def test_mono8_replicates_grey(photo):
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    out = image_to_rgb(msg_from(grey, "mono8"), use_cv_bridge=False)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def _to_uyvy(rgb: np.ndarray, yuy2: bool) -> np.ndarray:
    """Pack RGB into 4:2:2 (BT.601 video range, as OpenCV decodes it), chroma averaged over pairs."""
    r, g, b = (rgb[..., c].astype(np.float32) / 255 for c in range(3))
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    u = (cb[:, 0::2] + cb[:, 1::2]) / 2
    v = (cr[:, 0::2] + cr[:, 1::2]) / 2
    h, w = y.shape
    packed = np.empty((h, w * 2), np.float32)
    if yuy2:
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = y[:, 0::2], u, y[:, 1::2], v
    else:
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = u, y[:, 0::2], v, y[:, 1::2]
    return np.clip(np.round(packed), 0, 255).astype(np.uint8).reshape(h, w, 2)


# 4:2:2 halves chroma resolution: edges between pixel pairs lose colour detail.
YUV_MEDIAN_TOLERANCE = 6  # grey levels


@pytest.mark.parametrize("encoding, yuy2", [("yuv422", False), ("yuv422_yuy2", True)])
def test_yuv422_decodes_close_to_source(photo, encoding, yuy2):
    out = image_to_rgb(msg_from(_to_uyvy(photo, yuy2), encoding), use_cv_bridge=False)
    assert out.shape == photo.shape
    diff = np.abs(out.astype(int) - photo.astype(int))
    assert np.median(diff) <= YUV_MEDIAN_TOLERANCE
    # Swapping the two layouts must be visibly wrong (the test tells them apart).
    other = "yuv422_yuy2" if encoding == "yuv422" else "yuv422"
    wrong = image_to_rgb(msg_from(_to_uyvy(photo, yuy2), other), use_cv_bridge=False)
    assert np.median(np.abs(wrong.astype(int) - photo.astype(int))) > 3 * YUV_MEDIAN_TOLERANCE


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(height=0, width=0, encoding="rgb8", step=0, data=b""), "zero-size"),
        (dict(height=4, width=4, encoding="mono16", step=8, data=bytes(32)), "more than 8 bits"),
        (dict(height=4, width=4, encoding="16UC1", step=8, data=bytes(32)), "more than 8 bits"),
        (dict(height=4, width=4, encoding="bayer_rggb8", step=4, data=bytes(16)), "unsupported encoding"),
        (dict(height=4, width=4, encoding="rgb8", step=10, data=bytes(40)), "step 10 is smaller"),
        (dict(height=4, width=4, encoding="rgb8", step=12, data=bytes(47)), "expected step 12 x height 4"),
    ],
)
def test_bad_images_are_refused_with_the_reason_and_source(fields, message):
    with pytest.raises(ImageConversionError, match=message) as info:
        image_to_rgb(Image(**fields), where="camera 'cam2'")
    assert "camera 'cam2'" in str(info.value)


@pytest.mark.parametrize("ext, fmt, exact", [(".png", "png", True), (".jpg", "rgb8; jpeg compressed bgr8", False)])
def test_compressed_png_and_jpeg(photo, ext, fmt, exact):
    ok, data = cv2.imencode(ext, cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    out = compressed_to_rgb(CompressedImage(format=fmt, data=data.tobytes()))
    if exact:
        np.testing.assert_array_equal(out, photo)
    else:
        assert np.median(np.abs(out.astype(int) - photo.astype(int))) <= 3


@pytest.mark.parametrize("fmt, data, message", [("tiff", b"xx", "not JPEG or PNG"), ("jpeg", b"", "empty"), ("png", b"garbage", "not a JPEG or PNG")])
def test_bad_compressed_refused(fmt, data, message):
    with pytest.raises(ImageConversionError, match=message):
        compressed_to_rgb(CompressedImage(format=fmt, data=data))


def _encoded(photo: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def test_compressed_size_comes_from_the_header(photo):
    header = compressed_header(CompressedImage(format="jpeg", data=_encoded(photo, ".jpg")), "camera 'cam1'")
    assert (header.width, header.height) == (photo.shape[1], photo.shape[0])


def test_decompression_bomb_is_refused_from_its_header_before_decoding():
    bomb = png_claiming(200_000, 200_000)  # 68 bytes
    with pytest.raises(ImageConversionError, match="camera 'cam1': PNG header claims 200000x200000"):
        compressed_to_rgb(CompressedImage(format="png", data=bomb), "camera 'cam1'")
    # Past our own cap, OpenCV's cv2.error (its pixel limit) is translated, never raised.
    with pytest.raises(ImageConversionError, match="do not decode"):
        compressed_to_rgb(CompressedImage(format="png", data=bomb), "camera 'cam1'", max_pixels=1 << 40)


@pytest.mark.parametrize("ext, fmt", [(".jpg", "jpeg"), (".png", "png")])
@pytest.mark.parametrize("keep", [0.05, 0.5])
def test_truncated_compressed_data_is_refused(photo, ext, fmt, keep):
    data = _encoded(photo, ext)
    with pytest.raises(ImageConversionError, match="do not decode|cut short|decoded to"):
        compressed_to_rgb(CompressedImage(format=fmt, data=data[: int(len(data) * keep)]))


def test_data_of_another_format_than_named_is_refused(photo):
    with pytest.raises(ImageConversionError, match="names jpeg but the data is PNG"):
        compressed_to_rgb(CompressedImage(format="rgb8; jpeg compressed bgr8", data=_encoded(photo, ".png")))
    with pytest.raises(ImageConversionError, match="names png but the data is JPEG"):
        compressed_to_rgb(CompressedImage(format="png", data=_encoded(photo, ".jpg")))


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_an_empty_format_lets_the_data_say_what_it_is(photo, ext):
    assert compressed_to_rgb(CompressedImage(format="", data=_encoded(photo, ext))).shape == photo.shape


def test_random_bytes_after_a_valid_header_are_refused(photo):
    data = bytearray(_encoded(photo, ".jpg"))
    rng = np.random.default_rng(3)
    data[400:] = rng.integers(0, 256, len(data) - 400, dtype=np.uint8).tobytes()
    try:
        out = compressed_to_rgb(CompressedImage(format="jpeg", data=bytes(data)))
    except ImageConversionError:
        return  # refused: fine
    assert out.shape == photo.shape  # or decoded (JPEG decoders conceal errors) at the header's size


@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2", "uyvy", "yuyv"])
def test_odd_width_422_is_refused_not_raised(encoding):
    with pytest.raises(ImageConversionError, match="width 5 is odd"):
        image_to_rgb(Image(height=2, width=5, encoding=encoding, step=10, data=bytes(20)), use_cv_bridge=False)


def test_cv_bridge_errors_become_conversion_errors(photo, monkeypatch):
    """Whatever cv_bridge raises on a message, the caller sees ImageConversionError."""
    from hand_pose_ros.ros import image_conversion

    class BrokenBridge:  # stands in for a cv_bridge whose conversion fails on this message
        def imgmsg_to_cv2(self, msg, desired_encoding):
            raise TypeError("buffer is too small")

    monkeypatch.setattr(image_conversion, "_BRIDGE", BrokenBridge())
    with pytest.raises(ImageConversionError, match="cv_bridge refused the 'rgb8' image: buffer is too small"):
        image_to_rgb(msg_from(photo, "rgb8"), where="camera 'cam0'")


def test_rgb_to_image_fields_round_trip(photo):
    assert np.array_equal(image_to_rgb(Image(**rgb_to_image_fields(photo)), use_cv_bridge=False), photo)


@pytest.mark.skipif(not cv_bridge_available(), reason="no working cv_bridge here (FIELD_NOTES)")
@pytest.mark.parametrize("encoding, encode", [("rgb8", lambda a: a), ("bgr8", lambda a: a[..., ::-1].copy())])
def test_numpy_path_matches_cv_bridge(photo, encoding, encode):
    msg = msg_from(encode(photo), encoding)
    np.testing.assert_array_equal(image_to_rgb(msg, use_cv_bridge=True), image_to_rgb(msg, use_cv_bridge=False))


def test_rgb_to_image_bytes_is_the_rgb8_image_rclpy_reads():
    rgb = np.random.default_rng(3).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    msg = deserialize_message(rgb_to_image_bytes(rgb[:, ::-1], Header(frame_id="cam0")), Image)
    assert (msg.header.frame_id, msg.height, msg.width, msg.encoding, msg.step) == ("cam0", 5, 7, "rgb8", 21)
    np.testing.assert_array_equal(image_to_rgb(msg, use_cv_bridge=False), rgb[:, ::-1])


# --- aligned depth ---------------------------------------------------------------------------------


def _depth_msg(values: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> Image:
    """An aligned depth Image of ``values`` (uint16 mm or float32 m) with ``pad`` bytes per row."""
    dtype = values.dtype.newbyteorder(">" if bigendian else "<")
    rows = values.astype(dtype).view(np.uint8).reshape(values.shape[0], -1)
    rows = np.concatenate([rows, np.zeros((rows.shape[0], pad), np.uint8)], axis=1)
    return Image(height=values.shape[0], width=values.shape[1], encoding=encoding, is_bigendian=int(bigendian),
                 step=rows.shape[1], data=rows.tobytes())


@pytest.mark.parametrize("pad, bigendian", [(0, False), (6, False), (0, True)])
def test_16uc1_millimetres_become_metres_with_nan_for_zero(pad, bigendian):
    mm = np.array([[0, 500, 1234], [65535, 1, 0]], np.uint16)
    depth = image_to_depth(_depth_msg(mm, "16UC1", pad, bigendian))
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    np.testing.assert_array_equal(np.isnan(depth), mm == 0)
    np.testing.assert_allclose(depth[mm > 0], mm[mm > 0] / 1000.0, rtol=1e-6)


def test_32fc1_metres_kept_and_rep118_non_measurements_become_nan():
    m = np.array([[0.5, np.nan, np.inf], [-np.inf, 0.0, -0.25]], np.float32)
    msg = _depth_msg(m, "32FC1", pad=4)
    depth = image_to_depth(msg)
    np.testing.assert_array_equal(np.isnan(depth), [[False, True, True], [True, True, False]])
    assert depth[0, 0] == np.float32(0.5) and depth[1, 2] == np.float32(-0.25)  # garbage left for check_depth
    assert not np.shares_memory(depth, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(height=0, width=0, encoding="16UC1", step=0, data=b""), "zero-size"),
        (dict(height=2, width=2, encoding="rgb8", step=6, data=bytes(12)), "depth encoding 'rgb8' is not one of 16UC1"),
        (dict(height=2, width=2, encoding="mono16", step=4, data=bytes(8)), "depth encoding 'mono16'"),
        (dict(height=2, width=2, encoding="16UC1", step=3, data=bytes(6)), "step 3 does not fit width 2 x 2 bytes"),
        (dict(height=2, width=2, encoding="32FC1", step=8, data=bytes(12)), "expected step 8 x height 2"),
    ],
)
def test_bad_depth_images_are_refused_with_the_reason_and_source(fields, message):
    with pytest.raises(ImageConversionError, match=message) as info:
        image_to_depth(Image(**fields), where="depth of camera 'cam1'")
    assert "depth of camera 'cam1'" in str(info.value)
