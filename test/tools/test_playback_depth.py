"""``tools.playback`` with a bag that has aligned depth topics (``synth --depth --bag``): the
depth topics are found by their encoding, paired with their cameras and played through the
node (real DDS, a node subprocess), which takes every depth frame into its sets."""

from __future__ import annotations

import os

import pytest

from hand_pose_ros.dataset_layout import BAG_DIR, CALIBRATION_FILE, depth_topic, image_topic
from hand_pose_ros.synth.config import SynthConfig
from hand_pose_ros.tools.playback import depth_topics_for, play_through_node

CAMERAS = 2
DEPTH_BAG = SynthConfig(cameras=CAMERAS, frames=6, hands=2, seed=21, fps=10.0, bag=True, depth=True, meshes=False)


def test_depth_topics_pair_with_the_colour_topic_of_their_namespace():
    realsense = ["/front/camera/color/image_raw", "/side/camera/color/image_raw", "/top/image_raw"]
    depths = ["/side/camera/aligned_depth_to_color/image_raw", "/front/camera/aligned_depth_to_color/image_raw"]
    assert depth_topics_for(realsense, depths) == [depths[1], depths[0], ""]
    assert depth_topics_for([image_topic("cam0"), image_topic("cam1")], [depth_topic("cam1")]) == ["", depth_topic("cam1")]
    assert depth_topics_for(["/a/image_raw"], []) == [""]


@pytest.mark.ros
@pytest.mark.slow
def test_a_bag_with_depth_plays_through_the_node_with_depth_in_its_sets(tmp_path, ros_env, monkeypatch):
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from hand_pose_ros.synth.writer import generate_dataset

    dataset = generate_dataset(tmp_path / "ds", DEPTH_BAG)
    for key, value in ros_env.items():
        monkeypatch.setenv(key, value)
    result = play_through_node(
        dataset / BAG_DIR,
        overrides=[
            ("extrinsics.calibration_file", str(dataset / CALIBRATION_FILE)),
            ("cameras.image_topics", [image_topic(f"cam{i}") for i in range(CAMERAS)]),
            ("sync.min_views", 1),
            ("qos.reliability", "reliable"),
            # A history that holds the whole bag: reliable delivery is then complete even when
            # the executor is held up (the first set's warm-ups) while a topic's frames arrive;
            # with the default 5 one of the 6 depth frames was sometimes overwritten.
            ("qos.depth", 2 * DEPTH_BAG.frames),
            ("publish.diagnostics_period", 0.5),
            # Each frame's depth is published right after its colour image: let it join.
            ("sync.depth_wait", 0.1),
        ],
        log_dir=tmp_path, progress=False,
    )
    assert result.node_returncode == 0, (tmp_path / "hand_pose_node.log").read_text()[-3000:]
    assert result.depth_topics == [depth_topic(f"cam{i}") for i in range(CAMERAS)]
    assert result.image_topics == [image_topic(f"cam{i}") for i in range(CAMERAS)]
    assert result.images_published == CAMERAS * DEPTH_BAG.frames and result.poses
    final = {}
    for received in result.diagnostics:
        for status in received.message.status:
            if status.name.endswith(" depth"):
                final[status.name] = {kv.key: kv.value for kv in status.values}
    assert sorted(final) == [f"hand_pose_node: camera cam{i} depth" for i in range(CAMERAS)]
    for values in final.values():
        assert int(values["Depth frames received"]) == DEPTH_BAG.frames
        assert values["Depth frames rejected"] == "0", values["Last error"]
        assert int(values["Sets with depth"]) >= 1 and values["Sets without depth"] == "0"
