"""The ONNX export of the torch ports: one file per model, keyed by the weights' checksum.

``export_onnx`` writes ``<cache>/weights/onnx/<model>-<checksum>.onnx`` (+ ``.onnx.data``)
with a dynamic batch dimension (1 … ``MAX_BATCH``); the onnxruntime and TensorRT backends
both start from it. ``prepare_onnx`` (a ``./dev setup`` step, after
``weights.prepare_weights``) exports every model once.

The exporter writes the palm detector's PReLU (``torch.where(x >= 0, x, a·x)``) as
GreaterOrEqual, Mul and Where; onnxruntime's CPU provider runs none of those in its blocked
NCHWc layout, so each of the 31 activations cost three element-wise passes plus a layout
reorder on either side (8 of the 14 CPU-ms of a palm crop; ONNX's own PRelu op is slower
still there). ``_prelu_as_convs`` rewrites each one as ``a·x + (1 − a)·relu(x)`` in ops that
stay blocked: Relu and two per-channel (depthwise 1×1) Convs, the second summing the first.
The same values up to rounding (a palm crop's outputs within 1e-4 of the plain export;
docs/benchmarks.md "Sixth round"). The landmark graph (Conv, Clip, Add, Gemm) has nothing
to clean: trimming its world-landmark head, optimisation levels other than the default and
onnxruntime's MLAS session options left its time unchanged or made it slower.

The graphs take ``INPUT_NAME`` ``(B, 3, S, S)`` float32 in [0, 1] and return the outputs
named in ``OUTPUT_NAMES`` for their stage (see ``backends.py`` for their shapes).
"""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np
import torch

from hand_pose_ros.detection.weights import MODEL_NAMES, load_network, network_checksum, weights_dir

__all__ = ["MAX_BATCH", "INPUT_NAME", "OUTPUT_NAMES", "STAGE_NETWORKS", "stage_of", "onnx_path", "export_onnx", "prepare_onnx"]

LOG = logging.getLogger(__name__)

# Largest batch the ONNX export and TensorRT engines are built for (8 views × 2 hands, ×2 margin).
MAX_BATCH = 32
# The network each stage runs, named without the model size (``palm_detection`` + ``_full``).
STAGE_NETWORKS = {"palm": "palm_detection", "landmark": "hand_landmark"}
# Revision of what ``export_onnx`` writes (the clean-up passes below); part of the file name,
# so that a changed export is made anew instead of an older one being read.
EXPORT_REVISION = 2
# Input/output names of the exported graphs, per stage.
INPUT_NAME = "image"
OUTPUT_NAMES = {
    "palm": ("raw_boxes", "raw_scores"),
    "landmark": ("landmarks", "presence", "handedness", "world_landmarks"),
}


def stage_of(name: str) -> str:
    """``"palm"`` or ``"landmark"``: the stage model ``name`` (e.g. ``palm_detection_full``) serves."""
    return "palm" if name.startswith("palm") else "landmark"


def onnx_path(name: str, cache: pathlib.Path | None = None) -> pathlib.Path:
    """Where the ONNX export of ``name`` lives, keyed by the converted weights' checksum and
    the export's revision."""
    return weights_dir(cache) / "onnx" / f"{name}-{network_checksum(name, cache)[:16]}-r{EXPORT_REVISION}.onnx"


def export_onnx(name: str, cache: pathlib.Path | None = None) -> pathlib.Path:
    """Export ``name`` (fp32) to ONNX with a dynamic batch dimension, once; returns the path.

    ``torch.onnx.export(dynamo=True)`` writes the graph and a ``.onnx.data`` weights file;
    ``_prelu_as_convs`` then rewrites the palm detector's activations (module docstring).
    Exports of other weights at this revision are removed; those of other revisions are left
    to the trees that read them (one cache may serve several checkouts).
    """
    import onnx  # only the export needs it

    path = onnx_path(name, cache)
    if path.exists() and path.with_suffix(".onnx.data").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{name}-*-r{EXPORT_REVISION}.onnx*"):
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
            input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES[stage_of(name)]),
            dynamic_shapes={"x": {0: batch}},
        )
    finally:
        for logger, level in zip(chatty, levels):
            logger.setLevel(level)
    # The graph refers to its data file by name: rename the data first, then rewrite the graph.
    graph = onnx.load(str(tmp), load_external_data=True)
    _prelu_as_convs(graph.graph)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path), save_as_external_data=True, location=path.name + ".data")
    for leftover in path.parent.glob(f"tmp{os.getpid()}-*"):
        leftover.unlink()
    return path


def _prelu_as_convs(graph) -> int:
    """Rewrite every ``Where(x >= 0, x, x·a)`` (a: a constant of one slope per channel) in
    ``graph`` (an ``onnx.GraphProto``, changed in place) as ``Conv_a(x) + Conv_(1−a)(relu(x))``
    with per-channel 1×1 Convs; returns how many were rewritten."""
    from onnx import helper, numpy_helper

    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    constants = {init.name: init for init in graph.initializer}
    replaced: dict[int, list] = {}  # id of a Where node → the nodes that replace it
    dropped: set[int] = set()  # ids of the GreaterOrEqual and Mul nodes it consumed
    for node in graph.node:
        if node.op_type != "Where" or len(node.input) != 3:
            continue
        test, x, scaled = node.input
        compare, multiply = producer.get(test), producer.get(scaled)
        if (compare is None or multiply is None or compare.op_type != "GreaterOrEqual" or multiply.op_type != "Mul"
                or consumers[test] != 1 or consumers[scaled] != 1
                or compare.input[0] != x or multiply.input[0] != x or multiply.input[1] not in constants
                or compare.input[1] not in constants
                or numpy_helper.to_array(constants[compare.input[1]]).any()):
            continue
        slope = numpy_helper.to_array(constants[multiply.input[1]]).astype(np.float32)
        channels = slope.size
        if slope.shape != (1, channels, 1, 1):
            continue
        name = node.name or node.output[0]
        scale_x = numpy_helper.from_array(slope.reshape(channels, 1, 1, 1), f"{name}/slope")
        scale_relu = numpy_helper.from_array((1 - slope).reshape(channels, 1, 1, 1), f"{name}/one_minus_slope")
        graph.initializer.extend([scale_x, scale_relu])
        replaced[id(node)] = [
            helper.make_node("Relu", [x], [f"{name}/relu"], name=f"{name}/relu"),
            helper.make_node("Conv", [x, scale_x.name], [f"{name}/scaled"], name=f"{name}/scaled",
                             group=channels, kernel_shape=[1, 1]),
            helper.make_node("Conv", [f"{name}/relu", scale_relu.name], [f"{name}/scaled_relu"],
                             name=f"{name}/scaled_relu", group=channels, kernel_shape=[1, 1]),
            helper.make_node("Add", [f"{name}/scaled_relu", f"{name}/scaled"], [node.output[0]], name=f"{name}/sum"),
        ]
        dropped |= {id(compare), id(multiply)}
    nodes = [new for node in graph.node if id(node) not in dropped for new in replaced.get(id(node), [node])]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]  # the replaced slopes and zeros go
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return len(replaced)


def prepare_onnx(cache: pathlib.Path) -> None:
    """Set-up step: export every model to ONNX unless its export for these weights exists."""
    for name in MODEL_NAMES:
        export_onnx(name, cache)
