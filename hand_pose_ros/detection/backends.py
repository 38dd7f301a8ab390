"""Network runtimes behind one interface: torch (CPU/CUDA), onnxruntime (CPU/CUDA), TensorRT.

Every backend takes the crops as a device tensor ``(B, 3, S, S)`` in [0, 1] and returns the
networks' raw outputs as float32 tensors on the same device, any batch size:

* palm: ``(B, 2016, 18)`` raw boxes + 7 keypoints, ``(B, 2016, 1)`` raw scores;
* landmark: ``(B, 63)`` landmarks (crop px), ``(B, 1)`` presence, ``(B, 1)`` handedness,
  ``(B, 63)`` world landmarks (m).

A backend whose library or device is missing raises ``BackendUnavailable`` naming what is
missing, so ``HandDetector`` can fall back to the next configured one.
"""

from __future__ import annotations

import logging
import os
import pathlib

import torch


from hand_pose_ros.detection.weights import load_network, network_checksum, weights_dir

__all__ = ["BackendUnavailable", "NetworkBackend", "create_backend", "export_onnx", "onnx_path"]

LOG = logging.getLogger(__name__)

# Largest batch the ONNX export and TensorRT engines are built for (8 views × 2 hands, ×2 margin).
MAX_BATCH = 32
# Input/output names of the exported graphs.
_INPUT_NAME = "image"
_OUTPUT_NAMES = {
    "palm": ("raw_boxes", "raw_scores"),
    "landmark": ("landmarks", "presence", "handedness", "world_landmarks"),
}


class BackendUnavailable(RuntimeError):
    """The backend's library or device is missing here; the message names it."""


def _stage(name: str) -> str:
    return "palm" if name.startswith("palm") else "landmark"


def _require_cuda(device: torch.device, backend: str) -> None:
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailable(
            f"{backend} backend on {device}: CUDA is not available to torch here "
            f"(torch {torch.__version__} built {'with' if torch.version.cuda else 'without'} CUDA, no usable GPU)"
        )


class NetworkBackend:
    """Runs the palm and landmark networks of one model size on one device."""

    name = "base"

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype

    def palm(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def landmark(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError


class TorchBackend(NetworkBackend):
    """The torch port, eval mode, under ``torch.inference_mode``, channels-last memory layout
    (the palm network runs ~25 % faster so on this CPU; the landmark network is unchanged)."""

    name = "torch"

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, cache: pathlib.Path | None) -> None:
        _require_cuda(device, self.name)
        super().__init__(device, dtype)
        layout = torch.channels_last
        self._palm = load_network(f"palm_detection_{model}", cache).to(device, dtype, memory_format=layout)
        self._landmark = load_network(f"hand_landmark_{model}", cache).to(device, dtype, memory_format=layout)

    def _run(self, net: torch.nn.Module, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            x = crops.to(self.dtype).contiguous(memory_format=torch.channels_last)
            return tuple(out.float() for out in net(x))

    def palm(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run(self._palm, crops)

    def landmark(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run(self._landmark, crops)


def onnx_path(name: str, cache: pathlib.Path | None = None) -> pathlib.Path:
    """Where the ONNX export of ``name`` lives, keyed by the converted weights' checksum."""
    return weights_dir(cache) / "onnx" / f"{name}-{network_checksum(name, cache)[:16]}.onnx"


def export_onnx(name: str, cache: pathlib.Path | None = None) -> pathlib.Path:
    """Export ``name`` (fp32) to ONNX with a dynamic batch dimension, once; returns the path.

    ``torch.onnx.export(dynamo=True)`` writes the graph and a ``.onnx.data`` weights file.
    """
    path = onnx_path(name, cache)
    if path.exists() and path.with_suffix(".onnx.data").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{name}-*.onnx*"):
        stale.unlink()
    net = load_network(name, cache)
    size = net.input_size
    example = torch.rand(2, 3, *size)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    LOG.info("exporting %s to ONNX (once, ~10 s): %s", name, path)
    tmp = path.with_name(f"tmp{os.getpid()}-{path.name}")
    # The exporter's optimiser logs every rewrite at INFO: keep the set-up readable.
    chatty = [logging.getLogger(n) for n in ("onnxscript", "onnx_ir")]
    levels = [logger.level for logger in chatty]
    for logger in chatty:
        logger.setLevel(logging.WARNING)
    try:
        torch.onnx.export(
            net, (example,), str(tmp), dynamo=True, external_data=True, verbose=False,
            input_names=[_INPUT_NAME], output_names=list(_OUTPUT_NAMES[_stage(name)]),
            dynamic_shapes={"x": {0: batch}},
        )
    finally:
        for logger, level in zip(chatty, levels):
            logger.setLevel(level)
    # The graph refers to its data file by name: rename the data first, then rewrite the graph.
    import onnx

    graph = onnx.load(str(tmp), load_external_data=True)
    onnx.save(graph, str(path), save_as_external_data=True, location=path.name + ".data")
    for leftover in path.parent.glob(f"tmp{os.getpid()}-*"):
        leftover.unlink()
    return path


class OnnxRuntimeBackend(NetworkBackend):
    """onnxruntime on CPU (or the CUDA execution provider) with the fp32 ONNX export."""

    name = "onnxruntime"

    def __init__(self, model: str, device: torch.device, dtype: torch.dtype, cache: pathlib.Path | None,
                 num_threads: int | None) -> None:
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
        _require_cuda(device, self.name)
        super().__init__(device, dtype)
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        # Idle worker threads sleep instead of spinning: on a CPU shared with the rest of the
        # node, spinning doubled the landmark stage's latency (63 → 127 ms, 2 threads, loaded).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        provider_options = [{"device_id": device.index or 0}] if device.type == "cuda" else [{}]
        self._sessions = {
            stage: ort.InferenceSession(str(export_onnx(f"{net}_{model}", cache)), options,
                                        providers=[provider], provider_options=provider_options)
            for stage, net in (("palm", "palm_detection"), ("landmark", "hand_landmark"))
        }

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        host = crops.float().contiguous().cpu().numpy()
        outputs = self._sessions[stage].run(list(_OUTPUT_NAMES[stage]), {_INPUT_NAME: host})
        return tuple(torch.from_numpy(out).to(self.device) for out in outputs)

    def palm(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("palm", crops)

    def landmark(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("landmark", crops)


def create_backend(name: str, model: str, device: torch.device, dtype: torch.dtype,
                   cache: pathlib.Path | None = None, num_threads: int | None = None) -> NetworkBackend:
    """Start backend ``name``; raises BackendUnavailable when its library or device is missing."""
    if name == "torch":
        return TorchBackend(model, device, dtype, cache)
    if name == "onnxruntime":
        return OnnxRuntimeBackend(model, device, dtype, cache, num_threads)
    if name == "tensorrt":
        from hand_pose_ros.detection.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(model, device, cache, "fp16" if dtype == torch.float16 else "fp32")
    raise ValueError(f"unknown backend {name!r}; choose one of torch, onnxruntime, tensorrt")


