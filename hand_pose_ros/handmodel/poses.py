"""Anatomical joint limits, named hand poses and pose sampling, as (25, 3) joint angles.

Angles are (flexion, abduction, twist) in radians per WebXR joint (see kinematics). The
limits are typical active ranges of motion of an adult hand (degrees in the table below);
the fingertips and the wrist carry no articulation here (the wrist's motion is the root).
"""

from __future__ import annotations

import numpy as np

from hand_pose_ros.handmodel.skeleton import JOINT_INDEX, NUM_JOINTS

__all__ = ["JOINT_LIMITS", "POSE_NAMES", "named_pose", "random_pose", "clip_to_limits"]

_FINGERS = ("index", "middle", "ring", "pinky")

# (joint, (flex_min, flex_max), (abd_min, abd_max), (twist_min, twist_max)) in degrees.
_LIMITS_DEG: list[tuple[str, tuple[float, float], tuple[float, float], tuple[float, float]]] = [
    ("thumb-metacarpal", (-15, 50), (-20, 45), (-20, 20)),  # CMC: the thumb's wide saddle joint
    ("thumb-phalanx-proximal", (-10, 60), (-8, 8), (0, 0)),  # MCP
    ("thumb-phalanx-distal", (-15, 80), (0, 0), (0, 0)),  # IP: a hinge
]
for _finger in _FINGERS:
    # Ring and pinky metacarpals flex a little (palm cupping); index/middle barely move.
    _cup = 12.0 if _finger in ("ring", "pinky") else 3.0
    _LIMITS_DEG += [
        (f"{_finger}-finger-metacarpal", (0, _cup), (-3, 3), (0, 0)),
        (f"{_finger}-finger-phalanx-proximal", (-20, 90), (-20, 20), (-5, 5)),  # MCP
        (f"{_finger}-finger-phalanx-intermediate", (-5, 105), (0, 0), (0, 0)),  # PIP: a hinge
        (f"{_finger}-finger-phalanx-distal", (-5, 80), (0, 0), (0, 0)),  # DIP: a hinge
    ]


def _limits() -> np.ndarray:
    table = np.zeros((NUM_JOINTS, 3, 2))
    for name, *ranges in _LIMITS_DEG:
        table[JOINT_INDEX[name]] = np.radians(np.asarray(ranges, np.float64))
    return table


# (25, 3, 2) radians: [joint, (flexion, abduction, twist), (min, max)].
JOINT_LIMITS: np.ndarray = _limits()
JOINT_LIMITS.setflags(write=False)


def clip_to_limits(angles: np.ndarray) -> np.ndarray:
    """(..., 25, 3) radians → the same, clipped into ``JOINT_LIMITS``."""
    return np.clip(angles, JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1])


def _finger_curl(angles: np.ndarray, finger: str, mcp: float, pip: float, dip: float, spread: float = 0.0) -> None:
    prefix = f"{finger}-finger-phalanx-"
    angles[JOINT_INDEX[prefix + "proximal"]] = np.radians([mcp, spread, 0.0])
    angles[JOINT_INDEX[prefix + "intermediate"], 0] = np.radians(pip)
    angles[JOINT_INDEX[prefix + "distal"], 0] = np.radians(dip)


def _thumb(angles: np.ndarray, cmc_flex: float, cmc_abd: float, mcp: float, ip: float) -> None:
    angles[JOINT_INDEX["thumb-metacarpal"]] = np.radians([cmc_flex, cmc_abd, 0.0])
    angles[JOINT_INDEX["thumb-phalanx-proximal"], 0] = np.radians(mcp)
    angles[JOINT_INDEX["thumb-phalanx-distal"], 0] = np.radians(ip)


_FIST = (85.0, 100.0, 60.0)  # MCP, PIP, DIP flexion of a closed finger, degrees


def named_pose(name: str) -> np.ndarray:
    """(25, 3) float64 radians for one of ``POSE_NAMES`` (the same angles suit both hands)."""
    angles = np.zeros((NUM_JOINTS, 3))
    if name == "open":
        for finger, spread in zip(_FINGERS, (8.0, 0.0, -6.0, -14.0)):
            _finger_curl(angles, finger, 0.0, 0.0, 0.0, spread)
        _thumb(angles, -10.0, 30.0, 0.0, 0.0)
    elif name == "fist":
        for finger in _FINGERS:
            _finger_curl(angles, finger, *_FIST)
        _thumb(angles, 35.0, 10.0, 50.0, 40.0)
    elif name == "point":
        _finger_curl(angles, "index", 0.0, 0.0, 0.0)
        for finger in _FINGERS[1:]:
            _finger_curl(angles, finger, *_FIST)
        _thumb(angles, 35.0, 10.0, 45.0, 35.0)
    elif name == "pinch":
        _finger_curl(angles, "index", 40.0, 55.0, 25.0)
        _finger_curl(angles, "middle", 20.0, 25.0, 10.0)
        _finger_curl(angles, "ring", 15.0, 20.0, 10.0, -5.0)
        _finger_curl(angles, "pinky", 10.0, 15.0, 10.0, -10.0)
        _thumb(angles, 25.0, 35.0, 20.0, 25.0)
    elif name == "peace":
        _finger_curl(angles, "index", 0.0, 0.0, 0.0, 12.0)
        _finger_curl(angles, "middle", 0.0, 0.0, 0.0, -8.0)
        for finger in _FINGERS[2:]:
            _finger_curl(angles, finger, *_FIST)
        _thumb(angles, 35.0, 10.0, 50.0, 40.0)
    elif name == "grasp":
        for finger in _FINGERS:
            _finger_curl(angles, finger, 45.0, 60.0, 30.0)
        _thumb(angles, 20.0, 40.0, 20.0, 15.0)
    else:
        raise ValueError(f"unknown pose {name!r}; choose one of {list(POSE_NAMES)} or 'random'")
    return clip_to_limits(angles)


POSE_NAMES: tuple[str, ...] = ("open", "fist", "point", "pinch", "peace", "grasp")

# Natural hands couple the joints of a finger: DIP follows PIP (about 2/3), so sample a curl
# per finger and jitter each joint around it rather than drawing joints independently.
_DIP_PER_PIP = 2.0 / 3.0
_JITTER_DEG = 10.0  # spread of each joint around the finger's curl


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """(25, 3) float64 radians: a plausible random hand within ``JOINT_LIMITS``."""
    angles = np.zeros((NUM_JOINTS, 3))
    jitter = lambda: rng.normal(0.0, _JITTER_DEG)  # noqa: E731 - one-line helper
    for finger in _FINGERS:
        curl = rng.uniform(0.0, 1.0)
        pip = curl * 100.0 + jitter()
        _finger_curl(angles, finger, curl * 85.0 + jitter(), pip, pip * _DIP_PER_PIP + jitter(), rng.uniform(-15, 15))
        if finger in ("ring", "pinky"):
            angles[JOINT_INDEX[f"{finger}-finger-metacarpal"], 0] = np.radians(curl * 10.0)
    curl = rng.uniform(0.0, 1.0)
    _thumb(angles, rng.uniform(-10, 45), rng.uniform(-10, 40), curl * 55 + jitter(), curl * 70 + jitter())
    return clip_to_limits(angles)
