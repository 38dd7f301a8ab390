"""Ground truth per frame: projecting world keypoints into cameras and deciding visibility.

A keypoint is visible in a camera when it projects inside the image, lies in front of the
camera, and the ray from the camera centre to it crosses no triangle of another part of
either hand or of a forearm. Its own segment (the mesh skinned to its joint, the joint's
parent and children) hides it only from more than ``OWN_SKIN_DEPTH_M`` in front: joints lie
inside their own finger, but a wrist seen through the whole palm is hidden.
"""

from __future__ import annotations

import cv2
import numpy as np

from hand_pose_ros.calibration import CameraCalibration
from hand_pose_ros.handmodel import JOINT_INDEX, JOINT_PARENT, KEYPOINT_JOINT, NUM_JOINTS
from hand_pose_ros.keypoints import NUM_KEYPOINTS, HandKeypoint
from hand_pose_ros.types import check_shape

__all__ = ["project_points", "keypoint_visibility", "OWN_SKIN_DEPTH_M", "face_parts", "FOREARM_PART", "PARTS_PER_HAND"]

# Part labels: hand h's triangles are h * PARTS_PER_HAND + dominant WebXR joint; its forearm
# and sleeve are h * PARTS_PER_HAND + FOREARM_PART.
PARTS_PER_HAND = 32
FOREARM_PART = NUM_JOINTS
# Joints lie up to ~20 mm under their own skin (the wrist under the carpus, seen from the
# back); deeper than this, their own segment hides them (e.g. looking down a fist).
OWN_SKIN_DEPTH_M = 0.025
_RAY_EPSILON = 1e-9  # Möller–Trumbore parallel-ray threshold


def project_points(camera: CameraCalibration, points: np.ndarray, *, distort: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) metres world → ((N, 2) float64 px, (N,) float64 depth along the optical axis, metres).

    Pixel origin at the centre of the top-left pixel (OpenCV); ``distort=False`` gives the
    ideal pinhole projection.
    """
    points = check_shape("points", points, (None, 3), f"camera {camera.name!r}").astype(np.float64)
    T = camera.camera_T_world
    cam = points @ T[:3, :3].T + T[:3, 3]
    distortion = camera.distortion if distort and camera.distortion.size else np.zeros(0)
    pixels, _ = cv2.projectPoints(cam.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), camera.camera_matrix, distortion)
    return pixels.reshape(-1, 2), cam[:, 2]


def face_parts(skin_joints: np.ndarray, skin_weights: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 4), (V, 4), (F, 3) → (F,) int: the WebXR joint that mostly moves each triangle."""
    dominant = skin_joints[np.arange(len(skin_joints)), np.argmax(skin_weights, axis=1)]  # (V,)
    corners = dominant[faces]  # (F, 3)
    # The joint shared by two corners if any, else the first corner's.
    return np.where(corners[:, 1] == corners[:, 2], corners[:, 1], corners[:, 0])


def _own_joints() -> list[set[int]]:
    """Per MediaPipe keypoint: the WebXR joints whose mesh encloses it."""
    children: dict[int, set[int]] = {j: set() for j in range(NUM_JOINTS)}
    for j, parent in enumerate(JOINT_PARENT):
        if parent >= 0:
            children[parent].add(j)
    wrist = JOINT_INDEX["wrist"]
    metacarpals = {j for j, name in enumerate(JOINT_INDEX) if name.endswith("metacarpal")}
    own = []
    for keypoint, joint in enumerate(KEYPOINT_JOINT):
        joints = {joint} | children[joint] | ({JOINT_PARENT[joint]} if JOINT_PARENT[joint] >= 0 else set())
        if keypoint == HandKeypoint.WRIST or JOINT_PARENT[joint] in metacarpals:
            joints |= {wrist} | metacarpals  # the wrist and knuckles sit in the palm
        own.append(joints)
    return own


_OWN_JOINTS = _own_joints()


def _hits(origin: np.ndarray, targets: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(3,), (R, 3), (M, 3, 3) → (R, M) metres: how far in front of target r triangle m cuts
    the segment origin→target r; NaN where it does not."""
    direction = targets - origin  # (R, 3)
    e1 = triangles[:, 1] - triangles[:, 0]  # (M, 3)
    e2 = triangles[:, 2] - triangles[:, 0]
    p = np.cross(direction[:, None], e2[None])  # (R, M, 3)
    det = np.einsum("rmk,mk->rm", p, e1)
    ok = np.abs(det) > _RAY_EPSILON
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - triangles[:, 0]  # (M, 3)
    u = np.einsum("rmk,mk->rm", p, s) * inv
    q = np.cross(s, e1)  # (M, 3)
    v = np.einsum("rk,mk->rm", direction, q) * inv
    t = np.einsum("mk,mk->m", e2, q)[None] * inv  # fraction of the way to the target
    cut = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0) & (t < 1)
    return np.where(cut, (1.0 - t) * np.linalg.norm(direction, axis=1, keepdims=True), np.nan)


def keypoint_visibility(
    camera: CameraCalibration, keypoints: np.ndarray, triangles: np.ndarray, parts: np.ndarray
) -> np.ndarray:
    """Which keypoints ``camera`` sees.

    Args:
        keypoints: (H, 21, 3) metres, world frame, hand h's part labels start at h * PARTS_PER_HAND.
        triangles: (M, 3, 3) metres, world frame: every triangle of the scene's hands and forearms.
        parts: (M,) int part label of each triangle (see ``PARTS_PER_HAND``).

    Returns:
        (H, 21) bool.
    """
    keypoints = check_shape("keypoints", keypoints, (None, NUM_KEYPOINTS, 3), f"camera {camera.name!r}")
    num_hands = len(keypoints)
    flat = keypoints.reshape(-1, 3)
    pixels, z = project_points(camera, flat)
    visible = (z > 0) & (pixels[:, 0] >= -0.5) & (pixels[:, 0] <= camera.width - 0.5)
    visible &= (pixels[:, 1] >= -0.5) & (pixels[:, 1] <= camera.height - 0.5)
    in_front = _hits(camera.world_T_camera[:3, 3], flat, triangles)  # (H*21, M) metres or NaN
    for h in range(num_hands):
        for k, joints in enumerate(_OWN_JOINTS):
            own = np.isin(parts, [h * PARTS_PER_HAND + j for j in joints])
            distance = in_front[h * NUM_KEYPOINTS + k]
            hidden = np.any(~own & ~np.isnan(distance)) or np.any(own & (distance > OWN_SKIN_DEPTH_M))
            visible[h * NUM_KEYPOINTS + k] &= not hidden
    return visible.reshape(num_hands, NUM_KEYPOINTS)
