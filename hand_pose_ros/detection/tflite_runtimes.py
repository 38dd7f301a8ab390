"""MediaPipe's own ``.tflite`` graphs on the fastest CPU runtimes: LiteRT (XNNPACK) and OpenVINO.

Both read the model files of the installed mediapipe wheel directly (no conversion), run
batch 1 per crop (the graphs fix it), and spread a call's crops over ``workers``
single-threaded runners (``runtime.ParallelRunnersBackend``). Inputs and outputs follow
``NetworkBackend``: crops ``(B, 3, S, S)`` float32 in [0, 1] → the raw outputs as CPU
float32 tensors.

Precision: ``fp32`` everywhere; OpenVINO also runs the landmark network in ``bf16`` (on CPUs
with AMX/AVX-512 BF16 about twice as fast, with landmarks moved by ≈0.5 px median;
docs/detection.md) or ``fp16``, the palm detector staying fp32 (``OPENVINO_REDUCED_STAGES``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from hand_pose_ros.assets import mediapipe_model_path
from hand_pose_ros.detection.onnx_export import STAGE_NETWORKS
from hand_pose_ros.detection.runtime import BackendUnavailable, ParallelRunnersBackend, Runner

__all__ = ["LiteRTBackend", "OpenVINOBackend"]

LOG = logging.getLogger(__name__)

OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
# The stages a reduced precision applies to; the others run fp32. The palm detector runs on a
# few sets in a hundred (tracking), so bf16 saves little there, and in bf16 it missed the
# bundled sample's second hand until the next re-detection (10 sets: 91.7 % of the hands found
# instead of 99.2 %; landmark-only bf16: 99.2 %, docs/benchmarks.md).
OPENVINO_REDUCED_STAGES = ("landmark",)

# One (1, S, S, 3) float32 input → the model's outputs in name order.
_Invoke = Callable[[np.ndarray], list[np.ndarray]]


def _one_by_one(invoke: _Invoke) -> Runner:
    """A runner over a chunk of crops for a graph fixed at batch 1."""

    def run(chunk: np.ndarray) -> list[np.ndarray]:
        per_item = [invoke(chunk[i:i + 1]) for i in range(len(chunk))]
        return [np.concatenate(parts) for parts in zip(*per_item)]

    return run


class _TfliteBackend(ParallelRunnersBackend):
    """Runs MediaPipe's ``.tflite`` files of one model size (NHWC, batch 1 per crop)."""

    channels_last = True

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, workers: int | None) -> None:
        self._model = model
        super().__init__(device, dtype, workers)

    def _make_runner(self, stage: str) -> Runner:
        return _one_by_one(self._make_invoke(str(mediapipe_model_path(f"{STAGE_NETWORKS[stage]}_{self._model}")), stage))

    def _make_invoke(self, path: str, stage: str) -> _Invoke:
        raise NotImplementedError


class LiteRTBackend(_TfliteBackend):
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

    def _make_invoke(self, path: str, stage: str) -> _Invoke:
        interpreter = self._interpreter(model_path=path, num_threads=1)
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]["index"]
        outputs = [d["index"] for d in sorted(interpreter.get_output_details(), key=lambda d: d["name"])]

        def run(batch: np.ndarray) -> list[np.ndarray]:
            interpreter.set_tensor(source, batch)
            interpreter.invoke()
            return [interpreter.get_tensor(i).copy() for i in outputs]

        return run


# Seen in the node at start-up (bench node, OpenVINO 2026.4.1, 2 runners, 1 in 3 starts): the
# warm-up's first palm call, its two chunks on two threads, each thread inside
# ``InferRequest.infer`` → ``data_dispatcher.update_tensor`` (``tensor.data[:] = inputs``) of
# its own request, both at 0 % CPU forever (a lock-order deadlock with the GIL in the
# binding's first use of a request's input tensor). Hence each request runs once serially
# when it is built, and inputs are shared, not copied into the request's tensor.


class OpenVINOBackend(_TfliteBackend):
    """Intel's OpenVINO runtime reading the ``.tflite`` files, fp32 by default (bf16/fp16 on
    request, for the ``OPENVINO_REDUCED_STAGES`` only)."""

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

    def _make_invoke(self, path: str, stage: str) -> _Invoke:
        precision = self.precision if stage in OPENVINO_REDUCED_STAGES else "fp32"
        compiled = self._core.compile_model(self._core.read_model(path), "CPU", {
            "INFERENCE_NUM_THREADS": 1,
            "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[precision],
            "PERFORMANCE_HINT": "LATENCY",
        })
        request = compiled.create_infer_request()
        order = sorted(range(len(compiled.outputs)), key=lambda i: compiled.outputs[i].get_any_name())

        def run(batch: np.ndarray) -> list[np.ndarray]:
            # share_inputs: the input becomes a tensor over ``batch`` (no copy into the request's
            # own tensor: two threads copying so at their first inference deadlocked in
            # openvino 2026.4's data dispatcher; the comment above the class).
            request.infer({0: batch}, share_inputs=True)
            return [request.get_output_tensor(i).data.copy() for i in order]

        # The first inference, from this thread, before any runner runs in parallel (the comment above the class).
        shape = tuple(compiled.inputs[0].get_partial_shape().to_shape())
        run(np.zeros(shape, np.float32))
        return run
