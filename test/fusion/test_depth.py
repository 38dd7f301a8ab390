"""Aligned depth maps: conversion, checks, and the pipeline dropping a bad map per camera."""

from __future__ import annotations

import numpy as np
import pytest

from hand_pose_ros.fusion.depth import check_depth, depth_from_millimetres


def test_millimetres_to_metres_with_holes():
    raw = np.array([[0, 1000], [65535, 523]], np.uint16)
    depth = depth_from_millimetres(raw)
    assert depth.dtype == np.float32 and depth.shape == (2, 2)
    assert np.isnan(depth[0, 0])
    np.testing.assert_allclose(depth[[0, 1, 1], [1, 0, 1]], [1.0, 65.535, 0.523], rtol=1e-6)


@pytest.mark.parametrize("raw", [np.zeros((2, 2), np.float32), np.zeros((2, 2, 1), np.uint16)])
def test_millimetres_rejects_other_arrays(raw):
    with pytest.raises(ValueError, match="uint16"):
        depth_from_millimetres(raw)


def test_check_depth_accepts_an_aligned_map():
    depth = np.full((4, 6), np.nan, np.float32)
    depth[1, 2] = 0.7
    check_depth(depth, (4, 6, 3), view="cam0")
    check_depth(depth, (4, 6), view="cam0")


@pytest.mark.parametrize(("depth", "problem"), [
    (np.full((4, 6), 0.5, np.float64), "dtype float32"),
    (np.full((6, 4), 0.5, np.float32), r"size \(4, 6\)"),
    (np.full((4, 6), np.nan, np.float32), "no measurement"),
    (np.zeros((4, 6), np.float32), "every pixel zero"),
    (np.full((4, 6), -0.5, np.float32), "positive metres"),
    ([[0.5] * 6] * 4, "float32 array"),
])
def test_check_depth_names_the_view_and_the_problem(depth, problem):
    with pytest.raises(ValueError, match=problem) as info:
        check_depth(depth, (4, 6, 3), view="wrist_cam")
    assert "'wrist_cam'" in str(info.value)


def test_check_depth_rejects_zero_as_no_measurement():
    depth = np.full((4, 6), 0.5, np.float32)
    depth[0, 0] = 0.0
    with pytest.raises(ValueError, match="1 pixels at zero"):
        check_depth(depth, (4, 6), view="cam0")


def test_pipeline_drops_a_bad_depth_map_and_keeps_the_colour_path():
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.pipeline import HandPosePipeline
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    rng = np.random.default_rng(3)
    rig = make_rig(2, rng)
    truth = hand_sequence(1, rng)[0]
    dets, _ = synthesize_detections(truth, ("Left", "Right"), rig, NoiseModel(), rng)
    pipeline = HandPosePipeline(rig=rig, detector=None, fusion=MultiViewFusion(rig, FusionConfig(filter="none")))
    cams = rig.cameras
    bad = [np.zeros((cams[0].height, cams[0].width), np.float32), np.full((3, 3), 0.5, np.float32)]
    with_bad = pipeline.process_detections(dets, 0, depths=bad, fit_meshes=False)
    assert set(with_bad.depth_problems) == set(rig.names)
    assert "every pixel zero" in with_bad.depth_problems[rig.names[0]]
    assert "size" in with_bad.depth_problems[rig.names[1]]
    pipeline.reset()
    plain = pipeline.process_detections(dets, 0, fit_meshes=False)
    assert plain.depth_problems == {} and len(plain.hands) == len(with_bad.hands) == 2
    for a, b in zip(plain.hands, with_bad.hands):
        np.testing.assert_array_equal(a.keypoints_3d, b.keypoints_3d)
    with pytest.raises(ValueError, match="depths: expected one per rig camera"):
        pipeline.process_detections(dets, 1, depths=[None])
