"""The ONNX export of the torch ports: one file per model, keyed by the weights' checksum.

``export_onnx`` writes ``<cache>/weights/onnx/<model>-<checksum>.onnx`` (+ ``.onnx.data``)
with a dynamic batch dimension (1 … ``MAX_BATCH``); the onnxruntime and TensorRT backends
both start from it. ``prepare_onnx`` (a ``./dev setup`` step, after
``weights.prepare_weights``) exports every model once.

The graphs take ``INPUT_NAME`` ``(B, 3, S, S)`` float32 in [0, 1] and return the outputs
named in ``OUTPUT_NAMES`` for their stage (see ``backends.py`` for their shapes).
"""

from __future__ import annotations

import logging
import os
import pathlib

import torch

from hand_pose_ros.detection.weights import MODEL_NAMES, load_network, network_checksum, weights_dir

__all__ = ["MAX_BATCH", "INPUT_NAME", "OUTPUT_NAMES", "STAGE_NETWORKS", "stage_of", "onnx_path", "export_onnx", "prepare_onnx"]

LOG = logging.getLogger(__name__)

# Largest batch the ONNX export and TensorRT engines are built for (8 views × 2 hands, ×2 margin).
MAX_BATCH = 32
# The network each stage runs, named without the model size (``palm_detection`` + ``_full``).
STAGE_NETWORKS = {"palm": "palm_detection", "landmark": "hand_landmark"}
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
    """Where the ONNX export of ``name`` lives, keyed by the converted weights' checksum."""
    return weights_dir(cache) / "onnx" / f"{name}-{network_checksum(name, cache)[:16]}.onnx"


def export_onnx(name: str, cache: pathlib.Path | None = None) -> pathlib.Path:
    """Export ``name`` (fp32) to ONNX with a dynamic batch dimension, once; returns the path.

    ``torch.onnx.export(dynamo=True)`` writes the graph and a ``.onnx.data`` weights file.
    """
    import onnx  # only the export needs it

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
            input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES[stage_of(name)]),
            dynamic_shapes={"x": {0: batch}},
        )
    finally:
        for logger, level in zip(chatty, levels):
            logger.setLevel(level)
    # The graph refers to its data file by name: rename the data first, then rewrite the graph.
    graph = onnx.load(str(tmp), load_external_data=True)
    onnx.save(graph, str(path), save_as_external_data=True, location=path.name + ".data")
    for leftover in path.parent.glob(f"tmp{os.getpid()}-*"):
        leftover.unlink()
    return path


def prepare_onnx(cache: pathlib.Path) -> None:
    """Set-up step: export every model to ONNX unless its export for these weights exists."""
    for name in MODEL_NAMES:
        export_onnx(name, cache)
