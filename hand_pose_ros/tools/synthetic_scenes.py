"""Synthetic multi-view hand scenes for the fusion tests and benchmark (no rendering).

Ground-truth hands come from the project's hand model (``hand_pose_ros.handmodel``): realistic
joint angles interpolated between random poses, wrists moving smoothly through a workspace.
They are projected into a rig of cameras aimed at the workspace; the 2D "detections" then get
Gaussian noise, outlier joints, per-joint dropouts and handedness swaps, as configured.
World frame (REP 103): z up; the workspace centre is ``WORKSPACE_CENTER``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from hand_pose_ros.calibration import CameraCalibration, Rig, look_at
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.keypoints import Handedness, HandKeypoint
from hand_pose_ros.types import HandDetection2D

__all__ = ["NoiseModel", "make_rig", "hand_sequence", "synthesize_detections", "world_landmarks"]

# Hands move around a point 1 m above the floor (a table-top workspace).
WORKSPACE_CENTER = np.array([0.0, 0.0, 1.0])
# Synthetic image: 640×480 with a ~56° horizontal field of view.
IMAGE_SIZE = (640, 480)
FOCAL_PX = 600.0
# Mild lens distortion typical of webcams (plumb_bob k1, k2, p1, p2, k3).
WEBCAM_DISTORTION = np.array([-0.12, 0.05, 0.0005, -0.0004, -0.01])
# The two hands' wrists start this far apart along world y (metres).
HANDS_SEPARATION = 0.3


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoiseModel:
    """How detections are corrupted (all probabilities per view and joint unless stated)."""

    sigma_px: tuple[float, float] = (0.0, 0.0)  # each view's Gaussian σ drawn from this range
    outlier_rate: float = 0.0  # joints moved far away (a wrong finger, the other hand)
    outlier_px: tuple[float, float] = (30.0, 150.0)  # displacement of an outlier joint
    dropout_rate: float = 0.0  # joints missing (NaN), as occluded
    swap_rate: float = 0.0  # per view and frame: the two hands' labels swapped
    hand_miss_rate: float = 0.0  # per view and frame: a whole hand not detected


def make_rig(num_cameras: int, rng: np.random.Generator, distance: tuple[float, float] = (0.5, 1.5),
             distortion: bool = True) -> Rig:
    """Cameras spread around the workspace at random distances, elevations 10°–60°, aimed at it."""
    cameras = []
    azimuths = np.linspace(0, 2 * np.pi, num_cameras, endpoint=False) + rng.uniform(-0.3, 0.3, num_cameras)
    for i, az in enumerate(azimuths):
        elev = np.deg2rad(rng.uniform(10, 60))
        r = rng.uniform(*distance)
        eye = WORKSPACE_CENTER + r * np.array([np.cos(az) * np.cos(elev), np.sin(az) * np.cos(elev), np.sin(elev)])
        K = np.array([[FOCAL_PX, 0, IMAGE_SIZE[0] / 2 - 0.5], [0, FOCAL_PX, IMAGE_SIZE[1] / 2 - 0.5], [0, 0, 1]])
        cameras.append(CameraCalibration(
            name=f"cam{i}", frame_id=f"cam{i}_optical_frame", width=IMAGE_SIZE[0], height=IMAGE_SIZE[1],
            camera_matrix=K, distortion_model="plumb_bob" if distortion else "none",
            distortion=WEBCAM_DISTORTION if distortion else np.zeros(0),
            world_T_camera=look_at(eye, WORKSPACE_CENTER + rng.normal(0, 0.03, 3)),
        ))
    return Rig(cameras=tuple(cameras))


def hand_sequence(num_frames: int, rng: np.random.Generator, fps: float = 30.0,
                  hands: tuple[str, ...] = ("Left", "Right"), keyframe_s: float = 1.0) -> np.ndarray:
    """(T, H, 21, 3) metres, world frame: hands moving and changing pose smoothly over time.

    Joint angles are interpolated (smoothstep) between random realistic poses every
    ``keyframe_s``; each wrist follows a smooth random path (≈ 0.2 m/s) and slowly turns.
    """
    from hand_pose_ros.handmodel import HandModel, random_pose

    t = np.arange(num_frames) / fps
    n_keys = int(np.ceil(t[-1] / keyframe_s)) + 2 if num_frames else 2
    out = np.empty((num_frames, len(hands), 21, 3))
    for h, label in enumerate(hands):
        model = HandModel.load(label)
        keys = np.stack([random_pose(rng) for _ in range(n_keys)])
        k = np.minimum((t / keyframe_s).astype(int), n_keys - 2)
        s = t / keyframe_s - k
        s = (s * s * (3 - 2 * s))[:, None, None]
        angles = keys[k] * (1 - s) + keys[k + 1] * s
        side = -1.0 if label == "Left" else 1.0
        phase, freq = rng.uniform(0, 2 * np.pi, 3), rng.uniform(0.2, 0.5, 3)
        wrist = WORKSPACE_CENTER + np.array([0, side * HANDS_SEPARATION / 2, -0.05]) + 0.1 * np.sin(
            2 * np.pi * freq * t[:, None] + phase)
        base = Rotation.from_rotvec(rng.normal(0, 0.6, 3)).as_matrix()
        spin = rng.normal(0, 0.4, 3)
        roots = np.tile(np.eye(4), (num_frames, 1, 1))
        for i in range(num_frames):
            roots[i, :3, :3] = base @ Rotation.from_rotvec(spin * np.sin(0.5 * t[i])).as_matrix()
        roots[:, :3, 3] = wrist
        out[:, h] = model(angles, roots, skin=False).keypoints
    return out


def world_landmarks(points_cam: np.ndarray, rng: np.random.Generator, scale_sigma: float = 0.0,
                    noise_m: float = 0.0) -> np.ndarray:
    """(21, 3) camera-frame joints → MediaPipe-style metric landmarks: camera axes, origin at the centroid."""
    centred = points_cam - points_cam.mean(0)
    return centred * rng.normal(1.0, scale_sigma) + rng.normal(0, noise_m, centred.shape) if noise_m or scale_sigma else centred


def synthesize_detections(
    points: np.ndarray,
    labels: tuple[str, ...],
    rig: Rig,
    noise: NoiseModel,
    rng: np.random.Generator,
    landmark_scale_sigma: float = 0.0,
    landmark_noise_m: float = 0.0,
) -> tuple[list[list[HandDetection2D]], np.ndarray]:
    """(H, 21, 3) world joints → per-view detections (rig order) and (V, H, 21, 2) noisy px used.

    Views whose image does not contain at least half of a hand's joints do not detect it. The
    metric landmarks are the true joints in camera axes, scaled by N(1, landmark_scale_sigma)
    and jittered by N(0, landmark_noise_m) per coordinate.
    """
    cams = CameraArray.from_rig(rig)
    V, H = len(rig), points.shape[0]
    sigma = rng.uniform(*noise.sigma_px, V)
    pix = np.stack([cams.project(points[h]) for h in range(H)], axis=1)  # (V, H, 21, 2)
    pix = pix + rng.normal(0, 1, pix.shape) * sigma[:, None, None, None]
    outlier = rng.random(pix.shape[:3]) < noise.outlier_rate
    angle = rng.uniform(0, 2 * np.pi, pix.shape[:3])
    dist = rng.uniform(*noise.outlier_px, pix.shape[:3])
    pix[outlier] += np.stack([np.cos(angle), np.sin(angle)], -1)[outlier] * dist[outlier, None]
    size = cams.image_size[:, None, None, :]
    inside = (pix >= 0).all(-1) & (pix <= size - 1).all(-1)
    pix[~inside | (rng.random(pix.shape[:3]) < noise.dropout_rate)] = np.nan
    cam_points = np.stack([cams.to_camera(points[h]) for h in range(H)], axis=1)  # (V, H, 21, 3)
    detections: list[list[HandDetection2D]] = []
    for v in range(V):
        order = list(range(H))
        swapped = H == 2 and rng.random() < noise.swap_rate
        view: list[HandDetection2D] = []
        for h in order:
            valid = np.isfinite(pix[v, h]).all(-1)
            if valid.sum() < 11 or cam_points[v, h, HandKeypoint.WRIST, 2] <= 0 or rng.random() < noise.hand_miss_rate:
                pix[v, h] = np.nan
                continue
            label = labels[1 - h] if swapped else labels[h]
            view.append(HandDetection2D(
                keypoints_2d=pix[v, h],
                keypoint_scores=np.where(valid, rng.uniform(0.7, 1.0, 21), 0.0),
                handedness=Handedness.from_label(label),
                handedness_score=float(rng.uniform(0.8, 1.0)),
                presence=1.0,
                world_landmarks=world_landmarks(cam_points[v, h], rng, landmark_scale_sigma, landmark_noise_m),
            ))
        if rng.random() < 0.5:
            view.reverse()  # detection order carries no information
        detections.append(view)
    return detections, pix
