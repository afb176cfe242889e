"""sim_bridge: a MuJoCo robot behind the topics a real one has.

The robot is :class:`robo_reward.sim.robots.SimulatedRover` for a navigation task (``maze_small``,
``rooms_medium``, ...) or :class:`robo_reward.sim.robots.SimulatedArm` for a tabletop task
(``button_press``, ``push``, ...); this node only moves messages (conventions in
:mod:`robo_reward_ros.conversions`). A timer steps the simulation at ``rate_hz`` (by default the
env's own rate: 10 Hz rover, 25 Hz arm, i.e. real time) or as fast as possible.

Rover
    publishes ``odom`` (nav_msgs/Odometry, ``odom`` -> ``base_link``), ``scan``
    (sensor_msgs/LaserScan, sensor QoS), ``goal_pose`` (geometry_msgs/PoseStamped in ``odom``,
    which is the world frame here: the odometry is exact; latched), with ``cameras: [rover]``
    ``camera/image_raw``, ``camera/image_raw/compressed``, ``camera/depth/image_raw`` and
    ``camera/points`` (sensor_msgs/PointCloud2: the depth image back-projected and transformed
    to ``base_frame``, as depth_image_proc + TF would give; only while subscribed);
    subscribes ``cmd_vel`` (geometry_msgs/Twist).
Arm
    publishes ``cam/<view>/image_raw`` and ``cam/<view>/image_raw/compressed`` per camera view
    (sensor QoS; ``cameras: [none]`` for none), ``arm/ee_pose`` (the grip point, PoseStamped in
    ``world``) and the env's state observation, one std_msgs/Float32MultiArray per key (what a
    state-based policy reads, e.g. the ``policy`` node in ``mode: arm``): ``arm/state`` (grip
    position, grip velocity, finger positions and velocities), ``arm/object`` (tasks with
    objects), ``arm/achieved_goal``, ``arm/desired_goal``. Object state and goals are
    *privileged*: read from the simulator, where a real robot needs perception for them.
    Subscribes ``arm/ee_twist`` (geometry_msgs/Twist, end-effector velocity in m/s: the env's
    action times ``action_scale / dt``, 1.25 m/s for an action of 1) and ``arm/gripper``
    (std_msgs/Float32, -1 closed .. +1 open).
Both
    publish ``/clock`` (rosgraph_msgs/Clock), ``sim/success`` (std_msgs/Bool, every step),
    ``sim/episode`` (std_msgs/Int32, latched, at every reset, before the episode's first
    frame) and, for the arm,
    ``sim/privileged_progress`` (std_msgs/Float32, the task's reference progress); serve
    ``sim/reset`` (std_srvs/Empty: start the next episode). A command older than ``cmd_timeout``
    seconds of simulation time stops the robot. With ``play_expert`` the scripted expert drives
    (commands are ignored) for ``episodes`` episodes, ``episode_pause`` s apart.

Stamps are simulation time, started at the wall time of start-up (``clock_start: wall``) so that
in real time they track the wall clock, or at zero (``clock_start: zero``); ``/clock`` carries
the same time for nodes run with ``use_sim_time``.
"""

from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image, LaserScan, PointCloud2
from std_msgs.msg import Bool, Float32, Float32MultiArray, Int32
from std_srvs.srv import Empty

from robo_reward.sim.robots import (
    ArmReading,
    RoverReading,
    SimulatedArm,
    SimulatedRover,
    robot_kind,
)
from robo_reward_ros.common import (
    COMMAND_QOS,
    LATCHED_QOS,
    SENSOR_QOS,
    NodeConfigError,
    declare,
    run_node,
)
from robo_reward_ros.conversions import (
    ee_twist_to_action,
    lidar_to_scan,
    ns_to_time,
    odometry_to_msg,
    points_to_cloud,
    pose_stamped,
    twist_to_action,
    vector_to_msg,
)
from robo_reward_ros.images import rgb_to_compressed, rgb_to_image

ROVER_VIEW = 'rover'
NO_CAMERA = 'none'
"""``cameras: [none]``: no camera (``[]`` in a parameter file has no type and is ignored)."""


def depth_msg(depth: np.ndarray, stamp_ns: int, frame_id: str) -> Image:
    """float32 HxW metres -> sensor_msgs/Image (``32FC1``, REP 118)."""
    msg = Image()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(depth.shape[0]), int(depth.shape[1])
    msg.encoding = '32FC1'
    msg.is_bigendian = 0
    msg.step = msg.width * 4
    msg.data = np.ascontiguousarray(depth, dtype='<f4').tobytes()
    return msg


class SimBridge(Node):
    """A simulated rover or arm on ROS topics; see the module docstring."""

    def __init__(self) -> None:
        super().__init__('sim_bridge')
        self.task = declare(
            self, 'task', 'maze_small',
            'simulated task: a navigation task (rover: maze_small, rooms_small, ...) or a '
            'tabletop task (arm: button_press, push, ...)', read_only=True)
        maze_seed = declare(
            self, 'maze_seed', 0, 'rover: one fixed maze for every episode; -1: a new maze per '
            'episode', read_only=True)
        seed = declare(self, 'seed', 0, 'episode k resets the simulation with seed + k',
                       read_only=True)
        cameras = declare(
            self, 'cameras', Parameter.Type.STRING_ARRAY,
            'camera views to publish: rover [] or [rover]; arm a subset of [front, side, wrist]; '
            '[none]: no camera (an empty list is untyped in ROS parameters: unset) (default: '
            'rover none, arm [front, side])', read_only=True, required=False)
        image_size = declare(self, 'image_size', 96, 'camera image size in pixels (square)',
                             read_only=True)
        self.jpeg_quality = declare(self, 'jpeg_quality', 90, 'JPEG quality of the compressed '
                                    'images (1-100)')
        rate_hz = declare(
            self, 'rate_hz', 0.0, "simulation steps per second of wall time; 0: the env's own "
            'rate (rover 10 Hz, arm 25 Hz), i.e. real time', read_only=True)
        fast = declare(self, 'as_fast_as_possible', False,
                       'step as fast as the CPU allows (ignores rate_hz)', read_only=True)
        cmd_timeout = declare(self, 'cmd_timeout', 0.5, 'seconds (simulation time) after which '
                              'a command is stale and the robot stops', read_only=True)
        play_expert = declare(
            self, 'play_expert', False, "the scripted expert drives (arm: the task's expert; "
            'rover: the map-knowing waypoint follower); commands are ignored', read_only=True)
        self.episodes = declare(self, 'episodes', 0, 'with play_expert: episodes to play, then '
                                'hold still; 0: play forever')
        self.episode_pause = declare(self, 'episode_pause', 1.0, 'with play_expert: seconds of '
                                     'wall time between episodes')
        self.wait_for_subscribers = declare(
            self, 'wait_for_subscribers', 0, 'do not start stepping before every camera view '
            '(or, without cameras, odom/ee_pose) has this many subscribers')
        clock_start = declare(self, 'clock_start', 'wall', 'simulation time at start-up: wall '
                              '(the wall clock, so stamps track it in real time) or zero',
                              read_only=True)
        self.odom_frame = declare(self, 'odom_frame', 'odom', 'frame of odometry and goal')
        self.base_frame = declare(self, 'base_frame', 'base_link', 'frame of the rover base '
                                  '(the lidar sits on its centre)')
        self.world_frame = declare(self, 'world_frame', 'world', 'arm: frame of the end effector')

        if clock_start not in ('wall', 'zero'):
            raise NodeConfigError(f"clock_start must be 'wall' or 'zero', got {clock_start!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise NodeConfigError(f'jpeg_quality must be in 1..100, got {self.jpeg_quality}')
        if rate_hz < 0:
            raise NodeConfigError(f'rate_hz must be >= 0, got {rate_hz}')
        self.kind = robot_kind(self.task)
        if cameras is not None and list(cameras) == [NO_CAMERA]:
            cameras = []
        start_ns = time.time_ns() if clock_start == 'wall' else 0
        if self.kind == 'rover':
            cameras = [] if cameras is None else list(cameras)
            if cameras not in ([], [ROVER_VIEW]):
                raise NodeConfigError(f'the rover has one camera, {ROVER_VIEW!r}; got {cameras}')
            self.robot = SimulatedRover(
                self.task, None if maze_seed < 0 else maze_seed, seed, bool(cameras), image_size,
                cmd_timeout, play_expert, start_ns)
        else:
            cameras = ['front', 'side'] if cameras is None else list(cameras)
            self.robot = SimulatedArm(
                self.task, seed, tuple(cameras), image_size, cmd_timeout, play_expert, start_ns)
        self.cameras = cameras
        self.play_expert = play_expert

        self.clock_pub = self.create_publisher(Clock, '/clock', COMMAND_QOS)
        self.success_pub = self.create_publisher(Bool, 'sim/success', COMMAND_QOS)
        self.episode_pub = self.create_publisher(Int32, 'sim/episode', LATCHED_QOS)
        self.create_service(Empty, 'sim/reset', self._on_reset)
        self.image_pubs: dict[str, tuple] = {}
        if self.kind == 'rover':
            self.odom_pub = self.create_publisher(Odometry, 'odom', COMMAND_QOS)
            self.scan_pub = self.create_publisher(LaserScan, 'scan', SENSOR_QOS)
            self.goal_pub = self.create_publisher(PoseStamped, 'goal_pose', LATCHED_QOS)
            if cameras:
                self.image_pubs[ROVER_VIEW] = (
                    self.create_publisher(Image, 'camera/image_raw', SENSOR_QOS),
                    self.create_publisher(CompressedImage, 'camera/image_raw/compressed',
                                          SENSOR_QOS),
                    'camera_optical_frame')
                self.depth_pub = self.create_publisher(Image, 'camera/depth/image_raw',
                                                       SENSOR_QOS)
                self.points_pub = self.create_publisher(PointCloud2, 'camera/points', SENSOR_QOS)
            self.create_subscription(Twist, 'cmd_vel', self._on_cmd_vel, COMMAND_QOS)
        else:
            for view in cameras:
                self.image_pubs[view] = (
                    self.create_publisher(Image, f'cam/{view}/image_raw', SENSOR_QOS),
                    self.create_publisher(CompressedImage, f'cam/{view}/image_raw/compressed',
                                          SENSOR_QOS),
                    f'cam_{view}_optical_frame')
            self.ee_pub = self.create_publisher(PoseStamped, 'arm/ee_pose', COMMAND_QOS)
            self.state_pubs = {
                key: self.create_publisher(Float32MultiArray, f'arm/{key}', COMMAND_QOS)
                for key in self.robot.last_reading.state
            }
            self.progress_pub = self.create_publisher(Float32, 'sim/privileged_progress',
                                                      COMMAND_QOS)
            self.create_subscription(Twist, 'arm/ee_twist', self._on_ee_twist, COMMAND_QOS)
            self.create_subscription(Float32, 'arm/gripper', self._on_gripper, COMMAND_QOS)

        self._started = self.wait_for_subscribers <= 0
        self._pause_until: float | None = None
        self._played = 0
        self._stopped = False
        self._warned_commands = False
        if self._started:
            self._publish_start()
        else:
            self.get_logger().info(
                f'waiting for {self.wait_for_subscribers} subscriber(s) before stepping')
        period = 0.0 if fast else 1.0 / (rate_hz if rate_hz > 0 else 1.0 / self.robot.dt)
        self.timer = self.create_timer(period, self._on_timer)
        pace = 'as fast as possible' if fast else f'{1.0 / period:.1f} Hz'
        self.get_logger().info(
            f'{self.kind} {self.task}: stepping {pace} (dt {self.robot.dt:.3f} s), cameras '
            f'{cameras or "none"}{", playing the scripted expert" if play_expert else ""}')

    # ------------------------------------------------------------------ stepping
    def _on_timer(self) -> None:
        if self._stopped:
            return
        if not self._started:
            if not self._subscribers_ready():
                return
            self._started = True
            self._publish_start()
            return
        if self._pause_until is not None:
            if time.monotonic() < self._pause_until:
                return
            self._pause_until = None
            self._start_episode()
            return
        reading = self.robot.step()
        self._publish(reading)
        if reading.episode_done:
            self._played += 1
            if self.episodes > 0 and self._played >= self.episodes:
                self._stopped = True
                self.get_logger().info(f'played {self._played} scripted episode(s); holding')
            else:
                self._pause_until = time.monotonic() + self.episode_pause

    def _subscribers_ready(self) -> bool:
        if self.image_pubs:
            return all(
                raw.get_subscription_count() + compressed.get_subscription_count()
                >= self.wait_for_subscribers
                for raw, compressed, _ in self.image_pubs.values())
        pub = self.odom_pub if self.kind == 'rover' else self.ee_pub
        return pub.get_subscription_count() >= self.wait_for_subscribers

    def _publish_start(self) -> None:
        self._publish_episode()  # announced before its first frame, so listeners reset first
        self._publish(self.robot.last_reading)

    def _start_episode(self) -> None:
        self.robot.reset()
        self._publish_start()

    def _publish_episode(self) -> None:
        self.episode_pub.publish(Int32(data=self.robot.episode))
        if self.kind == 'rover':
            x, y = self.robot.last_reading.goal_xy
            stamp = self.robot.last_reading.stamp_ns
            self.goal_pub.publish(pose_stamped(x, y, 0.0, stamp, self.odom_frame))

    def _publish(self, reading: RoverReading | ArmReading) -> None:
        stamp = reading.stamp_ns
        self.clock_pub.publish(Clock(clock=ns_to_time(stamp)))
        if isinstance(reading, RoverReading):
            self.odom_pub.publish(
                odometry_to_msg(reading.odometry, stamp, self.odom_frame, self.base_frame))
            self.scan_pub.publish(lidar_to_scan(
                reading.lidar, self.robot.lidar_range, stamp, self.base_frame,
                scan_time=self.robot.dt))
            if reading.rgb is not None:
                self._publish_image(ROVER_VIEW, reading.rgb, stamp)
                frame = self.image_pubs[ROVER_VIEW][2]
                self.depth_pub.publish(depth_msg(reading.depth, stamp, frame))
                if self.points_pub.get_subscription_count() > 0:
                    points = self.robot.depth_points(reading.depth)
                    self.points_pub.publish(points_to_cloud(points, stamp, self.base_frame))
        else:
            for view, rgb in reading.images.items():
                self._publish_image(view, rgb, stamp)
            x, y, z = reading.grip_pos
            pose = pose_stamped(x, y, 0.0, stamp, self.world_frame)
            pose.pose.position.z = float(z)
            self.ee_pub.publish(pose)
            for key, vector in reading.state.items():
                self.state_pubs[key].publish(vector_to_msg(key, vector))
            self.progress_pub.publish(Float32(data=reading.privileged_progress))
        self.success_pub.publish(Bool(data=reading.success))

    def _publish_image(self, view: str, rgb: np.ndarray, stamp: int) -> None:
        raw_pub, compressed_pub, frame = self.image_pubs[view]
        stamp_msg = ns_to_time(stamp)
        if raw_pub.get_subscription_count() > 0:
            raw_pub.publish(rgb_to_image(rgb, stamp=stamp_msg, frame_id=frame))
        if compressed_pub.get_subscription_count() > 0:
            compressed_pub.publish(rgb_to_compressed(
                rgb, quality=self.jpeg_quality, stamp=stamp_msg, frame_id=frame))

    # ------------------------------------------------------------------ commands
    def _accepts_commands(self) -> bool:
        if self.play_expert and not self._warned_commands:
            self._warned_commands = True
            self.get_logger().warning('play_expert is on: commands are ignored')
        return not self.play_expert

    def _on_cmd_vel(self, msg: Twist) -> None:
        if not self._accepts_commands():
            return
        try:
            self.robot.command(twist_to_action(
                msg, self.robot.max_linear_speed, self.robot.max_angular_speed))
        except ValueError as error:
            self.get_logger().warning(f'cmd_vel refused: {error}', throttle_duration_sec=1.0)

    def _on_ee_twist(self, msg: Twist) -> None:
        if not self._accepts_commands():
            return
        try:
            self.robot.command(ee_twist_to_action(
                msg, self.robot.gripper_command, self.robot.dt, self.robot.action_scale))
        except ValueError as error:
            self.get_logger().warning(f'arm/ee_twist refused: {error}', throttle_duration_sec=1.0)

    def _on_gripper(self, msg: Float32) -> None:
        if not self._accepts_commands():
            return
        current = self.robot.clock.command()
        translation = np.zeros(3) if current is None else current[:3]
        try:
            self.robot.command(np.array([*translation, msg.data]))
        except ValueError as error:
            self.get_logger().warning(f'arm/gripper refused: {error}', throttle_duration_sec=1.0)

    def _on_reset(self, request: Empty.Request, response: Empty.Response) -> Empty.Response:
        self._pause_until = None
        self._stopped = False
        self._played = 0
        self._start_episode()
        self.get_logger().info(f'reset: episode {self.robot.episode}')
        return response

    def destroy_node(self) -> None:
        self.robot.close()
        super().destroy_node()


def main(args=None) -> int:
    return run_node(SimBridge, args)


if __name__ == '__main__':
    raise SystemExit(main())
