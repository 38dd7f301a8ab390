"""Network runtimes behind one interface: torch (CPU/CUDA), onnxruntime (CPU/CUDA), TensorRT,
and on the CPU MediaPipe's own graphs in LiteRT and OpenVINO (``tflite_runtimes``).

Every backend takes the crops as a device tensor ``(B, 3, S, S)`` in [0, 1] and returns the
networks' raw outputs as float32 tensors on the same device, any batch size:

* palm: ``(B, 2016, 18)`` raw boxes + 7 keypoints, ``(B, 2016, 1)`` raw scores;
* landmark: ``(B, 63)`` landmarks (crop px), ``(B, 1)`` presence, ``(B, 1)`` handedness,
  ``(B, 63)`` world landmarks (m).

A backend whose library or device is missing raises ``BackendUnavailable`` naming what is
missing, so ``HandDetector`` can fall back to the next configured one.
"""

from __future__ import annotations

import pathlib

import torch

from hand_pose_ros.detection.onnx_export import INPUT_NAME, OUTPUT_NAMES, STAGE_NETWORKS, export_onnx
from hand_pose_ros.detection.runtime import BackendUnavailable, NetworkBackend, ParallelRunnersBackend, Runner, require_cuda
from hand_pose_ros.detection.weights import load_network

__all__ = ["BackendUnavailable", "NetworkBackend", "create_backend"]


class TorchBackend(NetworkBackend):
    """The torch port, eval mode, under ``torch.inference_mode``, channels-last memory layout
    (the palm network runs ~25 % faster so on this CPU; the landmark network is unchanged)."""

    name = "torch"

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, cache: pathlib.Path | None) -> None:
        require_cuda(device, self.name)
        super().__init__(device, dtype)
        layout = torch.channels_last
        self._nets = {
            stage: load_network(f"{net}_{model}", cache).to(device, dtype, memory_format=layout)
            for stage, net in STAGE_NETWORKS.items()
        }

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            x = crops.to(self.dtype).contiguous(memory_format=torch.channels_last)
            return tuple(out.float() for out in self._nets[stage](x))


class OnnxRuntimeBackend(NetworkBackend):
    """onnxruntime on CPU (or the CUDA execution provider) with the fp32 ONNX export.

    On the CPU a call's crops are split over ``workers`` single-threaded sessions per stage
    (``OnnxRuntimeCpuBackend``); this class is the CUDA one: one session per stage, all crops
    in one call.
    """

    name = "onnxruntime"

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, cache: pathlib.Path | None) -> None:
        ort = _onnxruntime(device, dtype)
        require_cuda(device, self.name)
        super().__init__(device, dtype)
        provider_options = [{"device_id": device.index or 0}]
        self._sessions = {
            stage: ort.InferenceSession(str(export_onnx(f"{net}_{model}", cache)), _session_options(ort),
                                        providers=["CUDAExecutionProvider"], provider_options=provider_options)
            for stage, net in STAGE_NETWORKS.items()
        }

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        host = crops.float().contiguous().cpu().numpy()
        outputs = self._sessions[stage].run(list(OUTPUT_NAMES[stage]), {INPUT_NAME: host})
        return tuple(torch.from_numpy(out).to(self.device) for out in outputs)


class OnnxRuntimeCpuBackend(ParallelRunnersBackend):
    """onnxruntime's CPUExecutionProvider: per stage ``workers`` sessions of one intra-op thread
    each, a call's crops split between them (``ParallelRunnersBackend``). On this 2-core CPU
    two such sessions beat one session with two intra-op threads in time per set and spend
    less CPU doing it (docs/benchmarks.md)."""

    name = "onnxruntime"

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, cache: pathlib.Path | None,
                 workers: int | None) -> None:
        self._ort = _onnxruntime(device, dtype)
        self._paths = {stage: str(export_onnx(f"{net}_{model}", cache)) for stage, net in STAGE_NETWORKS.items()}
        super().__init__(device, dtype, workers)

    def _make_runner(self, stage: str) -> Runner:
        options = _session_options(self._ort)
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = self._ort.InferenceSession(self._paths[stage], options, providers=["CPUExecutionProvider"])
        names = list(OUTPUT_NAMES[stage])
        return lambda chunk: session.run(names, {INPUT_NAME: chunk})


def _onnxruntime(device: torch.device, dtype: torch.dtype):
    """The onnxruntime module, or BackendUnavailable naming what is missing for ``device``/``dtype``."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise BackendUnavailable(f"onnxruntime backend: the onnxruntime package is not installed ({exc})") from None
    if dtype != torch.float32:
        raise BackendUnavailable("onnxruntime backend: runs the fp32 export only; use precision='fp32'")
    provider = "CUDAExecutionProvider" if device.type == "cuda" else "CPUExecutionProvider"
    if provider not in ort.get_available_providers():
        raise BackendUnavailable(
            f"onnxruntime backend on {device}: {provider} is not in this onnxruntime build "
            f"(available: {ort.get_available_providers()}; CUDA needs onnxruntime-gpu)"
        )
    return ort


def _session_options(ort):
    options = ort.SessionOptions()
    # Idle worker threads sleep instead of spinning: on a CPU shared with the rest of the
    # node, spinning doubled the landmark stage's latency (63 → 127 ms, 2 threads, loaded).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def create_backend(name: str, model: str, device: torch.device, dtype: torch.dtype,
                   cache: pathlib.Path | None = None, num_threads: int | None = None) -> NetworkBackend:
    """Start backend ``name``; raises BackendUnavailable when its library or device is missing."""
    if name == "torch":
        return TorchBackend(model, device, dtype, cache)
    if name == "onnxruntime":
        if device.type == "cpu":
            return OnnxRuntimeCpuBackend(model, device, dtype, cache, num_threads)
        return OnnxRuntimeBackend(model, device, dtype, cache)
    if name == "tensorrt":
        from hand_pose_ros.detection.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(model, device, cache, "fp16" if dtype == torch.float16 else "fp32")
    if name in ("litert", "openvino"):
        from hand_pose_ros.detection.tflite_runtimes import LiteRTBackend, OpenVINOBackend

        if name == "litert":
            return LiteRTBackend(model, device, dtype, num_threads)
        return OpenVINOBackend(model, device, _PRECISION_NAMES[dtype], num_threads)
    raise ValueError(f"unknown backend {name!r}; choose one of torch, onnxruntime, tensorrt, litert, openvino")


_PRECISION_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


