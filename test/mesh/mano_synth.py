"""A synthetic MANO model with the release pickle's structure (MANO itself is never shipped).

A hand-like skeleton (16 joints in MANO's kintree order, fingertip vertices at MANO's tip ids),
vertices strung along the bones, skinning weights summing to 1, an exact joint regressor,
orthonormal blend-shape bases; ``shapedirs`` pickled as a ``chumpy.ch.Ch`` and
``J_regressor`` as a ``scipy.sparse.csc_matrix``, like the research release.
"""

from __future__ import annotations

import pathlib
import pickle
import sys
import types

import numpy as np
import scipy.sparse

NUM_VERTICES = 778
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
TIPS = {3: 320, 6: 443, 9: 671, 12: 554, 15: 744}  # last joint of each finger → tip vertex id
# Rest joints of a right hand, metres: fingers along +x, thumb towards +y, palm facing −z.
_FINGERS = {  # first joint index → (MCP, PIP, DIP, tip)
    1: [(0.090, 0.025), (0.130, 0.027), (0.155, 0.028), (0.175, 0.028)],   # index
    4: [(0.095, 0.005), (0.140, 0.005), (0.168, 0.005), (0.190, 0.005)],   # middle
    7: [(0.082, -0.033), (0.112, -0.036), (0.132, -0.038), (0.150, -0.039)],  # pinky
    10: [(0.090, -0.015), (0.130, -0.016), (0.156, -0.017), (0.176, -0.017)],  # ring
    13: [(0.025, 0.025), (0.050, 0.050), (0.070, 0.065), (0.090, 0.075)],   # thumb
}
_SPREAD_M = 0.003  # joint-vertex offsets of the regressor's symmetric stars
_RADIUS_M = 0.008  # how far skin vertices lie from their bone


def _skeleton(left: bool) -> tuple[np.ndarray, np.ndarray]:
    joints, tips = np.zeros((16, 3)), np.zeros((16, 3))
    for first, points in _FINGERS.items():
        for k, (x, y) in enumerate(points[:3]):
            joints[first + k] = (x, y, 0.0)
        tips[first + 2] = (*points[3], 0.0)
    if left:  # the left hand mirrors the right across the hand's long axis
        joints[:, 1] *= -1
        tips[:, 1] *= -1
    return joints, tips


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    return np.linalg.qr(rng.normal(size=(rows, cols)))[0]


def synthetic_mano(seed: int, left: bool = False) -> dict[str, np.ndarray]:
    """Plain-numpy arrays of a valid synthetic MANO model."""
    rng = np.random.default_rng(seed)
    joints, tips = _skeleton(left)
    v = np.zeros((NUM_VERTICES, 3))
    weights = np.zeros((NUM_VERTICES, 16))
    regressor = np.zeros((16, NUM_VERTICES))
    used = set(TIPS.values())
    star = np.array([[0, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) * _SPREAD_M
    free = iter(i for i in range(NUM_VERTICES) if i not in used)
    for j in range(16):  # a symmetric star of 5 vertices around each joint: an exact regressor
        for offset in star:
            i = next(free)
            v[i] = joints[j] + offset
            weights[i, j] = 1.0
            regressor[j, i] = 1.0 / len(star)
    for last, vertex in TIPS.items():
        v[vertex] = tips[last]
        weights[vertex, last] = 1.0
    children = {p: j for j, p in enumerate(PARENTS) if p > 0}
    for i in free:  # skin along the bone from joint j to its child (or tip)
        j = int(rng.integers(1, 16))
        end = joints[children[j]] if j in children else tips[j]
        u = rng.uniform()
        v[i] = (1 - u) * joints[j] + u * end + rng.normal(0, _RADIUS_M, 3)
        blend = 0.3 * (1 - u)  # near the joint, the parent bone still pulls
        weights[i, j], weights[i, PARENTS[j]] = 1 - blend, blend
    kintree = np.array([[2**32 - 1] + list(PARENTS[1:]), list(range(16))], np.int64)
    faces = np.stack([rng.choice(NUM_VERTICES, 3, replace=False) for _ in range(1538)]).astype(np.uint32)
    return {
        "v_template": v,
        "shapedirs": 0.01 * _orthonormal(rng, NUM_VERTICES * 3, 10).reshape(NUM_VERTICES, 3, 10),
        "posedirs": 0.005 * _orthonormal(rng, NUM_VERTICES * 3, 135).reshape(NUM_VERTICES, 3, 135),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": faces,
        "hands_components": _orthonormal(rng, 45, 45),
        "hands_mean": rng.normal(0, 0.1, 45),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def _fake_chumpy() -> type:
    """A class that pickles as ``chumpy.ch.Ch`` with chumpy's state layout."""
    module, package = types.ModuleType("chumpy.ch"), types.ModuleType("chumpy")

    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            self.x = x

        def __getstate__(self) -> dict:
            return {"x": self.x, "_dirty_vars": set(), "_itr": None, "_make_dense": False, "_make_sparse": False}

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch, package.ch = Ch, module
    sys.modules.setdefault("chumpy", package)
    sys.modules.setdefault("chumpy.ch", module)
    return sys.modules["chumpy.ch"].Ch


def write_release_pickle(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> pathlib.Path:
    """Pickle ``arrays`` like the release: shapedirs as chumpy, J_regressor as scipy.sparse."""
    Ch = _fake_chumpy()
    raw = dict(arrays)
    raw["shapedirs"] = Ch(arrays["shapedirs"])
    raw["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(raw, f, protocol=2)
    return path


def untwisted_pose(rng: np.random.Generator, arrays: dict[str, np.ndarray], sigma: float) -> np.ndarray:
    """(45,) random finger axis-angle with no twist about any bone (twist leaves joints in place)."""
    joints = arrays["J_regressor"] @ arrays["v_template"]
    pose = rng.normal(0.0, sigma, (15, 3))
    for j in range(1, 16):
        children = [c for c, p in enumerate(PARENTS) if p == j]
        end = joints[children[0]] if children else arrays["v_template"][TIPS[j]]
        bone = (end - joints[j]) / np.linalg.norm(end - joints[j])
        pose[j - 1] -= bone * (pose[j - 1] @ bone)
    return pose.reshape(-1)
