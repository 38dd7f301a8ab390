"""``hand-pose-ros bench soak``: the node under steady load for minutes: memory, rate, errors.

Starts hand_pose_node (as ``hand-pose-ros run`` does) on a rig made from the bundled sample,
runs ``bench_publisher`` in another process (``--cameras`` at ``--rate`` Hz for ``--minutes``)
and, from this third process, every ``--period`` seconds records the node's RSS and CPU, the
/hands/pose output rate over that interval, and the error counters from /diagnostics
(processing errors, callback errors, rejected images). At the end: the RSS slope after the
first minute (least squares, MB/min), the output rate of the first and last ``--window``
minutes (halves of the run when it is shorter than two windows) and the targets of issue #13
(slope ≤ 0.5 MB/min, zero processing errors, last window's rate within 5 % of the first's).
"""

from __future__ import annotations

import argparse

from hand_pose_ros.config import NODE_DEFAULTS

WARM_UP_S = 60.0  # RSS grows while caches, allocator pools and DDS buffers fill: not a leak
SLOPE_TARGET_MB_PER_MIN = 0.5
RATE_CHANGE_TARGET = 0.05  # last window's output rate within 5 % of the first's
STARTUP_TIMEOUT_S = 180.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of publishing")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--rate", type=float, default=30.0, help="input set rate (Hz)")
    parser.add_argument("--period", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--window", type=float, default=5.0, help="minutes compared at the start and end")
    parser.add_argument("--backend", default=NODE_DEFAULTS["detector.backend"], help="detector backend (default: the node's)")
    parser.add_argument("--device", default="cpu", help="detector device")
    parser.add_argument("--model", default="full", choices=["full", "lite"])
    parser.add_argument("--out", default="", help="also write the samples and summary as JSON here")


class _Outputs:
    """Counts /hands/pose messages and keeps the latest /diagnostics values (callback threads)."""

    def __init__(self, node) -> None:
        import threading

        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from hand_pose_ros.msg import HandPoseArray

        self._lock = threading.Lock()
        self.poses = 0
        self.values: dict[str, str] = {}
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(HandPoseArray, "/hands/pose", self._on_pose, qos)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, qos)

    def _on_pose(self, msg) -> None:
        with self._lock:
            self.poses += 1

    def _on_diagnostics(self, msg) -> None:
        values: dict[str, str] = {}
        rejected = 0
        for status in msg.status:
            kv = {k.key: k.value for k in status.values}
            if ": camera " in status.name:
                rejected += int(kv.get("Images rejected", 0))
            elif status.name.endswith(": processing"):
                values.update(processing_errors=kv.get("Processing errors", "?"), sets_processed=kv.get("Sets processed", "?"))
            elif status.name.endswith(": callbacks"):
                values["callback_errors"] = kv.get("Callback errors", "?")
        values["images_rejected"] = str(rejected)
        with self._lock:
            self.values = values

    def snapshot(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            return self.poses, dict(self.values)


def summarise(samples: list[dict], window_s: float) -> dict:
    """Slope of RSS after ``WARM_UP_S`` (MB/min) and the output rates of the first and last windows.

    Args:
        samples: dicts with ``t_s`` (since publishing began), ``rss_mb`` and ``poses`` (cumulative).
        window_s: seconds compared at each end; halves of the run when it is shorter than two.
    """
    import numpy as np

    t = np.array([s["t_s"] for s in samples], np.float64)
    rss = np.array([s["rss_mb"] for s in samples], np.float64)
    poses = np.array([s["poses"] for s in samples], np.float64)
    settled = t >= WARM_UP_S
    slope = float(np.polyfit(t[settled] / 60.0, rss[settled], 1)[0]) if settled.sum() >= 2 else float("nan")
    end = float(t[-1]) if t.size else 0.0
    window = min(window_s, end / 2)

    def rate(t0: float, t1: float) -> float:
        if t1 <= t0:
            return float("nan")
        return float((np.interp(t1, t, poses) - np.interp(t0, t, poses)) / (t1 - t0))

    first, last = rate(0.0, window), rate(end - window, end)
    return {
        "duration_s": end,
        "rss_first_mb": float(rss[0]) if rss.size else float("nan"),
        "rss_last_mb": float(rss[-1]) if rss.size else float("nan"),
        "rss_slope_mb_per_min": slope,
        "window_s": window,
        "rate_first_hz": first,
        "rate_last_hz": last,
        "rate_change": (last - first) / first if first > 0 else float("nan"),
    }


def run(args: argparse.Namespace) -> int:
    import json
    import pathlib
    import subprocess
    import sys
    import tempfile
    import time

    import psutil
    import rclpy

    from hand_pose_ros.assets import sample_dir
    from hand_pose_ros.tools.bench.node import _rig_files
    from hand_pose_ros.tools.harness import NodeProcess, apply_ros_environment, spin_in_background, wait_until
    from hand_pose_ros.tools.launch_spec import node_spec, ros_environment

    apply_ros_environment(localhost=True)  # benchmarks stay on this machine
    rclpy.init()
    node = rclpy.create_node("hand_pose_soak")
    executor, thread = spin_in_background(node)
    outputs = _Outputs(node)
    samples: list[dict] = []
    try:
        with tempfile.TemporaryDirectory(prefix="hand_pose_soak_") as tmp_name:
            tmp = pathlib.Path(tmp_name)
            _, params = _rig_files(args.cameras, tmp, sample_dir())
            overrides = (("detector.device", args.device), ("detector.model", args.model))
            log = tmp / "node.log"
            with NodeProcess(node_spec(params_file=params, backend=args.backend, overrides=overrides), log_path=log) as proc:
                if not wait_until(lambda: not proc.alive() or node.count_publishers("/hands/pose") > 0, STARTUP_TIMEOUT_S) or not proc.alive():
                    print(f"node did not start:\n{log.read_text()[-2000:]}", file=sys.stderr)
                    return 1
                ps = psutil.Process(proc.process.pid)
                feeder = subprocess.Popen(
                    [sys.executable, "-m", "hand_pose_ros.tools.bench.publisher", "--cameras", str(args.cameras),
                     "--rate", str(args.rate), "--duration", str(args.minutes * 60.0)],
                    env=ros_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                )
                # Time 0: the first output (the publisher waits for the node's subscriptions first).
                if not wait_until(lambda: outputs.snapshot()[0] > 0 or feeder.poll() is not None, STARTUP_TIMEOUT_S):
                    feeder.kill()
                    print("no /hands/pose output", file=sys.stderr)
                    return 1
                start = time.monotonic()
                ps.cpu_percent(None)
                print(f"{'t s':>6} {'RSS MB':>7} {'out Hz':>6} {'CPU %':>6} {'proc err':>8} {'cb err':>6} {'rejected':>8}", flush=True)
                samples.append({"t_s": 0.0, "rss_mb": ps.memory_info().rss / 2**20, "poses": outputs.snapshot()[0]})
                previous = (0.0, samples[0]["poses"])
                while proc.alive():
                    time.sleep(max(0.0, start + len(samples) * args.period - time.monotonic()))
                    if feeder.poll() is not None:
                        break  # publishing ended within this interval: its rate would mix in silence
                    now = time.monotonic() - start
                    poses, values = outputs.snapshot()
                    sample = {
                        "t_s": now, "rss_mb": ps.memory_info().rss / 2**20, "cpu_percent": ps.cpu_percent(None),
                        "poses": poses, "rate_hz": (poses - previous[1]) / max(now - previous[0], 1e-9), **values,
                    }
                    previous = (now, poses)
                    samples.append(sample)
                    print(f"{now:>6.0f} {sample['rss_mb']:>7.1f} {sample['rate_hz']:>6.1f} {sample['cpu_percent']:>6.0f} "
                          f"{values.get('processing_errors', '?'):>8} {values.get('callback_errors', '?'):>6} "
                          f"{values.get('images_rejected', '?'):>8}", flush=True)
                alive = proc.alive()
                published_out, published_err = feeder.communicate(timeout=60)
                if feeder.returncode != 0:
                    print(f"publisher failed: {published_err[-2000:]}", file=sys.stderr)
                    return 1
                published = json.loads(published_out.strip().splitlines()[-1])
                time.sleep(2.0)  # the last diagnostics
                final = outputs.snapshot()[1]
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        thread.join(5)
    summary = summarise(samples, args.window * 60.0)
    span = (published["last_stamp_ns"] - published["first_stamp_ns"]) / 1e9
    summary.update(
        node_alive=alive, sets_published=published["sets"], input_rate_hz=(published["sets"] - 1) / max(span, 1e-9),
        outputs=samples[-1]["poses"] if samples else 0, **{k: final.get(k, "?") for k in ("processing_errors", "callback_errors", "images_rejected")},
    )
    checks = {
        f"RSS slope after {WARM_UP_S:.0f} s <= {SLOPE_TARGET_MB_PER_MIN} MB/min": summary["rss_slope_mb_per_min"] <= SLOPE_TARGET_MB_PER_MIN,
        "zero processing errors": final.get("processing_errors") == "0",
        f"last window's output rate within {RATE_CHANGE_TARGET:.0%} of the first's": abs(summary["rate_change"]) <= RATE_CHANGE_TARGET,
        "node alive": alive,
    }
    print(f"{args.cameras} cameras at {summary['input_rate_hz']:.1f} Hz for {summary['duration_s'] / 60:.1f} min: "
          f"RSS {summary['rss_first_mb']:.0f} -> {summary['rss_last_mb']:.0f} MB, slope {summary['rss_slope_mb_per_min']:.3f} MB/min "
          f"after {WARM_UP_S:.0f} s; output {summary['rate_first_hz']:.2f} Hz (first {summary['window_s'] / 60:.1f} min) -> "
          f"{summary['rate_last_hz']:.2f} Hz (last), {summary['rate_change']:+.1%}; processing errors {summary['processing_errors']}, "
          f"callback errors {summary['callback_errors']}, images rejected {summary['images_rejected']}")
    for name, ok in checks.items():
        print(f"  {'met   ' if ok else 'MISSED'} {name}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({"samples": samples, "summary": summary, "checks": checks}, indent=2))
    return 0 if all(checks.values()) else 3
