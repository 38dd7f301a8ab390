"""``hand-pose-ros bench real``: 2D and 3D accuracy on real calibrated recordings.

Reads ``<checkout>/../shared/data/real`` (docs/datasets.md; never copied into the repository)
and skips, saying why, where it is absent. Per dataset and camera subset: the detector and
the fusion run frame by frame as the node would (tracking on), then

- 2D: hand-views found (a labelled hand in a view, ≥ half its joints inside the image, with a
  detection whose median keypoint distance to the projected ground truth is below
  ``_MATCH_PX``) and their pixel error (median over joints and views, MediaPipe keypoints vs
  the dataset's joints, so it includes the definitions' difference);
- 3D (``hand_pose_ros.evaluation``): MPJPE, PA-MPJPE, root-relative MPJPE and per-joint
  errors of the fused hands; with ``--keypoints mano`` the MPJPE and root-relative MPJPE
  through ``to_mano`` too (columns ``MANO``, ``MANO root-rel``).
- ``--depth on``: DexYCB with its aligned depth (``fusion.depth``), scored at the instants
  that have depth for every camera; ``--depth unused`` scores the same instants without it.
- ``--per-instant`` (DexYCB): per scored instant the fused hand's MPJPE and views, and each
  camera's 2D error (where a track starts and few views have the hand shows up there).

Datasets: DexYCB mustard bottle with 8, 4, 2 cameras and each camera alone; hand-graph-cnn's
real-world set and InterHand2.6M, one camera (each image its own rig).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

__all__ = ["add_arguments", "run", "Runner", "dexycb_hands", "DEXYCB_SEQUENCE", "DEXYCB_FOUR", "DEXYCB_TWO"]

DEXYCB_SEQUENCE = pathlib.Path("dexycb_subject01") / "mustard_bottle" / "20200709_143211"
# Four cameras spread around the table: of the 4-subsets holding the world camera, the one
# whose views of the workspace (the mean GT hand position) are furthest apart (smallest
# pairwise angle 62°; docs/benchmarks.md) — a 4-camera rig as one would mount it, not the 4
# that happen to see this grasp best.
DEXYCB_FOUR = ("836212060125", "839512060362", "841412060263", "932122060861")
# Two cameras: the pair of those four whose views are closest to perpendicular (102°), the
# best-conditioned triangulation, with the world camera.
DEXYCB_TWO = ("836212060125", "839512060362")
# DexYCB records at 30 fps.
_DEXYCB_FPS = 30.0
# A detection is the labelled hand when its keypoints' median distance to the projected
# ground truth is below this (px): hands here are 50–120 px tall, and the two keypoint
# definitions differ by ≈ 5–10 px.
_MATCH_PX = 30.0
# A labelled hand is in a view when at least this fraction of its joints project inside it.
_MIN_INSIDE_FRACTION = 0.5
# One camera misjudges depth by up to ≈ 30 % (hand size): match 3D hands within this (m).
_MAX_MATCH_M = 0.3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=pathlib.Path, default=None,
                        help="folder of the real recordings (default: <checkout>/../shared/data/real)")
    parser.add_argument("--datasets", default="dexycb,handgraphcnn,interhand",
                        help="comma-separated among dexycb, handgraphcnn, interhand")
    parser.add_argument("--subsets", default="8,4,2,1",
                        help="DexYCB camera subsets: 8, 4, 2 and/or 1 (each camera alone)")
    parser.add_argument("--guided", choices=("on", "off"), default="on",
                        help="3D-guided hand crops (detection.guidance.GuidedDetector) or the detector alone")
    parser.add_argument("--keypoints", choices=("mediapipe", "mano"), default="mediapipe",
                        help="also score the MANO-mapped output (keypoint_definitions.to_mano) when 'mano'")
    parser.add_argument("--backend", default="onnxruntime", help="detector backend (default onnxruntime)")
    parser.add_argument("--frames", type=int, default=None, help="first N instants per sequence only")
    parser.add_argument("--depth", choices=("off", "on", "unused"), default="off",
                        help="DexYCB scored only at the instants with aligned depth for every camera (every "
                             "6th; all instants still run, as the node would): 'on' gives those instants' "
                             "depth maps to the pipeline, 'unused' does not (the A/B baseline)")
    parser.add_argument("--per-instant", action="store_true",
                        help="DexYCB: after each setup's row, one line per scored instant: the MPJPE of the "
                             "fused hand nearest the labels, its views (median over joints), and per camera "
                             "the 2D error of the detection matched to the labels (px; 'miss': labelled in "
                             "that view but not found, '.': not in that view)")
    from hand_pose_ros.tools.set_option import add_set_option

    add_set_option(parser, "guidance.palm_tiles=2 (detector.*, fusion.* and guidance.* only)")


def _detector(args):
    """The detector: ``--backend`` on one thread, then any ``--set detector.*`` (e.g. ``precision=bf16``)."""
    from hand_pose_ros.detection import HandDetector
    from hand_pose_ros.tools.set_option import component_config

    config = component_config("detector", _settings(args)["detector"], backend=args.backend, fallback=("torch",),
                              num_threads=1)
    return HandDetector(config)


class _Scores:
    """2D matches and 3D frames of one setup, gathered frame by frame."""

    def __init__(self) -> None:
        self.views_in = 0
        self.views_found = 0
        self.pixel_errors: list = []
        self.gt: list = []
        self.pred: dict[str, list] = {"mediapipe": [], "mano": []}

    def add_2d(self, detections, labels_2d, image_sizes) -> list[list[float | None]]:
        """Per view: detections; labels (H, 21, 2) px (NaN unlabelled); (W, H) → per view, per
        labelled hand, the median px error of its matched detection (NaN: in the view, not
        found; None: not in the view)."""
        import numpy as np

        out = []
        for dets, labels, (width, height) in zip(detections, labels_2d, image_sizes):
            out.append([])
            for label in labels:
                inside = (label[:, 0] >= 0) & (label[:, 0] < width) & (label[:, 1] >= 0) & (label[:, 1] < height)
                if not np.isfinite(label).all() or inside.mean() < _MIN_INSIDE_FRACTION:
                    out[-1].append(None)
                    continue
                self.views_in += 1
                out[-1].append(float("nan"))
                if not dets:
                    continue
                distances = [np.linalg.norm(d.keypoints_2d - label, axis=-1) for d in dets]  # (21,) each
                best = min(distances, key=np.median)
                if np.median(best) < _MATCH_PX:
                    self.views_found += 1
                    self.pixel_errors.append(best)
                    out[-1][-1] = float(np.median(best))
        return out

    def add_3d(self, stamp, gt_hands, hands, mano_hands) -> None:
        from hand_pose_ros.evaluation.matching import Frame, HandEntry

        self.gt.append(Frame(stamp, tuple(HandEntry(i, h, k) for i, (h, k) in enumerate(gt_hands))))
        for name, out in (("mediapipe", hands), ("mano", mano_hands)):
            if out is not None:
                self.pred[name].append(Frame(stamp, tuple(HandEntry(x.track_id, x.handedness, x.keypoints_3d) for x in out)))

    def summary(self) -> dict:
        import numpy as np

        from hand_pose_ros.evaluation.evaluate import EvaluationConfig, evaluate

        errors = np.concatenate(self.pixel_errors) if self.pixel_errors else np.zeros(0)
        out = {"views_in": self.views_in, "views_found": self.views_found,
               "px_median": float(np.median(errors)) if errors.size else float("nan"),
               "px_mean": float(np.mean(errors)) if errors.size else float("nan")}
        config = EvaluationConfig(max_match_distance_m=_MAX_MATCH_M, stamp_tolerance_s=1e-6)
        for name, pred in self.pred.items():
            if pred:
                out[name] = evaluate(self.gt, pred, config)["overall"]
        return out


def _labels_2d(rig, gt_hands):
    """GT hands [(handedness, (21, 3) m world)] → (V, H, 21, 2) px projected into every camera."""
    import numpy as np

    from hand_pose_ros.fusion import CameraArray

    if not gt_hands:
        return np.zeros((len(rig), 0, 21, 2))
    cams = CameraArray.from_rig(rig)
    return np.stack([cams.project(k) for _, k in gt_hands], axis=1)


def _settings(args) -> dict[str, list[str]]:
    """``--set`` items by section (detector, fusion, guidance).

    Raises:
        ValueError: a key in another section.
    """
    sections: dict[str, list[str]] = {"detector": [], "fusion": [], "guidance": []}
    for item in getattr(args, "settings", []):
        section = item.split(".", 1)[0]
        if section not in sections:
            raise ValueError(f"--set {item}: bench real changes detector.*, fusion.* and guidance.* only")
        sections[section].append(item)
    return sections


def _configs(args):
    """(FusionConfig, GuidanceConfig) from ``--set`` over the defaults (``--guided`` sets guidance.enabled).

    Raises:
        ValueError: a key outside fusion.* / guidance.*, or a refused value.
    """
    from hand_pose_ros.tools.set_option import component_config

    sections = _settings(args)
    return (component_config("fusion", sections["fusion"]),
            component_config("guidance", sections["guidance"], enabled=args.guided == "on"))


class Runner:
    """Detector (+ guidance) + fusion over one rig, frame by frame, as the node runs them."""

    def __init__(self, rig, detector, fusion_config, guidance_config) -> None:
        from hand_pose_ros.fusion import MultiViewFusion
        from hand_pose_ros.pipeline import HandPosePipeline

        detector.reset()
        self.pipeline = HandPosePipeline(rig=rig, detector=detector, fusion=MultiViewFusion(rig, fusion_config),
                                         guidance=guidance_config)

    def step(self, images, stamp: float, depths=None):
        """V images, seconds (, V aligned depth maps or None) → (per-view detections, fused hands)."""
        from hand_pose_ros.timing import NS_PER_S

        result = self.pipeline.process(images, round(stamp * NS_PER_S), depths=depths, fit_meshes=False)
        return [list(view) for view in result.detections], list(result.hands)


def dexycb_hands(path: pathlib.Path, serials, detector, configs, frames=None, depth: bool = False):
    """Yield (DexYCBFrame, detections, hands) of a DexYCB sequence seen by ``serials``;
    ``configs``: (FusionConfig, GuidanceConfig); with ``depth``, each instant's depth maps
    (where it has them) go to the pipeline."""
    from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence

    sequence = DexYCBSequence(path, cameras=serials)
    runner = Runner(sequence.rig, detector, *configs)
    for frame in sequence.frames(frames):
        given = frame.depths if depth and any(d is not None for d in frame.depths) else None
        detections, hands = runner.step(frame.images, frame.index / _DEXYCB_FPS, given)
        yield sequence, frame, detections, hands


def _mano(args, hands):
    """The MANO-mapped hands when ``--keypoints mano``, else None."""
    if args.keypoints != "mano":
        return None
    from hand_pose_ros.keypoint_definitions import to_mano

    return to_mano(hands)


def _dexycb(args, data: pathlib.Path, detector) -> list[tuple[str, dict]]:
    from hand_pose_ros.tools.datasets.dexycb import DexYCBSequence

    path = data / DEXYCB_SEQUENCE
    every = DexYCBSequence(path)
    setups = []
    for subset in args.subsets.split(","):
        if subset == "8":
            setups.append(("DexYCB 8 cameras", every.serials))
        elif subset == "4":
            setups.append(("DexYCB 4 cameras", list(DEXYCB_FOUR)))
        elif subset == "2":
            setups.append(("DexYCB 2 cameras", list(DEXYCB_TWO)))
        elif subset == "1":
            setups.extend((f"DexYCB {s} alone", [s]) for s in every.serials)
        else:
            raise ValueError(f"--subsets: expected 8, 4, 2 or 1, got {subset!r}")
    frames = range(min(args.frames or len(every), len(every)))
    out = []
    for name, serials in setups:
        scores = _Scores()
        start = time.perf_counter()
        scored = set(DexYCBSequence(path, cameras=serials).depth_indices()) if args.depth != "off" else set(frames)
        instants: list = []  # (instant, _instant_error, per view 2D px / NaN / None)
        for sequence, frame, detections, hands in dexycb_hands(path, serials, detector, _configs(args), frames,
                                                               args.depth == "on"):
            if frame.index not in scored:
                continue
            stamp = frame.index / _DEXYCB_FPS
            gt = [(frame.handedness, frame.joints_world)]
            views = scores.add_2d(detections, _labels_2d(sequence.rig, gt), [(c.width, c.height) for c in sequence.rig.cameras])
            scores.add_3d(stamp, gt, hands, _mano(args, hands))
            instants.append((frame.index, _instant_error(frame.handedness, frame.joints_world, hands), [v[0] for v in views]))
        summary = scores.summary()
        summary["seconds"] = time.perf_counter() - start
        out.append((name, summary))
        _print_row(name, summary)
        if args.per_instant:
            _print_instants(serials, instants)
    return out


def _single_images(args, name: str, items, detector) -> tuple[str, dict]:
    """Images each with its own one-camera rig: fresh tracking per image."""
    scores = _Scores()
    start = time.perf_counter()
    for t, item in enumerate(items):
        detections, hands = Runner(item.rig, detector, *_configs(args)).step([item.image], float(t))
        camera = item.rig.cameras[0]
        scores.add_2d(detections, _labels_2d(item.rig, item.hands), [(camera.width, camera.height)])
        scores.add_3d(float(t), item.hands, hands, _mano(args, hands))
    summary = scores.summary()
    summary["seconds"] = time.perf_counter() - start
    _print_row(name, summary)
    return name, summary


def _handgraphcnn(args, folder: pathlib.Path, detector) -> tuple[str, dict]:
    """The hand-graph-cnn video: one camera, its frames in order (tracking across them), a left hand."""
    from hand_pose_ros.calibration import CameraCalibration, Rig
    from hand_pose_ros.keypoints import Handedness
    from hand_pose_ros.tools.datasets.handgraphcnn import FRAME_SIZE, load_handgraphcnn

    name = "hand-graph-cnn, 1 camera"
    images, K, joints = load_handgraphcnn(folder)
    rig = Rig(cameras=(CameraCalibration(name="cam", frame_id="cam_optical_frame", width=FRAME_SIZE[0],
                                         height=FRAME_SIZE[1], camera_matrix=K),))
    runner = Runner(rig, detector, *_configs(args))
    scores = _Scores()
    start = time.perf_counter()
    for image, stamp, truth in zip(images, images.stamps, joints):
        gt = [(Handedness.LEFT, truth)]  # world = the camera's optical frame
        detections, hands = runner.step([image], float(stamp))
        scores.add_2d(detections, _labels_2d(rig, gt), [FRAME_SIZE])
        scores.add_3d(float(stamp), gt, hands, _mano(args, hands))
    summary = scores.summary()
    summary["seconds"] = time.perf_counter() - start
    _print_row(name, summary)
    return name, summary


def _instant_error(handedness, joints, hands) -> tuple[float, float, bool] | None:
    """GT hand (its handedness, joints (21, 3) m world), fused hands → (MPJPE mm, median views
    over joints, one-view) of the hand matched to the labels (``evaluation.matching.match_hands``:
    mean joint distance, within ``_MAX_MATCH_M``), or None without one."""
    import numpy as np

    from hand_pose_ros.evaluation.matching import HandEntry, match_hands

    fused = tuple(HandEntry(i, h.handedness, h.keypoints_3d) for i, h in enumerate(hands))
    matched = match_hands((HandEntry(0, handedness, joints),), fused, _MAX_MATCH_M)
    if not matched:
        return None
    hand = hands[matched[0]]
    distance = float(np.nanmean(np.linalg.norm(hand.keypoints_3d - joints, axis=-1)))
    return 1e3 * distance, float(np.median(hand.num_views)), bool(hand.monocular)


def _print_instants(serials, instants) -> None:
    """One line per scored instant (``--per-instant``): MPJPE (MediaPipe definition against
    the labels' MANO joints), the fused hand's views, and per camera its 2D error (px)."""
    print(f"  {'instant':>7}{'MPJPE':>7}{'views':>6}  " + "".join(f"{serial[-6:]:>7}" for serial in serials))
    for index, error, views in instants:
        three_d = (f"{error[0]:7.1f}{error[1]:5.0f}{'m' if error[2] else ' '}" if error is not None
                   else f"{'-':>7}{'-':>5} ")
        cells = "".join(f"{'.' if px is None else 'miss' if px != px else format(px, '.1f'):>7}" for px in views)
        print(f"  {index:7d}{three_d}  {cells}")


def _fmt(value, spec=".1f") -> str:
    return "-" if value is None or value != value else format(value, spec)


def _print_header() -> None:
    print(f"{'setup':<30}{'2D found':>12}{'px med':>8}{'MPJPE':>8}{'PA':>7}{'root-rel':>9}{'3D found':>10}"
          f"{'MANO':>7}{'MANO root-rel':>14}{'s':>6}")


def _print_row(name: str, s: dict) -> None:
    mp, mano = s.get("mediapipe", {}), s.get("mano", {})
    found = f"{s['views_found']}/{s['views_in']}"
    pct = f"{100 * s['views_found'] / s['views_in']:.0f}%" if s["views_in"] else "-"
    rate = mp.get("detection_rate")
    print(f"{name:<30}{found + ' ' + pct:>12}{_fmt(s['px_median']):>8}{_fmt(mp.get('mpjpe_mm')):>8}"
          f"{_fmt(mp.get('pa_mpjpe_mm')):>7}{_fmt(mp.get('root_relative_mpjpe_mm')):>9}"
          f"{_fmt(None if rate is None else 100 * rate, '.0f') + '%':>10}"
          f"{_fmt(mano.get('mpjpe_mm')):>7}{_fmt(mano.get('root_relative_mpjpe_mm')):>14}{s['seconds']:6.0f}", flush=True)


def _short(keypoint) -> str:
    """WRIST → 'WR', INDEX_FINGER_PIP → 'IN.PIP': column headings of the per-joint table."""
    parts = keypoint.name.split("_")
    return "WR" if len(parts) == 1 else f"{parts[0][:2]}.{parts[-1]}"


def _print_joints(results: list[tuple[str, dict]]) -> None:
    from hand_pose_ros.keypoints import HandKeypoint

    print("\nPer-joint MPJPE (mm), MediaPipe definition:")
    print(f"{'setup':<30}" + "".join(f"{_short(k):>7}" for k in HandKeypoint))
    for name, s in results:
        per_joint = s.get("mediapipe", {}).get("per_joint_mpjpe_mm", {})
        if per_joint:
            print(f"{name:<30}" + "".join(f"{_fmt(per_joint[k.name], '.0f'):>7}" for k in HandKeypoint))


def run(args: argparse.Namespace) -> int:
    import logging

    from hand_pose_ros.tools.datasets import RealDataMissing, real_data_dir

    logging.getLogger("hand_pose_ros").setLevel(logging.WARNING)
    try:
        data = args.data if args.data is not None else real_data_dir()
    except RealDataMissing as exc:
        print(f"bench real skipped: {exc}")
        return 0
    if not data.is_dir():
        print(f"bench real skipped: {data} is not a folder")
        return 0
    detector = _detector(args)
    print(f"bench real on {data}: backend {detector.backend_name}, guided crops {args.guided}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; errors mm, 2D px")
    _print_header()
    results: list[tuple[str, dict]] = []
    datasets = args.datasets.split(",")
    if "dexycb" in datasets:
        results.extend(_dexycb(args, data, detector))
    if "handgraphcnn" in datasets:
        results.append(_handgraphcnn(args, data / "handgraphcnn_realworld", detector))
    if "interhand" in datasets:
        from hand_pose_ros.tools.datasets.interhand import load_interhand

        results.append(_single_images(args, "InterHand2.6M, 1 camera", load_interhand(data / "interhand26m_mmpose"), detector))
    _print_joints(results)
    return 0
