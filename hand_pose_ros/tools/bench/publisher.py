"""The camera side of ``hand-pose-ros bench node``: N cameras at a fixed rate, in its own process.

``python -m hand_pose_ros.tools.bench.publisher --cameras N --rate HZ --duration S --topic-prefix P``
waits until every image topic has a subscriber, publishes sets of N rgb8 images (the bundled
sample's frames, camera i showing sample camera i mod 4) sharing one fresh stamp, then prints
one JSON line ``{"sets": ..., "first_stamp_ns": ..., "last_stamp_ns": ..., "cpu_s": ...}``
(``cpu_s``: this process's CPU time while publishing; it shares the cores with the node) and exits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

SAMPLE_CAMERAS = 4  # the bundled sample's rig
FRAMES_USED = range(40, 60, 2)  # sample frames where both hands are in view of most cameras
CONNECT_TIMEOUT_S = 60.0
# Apart from the sample's own /cam{i} topics, so a bag played at the same time cannot mix in.
TOPIC_PREFIX = "/bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="sets per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds of publishing")
    parser.add_argument("--topic-prefix", default=TOPIC_PREFIX)
    args = parser.parse_args(argv)

    import rclpy
    from sensor_msgs.msg import Image

    from hand_pose_ros.assets import sample_dir
    from hand_pose_ros.dataset_layout import image_topic, read_images
    from hand_pose_ros.ros.conversions import ns_to_stamp
    from hand_pose_ros.tools.harness import RigPublisher, apply_ros_environment, wait_until
    from hand_pose_ros.ros.image_conversion import rgb_to_image_fields

    sample = sample_dir()
    frames = []  # per frame, per camera: Image
    for k in FRAMES_USED:
        views = []
        for cam in range(args.cameras):
            try:
                (rgb,) = read_images(sample, [f"cam{cam % SAMPLE_CAMERAS}"], k)
            except FileNotFoundError as exc:
                print(f"bench_publisher: cannot read sample frame {k}: {exc}", file=sys.stderr)
                return 2
            msg = Image(**rgb_to_image_fields(rgb))
            msg.header.frame_id = f"cam{cam}_optical_frame"
            views.append(msg)
        frames.append(views)

    apply_ros_environment(localhost=True)  # benchmarks stay on this machine
    rclpy.init()
    node = rclpy.create_node("hand_pose_bench_publisher")
    try:
        topics = [args.topic_prefix + image_topic(f"cam{i}") for i in range(args.cameras)]
        publisher = RigPublisher(node, topics, [], reliable=False)
        if not wait_until(publisher.connected, CONNECT_TIMEOUT_S):
            print("bench_publisher: the node did not subscribe", file=sys.stderr)
            return 1
        period = 1.0 / args.rate
        start, cpu_start = time.monotonic(), time.process_time()
        sets, first, last = 0, None, None
        while time.monotonic() - start < args.duration:
            stamp = node.get_clock().now().nanoseconds
            for pub, msg in zip(publisher.images, frames[sets % len(frames)]):
                msg.header.stamp = ns_to_stamp(stamp)
                pub.publish(msg)
            first = stamp if first is None else first
            last, sets = stamp, sets + 1
            delay = start + sets * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        cpu_s = time.process_time() - cpu_start
        print(json.dumps({"sets": sets, "first_stamp_ns": first, "last_stamp_ns": last, "cpu_s": cpu_s}))
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
