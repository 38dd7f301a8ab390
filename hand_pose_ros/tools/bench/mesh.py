"""``hand-pose-ros bench mesh``: mesh fitting time per hand and MPVPE on the bundled sample.

Two inputs, both scored against the sample's ground-truth meshes (``meshes.npz``):

* ``detected``: the real pipeline's 3D joints — ``HandPosePipeline``: MediaPipe's detector on
  every camera image, then the multi-view fusion (default configs) — fitted frame after frame;
* ``gt+noise``: the ground-truth joints plus Gaussian noise (σ = ``--noise-mm`` per
  coordinate, fresh each frame), with the ground-truth track ids.

Fitted hands are matched to ground-truth hands per frame (Hungarian on keypoints, as in
``hand-pose-ros eval``); MPVPE is the mean over matched hand-frames (median: of the per-hand
means), PA-MPVPE after a per-hand similarity alignment; "fit RMS" is the median over hands of
the fit's keypoint RMS residual against its own input. Time: wall time of
``HandMeshFitter.fit`` per frame divided by the hands it fitted, over frames whose hands
were all fitted the frame before (warm; "first frame": frames of new tracks only), and the
same in process CPU time ("CPU": what the fit costs, whatever else runs on the machine);
the sequence is fitted ``--repeats`` times with a fresh fitter to collect more samples.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]

MATCH_DISTANCE_M = 0.1  # a fitted hand farther than this from every ground-truth hand is a miss


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("--sample", help="synthetic dataset directory (default: the bundled sample)")
    add_set_option(parser, "mesh.model=mano --set mesh.mano_dir=DIR")
    parser.add_argument("--noise-mm", type=float, default=5.0, help="σ of the noise on ground-truth joints (default 5)")
    parser.add_argument("--repeats", type=int, default=5, help="fits of the whole sequence for timing (default 5)")
    parser.add_argument("--inputs", default="detected,gt+noise", help="comma-separated: detected, gt+noise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pred-out", help="write the first input's hands with their fitted vertices here "
                                           "(predictions JSON for `hand-pose-ros eval`)")


def _detected_hands(sample, frames):
    """[(stamp, list[Hand3D])] from the pipeline (detector and fusion; meshes are fitted and
    timed by ``_score``) run over the sample's images."""
    from hand_pose_ros.calibration import load_calibration
    from hand_pose_ros.dataset_layout import CALIBRATION_FILE, read_images
    from hand_pose_ros.mesh import MeshFitterConfig
    from hand_pose_ros.pipeline import HandPosePipeline, PipelineConfig
    from hand_pose_ros.timing import NS_PER_S

    rig = load_calibration(sample / CALIBRATION_FILE)
    out = []
    with HandPosePipeline.from_config(PipelineConfig(mesh=MeshFitterConfig(model="none")), rig) as pipeline:
        for index, frame in enumerate(frames):
            images = read_images(sample, rig.names, index)
            out.append((frame.stamp, list(pipeline.process(images, round(frame.stamp * NS_PER_S)).hands)))
    return out


def _noisy_hands(frames, noise_m: float, rng):
    """[(stamp, list[Hand3D])] from the ground-truth joints plus Gaussian noise."""
    import numpy as np

    from hand_pose_ros.types import Hand3D, KeypointSource

    out = []
    for frame in frames:
        hands = []
        for gt in frame.hands:
            valid = np.isfinite(gt.keypoints).all(-1)
            hands.append(Hand3D(
                track_id=gt.id, handedness=gt.handedness, handedness_score=1.0, presence=1.0,
                keypoints_3d=gt.keypoints + rng.normal(0.0, noise_m, gt.keypoints.shape),
                keypoint_confidence=valid.astype(np.float32), num_views=np.where(valid, 2, 0),
                reprojection_error_px=np.full(len(valid), np.nan),
                keypoint_source=np.where(valid, KeypointSource.TRIANGULATED, KeypointSource.MISSING),
            ))
        out.append((frame.stamp, hands))
    return out


def _score(name, sequence, frames, config, repeats, record=None):
    """Fit ``sequence`` ``repeats`` times; return a row of figures (errors from the first pass).

    ``record``: a list that receives the first pass as prediction frames (fused hands + vertices).
    """
    import time

    import numpy as np

    from hand_pose_ros.evaluation.matching import HandEntry, match_hands
    from hand_pose_ros.evaluation.metrics import mpvpe, pa_mpjpe
    from hand_pose_ros.mesh import HandMeshFitter

    warm_ms, warm_cpu_ms, cold_ms, fitted_pairs, rms, missed = [], [], [], [], [], 0
    for repeat in range(repeats):
        fitter, previous, seen = HandMeshFitter(config), set(), set()
        for (stamp, hands), frame in zip(sequence, frames):
            start, start_cpu = time.perf_counter(), time.process_time()
            meshes = fitter.fit(hands, stamp)
            elapsed_ms = (time.perf_counter() - start) * 1e3
            cpu_ms = (time.process_time() - start_cpu) * 1e3
            ids = {m.track_id for m in meshes}
            if meshes:
                if ids <= previous:
                    warm_ms.append(elapsed_ms / len(meshes))
                    warm_cpu_ms.append(cpu_ms / len(meshes))
                elif not ids & seen:  # only new tracks: first fits (both hand models tried)
                    cold_ms.append(elapsed_ms / len(meshes))
            previous = ids
            seen |= ids
            if repeat:
                continue
            if record is not None:
                vertices = {m.track_id: m.vertices.tolist() for m in meshes}
                record.append({"stamp": stamp, "hands": [
                    {**h.to_dict(), "vertices": vertices.get(h.track_id)} for h in hands]})
            pred = tuple(HandEntry(id=m.track_id, handedness=m.handedness, keypoints=m.keypoints, vertices=m.vertices)
                         for m in meshes)
            matches = match_hands(frame.hands, pred, MATCH_DISTANCE_M)
            missed += len(frame.hands) - len(matches)
            for g, p in matches.items():
                truth = frame.hands[g].vertices
                if truth is not None and truth.shape == pred[p].vertices.shape:  # MANO ≠ the sample's mesh
                    fitted_pairs.append((pred[p].vertices, truth))
            rms += [m.rms_error for m in meshes]
    if not fitted_pairs:
        nan = float("nan")
        return (name, len(rms), missed, nan, nan, nan, float(np.median(rms)) * 1e3, *_times(warm_ms, warm_cpu_ms, cold_ms))
    pred_v, gt_v = (np.stack(v) for v in zip(*fitted_pairs))
    per_hand = np.linalg.norm(pred_v - gt_v, axis=-1).mean(-1)  # (N,) metres
    return (name, len(fitted_pairs), missed, mpvpe(pred_v, gt_v) * 1e3, float(np.median(per_hand)) * 1e3,
            pa_mpjpe(pred_v, gt_v) * 1e3, float(np.median(rms)) * 1e3, *_times(warm_ms, warm_cpu_ms, cold_ms))


def _times(warm_ms, warm_cpu_ms, cold_ms):
    """(warm median, warm p90, warm CPU median, cold median) ms per hand; NaN where none."""
    import numpy as np

    def stat(values, q):
        return float(np.percentile(values, q)) if values else float("nan")

    return stat(warm_ms, 50), stat(warm_ms, 90), stat(warm_cpu_ms, 50), stat(cold_ms, 50)


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import pathlib
    import platform

    import numpy as np
    import torch

    from hand_pose_ros import assets
    from hand_pose_ros.evaluation.matching import load_ground_truth
    from hand_pose_ros.tools.set_option import component_config

    sample = pathlib.Path(args.sample) if args.sample else assets.sample_dir()
    frames = load_ground_truth(sample)
    if not any(h.vertices is not None for f in frames for h in f.hands):
        print(f"{sample}: no meshes.npz beside the ground truth; MPVPE needs it", flush=True)
        return 2
    try:
        config = component_config("mesh", args.settings)
    except ValueError as exc:
        print(f"hand-pose-ros bench mesh: {exc}", flush=True)
        return 2
    if config.model == "none":
        print("hand-pose-ros bench mesh: mesh.model none fits nothing; use webxr or mano", flush=True)
        return 2
    inputs = [s.strip() for s in args.inputs.split(",") if s.strip()]
    unknown = sorted(set(inputs) - {"detected", "gt+noise"})
    if unknown:
        print(f"--inputs: unknown {unknown}; choose from detected, gt+noise", flush=True)
        return 2
    rows, record = [], [] if args.pred_out else None
    if "detected" in inputs:
        print("running the detector and the fusion over the sample ...", flush=True)
        rows.append(_score("detected", _detected_hands(sample, frames), frames, config, args.repeats, record))
    if "gt+noise" in inputs:
        noisy = _noisy_hands(frames, args.noise_mm * 1e-3, np.random.default_rng(args.seed))
        rows.append(_score(f"gt+{args.noise_mm:g}mm", noisy, frames, config, args.repeats,
                           None if "detected" in inputs else record))
    if args.pred_out:
        pathlib.Path(args.pred_out).write_text(json.dumps(record), encoding="utf-8")
    print(f"mesh fitting, model {config.model}; sample {sample} ({len(frames)} frames); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} (other work inflates times)")
    print(f"{'input':<12}{'hands':>7}{'missed':>8}{'MPVPE':>10}{'median':>10}{'PA-MPVPE':>10}{'fit RMS':>10}"
          f"{'warm ms/hand':>14}{'p90':>8}{'CPU':>8}{'cold ms/hand':>14}")
    for name, n, missed, err, median, pa, rms, warm, p90, cpu, cold in rows:
        print(f"{name:<12}{n:>7}{missed:>8}{err:>7.2f} mm{median:>7.2f} mm{pa:>7.2f} mm{rms:>7.2f} mm"
              f"{warm:>14.2f}{p90:>8.2f}{cpu:>8.2f}{cold:>14.2f}")
    return 0
