"""Fetch and prepare the files the project needs, once, into the cache (``./dev setup``).

Steps are idempotent (each checks its output first) and name themselves when they fail.
Everything comes from package registries: Debian (opencv-doc photos), npm (WebXR hand
meshes); weights are converted from the installed mediapipe wheel; the sample is rendered.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable

from hand_pose_ros import assets

LOG = logging.getLogger("hand_pose_ros.setup")

# Real hand photos in Debian's opencv-doc (MediaPipe finds a hand in each).
HAND_PHOTOS = (
    "handSrc.jpg",
    "handDst.jpg",
    "Hull_Original_Image.jpg",
    "Back_Projection_Theory0.jpg",
    "Back_Projection1_Source_Image.jpg",
)
WEBXR_PACKAGE = "@webxr-input-profiles/assets@1.0.20"
WEBXR_FILES = {
    "package/dist/profiles/generic-hand/left.glb": "left.glb",
    "package/dist/profiles/generic-hand/right.glb": "right.glb",
    "package/LICENSE.md": "LICENSE.md",
    "package/package.json": "package.json",
}


def _run(cmd: list[str], cwd: str | os.PathLike[str] | None = None) -> None:
    LOG.debug("running %s", " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def fetch_hand_photos(cache: pathlib.Path) -> None:
    """Debian's opencv-doc → ``cache/photos/*.jpg``."""
    out = cache / "photos"
    if all((out / name).exists() for name in HAND_PHOTOS):
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)  # apt downloads as its sandbox user (_apt) when it can write there
        try:
            _run(["apt-get", "download", "opencv-doc"], cwd=tmp)
        except subprocess.CalledProcessError:
            # The package lists may be missing on a fresh machine.
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "download", "opencv-doc"], cwd=tmp)
        deb = next(pathlib.Path(tmp).glob("opencv-doc_*.deb"))
        _run(["dpkg-deb", "-x", str(deb), str(pathlib.Path(tmp) / "x")])
        found = {p.name: p for p in (pathlib.Path(tmp) / "x").rglob("*.jpg") if p.name in HAND_PHOTOS}
        missing = set(HAND_PHOTOS) - set(found)
        if missing:
            raise RuntimeError(f"opencv-doc lacks the photos {sorted(missing)}")
        out.mkdir(parents=True, exist_ok=True)
        for name, path in found.items():
            shutil.copyfile(path, out / name)
        (out / "SOURCE.txt").write_text(f"Extracted from Debian package {deb.name} (BSD-3-Clause, OpenCV).\n")


def fetch_webxr_hand(cache: pathlib.Path) -> None:
    """npm ``@webxr-input-profiles/assets`` → ``cache/webxr-hand/{left,right}.glb`` + LICENSE (MIT)."""
    out = cache / "webxr-hand"
    if all((out / name).exists() for name in WEBXR_FILES.values()):
        return
    with tempfile.TemporaryDirectory() as tmp:
        _run(["npm", "pack", "--silent", WEBXR_PACKAGE], cwd=tmp)
        tarball = next(pathlib.Path(tmp).glob("*.tgz"))
        out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as archive:
            for member, name in WEBXR_FILES.items():
                source = archive.extractfile(member)
                if source is None:
                    raise RuntimeError(f"{tarball.name} lacks {member}")
                (out / name).write_bytes(source.read())


def _optional_step(module: str, function: str) -> Callable[[pathlib.Path], None]:
    """A step provided by a component (weights conversion, sample rendering)."""

    def step(cache: pathlib.Path) -> None:
        import importlib

        getattr(importlib.import_module(module), function)(cache)

    step.__name__ = f"{module}.{function}"
    return step


# Order matters: the sample is rendered with the hand meshes.
STEPS: list[Callable[[pathlib.Path], None]] = [
    fetch_hand_photos,
    fetch_webxr_hand,
    _optional_step("hand_pose_ros.detection.weights", "prepare_weights"),
    _optional_step("hand_pose_ros.detection.onnx_export", "prepare_onnx"),
    _optional_step("hand_pose_ros.synth.sample", "prepare_sample"),
]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[setup]   %(message)s")
    cache = assets.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        name = step.__name__
        try:
            step(cache)
        except Exception as exc:  # report which step broke, then stop
            print(f"[setup] FAILED at asset step {name}: {exc}", file=sys.stderr)
            return 1
        LOG.info("%s: ok", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
