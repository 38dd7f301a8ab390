"""``hand-pose-ros detect IMAGE [IMAGE ...]``: 2D hands in still images, as text or JSON."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format OpenCV reads)")
    add_set_option(parser, "detector.backend=onnxruntime")
    parser.add_argument("--json", action="store_true", help="print one JSON document with every hand")
    parser.add_argument("--overlay", metavar="DIR", help="write each image with the skeletons drawn into DIR")


def run(args: argparse.Namespace) -> int:
    import json
    import pathlib
    import sys

    import cv2

    from hand_pose_ros.detection import BackendUnavailable, HandDetector, WeightsError
    from hand_pose_ros.drawing import draw_detections
    from hand_pose_ros.tools.set_option import component_config

    images = []
    for name in args.images:
        bgr = cv2.imread(name, cv2.IMREAD_COLOR)
        if bgr is None:
            print(f"hand-pose-ros detect: cannot read image {name!r} (missing or not an image)", file=sys.stderr)
            return 2
        images.append(bgr)
    try:
        # Unrelated stills: no tracking from one image to the next.
        config = component_config("detector", args.settings, tracking=False)
    except ValueError as exc:
        print(f"hand-pose-ros detect: {exc}", file=sys.stderr)
        return 2
    try:
        detector = HandDetector(config)
    except (BackendUnavailable, WeightsError) as exc:
        print(f"hand-pose-ros detect: {exc}", file=sys.stderr)
        return 2
    # One batched call over all images.
    rgbs = [cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) for bgr in images]
    views = detector.detect(rgbs)
    fields = ("keypoints_2d", "keypoint_scores", "handedness", "handedness_score", "presence", "palm_box", "world_landmarks")
    if args.json:
        doc = [{"image": name, "hands": [{k: hand.to_dict()[k] for k in fields} for hand in hands]}
               for name, hands in zip(args.images, views)]
        print(json.dumps(doc))
    else:
        for name, hands in zip(args.images, views):
            print(f"{name}: {len(hands)} hand(s)")
            for hand in hands:
                wrist = hand.keypoints_2d[0]
                print(f"  {hand.handedness.label:5s} (score {hand.handedness_score:.2f}) presence {hand.presence:.3f}"
                      f" wrist at ({wrist[0]:.1f}, {wrist[1]:.1f}) px")
    if args.overlay:
        folder = pathlib.Path(args.overlay)
        folder.mkdir(parents=True, exist_ok=True)
        for name, rgb, hands in zip(args.images, rgbs, views):
            drawn = draw_detections(rgb, hands, hand_labels=True)
            cv2.imwrite(str(folder / f"{pathlib.Path(name).stem}_hands.png"), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    return 0
