"""MediaPipe's own ``.tflite`` graphs on the fastest CPU runtimes: LiteRT (XNNPACK) and OpenVINO.

Both read the model files of the installed mediapipe wheel directly (no conversion), run
batch 1 per crop (the graphs fix it), and spread a call's crops over ``workers``
single-threaded runners on threads of their own: both runtimes release the GIL while they
compute, and one thread per independent crop beats intra-op threads on these small
networks (two intra-op threads were slower than one in every runtime measured here;
docs/benchmarks.md). Inputs and outputs follow ``NetworkBackend``: crops ``(B, 3, S, S)``
float32 in [0, 1] → the raw outputs as CPU float32 tensors.

Precision: ``fp32`` everywhere; OpenVINO also runs ``bf16`` (on CPUs with AMX/AVX-512 BF16
about twice as fast, with landmarks moved by ≈0.5 px median; docs/detection.md) and ``fp16``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Callable

import numpy as np
import torch

from hand_pose_ros.assets import mediapipe_model_path
from hand_pose_ros.detection.runtime import BackendUnavailable, NetworkBackend

__all__ = ["LiteRTBackend", "OpenVINOBackend", "default_workers"]

LOG = logging.getLogger(__name__)

# Runners per backend when the configuration leaves it open: one per core, at most this many
# (beyond 4 the per-set crops, 2 hands × up to 8 views, rarely keep more busy).
MAX_DEFAULT_WORKERS = 4
OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}

# A runner maps one (1, S, S, 3) float32 input to the model's outputs in name order.
Runner = Callable[[np.ndarray], list[np.ndarray]]


def default_workers() -> int:
    """One runner per available core, at most ``MAX_DEFAULT_WORKERS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_DEFAULT_WORKERS, cores))


class _ParallelTfliteBackend(NetworkBackend):
    """Runs each stage's crops on ``workers`` runners in parallel (one runner per thread)."""

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, workers: int | None) -> None:
        if device.type != "cpu":
            raise BackendUnavailable(f"{self.name} backend: runs on the CPU only, got device {device}")
        super().__init__(device, dtype)
        self.workers = workers or default_workers()
        self._runners = {
            stage: [self._make_runner(str(mediapipe_model_path(f"{net}_{model}"))) for _ in range(self.workers)]
            for stage, net in (("palm", "palm_detection"), ("landmark", "hand_landmark"))
        }
        self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix=f"{self.name}_worker")

    def _make_runner(self, path: str) -> Runner:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the worker threads (the backend cannot run afterwards)."""
        self._pool.shutdown(wait=True)

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        nhwc = np.ascontiguousarray(crops.float().permute(0, 2, 3, 1).cpu().numpy())  # (B, S, S, 3)
        runners = self._runners[stage]
        chunks = [c for c in np.array_split(np.arange(len(nhwc)), len(runners)) if len(c)]

        def run_chunk(runner: Runner, items: np.ndarray) -> list[list[np.ndarray]]:
            return [runner(nhwc[i:i + 1]) for i in items]

        if len(chunks) == 1:
            per_item = run_chunk(runners[0], chunks[0])
        else:
            futures = [self._pool.submit(run_chunk, runner, items) for runner, items in zip(runners, chunks)]
            per_item = [out for future in futures for out in future.result()]
        return tuple(torch.from_numpy(np.concatenate(parts)) for parts in zip(*per_item))

    def palm(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("palm", crops)

    def landmark(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("landmark", crops)


class LiteRTBackend(_ParallelTfliteBackend):
    """Google's TFLite runtime (``ai-edge-litert``, XNNPACK delegate), fp32."""

    name = "litert"

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, workers: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise BackendUnavailable(f"litert backend: the ai-edge-litert package is not installed ({exc})") from None
        if dtype != torch.float32:
            raise BackendUnavailable("litert backend: runs fp32 only; use precision='fp32'")
        self._interpreter = Interpreter
        super().__init__(model, device, dtype, workers)

    def _make_runner(self, path: str) -> Runner:
        interpreter = self._interpreter(model_path=path, num_threads=1)
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]["index"]
        outputs = [d["index"] for d in sorted(interpreter.get_output_details(), key=lambda d: d["name"])]

        def run(batch: np.ndarray) -> list[np.ndarray]:
            interpreter.set_tensor(source, batch)
            interpreter.invoke()
            return [interpreter.get_tensor(i).copy() for i in outputs]

        return run


class OpenVINOBackend(_ParallelTfliteBackend):
    """Intel's OpenVINO runtime reading the ``.tflite`` files, fp32 by default (bf16/fp16 on request)."""

    name = "openvino"

    def __init__(self, model: str, device: torch.device, precision: str = "fp32", workers: int | None = None) -> None:
        try:
            import openvino
        except ImportError as exc:
            raise BackendUnavailable(f"openvino backend: the openvino package is not installed ({exc})") from None
        if precision not in OPENVINO_PRECISIONS:
            raise BackendUnavailable(f"openvino backend: precision must be one of {sorted(OPENVINO_PRECISIONS)}, got {precision!r}")
        self._core = openvino.Core()
        if precision == "bf16" and "BF16" not in self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise BackendUnavailable("openvino backend: this CPU has no bf16 arithmetic; use precision='fp32'")
        self.precision = precision
        super().__init__(model, device, torch.float32, workers)

    def _make_runner(self, path: str) -> Runner:
        compiled = self._core.compile_model(self._core.read_model(path), "CPU", {
            "INFERENCE_NUM_THREADS": 1,
            "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[self.precision],
            "PERFORMANCE_HINT": "LATENCY",
        })
        request = compiled.create_infer_request()
        order = sorted(range(len(compiled.outputs)), key=lambda i: compiled.outputs[i].get_any_name())

        def run(batch: np.ndarray) -> list[np.ndarray]:
            request.infer({0: batch})
            return [request.get_output_tensor(i).data.copy() for i in order]

        return run

