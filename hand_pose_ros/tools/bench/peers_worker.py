"""The peer pipeline a user would assemble, run inside the benchmark-only peers environment.

MediaPipe's Hands solution (``mediapipe==0.10.21`` with its own dependencies: numpy<2,
protobuf<5), one instance per camera in tracking mode (2 hands, full model), then
aniposelib's triangulation of each hand over the cameras that see it, hands matched across
cameras by their handedness label (what MediaPipe offers for matching). It imports neither
torch nor hand_pose_ros: ``hand-pose-ros bench peers`` writes a job file (image paths per
frame, cameras with aniposelib's world→camera rvec/tvec) and reads back per frame the time
of each step and the 3D joints (metres, world frame) per hand label.

    .venv-peers/bin/python peers_worker.py JOB.json OUT.json
"""

from __future__ import annotations

import json
import sys
import time

import cv2
import mediapipe as mp
import numpy as np
from aniposelib.cameras import Camera, CameraGroup

NUM_KEYPOINTS = 21
# The legacy solution assumes mirrored (selfie) input: on ordinary camera images its "Left"
# is the person's right hand (FIELD_NOTES), which is how a user reading its docs fixes it.
PERSON_HAND = {"Left": "RIGHT", "Right": "LEFT"}


def _solution() -> mp.solutions.hands.Hands:
    return mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=2, model_complexity=1,
                                    min_detection_confidence=0.5, min_tracking_confidence=0.5)


def run(job: dict) -> list[dict]:
    cameras = [Camera(name=c["name"], size=c["size"], matrix=c["matrix"], dist=c["dist"],
                      rvec=c["rvec"], tvec=c["tvec"]) for c in job["cameras"]]
    group = CameraGroup(cameras)
    solutions = [_solution() for _ in cameras]
    results = []
    for frame in job["frames"]:
        # Reading and decoding the files is not timed (the node receives decoded images too).
        images = [cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB) for path in frame["images"]]
        started = time.perf_counter()
        points = {label: np.full((len(cameras), NUM_KEYPOINTS, 2), np.nan) for label in PERSON_HAND.values()}
        best = {label: np.zeros(len(cameras)) for label in PERSON_HAND.values()}
        for view, (solution, image) in enumerate(zip(solutions, images)):
            found = solution.process(image)
            height, width = image.shape[:2]
            for landmarks, handedness in zip(found.multi_hand_landmarks or [], found.multi_handedness or []):
                category = handedness.classification[0]
                label = PERSON_HAND[category.label]
                if category.score > best[label][view]:  # two hands with one label: keep the surer one
                    best[label][view] = category.score
                    points[label][view] = [[lm.x * width, lm.y * height] for lm in landmarks.landmark]
        detected = time.perf_counter()
        hands = {}
        for label, uv in points.items():
            if np.isfinite(uv[:, 0, 0]).sum() >= 2:
                hands[label] = group.triangulate(uv, undistort=True, progress=False).tolist()
        done = time.perf_counter()
        results.append({"detect_ms": (detected - started) * 1e3, "triangulate_ms": (done - detected) * 1e3,
                        "hands": hands})
    for solution in solutions:
        solution.close()
    return results


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    with open(argv[2], "w", encoding="utf-8") as handle:
        json.dump({"mediapipe": mp.__version__, "frames": run(job)}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
