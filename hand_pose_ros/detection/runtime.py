"""The interface every network runtime implements, and the error a missing one raises.

Kept apart from ``backends.py`` (which builds them) so that a backend in its own module
(``tensorrt_backend.py``) subclasses the interface without importing the factory that
imports it.
"""

from __future__ import annotations

import torch

__all__ = ["BackendUnavailable", "NetworkBackend", "require_cuda"]


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

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype

    def _run(self, stage: str, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def palm(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("palm", crops)

    def landmark(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._run("landmark", crops)
