"""Load a user-supplied MANO model (``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``) without chumpy.

The research release pickles (Python 2) hold numpy arrays, ``chumpy.ch.Ch`` objects (their
value in the ``x`` attribute) and a ``scipy.sparse`` joint regressor. A restricted unpickler
admits only those classes, as inert placeholders converted to numpy, so a pickle can run no
code here. MANO's licence forbids redistribution: the files are never shipped with this
project; point ``MeshFitterConfig.mano_dir`` at the directory holding them.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import pickle
from typing import Any

import numpy as np
import scipy.sparse

from hand_pose_ros.keypoints import Handedness

__all__ = ["ManoData", "ManoFileError", "load_mano", "mano_path", "MANO_FILES"]

MANO_FILES = {Handedness.RIGHT: "MANO_RIGHT.pkl", Handedness.LEFT: "MANO_LEFT.pkl"}
NUM_MANO_JOINTS = 16  # wrist + 3 joints × 5 fingers
_WEIGHT_SUM_TOLERANCE = 1e-3  # skinning weights and regressor rows are stored as float32/float64
_ROOT_PARENT = 2**32 - 1  # how the release's uint32 kintree_table marks the root's parent
# Python 2 module names in protocol-2 pickles (the release files are Python 2 pickles).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class ManoFileError(ValueError):
    """A MANO file is missing or not a MANO model; the message names the file and the problem."""


class _Placeholder:
    """An inert stand-in for a pickled class; keeps the state it is given."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _Chumpy(_Placeholder):
    """``chumpy.ch.Ch``: the value lives in the state's ``x``."""

    def to_numpy(self) -> np.ndarray:
        return np.asarray(self.state["x"])


class _Sparse(_Placeholder):
    """``scipy.sparse`` csc/csr matrix: rebuilt from its arrays."""

    format = "csc"

    def to_numpy(self) -> np.ndarray:
        s = self.state
        cls = scipy.sparse.csc_matrix if self.format == "csc" else scipy.sparse.csr_matrix
        shape = s.get("_shape", s.get("shape"))
        return cls((s["data"], s["indices"], s["indptr"]), shape=shape).toarray()


class _SparseCsr(_Sparse):
    format = "csr"


def _allowed() -> dict[tuple[str, str], Any]:
    from copyreg import _reconstructor
    import codecs

    table: dict[tuple[str, str], Any] = {
        ("copyreg", "_reconstructor"): _reconstructor,
        ("builtins", "object"): object,
        ("builtins", "set"): set,  # chumpy objects keep a set of dirty variables
        ("_codecs", "encode"): codecs.encode,
        ("chumpy.ch", "Ch"): _Chumpy,
    }
    for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(core, "_reconstruct")] = np._core.multiarray._reconstruct
        table[(core, "scalar")] = np._core.multiarray.scalar
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    for module in ("scipy.sparse.csc", "scipy.sparse._csc"):
        table[(module, "csc_matrix")] = _Sparse
    for module in ("scipy.sparse.csr", "scipy.sparse._csr"):
        table[(module, "csr_matrix")] = _SparseCsr
    return table


class _ManoUnpickler(pickle.Unpickler):
    def __init__(self, file, path: pathlib.Path) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 pickles hold arrays as str
        self._path = path
        self._table = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        try:
            return self._table[(module, name)]
        except KeyError:
            raise ManoFileError(
                f"{self._path}: refusing to unpickle {module}.{name} (a MANO model holds only numpy, "
                "chumpy and scipy.sparse arrays)"
            ) from None


@dataclasses.dataclass(frozen=True, eq=False)
class ManoData:
    """The arrays of one MANO hand (model frame, metres), converted to numpy.

    Attributes:
        handedness: the hand the file is for.
        v_template: (V, 3) float64 mean-shape vertices in the rest (flat hand) pose.
        shapedirs: (V, 3, S) float64 shape blend shapes (S = 10 betas).
        posedirs: (V, 3, 9·(J−1)) float64 pose blend shapes, driven by (R − I) of joints 1..J−1.
        J_regressor: (J, V) float64 joint regressor (J = 16).
        weights: (V, J) float64 skinning weights, rows sum to 1.
        parents: (J,) int64 parent joint, −1 for the wrist.
        faces: (F, 3) int64 triangles.
        hands_components: (45, 45) float64 PCA basis of the finger pose (rows), or None.
        hands_mean: (45,) float64 mean finger pose (axis-angle), or None.
    """

    handedness: Handedness
    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    faces: np.ndarray
    hands_components: np.ndarray | None = None
    hands_mean: np.ndarray | None = None


def mano_path(mano_dir: str | os.PathLike[str], handedness: Handedness) -> pathlib.Path:
    """The file for ``handedness`` in ``mano_dir`` (``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``)."""
    if handedness not in MANO_FILES:
        raise ValueError(f"MANO has a left and a right hand, got handedness {handedness!r}")
    return pathlib.Path(mano_dir) / MANO_FILES[handedness]


def _array(raw: dict[str, Any], key: str, path: pathlib.Path, *, required: bool = True) -> np.ndarray | None:
    if key not in raw:
        if required:
            raise ManoFileError(f"{path}: key {key!r} missing (found {sorted(raw)})")
        return None
    value = raw[key]
    if isinstance(value, (_Chumpy, _Sparse)):
        value = value.to_numpy()
    if isinstance(value, _Placeholder):
        raise ManoFileError(f"{path}: {key!r} holds an unsupported object")
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ManoFileError(f"{path}: {key!r} is not an array ({exc})") from None


def _expect(path: pathlib.Path, key: str, array: np.ndarray, shape: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(shape) and all(e is None or e == a for e, a in zip(shape, array.shape))
    if not ok:
        expected = "(" + ", ".join("*" if e is None else str(e) for e in shape) + ")"
        raise ManoFileError(f"{path}: {key!r} has shape {tuple(array.shape)}, expected {expected}")


def load_mano(mano_dir: str | os.PathLike[str], handedness: Handedness | str) -> ManoData:
    """Read and check ``MANO_{RIGHT,LEFT}.pkl`` from ``mano_dir``.

    Raises:
        ManoFileError: the file is missing, unreadable, not a pickle of a MANO model, or its
            arrays have inconsistent shapes or invalid weights (the message says which).
    """
    side = Handedness.from_label(handedness) if isinstance(handedness, str) else Handedness(handedness)
    path = mano_path(mano_dir, side)
    if not path.is_file():
        raise ManoFileError(
            f"{path}: MANO model not found; download it from https://mano.is.tue.mpg.de (licence required) "
            f"and put {MANO_FILES[side]} in that directory"
        )
    try:
        with path.open("rb") as f:
            raw = _ManoUnpickler(f, path).load()
    except ManoFileError:
        raise
    except Exception as exc:  # a damaged or foreign file fails in many ways; report them all alike
        raise ManoFileError(f"{path}: not a readable MANO pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(raw, dict):
        raise ManoFileError(f"{path}: expected a dict of arrays, got {type(raw).__name__}")
    arrays = {k: _array(raw, k, path) for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                                                 "kintree_table", "f")}
    v = arrays["v_template"]
    _expect(path, "v_template", v, (None, 3))
    num_v, num_j = len(v), NUM_MANO_JOINTS
    _expect(path, "shapedirs", arrays["shapedirs"], (num_v, 3, None))
    _expect(path, "posedirs", arrays["posedirs"], (num_v, 3, 9 * (num_j - 1)))
    _expect(path, "J_regressor", arrays["J_regressor"], (num_j, num_v))
    _expect(path, "weights", arrays["weights"], (num_v, num_j))
    _expect(path, "kintree_table", arrays["kintree_table"], (2, num_j))
    _expect(path, "f", arrays["f"], (None, 3))
    weights = arrays["weights"].astype(np.float64)
    if np.abs(weights.sum(1) - 1).max() > _WEIGHT_SUM_TOLERANCE or (weights < 0).any():
        raise ManoFileError(f"{path}: 'weights' rows must be non-negative and sum to 1")
    regressor = arrays["J_regressor"].astype(np.float64)
    if np.abs(regressor.sum(1) - 1).max() > _WEIGHT_SUM_TOLERANCE:
        raise ManoFileError(f"{path}: 'J_regressor' rows must sum to 1 (joints are vertex averages)")
    faces = arrays["f"].astype(np.int64)
    if faces.min() < 0 or faces.max() >= num_v:
        raise ManoFileError(f"{path}: 'f' indexes vertices outside [0, {num_v})")
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1 if parents[0] in (-1, _ROOT_PARENT) else parents[0]
    if parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(parents[1:], start=1)):
        raise ManoFileError(f"{path}: 'kintree_table' must list parents before children with the wrist first, "
                            f"got parents {parents.tolist()}")
    components = _array(raw, "hands_components", path, required=False)
    mean = _array(raw, "hands_mean", path, required=False)
    if components is not None:
        _expect(path, "hands_components", components, (None, 3 * (num_j - 1)))
    if mean is not None:
        _expect(path, "hands_mean", mean, (3 * (num_j - 1),))
    return ManoData(
        handedness=side,
        v_template=v.astype(np.float64),
        shapedirs=arrays["shapedirs"].astype(np.float64),
        posedirs=arrays["posedirs"].astype(np.float64),
        J_regressor=regressor,
        weights=weights,
        parents=parents,
        faces=faces,
        hands_components=None if components is None else components.astype(np.float64),
        hands_mean=None if mean is None else mean.astype(np.float64),
    )
