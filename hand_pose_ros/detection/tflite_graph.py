"""Read a ``.tflite`` flatbuffer into a plain op graph with fp32 constants, without TensorFlow.

Only the ops MediaPipe's palm detector and hand landmark networks use are understood; any
other op is refused with its name, so a new model version fails loudly at conversion time.
Tensors keep TFLite's NHWC layout here; ``network.py`` turns the graph into NCHW torch.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import tflite

__all__ = ["TFLiteGraph", "TFLiteOp", "parse_tflite", "SUPPORTED_OPS"]

_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_PADDING = {tflite.Padding.SAME: "same", tflite.Padding.VALID: "valid"}
_ACTIVATION = {
    tflite.ActivationFunctionType.NONE: "none",
    tflite.ActivationFunctionType.RELU: "relu",
    tflite.ActivationFunctionType.RELU6: "relu6",
}
_DTYPES = {
    tflite.TensorType.FLOAT32: np.float32,
    tflite.TensorType.FLOAT16: np.float16,
    tflite.TensorType.INT32: np.int32,
    tflite.TensorType.INT64: np.int64,
}


@dataclasses.dataclass(frozen=True)
class TFLiteOp:
    """One op: TFLite builtin name, input/output tensor ids (-1 = absent) and its options."""

    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class TFLiteGraph:
    """A parsed subgraph: ops in execution order (constant DEQUANTIZE ops folded away)."""

    ops: tuple[TFLiteOp, ...]
    shapes: dict[int, tuple[int, ...]]
    constants: dict[int, np.ndarray]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    output_names: tuple[str, ...]


def _activation(code: int, kind: str) -> str:
    if code not in _ACTIVATION:
        raise ValueError(f"{kind}: fused activation {code} is not supported (only NONE, RELU, RELU6)")
    return _ACTIVATION[code]


def _options(op: Any, kind: str) -> dict[str, Any]:
    table = op.BuiltinOptions()
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        opt = tflite.Conv2DOptions() if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions()
        opt.Init(table.Bytes, table.Pos)
        if opt.DilationHFactor() != 1 or opt.DilationWFactor() != 1:
            raise ValueError(f"{kind}: dilation is not supported")
        out = {"stride": (opt.StrideH(), opt.StrideW()), "padding": _PADDING[opt.Padding()]}
        out["activation"] = _activation(opt.FusedActivationFunction(), kind)
        return out
    if kind == "MAX_POOL_2D":
        opt = tflite.Pool2DOptions()
        opt.Init(table.Bytes, table.Pos)
        return {
            "stride": (opt.StrideH(), opt.StrideW()),
            "kernel": (opt.FilterHeight(), opt.FilterWidth()),
            "padding": _PADDING[opt.Padding()],
            "activation": _activation(opt.FusedActivationFunction(), kind),
        }
    if kind == "ADD":
        opt = tflite.AddOptions()
        opt.Init(table.Bytes, table.Pos)
        return {"activation": _activation(opt.FusedActivationFunction(), kind)}
    if kind == "CONCATENATION":
        opt = tflite.ConcatenationOptions()
        opt.Init(table.Bytes, table.Pos)
        return {"axis": opt.Axis(), "activation": _activation(opt.FusedActivationFunction(), kind)}
    if kind == "FULLY_CONNECTED":
        opt = tflite.FullyConnectedOptions()
        opt.Init(table.Bytes, table.Pos)
        return {"activation": _activation(opt.FusedActivationFunction(), kind), "keep_num_dims": bool(opt.KeepNumDims())}
    if kind == "RESIZE_BILINEAR":
        opt = tflite.ResizeBilinearOptions()
        opt.Init(table.Bytes, table.Pos)
        if opt.AlignCorners() or not opt.HalfPixelCenters():
            raise ValueError("RESIZE_BILINEAR: only half_pixel_centers=True, align_corners=False is supported")
        return {}
    if kind == "MEAN":
        opt = tflite.ReducerOptions()
        opt.Init(table.Bytes, table.Pos)
        return {"keep_dims": bool(opt.KeepDims())}
    return {}


SUPPORTED_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "LOGISTIC", "PRELU",
    "MAX_POOL_2D", "PAD", "RESIZE_BILINEAR", "RESHAPE", "CONCATENATION",
})


def parse_tflite(path: pathlib.Path) -> TFLiteGraph:
    """Parse ``path`` (a single-subgraph float or fp16-weight TFLite model).

    Raises:
        ValueError: naming the file when it is not a TFLite flatbuffer or uses an unsupported op.
    """
    data = pathlib.Path(path).read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"{path}: not a TFLite flatbuffer (missing the 'TFL3' identifier)")
    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"{path}: expected 1 subgraph, found {model.SubgraphsLength()}")
    graph = model.Subgraphs(0)

    shapes: dict[int, tuple[int, ...]] = {}
    constants: dict[int, np.ndarray] = {}
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        shapes[index] = tuple(int(s) for s in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        buffer = model.Buffers(tensor.Buffer())
        if buffer is not None and buffer.DataLength() > 0:
            dtype = _DTYPES.get(tensor.Type())
            if dtype is None:
                raise ValueError(f"{path}: tensor {tensor.Name()!r} has unsupported type {tensor.Type()}")
            raw = buffer.DataAsNumpy().tobytes()
            constants[index] = np.frombuffer(raw, dtype).reshape(shapes[index]).copy()

    ops: list[TFLiteOp] = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = _OP_NAMES.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        inputs = tuple(int(i) for i in op.InputsAsNumpy())
        outputs = tuple(int(i) for i in op.OutputsAsNumpy())
        if kind == "DEQUANTIZE" and inputs[0] in constants:
            # fp16 weights stored compactly: fold to fp32 constants once, here.
            constants[outputs[0]] = constants[inputs[0]].astype(np.float32)
            continue
        if kind not in SUPPORTED_OPS:
            raise ValueError(f"{path}: op {kind} (op #{index}) is not supported by the torch port")
        ops.append(TFLiteOp(kind, inputs, outputs, _options(op, kind)))

    names = tuple(graph.Tensors(i).Name().decode() for i in graph.OutputsAsNumpy())
    return TFLiteGraph(
        ops=tuple(ops),
        shapes=shapes,
        constants=constants,
        inputs=tuple(int(i) for i in graph.InputsAsNumpy()),
        outputs=tuple(int(i) for i in graph.OutputsAsNumpy()),
        output_names=names,
    )
