"""TensorRT backend: engines built from the ONNX export, cached, rebuilt when stale.

An engine is keyed by the GPU model, the TensorRT version, the converted weights' checksum, the
ONNX export's revision (``onnx_export.EXPORT_REVISION``: an engine built from an older export is
not reused) and the precision
(``<cache>/weights/tensorrt/<model>-<gpu>-trt<version>-<checksum>-r<revision>-<precision>.engine``);
any other engine of the same model is stale and deleted when a new one is built. Building
takes minutes and logs its progress (phases and steps), as Isaac ROS' TensorRT node does.
Inputs and outputs stay on the GPU as torch tensors (no host copies).
"""

from __future__ import annotations

import logging
import os
import pathlib
import re

import torch

from hand_pose_ros.detection import onnx_export
from hand_pose_ros.detection.onnx_export import INPUT_NAME, MAX_BATCH, OUTPUT_NAMES, STAGE_NETWORKS, export_onnx
from hand_pose_ros.detection.runtime import BackendUnavailable, NetworkBackend
from hand_pose_ros.detection.weights import network_checksum, weights_dir

__all__ = ["TensorRTBackend", "engine_path"]

LOG = logging.getLogger(__name__)

# The batch TensorRT tunes kernels for: 4 views × 2 hands.
_OPT_BATCH = 8
_BUILD_WORKSPACE_BYTES = 1 << 30


def _import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailable(
            f"tensorrt backend: the TensorRT Python package (tensorrt, with libnvinfer) is not installed ({exc}); "
            "install NVIDIA TensorRT ≥ 10 on a CUDA machine"
        ) from None
    return trt


def engine_path(name: str, precision: str, gpu_name: str, trt_version: str,
                cache: pathlib.Path | None = None) -> pathlib.Path:
    """The engine file of network ``name`` for a GPU (``torch.cuda.get_device_name``), TensorRT
    version and precision, keyed by the weights' checksum and the ONNX export's revision."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "_", gpu_name).strip("_")
    checksum = network_checksum(name, cache)[:16]
    revision = onnx_export.EXPORT_REVISION
    return weights_dir(cache) / "tensorrt" / f"{name}-{gpu}-trt{trt_version}-{checksum}-r{revision}-{precision}.engine"


def _progress_monitor(trt):
    class _Progress(trt.IProgressMonitor):
        """Logs each build phase and every 10 % of its steps."""

        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._steps: dict[str, int] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self._steps[phase_name] = max(num_steps, 1)
            LOG.info("TensorRT build: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name, step):
            total = self._steps.get(phase_name, 1)
            if total >= 10 and step % max(total // 10, 1) == 0:
                LOG.info("TensorRT build: %s %d%%", phase_name, 100 * step // total)
            return True  # keep building

        def phase_finish(self, phase_name):
            LOG.info("TensorRT build: %s done", phase_name)

    return _Progress()


def _build(trt, logger, name: str, onnx_file: pathlib.Path, path: pathlib.Path, input_hw: tuple[int, int], fp16: bool) -> bytes:
    LOG.info("building TensorRT engine %s from %s (takes minutes, once per GPU/TensorRT/weights/export)", path.name, onnx_file.name)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_file)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_file}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, _BUILD_WORKSPACE_BYTES)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if hasattr(config, "progress_monitor"):
        config.progress_monitor = _progress_monitor(trt)
    profile = builder.create_optimization_profile()
    shape = (3, *input_hw)
    profile.set_shape(INPUT_NAME, (1, *shape), (_OPT_BATCH, *shape), (MAX_BATCH, *shape))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_file}")
    data = bytes(serialized)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{name}-*.engine"):
        if stale != path:
            LOG.info("removing stale TensorRT engine %s", stale.name)
            stale.unlink()
    tmp = path.with_name(f"tmp{os.getpid()}-{path.name}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return data


class TensorRTBackend(NetworkBackend):
    """Both networks as TensorRT engines (fp16 unless precision is fp32), dynamic batch ≤ 32."""

    name = "tensorrt"

    def __init__(self, model: str, device: torch.device, cache: pathlib.Path | None, precision: str = "fp16") -> None:
        trt = _import_tensorrt()
        if device.type != "cuda":
            raise BackendUnavailable(f"tensorrt backend: needs a CUDA device, got {device}")
        if not torch.cuda.is_available():
            raise BackendUnavailable("tensorrt backend: CUDA is not available to torch here (no usable GPU)")
        super().__init__(device, torch.float32)  # the engines take fp32 input, compute in fp16
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._contexts = {}
        self._engines = {}
        for stage, net in STAGE_NETWORKS.items():
            name = f"{net}_{model}"
            path = engine_path(name, precision, torch.cuda.get_device_name(device), trt.__version__, cache)
            engine = None
            if path.exists():
                engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
                if engine is None:
                    LOG.warning("TensorRT engine %s is stale or corrupt: rebuilding", path)
            if engine is None:
                onnx_file = export_onnx(name, cache)
                size = (192, 192) if stage == "palm" else (224, 224)
                data = _build(trt, self._logger, name, onnx_file, path, size, precision == "fp16")
                engine = self._runtime.deserialize_cuda_engine(data)
            self._engines[stage] = engine
            self._contexts[stage] = engine.create_execution_context()

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if crops.shape[0] > MAX_BATCH:
            parts = [self._run(stage, chunk) for chunk in crops.split(MAX_BATCH)]
            return tuple(torch.cat(outs) for outs in zip(*parts))
        context = self._contexts[stage]
        x = crops.to(self.device, torch.float32).contiguous()
        context.set_input_shape(INPUT_NAME, tuple(x.shape))
        context.set_tensor_address(INPUT_NAME, x.data_ptr())
        outputs = []
        for name in OUTPUT_NAMES[stage]:
            out = torch.empty(tuple(context.get_tensor_shape(name)), dtype=torch.float32, device=self.device)
            context.set_tensor_address(name, out.data_ptr())
            outputs.append(out)
        stream = torch.cuda.current_stream(self.device)
        if not context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"TensorRT {stage} engine failed to run a batch of {x.shape[0]}")
        return tuple(outputs)
