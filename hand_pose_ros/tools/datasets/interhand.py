"""InterHand2.6M frames (as shipped in MMPose's test data) → one-camera rigs and 3D hands.

Layout read (InterHand2.6M's own JSON): ``test_interhand2.6m_data.json`` (COCO-style
``images`` with ``file_name``, ``capture``, ``camera``, ``frame_idx``),
``test_interhand2.6m_camera.json`` (``{capture: {campos, camrot, focal, princpt}: {camera}}``,
millimetres) and ``test_interhand2.6m_joint_3d.json`` (``{capture: {frame_idx: {world_coord
(42, 3) mm, joint_valid (42, 1)}}}``). Joints 0–20 are the right hand, 21–41 the left; each
hand lists thumb tip → thumb CMC, index tip → MCP, middle, ring, pinky, then the wrist last.
A camera point is ``camrot @ (X_world − campos)``; pixels ``focal · x/z + princpt``; no
distortion. The instants are single views: the world frame here is each image's camera.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Iterator

import cv2
import numpy as np

from hand_pose_ros.calibration import CameraCalibration, Rig
from hand_pose_ros.keypoints import FINGERS, NUM_KEYPOINTS, HandKeypoint, Handedness

__all__ = ["InterHandImage", "load_interhand", "INTERHAND_TO_MEDIAPIPE"]

_MM = 1e-3
# Per hand, InterHand's joint index of each MediaPipe keypoint: the wrist is last (20); each
# finger's four joints run tip-first (4·f + 3 is its base: thumb CMC or finger MCP).
INTERHAND_TO_MEDIAPIPE = np.zeros(NUM_KEYPOINTS, int)
INTERHAND_TO_MEDIAPIPE[HandKeypoint.WRIST] = 20
for _f, _chain in enumerate(FINGERS.values()):
    for _j, _keypoint in enumerate(_chain):
        INTERHAND_TO_MEDIAPIPE[_keypoint] = 4 * _f + 3 - _j
# Joint blocks of the 42 in InterHand's order.
_HANDS = ((Handedness.RIGHT, 0), (Handedness.LEFT, NUM_KEYPOINTS))


@dataclasses.dataclass(frozen=True)
class InterHandImage:
    """One image with its camera and ground-truth hands.

    Attributes:
        name: image file name.
        image: ``(H, W, 3)`` uint8 RGB (greyscale cameras repeated to 3 channels).
        rig: one camera, world frame = its optical frame.
        hands: per GT hand (handedness, ``(21, 3)`` float64 metres in the camera frame,
            MediaPipe's order, NaN for joints InterHand marks invalid).
    """

    name: str
    image: np.ndarray
    rig: Rig
    hands: list[tuple[Handedness, np.ndarray]]


def load_interhand(path: str | os.PathLike[str]) -> Iterator[InterHandImage]:
    """The images of an InterHand2.6M folder in ``test_interhand2.6m_data.json`` order."""
    folder = pathlib.Path(path)

    def read(name: str):
        return json.loads((folder / f"test_interhand2.6m_{name}.json").read_text(encoding="utf-8"))

    data, cameras, joints = read("data"), read("camera"), read("joint_3d")
    for entry in data["images"]:
        capture, camera, frame = str(entry["capture"]), str(entry["camera"]), str(entry["frame_idx"])
        params = cameras[capture]
        rotation = np.asarray(params["camrot"][camera], np.float64)  # (3, 3) world → camera
        position = np.asarray(params["campos"][camera], np.float64)  # (3,) mm, world
        (fx, fy), (cx, cy) = params["focal"][camera], params["princpt"][camera]
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        rig = Rig(cameras=(CameraCalibration(name=f"cam{camera}", frame_id=f"cam{camera}_optical_frame",
                                             width=int(entry["width"]), height=int(entry["height"]),
                                             camera_matrix=K),), world_frame=f"cam{camera}_optical_frame")
        record = joints[capture][frame]
        world = np.asarray(record["world_coord"], np.float64)  # (42, 3) mm
        valid = np.asarray(record["joint_valid"], bool).reshape(-1)  # (42,)
        camera_points = (world - position) @ rotation.T * _MM  # (42, 3) m
        camera_points[~valid] = np.nan
        hands = []
        for handedness, start in _HANDS:
            points = camera_points[start + INTERHAND_TO_MEDIAPIPE]
            if np.isfinite(points).all(-1).any():
                hands.append((handedness, points))
        bgr = cv2.imread(str(folder / entry["file_name"]))
        if bgr is None:
            raise FileNotFoundError(f"{folder / entry['file_name']}: missing or unreadable")
        yield InterHandImage(name=entry["file_name"], image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rig=rig, hands=hands)
