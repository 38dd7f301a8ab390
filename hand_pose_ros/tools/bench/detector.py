"""``hand-pose-ros bench detector``: per-stage latency of the batched detector, side by side
with the reference interpreter (ai-edge-litert) run view by view in the same process.

Views are 640×480 RGB built from the real opencv-doc hand photos (each photo fitted into the
frame), so every view holds one hand, as in a synchronized multi-camera set. Besides the wall
time per stage, each set's CPU time (the process's, all threads: the runtimes' runners too)
is reported for both, which a loaded machine inflates far less than the wall time.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]

FRAME_W, FRAME_H = 640, 480


def _views_arg(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--views: expected N or N,N,... (e.g. 1,2,4,8), got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"--views: counts must be >= 1, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("--views", type=_views_arg, default=[1, 2, 4, 8], help="view counts, e.g. 4 or 1,2,4,8")
    add_set_option(parser, "detector.backend=onnxruntime")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per view count (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    parser.add_argument("--no-reference", action="store_true", help="skip the LiteRT view-by-view reference")
    parser.add_argument("--per-crop", action="store_true",
                        help="instead: each CPU runtime's networks on one crop, one runner, interleaved "
                             "(process CPU ms per crop, median of --runs per round)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of --per-crop (default 3)")


def _frames(count: int):
    """``count`` 640×480 RGB views, each a real hand photo fitted into the frame."""
    import cv2
    import numpy as np

    from hand_pose_ros.assets import hand_photos_dir

    photos = sorted(hand_photos_dir().glob("*.jpg"))
    frames = []
    for i in range(count):
        image = cv2.cvtColor(cv2.imread(str(photos[i % len(photos)])), cv2.COLOR_BGR2RGB)
        scale = min(FRAME_W / image.shape[1], FRAME_H / image.shape[0])
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        fitted = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        frame = np.empty((FRAME_H, FRAME_W, 3), np.uint8)
        frame[:] = np.median(image.reshape(-1, 3), axis=0).astype(np.uint8)  # background-ish fill
        y, x = (FRAME_H - size[1]) // 2, (FRAME_W - size[0]) // 2
        frame[y : y + size[1], x : x + size[0]] = fitted
        frames.append(frame)
    return frames


def _stats(samples: list[float]) -> str:
    import numpy as np

    if not samples:
        return f"{'-':>8} {'-':>8} {0:>5}"
    return f"{np.median(samples):8.2f} {np.percentile(samples, 90):8.2f} {len(samples):5d}"


class _ReferenceRunner:
    """LiteRT view by view, doing the work our pipeline does per view (palm where we ran it,
    landmarks on each tracked/detected region)."""

    def __init__(self, model: str, max_hands: int, threads: int) -> None:
        from hand_pose_ros.tools.reference import ReferencePipeline

        self.pipeline = ReferencePipeline(model, max_hands, threads)
        self.tracks: dict[int, object] = {}

    def step(self, frames, tracking: bool) -> tuple[float, float, int]:
        """One set → (wall ms, process CPU ms, hands found)."""
        import time

        start, cpu = time.perf_counter(), time.process_time()
        hands = 0
        for view, image in enumerate(frames):
            rects = self.tracks.get(view) if tracking else None
            if rects is None or len(rects) == 0:
                rects = self.pipeline.palm_rects(image)
            out = self.pipeline.hands(image, rects)
            keep = out["presence"] >= 0.5
            hands += int(keep.sum())
            self.tracks[view] = out["next_rects"][keep]
        return 1e3 * (time.perf_counter() - start), 1e3 * (time.process_time() - cpu), hands


# The CPU runtimes --per-crop compares (fp32, one single-threaded runner each).
PER_CROP_BACKENDS = ("onnxruntime", "openvino", "litert")


def _per_crop(args: argparse.Namespace, model: str) -> int:
    """Per network, each runtime's process CPU time for one crop (a real photo's centre,
    letterboxed for the palm detector), the runtimes taking turns round by round."""
    import os
    import time

    import cv2
    import numpy as np
    import torch

    from hand_pose_ros.detection import BackendUnavailable, geometry
    from hand_pose_ros.detection.backends import create_backend

    backends = {}
    for name in PER_CROP_BACKENDS:
        try:
            backends[name] = create_backend(name, model, torch.device("cpu"), torch.float32, num_threads=1)
        except BackendUnavailable as exc:
            print(f"({name} unavailable: {exc})")
    frame = _frames(1)[0]
    crops = {}
    for stage, size in (("palm", geometry.PALM_INPUT_SIZE), ("landmark", geometry.LANDMARK_INPUT_SIZE)):
        square = cv2.resize(frame[:, 80:560], (size, size), interpolation=cv2.INTER_AREA)
        crops[stage] = torch.from_numpy(np.divide(square.transpose(2, 0, 1)[None], 255.0, dtype=np.float32))
    print(f"per-crop benchmark: model {model}, fp32, one runner each, process CPU ms per crop "
          f"(median of {args.runs} after {args.warmup}), {args.rounds} interleaved rounds; "
          f"load average {os.getloadavg()[0]:.1f}")
    table: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for stage in ("landmark", "palm"):
            for name, backend in backends.items():
                call = getattr(backend, stage)
                for _ in range(args.warmup):
                    call(crops[stage])
                times = []
                for _ in range(args.runs):
                    start = time.process_time()
                    call(crops[stage])
                    times.append(1e3 * (time.process_time() - start))
                table.setdefault((stage, name), []).append(float(np.median(times)))
    print(f"  {'network':<10} {'runtime':<12} per round (ms)")
    for (stage, name), values in table.items():
        print(f"  {stage:<10} {name:<12} " + " ".join(f"{v:6.2f}" for v in values))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


def run(args: argparse.Namespace) -> int:
    import os
    import platform
    import sys
    import time

    import torch

    from hand_pose_ros.detection import BackendUnavailable, HandDetector, WeightsError
    from hand_pose_ros.tools.set_option import component_config

    if args.runs < 1 or args.warmup < 0 or args.rounds < 1:
        print("hand-pose-ros bench detector: --runs and --rounds must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    if args.per_crop:
        try:
            return _per_crop(args, component_config("detector", args.settings).model)
        except ValueError as exc:
            print(f"hand-pose-ros bench detector: {exc}", file=sys.stderr)
            return 2
    try:
        config = component_config("detector", args.settings)
        detector = HandDetector(config)
    except (ValueError, BackendUnavailable, WeightsError) as exc:
        print(f"hand-pose-ros bench detector: {exc}", file=sys.stderr)
        return 2
    threads = config.num_threads or torch.get_num_threads()  # the LiteRT reference gets the same
    reference = None
    if not args.no_reference:
        try:
            reference = _ReferenceRunner(config.model, config.max_hands, threads)
        except ImportError as exc:
            print(f"(reference interpreter unavailable: {exc})")
    print(f"detector benchmark: backend {detector.backend_name} on {detector.device}, {config.precision}, "
          f"model {config.model}, tracking {'on' if config.tracking else 'off'}, {FRAME_W}x{FRAME_H} views, "
          f"{args.runs} runs after {args.warmup} warm-up, {threads} threads; {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} (other work inflates times)")
    summary = []
    for count in args.views:
        frames = _frames(count)
        detector.reset()
        samples: dict[str, list[float]] = {"prepare": [], "palm": [], "landmark": [], "total": [], "CPU (process)": []}
        hands = 0
        for i in range(args.warmup + args.runs):
            cpu = time.process_time()
            result = detector.detect(frames)
            cpu_ms = 1e3 * (time.process_time() - cpu)
            if i >= args.warmup:
                for stage, value in detector.last_timings.items():
                    if value is not None:
                        samples[stage].append(value)
                samples["CPU (process)"].append(cpu_ms)
                hands += sum(len(r) for r in result)
        ref_samples: list[float] = []
        ref_cpu: list[float] = []
        ref_hands = 0
        if reference is not None:
            reference.tracks.clear()
            for i in range(args.warmup + args.runs):
                ms, cpu_ms, found = reference.step(frames, config.tracking)
                if i >= args.warmup:
                    ref_samples.append(ms)
                    ref_cpu.append(cpu_ms)
                    ref_hands += found
        print(f"\n{count} view(s): {hands / args.runs:.2f} hands per set (reference: "
              f"{ref_hands / args.runs if reference else float('nan'):.2f})")
        print(f"  {'stage':<22} {'median':>8} {'p90':>8} {'runs':>5}   (ms)")
        for stage, values in samples.items():
            print(f"  {stage:<22} {_stats(values)}")
        if reference is not None:
            print(f"  {'LiteRT view by view':<22} {_stats(ref_samples)}")
            print(f"  {'LiteRT CPU (process)':<22} {_stats(ref_cpu)}")
        import numpy as np

        ours = float(np.median(samples["total"]))
        ref = float(np.median(ref_samples)) if ref_samples else float("nan")
        cpu_ours = float(np.median(samples["CPU (process)"]))
        cpu_ref = float(np.median(ref_cpu)) if ref_cpu else float("nan")
        summary.append((count, ours, float(np.percentile(samples["total"], 90)), ref, cpu_ours, cpu_ref))
    print("\nsummary (ms per synchronized set): views, ours median, ours p90, LiteRT median, LiteRT/ours, "
          "ours CPU median, LiteRT CPU median")
    for count, ours, p90, ref, cpu_ours, cpu_ref in summary:
        print(f"  {count:>2}  {ours:8.2f}  {p90:8.2f}  {ref:8.2f}  {ref / ours:6.2f}x  {cpu_ours:8.2f}  {cpu_ref:8.2f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0
