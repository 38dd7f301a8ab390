"""The console script: --help, --version, and the subcommand table."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import hand_pose_ros
from hand_pose_ros import cli

SCRIPT = pathlib.Path(sys.prefix) / "bin" / "hand-pose-ros"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"hand-pose-ros {hand_pose_ros.__version__}"


def test_help_lists_every_subcommand():
    result = run("--help")
    assert result.returncode == 0
    for name in cli.SUBCOMMANDS:
        assert name in result.stdout


def test_unknown_subcommand_is_an_error():
    result = run("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_subcommand_modules_import_without_heavy_dependencies():
    """Subcommand modules import only the standard library at top level (fast --help)."""
    code = (
        "import sys, importlib\n"
        "from hand_pose_ros.cli import SUBCOMMANDS, BENCHMARKS\n"
        "for module, _, _ in list(SUBCOMMANDS.values()) + list(BENCHMARKS.values()):\n"
        "    if module:\n"
        "        try: importlib.import_module(module)\n"
        "        except ModuleNotFoundError as exc:\n"
        "            if not module.startswith(exc.name): raise\n"
        "heavy = sorted(m for m in ('torch', 'rclpy', 'cv2', 'pyrender', 'onnxruntime', 'scipy') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
