"""Converters from real recordings' own layouts to the project's types (docs/datasets.md).

The recordings are non-commercial research data kept OUTSIDE the repository, in
``<checkout>/../shared/data/real/`` (each folder's PROVENANCE.md says where it came from);
``real_data_dir`` finds that folder or says why it is absent. Never copy them in.

- ``dexycb``: DexYCB sequences (8 calibrated cameras, MANO joints); the calibration is
  recovered from the labels.
- ``interhand``: InterHand2.6M frames (one camera each, one or two hands).
- ``handgraphcnn``: the real-world test set of Ge et al. (one camera, a left hand).
"""

from __future__ import annotations

import pathlib

from hand_pose_ros.assets import repo_root

__all__ = ["RealDataMissing", "real_data_dir"]

# Where the real recordings live relative to a checkout (never inside it: their licences
# are non-commercial, see each folder's PROVENANCE.md).
_REAL_DATA = pathlib.Path("shared") / "data" / "real"


class RealDataMissing(FileNotFoundError):
    """The real recordings are not on this machine; the message says where they were looked for."""


def _checkouts() -> list[pathlib.Path]:
    """This checkout, and for a ``git worktree`` also the main checkout it belongs to."""
    root = repo_root()
    out = [root]
    git = root / ".git"
    if git.is_file():  # a worktree: ".git" holds "gitdir: <main>/.git/worktrees/<name>"
        text = git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            gitdir = pathlib.Path(text.split(":", 1)[1].strip())
            if gitdir.parent.name == "worktrees":
                out.append(gitdir.parent.parent.parent)
    return out


def real_data_dir() -> pathlib.Path:
    """``<checkout>/../shared/data/real`` (of this checkout or, in a worktree, of the main one).

    Raises:
        RealDataMissing: naming every place looked at.
    """
    candidates = [c.parent / _REAL_DATA for c in _checkouts()]
    for path in candidates:
        if path.is_dir():
            return path
    raise RealDataMissing("real recordings not found (looked in " + ", ".join(str(p) for p in candidates)
                          + "); they are kept outside the repository, see docs/datasets.md")
