"""Backend selection, fallback, ONNX export, and the GPU paths (skipped only where the library
or the GPU is missing)."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
import torch

from hand_pose_ros.detection import HandDetector, HandDetectorConfig
from hand_pose_ros.detection.backends import BackendUnavailable
from hand_pose_ros.detection.onnx_export import _prelu_as_convs, export_onnx
from hand_pose_ros.detection.weights import load_network

HAS_CUDA = torch.cuda.is_available()
HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
# fp16 networks vs the fp32 CPU reference, image px.
FP16_TOL_PX = 3.0
PARITY_TOL_PX = 0.5


def _reference(photos):
    images = list(photos.values())[:4]
    return images, HandDetector(HandDetectorConfig(tracking=False)).detect(images)


def _assert_close(results, expected, atol):
    for got, want in zip(results, expected):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.keypoints_2d, b.keypoints_2d, atol=atol)
            assert a.handedness == b.handedness


def test_onnx_export_has_a_dynamic_batch_and_external_data():
    path = export_onnx("hand_landmark_full")
    assert path.with_suffix(".onnx.data").exists()
    graph = onnx.load(str(path), load_external_data=False)
    batch_dim = graph.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value
    assert [o.name for o in graph.graph.output] == ["landmarks", "presence", "handedness", "world_landmarks"]


def test_prelu_rewrite_gives_the_where_form_values():
    """Slopes below 0, in [0, 1] and above 1, inputs of both signs and zeros: the rewritten
    graph equals Where(x >= 0, x, a·x) to float rounding."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    slope = np.array([-4.5, -0.2, 0.0, 0.25, 1.0, 12.2], np.float32).reshape(1, 6, 1, 1)
    graph = helper.make_graph(
        [helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"]), helper.make_node("Mul", ["x", "a"], ["ax"]),
         helper.make_node("Where", ["ge", "x", "ax"], ["y"])],
        "prelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 6, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 6, 5, 5])],
        [numpy_helper.from_array(np.zeros((), np.float32), "zero"), numpy_helper.from_array(slope, "a")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    x = rng.normal(0, 3, (2, 6, 5, 5)).astype(np.float32)
    x[0, :, 0, 0] = 0.0
    expected = np.where(x >= 0, x, x * slope)
    assert _prelu_as_convs(model.graph) == 1
    assert {n.op_type for n in model.graph.node} == {"Relu", "Conv", "Add"}
    assert [i.name for i in model.graph.initializer if i.name in ("zero", "a")] == []
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert np.array_equal(got >= 0, expected >= 0)


def test_palm_export_has_no_where_and_matches_the_torch_port(photos):
    """The cleaned palm graph (PReLU as Relu + per-channel Convs) against the torch port it was
    exported from, on letterboxed real photos: raw boxes (192-px units) and score logits."""
    import cv2
    import onnxruntime as ort

    path = export_onnx("palm_detection_full")
    ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    assert not ops & {"Where", "GreaterOrEqual", "PRelu"}
    crops = np.stack([cv2.resize(image, (192, 192), interpolation=cv2.INTER_AREA) for image in list(photos.values())[:4]])
    nchw = np.ascontiguousarray(crops.transpose(0, 3, 1, 2)).astype(np.float32) / 255.0
    with torch.inference_mode():
        want = [t.numpy() for t in load_network("palm_detection_full")(torch.from_numpy(nchw))]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    boxes, scores = session.run(["raw_boxes", "raw_scores"], {"image": nchw})
    np.testing.assert_allclose(boxes, want[0], atol=1e-3)
    np.testing.assert_allclose(scores, want[1], atol=1e-3)


def test_fallback_order_and_active_backend_are_reported(caplog):
    caplog.set_level("INFO")
    detector = HandDetector(HandDetectorConfig(backend="tensorrt", device="cpu", fallback=("onnxruntime", "torch")))
    assert detector.backend_name == "onnxruntime" and detector.device == "cpu"
    assert "backend tensorrt cannot start" in caplog.text
    assert "backend onnxruntime on cpu" in caplog.text


@pytest.mark.skipif(HAS_TENSORRT and HAS_CUDA, reason="TensorRT and CUDA are present: the real path is tested")
def test_tensorrt_missing_gives_a_clear_error():
    with pytest.raises(BackendUnavailable, match="(?i)tensorrt"):
        HandDetector(HandDetectorConfig(backend="tensorrt", device="cuda" if HAS_CUDA else "cpu"))


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is present: the real path is tested")
def test_cuda_missing_gives_a_clear_error():
    with pytest.raises(BackendUnavailable, match="CUDA is not available"):
        HandDetector(HandDetectorConfig(backend="torch", device="cuda"))


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA (torch.cuda.is_available() is false)")
@pytest.mark.parametrize("precision, tol", [("fp32", PARITY_TOL_PX), ("fp16", FP16_TOL_PX)])
def test_torch_cuda_matches_cpu(photos, precision, tol):
    images, expected = _reference(photos)
    detector = HandDetector(HandDetectorConfig(device="cuda", precision=precision, tracking=False))
    assert detector.device.startswith("cuda")
    _assert_close(detector.detect(images), expected, tol)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA (torch.cuda.is_available() is false)")
def test_onnxruntime_cuda_matches_cpu(photos):
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime here has no CUDAExecutionProvider (needs onnxruntime-gpu)")
    images, expected = _reference(photos)
    detector = HandDetector(HandDetectorConfig(backend="onnxruntime", device="cuda", tracking=False))
    _assert_close(detector.detect(images), expected, PARITY_TOL_PX)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not (HAS_CUDA and HAS_TENSORRT), reason="needs CUDA and the tensorrt package")
def test_tensorrt_fp16_engine_matches_cpu_and_is_cached(photos):
    images, expected = _reference(photos)
    config = HandDetectorConfig(backend="tensorrt", device="cuda", precision="fp16", tracking=False)
    _assert_close(HandDetector(config).detect(images), expected, FP16_TOL_PX)
    from hand_pose_ros.detection.weights import weights_dir

    engines = sorted((weights_dir() / "tensorrt").glob("*.engine"))
    assert len(engines) >= 2
    mtimes = [p.stat().st_mtime for p in engines]
    HandDetector(config)  # second start loads the cached engines
    assert [p.stat().st_mtime for p in engines] == mtimes


def test_tensorrt_engine_name_is_keyed_by_the_export_revision(monkeypatch):
    """An engine built from an older ONNX export (same weights) has another name, so it is
    rebuilt rather than reused; the name needs no TensorRT or GPU."""
    from hand_pose_ros.detection import onnx_export
    from hand_pose_ros.detection.tensorrt_backend import engine_path
    from hand_pose_ros.detection.weights import network_checksum

    name = "hand_landmark_full"
    current = engine_path(name, "fp16", "NVIDIA H100 80GB HBM3", "10.3.0")
    assert current.name == (f"{name}-NVIDIA_H100_80GB_HBM3-trt10.3.0-{network_checksum(name)[:16]}"
                            f"-r{onnx_export.EXPORT_REVISION}-fp16.engine")
    monkeypatch.setattr(onnx_export, "EXPORT_REVISION", onnx_export.EXPORT_REVISION - 1)
    older = engine_path(name, "fp16", "NVIDIA H100 80GB HBM3", "10.3.0")
    assert older != current and older.parent == current.parent
