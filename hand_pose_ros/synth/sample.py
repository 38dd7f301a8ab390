"""The bundled sample: rendered once by the set-up into ``cache_dir()/sample``.

Re-rendered only when missing or made by another generator version or configuration.
"""

from __future__ import annotations

import json
import logging
import pathlib
import shutil
import tempfile

from hand_pose_ros.dataset_layout import BAG_DIR, CALIBRATION_FILE, GROUND_TRUTH_FILE
from hand_pose_ros.synth.config import GENERATOR_VERSION, SynthConfig

__all__ = ["SAMPLE_CONFIG", "prepare_sample", "sample_is_current"]

LOG = logging.getLogger(__name__)

# What the main job plays by default: 4 cameras, 2 s of two moving hands, with a bag.
SAMPLE_CONFIG = SynthConfig(cameras=4, frames=60, hands=2, seed=2026, fps=30.0, bag=True)


def sample_is_current(directory: pathlib.Path, config: SynthConfig = SAMPLE_CONFIG) -> bool:
    """True when ``directory`` holds a complete sample of this generator version and config."""
    import dataclasses

    try:
        generator = json.loads((directory / GROUND_TRUTH_FILE).read_text(encoding="utf-8"))["generator"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    complete = (directory / CALIBRATION_FILE).exists() and (not config.bag or (directory / BAG_DIR / "metadata.yaml").exists())
    # A field added since the sample was made is read at its default (what that sample did).
    made = {**dataclasses.asdict(SynthConfig()), **generator.get("config", {})}
    return complete and generator.get("version") == GENERATOR_VERSION and made == dataclasses.asdict(config)


def prepare_sample(cache: pathlib.Path) -> None:
    """Set-up step: render ``SAMPLE_CONFIG`` into ``cache/sample`` unless it is already there."""
    import os

    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from hand_pose_ros.synth.writer import generate_dataset

    out = cache / "sample"
    if sample_is_current(out):
        return
    LOG.info("rendering the bundled sample into %s", out)
    # A private staging directory: two set-ups running at once must not share one.
    staging = pathlib.Path(tempfile.mkdtemp(prefix="sample.partial-", dir=cache))
    try:
        generate_dataset(staging, SAMPLE_CONFIG)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)  # appears complete or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
