"""Weights conversion cache: checksums checked on load, clear errors naming file and fix."""

from __future__ import annotations

import json
import shutil

import pytest

from hand_pose_ros.assets import SETUP_COMMAND
from hand_pose_ros.detection.tflite_graph import parse_tflite
from hand_pose_ros.detection.weights import WeightsError, load_network, prepare_weights, weights_dir

NAME = "hand_landmark_lite"


@pytest.fixture
def cache(tmp_path):
    """A private copy of the converted weights (and ONNX exports) to damage."""
    shutil.copytree(weights_dir(), tmp_path / "weights")
    return tmp_path


def test_copy_loads(cache):
    net = load_network(NAME, cache)
    assert net.input_size == (224, 224)


def test_corrupt_weights_name_the_file_and_the_fix(cache):
    pt = weights_dir(cache) / f"{NAME}.pt"
    data = bytearray(pt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pt.write_bytes(bytes(data))
    with pytest.raises(WeightsError) as info:
        load_network(NAME, cache)
    assert str(pt) in str(info.value) and SETUP_COMMAND in str(info.value) and "corrupt" in str(info.value)


def test_missing_weights_name_the_file_and_the_fix(cache):
    spec = weights_dir(cache) / f"{NAME}.json"
    spec.unlink()
    with pytest.raises(WeightsError, match="missing") as info:
        load_network(NAME, cache)
    assert str(spec) in str(info.value) and SETUP_COMMAND in str(info.value)


def test_weights_from_another_source_file_are_stale(cache):
    spec_path = weights_dir(cache) / f"{NAME}.json"
    spec = json.loads(spec_path.read_text())
    spec["source_sha256"] = "0" * 64
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(WeightsError, match="different"):
        load_network(NAME, cache)


def test_prepare_is_idempotent_and_repairs(cache):
    folder = weights_dir(cache)
    before = {p.name: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    prepare_weights(cache)
    assert {p.name: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == before
    (folder / f"{NAME}.pt").write_bytes(b"garbage")
    prepare_weights(cache)  # reconverts only what is broken
    assert load_network(NAME, cache).input_size == (224, 224)


def test_parser_refuses_a_file_that_is_not_tflite(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        parse_tflite(bad)


def test_unknown_model_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        load_network("hand_landmark_heavy")
