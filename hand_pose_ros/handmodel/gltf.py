"""Read a skinned WebXR hand mesh (``left.glb`` / ``right.glb``) into plain arrays."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np
from scipy.spatial.transform import Rotation

from hand_pose_ros import assets
from hand_pose_ros.handmodel.skeleton import JOINT_INDEX, NUM_JOINTS, WEBXR_JOINTS
from hand_pose_ros.keypoints import Handedness

__all__ = ["HandMesh", "load_hand_mesh"]

_COMPONENT_DTYPES = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
# Bind matrices must invert the joints' rest transforms to float32 precision.
_BIND_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True, eq=False)
class HandMesh:
    """A skinned hand in its rest pose, joints in ``WEBXR_JOINTS`` order (model frame, metres).

    Attributes:
        handedness: the hand this mesh is.
        vertices: (V, 3) float64 rest-pose vertex positions.
        faces: (F, 3) int64 triangle vertex indices.
        skin_joints: (V, 4) int64 joint indices (``WEBXR_JOINTS`` order) influencing each vertex.
        skin_weights: (V, 4) float64 blend weights, rows sum to 1.
        rest_transforms: (25, 4, 4) float64 model_T_joint in the rest pose.
        inverse_bind: (25, 4, 4) float64 joint_T_model at bind time (inverse of the rest).
    """

    handedness: Handedness
    vertices: np.ndarray
    faces: np.ndarray
    skin_joints: np.ndarray
    skin_weights: np.ndarray
    rest_transforms: np.ndarray
    inverse_bind: np.ndarray


def _node_matrix(node) -> np.ndarray:
    if node.matrix is not None:
        return np.asarray(node.matrix, np.float64).reshape(4, 4).T  # glTF is column-major
    T = np.eye(4)
    if node.rotation is not None:
        T[:3, :3] = Rotation.from_quat(node.rotation).as_matrix()  # glTF quaternions are (x, y, z, w) too
    if node.scale is not None:
        T[:3, :3] = T[:3, :3] * np.asarray(node.scale)
    if node.translation is not None:
        T[:3, 3] = node.translation
    return T


def load_hand_mesh(handedness: Handedness | str, path: str | os.PathLike[str] | None = None) -> HandMesh:
    """Load ``left.glb`` or ``right.glb`` (default: the set-up's WebXR hand directory).

    Joints are matched by name (``left.glb`` lists them in reverse order), so the result is
    always in ``WEBXR_JOINTS`` order. Joint nodes hang flat under "Armature" whose transform
    is the identity, so node transforms are model_T_joint.

    Raises:
        AssetMissingError: the meshes have not been fetched.
        ValueError: the file is not a 25-joint skinned WebXR hand (names what is wrong).
    """
    import pygltflib

    side = Handedness.from_label(handedness) if isinstance(handedness, str) else Handedness(handedness)
    if side == Handedness.UNKNOWN:
        raise ValueError("handedness must be Left or Right, got Unknown")
    if path is None:
        path = assets.webxr_hand_dir() / f"{side.label.lower()}.glb"
    path = pathlib.Path(path)
    if not path.exists():
        raise assets.AssetMissingError(f"hand mesh {path} not found; run `{assets.SETUP_COMMAND}`")
    gltf = pygltflib.GLTF2().load(str(path))
    blob = gltf.binary_blob()

    def accessor(index: int) -> np.ndarray:
        acc = gltf.accessors[index]
        view = gltf.bufferViews[acc.bufferView]
        dtype = _COMPONENT_DTYPES[acc.componentType]
        width = _TYPE_SIZES[acc.type]
        if view.byteStride not in (None, width * np.dtype(dtype).itemsize):
            raise ValueError(f"{path}: interleaved accessor {index} is not supported")
        offset = (view.byteOffset or 0) + (acc.byteOffset or 0)
        return np.frombuffer(blob, dtype, acc.count * width, offset).reshape(acc.count, width)

    if len(gltf.skins) != 1 or len(gltf.meshes) != 1 or len(gltf.meshes[0].primitives) != 1:
        raise ValueError(f"{path}: expected one skin and one single-primitive mesh")
    skin = gltf.skins[0]
    names = [gltf.nodes[j].name for j in skin.joints]
    if sorted(names) != sorted(WEBXR_JOINTS):
        raise ValueError(f"{path}: skin joints {names} are not the {NUM_JOINTS} WebXR hand joints")
    # file joint slot → our joint index
    remap = np.array([JOINT_INDEX[n] for n in names])
    order = np.argsort(remap)  # our joint index → file slot

    prim = gltf.meshes[0].primitives[0]
    vertices = accessor(prim.attributes.POSITION).astype(np.float64)
    faces = accessor(prim.indices).reshape(-1, 3).astype(np.int64)
    skin_joints = remap[accessor(prim.attributes.JOINTS_0).astype(np.int64)]
    skin_weights = accessor(prim.attributes.WEIGHTS_0).astype(np.float64)
    skin_weights /= skin_weights.sum(axis=1, keepdims=True)
    bind = accessor(skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)[order]
    rest = np.stack([_node_matrix(gltf.nodes[skin.joints[slot]]) for slot in order])
    error = np.abs(np.einsum("jab,jbc->jac", bind, rest) - np.eye(4)).max()
    if error > _BIND_TOLERANCE:
        raise ValueError(f"{path}: inverse bind matrices do not invert the rest pose (max error {error:.2e})")
    # Rest rotations may carry float32 scale noise; make them orthonormal for exact FK.
    u, _, vt = np.linalg.svd(rest[:, :3, :3])
    rest[:, :3, :3] = u @ vt
    return HandMesh(
        handedness=side,
        vertices=vertices,
        faces=faces,
        skin_joints=skin_joints,
        skin_weights=skin_weights,
        rest_transforms=rest,
        inverse_bind=np.linalg.inv(rest),
    )
