"""``hand-pose-ros bench node``: end-to-end latency and rate of the node over DDS.

For each camera count, starts hand_pose_node (as ``hand-pose-ros run`` does) on a rig made
from the bundled sample (camera i = sample camera i mod 4), then for each input rate runs
``bench_publisher`` in another process for ``--duration`` seconds and measures, from this
third process: end-to-end latency (image stamp → /hands/pose received) median and p99,
sustained output rate, dropped sets, the node's own stamp → publish latency (median), the
node's CPU (% of one core; and CPU ms per set out: the node process's CPU time over the run
divided by the sets that came out; the CPU of its executor thread, the main thread, per image
published: what taking and handing off one image costs; and the camera process's CPU ms per
set published, on the same cores), memory, the load average, and where the node's time goes: the
median detect/fuse/mesh/total ms of its "pipeline" /diagnostics status. With ``--subscribe``
(the default) this process also subscribes to /hands/markers and /hands/meshes (raw bytes,
not deserialised), so the node builds them as for a real consumer.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hand_pose_ros.tools.set_option import add_set_option

    parser.add_argument("--cameras", type=int, nargs="+", default=[2, 4, 8], help="camera counts to measure")
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 15, 30], help="input set rates (Hz), increasing")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per rate")
    parser.add_argument("--subscribe", action=argparse.BooleanOptionalAction, default=True,
                        help="subscribe to /hands/markers and /hands/meshes (the node builds only what is consumed)")
    add_set_option(parser, "detector.model=lite")
    parser.add_argument("--out", default="", help="also write the results as JSON here")


def _rig_files(cameras: int, tmp, sample) -> tuple[str, str]:
    """A calibration with ``cameras`` cameras (copies of the sample's 4) and a parameters file."""
    import dataclasses

    import yaml

    from hand_pose_ros.calibration import Rig, load_calibration, save_calibration
    from hand_pose_ros.dataset_layout import CALIBRATION_FILE, image_topic
    from hand_pose_ros.tools.bench.publisher import TOPIC_PREFIX

    base = load_calibration(sample / CALIBRATION_FILE)
    cams = tuple(
        dataclasses.replace(base[i % len(base)], name=f"cam{i}", frame_id=f"cam{i}_optical_frame") for i in range(cameras)
    )
    calibration = tmp / f"calibration_{cameras}.yaml"
    save_calibration(calibration, Rig(cameras=cams, world_frame=base.world_frame))
    params = tmp / f"params_{cameras}.yaml"
    params.write_text(yaml.safe_dump({"hand_pose_node": {"ros__parameters": {
        "cameras": {"image_topics": [TOPIC_PREFIX + image_topic(f"cam{i}") for i in range(cameras)]},
        "extrinsics": {"calibration_file": str(calibration)},
        "intrinsics": {"source": "file"},  # the bench publisher sends images only
        "publish": {"markers": True},
    }}}))
    return str(calibration), str(params)


def _pipeline_medians(received) -> dict[str, str]:
    """The latest "pipeline" /diagnostics status's values (median ms per stage), {} if none."""
    for r in reversed(received):
        for status in r.message.status:
            if status.name.endswith(": pipeline"):
                return {kv.key.removeprefix("Median ").removesuffix(" ms"): kv.value for kv in status.values}
    return {}


def _thread_cpu_s(process, thread_id: int) -> float:
    """User + system CPU seconds of one thread of ``process`` (a psutil.Process); the node's
    main thread (id = its pid) runs the executor."""
    return next((t.user_time + t.system_time for t in process.threads() if t.id == thread_id), float("nan"))


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import pathlib
    import subprocess
    import sys
    import tempfile
    import time

    import numpy as np
    import psutil

    from hand_pose_ros.assets import sample_dir
    from diagnostic_msgs.msg import DiagnosticArray
    from visualization_msgs.msg import MarkerArray

    from hand_pose_ros.msg import HandMeshArray, HandPoseArray
    from hand_pose_ros.ros.topics import MARKERS_TOPIC, MESHES_TOPIC
    from hand_pose_ros.ros.conversions import stamp_to_ns
    from hand_pose_ros.timing import NS_PER_S
    from hand_pose_ros.tools.harness import NodeProcess, Recorder, apply_ros_environment, spinning_node, wait_until
    from hand_pose_ros.tools.playback import POSE
    from hand_pose_ros.tools.launch_spec import node_spec, ros_environment
    from hand_pose_ros.tools.set_option import node_overrides

    try:
        overrides = node_overrides(args.settings)
    except ValueError as exc:
        print(f"hand-pose-ros bench node: {exc}", file=sys.stderr)
        return 2

    sample = sample_dir()
    apply_ros_environment(localhost=True)  # benchmarks stay on this machine
    results = []
    print(f"{'cams':>4} {'in Hz':>6} {'out Hz':>6} {'lat p50 ms':>10} {'lat p99 ms':>10} {'node p50 ms':>11} {'dropped':>8} "
          f"{'CPU %':>6} {'CPU ms/set':>10} {'exec ms/img':>11} {'pub ms/set':>10} {'RSS MB':>7} {'load':>5}  pipeline medians")
    with spinning_node("hand_pose_bench") as node:
        recorder = Recorder(node, {POSE: HandPoseArray, "/diagnostics": DiagnosticArray})
        consumed = {MARKERS_TOPIC: 0, MESHES_TOPIC: 0}  # messages received (bytes, never deserialised)
        if args.subscribe:
            for topic, msg_type in ((MARKERS_TOPIC, MarkerArray), (MESHES_TOPIC, HandMeshArray)):
                node.create_subscription(msg_type, "/" + topic.lstrip("/"), lambda _, t=topic: consumed.__setitem__(t, consumed[t] + 1), 10, raw=True)
        with tempfile.TemporaryDirectory(prefix="hand_pose_bench_") as tmp_name:
            tmp = pathlib.Path(tmp_name)
            for cameras in args.cameras:
                _, params = _rig_files(cameras, tmp, sample)
                spec = node_spec(params_file=params, overrides=overrides)
                log = tmp / f"node_{cameras}.log"
                with NodeProcess(spec, log_path=log) as proc:
                    if not wait_until(lambda: not proc.alive() or node.count_publishers(POSE) > 0, 180):
                        print(f"node did not start:\n{log.read_text()[-2000:]}", file=sys.stderr)
                        return 1
                    if not proc.alive():
                        print(f"node exited:\n{log.read_text()[-2000:]}", file=sys.stderr)
                        return 1
                    ps = psutil.Process(proc.process.pid)
                    for rate in args.rates:
                        ps.cpu_percent(None)
                        cpu_start, executor_start = sum(ps.cpu_times()[:2]), _thread_cpu_s(ps, ps.pid)
                        feeder = subprocess.run(
                            [sys.executable, "-m", "hand_pose_ros.tools.bench.publisher", "--cameras", str(cameras),
                             "--rate", str(rate), "--duration", str(args.duration)],
                            env=ros_environment(), capture_output=True, text=True, check=False,
                        )
                        if feeder.returncode != 0:
                            print(f"publisher failed: {feeder.stderr[-2000:]}", file=sys.stderr)
                            return 1
                        published = json.loads(feeder.stdout.strip().splitlines()[-1])
                        time.sleep(1.0)  # let the last sets come out
                        cpu = ps.cpu_percent(None)
                        cpu_s = sum(ps.cpu_times()[:2]) - cpu_start
                        executor_s = _thread_cpu_s(ps, ps.pid) - executor_start
                        rss = ps.memory_info().rss / 2**20
                        window = [r for r in recorder.get(POSE)
                                  if published["first_stamp_ns"] <= stamp_to_ns(r.message.header.stamp) <= published["last_stamp_ns"]]
                        latency = np.array([(r.time_ns - stamp_to_ns(r.message.header.stamp)) / 1e6 for r in window])
                        in_node = np.array([r.message.latency * 1e3 for r in window])  # stamp → publish, node clock
                        span = (published["last_stamp_ns"] - published["first_stamp_ns"]) / NS_PER_S
                        row = {
                            "cameras": cameras, "rate_in_hz": (published["sets"] - 1) / max(span, 1e-9),
                            # the sets that came out, over the same span as the input rate
                            "rate_out_hz": (published["sets"] - 1) / max(span, 1e-9) * len(window) / max(published["sets"], 1),
                            "latency_p50_ms": float(np.median(latency)) if latency.size else float("nan"),
                            "latency_p99_ms": float(np.percentile(latency, 99)) if latency.size else float("nan"),
                            "node_latency_p50_ms": float(np.median(in_node)) if in_node.size else float("nan"),
                            "sets_in": published["sets"], "sets_out": len(window),
                            "dropped": published["sets"] - len(window), "cpu_percent": cpu, "rss_mb": rss,
                            "cpu_ms_per_set": 1e3 * cpu_s / max(len(window), 1),
                            "executor_ms_per_image": 1e3 * executor_s / max(published["sets"] * cameras, 1),
                            "publisher_cpu_ms_per_set": 1e3 * published["cpu_s"] / max(published["sets"], 1),
                            "pipeline_ms": _pipeline_medians(recorder.get("/diagnostics")),
                            "consumed": dict(consumed),
                            # the machine's 1-minute load average: other work on the CPU changes every figure
                            "load_average": os.getloadavg()[0],
                        }
                        results.append(row)
                        print(f"{cameras:>4} {row['rate_in_hz']:>6.1f} {row['rate_out_hz']:>6.1f} {row['latency_p50_ms']:>10.1f} "
                              f"{row['latency_p99_ms']:>10.1f} {row['node_latency_p50_ms']:>11.1f} {row['dropped']:>8} {cpu:>6.0f} "
                              f"{row['cpu_ms_per_set']:>10.1f} {row['executor_ms_per_image']:>11.2f} {row['publisher_cpu_ms_per_set']:>10.1f} {rss:>7.0f} {row['load_average']:>5.1f}  "
                              + " ".join(f"{k} {v}" for k, v in row["pipeline_ms"].items()), flush=True)
    best = {}
    for row in results:
        best[row["cameras"]] = max(best.get(row["cameras"], 0.0), row["rate_out_hz"])
    for cameras, rate in best.items():
        print(f"{cameras} cameras: best sustained output {rate:.1f} Hz")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=2))
    return 0
