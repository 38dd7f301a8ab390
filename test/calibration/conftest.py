"""Tests of the calibration package share ``board_scene`` (a rendered ChArUco board)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
