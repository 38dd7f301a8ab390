"""Fit ``keypoint_definitions.MEDIAPIPE_TO_MANO_OFFSETS_M`` on the DexYCB mustard sequence.

    python -m hand_pose_ros.tools.datasets.fit_mano_offsets [--data DIR]

Runs the pipeline as ``bench real`` does (8 cameras, 3D-guided crops), expresses each fused
hand's error (MANO ground truth − MediaPipe keypoint) in the fused hand's own wrist frame
(``fusion.wrist_pose``) and prints the per-joint median over instants as the Python constant.
Only this one sequence is used (the figures on every other recording stay a test of it).
"""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["fit_offsets", "main"]


def fit_offsets(hands_and_truth) -> tuple:
    """Iterable of (Hand3D, (21, 3) m GT) → (21, 3) median offsets m in the wrist frame, (21,) counts."""
    import numpy as np

    from hand_pose_ros.fusion import wrist_pose
    from hand_pose_ros.keypoints import Handedness

    rows = []
    for hand, truth in hands_and_truth:
        frame = wrist_pose(hand.keypoints_3d, hand.handedness)
        local = (truth - hand.keypoints_3d) @ frame[:3, :3]  # (21, 3): R^T (gt − pred) per joint
        if Handedness(hand.handedness) == Handedness.LEFT:
            local = local * np.array([1.0, -1.0, 1.0])  # stored as a right hand's
        rows.append(local)
    errors = np.stack(rows)  # (N, 21, 3), NaN where a joint or the frame is missing
    return np.nanmedian(errors, axis=0), np.isfinite(errors).all(-1).sum(0)


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from hand_pose_ros.detection import HandDetector, HandDetectorConfig
    from hand_pose_ros.detection.config import GuidanceConfig
    from hand_pose_ros.fusion import FusionConfig
    from hand_pose_ros.keypoints import HandKeypoint
    from hand_pose_ros.tools.bench.real import DEXYCB_SEQUENCE, dexycb_hands
    from hand_pose_ros.tools.datasets import RealDataMissing, real_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder of the real recordings (default ../shared/data/real)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        data = real_data_dir() if args.data is None else __import__("pathlib").Path(args.data)
    except RealDataMissing as exc:
        print(f"cannot fit: {exc}", file=sys.stderr)
        return 2
    detector = HandDetector(HandDetectorConfig(backend="onnxruntime", fallback=("torch",), num_threads=1))
    pairs = []
    for _, frame, _, hands in dexycb_hands(data / DEXYCB_SEQUENCE, None, detector, (FusionConfig(), GuidanceConfig())):
        multi = [h for h in hands if not h.monocular]
        if multi:
            best = min(multi, key=lambda h: np.nanmean(np.linalg.norm(h.keypoints_3d - frame.joints_world, axis=-1)))
            pairs.append((best, frame.joints_world))
    offsets, counts = fit_offsets(pairs)
    print(f"# fitted on {len(pairs)} instants of {DEXYCB_SEQUENCE} (8 cameras), median per joint, metres")
    print("MEDIAPIPE_TO_MANO_OFFSETS_M = np.array([")
    for keypoint, row, n in zip(HandKeypoint, offsets, counts):
        print(f"    [{row[0]:+.4f}, {row[1]:+.4f}, {row[2]:+.4f}],  # {keypoint.name} ({n} instants)")
    print("])")
    return 0


if __name__ == "__main__":
    sys.exit(main())
