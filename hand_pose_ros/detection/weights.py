"""MediaPipe's hand models converted once to torch, cached with checksums, checked on load.

``prepare_weights`` (a ``./dev setup`` step) reads each ``.tflite`` from the installed
``mediapipe==0.10.21`` wheel, converts it (``tflite_graph`` → ``network.graph_to_torch``) and
writes into ``<cache>/weights/``:

* ``<model>.pt``: the state dict (fp32, torch layouts);
* ``<model>.json``: the layer specs plus the SHA-256 of the source ``.tflite`` and of the ``.pt``.

The ONNX export of the converted weights is ``onnx_export.py``'s (the next set-up step).

``load_network`` rebuilds ``TFLiteNet`` from them after checking both checksums, so a stale or
corrupt cache fails with the file's name and the command that fixes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
from typing import Any

from hand_pose_ros import assets

__all__ = [
    "MODEL_NAMES",
    "WeightsError",
    "weights_dir",
    "prepare_weights",
    "load_network",
    "network_checksum",
]

LOG = logging.getLogger(__name__)

MODEL_NAMES = ("palm_detection_full", "hand_landmark_full", "palm_detection_lite", "hand_landmark_lite")
# Bumped whenever the layer-spec format changes, so old caches are rebuilt by the set-up.
FORMAT_VERSION = 1


class WeightsError(RuntimeError):
    """Converted weights are missing, stale or corrupt; the message names the file and the fix."""


def weights_dir(cache: pathlib.Path | None = None) -> pathlib.Path:
    return (cache or assets.cache_dir()) / "weights"


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(name: str, cache: pathlib.Path | None) -> tuple[dict[str, Any], pathlib.Path]:
    """The spec of ``name`` after checking its files; raises WeightsError naming what is wrong."""
    folder = weights_dir(cache)
    spec_path, pt_path = folder / f"{name}.json", folder / f"{name}.pt"
    fix = f"run `{assets.SETUP_COMMAND}` to convert it"
    for path in (spec_path, pt_path):
        if not path.exists():
            raise WeightsError(f"converted weights file {path} is missing; {fix}")
    try:
        spec = json.loads(spec_path.read_text())
        recorded_source, recorded_pt = spec["source_sha256"], spec["weights_sha256"]
    except (ValueError, KeyError) as exc:
        raise WeightsError(f"converted weights file {spec_path} is corrupt ({exc}); {fix}") from None
    if spec.get("format_version") != FORMAT_VERSION:
        raise WeightsError(f"{spec_path} has format {spec.get('format_version')}, expected {FORMAT_VERSION}; {fix}")
    source = assets.mediapipe_model_path(name)
    if _sha256(source) != recorded_source:
        raise WeightsError(f"{spec_path} was converted from a different {source}; {fix}")
    if _sha256(pt_path) != recorded_pt:
        raise WeightsError(f"converted weights file {pt_path} is corrupt (checksum mismatch); {fix}")
    return spec, pt_path


def network_checksum(name: str, cache: pathlib.Path | None = None) -> str:
    """SHA-256 of the converted weights of ``name`` (keys exported/compiled artefacts)."""
    return _check(name, cache)[0]["weights_sha256"]


def _convert(name: str, folder: pathlib.Path) -> None:
    import torch

    from hand_pose_ros.detection.network import graph_to_torch
    from hand_pose_ros.detection.tflite_graph import parse_tflite

    source = assets.mediapipe_model_path(name)
    spec, state = graph_to_torch(parse_tflite(source))
    folder.mkdir(parents=True, exist_ok=True)
    pt_path, spec_path = folder / f"{name}.pt", folder / f"{name}.json"
    tmp = pt_path.with_suffix(f".pt.tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, pt_path)
    spec.update(
        format_version=FORMAT_VERSION,
        source=str(source),
        source_sha256=_sha256(source),
        weights_sha256=_sha256(pt_path),
    )
    tmp = spec_path.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(spec))
    os.replace(tmp, spec_path)
    LOG.info("converted %s → %s", source.name, pt_path)


def prepare_weights(cache: pathlib.Path) -> None:
    """Set-up step: convert every model whose cached conversion is missing, stale or corrupt."""
    for name in MODEL_NAMES:
        try:
            _check(name, cache)
        except WeightsError as exc:
            LOG.info("%s", exc)
            _convert(name, weights_dir(cache))
            _check(name, cache)


def load_network(name: str, cache: pathlib.Path | None = None):
    """The torch port of MediaPipe model ``name`` (fp32, CPU, eval mode), checksums checked.

    Raises:
        WeightsError: the converted files are missing, stale or corrupt (names file and fix).
    """
    import torch

    from hand_pose_ros.detection.network import TFLiteNet

    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
    spec, pt_path = _check(name, cache)
    try:
        state = torch.load(pt_path, map_location="cpu", weights_only=True)
        net = TFLiteNet(spec, state)
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # any unpickling/shape failure means the file is bad
        raise WeightsError(
            f"converted weights file {pt_path} is corrupt ({exc}); run `{assets.SETUP_COMMAND}` to convert it"
        ) from exc
    return net.eval()
