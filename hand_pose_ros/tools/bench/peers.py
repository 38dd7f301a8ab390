"""``hand-pose-ros bench peers``: this project's pipeline against the one a user would assemble.

The peer: MediaPipe's Hands solution (``mediapipe==0.10.21`` with its own dependencies, in
the benchmark-only environment ``.venv-peers`` that ``./dev peers`` creates), one instance
per camera in tracking mode (2 hands, full model), then aniposelib's triangulation, hands
matched across cameras by label (``peers_worker.py``). Ours: ``HandPosePipeline`` with the
node's shipped configuration (the detector backend and model as ``--set`` makes them).
Both run the same frames of the same recording (the bundled sample by default), one after
the other in this run; per set: wall time (median, p90; the first ``--warm-up`` sets are
left out: lazy start-up, numba's compilation in aniposelib) and accuracy against the ground
truth (MPJPE, PA-MPJPE, hands found), the ratio of the medians, and our CPU time per set (all
threads, mesh fit included) with the load average.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import tempfile

from hand_pose_ros.tools.set_option import add_set_option

__all__ = ["add_arguments", "run"]

PEERS_VENV = ".venv-peers"
WORKER = pathlib.Path(__file__).with_name("peers_worker.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", help="dataset directory (docs/dataset.md; default: the bundled sample)")
    parser.add_argument("--frames", type=int, default=60, help="sets to run (default 60, the whole sample)")
    parser.add_argument("--warm-up", type=int, default=5, help="first sets left out of the timing (default 5)")
    parser.add_argument("--peers-python", help=f"python of the peers environment (default: <repo>/{PEERS_VENV}/bin/python)")
    add_set_option(parser, "detector.backend=openvino")


def _peer_job(rig, dataset: pathlib.Path, frames: range) -> dict:
    """The worker's input: aniposelib cameras (world → camera rvec/tvec) and image paths."""
    import cv2

    from hand_pose_ros.dataset_layout import image_path

    cameras = []
    for camera in rig.cameras:
        camera_T_world = camera.camera_T_world
        cameras.append({
            "name": camera.name, "size": [camera.width, camera.height],
            "matrix": camera.camera_matrix.tolist(), "dist": camera.distortion.tolist(),
            "rvec": cv2.Rodrigues(camera_T_world[:3, :3])[0].ravel().tolist(), "tvec": camera_T_world[:3, 3].tolist(),
        })
    return {"cameras": cameras, "frames": [{"images": [str(image_path(dataset, c, t)) for c in rig.names]} for t in frames]}


def _run_peers(python: pathlib.Path, job: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_peers_") as tmp:
        job_path, out_path = pathlib.Path(tmp, "job.json"), pathlib.Path(tmp, "out.json")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        done = subprocess.run([str(python), str(WORKER), str(job_path), str(out_path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the peers' worker failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return json.loads(out_path.read_text(encoding="utf-8"))


def _peer_frames(peer: dict, gt_frames: list) -> list:
    """The worker's hands as evaluation frames (id 0: the right hand, 1: the left)."""
    import numpy as np

    from hand_pose_ros.evaluation.matching import Frame, HandEntry
    from hand_pose_ros.keypoints import Handedness

    out = []
    for result, gt in zip(peer["frames"], gt_frames):
        hands = tuple(
            HandEntry(id=int(label == "LEFT"), handedness=Handedness[label], keypoints=np.asarray(points, np.float64))
            for label, points in sorted(result["hands"].items())
        )
        out.append(Frame(stamp=gt.stamp, hands=hands))
    return out


def _ours(config, rig, dataset: pathlib.Path, gt_frames: list) -> tuple[list[float], list[float], list[float], list]:
    """Per set: total ms (detect + fuse), total with the mesh fit, this process's CPU ms (all
    threads, mesh fit included), and evaluation frames."""
    import time

    from hand_pose_ros.dataset_layout import read_images
    from hand_pose_ros.evaluation.matching import Frame, HandEntry
    from hand_pose_ros.pipeline import HandPosePipeline
    from hand_pose_ros.timing import NS_PER_S

    times, with_mesh, cpu, frames = [], [], [], []
    with HandPosePipeline.from_config(config, rig) as pipeline:
        for index, gt in enumerate(gt_frames):
            images = read_images(dataset, rig.names, index)  # decoding is not timed, as for the peer
            cpu_start = time.process_time()
            result = pipeline.process(images, round(gt.stamp * NS_PER_S))
            cpu.append(1e3 * (time.process_time() - cpu_start))
            times.append(result.timings.detect_ms + result.timings.fuse_ms)
            with_mesh.append(result.timings.total_ms)
            frames.append(Frame(stamp=gt.stamp, hands=tuple(
                HandEntry(id=h.track_id, handedness=h.handedness, keypoints=h.keypoints_3d) for h in result.hands)))
    return times, with_mesh, cpu, frames


def run(args: argparse.Namespace) -> int:
    import os

    import numpy as np

    from hand_pose_ros.assets import repo_root, sample_dir
    from hand_pose_ros.calibration import load_calibration
    from hand_pose_ros.config import StartupError, config_from_parameters, parse_overrides
    from hand_pose_ros.dataset_layout import CALIBRATION_FILE
    from hand_pose_ros.evaluation.evaluate import EvaluationConfig, evaluate
    from hand_pose_ros.evaluation.matching import load_ground_truth

    dataset = pathlib.Path(args.sample) if args.sample else sample_dir()
    python = pathlib.Path(args.peers_python) if args.peers_python else repo_root() / PEERS_VENV / "bin" / "python"
    if not python.exists():
        print(f"bench peers: no peers environment at {python}; create it with `./dev peers`")
        return 2
    rig = load_calibration(dataset / CALIBRATION_FILE)
    gt_frames = load_ground_truth(dataset)[: args.frames]
    try:
        config = config_from_parameters(parse_overrides(args.settings))  # the node's shipped settings
    except StartupError as exc:
        print("bench peers: " + "\n".join(exc.problems))
        return 2

    print(f"bench peers: {len(gt_frames)} sets of {len(rig)} cameras from {dataset}; first {args.warm_up} not timed")
    peer = _run_peers(python, _peer_job(rig, dataset, range(len(gt_frames))))
    peer_ms = [f["detect_ms"] + f["triangulate_ms"] for f in peer["frames"]]
    ours_ms, ours_mesh_ms, ours_cpu_ms, ours_frames = _ours(config, rig, dataset, gt_frames)

    rows = [
        (f"MediaPipe {peer['mediapipe']} Hands ×{len(rig)} + aniposelib", peer_ms, _peer_frames(peer, gt_frames)),
        (f"hand_pose_ros ({config.detector.backend}, {config.detector.model})", ours_ms, ours_frames),
        ("hand_pose_ros + mesh fit", ours_mesh_ms, ours_frames),
    ]
    print(f"{'pipeline':<48} {'median ms':>9} {'p90 ms':>7} {'MPJPE mm':>8} {'PA mm':>6} {'found':>6}")
    medians = []
    for name, times, frames in rows:
        timed = np.asarray(times[args.warm_up:])
        scores = evaluate(gt_frames, frames, EvaluationConfig())["overall"]
        medians.append(float(np.median(timed)))
        print(f"{name:<48} {medians[-1]:9.1f} {np.percentile(timed, 90):7.1f} {scores['mpjpe_mm'] or float('nan'):8.2f} "
              f"{scores['pa_mpjpe_mm'] or float('nan'):6.2f} {scores['detection_rate']:6.1%}")
    print(f"ratio ours / peers (median per set): {medians[1] / medians[0]:.2f} (with the mesh fit {medians[2] / medians[0]:.2f})")
    print(f"ours, CPU per set with the mesh fit (all threads): median {np.median(ours_cpu_ms[args.warm_up:]):.1f} ms; "
          f"load average {os.getloadavg()[0]:.1f} (other work inflates times)")
    return 0
