"""``HandDetector``: images of V camera views → up to ``max_hands`` 2D hands per view.

Two stages, each ONE batched network call over all views: the palm detector on the views that
need it (letterboxed 192×192), then the landmark network on every hand region of every view
(rotated 224×224 crops). With tracking on, a view's regions come from its previous frame's
landmarks and the palm detector runs only on a view's first frame, on the frame after a hand
was lost there, and every ``redetect_interval`` frames while the view tracks fewer than
``max_hands`` hands (so a hand entering an empty view is found within that many frames).
A tracked region whose hand comes out off its centre (``_REANCHOR_SHIFT``: the hand moved
fast for the frame rate) is re-cropped on those keypoints and run once more (a second,
smaller landmark call that frame), the better-centred run standing if its presence is no lower.
A hand is lost when a tracked or palm region gives no hand, or the view keeps fewer hands
than it tracked; an external region (``rois``, e.g. a projected 3D hand) that gives none
while the view keeps its hands is not a loss: the view does not see that hand, which a palm
pass would not change. Two regions that converge on one hand (overlapping by IoU > 0.5, the
same handedness label) are one hand kept.

Handedness: the landmark network's handedness output is the score of MediaPipe's label 0, "Left",
in MediaPipe's convention of mirrored (selfie) input. An un-mirrored image of a right hand looks
like a mirrored left hand, so on our un-mirrored camera images that score is the probability of
the person's own right hand: ``Handedness.RIGHT`` is the person's right hand.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import time
from collections.abc import Collection, Sequence

import numpy as np
import torch

from hand_pose_ros.detection import geometry
from hand_pose_ros.detection.backends import BackendUnavailable, create_backend
from hand_pose_ros.detection.runtime import CropMaker
from hand_pose_ros.detection.config import MAGNIFIED_SAMPLING, HandDetectorConfig
from hand_pose_ros.detection.crop import PreparedImages, prepare_images, warp_crops
from hand_pose_ros.keypoints import NUM_KEYPOINTS, Handedness
from hand_pose_ros.types import HandDetection2D

__all__ = ["HandDetector"]

LOG = logging.getLogger(__name__)

# AssociationNormRect's threshold: a palm region overlapping a tracked one by more is the same hand.
_SAME_HAND_IOU = 0.5
# The landmark network's right-hand score above which a reading is a right hand (the label
# reported, and the one converged regions must share).
_RIGHT_HAND_SCORE = 0.5
# A tracked region whose hand came out further than this fraction of the region's size from
# its centre is re-cropped there and run again in the same frame (MediaPipe's own tracking
# crops lag a hand that moves fast relative to the frame rate).
_REANCHOR_SHIFT = 0.1
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclasses.dataclass
class _ViewTrack:
    """Tracking state of one view: next-frame regions ``(k, 5)`` float32 and palm bookkeeping."""

    shape: tuple[int, int]
    rects: np.ndarray
    frames_since_palm: int
    lost: bool


@dataclasses.dataclass
class _Candidate:
    view: int  # batch entry of the view (see ``HandDetector.detect``)
    rect: np.ndarray  # (5,) float32 region in prepared-image px
    palm_box: np.ndarray | None  # (4,) float32 px when it came from the palm detector
    min_presence: float | None = None  # None: the config's min_presence
    external: bool = False  # from the caller's ``rois``: giving no hand is no loss (module docstring)
    magnified: str | None = None  # how its crop is sampled if it magnifies; None: the config's magnified_crops


class HandDetector:
    """MediaPipe's hand pipeline on real weights, batched over views, on the configured device.

    Example:
        >>> detector = HandDetector(HandDetectorConfig(device="cpu"))
        >>> views = detector.detect([rgb0, rgb1])   # list (per view) of lists of HandDetection2D

    Raises (constructor):
        WeightsError: converted weights missing/corrupt (message names the file and ``./dev setup``).
        BackendUnavailable: neither ``backend`` nor any ``fallback`` could start.
    """

    def __init__(self, config: HandDetectorConfig | None = None, *, cache: pathlib.Path | None = None) -> None:
        self.config = config or HandDetectorConfig()
        cfg = self.config
        self._device = torch.device(cfg.device)
        self._dtype = _DTYPES[cfg.precision]
        if cfg.num_threads is not None:
            torch.set_num_threads(cfg.num_threads)  # process-wide: torch has one intra-op pool
        failures = []
        for name in (cfg.backend, *cfg.fallback):
            try:
                self._backend = create_backend(name, cfg.model, self._device, self._dtype, cache, cfg.num_threads)
                break
            except BackendUnavailable as exc:
                LOG.warning("hand detector: backend %s cannot start: %s", name, exc)
                failures.append(f"{name}: {exc}")
        else:
            raise BackendUnavailable("no configured detector backend could start; " + " | ".join(failures))
        LOG.info("hand detector: backend %s on %s, %s, model %s, tracking %s",
                 self._backend.name, self._device, cfg.precision, cfg.model, "on" if cfg.tracking else "off")
        self._anchors = geometry.ssd_anchors()
        self._tracks: dict[int, _ViewTrack] = {}
        self.stage_calls = {"palm": 0, "landmark": 0}  # network calls so far (for diagnostics)
        # Wall time (ms) of the last ``detect`` per stage; None for a stage that did not run.
        self.last_timings: dict[str, float | None] = {}

    @property
    def backend_name(self) -> str:
        return self._backend.name

    @property
    def device(self) -> str:
        return str(self._device)

    def reset(self) -> None:
        """Forget the tracking state of every view."""
        self._tracks.clear()

    def detect(self, images: Sequence[np.ndarray | None], rois: Sequence[Sequence[np.ndarray]] | None = None,
               palm_regions: Sequence[Sequence[np.ndarray]] | None = None,
               roi_min_presence: float | None = None,
               force_palm: Collection[int] = (),
               roi_magnified: str | None = None) -> list[list[HandDetection2D]]:
        """Hands in each view.

        Args:
            images: V arrays ``(H, W, 3)`` uint8 RGB, one per camera view; view i must be the
                same camera on every call (tracking state is kept per view index). ``None``
                for a view without an image this time (a camera missing from a partial set):
                it gets no detections and its tracking state is kept for its next image.
            rois: optional, per view, external hand regions ``(5,)`` float (centre x, y, width,
                height px in the full image, rotation rad as ``geometry.landmark_rects``), e.g.
                projected 3D hands (``guidance.crops_from_hands``). They seed the landmark
                network like tracked regions and come first (a tracked or palm region that
                overlaps one is the same hand); one whose crop comes back with presence
                below ``roi_min_presence`` (default: the config's ``min_presence``) gives nothing.
            palm_regions: optional, per view, squares ``(3,)`` (centre x, y, side px, full
                image) the palm detector searches instead of the whole letterboxed frame when
                it runs on that view (an empty list: the whole frame), so small hands are seen
                at a larger scale (``guidance.palm_tiles``).
            force_palm: view indices whose palm detector runs this call whatever their tracking
                state (``guidance``: another camera sees a hand this view should see).
            roi_magnified: how the crops of ``rois`` that magnify their view are sampled, one
                of ``MAGNIFIED_SAMPLING`` (default: the config's ``magnified_crops``, as every
                other crop).
        Returns:
            V lists (possibly empty) of ``HandDetection2D``: keypoints in full-image pixels.
        Raises:
            ValueError: naming the view index for images that are not usable.
        """
        if isinstance(images, np.ndarray) and images.ndim < 4:
            raise ValueError(f"images: expected a sequence of V views (H, W, 3), got one array of shape {images.shape}")
        if roi_min_presence is not None and not 0.0 <= roi_min_presence <= 1.0:
            raise ValueError(f"roi_min_presence: expected None or a number in [0, 1], got {roi_min_presence!r}")
        if roi_magnified is not None and roi_magnified not in MAGNIFIED_SAMPLING:
            raise ValueError(f"roi_magnified: expected None or one of {MAGNIFIED_SAMPLING}, got {roi_magnified!r}")
        for name, per_view in (("rois", rois), ("palm_regions", palm_regions)):
            if per_view is not None and len(per_view) > len(images):
                raise ValueError(f"{name}: expected at most one list per view ({len(images)}), got {len(per_view)}")
        results: list[list[HandDetection2D]] = [[] for _ in range(len(images))]
        # Below, ``k`` indexes the present views' batch and ``ids[k]`` is that view's index.
        ids = [v for v, image in enumerate(images) if image is not None]
        if not ids:
            self.last_timings = {"prepare": None, "palm": None, "landmark": None, "total": None}
            return results
        start = time.perf_counter()
        prepared = prepare_images([images[v] for v in ids], self.config.max_image_side, self._device, ids)
        for k, v in enumerate(ids):
            if v in self._tracks and self._tracks[v].shape != prepared.shapes[k]:
                del self._tracks[v]  # the camera changed: its regions mean nothing now
        for v in [v for v in self._tracks if v >= len(images)]:
            del self._tracks[v]
        palm_views = [k for k, v in enumerate(ids) if v in force_palm or self._needs_palm(v)]
        prepared_at = time.perf_counter()
        palm_crops = self._palm_crops(prepared, palm_views, _per_present(palm_regions, ids))
        palms = self._detect_palms(prepared, palm_crops) if palm_views else {}
        external = self._external_rects(prepared, _per_present(rois, ids), ids)
        candidates = self._associate(ids, palms, external, roi_min_presence, roi_magnified)
        palm_at = time.perf_counter()
        found: list[list[HandDetection2D]] = [[] for _ in ids]
        kept_rects: dict[int, list[np.ndarray]] = {k: [] for k in range(len(ids))}
        lost: set[int] = set()  # batch entries where a tracked or palm region gave no hand
        if candidates:
            self._landmarks(prepared, candidates, found, kept_rects, lost)
        end = time.perf_counter()
        # Stage boundaries copy results to the host, so the times hold on CUDA too.
        self.last_timings = {
            "prepare": 1e3 * (prepared_at - start),
            "palm": 1e3 * (palm_at - prepared_at) if palm_views else None,
            "landmark": 1e3 * (end - palm_at) if candidates else None,
            "total": 1e3 * (end - start),
        }
        for k, v in enumerate(ids):
            results[v] = found[k]
            if not self.config.tracking:
                continue
            previous = self._tracks.get(v)
            self._tracks[v] = _ViewTrack(
                shape=prepared.shapes[k],
                rects=np.stack(kept_rects[k]) if kept_rects[k] else np.zeros((0, 5), np.float32),
                frames_since_palm=0 if k in palm_views else (previous.frames_since_palm + 1 if previous else 0),
                # A loss: a tracked/palm region gave no hand, or fewer hands than tracked before.
                lost=k in lost or (previous is not None and len(kept_rects[k]) < len(previous.rects)),
            )
        return results

    def tracked_hands(self, view: int) -> int | None:
        """How many hands view ``view``'s next ``detect`` tracks without its palm detector, or
        None when that call runs the palm detector there (no track yet, a loss, a re-detection
        due, tracking off)."""
        return None if self._needs_palm(view) else len(self._tracks[view].rects)

    def _needs_palm(self, view: int) -> bool:
        cfg, track = self.config, self._tracks.get(view)
        if not cfg.tracking or track is None or track.lost:
            return True
        return len(track.rects) < cfg.max_hands and track.frames_since_palm + 1 >= cfg.redetect_interval

    @staticmethod
    def _palm_crops(prepared: PreparedImages, palm_views: list[int],
                    palm_regions: Sequence[Sequence[np.ndarray]] | None) -> list[tuple[int, np.ndarray]]:
        """(batch index, (3,) square centre x, y, side in prepared px) of every palm-detector
        input (float32): the letterboxed frame (the longer side fills the 192 input), or the view's regions
        (``palm_regions`` indexed like the batch)."""
        crops = []
        for view in palm_views:
            regions = palm_regions[view] if palm_regions is not None and view < len(palm_regions) else ()
            if len(regions) == 0:
                width, height = (float(x) for x in prepared.sizes[view])
                crops.append((view, np.array([width / 2, height / 2, max(width, height)], np.float32)))
                continue
            sx, sy = prepared.scales[view]
            for region in regions:
                cx, cy, side = np.asarray(region, np.float64).reshape(3)
                # Full-image px → prepared px: x' = (x + ½)/s − ½ (inverse of _to_detection).
                crops.append((view, np.array([(cx + 0.5) / sx - 0.5, (cy + 0.5) / sy - 0.5, side / max(sx, sy)],
                                             np.float32)))
        return crops

    def _detect_palms(self, prepared: PreparedImages,
                      crops: list[tuple[int, np.ndarray]]) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
        """Palm stage, one call over ``crops`` (``_palm_crops``) → per view a list of (region (5,),
        palm box (4,)) in prepared px, the best-scoring first over all of the view's crops."""
        squares = np.stack([c for _, c in crops])  # (P, 3) cx, cy, side
        side = squares[:, 2]
        letterbox = np.stack([squares[:, 0], squares[:, 1], side, side, np.zeros_like(side)], -1)
        crop_views = [v for v, _ in crops]
        raw_boxes, raw_scores = _host(self._backend.run_crops("palm", len(crops), self._crop_maker(
            prepared, crop_views, geometry.crop_affines(letterbox, geometry.PALM_INPUT_SIZE), geometry.PALM_INPUT_SIZE,
            replicate_border=False)))
        self.stage_calls["palm"] += 1
        boxes, keypoints, scores = geometry.decode_palms(raw_boxes, raw_scores, self._anchors)
        boxes, keypoints, scores, valid = geometry.weighted_nms(
            boxes, keypoints, scores, self.config.max_hands, self.config.min_detection_confidence)
        # Normalised 192 input → image px: x = (x_n − ½)·side + centre.
        offset = squares[:, None, None, :2]  # (P, 1, 1, 2)
        scale = side[:, None, None, None]
        corners = (boxes.reshape(*boxes.shape[:2], 2, 2) - 0.5) * scale + offset
        keypoints = (keypoints - 0.5) * scale + offset
        boxes_px = corners.reshape(*boxes.shape)
        rects = geometry.palm_rects(boxes_px.reshape(-1, 4), keypoints.reshape(-1, *keypoints.shape[2:]))
        rects = rects.reshape(*boxes.shape[:2], 5)
        found: dict[int, list[tuple[float, np.ndarray, np.ndarray]]] = {}
        for i, view in enumerate(crop_views):
            found.setdefault(view, []).extend(
                (float(scores[i, d]), rects[i, d], boxes_px[i, d]) for d in range(valid.shape[1]) if valid[i, d])
        return {view: [(r, b) for _, r, b in sorted(hits, key=lambda h: -h[0])] for view, hits in found.items()}

    @staticmethod
    def _external_rects(prepared: PreparedImages, rois: Sequence[Sequence[np.ndarray]] | None,
                        ids: list[int]) -> dict[int, list[np.ndarray]]:
        """Per batch index, the caller's regions (full-image px; ``rois`` indexed like the batch)
        as ``(5,)`` float32 regions in prepared px."""
        out: dict[int, list[np.ndarray]] = {}
        if rois is None:
            return out
        for k, regions in enumerate(rois):
            sx, sy = prepared.scales[k]
            view = ids[k]
            for i, region in enumerate(regions):
                rect = np.asarray(region, np.float64).reshape(-1)
                if rect.shape != (5,) or not np.isfinite(rect).all() or rect[2] <= 0 or rect[3] <= 0:
                    raise ValueError(f"rois[{view}][{i}]: expected finite (cx, cy, width, height, rotation) with "
                                     f"positive size, got {rect.tolist()}")
                out.setdefault(k, []).append(np.array(
                    [(rect[0] + 0.5) / sx - 0.5, (rect[1] + 0.5) / sy - 0.5, rect[2] / sx, rect[3] / sy, rect[4]],
                    np.float32))
        return out

    def _associate(self, ids: list[int], palms: dict[int, list[tuple[np.ndarray, np.ndarray]]],
                   external: dict[int, list[np.ndarray]], external_min_presence: float | None,
                   external_magnified: str | None) -> list[_Candidate]:
        """External regions first, then tracked and palm regions that no earlier one covers, ≤ max_hands per view.

        ``ids[k]`` is the view index of batch entry ``k``; candidates, ``palms`` and ``external`` use ``k``.
        """
        per_view = []  # (batch index, external candidates, other (region, palm box) pairs)
        for k, view in enumerate(ids):
            track = self._tracks.get(view)
            chosen = [_Candidate(k, r, None, external_min_presence, external=True, magnified=external_magnified)
                      for r in external.get(k, [])]
            others = [(r, None) for r in (track.rects if track is not None else [])] + palms.get(k, [])
            per_view.append((k, chosen, others))
        # Every pair's overlap, all views in one call (a call per view or region cost more in
        # overhead than maths); each view reads its own block.
        rects = [rect for _, chosen, others in per_view if others
                 for rect in [c.rect for c in chosen] + [r for r, _ in others]]
        overlap = (geometry.rect_iou(np.stack(rects), np.stack(rects)) > _SAME_HAND_IOU).tolist() if rects else []
        out: list[_Candidate] = []
        first = 0  # the view's first row (and column) in ``overlap``
        for k, chosen, others in per_view:
            if others:
                rows = range(first, first + len(chosen) + len(others))
                kept = list(rows[: len(chosen)])  # rows of the regions kept so far
                for row, (rect, box) in zip(rows[len(chosen):], others):
                    if not any(overlap[row][j] for j in kept):
                        kept.append(row)
                        chosen.append(_Candidate(k, rect, box))
                first = rows.stop
            out.extend(chosen[: self.config.max_hands])
        return out

    def _landmarks(self, prepared: PreparedImages, candidates: list[_Candidate],
                   results: list[list[HandDetection2D]], kept_rects: dict[int, list[np.ndarray]],
                   lost: set[int]) -> None:
        """Landmark stage, one call over every region of every view; fills ``results``,
        ``kept_rects`` and ``lost`` (the views where a non-external region gave no hand)."""
        n = len(candidates)
        rects = np.stack([c.rect for c in candidates])  # (N, 5)
        keypoints, world, next_rects, bounds, presence, right_score = self._landmark_pass(prepared, candidates, rects)
        # A tracked region the hand has moved off (fast motion, a low frame rate) gives worse
        # keypoints: those hands run once more, on the region their first keypoints give; the
        # second run stands where it came out nearer its crop's centre, its presence no lower.
        tracked = np.array([c.palm_box is None and not c.external for c in candidates])
        shift = _centre_shift(rects, next_rects)  # (N,)
        again = np.flatnonzero(tracked & (shift > _REANCHOR_SHIFT))
        if len(again):
            redone = self._landmark_pass(prepared, [candidates[i] for i in again], next_rects[again])
            better = (_centre_shift(next_rects[again], redone[2]) < shift[again]) & (redone[4] >= presence[again])
            again = again[better]
            for whole, part in zip((keypoints, world, next_rects, bounds, presence, right_score), redone):
                whole[again] = part[better]
        # Every pair's overlap in one call (a call per region cost more in overhead than maths).
        # Regions of opposite handedness labels are two hands, however much they overlap (a
        # left and a right hand side by side in a view: the sample's two hands, view 2).
        right = right_score > _RIGHT_HAND_SCORE  # (n,)
        overlap = ((geometry.rect_iou(next_rects, next_rects) > _SAME_HAND_IOU)
                   & (right[:, None] == right[None, :])).tolist()  # (n, n)
        presence_list = presence.tolist()
        kept: dict[int, list[int]] = {}  # view → indices of its kept regions
        for i in sorted(range(n), key=lambda j: -presence_list[j]):
            cand = candidates[i]
            if presence[i] < (self.config.min_presence if cand.min_presence is None else cand.min_presence):
                if not cand.external:
                    lost.add(cand.view)
                continue
            mine = kept.setdefault(cand.view, [])
            if any(overlap[i][j] for j in mine):
                continue  # two regions converged on one hand: keep the more confident one
            mine.append(i)
            kept_rects[cand.view].append(next_rects[i])
            results[cand.view].append(self._to_detection(
                prepared, cand, keypoints[i], world[i], presence_list[i], float(right_score[i]),
                cand.palm_box if cand.palm_box is not None else bounds[i]))

    def _landmark_pass(self, prepared: PreparedImages, candidates: list[_Candidate], rects: np.ndarray
                       ) -> tuple[np.ndarray, ...]:
        """One landmark-network call on ``rects`` ``(N, 5)`` float32 (prepared px) of
        ``candidates``' views → new float32 arrays: keypoints (N, 21, 2) px, world landmarks
        (N, 21, 3) m, next regions (N, 5), region bounds (N, 4), presence (N,), right-hand score (N,)."""
        size = geometry.LANDMARK_INPUT_SIZE
        n = len(candidates)
        landmarks, presence, handedness, world = _host(self._backend.run_crops("landmark", n, self._crop_maker(
            prepared, [c.view for c in candidates], geometry.crop_affines(rects, size), size, replicate_border=True,
            magnified=[c.magnified or self.config.magnified_crops for c in candidates])))
        self.stage_calls["landmark"] += 1
        keypoints = geometry.project_landmarks(landmarks.reshape(n, NUM_KEYPOINTS, 3), rects, size)
        world = geometry.rotate_world_landmarks(world.reshape(n, NUM_KEYPOINTS, 3), rects)
        next_rects = geometry.landmark_rects(keypoints)
        bounds = geometry.rect_bounds(rects)
        return keypoints, world, next_rects, bounds, presence[:, 0].copy(), handedness[:, 0].copy()

    def _crop_maker(self, prepared: PreparedImages, views: list[int], affines: np.ndarray, size: int,
                    replicate_border: bool, magnified: str | list[str] = "bilinear") -> CropMaker:
        """The crops of one network call (crop i: ``affines[i]`` ``(2, 3)`` on view ``views[i]``,
        a magnifying one sampled as ``magnified`` (one for all, or one per crop) says), cut by
        ``warp_crops`` in the backend's dtype and layout, a slice of them at a time."""
        modes = [magnified] * len(affines) if isinstance(magnified, str) else magnified

        def make(part: slice) -> torch.Tensor:
            return warp_crops(prepared, views[part], affines[part], size, replicate_border=replicate_border,
                              dtype=self._backend.dtype, channels_last=self._backend.channels_last,
                              rgbx=self._backend.rgbx_crops, magnified=modes[part])

        return make

    @staticmethod
    def _to_detection(prepared: PreparedImages, cand: _Candidate, keypoints: np.ndarray, world: np.ndarray,
                      presence: float, right_score: float, box: np.ndarray) -> HandDetection2D:
        sx, sy = prepared.scales[cand.view]
        scale = np.array([sx, sy], np.float32)
        # Back to the original image's pixels (pixel centres): x = (x' + ½)·s − ½.
        keypoints_px = (keypoints + 0.5) * scale - 0.5
        box_px = (box.reshape(2, 2) + 0.5) * scale - 0.5
        # MediaPipe's "Left" for mirrored input is the person's right hand here (module docstring).
        hand = Handedness.RIGHT if right_score > _RIGHT_HAND_SCORE else Handedness.LEFT
        return HandDetection2D(
            keypoints_2d=keypoints_px,
            # The landmark network gives one presence score per hand, no per-keypoint score.
            keypoint_scores=np.full(NUM_KEYPOINTS, presence, np.float32),
            handedness=hand,
            handedness_score=max(right_score, 1.0 - right_score),
            presence=presence,
            palm_box=box_px.reshape(4),
            world_landmarks=world,
        )


def _centre_shift(rects: np.ndarray, found: np.ndarray) -> np.ndarray:
    """``(N, 5)`` regions cropped, ``(N, 5)`` the regions their keypoints give → ``(N,)`` distance
    between the two centres as a fraction of the cropped region's longer side."""
    return np.linalg.norm(found[:, :2] - rects[:, :2], axis=-1) / rects[:, 2:4].max(-1)


def _host(outputs: tuple[torch.Tensor, ...]) -> tuple[np.ndarray, ...]:
    """A backend's float32 output tensors (on its device) → host arrays, for the geometry."""
    return tuple(out.cpu().numpy() for out in outputs)


def _per_present(per_view: Sequence[Sequence[np.ndarray]] | None, ids: list[int]) -> list[Sequence[np.ndarray]] | None:
    """A per-view list (possibly shorter than the views) re-indexed like the present views' batch."""
    if per_view is None:
        return None
    return [per_view[v] if v < len(per_view) else () for v in ids]
