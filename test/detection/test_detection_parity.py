"""Parity with Google's TFLite interpreter (ai-edge-litert) on the real opencv-doc photos.

Network level: the same crops into LiteRT and into each backend, batch 1 and batch 4.
Pipeline level: HandDetector against LiteRT fed OpenCV-made crops with MediaPipe's rules.
Targets from the issue: keypoints within 0.5 px, scores within 1e-3.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hand_pose_ros.detection import HandDetector, HandDetectorConfig, geometry
from hand_pose_ros.detection.backends import create_backend
from hand_pose_ros.tools.reference import LiteRT, cv2_crop

KEYPOINT_TOL_PX = 0.5
SCORE_TOL = 1e-3
WORLD_TOL_M = 1e-4  # 0.1 mm
BACKENDS = ("torch", "onnxruntime", "litert", "openvino")


def _landmark_crops(photos, reference) -> np.ndarray:
    """(4, 224, 224, 3) float32: the reference hand region of four photos."""
    crops = []
    for name in list(photos)[:4]:
        rect = reference.palm_rects(photos[name])[0]
        crops.append(cv2_crop(photos[name], rect, geometry.LANDMARK_INPUT_SIZE, False))
    return np.stack(crops)


def _palm_crops(photos) -> np.ndarray:
    crops = []
    for image in list(photos.values())[:4]:
        h, w = image.shape[:2]
        rect = np.array([w / 2, h / 2, max(w, h), max(w, h), 0.0])
        crops.append(cv2_crop(image, rect, geometry.PALM_INPUT_SIZE, True))
    return np.stack(crops)


def _to_nchw(batch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("model", ["full", "lite"])
@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("batch", [1, 4])
def test_landmark_network_matches_litert(photos, reference, model, backend_name, batch):
    crops = _landmark_crops(photos, reference)[:batch]
    expected = LiteRT(f"hand_landmark_{model}")(crops)
    backend = create_backend(backend_name, model, torch.device("cpu"), torch.float32)
    landmarks, presence, handedness, world = (t.numpy() for t in backend.landmark(_to_nchw(crops)))
    assert landmarks.shape == (batch, 63)
    np.testing.assert_allclose(landmarks, expected[0], atol=KEYPOINT_TOL_PX)  # crop px
    np.testing.assert_allclose(presence, expected[1], atol=SCORE_TOL)
    np.testing.assert_allclose(handedness, expected[2], atol=SCORE_TOL)
    np.testing.assert_allclose(world, expected[3], atol=WORLD_TOL_M)
    assert (presence > 0.5).all(), "every crop holds a hand"


@pytest.mark.parametrize("model", ["full", "lite"])
@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("batch", [1, 4])
def test_palm_network_matches_litert(photos, model, backend_name, batch):
    crops = _palm_crops(photos)[:batch]
    raw_boxes, raw_scores = LiteRT(f"palm_detection_{model}")(crops)
    backend = create_backend(backend_name, model, torch.device("cpu"), torch.float32)
    boxes, scores = (t.numpy() for t in backend.palm(_to_nchw(crops)))
    assert boxes.shape == (batch, 2016, 18)
    np.testing.assert_allclose(boxes, raw_boxes, atol=KEYPOINT_TOL_PX)  # 192-px units
    np.testing.assert_allclose(torch.sigmoid(torch.from_numpy(scores)).numpy(),
                               torch.sigmoid(torch.from_numpy(raw_scores)).numpy(), atol=SCORE_TOL)
    assert (scores.max(1) > 0).all(), "a palm scores above 0.5 in every photo"


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("views", [1, 4])
def test_pipeline_matches_litert_reference(photos, reference, backend_name, views):
    images = list(photos.values())[:views]
    # MediaPipe's own crops (bilinear everywhere), as the reference cuts them.
    detector = HandDetector(HandDetectorConfig(backend=backend_name, tracking=False, magnified_crops="bilinear"))
    results = detector.detect(images)
    for image, hands in zip(images, results):
        rects = reference.palm_rects(image)
        expected = reference.hands(image, rects)
        assert len(hands) == len(rects) == 1
        hand = hands[0]
        np.testing.assert_allclose(hand.keypoints_2d, expected["keypoints"][0], atol=KEYPOINT_TOL_PX)
        assert abs(hand.presence - expected["presence"][0]) < SCORE_TOL
        right = expected["right_score"][0]
        assert abs(hand.handedness_score - max(right, 1 - right)) < SCORE_TOL
        np.testing.assert_allclose(hand.world_landmarks, expected["world"][0], atol=WORLD_TOL_M * 10)


# onnxruntime's export (cleaned graph) against the torch port it comes from, same crops: only
# the runtimes' float rounding apart. Measured on the five photos: keypoints 0.013 px, palm
# boxes 1e-4 px, world landmarks 1.5e-5 m, handedness 1.5e-4 (the same before the clean-up).
EXPORT_KEYPOINT_TOL_PX = 0.05
EXPORT_BOX_TOL_PX = 0.01
EXPORT_WORLD_TOL_M = 5e-5
EXPORT_SCORE_TOL = 5e-4


def test_onnxruntime_detector_equals_the_torch_port_to_rounding(photos):
    """Palm stage on every view and landmarks, with tracking off: a graph clean-up or a crop
    change that moved outputs beyond float rounding fails here (the LiteRT parity above
    allows 0.5 px)."""
    images = list(photos.values())
    results = {name: HandDetector(HandDetectorConfig(backend=name, tracking=False)).detect(images)
               for name in ("torch", "onnxruntime")}
    for ours, port in zip(results["onnxruntime"], results["torch"]):
        assert len(ours) == len(port) >= 1
        for a, b in zip(ours, port):
            np.testing.assert_allclose(a.keypoints_2d, b.keypoints_2d, atol=EXPORT_KEYPOINT_TOL_PX)
            np.testing.assert_allclose(a.palm_box, b.palm_box, atol=EXPORT_BOX_TOL_PX)
            np.testing.assert_allclose(a.world_landmarks, b.world_landmarks, atol=EXPORT_WORLD_TOL_M)
            assert abs(a.presence - b.presence) < EXPORT_SCORE_TOL
            assert abs(a.handedness_score - b.handedness_score) < EXPORT_SCORE_TOL


# bf16 (OpenVINO) against fp32 LiteRT on the five photos, measured: landmarks (x, y) 0.14 px
# median, 0.75 px max in crop pixels; presence 0.002, handedness 0.05 (docs/detection.md).
BF16_KEYPOINT_MEDIAN_TOL_PX = 0.5
BF16_KEYPOINT_MAX_TOL_PX = 2.0
BF16_PRESENCE_TOL = 0.01
BF16_HANDEDNESS_TOL = 0.1


def test_openvino_bf16_stays_near_full_precision(photos, reference):
    import openvino

    if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16 arithmetic")
    crops = _landmark_crops(photos, reference)
    expected = LiteRT("hand_landmark_full")(crops)
    backend = create_backend("openvino", "full", torch.device("cpu"), torch.bfloat16)
    landmarks, presence, handedness, _ = (t.numpy() for t in backend.landmark(_to_nchw(crops)))
    error = np.abs(landmarks - expected[0]).reshape(len(crops), 21, 3)[..., :2]
    assert np.median(error) < BF16_KEYPOINT_MEDIAN_TOL_PX and error.max() < BF16_KEYPOINT_MAX_TOL_PX
    np.testing.assert_allclose(presence, expected[1], atol=BF16_PRESENCE_TOL)
    np.testing.assert_allclose(handedness, expected[2], atol=BF16_HANDEDNESS_TOL)


def test_openvino_bf16_leaves_the_palm_detector_at_full_precision(photos):
    """bf16 is for the landmark network only (``OPENVINO_REDUCED_STAGES``): palm outputs equal fp32's."""
    import openvino

    if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16 arithmetic")
    crops = _to_nchw(_palm_crops(photos)[:2])
    fp32 = create_backend("openvino", "full", torch.device("cpu"), torch.float32).palm(crops)
    bf16 = create_backend("openvino", "full", torch.device("cpu"), torch.bfloat16).palm(crops)
    for full, reduced in zip(fp32, bf16):
        np.testing.assert_array_equal(reduced.numpy(), full.numpy())


@pytest.mark.parametrize("stage, crops_of", [("landmark", "landmark"), ("palm", "palm")])
def test_openvino_streams_give_the_one_stream_outputs_bit_for_bit(photos, reference, stage, crops_of):
    """The crops of one call run on OpenVINO's stream threads (``OpenVINOBackend``): with two
    streams each crop's outputs equal those of one stream (and of a batch of one)."""
    from hand_pose_ros.detection.tflite_runtimes import OpenVINOBackend

    crops = _to_nchw(_landmark_crops(photos, reference) if crops_of == "landmark" else _palm_crops(photos))
    one = OpenVINOBackend("full", torch.device("cpu"), "fp32", workers=1)
    two = OpenVINOBackend("full", torch.device("cpu"), "fp32", workers=2)
    together = getattr(two, stage)(crops)
    alone = [getattr(one, stage)(crops[i:i + 1]) for i in range(len(crops))]
    for k, output in enumerate(together):
        assert output.shape[0] == len(crops)
        np.testing.assert_array_equal(output.numpy(), torch.cat([a[k] for a in alone]).numpy())


def test_openvino_cuts_each_streams_first_crop_before_the_rest_with_the_same_outputs(photos, reference):
    """``OpenVINOBackend.run_crops`` asks for one crop per stream first, then the rest in one
    piece (the first requests compute while the rest is cut), and gives each crop the outputs
    of a call of its own."""
    from hand_pose_ros.detection.tflite_runtimes import OpenVINOBackend

    crops = _to_nchw(_landmark_crops(photos, reference))
    # The detector's crops for OpenVINO: the uint8 RGBX warps (``warp_crops(rgbx=True)``).
    rgbx = torch.nn.functional.pad((crops * 255).round().to(torch.uint8).permute(0, 2, 3, 1), (0, 1))
    backend = OpenVINOBackend("full", torch.device("cpu"), "fp32", workers=2)
    asked = []

    def make_crops(part: slice) -> torch.Tensor:
        asked.append((part.start, part.stop))
        return rgbx[part]

    together = backend.run_crops("landmark", len(crops), make_crops)
    assert asked == [(0, 1), (1, 2), (2, len(crops))]  # two streams
    alone = [backend.landmark(crops[i:i + 1]) for i in range(len(crops))]
    for k, output in enumerate(together):
        np.testing.assert_array_equal(output.numpy(), torch.cat([a[k] for a in alone]).numpy())


def test_openvino_bf16_detector_feeds_its_palm_detector_full_precision_crops(photos):
    """With ``precision: bf16`` the detector's palm stage is the fp32 one's bit for bit: its
    crops reach the network in float32, not rounded to bf16 on the way."""
    import openvino

    if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16 arithmetic")
    images = list(photos.values())
    boxes = {}
    for precision in ("fp32", "bf16"):
        detector = HandDetector(HandDetectorConfig(backend="openvino", precision=precision, tracking=False))
        boxes[precision] = [[hand.palm_box for hand in hands] for hands in detector.detect(images)]
    assert sum(len(view) for view in boxes["fp32"]) >= len(images)  # a palm in every photo
    for full, reduced in zip(boxes["fp32"], boxes["bf16"]):
        np.testing.assert_array_equal(np.array(reduced), np.array(full))
