"""CPU crops: the memory layout follows the runtime (channels-last or plain NCHW), the values do not."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hand_pose_ros.detection import geometry
from hand_pose_ros.detection.config import MAGNIFIED_SAMPLING
from hand_pose_ros.detection.crop import _SHARPEN_KERNEL as _KERNEL
from hand_pose_ros.detection.crop import prepare_images, warp_crops

# Crop side in pixels (small: the test is about layout, not the networks).
_SIZE = 32


def test_cpu_crops_have_the_same_values_in_both_layouts() -> None:
    rng = np.random.default_rng(0)
    views = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    prepared = prepare_images(views, 1024, torch.device("cpu"), [0, 1])
    rects = np.array([[30.0, 20.0, 24.0, 24.0, 0.3], [20.0, 20.0, 50.0, 50.0, -1.0], [10.0, 30.0, 16.0, 16.0, 0.0]],
                     np.float32)
    affines = geometry.crop_affines(rects, _SIZE)
    args = (prepared, [0, 1, 0], affines, _SIZE, True, torch.float32)
    last, planar = warp_crops(*args, channels_last=True), warp_crops(*args, channels_last=False)
    assert last.shape == planar.shape == (3, 3, _SIZE, _SIZE)
    assert last.is_contiguous(memory_format=torch.channels_last) and planar.is_contiguous()
    torch.testing.assert_close(last, planar, rtol=0, atol=0)
    assert 0.0 <= float(planar.min()) and float(planar.max()) <= 1.0


def test_cpu_crops_are_opencv_warps_divided_by_255_bit_for_bit() -> None:
    """Each crop equals its own ``cv2.warpAffine`` of the uint8 view, as float32 / 255, in both
    layouts: a change in how the crops are converted fails here, not as drift downstream."""
    import cv2

    rng = np.random.default_rng(1)
    views = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    prepared = prepare_images(views, 1024, torch.device("cpu"), [0, 1])
    rects = np.array([[30.0, 20.0, 24.0, 24.0, 0.3], [20.0, 20.0, 50.0, 50.0, -1.0]], np.float32)
    affines = geometry.crop_affines(rects, _SIZE)
    for channels_last in (True, False):
        crops = warp_crops(prepared, [0, 1], affines, _SIZE, True, torch.float32, channels_last=channels_last)
        for crop, view, affine in zip(crops, views, affines.astype(np.float64)):
            warped = cv2.warpAffine(view, affine, (_SIZE, _SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE)
            expected = warped.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
            np.testing.assert_array_equal(crop.numpy(), expected)


def test_cpu_rgbx_crops_are_the_rgb_warps_bit_for_bit() -> None:
    """The CPU views are held as RGBX (OpenCV's 4-channel warp is the faster one): each crop's
    RGB equals the 3-channel warp of the RGB view, for both borders."""
    import cv2

    rng = np.random.default_rng(2)
    views = [cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (5, 5), 1.5),
             rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    prepared = prepare_images(views, 1024, torch.device("cpu"), [0, 1])
    rects = np.array([[30.0, 20.0, 24.0, 24.0, 0.3], [20.0, 20.0, 50.0, 50.0, -1.0]], np.float32)
    affines = geometry.crop_affines(rects, _SIZE)
    for replicate, border in ((True, cv2.BORDER_REPLICATE), (False, cv2.BORDER_CONSTANT)):
        crops = warp_crops(prepared, [0, 1], affines, _SIZE, replicate, torch.float32, rgbx=True).numpy()
        assert crops.shape == (2, _SIZE, _SIZE, 4) and crops.dtype == np.uint8
        for crop, view, affine in zip(crops, views, affines.astype(np.float64)):
            warped = cv2.warpAffine(view, affine, (_SIZE, _SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=border, borderValue=0)
            np.testing.assert_array_equal(crop[..., :3], warped)


def test_cpu_crops_convert_only_their_footprint_and_equal_warps_of_the_whole_view() -> None:
    """A view's RGBX copy is converted only where a crop reads (``PreparedImages.rgbx``): with
    the rest of that copy garbage, every crop (inside, across the edge, wholly outside, large
    and small, both borders, each ``magnified`` sampling) still equals the warp of the whole
    converted view (sharpened whole for ``"sharpened"``) bit for bit."""
    import cv2

    rng = np.random.default_rng(3)
    for trial in range(40):
        height, width = (int(v) for v in rng.integers(20, 120, 2))
        view = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (3, 3), 1.0)
        n = 6
        rects = np.stack([rng.uniform(-0.5 * width, 1.5 * width, n), rng.uniform(-0.5 * height, 1.5 * height, n),
                          rng.uniform(2, 2 * max(height, width), n), rng.uniform(2, 2 * max(height, width), n),
                          rng.uniform(-4, 4, n)], -1).astype(np.float32)
        affines = geometry.crop_affines(rects, _SIZE)
        whole = cv2.cvtColor(view, cv2.COLOR_RGB2RGBA)
        magnifying = np.abs(np.linalg.det(affines[:, :, :2].astype(np.float64))) < 1.0
        sharpened = cv2.sepFilter2D(whole, -1, _KERNEL, _KERNEL, borderType=cv2.BORDER_REPLICATE)
        for (replicate, border), magnified in itertools.product(
                ((True, cv2.BORDER_REPLICATE), (False, cv2.BORDER_CONSTANT)), MAGNIFIED_SAMPLING):
            prepared = prepare_images([view], 1024, torch.device("cpu"), [0])
            prepared.rgbx(0, 0, 0, width, height)[:] = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)  # garbage
            crops = warp_crops(prepared, [0] * n, affines, _SIZE, replicate, torch.float32, rgbx=True,
                               magnified=magnified).numpy()
            for crop, affine, magnifies in zip(crops, affines.astype(np.float64), magnifying):
                interpolation = cv2.INTER_CUBIC if magnified == "bicubic" and magnifies else cv2.INTER_LINEAR
                source = sharpened if magnified == "sharpened" and magnifies else whole
                expected = cv2.warpAffine(source, affine, (_SIZE, _SIZE), flags=interpolation | cv2.WARP_INVERSE_MAP,
                                          borderMode=border, borderValue=0)
                np.testing.assert_array_equal(crop, expected)


@pytest.mark.parametrize("magnified", ["sharpened", "bicubic"])
def test_magnifying_crops_are_sampled_sharper_and_shrinking_ones_stay_bilinear(magnified) -> None:
    """``magnified``: a crop that enlarges its view is OpenCV's bicubic warp, or the bilinear warp
    of the view sharpened by the 3-tap kernel, bit for bit; one that shrinks it the bilinear one;
    the device path (``grid_sample``, here on a CPU batch) gives the same levels within rounding."""
    import cv2

    from hand_pose_ros.detection.crop import PreparedImages

    rng = np.random.default_rng(3)
    view = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (5, 5), 1.0)
    prepared = prepare_images([view], 1024, torch.device("cpu"), [0])
    # 16 image px into 32 crop px (magnified), 48 into 32 (shrunk).
    rects = np.array([[30.0, 20.0, 16.0, 16.0, 0.3], [30.0, 24.0, 48.0, 48.0, -0.2]], np.float32)
    affines = geometry.crop_affines(rects, _SIZE)
    crops = warp_crops(prepared, [0, 0], affines, _SIZE, True, torch.float32, rgbx=True, magnified=magnified).numpy()
    if magnified == "bicubic":
        sources = ((view, cv2.INTER_CUBIC), (view, cv2.INTER_LINEAR))
    else:
        sharp = cv2.sepFilter2D(view, -1, _KERNEL, _KERNEL, borderType=cv2.BORDER_REPLICATE)
        sources = ((sharp, cv2.INTER_LINEAR), (view, cv2.INTER_LINEAR))
    for crop, affine, (source, flag) in zip(crops, affines.astype(np.float64), sources):
        warped = cv2.warpAffine(source, affine, (_SIZE, _SIZE), flags=flag | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
        np.testing.assert_array_equal(crop[..., :3], warped)
    bilinear = warp_crops(prepared, [0], affines[:1], _SIZE, True, torch.float32, rgbx=True).numpy()
    assert np.abs(bilinear[0, ..., :3].astype(int) - crops[0, ..., :3]).max() > 2, "sharper than bilinear"
    # Sharper: more contrast between neighbouring crop pixels than the bilinear crop.
    assert np.abs(np.diff(crops[0, ..., :3].astype(int), axis=0)).mean() > np.abs(
        np.diff(bilinear[0, ..., :3].astype(int), axis=0)).mean()
    batch = torch.from_numpy(view).permute(2, 0, 1)[None].float()
    on_device = PreparedImages([view], batch, prepared.sizes, prepared.scales, prepared.shapes)
    sampled = warp_crops(on_device, [0, 0], affines, _SIZE, True, torch.float32, magnified=magnified)
    levels = (sampled * 255).round().permute(0, 2, 3, 1).numpy().astype(int)
    # Inside the view (the borders' clamping differs between the two paths by a pixel's weights).
    inner = slice(4, -4)
    assert np.abs(levels[:, inner, inner] - crops[:, inner, inner, :3]).max() <= 2


def test_magnified_sampling_can_differ_per_crop() -> None:
    """``magnified`` as one value per crop: crop i equals the crop cut alone with value i, on the
    CPU and the device path alike."""
    import cv2

    from hand_pose_ros.detection.crop import PreparedImages

    rng = np.random.default_rng(4)
    view = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (5, 5), 1.0)
    cpu = prepare_images([view], 1024, torch.device("cpu"), [0])
    batch = torch.from_numpy(view).permute(2, 0, 1)[None].float()
    device = PreparedImages([view], batch, cpu.sizes, cpu.scales, cpu.shapes)
    rects = np.array([[30.0, 20.0, 16.0, 16.0, 0.3], [26.0, 22.0, 18.0, 18.0, -0.4], [34.0, 24.0, 14.0, 14.0, 1.0]],
                     np.float32)
    affines = geometry.crop_affines(rects, _SIZE)
    modes = list(MAGNIFIED_SAMPLING)
    for prepared, kwargs in ((cpu, {"rgbx": True}), (device, {})):
        mixed = warp_crops(prepared, [0, 0, 0], affines, _SIZE, True, torch.float32, magnified=modes, **kwargs)
        for i, mode in enumerate(modes):
            alone = warp_crops(prepared, [0], affines[i:i + 1], _SIZE, True, torch.float32, magnified=mode, **kwargs)
            torch.testing.assert_close(mixed[i:i + 1], alone, rtol=0, atol=0)
    with pytest.raises(ValueError, match="one per crop"):
        warp_crops(cpu, [0, 0, 0], affines, _SIZE, True, torch.float32, magnified=modes[:2])


def test_unknown_magnified_sampling_is_refused() -> None:
    view = np.zeros((48, 64, 3), np.uint8)
    prepared = prepare_images([view], 1024, torch.device("cpu"), [0])
    affines = geometry.crop_affines(np.array([[30.0, 20.0, 16.0, 16.0, 0.0]], np.float32), _SIZE)
    with pytest.raises(ValueError, match="magnified must be one of"):
        warp_crops(prepared, [0], affines, _SIZE, True, torch.float32, magnified="lanczos")
