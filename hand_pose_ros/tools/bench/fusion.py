"""``hand-pose-ros bench fusion``: accuracy and time of the fusion against aniposelib.

Protocol (synthetic, documented in docs/fusion.md): for each camera count, sequences of two
hands from the project's hand model (random realistic poses, interpolated; wrists moving
≈0.2 m/s) at 30 fps, seen by cameras at 0.5–1.5 m with webcam distortion. Detections get
per-view Gaussian noise σ ∈ [2, 8] px, 10 % outlier joints (30–150 px off), 10 % joint
dropouts, 2 % whole-hand misses and 5 % of views with the two hands' labels swapped.
Every method gets the same 2D input. aniposelib has no association, so its input is the
detections arranged by their handedness label (what a label-based pipeline would do).
Scored on every ``--score-every``-th frame (aniposelib's RANSAC takes seconds per frame).
A scaling table closes the accuracy part: per camera count, median ms per frame and MPJPE,
and ours again on the same frames with hands left in 4 of the views (fusion's cost should
follow the views that see hands, not the rig). Without aniposelib installed, ours run alone.
"""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["add_arguments", "run"]

INSTALL_HINT = (
    "aniposelib is not installed (a benchmark-only dependency, ~1.2 GB with its deps). Install it into the "
    "venv with:\n  .venv/bin/pip install -r requirements/bench.txt && .venv/bin/pip install --no-deps "
    "aniposelib==0.8.0\n(--no-deps: its opencv-contrib-python requirement would overwrite the project's OpenCV; "
    "the project's cv2 serves it.)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("--cameras", default="2,3,4,6,8",
                        help="camera counts, comma-separated (default 2,3,4,6,8; e.g. 2,4,8,16,32,64 for the "
                             "scaling table)")
    parser.add_argument("--sequences", type=int, default=2, help="sequences per camera count (default 2)")
    parser.add_argument("--frames", type=int, default=90, help="frames per sequence at 30 fps (default 90)")
    parser.add_argument("--score-every", type=int, default=15, help="score every N-th frame (default 15)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-ransac-above", type=int, default=6,
                        help="skip aniposelib's triangulate_ransac for more cameras than this (it takes ~50 s "
                             "per frame at 8 cameras); default 6")
    parser.add_argument("--renders", type=int, default=30,
                        help="frames of the bundled sample's renders to run through the detector and fuse "
                             "(all cameras and each alone); 0 skips (default 30, ~2 min)")
    parser.add_argument("--timing-frames", type=int, default=300,
                        help="frames of the 2 hands × 4 views timing run (default 300)")
    add_set_option(parser, "fusion.refine_iterations=2")


def _procrustes_errors(pred, truth):
    """(21, 3) with NaN, (21, 3) → (21,) errors after the best similarity alignment (NaN where missing)."""
    import numpy as np

    from hand_pose_ros.evaluation.metrics import procrustes_align

    return np.linalg.norm(procrustes_align(pred, truth) - truth, axis=-1)


def _aniposelib_group(rig):
    import cv2
    import numpy as np
    from aniposelib.cameras import Camera, CameraGroup

    cams = []
    for cam in rig.cameras:
        cTw = cam.camera_T_world
        dist = cam.distortion if cam.distortion.size else np.zeros(5)
        cams.append(Camera(matrix=cam.camera_matrix, dist=dist, size=(cam.width, cam.height),
                           rvec=cv2.Rodrigues(cTw[:3, :3])[0].ravel(), tvec=cTw[:3, 3], name=cam.name))
    return CameraGroup(cams)


def _by_label(detections, labels):
    """Per-view detections → (V, H·21, 2) px arranged by handedness label (NaN where none)."""
    import numpy as np

    from hand_pose_ros.keypoints import Handedness

    out = np.full((len(detections), len(labels) * 21, 2), np.nan)
    for v, view in enumerate(detections):
        for det in view:
            h = labels.index(Handedness(det.handedness).label)
            if np.isnan(out[v, h * 21:(h + 1) * 21]).all():
                out[v, h * 21:(h + 1) * 21] = det.keypoints_2d
    return out


def _ransac(group, px):
    """aniposelib's triangulate_ransac on the points seen by ≥ 2 views (it fails on unseen points)."""
    import numpy as np

    out = np.full((px.shape[1], 3), np.nan)
    ok = np.isfinite(px[..., 0]).sum(0) >= 2
    if ok.any():
        out[ok] = group.triangulate_ransac(px[:, ok])[0]
    return out


def _match(hands, truth):
    """Our hands → (H, 21, 3) aligned to the truth hands (Hungarian on mean joint error)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    out = np.full(truth.shape, np.nan)
    if not hands:
        return out, 0
    pred = np.stack([h.keypoints_3d for h in hands])
    err = np.linalg.norm(pred[:, None] - truth[None], axis=-1)
    with np.errstate(invalid="ignore"):
        cost = np.nan_to_num(np.nanmean(np.where(np.isfinite(err), err, np.nan), -1), nan=1e3)
    rows, cols = linear_sum_assignment(cost)
    for r, c in zip(rows, cols):
        out[c] = pred[r]
    return out, len(hands) - len(rows)


def _summary(name, errors, pa_errors, times_ms, total):
    import numpy as np

    e = np.concatenate(errors) if errors else np.zeros(0)
    pa = np.concatenate(pa_errors) if pa_errors else np.zeros(0)
    valid = np.isfinite(e)
    t = np.array(times_ms) if times_ms else np.full(1, np.nan)
    return {
        "method": name,
        "mpjpe": 1e3 * np.nanmean(e) if valid.any() else np.nan,
        "median": 1e3 * np.nanmedian(e) if valid.any() else np.nan,
        "p90": 1e3 * np.nanpercentile(e, 90) if valid.any() else np.nan,
        "pa_mpjpe": 1e3 * np.nanmean(pa) if np.isfinite(pa).any() else np.nan,
        "coverage": valid.sum() / max(total[0] if isinstance(total, list) else total, 1),
        "time_med": np.median(t),
        "time_p90": np.percentile(t, 90),
    }


def _print_table(title, rows) -> None:
    print(f"\n{title}")
    print(f"{'method':<28}{'MPJPE':>8}{'median':>8}{'p90':>8}{'PA-MPJPE':>10}{'coverage':>10}{'ms/frame':>10}{'p90 ms':>8}")
    for r in rows:
        print(f"{r['method']:<28}{r['mpjpe']:8.2f}{r['median']:8.2f}{r['p90']:8.2f}{r['pa_mpjpe']:10.2f}"
              f"{100 * r['coverage']:9.1f}%{r['time_med']:10.2f}{r['time_p90']:8.2f}")


PEERS = ("aniposelib triangulate", "aniposelib triangulate_ransac")
# The scaling table also times each rig with hands in only this many of its views.
_SPARSE_VIEWS = 4

# The timing run replays the same frames this many times (fresh tracks each pass); the
# per-frame minimum over passes filters out time spent waiting for a busy CPU.
_TIMING_PASSES = 3


def _timing(frames: int, seed: int) -> dict:
    """ms per frame of MultiViewFusion for 2 hands × 4 views (frames where all 8 detections exist).

    Returns, per configuration: wall median, wall p90, CPU-time median (this thread), median of
    the per-frame minimum wall time over ``_TIMING_PASSES`` passes, number of frames.
    """
    import numpy as np

    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    rng = np.random.default_rng(seed + 1000)
    rig = make_rig(4, rng, distance=(0.7, 1.2))
    truth = hand_sequence(frames, rng)
    noise = NoiseModel(sigma_px=(2, 8), outlier_rate=0.1, dropout_rate=0.1)
    inputs = [synthesize_detections(truth[t], ("Left", "Right"), rig, noise, rng)[0] for t in range(frames)]
    full = np.array([sum(len(v) for v in dets) == 8 for dets in inputs])
    out = {}
    for label, config in (("default", FusionConfig()), ("no refine, no filter", FusionConfig(refine=False, filter="none"))):
        wall = np.zeros((_TIMING_PASSES, frames))
        cpu = np.zeros((_TIMING_PASSES, frames))
        for p in range(_TIMING_PASSES):
            fusion = MultiViewFusion(rig, config)
            for t, dets in enumerate(inputs):
                start, start_cpu = time.perf_counter(), time.thread_time()
                fusion.process(dets, t / 30.0)
                wall[p, t] = 1e3 * (time.perf_counter() - start)
                cpu[p, t] = 1e3 * (time.thread_time() - start_cpu)
        w, c = wall[:, full], cpu[:, full]
        out[label] = (np.median(w), np.percentile(w, 90), np.median(c), np.median(w.min(0)), int(full.sum()))
    return out


# MediaPipe's metric landmarks are not exact: per-coordinate jitter (metres) for the one-camera run.
_LANDMARK_NOISE_M = 0.005


def _monocular(seed: int, frames: int = 120) -> None:
    """One camera: absolute error of PnP hands when the landmarks' metric size is off by σ."""
    import numpy as np

    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    print("\nOne camera at 0.5-1 m (PnP on metric landmarks with 5 mm jitter; σ 2-8 px, 10 % outliers; "
          f"monocular_scale_stddev {FusionConfig().monocular_scale_stddev}; errors mm):")
    print(f"{'landmark size error σ':<24}{'MPJPE':>8}{'PA-MPJPE':>10}{'depth err':>11}{'reported 1σ':>13}{'within 2σ':>11}")
    for scale_sigma in (0.0, 0.05, 0.1):
        rng = np.random.default_rng(seed + 2000)
        rig = make_rig(1, rng, distance=(0.5, 1.0))
        truth = hand_sequence(frames, rng)
        fusion = MultiViewFusion(rig, FusionConfig(filter="none"))
        noise = NoiseModel(sigma_px=(2, 8), outlier_rate=0.1)
        errors, pa, depth_err, sigma = [], [], [], []
        cam_T_world = rig.cameras[0].camera_T_world
        depth = lambda x: np.nanmean(x @ cam_T_world[:3, :3].T + cam_T_world[:3, 3], axis=0)[2]  # noqa: E731
        for t in range(frames):
            dets, _ = synthesize_detections(truth[t], ("Left", "Right"), rig, noise, rng, landmark_scale_sigma=scale_sigma,
                                            landmark_noise_m=_LANDMARK_NOISE_M)
            hands = fusion.process(dets, t / 30.0)
            sigma.extend(h.depth_stddev for h in hands)
            pred, _ = _match(hands, truth[t])
            for p, g in zip(pred, truth[t]):
                if np.isnan(p).all():
                    continue
                errors.append(np.linalg.norm(p - g, axis=-1))
                pa.append(_procrustes_errors(p, g))
                depth_err.append(abs(depth(p) - depth(g)))
        e, d = np.concatenate(errors), np.array(depth_err)
        s_med = np.median(sigma) if sigma else np.nan
        print(f"{scale_sigma:<24.2f}{1e3 * np.nanmean(e):8.1f}{1e3 * np.nanmean(np.concatenate(pa)):10.1f}"
              f"{1e3 * np.median(d):11.1f}{1e3 * s_med:13.1f}{100 * np.mean(d < 2 * s_med):10.0f}%")


def _monocular_depth(seed: int, frames: int = 120) -> None:
    """One camera with aligned depth (``tools.synthetic_depth``: the hand's own geometry, the
    RealSense-like noise and holes of ``synth.depth``) against the same frames without it."""
    import numpy as np

    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.fusion.depth import depth_from_millimetres
    from hand_pose_ros.synth.depth import DepthNoiseConfig, depth_noise_stddev
    from hand_pose_ros.tools.synthetic_depth import render_hand_depth
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    size_sigma = FusionConfig().monocular_scale_stddev
    noise = DepthNoiseConfig()
    print(f"\nOne camera at 0.5-1 m with aligned depth (as above, landmark size error σ {size_sigma}; depth 1σ "
          f"{1e3 * depth_noise_stddev(1.0, noise):.1f} mm at 1 m × z², {100 * noise.dropout_probability:.1f} % dropouts, "
          "shadow, edge and grazing holes: synth.depth; "
          "errors mm):")
    print(f"{'input':<24}{'MPJPE':>8}{'median':>8}{'PA-MPJPE':>10}{'depth err':>11}{'reported 1σ':>13}{'within 2σ':>11}")
    for use_depth in (False, True):
        rng = np.random.default_rng(seed + 3000)
        rig = make_rig(1, rng, distance=(0.5, 1.0))
        truth = hand_sequence(frames, rng)
        fusion = MultiViewFusion(rig, FusionConfig(filter="none"))
        errors, pa, depth_err, sigma = [], [], [], []
        cam_T_world = rig.cameras[0].camera_T_world
        depth = lambda x: np.nanmean(x @ cam_T_world[:3, :3].T + cam_T_world[:3, 3], axis=0)[2]  # noqa: E731
        for t in range(frames):
            dets, _ = synthesize_detections(truth[t], ("Left", "Right"), rig, NoiseModel(sigma_px=(2, 8), outlier_rate=0.1),
                                            rng, landmark_scale_sigma=size_sigma, landmark_noise_m=_LANDMARK_NOISE_M)
            depth_map = depth_from_millimetres(render_hand_depth(rig.cameras[0], truth[t], rng, noise=noise))
            hands = fusion.process(dets, t / 30.0, depths=[depth_map] if use_depth else None)
            sigma.extend(h.depth_stddev for h in hands)
            pred, _ = _match(hands, truth[t])
            for p, g in zip(pred, truth[t]):
                if np.isnan(p).all():
                    continue
                errors.append(np.nanmean(np.linalg.norm(p - g, axis=-1)))
                pa.append(np.nanmean(_procrustes_errors(p, g)))
                depth_err.append(abs(depth(p) - depth(g)))
        e, d = np.array(errors), np.array(depth_err)
        s_med = np.median(sigma) if sigma else np.nan
        print(f"{'depth' if use_depth else 'colour only':<24}{1e3 * e.mean():8.1f}{1e3 * np.median(e):8.1f}"
              f"{1e3 * np.mean(pa):10.1f}{1e3 * np.median(d):11.1f}{1e3 * s_med:13.1f}{100 * np.mean(d < 2 * s_med):10.0f}%")


def detect_sample(frames: int, start: int = 0) -> tuple:
    """Run the project's detector on ``frames`` frames of the bundled sample from ``start``.

    Returns (rig, ground-truth frames, per-frame detections: one list per camera).
    """
    import json

    from hand_pose_ros.assets import sample_dir
    from hand_pose_ros.calibration import load_calibration
    from hand_pose_ros.dataset_layout import CALIBRATION_FILE, GROUND_TRUTH_FILE, read_images
    from hand_pose_ros.detection import HandDetector, HandDetectorConfig

    directory = sample_dir()
    rig = load_calibration(directory / CALIBRATION_FILE)
    with open(directory / GROUND_TRUTH_FILE, encoding="utf-8") as handle:
        truth = json.load(handle)["frames"][start:start + frames]
    detector = HandDetector(HandDetectorConfig())
    detections = []
    for frame in truth:
        detections.append(detector.detect(read_images(directory, rig.names, frame["frame"])))
    return rig, truth, detections


def _renders(frames: int) -> None:
    """The bundled sample's renders through the real detector: all cameras, then each alone
    (the detections fused by ``HandPosePipeline.process_detections`` over each rig)."""
    import numpy as np

    from hand_pose_ros.calibration import Rig
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.pipeline import HandPosePipeline
    from hand_pose_ros.timing import NS_PER_S

    rig, truth, detections = detect_sample(frames)
    print(f"\nBundled sample renders through the detector ({frames} frames, {len(rig)} cameras; errors mm; "
          "depth along the camera's axis, single cameras only):")
    print(f"{'cameras':<10}{'hands found':>13}{'MPJPE':>8}{'median':>8}{'multi-view':>12}{'one-view':>10}"
          f"{'depth err':>11}{'rel.':>6}{'reported 1σ':>13}{'within 2σ':>11}")
    mean = lambda x: f"{1e3 * np.nanmean(np.concatenate(x)):.1f}" if x and np.isfinite(np.concatenate(x)).any() else "-"  # noqa: E731
    setups = [("all", rig, slice(None))] + [(c.name, Rig(cameras=(c,)), slice(v, v + 1)) for v, c in enumerate(rig.cameras)]
    for name, sub_rig, views in setups:
        pipeline = HandPosePipeline(rig=sub_rig, detector=None, fusion=MultiViewFusion(sub_rig, FusionConfig()))
        cam_T_world = sub_rig.cameras[0].camera_T_world
        depth = lambda x: np.nanmean(x @ cam_T_world[:3, :3].T + cam_T_world[:3, 3], axis=0)[2]  # noqa: E731
        errs: dict[bool, list] = {True: [], False: []}
        depth_err, rel, sigma, found, total = [], [], [], 0, 0
        for frame, dets in zip(truth, detections):
            gt = np.array([h["keypoints_3d"] for h in frame["hands"]], float)
            total += len(gt)
            for hand in pipeline.process_detections(dets[views], round(frame["stamp"] * NS_PER_S)).hands:
                e = np.linalg.norm(hand.keypoints_3d[None] - gt, axis=-1)  # (H, 21)
                g = int(np.nanargmin(np.nanmean(e, 1)))
                found += 1
                errs[hand.monocular].append(e[g])
                if hand.monocular and len(sub_rig) == 1:
                    depth_err.append(abs(depth(hand.keypoints_3d) - depth(gt[g])))
                    rel.append(depth_err[-1] / depth(gt[g]))
                    sigma.append(hand.depth_stddev)
        both = errs[True] + errs[False]
        median = f"{1e3 * np.nanmedian(np.concatenate(both)):.1f}" if both else "-"
        d = np.array(depth_err)
        mono_cols = (f"{1e3 * np.median(d):11.1f}{100 * np.median(rel):5.0f}%{1e3 * np.median(sigma):13.1f}"
                     f"{100 * np.mean(d < 2 * np.array(sigma)):10.0f}%") if depth_err else f"{'-':>11}{'-':>6}{'-':>13}{'-':>11}"
        print(f"{name:<10}{found:>7}/{total:<5}{mean(both):>8}{median:>8}{mean(errs[False]):>12}{mean(errs[True]):>10}{mono_cols}")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    import numpy as np

    from hand_pose_ros.tools.set_option import component_config

    try:
        ours = component_config("fusion", args.settings)  # the accuracy comparison's settings
    except ValueError as exc:
        print(f"hand-pose-ros bench fusion: {exc}", file=sys.stderr)
        return 2
    try:
        import aniposelib  # noqa: F401
        have_peer = True
    except ImportError:
        print(INSTALL_HINT + "\nRunning without the aniposelib columns.", file=sys.stderr)
        have_peer = False
    logging.getLogger("jax").setLevel(logging.WARNING)
    from hand_pose_ros.fusion import FusionConfig, MultiViewFusion
    from hand_pose_ros.tools.synthetic_scenes import NoiseModel, hand_sequence, make_rig, synthesize_detections

    labels = ("Left", "Right")
    noise = NoiseModel(sigma_px=(2, 8), outlier_rate=0.1, outlier_px=(30, 150), dropout_rate=0.1,
                       swap_rate=0.05, hand_miss_rate=0.02)
    methods = {
        "ours (full)": ours,
        "ours (per frame, no filter)": dataclasses.replace(ours, filter="none"),
    }
    camera_counts = [int(c) for c in args.cameras.split(",")]
    rng = np.random.default_rng(args.seed)
    results: dict[str, dict] = {}
    per_count: dict[int, dict[str, dict]] = {}
    # Every frame's (wall, CPU) ms, not only the scored ones; on a loaded machine a frame longer
    # than the scheduler's slice waits for the other processes, so CPU time is the steadier figure.
    frame_ms: dict[int, dict[str, list[tuple[float, float]]]] = {}
    sparse_ms: dict[int, list[tuple[float, float]]] = {}  # ours (full), detections in _SPARSE_VIEWS views only
    raw: dict[int, dict[str, tuple]] = {}
    for n_cams in camera_counts:
        acc = {m: ([], [], [], [0]) for m in list(methods) + list(PEERS)}
        for _ in range(args.sequences):
            rig = make_rig(n_cams, rng)
            group = _aniposelib_group(rig) if have_peer else None
            truth = hand_sequence(args.frames, rng)
            fusions = {m: MultiViewFusion(rig, c) for m, c in methods.items()}
            sparse = MultiViewFusion(rig, FusionConfig()) if n_cams > _SPARSE_VIEWS else None
            for t in range(args.frames):
                dets, _ = synthesize_detections(truth[t], labels, rig, noise, rng)
                if sparse is not None:  # the same frame with hands in the first few views only
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    sparse.process([view if v < _SPARSE_VIEWS else [] for v, view in enumerate(dets)], t / 30.0)
                    sparse_ms.setdefault(n_cams, []).append(
                        (1e3 * (time.perf_counter() - start), 1e3 * (time.thread_time() - start_cpu)))
                scored = t % args.score_every == args.score_every - 1
                for m, fusion in fusions.items():
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    hands = fusion.process(dets, t / 30.0)
                    elapsed = 1e3 * (time.perf_counter() - start)
                    frame_ms.setdefault(n_cams, {}).setdefault(m, []).append((elapsed, 1e3 * (time.thread_time() - start_cpu)))
                    if scored:
                        pred, _ghosts = _match(hands, truth[t])
                        _accumulate(acc[m], pred, truth[t], elapsed)
                if not scored or group is None:
                    continue
                px = _by_label(dets, labels)
                for m, fn in (("aniposelib triangulate", group.triangulate),
                              ("aniposelib triangulate_ransac", lambda p: _ransac(group, p))):
                    if "ransac" in m and n_cams > args.skip_ransac_above:
                        continue
                    start = time.perf_counter()
                    pts = np.asarray(fn(px)).reshape(len(labels), 21, 3)
                    _accumulate(acc[m], pts, truth[t], 1e3 * (time.perf_counter() - start))
        raw[n_cams] = acc
        per_count[n_cams] = {m: _summary(m, *a) for m, a in acc.items() if a[3][0]}
        _print_table(f"{n_cams} cameras ({args.sequences} sequences × {args.frames} frames, "
                     f"scored every {args.score_every}th; errors mm)", per_count[n_cams].values())
        for m, a in acc.items():
            if a[3][0]:
                merged = results.setdefault(m, ([], [], [], [0]))
                for i in range(3):
                    merged[i].extend(a[i])
                merged[3][0] += a[3][0]
    overall = {m: _summary(m, *a) for m, a in results.items()}
    _print_table("All camera counts", overall.values())
    _print_scaling(per_count, frame_ms, sparse_ms)
    common = [n for n in camera_counts if n <= args.skip_ransac_above]
    if common and have_peer:
        pooled = {m: _summary(m, *(sum((raw[n][m][i] for n in common), []) for i in range(3)),
                              sum(raw[n][m][3][0] for n in common)) for m in overall}
        _print_table(f"Camera counts where every method ran ({common}), pooled", pooled.values())
        best_name = min(("aniposelib triangulate", "aniposelib triangulate_ransac"), key=lambda m: pooled[m]["mpjpe"])
        best = pooled[best_name]["mpjpe"]
        for m in methods:
            print(f"  {m}: MPJPE {pooled[m]['mpjpe']:.2f} mm vs {best_name} {best:.2f} mm → "
                  f"{100 * (1 - pooled[m]['mpjpe'] / best):.0f}% lower (target ≥ 30%)")
        print("  On the joints both methods return (removes the effect of rejecting joints):")
        for m in methods:
            ours = np.concatenate([e for n in common for e in raw[n][m][0]])
            for peer in ("aniposelib triangulate", "aniposelib triangulate_ransac"):
                theirs = np.concatenate([e for n in common for e in raw[n][peer][0]])
                both = np.isfinite(ours) & np.isfinite(theirs)
                print(f"    {m} {1e3 * ours[both].mean():.2f} mm vs {peer} {1e3 * theirs[both].mean():.2f} mm "
                      f"on {both.sum()} joints → {100 * (1 - ours[both].mean() / theirs[both].mean()):.0f}% lower")
    _monocular(args.seed)
    _monocular_depth(args.seed)
    if args.renders:
        _renders(args.renders)
    timing = _timing(args.timing_frames, args.seed)
    import os

    print(f"\nTime per frame, 2 hands × 4 views (frames with all 8 detections), target ≤ 1 ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:")
    for label, (med, p90, cpu, best, n) in timing.items():
        print(f"  {label}: wall median {med:.2f} ms (p90 {p90:.2f}), CPU time median {cpu:.2f} ms, "
              f"median of per-frame best of {_TIMING_PASSES} {best:.2f} ms, {n} frames")
    return 0


def _print_scaling(per_count: dict[int, dict[str, dict]], frame_ms: dict[int, dict[str, list[tuple[float, float]]]],
                   sparse_ms: dict[int, list[tuple[float, float]]]) -> None:
    """One line per camera count: median ms per frame (every frame) and MPJPE, ours and the peers',
    and ours when only ``_SPARSE_VIEWS`` of the cameras see the hands."""
    import numpy as np

    names = list(dict.fromkeys(m for rows in per_count.values() for m in rows))
    print("\nScaling with the camera count (ours: median wall ms per frame over every frame, CPU ms in brackets; "
          "aniposelib: median wall ms over the scored frames; MPJPE mm):")
    sparse_name = f"ours (full), hands in {_SPARSE_VIEWS} views"
    print(f"{'cameras':<9}" + "".join(f"{m:>34}" for m in names) + f"{sparse_name:>34}")
    for n, rows in per_count.items():
        cells = []
        for m in names:
            if m not in rows:
                cells.append(f"{'-':>34}")
                continue
            if m in frame_ms.get(n, {}):
                wall, cpu = np.median(frame_ms[n][m], axis=0)
                cell = f"{wall:.2f} ({cpu:.2f}) ms, {rows[m]['mpjpe']:.2f} mm"
            else:
                cell = f"{rows[m]['time_med']:.2f} ms, {rows[m]['mpjpe']:.2f} mm"
            cells.append(f"{cell:>34}")
        cell = "{:.2f} ({:.2f}) ms".format(*np.median(sparse_ms[n], axis=0)) if n in sparse_ms else "-"
        print(f"{n:<9}" + "".join(cells) + f"{cell:>34}")


def _accumulate(acc, pred, truth, elapsed_ms) -> None:
    import numpy as np

    errors, pa_errors, times, total = acc
    errors.append(np.linalg.norm(pred - truth, axis=-1).ravel())
    pa_errors.extend(_procrustes_errors(p, g) for p, g in zip(pred, truth))
    times.append(elapsed_ms)
    total[0] += truth.shape[0] * truth.shape[1]
