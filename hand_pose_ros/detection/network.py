"""The torch port of a TFLite graph: NCHW, any batch size, fp32 or fp16.

``graph_to_torch`` turns a parsed ``TFLiteGraph`` into a JSON-able list of layer specs plus a
state dict in torch layouts (done once by ``weights.prepare_weights``); ``TFLiteNet`` rebuilds
the network from those two. Activations keep TFLite's semantics exactly (SAME padding is
asymmetric, PAD/CONCAT/MEAN axes are remapped from NHWC, RESHAPE/FULLY_CONNECTED see NHWC order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hand_pose_ros.detection.tflite_graph import TFLiteGraph

__all__ = ["graph_to_torch", "TFLiteNet"]

# NHWC axis → NCHW axis, for 4D activations.
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def _same_padding(in_size: int, out_size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TFLite SAME padding (before, after): the extra pixel goes after, as in TensorFlow."""
    total = max((out_size - 1) * stride + kernel - in_size, 0)
    return total // 2, total - total // 2


def _spatial_pad(graph: TFLiteGraph, op, kernel: tuple[int, int]) -> list[int]:
    """[left, right, top, bottom] for a conv/pool op."""
    if op.options["padding"] == "valid":
        return [0, 0, 0, 0]
    _, in_h, in_w, _ = graph.shapes[op.inputs[0]]
    _, out_h, out_w, _ = graph.shapes[op.outputs[0]]
    top, bottom = _same_padding(in_h, out_h, kernel[0], op.options["stride"][0])
    left, right = _same_padding(in_w, out_w, kernel[1], op.options["stride"][1])
    return [left, right, top, bottom]


def graph_to_torch(graph: TFLiteGraph) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(spec, state_dict): layer specs (JSON-able) and fp32 parameters in torch layouts."""
    layers: list[dict[str, Any]] = []
    state: dict[str, torch.Tensor] = {}
    consts = graph.constants

    def param(index: int, name: str, array: np.ndarray) -> None:
        state[f"layers.{index}.{name}"] = torch.from_numpy(np.ascontiguousarray(array, np.float32))

    for i, op in enumerate(graph.ops):
        acts = [t for t in op.inputs if t >= 0 and t not in consts]
        rank = len(graph.shapes[op.inputs[0]])
        spec: dict[str, Any] = {"kind": op.kind, "inputs": acts, "outputs": list(op.outputs)}
        kind = op.kind
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            weight = consts[op.inputs[1]]
            if kind == "CONV_2D":
                param(i, "weight", weight.transpose(0, 3, 1, 2))  # OHWI → OIHW
                spec["groups"] = 1
            else:
                param(i, "weight", weight.transpose(3, 0, 1, 2))  # 1HW(C·M) → (C·M)1HW
                spec["groups"] = graph.shapes[op.inputs[0]][3]
            param(i, "bias", consts[op.inputs[2]])
            spec.update(stride=list(op.options["stride"]), activation=op.options["activation"])
            spec["pad"] = _spatial_pad(graph, op, weight.shape[1:3])
        elif kind == "MAX_POOL_2D":
            spec.update(kernel=list(op.options["kernel"]), stride=list(op.options["stride"]))
            spec["pad"] = _spatial_pad(graph, op, op.options["kernel"])
        elif kind == "PRELU":
            param(i, "alpha", consts[op.inputs[1]].reshape(1, -1, 1, 1))
        elif kind == "ADD":
            if len(acts) != 2:
                raise ValueError(f"ADD op #{i}: only adding two activations is supported")
            spec["activation"] = op.options["activation"]
        elif kind == "PAD":
            pads = consts[op.inputs[1]].astype(int)  # (4, 2) NHWC before/after
            if pads[0].any():
                raise ValueError(f"PAD op #{i}: padding the batch dimension is not supported")
            spec["pad"] = [int(v) for v in (*pads[2], *pads[1], *pads[3])]  # W, H, C for F.pad
        elif kind == "RESIZE_BILINEAR":
            spec["size"] = [int(v) for v in consts[op.inputs[1]]]
        elif kind == "RESHAPE":
            shape = graph.shapes[op.outputs[0]]
            if len(shape) == 4:
                raise ValueError(f"RESHAPE op #{i}: reshaping to 4D is not supported")
            spec.update(shape=list(shape[1:]), from_nhwc=rank == 4)
        elif kind == "CONCATENATION":
            axis = op.options["axis"] % rank
            spec["axis"] = _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis
        elif kind == "MEAN":
            axes = [int(a) % rank for a in np.atleast_1d(consts[op.inputs[1]])]
            spec["axes"] = [_NHWC_TO_NCHW_AXIS[a] if rank == 4 else a for a in axes]
            spec["keep_dims"] = op.options["keep_dims"]
        elif kind == "FULLY_CONNECTED":
            param(i, "weight", consts[op.inputs[1]])
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                param(i, "bias", consts[op.inputs[2]])
            spec.update(activation=op.options["activation"], from_nhwc=rank == 4)
        layers.append(spec)
    spec_all = {
        "layers": layers,
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "output_names": list(graph.output_names),
        "input_shape": list(graph.shapes[graph.inputs[0]]),
    }
    return spec_all, state


def _activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return F.relu(x)
    if activation == "relu6":
        return F.relu6(x)
    return x


class _Layer(nn.Module):
    """One op of the graph; parameters registered under the names ``graph_to_torch`` uses."""

    def __init__(self, spec: dict[str, Any], params: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.spec = spec
        self.kind = spec["kind"]
        for name, value in params.items():
            self.register_parameter(name, nn.Parameter(value, requires_grad=False))
        pad = spec.get("pad", [0, 0, 0, 0])
        # Symmetric padding goes into the conv itself (faster); asymmetric needs F.pad first.
        self.symmetric = self.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and pad[0] == pad[1] and pad[2] == pad[3]

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        s, kind, x = self.spec, self.kind, xs[0]
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            pad = s["pad"]
            if self.symmetric:
                y = F.conv2d(x, self.weight, self.bias, s["stride"], (pad[2], pad[0]), 1, s["groups"])
            else:
                y = F.conv2d(F.pad(x, pad), self.weight, self.bias, s["stride"], 0, 1, s["groups"])
            return _activate(y, s["activation"])
        if kind == "PRELU":
            return torch.where(x >= 0, x, x * self.alpha)
        if kind == "ADD":
            return _activate(x + xs[1], s["activation"])
        if kind == "MAX_POOL_2D":
            if any(s["pad"]):
                x = F.pad(x, s["pad"], value=float("-inf"))
            return F.max_pool2d(x, s["kernel"], s["stride"])
        if kind == "PAD":
            return F.pad(x, s["pad"])
        if kind == "RESIZE_BILINEAR":
            return F.interpolate(x, size=s["size"], mode="bilinear", align_corners=False)
        if kind == "RESHAPE":
            if s["from_nhwc"]:
                x = x.permute(0, 2, 3, 1)
            return x.reshape(x.shape[0], *s["shape"])
        if kind == "CONCATENATION":
            return torch.cat(xs, dim=s["axis"])
        if kind == "MEAN":
            return x.mean(dim=s["axes"], keepdim=s["keep_dims"])
        if kind == "FULLY_CONNECTED":
            if s["from_nhwc"]:
                x = x.permute(0, 2, 3, 1)
            x = x.reshape(x.shape[0], -1)
            return _activate(F.linear(x, self.weight, getattr(self, "bias", None)), s["activation"])
        if kind == "LOGISTIC":
            return torch.sigmoid(x)
        raise ValueError(f"unsupported layer kind {kind}")


class TFLiteNet(nn.Module):
    """A MediaPipe network as torch: ``(B, 3, H, W)`` float in [0, 1] → the model's outputs.

    Outputs keep the TFLite order and shapes with the batch dimension ``B`` in front, e.g. the
    palm detector gives ``(B, 2016, 18)`` raw boxes and ``(B, 2016, 1)`` raw scores.
    """

    def __init__(self, spec: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList()
        for i, layer in enumerate(spec["layers"]):
            prefix = f"layers.{i}."
            params = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
            self.layers.append(_Layer(layer, params))
        self.input_id = spec["inputs"][0]
        self.output_ids = spec["outputs"]
        self.input_size = tuple(spec["input_shape"][1:3])  # (H, W)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values = {self.input_id: x}
        for layer in self.layers:
            values[layer.spec["outputs"][0]] = layer(*[values[t] for t in layer.spec["inputs"]])
        return tuple(values[t] for t in self.output_ids)
