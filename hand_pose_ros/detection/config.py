"""``HandDetectorConfig``: every setting of the 2D hand detector, validated, in one place."""

from __future__ import annotations

import dataclasses

from hand_pose_ros.checks import check_bool, check_choice, check_number, check_sequence, check_string

__all__ = ["HandDetectorConfig", "GuidanceConfig", "BACKENDS", "PRECISIONS", "MODELS", "MAGNIFIED_SAMPLING", "SHED_VIEWS"]

BACKENDS = ("torch", "onnxruntime", "tensorrt", "litert", "openvino")
PRECISIONS = ("fp32", "fp16", "bf16")
MODELS = ("full", "lite")
# How landmark crops that magnify their view are sampled (``detection.crop.warp_crops``):
# MediaPipe's bilinear warp, bilinear from the sharpened view, or bicubic.
MAGNIFIED_SAMPLING = ("bilinear", "sharpened", "bicubic")
# When the guided detector leaves views of well-tracked hands out of a set (``guidance.shed_views``):
# never, only while the caller falls behind its input, or on every set.
SHED_VIEWS = ("never", "auto", "always")
# Lowest max_image_side accepted: a floor against typos, far below the palm network's 192 px input.
MIN_IMAGE_SIDE = 64


@dataclasses.dataclass(frozen=True, kw_only=True)
class HandDetectorConfig:
    """Settings of ``HandDetector``.

    Attributes:
        backend: network runtime, one of ``BACKENDS``: ``torch`` and ``tensorrt`` for GPUs
            (torch on a CPU too), ``onnxruntime``, ``litert`` and ``openvino`` for CPUs (the
            last two run MediaPipe's own ``.tflite`` graphs; docs/detection.md compares them).
        fallback: backends tried in this order when ``backend`` cannot start (library or device
            missing); empty means fail instead. The active one is logged.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; where crops are made and networks run.
        precision: ``"fp32"``, ``"fp16"`` or ``"bf16"`` network arithmetic (TensorRT builds an
            fp16 engine; OpenVINO runs bf16 on CPUs with bf16 units, moving landmarks by about
            half a pixel; onnxruntime and LiteRT run fp32 only).
        model: MediaPipe's ``"full"`` (more accurate) or ``"lite"`` (faster) networks.
        max_hands: most hands reported per view.
        tracking: reuse each hand's region from the previous frame of the same view and run
            the palm detector only where a hand was lost or every ``redetect_interval`` frames.
        redetect_interval: frames between palm-detector runs on a view that tracks fewer than
            ``max_hands`` hands, none included (to pick up new ones); a lost hand triggers a
            run on the next frame regardless.
        min_detection_confidence: palm score needed to start a hand, in [0, 1].
        min_presence: hand-presence score needed to report (and keep tracking) a hand, in [0, 1].
        max_image_side: images whose longer side exceeds this (px) are downscaled first;
            results are still in the original image's pixels.
        magnified_crops: how landmark crops that enlarge their view (a hand region smaller
            than the network's 224 px input) are sampled, one of ``MAGNIFIED_SAMPLING``:
            ``"bilinear"`` MediaPipe's crops exactly (the default), ``"sharpened"`` bilinear
            from the view sharpened by a 3-tap kernel (≈ 0.05 ms CPU per such crop),
            ``"bicubic"`` (≈ 0.9 ms CPU per such crop, on the set's critical path). Bilinear
            interpolation blurs what it enlarges, and the network reads a small hand's fingers
            better from a sharper crop: DexYCB mustard 8 / 4 cameras MPJPE 8.35 / 9.46 mm
            bilinear, 8.21 / 9.16 sharpened, 8.21 / 9.33 bicubic. But a one-camera hand's depth
            comes from the landmarks' metric size, which sharper crops move: DexYCB cameras
            alone, colour only, 3 of 7 worse by 28–53 mm (docs/benchmarks.md, eleventh round
            of issue #17), hence bilinear by default; multi-camera rigs of small hands gain
            from ``"sharpened"``. Crops that shrink the view stay bilinear.
        num_threads: on the CPU, for onnxruntime/litert/openvino the number of
            single-threaded runners per network that take a call's crops in parallel
            (sessions; OpenVINO's streams) (None: one per core, at most 4); for torch its intra-op threads
            (process-wide; None: torch's default). onnxruntime on CUDA ignores it.
    """

    backend: str = "torch"
    fallback: tuple[str, ...] = ()
    device: str = "cpu"
    precision: str = "fp32"
    model: str = "full"
    max_hands: int = 2
    tracking: bool = True
    redetect_interval: int = 10
    min_detection_confidence: float = 0.5
    min_presence: float = 0.5
    max_image_side: int = 4096
    magnified_crops: str = "bilinear"
    num_threads: int | None = None

    def __post_init__(self) -> None:
        name = "HandDetectorConfig"
        check_choice(f"{name}.backend", self.backend, BACKENDS)
        fallback = check_sequence(f"{name}.fallback", self.fallback, lambda n, v: check_choice(n, v, BACKENDS))
        object.__setattr__(self, "fallback", fallback)
        check_string(f"{name}.device", self.device)
        if not (self.device in ("cpu", "cuda") or (self.device.startswith("cuda:") and self.device[5:].isdigit())):
            raise ValueError(f"{name}.device: expected 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        check_choice(f"{name}.precision", self.precision, PRECISIONS)
        check_choice(f"{name}.model", self.model, MODELS)
        check_number(f"{name}.max_hands", self.max_hands, integer=True, low=1)
        check_bool(f"{name}.tracking", self.tracking)
        check_number(f"{name}.redetect_interval", self.redetect_interval, integer=True, low=1)
        for field in ("min_detection_confidence", "min_presence"):
            check_number(f"{name}.{field}", getattr(self, field), low=0.0, high=1.0)
        check_number(f"{name}.max_image_side", self.max_image_side, integer=True, low=MIN_IMAGE_SIDE)
        check_choice(f"{name}.magnified_crops", self.magnified_crops, MAGNIFIED_SAMPLING)
        check_number(f"{name}.num_threads", self.num_threads, integer=True, low=1, optional=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class GuidanceConfig:
    """Settings of ``GuidedDetector``.

    Attributes:
        enabled: feed fused hands back into the next frame's crops and search the palm
            detector's tiles; False: MediaPipe's own per-view detection and tracking only.
        min_views: a fused hand is fed back only when at least this many views agreed on
            its joints (its median ``num_views``); 2 = any triangulated hand, never a
            one-view (monocular) estimate.
        palm_tiles: the palm detector searches an n × n grid of overlapping squares per view
            plus the whole frame (1: the whole frame only, MediaPipe's default). On 640×480
            the whole frame shrinks to 192 px, so a 60–120 px hand is 18–36 px there; 2 × 2
            tiles of 2/3 the longer side see it 1.5× larger. DexYCB mustard, 8 cameras,
            guided: 2D hand-views found 463 / 466 / 469 of 503 with 1 / 2 / 3 (MPJPE 11.1 /
            10.6 / 9.9 mm); but on the bundled sample 3 × 3 tiles start false hands on its
            cluttered backgrounds (MPJPE over all output hands 7.25 / 7.23 / 9.93 mm), and
            each palm run costs 1 + n² palm crops per view: on the sample (4 views, onnxruntime)
            a set takes 59 ms mean, 75 ms p90 with 1 and 85 / 172 ms with 2, for the same
            accuracy (7.25 vs 7.23 mm). So 1 by default, where real time matters; 2 for rigs
            of small hands with time to spare.
        tile_overlap: fraction of a tile's side shared with its neighbour.
        min_presence: presence a guided crop needs to give a detection. Lower than the
            detector's own threshold because other views have already located a hand there:
            an object in front of the hand lowers the score of crops whose keypoints are
            still right (DexYCB mustard: presence 0.1–0.4 at 6–12 px from the labels; 8
            cameras, hand-views found 468 / 485 of 503 with 0.2 / 0.1, same MPJPE). A wrong
            crop's keypoints still have to agree with the other views' triangulation.
        search_same_frame: a hand only one view sees is looked for in the other views (their
            palm detector, along the seeing camera's ray) in the same frame, which is then
            fused again; False: on the next frame. A hand that enters the rig is seen by one
            camera first: searched at once, its first frames are triangulated instead of
            placed from one view's landmarks (DexYCB mustard, 8 cameras: the first instant
            86 → 14 mm). It costs the palm runs of those views (only in frames with a
            one-view hand) and a second fusion.
        magnified_crops: how guided crops (placed from triangulated hands, and the one-view
            search's crops along a ray) that enlarge their view are sampled, one of
            ``MAGNIFIED_SAMPLING`` (``HandDetectorConfig.magnified_crops``, which stays the
            sampling of each view's own tracking and palm crops). Sharper crops help where
            other views triangulate the keypoints and hurt where one camera alone takes its
            depth from the landmarks' metric size; guided crops exist only in rigs of two
            cameras or more, so ``"sharpened"`` (the default) leaves one-camera rigs exactly as
            MediaPipe's crops. DexYCB mustard, 8 / 4 / 2 cameras MPJPE 8.35 / 9.46 / 18.14 mm
            → 8.23 / 9.19 / 17.76 (8 with depth 8.61 → 8.51); the bundled sample 6.915 → 6.918
            (docs/benchmarks.md, thirteenth round of issue #17).
        shed_views: whether a set's detector may leave out views that only show well-tracked
            hands (``GuidedDetector``, docs/detection.md): ``"never"``; ``"auto"``, only while
            the caller says it is behind its input (``HandPosePipeline.process(..., behind=n)``
            with n > 0: the node passes the sets its worker skipped over the last second); or
            ``"always"``. A view left out runs no network that set and gives the fusion
            nothing (it is not predicted); each hand keeps ``min_fresh_views`` views, the
            views left out rotate, and a view with a palm run due, a planned search, or a hand
            the fused tracks do not account for is never left out.
        min_fresh_views: views that still run on each hand in a set that sheds (at least 2:
            a hand stays triangulated); a hand seen by no more views is never shed.
    """

    enabled: bool = True
    min_views: int = 2
    palm_tiles: int = 1
    tile_overlap: float = 0.5
    min_presence: float = 0.1
    search_same_frame: bool = True
    magnified_crops: str = "sharpened"
    shed_views: str = "never"
    min_fresh_views: int = 2

    def __post_init__(self) -> None:
        name = "GuidanceConfig"
        check_bool(f"{name}.enabled", self.enabled)
        check_number(f"{name}.min_views", self.min_views, integer=True, low=2)
        check_number(f"{name}.palm_tiles", self.palm_tiles, integer=True, low=1)
        check_number(f"{name}.tile_overlap", self.tile_overlap, low=0.0, high=1.0, high_open=True)
        check_number(f"{name}.min_presence", self.min_presence, low=0.0, high=1.0)
        check_bool(f"{name}.search_same_frame", self.search_same_frame)
        check_choice(f"{name}.magnified_crops", self.magnified_crops, MAGNIFIED_SAMPLING)
        check_choice(f"{name}.shed_views", self.shed_views, SHED_VIEWS)
        check_number(f"{name}.min_fresh_views", self.min_fresh_views, integer=True, low=2)
