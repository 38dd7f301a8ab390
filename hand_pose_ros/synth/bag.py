"""Write a synthetic dataset as a rosbag2 MCAP recording (no ROS installation needed).

Topics: ``/cam{i}/image_raw`` (sensor_msgs/msg/Image, rgb8), ``/cam{i}/camera_info``
(sensor_msgs/msg/CameraInfo, same stamp and frame_id) and ``/tf_static`` (tf2_msgs/msg/TFMessage,
world → cam{i}_optical_frame, transient-local like a static broadcaster) and, for a dataset with
depth (``DIR/depth/``), ``/cam{i}/aligned_depth_to_color/image_raw`` (sensor_msgs/msg/Image,
``16UC1`` millimetres, 0 = none, the colour image's stamp and frame_id, as RealSense's
driver publishes aligned depth). Serialised to CDR
by ``rosbags``' typestore for ROS 2 Kilted (the distribution of our rclpy).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import numpy as np

from hand_pose_ros.calibration import CameraCalibration, load_calibration
from hand_pose_ros.dataset_layout import (
    CALIBRATION_FILE, EPOCH_NS, GROUND_TRUTH_FILE, TF_STATIC_TOPIC, camera_info_topic, depth_path, depth_topic, image_topic,
    read_images, stamp_ns,
)
from hand_pose_ros.fusion.depth import read_depth_png
from hand_pose_ros.timing import NS_PER_S

__all__ = ["write_bag"]

_QUEUE_DEPTH = 10


def _quaternion(R: np.ndarray) -> tuple[float, float, float, float]:
    """(3, 3) rotation → (x, y, z, w), w ≥ 0."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(R).as_quat()
    return (x, y, z, w) if w >= 0 else (-x, -y, -z, -w)


def _qos(durability_transient_local: bool):
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=1 if durability_transient_local else _QUEUE_DEPTH,
        reliability=QosReliability.RELIABLE,
        durability=QosDurability.TRANSIENT_LOCAL if durability_transient_local else QosDurability.VOLATILE,
        deadline=QosTime(sec=0, nsec=0),
        lifespan=QosTime(sec=0, nsec=0),
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=QosTime(sec=0, nsec=0),
        avoid_ros_namespace_conventions=False,
    )


class _Messages:
    """Builds the typestore messages of one camera."""

    def __init__(self, typestore) -> None:
        self.t = typestore.types

    def header(self, stamp: int, frame_id: str):
        Time = self.t["builtin_interfaces/msg/Time"]
        return self.t["std_msgs/msg/Header"](stamp=Time(sec=stamp // NS_PER_S, nanosec=stamp % NS_PER_S), frame_id=frame_id)

    def image(self, stamp: int, camera: CameraCalibration, rgb: np.ndarray):
        return self.t["sensor_msgs/msg/Image"](
            header=self.header(stamp, camera.frame_id), height=rgb.shape[0], width=rgb.shape[1],
            encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3, data=np.ascontiguousarray(rgb).reshape(-1),
        )

    def depth(self, stamp: int, camera: CameraCalibration, mm: np.ndarray):
        """(H, W) uint16 millimetres → a 16UC1 Image in the colour camera's frame (aligned depth)."""
        return self.t["sensor_msgs/msg/Image"](
            header=self.header(stamp, camera.frame_id), height=mm.shape[0], width=mm.shape[1],
            encoding="16UC1", is_bigendian=0, step=mm.shape[1] * 2,
            data=np.ascontiguousarray(mm, dtype="<u2").view(np.uint8).reshape(-1),
        )

    def camera_info(self, stamp: int, camera: CameraCalibration):
        K = camera.camera_matrix
        P = np.zeros((3, 4))
        P[:, :3] = K
        RegionOfInterest = self.t["sensor_msgs/msg/RegionOfInterest"]
        model = "plumb_bob" if camera.distortion_model == "none" else camera.distortion_model
        distortion = camera.distortion if camera.distortion.size else np.zeros(5)
        return self.t["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp, camera.frame_id), height=camera.height, width=camera.width,
            distortion_model=model, d=distortion.astype(np.float64), k=K.reshape(-1).astype(np.float64),
            r=np.eye(3).reshape(-1), p=P.reshape(-1), binning_x=0, binning_y=0,
            roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
        )

    def tf_static(self, stamp: int, world_frame: str, cameras: tuple[CameraCalibration, ...]):
        g = self.t
        transforms = []
        for camera in cameras:
            T = camera.world_T_camera
            x, y, z, w = _quaternion(T[:3, :3])
            transforms.append(g["geometry_msgs/msg/TransformStamped"](
                header=self.header(stamp, world_frame), child_frame_id=camera.frame_id,
                transform=g["geometry_msgs/msg/Transform"](
                    translation=g["geometry_msgs/msg/Vector3"](x=T[0, 3], y=T[1, 3], z=T[2, 3]),
                    rotation=g["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w),
                ),
            ))
        return g["tf2_msgs/msg/TFMessage"](transforms=transforms)


def _read_depth(path: pathlib.Path) -> np.ndarray:
    """A 16-bit depth PNG → (H, W) uint16 millimetres.

    Raises:
        FileNotFoundError: the file is missing, unreadable or not 16-bit single-channel.
    """
    try:
        return read_depth_png(path)
    except ValueError as exc:  # write_bag names every unusable input file as not found
        raise FileNotFoundError(f"depth image {exc}") from exc


def write_bag(dataset_dir: str | os.PathLike[str], bag_dir: str | os.PathLike[str]) -> pathlib.Path:
    """Write the dataset in ``dataset_dir`` (calibration, images, ground truth stamps) as MCAP.

    Image messages carry the dataset's JPEG images decoded (what a camera driver would have
    published before compression); a dataset whose first frame has depth PNGs gets its depth
    topics too. An existing ``bag_dir`` is replaced.

    Raises:
        FileNotFoundError: naming the missing calibration, ground truth, image or depth file.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    dataset = pathlib.Path(dataset_dir)
    rig = load_calibration(dataset / CALIBRATION_FILE)
    ground_truth = json.loads((dataset / GROUND_TRUTH_FILE).read_text(encoding="utf-8"))
    fps = float(ground_truth["fps"])
    typestore = get_typestore(Stores.ROS2_KILTED)
    build = _Messages(typestore)
    bag_path = pathlib.Path(bag_dir)
    if bag_path.exists():
        shutil.rmtree(bag_path)
    frames = ground_truth["frames"]
    with_depth = bool(frames) and depth_path(dataset, rig.names[0], frames[0]["frame"]).exists()
    with Writer(bag_path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        tf_conn = writer.add_connection(TF_STATIC_TOPIC, "tf2_msgs/msg/TFMessage", typestore=typestore,
                                        offered_qos_profiles=[_qos(True)])
        conns = {
            camera.name: (
                writer.add_connection(image_topic(camera.name), "sensor_msgs/msg/Image", typestore=typestore,
                                      offered_qos_profiles=[_qos(False)]),
                writer.add_connection(camera_info_topic(camera.name), "sensor_msgs/msg/CameraInfo", typestore=typestore,
                                      offered_qos_profiles=[_qos(False)]),
            )
            for camera in rig.cameras
        }
        depth_conns = {
            camera.name: writer.add_connection(depth_topic(camera.name), "sensor_msgs/msg/Image", typestore=typestore,
                                               offered_qos_profiles=[_qos(False)])
            for camera in rig.cameras if with_depth
        }
        tf = build.tf_static(EPOCH_NS, rig.world_frame, rig.cameras)
        writer.write(tf_conn, EPOCH_NS, typestore.serialize_cdr(tf, "tf2_msgs/msg/TFMessage"))
        for frame in frames:
            stamp = stamp_ns(int(frame["frame"]), fps)
            for camera, rgb in zip(rig.cameras, read_images(dataset, rig.names, frame["frame"])):
                image_conn, info_conn = conns[camera.name]
                image = build.image(stamp, camera, rgb)
                writer.write(image_conn, stamp, typestore.serialize_cdr(image, "sensor_msgs/msg/Image"))
                info = build.camera_info(stamp, camera)
                writer.write(info_conn, stamp, typestore.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
                if with_depth:
                    depth = build.depth(stamp, camera, _read_depth(depth_path(dataset, camera.name, frame["frame"])))
                    writer.write(depth_conns[camera.name], stamp, typestore.serialize_cdr(depth, "sensor_msgs/msg/Image"))
    return bag_path
