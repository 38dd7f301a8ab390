"""Input images → the views the crops are cut from; affine crops (letterbox and rotated hand regions).

On the CPU each crop is one ``cv2.warpAffine`` of its view's uint8 image (as MediaPipe's
own CPU path, and without building a float copy of every view), from an RGBX (4-channel)
copy of the view: OpenCV's bilinear warp has a SIMD path for 4 channels and not for 3, so a
crop costs about half as much, with the same RGB values bit for bit. That copy is filled only
where a crop reads (the crop's footprint in the view, ``_footprint``): a set's hand crops
read a small part of each view, and converting as each crop is cut lets the network compute
the first crops meanwhile. On a GPU the views are one device tensor and all crops one
``grid_sample``. Legend: V views, N crops, S crop side (192
palm, 224 landmark). Pixel coordinates have their origin at the centre of the top-left pixel,
x right, y down.

Crops that magnify the view (a hand region smaller than the network's input, image px per
crop px < 1) can be sampled sharper than MediaPipe's bilinear warp (``magnified``): bilinear
interpolation is a blurring reconstruction when it enlarges, and the landmark network reads a
small hand's fingers better from a sharper crop. ``"sharpened"`` warps bilinear from the view
sharpened by a small separable kernel (which undoes about the blur bilinear interpolation adds
in view pixels; a tenth of the CPU of a bicubic warp), ``"bicubic"`` warps bicubic
(docs/benchmarks.md, "Ninth round (issue #17, branch multiview10)" and "Eleventh round (issue
#17, branch mv12)"); a crop that shrinks the view stays bilinear, as MediaPipe's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from hand_pose_ros.detection.config import MAGNIFIED_SAMPLING

__all__ = ["PreparedImages", "prepare_images", "warp_crops"]

LOG = logging.getLogger(__name__)

# The sharpening kernel's side taps, per axis (−s, 1 + 2s, −s; unit gain): s = 0.2 lifts the
# response at the view's Nyquist frequency by 1 + 4s = 1.8, about what bilinear magnification
# loses there (a triangle kernel's 0.41); 0.1 / 0.3 / 0.45 were weaker or sharper than needed
# on DexYCB (docs/benchmarks.md, eleventh round of issue #17).
_SHARPEN_TAP = 0.2
_SHARPEN_KERNEL = np.array([-_SHARPEN_TAP, 1 + 2 * _SHARPEN_TAP, -_SHARPEN_TAP], np.float32)


class PreparedImages:
    """The views of one call.

    Attributes:
        views: per view ``(H, W, 3)`` uint8 RGB in host memory as the crops see it (converted,
            downscaled where needed; the caller's array itself where nothing had to change).
        batch: on a GPU ``(V, 3, H_max, W_max)`` float32 in [0, 255] on the device, each view
            zero-padded at the right/bottom to the largest size; None on the CPU, where crops
            are cut from ``views`` (through ``rgbx``).
        sizes: ``(V, 2)`` float32 width, height of each view in prepared pixels.
        scales: per view (x, y) original pixels per prepared pixel (> 1 only for downscaled views).
        shapes: original ``(H, W)`` per view.
    """

    def __init__(self, views: list[np.ndarray], batch: torch.Tensor | None, sizes: np.ndarray,
                 scales: list[tuple[float, float]], shapes: list[tuple[int, int]]):
        self.views, self.batch, self.sizes, self.scales, self.shapes = views, batch, sizes, scales, shapes
        # Per view its (H, W, 4) uint8 RGBX copy (X = 255), allocated on the first crop and
        # converted only inside the regions ``rgbx`` was asked for: elsewhere undefined.
        self._rgbx: list[np.ndarray | None] = [None] * len(views)
        # The same for the RGBX copy sharpened by ``_SHARPEN_KERNEL`` (``sharpened``).
        self._sharp: list[np.ndarray | None] = [None] * len(views)

    def rgbx(self, view: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """View ``view``'s ``(H, W, 4)`` RGBX copy, its pixels ``[y0:y1, x0:x1]`` (clipped to the
        view by the caller) converted from ``views`` now; a crop may read only regions so asked for."""
        rgb = self.views[view]
        if self._rgbx[view] is None:
            self._rgbx[view] = np.empty((*rgb.shape[:2], 4), np.uint8)
        buffer = self._rgbx[view]
        cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2RGBA, dst=buffer[y0:y1, x0:x1])
        return buffer

    def sharpened(self, view: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """View ``view``'s RGBX copy sharpened by ``_SHARPEN_KERNEL`` in x and y (edges replicated,
        saturated to uint8) ``(H, W, 4)``, filled now over ``[y0:y1, x0:x1]`` only (as ``rgbx``)."""
        height, width = self.views[view].shape[:2]
        # One pixel more each side (within the view), so the kernel sees every pixel's true
        # neighbours: the region equals that of the whole view sharpened, bit for bit.
        wx0, wy0, wx1, wy1 = max(x0 - 1, 0), max(y0 - 1, 0), min(x1 + 1, width), min(y1 + 1, height)
        region = self.rgbx(view, wx0, wy0, wx1, wy1)[wy0:wy1, wx0:wx1]
        if self._sharp[view] is None:
            self._sharp[view] = np.empty((height, width, 4), np.uint8)
        buffer = self._sharp[view]
        sharp = cv2.sepFilter2D(region, -1, _SHARPEN_KERNEL, _SHARPEN_KERNEL, borderType=cv2.BORDER_REPLICATE)
        buffer[y0:y1, x0:x1] = sharp[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
        return buffer


def _as_rgb(image: object, view: int) -> np.ndarray:
    """One view as ``(H, W, 3)`` uint8 RGB, or ValueError naming the view and the problem."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"view {view}: expected a numpy array (H, W, 3) uint8 RGB, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"view {view}: expected dtype uint8, got {image.dtype} (convert with (x * 255).astype(np.uint8) for [0, 1] floats)")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"view {view}: expected shape (H, W, 3), got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"view {view}: empty image of shape {image.shape}")
    channels = image.shape[2]
    if channels == 1:  # grayscale: the networks want RGB, repeating the plane is what cameras mean
        return np.repeat(image, 3, axis=2)
    if channels == 4:  # RGBA: alpha carries no hand information
        return np.ascontiguousarray(image[..., :3])
    if channels != 3:
        raise ValueError(f"view {view}: expected 1, 3 or 4 channels (gray, RGB, RGBA), got {channels}")
    return image


def prepare_images(
    images: Sequence[np.ndarray], max_side: int, device: torch.device, view_ids: Sequence[int] | None = None
) -> PreparedImages:
    """Validate, convert and upload the views of one call.

    Args:
        images: V arrays ``(H, W, 3)`` uint8 RGB (grayscale ``(H, W)``/``(H, W, 1)`` and RGBA
            are converted); views larger than ``max_side`` are downscaled (INTER_AREA).
        view_ids: the camera view index of each image, for error messages (default 0..V-1).
    Raises:
        ValueError: naming the view index for non-arrays, wrong dtype/shape/channels, empty images.
    """
    arrays, scales, shapes = [], [], []
    for view, image in zip(range(len(images)) if view_ids is None else view_ids, images):
        rgb = _as_rgb(image, view)
        shapes.append(rgb.shape[:2])
        long_side = max(rgb.shape[:2])
        scale = (1.0, 1.0)
        if long_side > max_side:
            factor = long_side / max_side
            size = (max(1, round(rgb.shape[1] / factor)), max(1, round(rgb.shape[0] / factor)))
            LOG.debug("view %d: downscaling %s to %s", view, rgb.shape[1::-1], size)
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            scale = (shapes[-1][1] / size[0], shapes[-1][0] / size[1])
        arrays.append(rgb)
        scales.append(scale)
    sizes = np.array([[a.shape[1], a.shape[0]] for a in arrays], np.float32)
    if device.type == "cpu":
        return PreparedImages(arrays, None, sizes, scales, shapes)
    height = max(a.shape[0] for a in arrays)
    width = max(a.shape[1] for a in arrays)
    if all(a.shape[:2] == (height, width) for a in arrays):
        host = np.stack(arrays)
    else:
        host = np.zeros((len(arrays), height, width, 3), np.uint8)
        for i, a in enumerate(arrays):
            host[i, : a.shape[0], : a.shape[1]] = a
    batch = torch.from_numpy(host).to(device).permute(0, 3, 1, 2).float()  # (V, 3, H, W)
    return PreparedImages(arrays, batch, sizes, scales, shapes)


def warp_crops(
    images: PreparedImages,
    view_index: Sequence[int] | None,
    affines: np.ndarray,
    size: int,
    replicate_border: bool,
    dtype: torch.dtype,
    channels_last: bool = True,
    rgbx: bool = False,
    magnified: str | Sequence[str] = "bilinear",
) -> torch.Tensor:
    """Crops ``(N, 3, S, S)`` in [0, 1] of ``dtype``, bilinear (crops that magnify their view
    sampled as ``magnified`` says), on the views' device.

    On the CPU (``images.batch`` is None) one ``cv2.warpAffine`` per crop on the uint8 view,
    the result laid out channels-last in memory (an NCHW view of ``(N, S, S, 3)``), or plain
    NCHW when not ``channels_last`` (the layout the network's runtime takes); with ``rgbx``
    the warps themselves, ``(N, S, S, 4)`` uint8 RGBX, for a runtime that converts them
    (``dtype`` and ``channels_last`` unused). On a GPU
    one ``grid_sample`` for all: crop i samples view ``view_index[i]`` through a grid laid out
    as ``(V, K·S, S)`` (K = most crops of one view; unused slots are sampled and discarded).
    Both give uint8 levels, as MediaPipe's crops.

    Args:
        view_index: the view each crop comes from (N ints); None: crop i from view i.
        affines: ``(N, 2, 3)`` float32 crop pixel → image pixel maps (``geometry.crop_affines``).
        replicate_border: clamp to the view's own edge pixels (MediaPipe's default border);
            otherwise outside the view is black (the palm detector's letterbox).
        magnified: one of ``MAGNIFIED_SAMPLING`` for every crop, or one per crop (N), for the
            crops that magnify their view (``_magnifies``): ``"bilinear"`` as every other crop;
            ``"sharpened"`` bilinear from the view sharpened by ``_SHARPEN_KERNEL`` in x and y
            (edges replicated, saturated to uint8 levels); ``"bicubic"`` (OpenCV's and torch's
            both with a = −0.75, saturated to uint8 levels).
    Raises:
        ValueError: a ``magnified`` value not in ``MAGNIFIED_SAMPLING``, or not one per crop.
    """
    modes = [magnified] * len(affines) if isinstance(magnified, str) else list(magnified)
    if len(modes) != len(affines):
        raise ValueError(f"warp_crops: magnified must be one sampling or one per crop ({len(affines)}), got {len(modes)}")
    if unknown := set(modes) - set(MAGNIFIED_SAMPLING):
        raise ValueError(f"warp_crops: magnified must be one of {MAGNIFIED_SAMPLING}, got {sorted(unknown)}")
    views = list(range(len(affines))) if view_index is None else list(view_index)
    # Per crop, how it is sampled: a crop that shrinks its view is bilinear whatever it asked.
    magnifies = _magnifies(affines) if any(m != "bilinear" for m in modes) else np.zeros(len(affines), bool)
    sampling = [mode if enlarges else "bilinear" for mode, enlarges in zip(modes, magnifies)]
    if images.batch is None:
        return _warp_crops_cpu(images, views, affines, size, replicate_border, dtype, channels_last, rgbx, sampling)
    device = images.batch.device
    index = torch.tensor(views, device=device)
    affines = torch.from_numpy(affines).to(device)
    sizes = torch.from_numpy(images.sizes).to(device)
    full = torch.tensor(images.batch.shape[:1:-1], dtype=torch.float32, device=device)  # (W_max, H_max)
    # affine_grid works in normalised coordinates (align_corners=False): compose
    # crop-normalised → crop px (u = S/2·n + (S−1)/2) → image px (affines) → batch-normalised
    # (g = 2x/W + 1/W − 1), all (N, 3, 3).
    bottom = torch.tensor([[0.0, 0.0, 1.0]], device=device).expand(len(affines), 1, 3)
    to_pixels = torch.tensor([[size / 2, 0, (size - 1) / 2], [0, size / 2, (size - 1) / 2], [0, 0, 1]],
                             dtype=torch.float32, device=device)
    to_normalised = torch.zeros(3, 3, device=device)
    to_normalised[0, 0], to_normalised[1, 1], to_normalised[2, 2] = 2 / full[0], 2 / full[1], 1
    to_normalised[:2, 2] = 1 / full - 1
    theta = (to_normalised @ torch.cat([affines, bottom], 1) @ to_pixels)[:, :2]  # (N, 2, 3)
    # The grid by broadcasting (F.affine_grid's batched matmul is 5× slower for this shape).
    axis = (2 * torch.arange(size, dtype=torch.float32, device=device) + 1) / size - 1
    grid = (theta[:, None, None, :, 0] * axis[None, None, :, None]
            + theta[:, None, None, :, 1] * axis[None, :, None, None]
            + theta[:, None, None, :, 2])  # (N, S, S, 2)
    same_size = bool((sizes == full).all())
    if replicate_border and not same_size:
        # Clamping to each view's edge pixel centres is OpenCV's BORDER_REPLICATE.
        low = (1 / full - 1).reshape(1, 1, 1, 2)
        high = ((2 * (sizes[index] - 1) + 1) / full - 1)[:, None, None, :]  # (N, 1, 1, 2)
        grid = torch.minimum(torch.maximum(grid, low), high)
    slots, seen = [], {}
    for view in views:
        slots.append(seen.get(view, 0))
        seen[view] = slots[-1] + 1
    per_view = max(seen.values())
    # Unused slots point outside the image (normalised −2): cheap to sample, then discarded.
    layout = torch.full((len(images.batch), per_view, size, size, 2), -2.0, device=device)
    slot_index = torch.tensor(slots, device=device)
    layout[index, slot_index] = grid
    # Views of one size fill the batch: its border is theirs, and "border" padding replicates it.
    padding = "border" if replicate_border and same_size else "zeros"
    grid = layout.reshape(len(images.batch), per_view * size, size, 2)
    sampled = F.grid_sample(images.batch, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    crops = sampled.reshape(len(images.batch), 3, per_view, size, size)[index, :, slot_index]  # (N, 3, S, S)
    for mode in {"sharpened", "bicubic"} & set(sampling):
        if mode == "bicubic":
            sharp = F.grid_sample(images.batch, grid, mode="bicubic", padding_mode=padding, align_corners=False)
        else:
            sharp = F.grid_sample(_sharpened(images), grid, mode="bilinear", padding_mode=padding,
                                  align_corners=False)
        sharp = sharp.clamp(0, 255).reshape(len(images.batch), 3, per_view, size, size)[index, :, slot_index]
        chosen = torch.tensor([m == mode for m in sampling], device=device)
        crops = torch.where(chosen[:, None, None, None], sharp, crops)
    # MediaPipe warps the uint8 image and gets uint8 crops: round the same way (parity).
    return (crops.round() / 255.0).to(dtype)


def _sharpened(images: PreparedImages) -> torch.Tensor:
    """``images.batch`` ``(V, 3, H_max, W_max)`` with each view (its own size, edges replicated)
    sharpened by ``_SHARPEN_KERNEL`` in x and y and rounded to uint8 levels; the padding stays 0."""
    kernel = torch.from_numpy(_SHARPEN_KERNEL).to(images.batch.device)
    across, down = kernel.reshape(1, 1, 1, 3).expand(3, 1, 1, 3), kernel.reshape(1, 1, 3, 1).expand(3, 1, 3, 1)
    sharp = torch.zeros_like(images.batch)
    for v, (width, height) in enumerate(images.sizes.astype(int)):
        view = F.pad(images.batch[v:v + 1, :, :height, :width], (1, 1, 1, 1), mode="replicate")
        view = F.conv2d(F.conv2d(view, across, groups=3), down, groups=3)  # (1, 3, height, width)
        sharp[v, :, :height, :width] = view[0].round().clamp(0, 255)
    return sharp


def _footprint(affine: np.ndarray, size: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels ``x0, y0, x1, y1`` (slice bounds, within the ``width`` × ``height`` view) that the
    warp of one ``size`` crop through ``affine`` ``(2, 3)`` float64 (crop px → view px) can read:
    the crop's corner samples' extent, each side widened by two pixels for the interpolation's
    neighbours (bicubic's reach) and the warp's rounding of positions, clamped to the view (a
    sample outside reads the nearest edge pixels with the replicated border, nothing with the
    constant one). Non-finite: the whole view."""
    last = size - 1.0
    corners = affine[:, :2] @ np.array([[0.0, last, 0.0, last], [0.0, 0.0, last, last]]) + affine[:, 2:]  # (2, 4) px
    if not np.isfinite(corners).all():
        return 0, 0, width, height
    low, high = np.floor(corners.min(1)) - 2, np.floor(corners.max(1)) + 4
    x0, y0 = (int(min(max(v, 0), limit - 1)) for v, limit in zip(low, (width, height)))
    x1, y1 = (int(max(min(v, limit), start + 1)) for v, limit, start in zip(high, (width, height), (x0, y0)))
    return x0, y0, x1, y1


def _magnifies(affines: np.ndarray) -> np.ndarray:
    """``(N, 2, 3)`` crop → image maps → ``(N,)`` bool: the crop enlarges its view (fewer image
    px per crop px than 1, the map's area scale ``|det| < 1``)."""
    return np.abs(np.linalg.det(affines[:, :, :2].astype(np.float64))) < 1.0


def _warp_crops_cpu(images: PreparedImages, view_index: list[int], affines: np.ndarray, size: int,
                    replicate_border: bool, dtype: torch.dtype, channels_last: bool, rgbx: bool,
                    sampling: list[str]) -> torch.Tensor:
    """``warp_crops`` on the CPU: crop i = ``cv2.warpAffine`` of view ``view_index[i]``'s RGBX copy
    (uint8, sampled as ``sampling[i]`` says, one of ``MAGNIFIED_SAMPLING``; the affine taken as
    the crop → image map; converted over the crop's footprint first) → ``(N, 3, S, S)``,
    channels-last in memory or plain NCHW, or the ``(N, S, S, 4)`` uint8 warps with ``rgbx``."""
    border = cv2.BORDER_REPLICATE if replicate_border else cv2.BORDER_CONSTANT
    crops = np.empty((len(view_index), size, size, 4), np.uint8)
    for i, (view, affine, mode) in enumerate(zip(view_index, affines.astype(np.float64), sampling)):
        height, width = images.views[view].shape[:2]
        footprint = _footprint(affine, size, width, height)
        source = images.sharpened(view, *footprint) if mode == "sharpened" else images.rgbx(view, *footprint)
        interpolation = cv2.INTER_CUBIC if mode == "bicubic" else cv2.INTER_LINEAR
        cv2.warpAffine(source, affine, (size, size), dst=crops[i], flags=interpolation | cv2.WARP_INVERSE_MAP,
                       borderMode=border, borderValue=0)
    if rgbx:
        return torch.from_numpy(crops)
    if channels_last:
        unit = torch.from_numpy(np.divide(crops[..., :3], 255.0, dtype=np.float32))  # MediaPipe's [0, 1] input
        return unit.permute(0, 3, 1, 2).to(dtype)
    # Planar: one pass reads the uint8 crops transposed and writes the float ones in NCHW order
    # (the same values as dividing a transposed copy, without making that copy).
    planar = np.empty((len(view_index), 3, size, size), np.float32)
    np.divide(crops.transpose(0, 3, 1, 2)[:, :3], 255.0, out=planar, dtype=np.float32)
    return torch.from_numpy(planar).to(dtype)
