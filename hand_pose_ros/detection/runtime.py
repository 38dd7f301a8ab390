"""The interface every network runtime implements, the error a missing one raises, and the
CPU runtimes' common way of running a call's crops: spread over single-threaded runners.

Kept apart from ``backends.py`` (which builds them) so that a backend in its own module
(``tensorrt_backend.py``, ``tflite_runtimes.py``) subclasses the interface without importing
the factory that imports it.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["BackendUnavailable", "CropMaker", "NetworkBackend", "ParallelRunnersBackend", "Runner", "default_workers",
           "require_cuda"]

# Runners per stage when the configuration leaves it open: one per core, at most this many
# (beyond 4 the per-set crops, 2 hands × up to 8 views, rarely keep more busy).
MAX_DEFAULT_WORKERS = 4

# A runner maps a chunk of a call's crops, ``(b, ...)`` float32 in its runtime's layout, to
# the stage's outputs in ``NetworkBackend`` order, each ``(b, ...)`` float32.
Runner = Callable[[np.ndarray], list[np.ndarray]]
# A call's crop maker: a slice of the call's crop indices → those crops ``(k, 3, S, S)`` in
# [0, 1] on the backend's device, as ``crop.warp_crops`` cuts them (``NetworkBackend.run_crops``),
# or ``(k, S, S, 4)`` uint8 RGBX for a backend with ``rgbx_crops``.
CropMaker = Callable[[slice], torch.Tensor]


def default_workers() -> int:
    """One runner per available core, at most ``MAX_DEFAULT_WORKERS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_DEFAULT_WORKERS, cores))


class BackendUnavailable(RuntimeError):
    """The backend's library or device is missing here; the message names it."""


def require_cuda(device: torch.device, backend: str) -> None:
    """Raise ``BackendUnavailable`` when ``device`` is CUDA and torch has no usable GPU."""
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailable(
            f"{backend} backend on {device}: CUDA is not available to torch here "
            f"(torch {torch.__version__} built {'with' if torch.version.cuda else 'without'} CUDA, no usable GPU)"
        )


class NetworkBackend:
    """Runs the palm and landmark networks of one model size on one device.

    ``palm`` and ``landmark`` take ``(B, 3, S, S)`` crops in [0, 1] on the device and return
    the networks' raw float32 outputs on the same device (shapes in ``backends.py``). A
    backend implements ``_run(stage, crops)`` for both stages (``"palm"``, ``"landmark"``).
    """

    name = "base"
    # Its runtime takes CPU crops channels-last in memory (``(B, S, S, 3)`` behind the NCHW
    # view); False: plain NCHW. ``crop.warp_crops`` lays CPU crops out so, saving a copy.
    channels_last = True
    # Its runtime takes the CPU crops as the uint8 RGBX warps and converts them itself
    # (``crop.warp_crops(rgbx=True)``): no float copy of every crop on the calling thread.
    rgbx_crops = False

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def palm(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("palm", crops)

    def run_crops(self, stage: str, count: int, make_crops: CropMaker) -> tuple[torch.Tensor, ...]:
        """``stage`` on ``count`` crops that ``make_crops`` cuts when asked: the outputs of
        ``_run(stage, make_crops(slice(0, count)))``. A backend whose runtime computes on its
        own threads (OpenVINO) cuts and starts them one by one instead, so that the first
        crops compute while the caller cuts the next."""
        return self._run(stage, make_crops(slice(0, count)))

    def landmark(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("landmark", crops)


class ParallelRunnersBackend(NetworkBackend):
    """A CPU backend whose call's crops are split over ``workers`` single-threaded runners per
    stage, one chunk per runner, the first chunk on the calling thread and the others on a
    pool of ``workers - 1`` threads. The runtimes release the GIL while they compute, and one
    thread per independent crop beats intra-op threads on these small networks (two intra-op
    threads were slower than one in every runtime measured here; docs/benchmarks.md).

    A subclass builds its runners (``_make_runner(stage)``, called ``workers`` times per stage)
    and names the layout they take: ``channels_last`` ``(b, S, S, 3)`` or ``(b, 3, S, S)``.
    """

    channels_last = False

    def __init__(self, device: torch.device, dtype: torch.dtype, workers: int | None) -> None:
        if device.type != "cpu":
            raise BackendUnavailable(f"{self.name} backend: parallel runners run on the CPU only, got device {device}")
        super().__init__(device, dtype)
        self.workers = workers or default_workers()
        self._runners = {stage: [self._make_runner(stage) for _ in range(self.workers)] for stage in ("palm", "landmark")}
        self._pool = (concurrent.futures.ThreadPoolExecutor(self.workers - 1, thread_name_prefix=f"{self.name}_worker")
                      if self.workers > 1 else None)

    def _make_runner(self, stage: str) -> Runner:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the worker threads (the backend cannot run afterwards)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        layout = crops.float().permute(0, 2, 3, 1) if self.channels_last else crops.float()
        host = np.ascontiguousarray(layout.cpu().numpy())  # a view when the crops already are so
        runners = self._runners[stage]
        bounds = np.linspace(0, len(host), min(len(runners), len(host)) + 1).round().astype(int)
        chunks = [host[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        futures = [self._pool.submit(runner, chunk) for runner, chunk in zip(runners[1:], chunks[1:])]
        parts = [runners[0](chunks[0])] + [future.result() for future in futures]
        return tuple(torch.from_numpy(np.concatenate(outs) if len(outs) > 1 else outs[0]) for outs in zip(*parts))
