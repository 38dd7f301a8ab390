"""Linear blend skinning of the hand mesh as one dense matrix product (numpy, fast on CPU).

Same maths as ``HandModel``'s skinning (``HandModel(...)(skin=True)``), arranged as a
(V, 25) weight matrix times the (25, 12) joint skinning transforms: about 0.1 ms per hand on
a 2-core CPU, where the per-vertex gather in torch slows down badly when its threads compete
with other work. Added for the mesh fitter, which skins every hand every frame.
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.handmodel.gltf import HandMesh
from hand_pose_ros.handmodel.skeleton import NUM_JOINTS
from hand_pose_ros.types import check_shape

__all__ = ["DenseSkinning"]


class DenseSkinning:
    """Skins one ``HandMesh`` from joint transforms (e.g. ``HandOutput.transforms``)."""

    def __init__(self, mesh: HandMesh) -> None:
        rows = np.arange(len(mesh.vertices))[:, None]
        self._weights = np.zeros((len(mesh.vertices), NUM_JOINTS))  # (V, 25), rows sum to 1
        np.add.at(self._weights, (rows, mesh.skin_joints), mesh.skin_weights)
        self._inverse_bind = mesh.inverse_bind  # (25, 4, 4) joint_T_model
        self._vertices = mesh.vertices  # (V, 3) model frame, metres

    def __call__(self, transforms: np.ndarray) -> np.ndarray:
        """(B, 25, 4, 4) world_T_joint → (B, V, 3) float64 skinned vertices, world frame."""
        batch = transforms.shape[0]
        check_shape("transforms", transforms, (batch, NUM_JOINTS, 4, 4), "DenseSkinning")
        skinning = (transforms @ self._inverse_bind)[..., :3, :].reshape(batch, NUM_JOINTS, 12)  # (B, 25, 12)
        blended = (self._weights @ skinning).reshape(batch, -1, 3, 4)  # (B, V, 3, 4)
        return (blended[..., :3] @ self._vertices[:, :, None])[..., 0] + blended[..., 3]
