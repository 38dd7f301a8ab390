"""The console script: --help, --version, and the subcommand table."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import hand_pose_ros
from hand_pose_ros.tools import cli

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


def test_top_level_help_imports_no_heavy_dependency():
    """`hand-pose-ros --help` lists subcommands without importing their modules (fast)."""
    code = (
        "import sys, contextlib, io\n"
        "from hand_pose_ros.tools.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = sorted(m for m in ('torch', 'rclpy', 'cv2', 'pyrender', 'onnxruntime', 'scipy', 'numpy') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_every_subcommand_module_exists_and_has_its_entry_points():
    import importlib

    for module_name, _ in list(cli.SUBCOMMANDS.values()) + list(cli.BENCHMARKS.values()):
        if module_name:
            module = importlib.import_module(module_name)
            assert callable(module.add_arguments) and callable(module.run), module_name
