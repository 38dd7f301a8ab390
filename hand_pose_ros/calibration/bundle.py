"""Robust bundle adjustment over camera poses and either free 3D points or rigid boards.

One solver serves both calibrations: ``calibrate board`` (structure = board poses, each a rigid
copy of the board's corners) and ``calibrate hands`` (structure = free 3D joints). Residuals
are pixels through the project's camera model (``fusion.camera.distort_normalized``: plumb_bob,
rational, equidistant), minimised by ``scipy.optimize.least_squares`` (trust-region reflective,
sparse finite-difference Jacobian, robust loss). Poses are rotation vector + translation.

Per-detection offsets (``detection_index`` with ``offset_sigma_px``): observations grouped into
detections (one hand in one image) may share a nuisance 2D shift, and optionally a small
scale and rotation about the detection's centre, each held by a Gaussian prior; the camera
poses then answer only to what the shared transforms cannot absorb (the hand's shape in each
view, and the offsets' part that the priors deny them).

Measured depths (``depth_m``, free-point problems): an observation may also carry its joint's
depth along its camera's optical axis from an aligned depth map, a metric witness of where the
camera lies along its own axis (which pixels of small hands leave nearly free); each camera's
depth has its own bias b_v, held by a prior, so a sensor reading a few mm long does not move
its camera.

Legend: V cameras, M observations, P free points, B boards of Q corners, D detections.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from hand_pose_ros.calibration.gauge import camera_centres
from hand_pose_ros.fusion.camera import CameraArray, distort_normalized
from hand_pose_ros.checks import check_choice
from hand_pose_ros.types import check_shape

__all__ = ["BundleConfig", "BundleResult", "bundle_adjust", "camera_depths", "pose_to_vector", "vector_to_pose", "LOSSES", "INTRINSICS"]

LOSSES = ("linear", "huber", "soft_l1", "cauchy")
INTRINSICS = ("fixed", "focal", "all")
# Points closer than this to a camera's plane (metres) are behind it; their residual is this
# many pixels so the optimiser is pushed away rather than fed NaN.
_MIN_DEPTH_M = 1e-4
_BEHIND_CAMERA_PX = 1e3
# Weight (pixels per unit of relative scale) of the scale prior that fixes the hand problem's
# scale gauge: 1e4 px per 100 % ≈ the whole image, i.e. effectively a hard constraint.
_SCALE_PRIOR_PX = 1e4
# A measured depth's residual (in units of its σ) where the robust loss starts to flatten: the
# samples are gated before (``calibrate hands``), what remains has a stereo sensor's heavier
# tails (edges, skin) than a Gaussian's.
_DEPTH_LOSS_SIGMAS = 2.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class BundleConfig:
    """Settings of ``bundle_adjust``.

    Attributes:
        loss: scipy robust loss, one of ``LOSSES``.
        loss_scale_px: residual (px) where the robust loss starts to flatten (≈ 2–3σ of the
            2D noise: board corners ≈ 0.1–0.5 px, hand keypoints ≈ 3–6 px).
        intrinsics: which intrinsics every camera refines, one of ``INTRINSICS``: ``"fixed"``,
            ``"focal"`` (one scale of fx, fy per camera), ``"all"`` (fx, fy, cx, cy and the
            model's first ``distortion_terms`` coefficients).
        distortion_terms: coefficients refined with ``"all"`` (4: k1, k2, p1, p2 of plumb_bob, or
            k1..k4 of equidistant; 5 adds k3 of plumb_bob), each camera's ``free_distortion``
            of them.
        max_evaluations: cap on residual evaluations (scipy's ``max_nfev``).
        tolerance: scipy's ftol = xtol (relative change that ends the iterations).
    """

    loss: str = "soft_l1"
    loss_scale_px: float = 1.0
    intrinsics: str = "fixed"
    distortion_terms: int = 4
    max_evaluations: int = 100
    tolerance: float = 1e-10

    def __post_init__(self) -> None:
        check_choice("BundleConfig.loss", self.loss, LOSSES)
        check_choice("BundleConfig.intrinsics", self.intrinsics, INTRINSICS)
        if not self.loss_scale_px > 0 or self.max_evaluations < 1 or not self.tolerance > 0:
            raise ValueError(
                "BundleConfig: loss_scale_px and tolerance must be > 0 and max_evaluations >= 1, got "
                f"{self.loss_scale_px}, {self.tolerance}, {self.max_evaluations}"
            )


@dataclasses.dataclass(frozen=True, eq=False)
class BundleResult:
    """camera_T_world: (V, 4, 4); K: (V, 3, 3) px; rational (V, 8) / fisheye (V, 4) distortion; points: (P, 3) m world (free-point problems) or
    world_T_board: (B, 4, 4) (board problems); residuals_px: (M, 2) final reprojection residuals
    (projection − pixel, without the detections' offsets); depth_residuals_m: (M,) point depth in
    its camera − measured depth − the camera's bias, m (NaN without a measurement; None without
    ``depth_m``); depth_bias_m: (V,) each camera's depth bias, m (None without); offsets: (D, 2)
    px shifts, or (D, 4) with the relative scale and rotation, of each detection (None without ``offset_sigma_px``);
    success/message/evaluations: scipy's report."""

    camera_T_world: np.ndarray
    K: np.ndarray
    rational: np.ndarray
    fisheye: np.ndarray
    points: np.ndarray | None
    world_T_board: np.ndarray | None
    residuals_px: np.ndarray
    offsets: np.ndarray | None
    depth_residuals_m: np.ndarray | None
    depth_bias_m: np.ndarray | None
    success: bool
    message: str
    evaluations: int

    def camera_rms_px(self, camera_index: np.ndarray, num_cameras: int) -> np.ndarray:
        """(V,) RMS of the 2D residual vectors' lengths per camera, px (NaN for a camera with none)."""
        sq = (self.residuals_px**2).sum(1)
        out = np.full(num_cameras, np.nan)
        for v in range(num_cameras):
            mine = camera_index == v
            if mine.any():
                out[v] = float(np.sqrt(sq[mine].mean()))
        return out


def pose_to_vector(T: np.ndarray) -> np.ndarray:
    """(…, 4, 4) rigid transforms → (…, 6) rotation vector (rad) and translation (m)."""
    T = np.asarray(T, np.float64)
    rvec = Rotation.from_matrix(T[..., :3, :3].reshape(-1, 3, 3)).as_rotvec().reshape(T.shape[:-2] + (3,))
    return np.concatenate([rvec, T[..., :3, 3]], axis=-1)


def vector_to_pose(x: np.ndarray) -> np.ndarray:
    """(…, 6) rotation vector and translation → (…, 4, 4) rigid transforms."""
    x = np.asarray(x, np.float64)
    out = np.zeros(x.shape[:-1] + (4, 4))
    out[..., :3, :3] = Rotation.from_rotvec(x[..., :3].reshape(-1, 3)).as_matrix().reshape(x.shape[:-1] + (3, 3))
    out[..., :3, 3] = x[..., 3:]
    out[..., 3, 3] = 1.0
    return out


def _project(cameras: CameraArray, K: np.ndarray, cam_T_world: np.ndarray, camera_index: np.ndarray,
             world: np.ndarray) -> np.ndarray:
    """(M,) camera per observation, (M, 3) world points → (M, 2) distorted pixels."""
    R, t = cam_T_world[camera_index, :3, :3], cam_T_world[camera_index, :3, 3]  # (M, 3, 3), (M, 3)
    local = np.einsum("mij,mj->mi", R, world) + t  # (M, 3) camera frame
    z = local[:, 2]
    behind = z < _MIN_DEPTH_M
    xy = local[:, :2] / np.where(behind, 1.0, z)[:, None]
    xy = distort_normalized(xy[:, None, :], cameras.rational[camera_index], cameras.fisheye[camera_index],
                            cameras.is_fisheye[camera_index])[:, 0]
    Km = K[camera_index]
    u = Km[:, 0, 0] * xy[:, 0] + Km[:, 0, 1] * xy[:, 1] + Km[:, 0, 2]
    v = Km[:, 1, 1] * xy[:, 1] + Km[:, 1, 2]
    out = np.stack([u, v], axis=-1)
    out[behind] = _BEHIND_CAMERA_PX
    return out


def camera_depths(camera_T_world: np.ndarray, camera_index: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(V, 4, 4) cameras, (M,) int camera of each observation, (M, 3) m world points → (M,) m each
    point's depth along its camera's optical axis (the third row of R·X + t)."""
    T = camera_T_world[camera_index]  # (M, 4, 4)
    return np.einsum("mj,mj->m", T[:, 2, :3], points) + T[:, 2, 3]


def _robust(r: np.ndarray, config: BundleConfig, scale: float | None = None) -> np.ndarray:
    """Pixel residuals → robustified residuals whose squares are the robust loss (Triggs et al.,
    "Bundle adjustment — a modern synthesis", §4.3), so priors added beside them stay quadratic.
    Losses as scipy's (scale f, ``config.loss_scale_px`` unless ``scale`` is given): huber,
    soft_l1 2f²(√(1 + r²/f²) − 1), cauchy f² ln(1 + r²/f²)."""
    if config.loss == "linear":
        return r
    f = config.loss_scale_px if scale is None else scale
    z = (r / f) ** 2
    if config.loss == "huber":
        rho = np.where(z <= 1.0, z, 2.0 * np.sqrt(z) - 1.0)
    elif config.loss == "soft_l1":
        rho = 2.0 * (np.sqrt(1.0 + z) - 1.0)
    else:
        rho = np.log1p(z)
    return np.sign(r) * f * np.sqrt(rho)


def bundle_adjust(
    cameras: CameraArray,
    *,
    camera_index: np.ndarray,
    point_index: np.ndarray,
    pixels: np.ndarray,
    fixed_cameras: np.ndarray,
    config: BundleConfig,
    points: np.ndarray | None = None,
    world_T_board: np.ndarray | None = None,
    board_points: np.ndarray | None = None,
    scale_pair: tuple[int, int] | None = None,
    pose_prior: tuple[float, float] | None = None,
    weights: np.ndarray | None = None,
    free_distortion: np.ndarray | None = None,
    detection_index: np.ndarray | None = None,
    offset_sigma_px: np.ndarray | None = None,
    similarity_sigma: np.ndarray | None = None,
    hold_mean_focal: bool = False,
    bone_pairs: np.ndarray | None = None,
    bone_index: np.ndarray | None = None,
    bone_sigma_m: np.ndarray | None = None,
    depth_m: np.ndarray | None = None,
    depth_sigma_m: np.ndarray | None = None,
    depth_bias_sigma_m: np.ndarray | None = None,
    depth_weights: np.ndarray | None = None,
) -> BundleResult:
    """Minimise the robust pixel reprojection error over free camera poses and the structure.

    Args:
        cameras: the V cameras' intrinsics, distortion and initial ``camera_T_world``.
        camera_index: (M,) int camera of each observation.
        point_index: (M,) int structure point of each observation: a row of ``points``, or
            ``b * Q + q`` for corner q of board b.
        pixels: (M, 2) observed distorted pixels.
        fixed_cameras: (V,) bool, cameras whose pose is held fixed (intrinsics follow
            ``config.intrinsics`` for every camera); at least one, which (with a board's known
            size, or ``scale_pair``) fixes the gauge, unless ``pose_prior`` holds every camera.
        points: (P, 3) initial free world points (metres), or None for a board problem.
        world_T_board: (B, 4, 4) initial board poses, with ``board_points`` (Q, 3) metres in the
            board frame.
        scale_pair: (a, b) cameras whose centre distance is held at its initial value (the scale
            gauge of a free-point problem, which has no known length).
        pose_prior: (σ rotation in radians, σ centre in metres) of a prior holding each free
            camera near its initial pose: 6 quadratic residuals change / σ, in the units of the
            weighted pixel residuals (with ``weights`` = 1 / σ_px the cost is a negative
            log-likelihood: one σ of change costs as much as a one-σ pixel residual), so the
            images must earn a move, and directions they leave undetermined stay put.
        weights: (M,) ≥ 0 per observation, multiplying its robustified pixel residuals
            (1 / px: one over the observation's standard deviation); None = 1.
        free_distortion: (V, distortion_terms) bool, which of its first ``distortion_terms``
            coefficients each camera refines with ``intrinsics="all"`` (the others stay as
            given); None = all.
        detection_index: (M,) int in [0, D), the detection each observation belongs to; with
            ``offset_sigma_px`` each detection gets a nuisance 2D shift b_d added to its
            projections, held by the prior b_d / σ_d (2 residuals in the units of the weighted
            pixel residuals, as ``pose_prior``'s): a shift the detector gives a whole detection
            (its error persists while the hand is seen the same way) is absorbed up to σ_d
            instead of turning the camera, which then answers to the hand's shape in the view.
        offset_sigma_px: (D,) > 0 prior σ of each detection's shift, px (inf: a free shift).
        similarity_sigma: (D,) > 0, optional: each detection also gets a relative scale s_d
            and rotation θ_d (radians) about the centre c_d of its observed pixels:
            prediction + b_d + (s_d I + θ_d J)(pixel − c_d), prior s_d / σ_d, θ_d / σ_d.

        hold_mean_focal: with ``intrinsics="focal"``, hold the mean of the cameras' log
            focal scales at 0 (as ``scale_pair`` holds the scale): for hands small against
            their distance, every focal length × s and the structure × 1/s about its centre
            project alike, so points without a known size cannot tell the focal lengths' common
            scale, only their ratios.
        bone_pairs: (E, 2) int rows of ``points`` joined by a bone (free-point problems): with
            ``bone_index`` and ``bone_sigma_m`` each gets the residual (|X_a − X_b| − L_k) / σ_e
            against a free length L_k (k = ``bone_index[e]``, started at the median of its
            initial lengths), in the units of the weighted pixel residuals: one hand's bones keep
            their lengths in every frame, which a wrong camera pose breaks as the hand moves and
            turns (its triangulation stretches space differently in different places), while the
            free lengths leave the scale to the other gauge terms.
        bone_index: (E,) int in [0, L), the length each bone shares (one per hand and bone).
        bone_sigma_m: (E,) > 0 1σ of a bone's length about its shared length, metres.
        depth_m: (M,) measured depth (metres, along the camera's optical axis) of each
            observation's point in its camera, NaN where none (free-point problems): with
            ``depth_sigma_m`` and ``depth_bias_sigma_m`` each gets the residual
            ρ((z − d − b_v) / σ) (z the point's depth in camera v, ρ the config's loss at
            ``_DEPTH_LOSS_SIGMAS``), in the units of the weighted pixel residuals, and each camera
            a free depth bias b_v with the prior b_v / σ_b,v.
        depth_sigma_m: (M,) > 0 1σ of each measured depth, metres (NaN or inf: not used).
        depth_bias_sigma_m: (V,) > 0 1σ of each camera's depth bias, metres.
        depth_weights: (M,) ≥ 0 multiplying each robustified depth residual (as ``weights``
            the pixels': measurements that share an error count as fewer); None = 1.

    Raises:
        ValueError: shapes that disagree, no fixed camera, or both/neither structure kind.
    """
    V = len(cameras)
    camera_index = np.asarray(camera_index, np.int64)
    point_index = np.asarray(point_index, np.int64)
    M = camera_index.size
    pixels = check_shape("pixels", pixels, (M, 2), "bundle_adjust").astype(np.float64)
    row_weights = np.ones(2 * M) if weights is None else \
        np.repeat(check_shape("weights", np.asarray(weights, np.float64), (M,), "bundle_adjust"), 2)
    fixed = check_shape("fixed_cameras", np.asarray(fixed_cameras, bool), (V,), "bundle_adjust")
    if not fixed.any() and pose_prior is None:
        raise ValueError("bundle_adjust: at least one camera must be fixed, or a pose_prior given (the world frame's gauge)")
    if (points is None) == (world_T_board is None):
        raise ValueError("bundle_adjust: give either points (free structure) or world_T_board with board_points")
    n_offset = n_per_det = 0
    if offset_sigma_px is not None:
        if detection_index is None:
            raise ValueError("bundle_adjust: offset_sigma_px needs detection_index")
        detection_index = check_shape("detection_index", np.asarray(detection_index, np.int64), (M,), "bundle_adjust")
        D = int(detection_index.max()) + 1 if M else 0
        offset_sigma = check_shape("offset_sigma_px", np.asarray(offset_sigma_px, np.float64), (D,), "bundle_adjust")
        sim_sigma = None if similarity_sigma is None else \
            check_shape("similarity_sigma", np.asarray(similarity_sigma, np.float64), (D,), "bundle_adjust")
        if detection_index.min(initial=0) < 0 or not (offset_sigma > 0).all() or \
                (sim_sigma is not None and not (sim_sigma > 0).all()):
            raise ValueError("bundle_adjust: detection_index must be >= 0 and offset_sigma_px, similarity_sigma > 0")
        n_per_det = 2 if sim_sigma is None else 4
        n_offset = n_per_det * D
        # (D, 2) centre of each detection's observed pixels: the similarity's fixed point.
        counts = np.maximum(np.bincount(detection_index, minlength=D), 1)
        centre = np.stack([np.bincount(detection_index, pixels[:, k], minlength=D) for k in range(2)], 1) / counts[:, None]
        about = pixels - centre[detection_index]  # (M, 2) px
        perpendicular = np.stack([-about[:, 1], about[:, 0]], 1)  # J (pixel − c), J = 90° turn
        prior_sigma = np.repeat(offset_sigma, 2) if sim_sigma is None else \
            np.stack([offset_sigma, offset_sigma, sim_sigma, sim_sigma], 1).reshape(-1)  # (n_offset,)
    n_bone = 0
    if bone_pairs is not None:
        if points is None or bone_index is None or bone_sigma_m is None:
            raise ValueError("bundle_adjust: bone_pairs needs free points, bone_index and bone_sigma_m")
        bone_pairs = check_shape("bone_pairs", np.asarray(bone_pairs, np.int64), (None, 2), "bundle_adjust")
        E = bone_pairs.shape[0]
        bone_index = check_shape("bone_index", np.asarray(bone_index, np.int64), (E,), "bundle_adjust")
        bone_sigma = check_shape("bone_sigma_m", np.asarray(bone_sigma_m, np.float64), (E,), "bundle_adjust")
        if E and (bone_index.min() < 0 or not (bone_sigma > 0).all() or bone_pairs.min() < 0
                  or bone_pairs.max() >= np.asarray(points).shape[0]):
            raise ValueError("bundle_adjust: bone_pairs must index points, bone_index be >= 0 and bone_sigma_m > 0")
        n_bone = int(bone_index.max()) + 1 if E else 0
        start = np.asarray(points, np.float64)
        initial = np.linalg.norm(start[bone_pairs[:, 0]] - start[bone_pairs[:, 1]], axis=1)  # (E,) m
        length0 = np.array([np.median(initial[bone_index == k]) if (bone_index == k).any() else 0.0
                            for k in range(n_bone)])
    depth_rows = np.zeros(0, np.int64)
    if depth_m is not None:
        if points is None or depth_sigma_m is None or depth_bias_sigma_m is None:
            raise ValueError("bundle_adjust: depth_m needs free points, depth_sigma_m and depth_bias_sigma_m")
        depth_m = check_shape("depth_m", np.asarray(depth_m, np.float64), (M,), "bundle_adjust")
        depth_sigma = check_shape("depth_sigma_m", np.asarray(depth_sigma_m, np.float64), (M,), "bundle_adjust")
        bias_sigma = check_shape("depth_bias_sigma_m", np.asarray(depth_bias_sigma_m, np.float64), (V,), "bundle_adjust")
        if not (np.nan_to_num(depth_sigma, nan=1.0) > 0).all() or not (bias_sigma > 0).all():
            raise ValueError("bundle_adjust: depth_sigma_m and depth_bias_sigma_m must be > 0")
        depth_weight = np.ones(M) if depth_weights is None else \
            check_shape("depth_weights", np.asarray(depth_weights, np.float64), (M,), "bundle_adjust")
        depth_rows = np.flatnonzero(np.isfinite(depth_m) & np.isfinite(depth_sigma) & (depth_weight > 0))  # with a depth
    n_depth_bias = V if depth_rows.size else 0
    free = np.flatnonzero(~fixed)
    slot = np.full(V, -1)
    slot[free] = np.arange(free.size)
    n_cam = 6 * free.size
    n_dist = config.distortion_terms if config.intrinsics == "all" else 0
    per_camera = {"fixed": 0, "focal": 1, "all": 4 + n_dist}[config.intrinsics]
    if points is not None:
        structure0 = check_shape("points", points, (None, 3), "bundle_adjust").astype(np.float64).reshape(-1)
        block = 3
        Q = 1
    else:
        board_points = check_shape("board_points", board_points, (None, 3), "bundle_adjust").astype(np.float64)
        structure0 = pose_to_vector(check_shape("world_T_board", world_T_board, (None, 4, 4), "bundle_adjust")).reshape(-1)
        block = 6
        Q = board_points.shape[0]
    owner = point_index // Q  # (M,) structure block of each observation
    K0 = cameras.K.copy()
    fish_terms = min(n_dist, cameras.fisheye.shape[1])  # equidistant has 4 coefficients, plumb_bob 5
    dist0 = cameras.rational[:, :n_dist].copy()
    dist0[cameras.is_fisheye, :fish_terms] = cameras.fisheye[cameras.is_fisheye, :fish_terms]
    if config.intrinsics == "all":
        intrinsics0 = np.concatenate([K0[:, 0, 0:1], K0[:, 1, 1:2], K0[:, 0, 2:3], K0[:, 1, 2:3], dist0], 1)
    else:
        intrinsics0 = np.zeros((V, per_camera))
    refined = np.ones((V, per_camera), bool)  # which intrinsic parameters are unknowns
    if free_distortion is not None and n_dist:
        refined[:, 4:] = check_shape("free_distortion", np.asarray(free_distortion, bool), (V, n_dist), "bundle_adjust")
    column = np.full((V, per_camera), -1)
    column[refined] = np.arange(int(refined.sum()))  # (V, per_camera) offset in the intrinsics block, −1 = held
    n_focal = int(refined.sum())
    hold_focal = hold_mean_focal and config.intrinsics == "focal" and n_focal > 0
    x0 = np.concatenate([pose_to_vector(cameras.camera_T_world[free]).reshape(-1), intrinsics0[refined], structure0,
                         np.zeros(n_offset), length0 if n_bone else np.zeros(0), np.zeros(n_depth_bias)])
    structure = slice(n_cam + n_focal, n_cam + n_focal + structure0.size)  # x's structure block
    arrays = cameras
    base_T = cameras.camera_T_world.copy()
    centre0 = cameras.centers
    scale0 = float(np.linalg.norm(centre0[scale_pair[0]] - centre0[scale_pair[1]])) if scale_pair else 0.0

    first_offset = x0.size - n_offset - n_bone - n_depth_bias
    first_bone = x0.size - n_bone - n_depth_bias
    first_depth_bias = x0.size - n_depth_bias

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cam_T = base_T.copy()
        cam_T[free] = vector_to_pose(x[:n_cam].reshape(-1, 6))
        K = K0.copy()
        model = arrays
        if config.intrinsics == "focal":
            scale = np.exp(x[n_cam : n_cam + n_focal])
            K[:, 0, 0] *= scale
            K[:, 1, 1] *= scale
            K[:, 0, 1] *= scale
        elif config.intrinsics == "all":
            p = intrinsics0.copy()
            p[refined] = x[n_cam : n_cam + n_focal]
            K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2] = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
            if n_dist:
                rational, fish = arrays.rational.copy(), arrays.fisheye.copy()
                rational[~arrays.is_fisheye, :n_dist] = p[~arrays.is_fisheye, 4:]
                fish[arrays.is_fisheye, :fish_terms] = p[arrays.is_fisheye, 4 : 4 + fish_terms]
                model = dataclasses.replace(arrays, rational=rational, fisheye=fish)
        s = x[structure]
        if points is not None:
            world = s.reshape(-1, 3)[point_index]
        else:
            boards = vector_to_pose(s.reshape(-1, 6))  # (B, 4, 4)
            local = board_points[point_index % Q]
            world = np.einsum("mij,mj->mi", boards[owner, :3, :3], local) + boards[owner, :3, 3]
        return cam_T, K, model, world

    R0 = base_T[free, :3, :3]

    def offsets(x: np.ndarray) -> np.ndarray:
        """(M, 2) px each observation's share of its detection's nuisance transform."""
        o = x[first_offset:first_bone].reshape(-1, n_per_det)[detection_index]  # (M, 2 or 4)
        shift = o[:, :2]
        if n_per_det == 4:
            shift = shift + o[:, 2:3] * about + o[:, 3:4] * perpendicular
        return shift

    def residuals(x: np.ndarray) -> np.ndarray:
        cam_T, K, model, world = unpack(x)
        predicted = _project(model, K, cam_T, camera_index, world)
        if n_offset:
            predicted = predicted + offsets(x)
        parts = [row_weights * _robust((predicted - pixels).reshape(-1), config)]
        if pose_prior is not None:
            turn = Rotation.from_matrix(cam_T[free, :3, :3] @ R0.transpose(0, 2, 1)).as_rotvec()  # (F, 3)
            shift = camera_centres(cam_T[free]) - centre0[free]  # (F, 3)
            parts.append(np.concatenate([turn / pose_prior[0], shift / pose_prior[1]], 1).reshape(-1))
        if scale_pair is not None:
            centres = camera_centres(cam_T[list(scale_pair)])
            ratio = np.linalg.norm(centres[0] - centres[1]) / scale0 - 1.0
            parts.append([_SCALE_PRIOR_PX * ratio])
        if n_offset:
            parts.append(x[first_offset:first_bone] / prior_sigma)
        if hold_focal:
            parts.append([_SCALE_PRIOR_PX * x[n_cam : n_cam + n_focal].mean()])
        if n_bone:
            joints = x[structure].reshape(-1, 3)
            length = np.linalg.norm(joints[bone_pairs[:, 0]] - joints[bone_pairs[:, 1]], axis=1)  # (E,) m
            parts.append((length - x[first_bone:first_depth_bias][bone_index]) / bone_sigma)
        if n_depth_bias:
            v = camera_index[depth_rows]
            local_z = camera_depths(cam_T, v, world[depth_rows])  # (N,) m
            bias = x[first_depth_bias:]
            parts.append(depth_weight[depth_rows] * _robust((local_z - depth_m[depth_rows] - bias[v])
                                                            / depth_sigma[depth_rows], config, _DEPTH_LOSS_SIGMAS))
            parts.append(bias / bias_sigma)
        return np.concatenate(parts)

    # Sparsity: each observation's two rows depend on its camera's pose (and focal) and its structure block.
    rows, cols = [], []
    obs_rows = np.repeat(np.arange(M), 2) * 2 + np.tile([0, 1], M)  # (2M,)
    obs_of_row = np.repeat(np.arange(M), 2)
    cam_of_row = slot[camera_index[obs_of_row]]
    moving = cam_of_row >= 0
    for k in range(6):
        rows.append(obs_rows[moving])
        cols.append(6 * cam_of_row[moving] + k)
    for k in range(per_camera):
        col = column[camera_index[obs_of_row], k]
        rows.append(obs_rows[col >= 0])
        cols.append(n_cam + col[col >= 0])
    for k in range(block):
        rows.append(obs_rows)
        cols.append(n_cam + n_focal + block * owner[obs_of_row] + k)
    if n_offset:
        # Each observation row depends on its detection's transform (x row: b_x, s, θ; y row:
        # b_y, s, θ — all listed, the pattern only needs to cover them).
        for k in range(n_per_det):
            rows.append(obs_rows)
            cols.append(first_offset + n_per_det * detection_index[obs_of_row] + k)
    n_rows = 2 * M
    if pose_prior is not None:
        for f in range(free.size):
            rows.append(np.repeat(n_rows + 6 * f + np.arange(6), 6))
            cols.append(np.tile(6 * f + np.arange(6), 6))
        n_rows += 6 * free.size
    if scale_pair is not None:
        for v in scale_pair:
            if slot[v] >= 0:
                rows.append(np.full(6, n_rows))
                cols.append(6 * slot[v] + np.arange(6))
        n_rows += 1
    if hold_focal:
        rows.append(np.full(n_focal, n_rows))
        cols.append(n_cam + np.arange(n_focal))
        n_rows += 1
    if n_offset:
        rows.append(n_rows + np.arange(n_offset))
        cols.append(first_offset + np.arange(n_offset))
        n_rows += n_offset
    if n_bone:
        # A bone's row depends on its two joints' coordinates and its shared length.
        bone_rows = n_rows + np.arange(len(bone_pairs))
        for end in range(2):
            for k in range(3):
                rows.append(bone_rows)
                cols.append(n_cam + n_focal + 3 * bone_pairs[:, end] + k)
        rows.append(bone_rows)
        cols.append(first_bone + bone_index)
        n_rows += len(bone_pairs)
    if n_depth_bias:
        # A depth row depends on its camera's pose, its point and its camera's bias.
        depth_of_row = n_rows + np.arange(depth_rows.size)
        cam_slot = slot[camera_index[depth_rows]]
        for k in range(6):
            rows.append(depth_of_row[cam_slot >= 0])
            cols.append(6 * cam_slot[cam_slot >= 0] + k)
        for k in range(3):
            rows.append(depth_of_row)
            cols.append(n_cam + n_focal + 3 * point_index[depth_rows] + k)
        rows.append(depth_of_row)
        cols.append(first_depth_bias + camera_index[depth_rows])
        n_rows += depth_rows.size
        rows.append(n_rows + np.arange(V))
        cols.append(first_depth_bias + np.arange(V))
        n_rows += V
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    sparsity = scipy.sparse.coo_matrix((np.ones(rows_all.size), (rows_all, cols_all)), shape=(n_rows, x0.size)).tocsr()
    result = least_squares(
        residuals, x0, jac_sparsity=sparsity, method="trf", loss="linear",
        x_scale="jac", ftol=config.tolerance, xtol=config.tolerance, max_nfev=config.max_evaluations,
        tr_solver="lsmr",
    )
    cam_T, K, model, world = unpack(result.x)
    final = _project(model, K, cam_T, camera_index, world) - pixels
    s = result.x[structure]
    depth_residuals = depth_bias_out = None
    if depth_m is not None:
        depth_bias_out = result.x[first_depth_bias:] if n_depth_bias else np.zeros(V)
        depth_residuals = camera_depths(cam_T, camera_index, world) - depth_m - depth_bias_out[camera_index]
    return BundleResult(
        camera_T_world=cam_T,
        K=K,
        rational=model.rational,
        fisheye=model.fisheye,
        points=s.reshape(-1, 3) if points is not None else None,
        world_T_board=vector_to_pose(s.reshape(-1, 6)) if points is None else None,
        residuals_px=final,
        offsets=result.x[first_offset:first_bone].reshape(-1, n_per_det) if n_offset else None,
        depth_residuals_m=depth_residuals,
        depth_bias_m=depth_bias_out,
        success=bool(result.success),
        message=str(result.message),
        evaluations=int(result.nfev),
    )
