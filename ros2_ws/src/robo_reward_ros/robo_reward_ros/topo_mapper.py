"""topo_mapper: TopoNav's topological map, subgoal, waypoint and intrinsic reward from odometry
and a laser scan or a 3D point cloud (a plain node: the map holds no model).

All logic is :class:`robo_reward.streams.TopoMapperStream` (the high level of the ``toponav``
bench arm: a frontier explorer on a topological map); this node moves messages.

Subscribes
    ``odom`` (nav_msgs/Odometry) and ``scan`` (sensor_msgs/LaserScan), both with sensor-data QoS
    (best effort, which hears reliable publishers too); each scan is paired with the odometry
    nearest in stamp, within ``tolerance_ms``, and makes one map update. A scan of another
    layout than the map's (``beams``, ``lidar_range``) is resampled; it must cover the full
    circle. With ``input: cloud``, ``cloud_topic`` (sensor_msgs/PointCloud2, sensor-data QoS,
    in ``base_frame``: a depth camera's or a 3D lidar's cloud transformed to the robot's base,
    e.g. sim_bridge's ``camera/points``) instead of ``scan``: each cloud becomes a virtual scan
    (:func:`robo_reward.topo.pointcloud.cloud_to_scan`: open3d voxel downsampling, the ground
    and points outside ``[cloud_min_height, cloud_max_height]`` removed, the nearest point per
    beam sector) and is paired with odometry as a scan is. Sectors the sensor did not see (a
    camera's field of view, ``cloud_fov_deg``, or where the cloud has no point) are left out of
    the occupancy grid: unknown is not free. ``goal_pose`` (geometry_msgs/PoseStamped in the
    odometry frame; ``goal_qos`` latched or volatile), optional: without a goal the mapper
    explores (``missing_goal: explore``) or publishes nothing (``refuse``). Optionally
    ``episode_topic`` (std_msgs/Int32, e.g. sim_bridge's ``sim/episode``): every message starts
    a new map.
Publishes, per update (stamped with the scan)
    ``~/waypoint`` (PoseStamped in the odometry frame, oriented from the robot toward it): the
    path point the low-level policy steers to. Without a path it is the origin of
    ``base_frame`` (the robot itself: the policy's waypoint observation is then zero, the
    hierarchy's "no path" convention). ``~/subgoal`` (PoseStamped, odometry frame; only while
    there is one; ``~/subgoal_is_goal`` std_msgs/Bool next to it), ``~/intrinsic_reward``
    (std_msgs/Float32: new node + visit + subgoal terms), every ``markers_every`` updates
    ``~/markers`` (visualization_msgs/MarkerArray, latched: a DELETEALL, then nodes as a
    SPHERE_LIST, frontier nodes as larger orange spheres, edges as a LINE_LIST, a label per
    node). ``/diagnostics`` at 1 Hz: nodes, frontier nodes, relocalisations, update latency,
    refused and dropped inputs with the reason, and inputs lost before the node read them (gaps
    in the publishers' sequence numbers: scans faster than the node takes them).
Services
    ``~/reset`` (std_srvs/Trigger): start a new map.

Bad input (NaN or empty scans, NaN odometry, goals or clouds in another frame, clouds without
x, y, z fields) is refused with the reason on ``/diagnostics`` and the log, and the map is not
touched (NaN points of a cloud are invalid pixels, dropped); an odometry jump is a
relocalisation (reported, no edge across it); stamps going backwards start a new map
(reported).

Run: ``ros2 run robo_reward_ros topo_mapper --ros-args --params-file config/topo_mapper.yaml``
(or ``python -m robo_reward_ros.topo_mapper``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import LaserScan, PointCloud2
from std_msgs.msg import Bool, ColorRGBA, Float32, Int32
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from robo_reward_ros.common import (
    COMMAND_QOS,
    LATCHED_QOS,
    SENSOR_QOS,
    InputGaps,
    NodeConfigError,
    declare,
    run_node,
)
from robo_reward_ros.conversions import (
    cloud_to_points,
    msg_to_odometry,
    ns_to_time,
    pose_stamped,
    scan_to_lidar,
    time_to_ns,
)

GOAL_QOS = ('latched', 'volatile')
INPUTS = ('scan', 'cloud')
GROUND_METHODS = ('height', 'ransac')


def markers_to_msg(markers: list[dict[str, Any]], stamp_ns: int) -> MarkerArray:
    """MarkerArray-shaped dicts (:func:`robo_reward.topo.export.map_markers`) -> a MarkerArray,
    led by a DELETEALL so that markers of a previous map (labels of nodes gone) disappear."""
    array = MarkerArray()
    stamp = ns_to_time(stamp_ns)
    clear = Marker()
    clear.header.stamp = stamp
    clear.header.frame_id = markers[0]['header']['frame_id'] if markers else ''
    clear.action = Marker.DELETEALL
    array.markers.append(clear)
    for spec in markers:
        marker = Marker()
        marker.header.stamp = stamp
        marker.header.frame_id = spec['header']['frame_id']
        marker.ns = spec['ns']
        marker.id = int(spec['id'])
        marker.type = int(spec['type'])
        marker.action = int(spec['action'])
        position, orientation = spec['pose']['position'], spec['pose']['orientation']
        marker.pose.position.x = float(position['x'])
        marker.pose.position.y = float(position['y'])
        marker.pose.position.z = float(position['z'])
        marker.pose.orientation.x = float(orientation['x'])
        marker.pose.orientation.y = float(orientation['y'])
        marker.pose.orientation.z = float(orientation['z'])
        marker.pose.orientation.w = float(orientation['w'])
        marker.scale.x = float(spec['scale']['x'])
        marker.scale.y = float(spec['scale']['y'])
        marker.scale.z = float(spec['scale']['z'])
        marker.color = ColorRGBA(**{k: float(v) for k, v in spec['color'].items()})
        marker.points = [
            Point(x=float(p['x']), y=float(p['y']), z=float(p['z'])) for p in spec['points']]
        marker.text = spec['text']
        marker.frame_locked = False
        array.markers.append(marker)
    return array


class TopoMapperNode(Node):
    """See the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('topo_mapper', **kwargs)
        from robo_reward.streams.topo_stream import TopoMapperStream, TopoStreamConfig
        from robo_reward.topo.explorer import ExplorerConfig
        from robo_reward.topo.occupancy import ScanSpec
        from robo_reward.topo.pointcloud import CloudScanConfig

        beams = declare(self, 'beams', 36, "ranges per scan in the map's layout (beam i at "
                        '2 pi i / beams CCW from the heading); other scans are resampled',
                        read_only=True)
        lidar_range = declare(self, 'lidar_range', 3.0, 'metres read as no return (the '
                              "map's and the trained policy's lidar range)", read_only=True)
        self.invalid_as_no_return = declare(
            self, 'invalid_as_no_return', False, 'read NaN ranges as no return instead of '
            'refusing the scan')
        tolerance_ms = declare(self, 'tolerance_ms', 50.0, 'a scan pairs with the odometry '
                               'nearest in stamp within this', read_only=True)
        markers_every = declare(self, 'markers_every', 5, 'publish ~/markers every this many '
                                'map updates', read_only=True)
        missing_goal = declare(
            self, 'missing_goal', 'explore', 'without a goal pose: explore (frontiers ranked '
            'by path cost alone) or refuse (publish nothing until a goal arrives)',
            read_only=True)
        self.frame_id = declare(self, 'frame_id', '', 'frame of the map, waypoint and subgoal; '
                                "empty: the odometry's frame (header.frame_id)")
        self.base_frame = declare(self, 'base_frame', 'base_link', 'frame of the robot: the '
                                  'waypoint is its origin when there is no path')
        goal_qos = declare(self, 'goal_qos', 'latched', 'QoS of goal_pose: latched '
                           '(transient local, hears a goal published before start, e.g. '
                           "sim_bridge's) or volatile (RViz's goal tool)", read_only=True)
        episode_topic = declare(self, 'episode_topic', '', 'std_msgs/Int32 topic whose every '
                                'message starts a new map (sim_bridge: sim/episode); empty: '
                                'none, use ~/reset', read_only=True)
        self.input = declare(self, 'input', 'scan', 'what makes the map: scan (LaserScan on '
                             'scan) or cloud (PointCloud2 on cloud_topic)', read_only=True)
        cloud_topic = declare(self, 'cloud_topic', '', 'PointCloud2 topic in base_frame (e.g. '
                              "sim_bridge's camera/points) for input: cloud; empty: off",
                              read_only=True)
        cloud = CloudScanConfig()
        min_height = declare(self, 'cloud_min_height', cloud.min_height, 'cloud points lower '
                             'than this (m, base frame z) are ground, not obstacles',
                             read_only=True)
        max_height = declare(self, 'cloud_max_height', cloud.max_height, 'cloud points higher '
                             'than this (m) pass over the robot: its height plus a margin',
                             read_only=True)
        voxel = declare(self, 'cloud_voxel', cloud.voxel, 'voxel size (m) the cloud is '
                        'downsampled to (open3d); 0: none', read_only=True)
        ground = declare(self, 'cloud_ground', cloud.ground, 'ground removal: height (flat '
                         'floor at z = 0 of base_frame) or ransac (the dominant plane)',
                         read_only=True)
        fov_deg = declare(self, 'cloud_fov_deg', 0.0, "horizontal field of view of the cloud's "
                          'sensor (degrees; 360: a full-circle lidar); 0: the sectors holding '
                          'points. Sectors outside it are not mapped (unknown, not free)',
                          read_only=True)
        fov_center_deg = declare(self, 'cloud_fov_center_deg', 0.0, 'direction of the '
                                 "sensor's view (degrees CCW from the heading)", read_only=True)
        if self.input not in INPUTS:
            raise NodeConfigError(f'input must be one of {INPUTS}, got {self.input!r}')
        if self.input == 'cloud' and not cloud_topic:
            raise NodeConfigError('input is cloud but cloud_topic is empty: name the '
                                  'PointCloud2 topic (e.g. camera/points)')
        if self.input == 'scan' and cloud_topic:
            raise NodeConfigError(f"cloud_topic is {cloud_topic!r} but input is scan: set input "
                                  'to cloud to map from it (scan and cloud are not fused)')
        if ground not in GROUND_METHODS:
            raise NodeConfigError(f'cloud_ground must be one of {GROUND_METHODS}, got {ground!r}')
        if not 0.0 <= fov_deg <= 360.0:
            raise NodeConfigError(f'cloud_fov_deg must be in [0, 360], got {fov_deg}')
        field_of_view = None
        if fov_deg > 0:
            centre, half = math.radians(fov_center_deg), math.radians(fov_deg) / 2
            field_of_view = (-math.pi, math.pi) if fov_deg >= 360 else (
                centre - half, centre + half)
        cloud = CloudScanConfig(min_height=min_height, max_height=max_height, voxel=voxel,
                                ground=ground, field_of_view=field_of_view)
        if beams < 1 or not (math.isfinite(lidar_range) and lidar_range > 0):
            raise NodeConfigError(f'need beams >= 1 and lidar_range > 0, got {beams}, '
                                  f'{lidar_range}')
        if goal_qos not in GOAL_QOS:
            raise NodeConfigError(f'goal_qos must be one of {GOAL_QOS}, got {goal_qos!r}')
        explorer = ExplorerConfig()
        explorer = dataclasses.replace(explorer, map=dataclasses.replace(
            explorer.map, scan=ScanSpec(beams=beams, max_range=lidar_range)))
        config = TopoStreamConfig(
            explorer=explorer, tolerance_ms=tolerance_ms, markers_every=markers_every,
            missing_goal=missing_goal, frame=self.frame_id or 'odom', cloud=cloud)
        self.stream = TopoMapperStream(config)  # ValueError: one line, exit 2 (run_node)
        self._gaps = InputGaps()
        self._odom_frame = self.frame_id or None

        self.waypoint_pub = self.create_publisher(PoseStamped, '~/waypoint', COMMAND_QOS)
        self.subgoal_pub = self.create_publisher(PoseStamped, '~/subgoal', COMMAND_QOS)
        self.subgoal_is_goal_pub = self.create_publisher(Bool, '~/subgoal_is_goal', COMMAND_QOS)
        self.reward_pub = self.create_publisher(Float32, '~/intrinsic_reward', COMMAND_QOS)
        self.markers_pub = self.create_publisher(MarkerArray, '~/markers', LATCHED_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(Odometry, 'odom', self._on_odom, SENSOR_QOS)
        if self.input == 'scan':
            self.create_subscription(LaserScan, 'scan', self._on_scan, SENSOR_QOS)
        else:
            self.create_subscription(PointCloud2, cloud_topic, self._on_cloud, SENSOR_QOS)
        self.create_subscription(
            PoseStamped, 'goal_pose', self._on_goal,
            LATCHED_QOS if goal_qos == 'latched' else COMMAND_QOS)
        if episode_topic:
            self.create_subscription(Int32, episode_topic, self._on_episode, LATCHED_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        # Diagnostics on the wall clock: they keep coming when /clock (use_sim_time) stops.
        self.create_timer(
            1.0, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME))
        source = 'scans' if self.input == 'scan' else (
            f'point clouds on {cloud_topic} (height band {min_height:g}-{max_height:g} m, '
            f'field of view {f"{fov_deg:g} deg" if fov_deg else "from the points"}) as scans')
        self.get_logger().info(
            f'mapping {source} of {beams} beams ({lidar_range:g} m); goal on goal_pose '
            f'({goal_qos}), without one: {missing_goal}')

    # ------------------------------------------------------------------ inputs
    def _on_odom(self, msg: Odometry, info) -> None:
        self.stream.note_lost('odometry', self._gaps.note('odometry', info))
        try:
            odometry = msg_to_odometry(msg)
        except ValueError as error:
            self._refused('odometry', str(error))
            return
        if self._odom_frame is None and msg.header.frame_id:
            self._odom_frame = msg.header.frame_id
        try:
            step = self.stream.push_odometry(time_to_ns(msg.header.stamp), odometry)
        except ValueError as error:
            self.get_logger().warning(f'odometry refused: {error}', throttle_duration_sec=5.0)
            return
        if step is not None:
            self._publish(step)

    def _on_scan(self, msg: LaserScan, info) -> None:
        stream = self.stream
        stream.note_lost('scan', self._gaps.note('scan', info))
        try:
            ranges = scan_to_lidar(
                msg, stream.beams, stream.lidar_range, self.invalid_as_no_return)
        except ValueError as error:
            self._refused('scan', str(error))
            return
        try:
            step = stream.push_scan(time_to_ns(msg.header.stamp), ranges)
        except ValueError as error:
            self.get_logger().warning(f'scan refused: {error}', throttle_duration_sec=5.0)
            return
        if step is not None:
            self._publish(step)

    def _on_cloud(self, msg: PointCloud2, info) -> None:
        self.stream.note_lost('cloud', self._gaps.note('cloud', info))
        frame = msg.header.frame_id
        if frame and frame != self.base_frame:
            self._refused('cloud', f"cloud in frame '{frame}', but it must be in base_frame "
                                   f"'{self.base_frame}' (no TF lookup: transform it first)")
            return
        try:
            points = cloud_to_points(msg)
        except ValueError as error:
            self._refused('cloud', str(error))
            return
        try:
            step = self.stream.push_cloud(time_to_ns(msg.header.stamp), points)
        except ValueError as error:
            self.get_logger().warning(f'cloud refused: {error}', throttle_duration_sec=5.0)
            return
        if step is not None:
            self._publish(step)

    def _refused(self, what: str, reason: str) -> None:
        self.stream.note_refused(what, reason)
        self.get_logger().warning(f'{what} refused: {reason}', throttle_duration_sec=5.0)

    def _on_goal(self, msg: PoseStamped) -> None:
        frame = msg.header.frame_id
        if frame and self._odom_frame and frame != self._odom_frame:
            self._refused('goal', f"goal in frame '{frame}', but the map is in "
                                  f"'{self._odom_frame}' (no TF lookup: publish it in that frame)")
            return
        xy = (msg.pose.position.x, msg.pose.position.y)
        try:
            self.stream.set_goal(xy)
        except ValueError as error:
            self.get_logger().warning(f'goal refused: {error}', throttle_duration_sec=5.0)
            return
        self.get_logger().info(f'goal ({xy[0]:.2f}, {xy[1]:.2f})')

    def _on_episode(self, msg: Int32) -> None:
        self.stream.reset(f'episode {msg.data} on the episode topic')
        self.get_logger().info(f'episode {msg.data}: a new map')

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response):
        self.stream.reset('~/reset called')
        response.success = True
        response.message = 'a new map starts at the next scan'
        return response

    # ------------------------------------------------------------------ outputs
    def _publish(self, step) -> None:
        frame = self._odom_frame or 'odom'
        stamp = step.stamp_ns
        if step.waypoint is None:
            waypoint = pose_stamped(0.0, 0.0, 0.0, stamp, self.base_frame)
        else:
            x, y = step.waypoint
            yaw = math.atan2(y - step.pose.y, x - step.pose.x)
            waypoint = pose_stamped(x, y, yaw, stamp, frame)
        self.waypoint_pub.publish(waypoint)
        if step.subgoal is not None:
            x, y = step.subgoal
            self.subgoal_pub.publish(pose_stamped(x, y, 0.0, stamp, frame))
            self.subgoal_is_goal_pub.publish(Bool(data=step.subgoal_is_goal))
        self.reward_pub.publish(Float32(data=step.intrinsic))
        if step.markers is not None:
            markers = step.markers
            if not self.frame_id:  # the map's frame is the odometry's
                for marker in markers:
                    marker['header']['frame_id'] = frame
            self.markers_pub.publish(markers_to_msg(markers, stamp))
        if step.update.relocalised:
            self.get_logger().warning(
                f'relocalisation: the pose jumped {step.update.jump:.2f} m; no edge across it')

    def _publish_diagnostics(self) -> None:
        summary = self.stream.status()
        status = DiagnosticStatus(name=f'{self.get_name()}: topological map', hardware_id='')
        status.level = bytes([summary.level])
        status.message = summary.message
        status.values = [KeyValue(key=k, value=v) for k, v in summary.values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)


def main(args=None) -> int:
    return run_node(TopoMapperNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
