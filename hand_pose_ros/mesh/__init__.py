"""Hand meshes fitted to the fused 3D keypoints: the WebXR hand or, when the user has it, MANO.

Per frame::

    fitter = HandMeshFitter(MeshFitterConfig(model="webxr"))
    meshes = fitter.fit(hands, stamp)          # list[FittedMesh], world frame, metres

The solver (batched Gauss-Newton with limits, priors and a per-track scale) is shared by both
models; see docs/mesh.md.
"""

from hand_pose_ros.mesh.config import MESH_MODELS, MeshFitterConfig
from hand_pose_ros.mesh.fitter import FittedMesh, HandMeshFitter, load_articulation

__all__ = ["MESH_MODELS", "FittedMesh", "HandMeshFitter", "MeshFitterConfig", "load_articulation"]
