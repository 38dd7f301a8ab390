"""Calibrate a camera rig from ChArUco board views: intrinsics, extrinsics, robust bundle adjustment.

1. Intrinsics per camera from all its views of the board (``cv2.calibrateCamera``: plumb_bob;
   ``cv2.fisheye.calibrate``: equidistant), unless given. The higher distortion terms (plumb_bob's
   p1, p2 and k3; equidistant's k3, k4) are estimated only where the camera's views earn them
   (an F-test between nested fits); the others are held at 0.
2. Board pose in every view (PnP on the undistorted corners, ``fusion.camera`` model).
3. Initial extrinsics along a spanning tree of the cameras (edges: images in which both see the
   board, most shared images first); relative pose per edge = the medoid over the shared views.
4. Bundle adjustment over all camera poses and board poses (``bundle.bundle_adjust``, robust
   loss); the first camera is fixed and the board's printed size fixes the scale.
5. World frame: the first camera's optical frame, or the board in one chosen image, turned to
   REP 103 (x along the board's columns, y = −board y, z up out of the printed face).

Errors name the camera and say how to fix it (``BoardCalibrationError``).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import scipy.stats

from hand_pose_ros.calibration.board import BoardDetection, BoardSpec
from hand_pose_ros.calibration.bundle import BundleConfig, bundle_adjust
from hand_pose_ros.calibration.gauge import camera_centres, pose_difference
from hand_pose_ros.calibration.rig import CameraCalibration, Rig
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.checks import check_choice

__all__ = ["BoardCalibrationConfig", "BoardCalibrationError", "BoardCalibrationResult", "CameraBoardReport",
           "calibrate_from_board", "INTRINSIC_MODELS"]

INTRINSIC_MODELS = ("plumb_bob", "equidistant")
# Board frame → REP 103 world (x forward along the columns, y left, z up out of the printed
# face): a half turn about the board's x axis.
_BOARD_T_REP103 = np.diag([1.0, -1.0, -1.0, 1.0])
# Every model's distortion coefficients by name, in the file's order, and the groups of them that
# are optional, each with the OpenCV flag that holds it at 0. From a planar board's views these
# terms are poorly determined: p1, p2 trade off against the principal point (test renders of an
# undistorted lens: free p1, p2 put it 1.5 px off, which turns the camera by 0.18°), k3 against the
# focal length and k1, k2. A group is estimated only when the camera's views earn it.
_TERMS = {"plumb_bob": ("k1", "k2", "p1", "p2", "k3"), "equidistant": ("k1", "k2", "k3", "k4")}
_OPTIONAL_TERMS = {
    "plumb_bob": ((("p1", "p2"), cv2.CALIB_ZERO_TANGENT_DIST), (("k3",), cv2.CALIB_FIX_K3)),
    "equidistant": ((("k3",), cv2.CALIB_FIX_K3), (("k4",), cv2.CALIB_FIX_K4)),
}
# A group is earned when adding it lowers the summed squared reprojection error by more than
# noise would at this significance (F-test of nested least-squares fits). Measured on the test
# renders of an undistorted lens: F ≈ 0–7 (p ≥ 0.007) for every optional group; a real lens's
# 0.5 px of tangential distortion gives F in the hundreds.
_TERMS_SIGNIFICANCE = 1e-3
# A planar board gives a camera's focal length only through its perspective, i.e. its tilt: on
# renders whose boards all faced the camera within 3°, the focal came out 11 % off at 0.06 px RMS;
# within 12°, 0.5 % off. The most tilted view must reach this (guides ask for 20–45°).
_MIN_TILT_DEG = 20.0
_FISHEYE_CRITERIA = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-10)
# Parameters of one camera's intrinsics fit besides its distortion terms: fx, fy, cx, cy, and a
# board pose (6) per view.
_PINHOLE_PARAMETERS = 4
_POSE_PARAMETERS = 6


class BoardCalibrationError(ValueError):
    """The board images cannot calibrate the rig; the message names the camera and the fix."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BoardCalibrationConfig:
    """Settings of ``calibrate_from_board``.

    Attributes:
        distortion_model: intrinsics model estimated per camera, one of ``INTRINSIC_MODELS``.
        min_corners: a view is used when it has at least this many corners (not all on a line).
        min_intrinsic_views: views of the board a camera needs for its own intrinsics (a planar
            target needs several tilts; 5 is OpenCV's practical minimum for 5 distortion terms).
        loss, loss_scale_px: robust loss of the bundle adjustment (corners: ≈ 0.1–0.5 px noise).
        refine_intrinsics: the bundle adjustment also refines the intrinsics estimated here
            (fx, fy, cx, cy and the distortion terms each camera's views earned) over all
            cameras' views at once: the boards seen by several cameras constrain each camera's
            intrinsics more than its own views do (test renders: 0.25° and 2.9 mm without).
            Intrinsics given by ``--intrinsics`` stay as given.
        max_evaluations: cap on the bundle adjustment's residual evaluations.
    """

    distortion_model: str = "plumb_bob"
    min_corners: int = 6
    min_intrinsic_views: int = 5
    loss: str = "soft_l1"
    loss_scale_px: float = 1.0
    refine_intrinsics: bool = True
    max_evaluations: int = 200

    def __post_init__(self) -> None:
        check_choice("BoardCalibrationConfig.distortion_model", self.distortion_model, INTRINSIC_MODELS)
        BundleConfig(loss=self.loss, loss_scale_px=self.loss_scale_px, max_evaluations=self.max_evaluations)
        if self.min_corners < 4 or self.min_intrinsic_views < 1:
            raise ValueError(
                f"BoardCalibrationConfig: need min_corners >= 4 and min_intrinsic_views >= 1, got "
                f"{self.min_corners}, {self.min_intrinsic_views}"
            )


@dataclasses.dataclass(frozen=True)
class CameraBoardReport:
    """One camera's figures: images given, views with corners, corners found (all views),
    views used (enough corners, not edge-on), views in the bundle adjustment (shared with
    another camera), final RMS reprojection error (px) of its corners, intrinsics RMS (px,
    NaN when intrinsics were given), the distortion terms estimated (empty when given)."""

    name: str
    images: int
    views_with_corners: int
    corners_found: int
    views_used: int
    views_shared: int
    rms_px: float
    intrinsics_rms_px: float
    distortion_terms: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, eq=False)
class BoardCalibrationResult:
    """rig: the calibration; cameras: per-camera report (rig order); baselines_m: (V, V) camera
    centre distances; world_T_board: image name → (4, 4) board pose of the adjusted views."""

    rig: Rig
    cameras: list[CameraBoardReport]
    baselines_m: np.ndarray
    world_T_board: dict[str, np.ndarray]


def _object_points(spec: BoardSpec, det: BoardDetection) -> np.ndarray:
    return spec.corners[det.ids]


def _fit_intrinsics(model: str, obj: list[np.ndarray], img: list[np.ndarray], size: tuple[int, int],
                    flags: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """One OpenCV intrinsics fit → (summed squared reprojection error px², K (3, 3), distortion,
    (views,) tilt of each view's board from square-on, degrees: the angle between its normal and
    the optical axis; a board parallel to the image plane, wherever it is, gives no focal length)."""
    if model == "plumb_bob":
        _, K, D, rvecs, tvecs = cv2.calibrateCamera(obj, img, size, None, None, flags=flags)
        D = np.asarray(D, np.float64).reshape(-1)[:5]
        projected = [cv2.projectPoints(o, r, t, K, D)[0] for o, r, t in zip(obj, rvecs, tvecs)]
    else:
        obj = [o[None].astype(np.float64) for o in obj]
        img = [i[None].astype(np.float64) for i in img]
        flags |= cv2.CALIB_RECOMPUTE_EXTRINSIC | cv2.CALIB_FIX_SKEW
        _, K, D, rvecs, tvecs = cv2.fisheye.calibrate(obj, img, size, np.eye(3), np.zeros(4), flags=flags,
                                                      criteria=_FISHEYE_CRITERIA)
        D = np.asarray(D, np.float64).reshape(-1)
        projected = [cv2.fisheye.projectPoints(o, r, t, K, D)[0] for o, r, t in zip(obj, rvecs, tvecs)]
    sse = sum(float(((p.reshape(-1, 2) - i.reshape(-1, 2)) ** 2).sum()) for p, i in zip(projected, img))
    tilts = np.degrees(np.arccos(np.clip([abs(cv2.Rodrigues(r)[0][2, 2]) for r in rvecs], 0.0, 1.0)))
    return sse, np.asarray(K, np.float64), D, tilts


def _intrinsics(name: str, size: tuple[int, int], views: list[BoardDetection], spec: BoardSpec,
                config: BoardCalibrationConfig) -> tuple[CameraCalibration, float, tuple[str, ...]]:
    """Per-camera intrinsics from its usable views → (camera at identity pose, RMS px, the
    distortion terms estimated).

    The optional groups of ``_OPTIONAL_TERMS`` are added one at a time (the most significant
    first) while one lowers the squared error significantly (F-test at ``_TERMS_SIGNIFICANCE``)."""
    if len(views) < config.min_intrinsic_views:
        raise BoardCalibrationError(
            f"camera {name}: the board is usable in only {len(views)} images ({config.min_intrinsic_views} needed "
            "for its intrinsics): add images with the board at several distances and tilts filling the view, "
            "or pass --intrinsics with a calibration that has this camera"
        )
    model = config.distortion_model
    obj = [_object_points(spec, v).astype(np.float32) for v in views]
    img = [v.corners.astype(np.float32) for v in views]
    residuals = 2 * sum(len(v) for v in views)
    optional = list(_OPTIONAL_TERMS[model])
    held = functools.reduce(operator.or_, (flag for _, flag in optional), 0)
    terms = [t for t in _TERMS[model] if not any(t in group for group, _ in optional)]
    try:
        sse, K, D, tilts = _fit_intrinsics(model, obj, img, size, held)
        while optional:
            trials = []
            for group, flag in optional:
                trial = _fit_intrinsics(model, obj, img, size, held & ~flag)
                dof = residuals - _PINHOLE_PARAMETERS - len(terms) - len(group) - _POSE_PARAMETERS * len(views)
                if dof <= 0:  # too few corners to test the group: not earned
                    continue
                f_stat = (sse - trial[0]) / len(group) / max(trial[0] / dof, np.finfo(float).tiny)
                trials.append((float(scipy.stats.f.sf(f_stat, len(group), dof)), group, flag, trial))
            p_value, group, flag, trial = min(trials, key=lambda t: t[0], default=(1.0, (), 0, None))
            if p_value >= _TERMS_SIGNIFICANCE:
                break
            held &= ~flag
            terms += group
            optional.remove((group, flag))
            sse, K, D, tilts = trial
    except cv2.error as exc:
        raise BoardCalibrationError(
            f"camera {name}: OpenCV could not estimate its intrinsics ({exc.err}); use images with the board "
            "tilted in several directions, or pass --intrinsics"
        ) from None
    if tilts.max() < _MIN_TILT_DEG:
        raise BoardCalibrationError(
            f"camera {name}: the board is (nearly) square-on to it in every image (largest tilt {tilts.max():.0f}°, "
            f"{_MIN_TILT_DEG:.0f}° needed): its focal length cannot be told from the board's distance; add images "
            f"with the board tilted by 20–45° in several directions, or pass --intrinsics"
        )
    camera = CameraCalibration(name=name, frame_id=f"{name}_optical_frame", width=size[0], height=size[1],
                               camera_matrix=K, distortion_model=model, distortion=D)
    return camera, float(np.sqrt(sse / (residuals / 2))), tuple(t for t in _TERMS[model] if t in terms)


def _board_pose(camera: CameraArray, v: int, spec: BoardSpec, det: BoardDetection) -> np.ndarray | None:
    """(4, 4) camera_T_board by planar PnP on undistorted corners; None if PnP fails."""
    xy = camera.pixels_to_normalized(det.corners[None], views=np.array([v]))[0]
    ok, rvec, tvec = cv2.solvePnP(_object_points(spec, det), xy, np.eye(3), None, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(_object_points(spec, det), xy, np.eye(3), None, rvec, tvec)
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(rvec)[0]
    T[:3, 3] = tvec.reshape(3)
    return T


def _medoid(poses: list[np.ndarray]) -> np.ndarray:
    """The pose with the smallest summed disagreement (degrees + cm) to the others."""
    stack = np.stack(poses)
    cost = []
    for T in stack:
        angle, dist = pose_difference(np.repeat(T[None], len(stack), 0), stack)
        cost.append(angle.sum() + 100.0 * dist.sum())
    return stack[int(np.argmin(cost))]


def _spanning_tree(names: Sequence[str], poses: list[dict[str, np.ndarray]]) -> np.ndarray:
    """(V, 4, 4) camera_T_world with world = the first camera, grown along the most shared edges."""
    V = len(names)
    world_T_cam: dict[int, np.ndarray] = {0: np.eye(4)}
    while len(world_T_cam) < V:
        best = None
        for a in world_T_cam:
            for b in range(V):
                if b in world_T_cam:
                    continue
                shared = sorted(set(poses[a]) & set(poses[b]))
                if shared and (best is None or len(shared) > len(best[2])):
                    best = (a, b, shared)
        if best is None:
            missing = [names[b] for b in range(V) if b not in world_T_cam]
            connected = [names[a] for a in sorted(world_T_cam)]
            raise BoardCalibrationError(
                f"cameras {missing} share no board image with {names[0]} (directly or through other cameras): take "
                f"images in which the board is seen at the same time by {missing[0]} and one of {connected} "
                "(the same file name in both folders)"
            )
        a, b, shared = best
        a_T_b = _medoid([poses[a][k] @ np.linalg.inv(poses[b][k]) for k in shared])
        world_T_cam[b] = world_T_cam[a] @ a_T_b
    return np.stack([np.linalg.inv(world_T_cam[v]) for v in range(V)])


def _usable_views(name: str, views: Mapping[str, BoardDetection], config: BoardCalibrationConfig) -> dict[str, BoardDetection]:
    found = {k: d for k, d in views.items() if len(d)}
    if not found:
        raise BoardCalibrationError(
            f"camera {name}: no ChArUco corners in any of its {len(views)} images — wrong --squares (columns x rows "
            "of squares, as printed) or --dictionary (the markers' family, e.g. DICT_5X5_100)? Check also that "
            "the board is in focus and not mirrored"
        )
    usable = {k: d for k, d in found.items() if len(d) >= config.min_corners and not d.is_degenerate}
    if not usable:
        raise BoardCalibrationError(
            f"camera {name}: the board is seen edge-on or too little of it in every image ({len(found)} with "
            f"corners, none with >= {config.min_corners} corners off one line): tilt the board towards {name}"
        )
    return usable


def calibrate_from_board(
    detections: Mapping[str, Mapping[str, BoardDetection]],
    image_sizes: Mapping[str, tuple[int, int]],
    spec: BoardSpec,
    config: BoardCalibrationConfig | None = None,
    *,
    camera_order: Sequence[str],
    intrinsics: Rig | None = None,
    world_image: str | None = None,
) -> BoardCalibrationResult:
    """Calibrate the cameras ``camera_order`` from their board detections.

    Args:
        detections: camera name → image name → corners found in it (images are paired across
            cameras by name: the same name = taken at the same time).
        image_sizes: camera name → (width, height) px.
        intrinsics: use these cameras' intrinsics and distortion instead of estimating them.
        world_image: put the world frame on the board as seen in this image (REP 103 axes).

    Raises:
        BoardCalibrationError: naming the camera and what to change.
    """
    config = config or BoardCalibrationConfig()
    names = list(camera_order)
    usable = [_usable_views(n, detections.get(n, {}), config) for n in names]
    cams, intrinsic_rms, estimated_terms = [], [], []
    for name, views in zip(names, usable):
        if intrinsics is not None:
            if name not in intrinsics.names:
                raise BoardCalibrationError(f"camera {name}: not in the --intrinsics calibration (it has {intrinsics.names})")
            given = intrinsics[name]
            if (given.width, given.height) != tuple(image_sizes[name]):
                raise BoardCalibrationError(
                    f"camera {name}: --intrinsics is for {given.width}x{given.height} images, these are "
                    f"{image_sizes[name][0]}x{image_sizes[name][1]}"
                )
            cams.append(dataclasses.replace(given, world_T_camera=np.eye(4)))
            intrinsic_rms.append(float("nan"))
            estimated_terms.append(())
        else:
            camera, rms, terms = _intrinsics(name, tuple(image_sizes[name]), list(views.values()), spec, config)
            cams.append(camera)
            intrinsic_rms.append(rms)
            estimated_terms.append(terms)
    array = CameraArray.from_rig(Rig(cameras=tuple(cams)))
    poses = [{k: T for k, d in views.items() if (T := _board_pose(array, v, spec, d)) is not None}
             for v, views in enumerate(usable)]
    camera_T_world = _spanning_tree(names, poses)
    # Every view is adjusted (single-camera views refine intrinsics); boards seen by two or more
    # cameras tie the cameras together. Each board's first pose is from the camera that saw most of it.
    seen = sorted(set().union(*poses))
    shared = [k for k in seen if sum(k in p for p in poses) >= 2]
    world_T_board = []
    cam_idx, pt_idx, pix = [], [], []
    Q = len(spec.corners)
    for b, key in enumerate(seen):
        best = max((v for v in range(len(names)) if key in poses[v]), key=lambda v: len(usable[v][key]))
        world_T_board.append(np.linalg.inv(camera_T_world[best]) @ poses[best][key])
        for v in range(len(names)):
            if key in poses[v]:
                det = usable[v][key]
                cam_idx.append(np.full(len(det), v))
                pt_idx.append(b * Q + det.ids)
                pix.append(det.corners)
    rms = np.array(intrinsic_rms)
    boards: dict[str, np.ndarray] = {}
    if seen:
        array = dataclasses.replace(array, camera_T_world=camera_T_world)
        fixed = np.zeros(len(names), bool)
        fixed[0] = True
        cam_idx_a = np.concatenate(cam_idx)
        refine = config.refine_intrinsics and intrinsics is None
        model_terms = _TERMS[config.distortion_model]
        result = bundle_adjust(
            array, camera_index=cam_idx_a, point_index=np.concatenate(pt_idx), pixels=np.concatenate(pix),
            fixed_cameras=fixed, world_T_board=np.stack(world_T_board), board_points=spec.corners,
            config=BundleConfig(loss=config.loss, loss_scale_px=config.loss_scale_px,
                                intrinsics="all" if refine else "fixed", distortion_terms=len(model_terms),
                                max_evaluations=config.max_evaluations),
            # Each camera refines the distortion terms its own views earned (the others stay 0).
            free_distortion=np.array([[t in terms for t in model_terms] for terms in estimated_terms]) if refine else None,
        )
        camera_T_world, K = result.camera_T_world, result.K
        distortion = [result.fisheye[v] if c.distortion_model == "equidistant" else result.rational[v, :c.distortion.size]
                      for v, c in enumerate(cams)]
        rms = result.camera_rms_px(cam_idx_a, len(names))
        boards = dict(zip(seen, result.world_T_board))
    else:
        K, distortion = array.K, [c.distortion for c in cams]
    world_T_camera = np.linalg.inv(camera_T_world)
    if world_image is not None:
        if world_image not in boards and not any(world_image in p for p in poses):
            raise BoardCalibrationError(
                f"--world board:{world_image}: no camera sees the board (with enough corners) in an image of that name"
            )
        if world_image not in boards:
            v = next(v for v, p in enumerate(poses) if world_image in p)
            boards[world_image] = world_T_camera[v] @ poses[v][world_image]
        new_T_world = np.linalg.inv(boards[world_image] @ _BOARD_T_REP103)
        world_T_camera = new_T_world @ world_T_camera
        boards = {k: new_T_world @ T for k, T in boards.items()}
    world_T_camera[:, 3] = (0.0, 0.0, 0.0, 1.0)
    rig = Rig(cameras=tuple(dataclasses.replace(c, camera_matrix=K[v], distortion=distortion[v],
                                                world_T_camera=world_T_camera[v])
                            for v, c in enumerate(cams)),
              world_frame="world" if world_image is not None else cams[0].frame_id)
    centres = camera_centres(np.linalg.inv(world_T_camera))
    reports = [
        CameraBoardReport(
            name=name, images=len(detections.get(name, {})),
            views_with_corners=sum(1 for d in detections.get(name, {}).values() if len(d)),
            corners_found=sum(len(d) for d in detections.get(name, {}).values()),
            views_used=len(poses[v]), views_shared=sum(k in poses[v] for k in shared),
            rms_px=float(rms[v]), intrinsics_rms_px=intrinsic_rms[v], distortion_terms=estimated_terms[v],
        )
        for v, name in enumerate(names)
    ]
    return BoardCalibrationResult(rig=rig, cameras=reports,
                                  baselines_m=np.linalg.norm(centres[:, None] - centres[None], axis=-1),
                                  world_T_board=boards)
