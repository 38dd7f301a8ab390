"""3D → 2D feedback: fused 3D hands projected into every camera become hand crops there.

A view whose palm detector misses a hand (small, or its palm hidden by an object) still gets
keypoints when the other views have located the hand in 3D: the hand's projection gives the
landmark network's crop (centre, size, rotation as MediaPipe's own tracking crop), and the
network's presence score decides whether the crop holds a hand. Legend: V views, H hands.

    guided = GuidedDetector(detector, rig)
    for images, stamp in frames:
        detections = guided.detect(images, stamp)   # per view, as HandDetector.detect
        hands = fusion.process(detections, stamp)
        guided.update(hands, stamp, detections)     # crops and searches for the next frame

A hand only one camera sees (a monocular estimate, its depth uncertain) is not fed back as
a crop, but every other camera that shows no hand where it could be (its centre slid along
the seeing camera's ray over ± ``_SEARCH_DEPTH_SIGMAS`` of its depth uncertainty, at least
± ``_MIN_SEARCH_SPREAD`` of its depth) runs its palm detector, in the same frame
(``search_now``, which the pipeline then fuses again) or on the next, on a square around
that segment as well as the whole frame: its own tracking would look again only every
``redetect_interval`` frames, and a square around the segment shows a small hand larger
than the whole frame does. Where the same-frame palm search finds nothing (the palm cut by
the image's edge or hidden), landmark crops follow along that stretch (``ray_crops``). A
second view that finds it turns the guess into a triangulated hand.

With stamps, each fed-back hand is first moved to where it will be at the next frame
(constant velocity of its centre, from its last two frames under the same track id): a
crop placed where a moving hand was lags it by its motion over one frame.

Nothing is invented: only hands that at least ``min_views`` views agreed on (triangulated,
not one-view guesses) are fed back, and a crop whose presence is low gives no detection.

Shedding views (``GuidanceConfig.shed_views``): when the caller cannot keep up, a set may
leave out views that show only well-tracked hands (``views_to_shed``; the caller then passes
None for them, as for a missing camera). Each fed-back hand remembers the views whose
detections lay on its projection when they last ran; a view is left out only when its
detector tracks no hand those memories do not account for, has no palm run due
(``HandDetector.tracked_hands``) and no planned search, and every hand it saw keeps
``min_fresh_views`` views that run. The views that ran most recently are left out first and
none sits out more than ⌈V / min_fresh_views⌉ − 1 sets in a row (V: views with an image), so
the left-out views rotate and each runs at least every ⌈V / min_fresh_views⌉ sets. A left-out
view is a missing camera for that set: no network runs on it, it gives the fusion nothing
(nothing is predicted for it), and its detector state waits for its next image (its
re-detection interval counts the sets it ran).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hand_pose_ros.calibration import Rig
from hand_pose_ros.detection.config import GuidanceConfig
from hand_pose_ros.detection import geometry
from hand_pose_ros.detection.detector import HandDetector
from hand_pose_ros.fusion.camera import CameraArray
from hand_pose_ros.keypoints import NUM_KEYPOINTS, HandKeypoint
from hand_pose_ros.types import Hand3D, HandDetection2D

__all__ = ["GuidanceConfig", "GuidedDetector", "crops_from_hands", "crops_from_keypoints", "palm_tiles", "ray_crops"]

# The keypoints a crop's rotation is taken from (geometry.landmark_rects: wrist → knuckles).
_ORIENTING = (HandKeypoint.WRIST, HandKeypoint.INDEX_FINGER_MCP, HandKeypoint.MIDDLE_FINGER_MCP,
              HandKeypoint.RING_FINGER_MCP)
# A hand's velocity comes from its last two updates only when they are at most this far apart
# (s): over a longer gap (dropped frames, a restart) the difference is not one frame's motion.
_MAX_VELOCITY_GAP_S = 0.2
# Hands rarely move faster than this (m/s, as fusion.tracking); a faster apparent motion is
# estimation noise and is clipped to it.
_MAX_HAND_SPEED_M_S = 2.0
# A one-view hand is looked for in the other views along its ray over its depth ± this many
# depth 1σ (DexYCB, a 45–60 px hand at 1.3 m: the one-view depth was 20–30 % too far, 1σ 15 %).
_SEARCH_DEPTH_SIGMAS = 2.5
# Points sampled along that stretch of the ray (its projection is a segment where all lie in
# front of the camera; samples behind a camera are skipped).
_SEARCH_SAMPLES = 5
# The search covers at least ± this fraction of the hand's depth: the σ of a hand placed on
# aligned depth comes from its agreeing keypoints and does not cover a map taken at another
# moment or misregistered (DexYCB: a view whose depth silhouette is 10-15 px off its colour
# image put the hand 86 mm off at 1.3 m, and a search that narrow missed it in every other
# view); a hand placed from its landmarks has 1σ ≈ 15 % and searches wider anyway.
_MIN_SEARCH_SPREAD = 0.2
# The nearest the search slides a hand towards its camera (fraction of its estimated depth).
_MIN_SEARCH_DEPTH_FACTOR = 0.3
# The search square spans the projected segment plus this many hand sizes (px at each sample)
# around it: the palm detector needs the whole palm inside its input.
_SEARCH_MARGIN_HANDS = 1.0
# A detection is the one-view hand in its view when the hand projects this close (median px).
_SOURCE_MATCH_PX = 10.0
# Where the palm search of a view finds nothing (the palm out of the frame or hidden, the
# hand small), landmark crops are placed on the one-view hand moved along its ray, this many
# hand sizes (px in that view) apart: the landmark network finds a hand whose crop is off by
# a fraction of its size (DexYCB, a 31 px hand cut by the image's edge: a crop 0.1 of the
# depth off found it, presence 0.89, 7.5 px from the labels; 0.2 off, presence 0).
_RAY_CROP_STEP_HANDS = 0.5
# Ray positions tried per view and searched hand, nearest the one-view depth first (each costs
# a landmark run, and the detector takes max_hands external crops per view per call).
_MAX_RAY_CROPS = 8
# The ray is sampled this finely (positions over the search stretch) before the crops are spaced.
_RAY_FINE_SAMPLES = 41
# MediaPipe's tracking crop (geometry.landmark_rects) spans about this many hand sizes.
_CROP_HAND_SIZES = 2.0
# A view saw a fed-back hand when one of its detections lies this close to the hand's projection
# (median px): the fusion's default inlier threshold, the error a view agreeing on a joint may have.
_SEEN_MATCH_PX = 20.0
# A one-view hand's search stretch (_search_stretch): the seeing view, its camera centre (3,)
# m, the hand's centre (3,) m, its radius m, the lowest and highest depth factor.
_Stretch = tuple[int, np.ndarray, np.ndarray, float, float, float]


def palm_tiles(width: int, height: int, tiles: int, overlap: float) -> list[np.ndarray]:
    """The palm detector's search squares for one ``width`` × ``height`` view → list of ``(3,)``
    float64 (centre x, y, side px): the whole frame, then a ``tiles`` × ``tiles`` grid whose
    neighbours share ``overlap`` of a side (none for ``tiles`` = 1)."""
    long_side = float(max(width, height))
    out = [np.array([width / 2, height / 2, long_side])]
    if tiles == 1:
        return out
    # n tiles of side s with step (1 − overlap)·s span the longer side: s (1 + (n − 1)(1 − overlap)) = L.
    side = long_side / (1 + (tiles - 1) * (1 - overlap))
    for axis_y in range(tiles):
        for axis_x in range(tiles):
            # Tile centres spread evenly between the first and last half-side along each axis.
            fx, fy = axis_x / (tiles - 1), axis_y / (tiles - 1)
            cx = side / 2 + fx * max(width - side, 0.0)
            cy = side / 2 + fy * max(height - side, 0.0) if height > side else height / 2
            out.append(np.array([cx, cy, side]))
    return out


def crops_from_hands(hands: Sequence[Hand3D], cameras: CameraArray) -> list[list[np.ndarray]]:
    """H hands (world frame, metres) → per view (V lists) the landmark crops ``(5,)`` float64
    (centre x, y, width, height px, rotation rad) where each hand projects into that view
    (``crops_from_keypoints`` of their keypoints)."""
    return crops_from_keypoints([hand.keypoints_3d for hand in hands], cameras)


def crops_from_keypoints(hands: Sequence[np.ndarray], cameras: CameraArray) -> list[list[np.ndarray]]:
    """H ``(21, 3)`` keypoint arrays (world frame, metres) → per view (V lists) the landmark
    crops ``(5,)`` float64 (centre x, y, width, height px, rotation rad).

    The crop is MediaPipe's tracking crop (``geometry.landmark_rects``) of the projected
    keypoints. A hand is left out of a view where its wrist or knuckles are missing, lie
    behind the camera, or its crop's centre falls outside the image.
    """
    out: list[list[np.ndarray]] = [[] for _ in range(len(cameras))]
    if not len(hands):
        return out
    projected = cameras.project(np.stack(hands).reshape(-1, 3))  # (V, H·21, 2) px, NaN missing / behind
    projected = projected.reshape(len(cameras), len(hands), NUM_KEYPOINTS, 2).transpose(1, 0, 2, 3)  # (H, V, 21, 2)
    usable = np.isfinite(projected[:, :, list(_ORIENTING)]).all((-1, -2))  # (H, V)
    if not usable.any():
        return out
    hand_of, view_of = np.nonzero(usable)  # (M,) each, hand-major
    points = projected[hand_of, view_of]  # (M, 21, 2)
    # A missing finger joint must not widen the crop: it stands in as the wrist.
    points = np.where(np.isfinite(points), points, points[:, HandKeypoint.WRIST, None])
    # All crops in one call (per crop, the ops' overhead outweighed their maths).
    rects = geometry.landmark_rects(points.astype(np.float32)).astype(np.float64)  # (M, 5)
    for view, rect in zip(view_of.tolist(), rects):
        width, height = cameras.image_size[view]
        if 0 <= rect[0] < width and 0 <= rect[1] < height:
            out[view].append(rect)
    return out


class GuidedDetector:
    """``HandDetector`` whose landmark crops also come from fused 3D hands (module docstring).

    Args:
        detector: the 2D detector (its tracking state is used and kept).
        rig: the cameras, in the order ``detect`` takes images.
        config: settings.
    """

    def __init__(self, detector: HandDetector, rig: Rig, config: GuidanceConfig | None = None) -> None:
        self.detector = detector
        self.config = config if config is not None else GuidanceConfig()
        self.cameras = CameraArray.from_rig(rig)
        # The last update's confirmed hands: (track id, (21, 3) m world, (3,) m/s centre velocity).
        self._hands: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._stamp: float | None = None
        # Per view the extra palm squares (3,) where a one-view hand could be, and the views
        # whose palm detector runs on the next frame to look for one (the whole frame at least).
        self._searches: list[list[np.ndarray]] = [[] for _ in range(len(rig))]
        self._search_views: set[int] = set()
        # The planned searches' one-view hands with their search stretches (_search_stretch).
        self._stretches: list[tuple[Hand3D, _Stretch]] = []
        self._tiles = [palm_tiles(int(w), int(h), self.config.palm_tiles, self.config.tile_overlap)
                       for w, h in self.cameras.image_size]
        # Shedding (module docstring): per fed-back track id the views that saw it when they
        # last ran, per view the sets since it last ran, and the views the last ``detect`` ran.
        self._seen: dict[int, set[int]] = {}
        self._idle_sets = [0] * len(rig)
        self._ran: set[int] = set()

    def reset(self) -> None:
        """Forget the fed-back hands and the detector's tracks."""
        self._hands, self._stamp = [], None
        self._seen, self._idle_sets, self._ran = {}, [0] * len(self.cameras), set()
        self._plan_searches((), ())
        self.detector.reset()

    def detect(self, images: Sequence[np.ndarray | None], stamp: float | None = None) -> list[list[HandDetection2D]]:
        """Per view (rig order; None: no image, or left out by ``views_to_shed``) the hands
        found, with the last ``update``'s hands as extra crops (moved to ``stamp``, seconds,
        when given: module docstring)."""
        if len(images) != len(self.cameras):
            raise ValueError(f"images: expected one per camera ({len(self.cameras)}), got {len(images)}")
        self._ran = {view for view, image in enumerate(images) if image is not None}
        self._idle_sets = [0 if view in self._ran else idle + 1 for view, idle in enumerate(self._idle_sets)]
        return self.detector.detect(images, rois=self.rois_for_next_frame(stamp), palm_regions=self._palm_regions(),
                                    roi_min_presence=self.config.min_presence, force_palm=self._search_views,
                                    roi_magnified=self.config.magnified_crops)

    def views_to_shed(self, images: Sequence[np.ndarray | None]) -> set[int]:
        """The views of ``images`` (rig order, None: absent) the next ``detect`` may leave out
        (module docstring): views with an image whose every hand is a fed-back hand that keeps
        ``min_fresh_views`` other views with images, with no palm run due, no search planned
        and not left out of the last ⌈V / min_fresh_views⌉ − 1 sets; the views that ran most
        recently are taken first. Empty before the first ``update``, and wherever V ≤
        ``min_fresh_views``."""
        present = [view for view, image in enumerate(images) if image is not None]
        # A view sits out at most this many sets in a row, whatever its hands allow: the
        # rotation's period (less one) where every hand is in every view (0 where V <= min_fresh_views).
        max_idle = math.ceil(len(present) / self.config.min_fresh_views) - 1
        seen = [views.intersection(present) for track_id, _, _ in self._hands if (views := self._seen.get(track_id))]
        fresh = [len(views) for views in seen]  # per remembered hand, its views that still run
        shed: set[int] = set()
        for view in sorted(present, key=lambda v: (self._idle_sets[v], v)):
            if self._idle_sets[view] >= max_idle or view in self._search_views:
                continue
            tracked = self.detector.tracked_hands(view)
            if tracked is None:
                continue  # its palm detector runs next
            mine = [h for h, views in enumerate(seen) if view in views]
            if tracked > len(mine) or any(fresh[h] <= self.config.min_fresh_views for h in mine):
                continue  # a hand the memories do not account for, or one that would keep too few views
            for h in mine:
                fresh[h] -= 1
            shed.add(view)
        return shed

    def update(self, hands: Sequence[Hand3D], stamp: float | None = None,
               detections: Sequence[Sequence[HandDetection2D]] | None = None, *, plan_searches: bool = True) -> None:
        """This frame's fused hands (at ``stamp`` seconds) → the next frame's crops (confirmed
        hands) and, given this frame's ``detections`` (per view), the palm searches for
        one-view hands (none when ``plan_searches`` is False: module docstring) and, where
        views may be shed, the views that saw each hand."""
        confirmed = [h for h in hands if not h.monocular and np.median(h.num_views) >= self.config.min_views]
        dt = None if stamp is None or self._stamp is None else stamp - self._stamp
        previous = {track_id: points for track_id, points, _ in self._hands}
        hands_now = []
        for hand in confirmed:
            points, velocity = hand.keypoints_3d, np.zeros(3)
            before = previous.get(hand.track_id)
            if before is not None and dt is not None and 0 < dt <= _MAX_VELOCITY_GAP_S:
                common = np.isfinite(points - before).all(-1)  # (21,) joints in both
                moved = (points - before)[common].mean(0) / dt if common.any() else np.zeros(3)  # (3,) m/s
                speed = float(np.linalg.norm(moved))
                if speed > 0:
                    velocity = moved * min(1.0, _MAX_HAND_SPEED_M_S / speed)
            hands_now.append((hand.track_id, points, velocity))
        self._hands, self._stamp = hands_now, stamp
        if self.config.shed_views != "never" and detections is not None:
            self._remember_views(detections)
        self._plan_searches(hands if detections is not None and plan_searches else (), detections or ())

    def _remember_views(self, detections: Sequence[Sequence[HandDetection2D]]) -> None:
        """Per fed-back hand, the views that ran in the last ``detect`` and have a detection on
        its projection (``_SEEN_MATCH_PX``), with what the other views saw when they last ran."""
        if not self._hands:
            self._seen = {}
            return
        points = np.stack([points for _, points, _ in self._hands])  # (H, 21, 3) m world
        projected = self.cameras.project(points.reshape(-1, 3)).reshape(len(self.cameras), len(points), NUM_KEYPOINTS, 2)
        seen = {}
        for h, (track_id, _, _) in enumerate(self._hands):
            views = self._seen.get(track_id, set()) - self._ran
            for view in self._ran:
                for det in detections[view]:
                    distance = np.linalg.norm(det.keypoints_2d - projected[view, h], axis=-1)  # (21,) px, NaN unseen
                    distance = distance[np.isfinite(distance)]
                    if len(distance) and np.median(distance) <= _SEEN_MATCH_PX:
                        views.add(view)
                        break
            seen[track_id] = views
        self._seen = seen

    def search_now(self, images: Sequence[np.ndarray | None], hands: Sequence[Hand3D],
                   detections: Sequence[Sequence[HandDetection2D]]) -> list[list[HandDetection2D]] | None:
        """The same frame's second look for ``hands``' one-view (monocular) hands: the palm
        detector runs on each other view that shows no hand where one could be (the search of
        the module docstring, at once instead of on the next frame) → per view the hands it
        found there (``detect``'s lists), or None when no view was searched. The fusion then
        re-fuses the frame with them (``HandPosePipeline``), so a hand seen by a second camera
        is triangulated in its first frame rather than placed from one view's landmarks.
        Clears the next frame's searches: this look replaces them."""
        self._plan_searches(hands, detections)
        views = self._search_views
        if not views:
            return None
        searched = [image if view in views else None for view, image in enumerate(images)]
        found = self.detector.detect(searched, palm_regions=self._palm_regions(), force_palm=views)
        self._search_along_rays(images, detections, found)
        self._plan_searches((), detections)
        return found

    def _search_along_rays(self, images: Sequence[np.ndarray | None], detections: Sequence[Sequence[HandDetection2D]],
                           found: list[list[HandDetection2D]]) -> None:
        """Landmark crops where the palm search of a view found nothing: the one-view hands the
        search was planned for, moved along their rays over their planned stretches
        (``ray_crops``), nearest their estimated depth first, at most the detector's
        ``max_hands`` per view per call, until a crop gives a hand (presence ≥
        ``min_presence``); its detections are added to ``found`` (per view, in place)."""
        pending = {view: [] for view in self._search_views if not found[view] and images[view] is not None}
        for hand, stretch in self._stretches:  # the one-view hands the palm search was planned for
            for view, crops in ray_crops(hand, detections, self.cameras, stretch=stretch).items():
                if view in pending:
                    pending[view].extend(crops[:_MAX_RAY_CROPS])
        per_call = self.detector.config.max_hands
        while any(pending.values()):
            rois = [pending.get(view, [])[:per_call] for view in range(len(self.cameras))]
            pending = {view: crops[per_call:] for view, crops in pending.items() if crops}
            looked = [image if rois[view] else None for view, image in enumerate(images)]
            found_now = self.detector.detect(looked, rois=rois, roi_min_presence=self.config.min_presence,
                                             roi_magnified=self.config.magnified_crops)
            for view, dets in enumerate(found_now):
                if dets:
                    found[view].extend(dets)
                    pending.pop(view, None)

    def _plan_searches(self, hands: Sequence[Hand3D], detections: Sequence[Sequence[HandDetection2D]]) -> None:
        """Replace the planned palm searches by those for ``hands``' one-view hands, given the
        frame's ``detections`` (``_add_searches``; no hands: none planned)."""
        self._searches, self._search_views = [[] for _ in range(len(self.cameras))], set()
        self._stretches = []
        for hand in hands:
            if hand.monocular:
                self._add_searches(hand, detections)

    def _palm_regions(self) -> list[list[np.ndarray]]:
        """Per view the palm detector's squares: its tiles, then the planned searches'."""
        return [tiles + squares for tiles, squares in zip(self._tiles, self._searches)]

    def searches_for_next_frame(self) -> tuple[list[list[np.ndarray]], list[int]]:
        """Per view the palm squares ``(3,)`` (centre x, y, side px) ``detect`` searches for
        one-view hands besides its usual regions (copies), and the views whose palm detector
        runs for them (a view searched over its whole frame has no square of its own)."""
        return [[square.copy() for square in view] for view in self._searches], sorted(self._search_views)

    def _add_searches(self, hand: Hand3D, detections: Sequence[Sequence[HandDetection2D]]) -> None:
        """Palm squares, in the views without detections, where one-view ``hand`` could be;
        its search stretch (``_search_stretch``) is kept for the same frame's ray crops."""
        stretch = _search_stretch(hand, detections, self.cameras)
        if stretch is None:
            return
        self._stretches.append((hand, stretch))
        source, origin, centre, radius, low_factor, high_factor = stretch
        factors = np.linspace(low_factor, high_factor, _SEARCH_SAMPLES)  # (S,)
        samples = origin + factors[:, None] * (centre - origin)  # (S, 3) m world
        pixels = self.cameras.project(samples)  # (V, S, 2) px, NaN behind a camera
        in_camera = self.cameras.to_every_camera(samples)  # (S, V, 3)
        for view in range(len(self.cameras)):
            if view == source or len(detections[view]) > 0:
                continue
            ok = np.isfinite(pixels[view]).all(-1)
            if not ok.any():
                continue
            # A one-view hand's size scales with its depth along the ray (size/depth ambiguity).
            hand_px = self.cameras.focal[view] * factors[ok] * 2 * radius / in_camera[ok, view, 2]  # (s,) px
            low = (pixels[view][ok] - _SEARCH_MARGIN_HANDS * hand_px[:, None]).min(0)
            high = (pixels[view][ok] + _SEARCH_MARGIN_HANDS * hand_px[:, None]).max(0)
            width, height = self.cameras.image_size[view]
            low, high = np.maximum(low, 0.0), np.minimum(high, [width, height])
            if (high <= low).any():
                continue  # the whole stretch projects outside this view
            self._search_views.add(view)
            side = float((high - low).max())
            if side < max(width, height):  # a larger square is the whole frame, searched anyway
                self._searches[view].append(np.array([*(low + high) / 2, side]))

    def rois_for_next_frame(self, stamp: float | None = None) -> list[list[np.ndarray]]:
        """Per view the crops ``detect`` adds at ``stamp`` seconds (None: where the hands were)."""
        dt = 0.0 if stamp is None or self._stamp is None else max(stamp - self._stamp, 0.0)
        moved = [points + velocity * dt for _, points, velocity in self._hands]
        return crops_from_keypoints(moved, self.cameras)


def _search_stretch(hand: Hand3D, detections: Sequence[Sequence[HandDetection2D]],
                    cameras: CameraArray) -> _Stretch | None:
    """Where one-view ``hand`` could be along the ray of the view that sees it → (that view,
    (3,) its camera centre, (3,) the hand's centre, m world, the hand's radius m, and the
    lowest and highest depth factor from the centre's depth: ± ``_SEARCH_DEPTH_SIGMAS`` depth
    1σ, at least ± ``_MIN_SEARCH_SPREAD``), or None when no detection lies on the hand's
    projection. The palm search samples it coarsely, the ray crops finely
    (``np.linspace(low, high, samples)``)."""
    points = hand.keypoints_3d  # (21, 3) m world
    seen = np.isfinite(points).all(-1)
    if not seen.any():
        return None
    projected = cameras.project(points)  # (V, 21, 2) px
    source, best = -1, _SOURCE_MATCH_PX
    for view, dets in enumerate(detections):
        for det in dets:
            with np.errstate(invalid="ignore"):
                distance = float(np.nanmedian(np.linalg.norm(det.keypoints_2d - projected[view], axis=-1)))
            if distance < best:
                source, best = view, distance
    if source < 0:
        return None
    centre = points[seen].mean(0)  # (3,)
    radius = float(np.linalg.norm(points[seen] - centre, axis=-1).max())  # m
    origin = cameras.centers[source]
    depth = float(np.linalg.norm(centre - origin))
    spread = max(_SEARCH_DEPTH_SIGMAS * hand.depth_stddev / max(depth, 1e-6), _MIN_SEARCH_SPREAD)
    return source, origin, centre, radius, max(1.0 - spread, _MIN_SEARCH_DEPTH_FACTOR), 1.0 + spread


def ray_crops(hand: Hand3D, detections: Sequence[Sequence[HandDetection2D]], cameras: CameraArray, *,
              stretch: _Stretch | None = None) -> dict[int, list[np.ndarray]]:
    """One-view ``hand`` (world frame, metres) → per other view without detections the landmark
    crops ``(5,)`` float64 (centre x, y, width, height px, rotation rad) of the hand scaled
    about the seeing camera's centre (which keeps its projection there) over its search
    stretch, ``_RAY_CROP_STEP_HANDS`` hand sizes apart in that view, nearest the estimated
    depth first. Views where the whole stretch's crops fall outside the image get none.
    ``stretch``: the hand's ``_search_stretch`` when already computed (else computed here)."""
    stretch = stretch if stretch is not None else _search_stretch(hand, detections, cameras)
    if stretch is None:
        return {}
    source, origin, _, _, low_factor, high_factor = stretch
    factors = np.linspace(low_factor, high_factor, _RAY_FINE_SAMPLES)  # (S,)
    points = hand.keypoints_3d  # (21, 3) m world
    order = np.argsort(np.abs(np.log(factors)), kind="stable")  # nearest the estimate first
    moved = origin + factors[order, None, None] * (points - origin)  # (S, 21, 3)
    out = {}
    for view, rects in enumerate(crops_from_keypoints(list(moved), cameras)):
        if view == source or len(detections[view]) > 0 or not rects:
            continue
        kept: list[np.ndarray] = []
        for rect in rects:  # crops_from_keypoints keeps the hands' order
            step = _RAY_CROP_STEP_HANDS * float(rect[2]) / _CROP_HAND_SIZES
            if all(np.hypot(*(rect[:2] - k[:2])) >= step for k in kept):
                kept.append(rect)
        out[view] = kept
    return out
