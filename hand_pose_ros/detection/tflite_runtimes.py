"""MediaPipe's own ``.tflite`` graphs on the fastest CPU runtimes: LiteRT (XNNPACK) and OpenVINO.

Both read the model files of the installed mediapipe wheel directly (no conversion) and run
batch 1 per crop (the graphs fix it), a call's crops spread over ``workers`` single-threaded
runners: LiteRT's on Python threads (``runtime.ParallelRunnersBackend``), OpenVINO's on its
own stream threads (``OpenVINOBackend``). Inputs and outputs follow
``NetworkBackend``: crops ``(B, 3, S, S)`` float32 in [0, 1] → the raw outputs as CPU
float32 tensors (OpenVINO's detector calls take the uint8 RGBX warps, ``rgbx_crops``).

Precision: ``fp32`` everywhere; OpenVINO also runs the landmark network in ``bf16`` (on CPUs
with AMX/AVX-512 BF16 about twice as fast, with landmarks moved by ≈0.5 px median;
docs/detection.md) or ``fp16``, the palm detector staying fp32 (``OPENVINO_REDUCED_STAGES``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import torch

from hand_pose_ros.assets import mediapipe_model_path
from hand_pose_ros.detection.onnx_export import STAGE_NETWORKS
from hand_pose_ros.detection.runtime import (BackendUnavailable, CropMaker, NetworkBackend, ParallelRunnersBackend, Runner,
                                             default_workers)

__all__ = ["LiteRTBackend", "OpenVINOBackend"]

LOG = logging.getLogger(__name__)

OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
# The stages a reduced precision applies to; the others run fp32. The palm detector runs on a
# few sets in a hundred (tracking), so bf16 saves little there, and in bf16 it missed the
# bundled sample's second hand until the next re-detection (10 sets: 91.7 % of the hands found
# instead of 99.2 %; landmark-only bf16: 99.2 %, docs/benchmarks.md).
OPENVINO_REDUCED_STAGES = ("landmark",)

class LiteRTBackend(ParallelRunnersBackend):
    """Google's TFLite runtime (``ai-edge-litert``, XNNPACK delegate), fp32: per stage
    ``workers`` single-threaded interpreters, each running its chunk of a call's crops one
    by one (the graphs are fixed at batch 1)."""

    name = "litert"
    channels_last = True

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, workers: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise BackendUnavailable(f"litert backend: the ai-edge-litert package is not installed ({exc})") from None
        if dtype != torch.float32:
            raise BackendUnavailable("litert backend: runs fp32 only; use precision='fp32'")
        self._interpreter, self._model = Interpreter, model
        super().__init__(device, dtype, workers)

    def _make_runner(self, stage: str) -> Runner:
        path = str(mediapipe_model_path(f"{STAGE_NETWORKS[stage]}_{self._model}"))
        interpreter = self._interpreter(model_path=path, num_threads=1)
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]["index"]
        outputs = [d["index"] for d in sorted(interpreter.get_output_details(), key=lambda d: d["name"])]

        def invoke(crop: np.ndarray) -> list[np.ndarray]:
            interpreter.set_tensor(source, crop)
            interpreter.invoke()
            return [interpreter.get_tensor(i).copy() for i in outputs]

        def run(chunk: np.ndarray) -> list[np.ndarray]:
            per_crop = [invoke(chunk[i:i + 1]) for i in range(len(chunk))]
            return [np.concatenate(parts) for parts in zip(*per_crop)]

        return run


class OpenVINOBackend(NetworkBackend):
    """Intel's OpenVINO runtime reading the ``.tflite`` files, fp32 by default (bf16/fp16 on
    request, for the ``OPENVINO_REDUCED_STAGES`` only).

    Per stage one model compiled with ``workers`` streams of one thread each; a call's crops
    go to as many infer requests, each started as soon as its crop is cut (``run_crops``:
    the stream threads compute the first crops while the calling thread cuts the others)
    and run by OpenVINO's own stream threads, and the calling thread waits for them with
    the GIL released. So a call hands
    the GIL back once, when its last crop is done, instead of once per crop and runner
    thread: in the node, where the executor thread runs Python between the image callbacks,
    each of those hand-backs waited up to the interpreter's switch interval (5 ms), and the
    8 crops of a 4-camera set took 3× their compute time (docs/benchmarks.md, fifth round).
    A request's outputs equal those of a one-stream, one-thread model bit for bit.
    """

    name = "openvino"
    channels_last = True
    # The compiled models take the uint8 RGBX warps and do the /255 and the channel drop
    # themselves (``_uint8_rgbx_input``): no float copy of each crop on the calling thread.
    rgbx_crops = True

    def __init__(self, model: str, device: torch.device, precision: str = "fp32", workers: int | None = None) -> None:
        try:
            import openvino
        except ImportError as exc:
            raise BackendUnavailable(f"openvino backend: the openvino package is not installed ({exc})") from None
        if device.type != "cpu":
            raise BackendUnavailable(f"openvino backend: runs on the CPU only, got device {device}")
        if precision not in OPENVINO_PRECISIONS:
            raise BackendUnavailable(f"openvino backend: precision must be one of {sorted(OPENVINO_PRECISIONS)}, got {precision!r}")
        core = openvino.Core()
        if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise BackendUnavailable("openvino backend: this CPU has no bf16 arithmetic; use precision='fp32'")
        super().__init__(device, torch.float32)
        self.precision = precision
        self.workers = workers or default_workers()
        self._stages = {}
        for stage, network in STAGE_NETWORKS.items():
            path = str(mediapipe_model_path(f"{network}_{model}"))
            reduced = self.precision if stage in OPENVINO_REDUCED_STAGES else "fp32"
            self._stages[stage] = _AsyncStage(core.compile_model(_uint8_rgbx_input(core.read_model(path)), "CPU", {
                "NUM_STREAMS": self.workers,
                # One thread per stream: two intra-op threads were slower than one (docs/benchmarks.md).
                "INFERENCE_NUM_THREADS": self.workers,
                "INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[reduced],
            }))

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(B, 3, S, S)`` crops in [0, 1] → outputs, the crops taken as the uint8 levels
        they were made from (MediaPipe's crops are uint8 warps; other values are rounded)."""
        levels = (crops.float() * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        rgbx = torch.nn.functional.pad(levels, (0, 1))  # (B, S, S, 4), X unused
        return self.run_crops(stage, len(crops), lambda part: rgbx[part])

    def run_crops(self, stage: str, count: int, make_crops: CropMaker) -> tuple[torch.Tensor, ...]:
        """The first ``workers`` crops are cut one at a time, each request started at once, then
        the rest in one piece: every stream computes while this thread cuts the remaining
        crops, with a few cutting calls per stage call (each costs ≈ 45 µs of Python; cutting
        all one by one added ≈ 0.35 CPU-ms to a set of 8). Each request computes one crop,
        so the outputs are those of one call per crop."""
        bounds = [*range(min(self.workers, count) + 1), count]
        pieces = (_host(make_crops(slice(a, b))) for a, b in zip(bounds[:-1], bounds[1:]) if b > a)
        return tuple(torch.from_numpy(out) for out in self._stages[stage].run(count, pieces))


def _host(crops: torch.Tensor) -> np.ndarray:
    """``(k, S, S, 4)`` uint8 RGBX crops (``crop.warp_crops(rgbx=True)``) → the C-contiguous
    host array (a view)."""
    return np.ascontiguousarray(crops.numpy())


def _uint8_rgbx_input(model):
    """An ``openvino.Model`` taking ``(1, S, S, 3)`` float32 RGB in [0, 1] → the same model
    taking ``(1, S, S, 4)`` uint8 RGBX, the conversion inside the compiled graph (its
    outputs within float rounding of the float input's: 6e-5 crop px measured). The channel
    drop is a ``Gather``: OpenVINO runs it compiled, where the ``Slice`` that
    ``PrePostProcessor``'s RGBX → RGB makes ran in its reference kernel (0.19 against 0.08 ms
    per landmark crop in OpenVINO's profile; docs/benchmarks.md, ninth round)."""
    import openvino
    import openvino.opset13 as ops

    (parameter,) = model.get_parameters()
    batch, height, width, _ = parameter.get_partial_shape().to_shape()
    consumers = list(parameter.output(0).get_target_inputs())
    rgbx = ops.parameter([batch, height, width, 4], openvino.Type.u8, name=parameter.get_friendly_name())
    rgb = ops.gather(rgbx, ops.constant(np.array([0, 1, 2], np.int64)), ops.constant(np.int64(3)))
    unit = ops.divide(ops.convert(rgb, openvino.Type.f32), ops.constant(np.float32(255.0)))
    for consumer in consumers:
        consumer.replace_source_output(unit.output(0))
    return openvino.Model(model.get_results(), [rgbx], model.get_friendly_name())


class _AsyncStage:
    """One compiled network and its infer requests (one per crop of the largest call so far)."""

    def __init__(self, compiled) -> None:
        self._compiled = compiled
        self._requests: list = []
        self._order = sorted(range(len(compiled.outputs)), key=lambda i: compiled.outputs[i].get_any_name())

    def run(self, count: int, pieces: Iterable[np.ndarray]) -> list[np.ndarray]:
        """``count`` crops in ``pieces`` ``(k, S, S, 4)`` uint8 RGBX C-contiguous, made one piece
        at a time (the requests of a piece start before the next piece is made) → the outputs
        in name order, each ``(count, ...)`` float32."""
        while len(self._requests) < count:
            self._requests.append(self._compiled.create_infer_request())
        requests = self._requests[:count]
        started = 0
        inputs = []  # kept until every request is done: the requests read them in place
        for piece in pieces:
            inputs.append(piece)
            for i in range(len(piece)):
                # share_inputs: the request reads the crop in place (no copy into its own tensor;
                # the array outlives the wait below). Copying there from two Python threads at
                # once deadlocked in openvino 2026.4's data dispatcher; here one thread starts all.
                requests[started].start_async({0: piece[i:i + 1]}, share_inputs=True)
                started += 1
        if started != count:
            raise ValueError(f"OpenVINO stage: expected {count} crops from the pieces, got {started}")
        # The last started finish last: waiting on them first, this thread blocks and is woken
        # once or twice, not once per crop (-0.22 CPU-ms per call of 8, docs/benchmarks.md).
        for request in reversed(requests):
            request.wait()
        return [np.concatenate([request.get_output_tensor(k).data for request in requests]) for k in self._order]
