"""Where the project's fetched and generated files live, with errors that say how to get them.

Everything here is made by the set-up (``./dev setup``) from package registries: MediaPipe's
hand models from the ``mediapipe==0.10.21`` wheel, real hand photos from Debian's
``opencv-doc``, the WebXR hand meshes from npm, converted weights and the bundled sample.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib

__all__ = [
    "SETUP_COMMAND",
    "AssetMissingError",
    "cache_dir",
    "repo_root",
    "mediapipe_model_path",
    "hand_photos_dir",
    "webxr_hand_dir",
    "sample_dir",
]

SETUP_COMMAND = "./dev setup"

MEDIAPIPE_MODELS = {
    "palm_detection_full": "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    "palm_detection_lite": "mediapipe/modules/palm_detection/palm_detection_lite.tflite",
    "hand_landmark_full": "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
    "hand_landmark_lite": "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
}


class AssetMissingError(FileNotFoundError):
    """A file the set-up provides is missing; the message names it and the fixing command."""


def repo_root() -> pathlib.Path:
    """The source checkout holding this package (for editable installs)."""
    return pathlib.Path(__file__).resolve().parent.parent


def cache_dir() -> pathlib.Path:
    """Cache for converted weights, photos, meshes and the sample.

    ``$HAND_POSE_ROS_CACHE`` if set, else ``$XDG_CACHE_HOME/hand_pose_ros`` (``~/.cache``).
    """
    if os.environ.get("HAND_POSE_ROS_CACHE"):
        return pathlib.Path(os.environ["HAND_POSE_ROS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "hand_pose_ros"


def _require(path: pathlib.Path, what: str) -> pathlib.Path:
    if not path.exists():
        raise AssetMissingError(f"{what} not found at {path}; run `{SETUP_COMMAND}` to fetch it")
    return path


def mediapipe_model_path(name: str) -> pathlib.Path:
    """Path of one of MediaPipe's hand ``.tflite`` files inside the installed wheel.

    Args:
        name: one of ``palm_detection_full``, ``palm_detection_lite``, ``hand_landmark_full``,
            ``hand_landmark_lite``.
    """
    if name not in MEDIAPIPE_MODELS:
        raise ValueError(f"unknown MediaPipe model {name!r}; choose one of {sorted(MEDIAPIPE_MODELS)}")
    # find_spec locates the wheel's files without importing mediapipe.
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise AssetMissingError(
            f"the mediapipe==0.10.21 wheel (which holds {name}.tflite) is not installed; "
            f"run `{SETUP_COMMAND}`"
        )
    site = pathlib.Path(list(spec.submodule_search_locations)[0]).parent
    return _require(site / MEDIAPIPE_MODELS[name], f"MediaPipe model {name}.tflite")


def hand_photos_dir() -> pathlib.Path:
    """Real hand photos from Debian's opencv-doc (handSrc.jpg, handDst.jpg, ...)."""
    return _require(cache_dir() / "photos", "the opencv-doc hand photos")


def webxr_hand_dir() -> pathlib.Path:
    """``left.glb`` / ``right.glb`` (and LICENSE) from @webxr-input-profiles/assets."""
    return _require(cache_dir() / "webxr-hand", "the WebXR generic-hand meshes")


def sample_dir() -> pathlib.Path:
    """The bundled synthetic multi-camera sample played by ``hand-pose-ros demo``."""
    return _require(cache_dir() / "sample", "the bundled synthetic sample")
