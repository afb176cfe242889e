"""policy: a saved SAC/PPO policy on the robot's topics -> ``cmd_vel`` for a rover
(``mode: rover``) or an end-effector command for an arm (``mode: arm``); a lifecycle node.

All logic is :class:`robo_reward.streams.PolicyStream` (rover) or
:class:`robo_reward.streams.ArmPolicyStream` (arm); this node moves messages.

Lifecycle
    configure: load ``policy_path`` (a ``.safetensors`` written by ``save_policy``, e.g. the
    ``policy.safetensors`` of a ``robo-reward bench nav`` or ``train`` run) and check that its
    observation keys can be supplied (fails, staying unconfigured, with the reason in the log);
    activate: subscribe and command at ``rate_hz``; deactivate: send one zero command and stop;
    cleanup: free the model.
Subscribes, rover (what the policy reads; sensor-data QoS for odom and scan)
    ``odom`` (nav_msgs/Odometry) -> ``odometry``; ``scan`` (sensor_msgs/LaserScan) -> ``lidar``
    (resampled to the policy's beams; also the shield's scan); ``goal_pose``
    (geometry_msgs/PoseStamped in the odometry frame, ``goal_qos``) -> ``goal`` in the rover
    frame; ``waypoint_topic`` (PoseStamped, default ``topo_mapper/waypoint``) -> ``waypoint`` in
    the rover frame (a waypoint in ``base_frame`` is already in the rover frame: the mapper's
    origin of the robot means "no path", zeros). Topics the policy does not read are not
    subscribed.
Publishes, rover
    ``cmd_vel`` (geometry_msgs/Twist, ``linear.x`` m/s and ``angular.z`` rad/s: the normalised
    action times ``max_linear_speed`` / ``max_angular_speed``) at ``rate_hz`` of the node's
    clock (simulation time with ``use_sim_time``); ``/diagnostics`` at 1 Hz of wall time.
Subscribes, arm
    ``arm/<key>`` (std_msgs/Float32MultiArray, sensor-data QoS) for each observation key the
    policy reads: ``state``, ``object``, ``achieved_goal``, ``desired_goal`` (a tabletop task's
    state observation, as ``robo-reward train`` trains on by default; sim_bridge publishes them,
    object state and goals privileged from the simulator). The message has no header: an input
    is as old as its arrival on the node's clock.
Publishes, arm
    ``arm/ee_twist`` (geometry_msgs/Twist, ``linear`` the end-effector velocity in m/s: the
    normalised translation times ``max_ee_speed``, the env's ``action_scale / dt``;
    ``angular`` zero, the hand points down) and ``arm/gripper`` (std_msgs/Float32, the action's
    gripper command, -1 closed .. +1 open) at ``rate_hz`` (the tabletop env's rate: 25 Hz).

**Safety stop**: when an input the policy needs is missing, or older than ``max_age_ms``
against the node's clock (stamps are compared, so the robot's clock and the node's must agree:
``use_sim_time`` in simulation), the node publishes a zero Twist (rover: ``cmd_vel``; arm:
``arm/ee_twist``, and the gripper is held: its last command is repeated, none before the
first), and ``/diagnostics`` says WARN and why. Rover actions pass the safety shield on the
last scan (``safety_filter``). A policy of the other mode's action fails configure, naming it.

Run: ``ros2 run robo_reward_ros policy --ros-args -p policy_path:=policy.safetensors
-p autostart:=true`` (or ``python -m robo_reward_ros.policy``).
"""

from __future__ import annotations

import gc
import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import LaserScan
from std_msgs.msg import Float32, Float32MultiArray

from robo_reward_ros.common import (
    COMMAND_QOS,
    LATCHED_QOS,
    SENSOR_QOS,
    NodeConfigError,
    declare,
    run_node,
)
from robo_reward_ros.conversions import (
    action_to_twist,
    msg_to_odometry,
    msg_to_vector,
    scan_to_lidar,
    time_to_ns,
)

GOAL_QOS = ('latched', 'volatile')
MODES = ('rover', 'arm')
ARM_MAX_EE_SPEED = 1.25
"""m/s of a translation action of 1 on the tabletop env: ``action_scale`` 0.05 m per 0.04 s step."""


class PolicyNode(LifecycleNode):
    """See the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('policy', **kwargs)
        declare(self, 'policy_path', '', 'saved policy (.safetensors from save_policy, e.g. a '
                'bench or train run) or a shipped one by name (toponav: the TopoNav low level, '
                'behind topo_mapper); loaded at configure; required')
        declare(self, 'mode', 'rover', 'rover (cmd_vel from odom, scan, goal, waypoint) or arm '
                '(arm/ee_twist + arm/gripper from arm/<key> state vectors)')
        declare(self, 'rate_hz', 10.0, 'commands per second of the node clock (the env rate: '
                '10 Hz for the rover, 25 Hz for the arm)')
        declare(self, 'max_age_ms', 500.0, 'an input the policy needs older than this stops '
                'the robot (zero cmd_vel / ee_twist, gripper held)')
        declare(self, 'safety_filter', True, 'pass actions through the safety shield on the '
                'last scan (as the toponav arm trained)')
        declare(self, 'deterministic', True, "act with the policy's mean action")
        declare(self, 'max_linear_speed', 0.5, 'm/s of a forward action of 1 (the env rover)')
        declare(self, 'max_angular_speed', 2.0, 'rad/s of a yaw-rate action of 1 (the env '
                'rover)')
        declare(self, 'max_ee_speed', ARM_MAX_EE_SPEED, 'arm: m/s of an end-effector '
                "translation action of 1 (the tabletop env's action_scale / dt: 0.05 m per "
                '0.04 s)')
        declare(self, 'invalid_as_no_return', False, 'read NaN scan ranges as no return instead '
                'of refusing the scan')
        declare(self, 'waypoint_topic', 'topo_mapper/waypoint', "the mapper's waypoint "
                '(PoseStamped), for policies that read waypoint')
        declare(self, 'goal_qos', 'latched', 'QoS of goal_pose: latched (transient local) or '
                "volatile (RViz's goal tool)")
        declare(self, 'base_frame', 'base_link', 'frame of the robot: a waypoint in it is in '
                'the rover frame')
        declare(self, 'torch_threads', 1, 'CPU threads of the model')
        declare(self, 'autostart', False, 'configure and activate at start-up')
        self.stream = None
        self.mode = 'rover'
        self._subs = []
        self._timer = None
        self._cmd_pub = None
        self._gripper_pub = None
        self._odom_frame = None
        self._state_label = 'unconfigured'
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(
            1.0, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _value(self, name: str):
        return self.get_parameter(name).value

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except (NodeConfigError, ValueError, FileNotFoundError, OSError) as error:
            self.get_logger().error(f'configure failed: {error}')
            self.stream = None
            return TransitionCallbackReturn.FAILURE
        self._state_label = 'inactive'
        return super().on_configure(state)

    def _configure(self) -> None:
        import torch

        from robo_reward.streams.policy_stream import (
            ArmPolicyStream,
            ArmPolicyStreamConfig,
            PolicyStream,
            PolicyStreamConfig,
        )

        mode = str(self._value('mode'))
        if mode not in MODES:
            raise NodeConfigError(f'mode must be one of {MODES}, got {mode!r}')
        path = str(self._value('policy_path'))
        if not path:
            raise NodeConfigError(
                'policy_path is empty: give a saved policy (.safetensors) or toponav (the '
                'shipped TopoNav low level)')
        rate = float(self._value('rate_hz'))
        if not (math.isfinite(rate) and rate > 0):
            raise NodeConfigError(f'rate_hz must be > 0, got {rate}')
        for name in ('max_linear_speed', 'max_angular_speed', 'max_ee_speed'):
            if not float(self._value(name)) > 0:
                raise NodeConfigError(f'{name} must be > 0, got {self._value(name)}')
        if self._value('goal_qos') not in GOAL_QOS:
            raise NodeConfigError(f'goal_qos must be one of {GOAL_QOS}')
        threads = int(self._value('torch_threads'))
        if threads < 1:
            raise NodeConfigError(f'torch_threads must be >= 1, got {threads}')
        torch.set_num_threads(threads)
        self.mode = mode
        if mode == 'arm':
            arm_config = ArmPolicyStreamConfig(
                max_age_ms=float(self._value('max_age_ms')),
                deterministic=bool(self._value('deterministic')),
            )
            self.stream = ArmPolicyStream.from_file(path, arm_config)
            self._cmd_pub = self.create_lifecycle_publisher(Twist, 'arm/ee_twist', COMMAND_QOS)
            self._gripper_pub = self.create_lifecycle_publisher(Float32, 'arm/gripper',
                                                                COMMAND_QOS)
            policy = self.stream.policy
            task = f' (task {self.stream.task})' if self.stream.task else ''
            self.get_logger().info(
                f'configured (arm): {policy.algo or "a"} policy from {path}{task} reading '
                f'{list(self.stream.keys)} on arm/<key>, max age {arm_config.max_age_ms:g} ms, '
                f'{float(self._value("max_ee_speed")):g} m/s per unit action')
            return
        config = PolicyStreamConfig(
            max_age_ms=float(self._value('max_age_ms')),
            safety_filter=bool(self._value('safety_filter')),
            deterministic=bool(self._value('deterministic')),
        )
        self.stream = PolicyStream.from_file(path, config)
        self._cmd_pub = self.create_lifecycle_publisher(Twist, 'cmd_vel', COMMAND_QOS)
        policy = self.stream.policy
        self.get_logger().info(
            f'configured: {policy.algo or "a"} policy from {path} reading '
            f'{list(self.stream.keys)} (needs {list(self.stream.needs)}), shield '
            f'{"on" if config.safety_filter else "off"}, max age {config.max_age_ms:g} ms')

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        needs = self.stream.needs
        self.stream.reset()
        if self.mode == 'arm':
            for key in needs:
                self._subs.append(self.create_subscription(
                    Float32MultiArray, f'arm/{key}',
                    lambda msg, key=key: self._on_arm_input(key, msg), SENSOR_QOS))
        if 'odometry' in needs:
            self._subs.append(self.create_subscription(
                Odometry, 'odom', self._on_odom, SENSOR_QOS))
        if 'scan' in needs:
            self._subs.append(self.create_subscription(
                LaserScan, 'scan', self._on_scan, SENSOR_QOS))
        if 'goal' in needs:
            qos = LATCHED_QOS if self._value('goal_qos') == 'latched' else COMMAND_QOS
            self._subs.append(self.create_subscription(
                PoseStamped, 'goal_pose', self._on_goal, qos))
        if 'waypoint' in needs:
            self._subs.append(self.create_subscription(
                PoseStamped, str(self._value('waypoint_topic')), self._on_waypoint,
                COMMAND_QOS))
        self._timer = self.create_timer(1.0 / float(self._value('rate_hz')), self._on_timer)
        self._state_label = 'active'
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._cmd_pub is not None:
            self._cmd_pub.publish(Twist())  # stop the robot (or the hand) before going quiet
        self._stop_acting()
        self._state_label = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self._state_label = 'unconfigured'
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self._state_label = 'finalized'
        return super().on_shutdown(state)

    def _stop_acting(self) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None

    def _release(self) -> None:
        self._stop_acting()
        if self._cmd_pub is not None:
            self.destroy_lifecycle_publisher(self._cmd_pub)
            self._cmd_pub = None
        if self._gripper_pub is not None:
            self.destroy_lifecycle_publisher(self._gripper_pub)
            self._gripper_pub = None
        self.stream = None
        gc.collect()

    def _active(self) -> bool:
        return self.stream is not None and self._state_label == 'active'

    # ------------------------------------------------------------------ inputs
    def _refused(self, what: str, reason: str) -> None:
        self.stream.note_refused(what, reason)
        self.get_logger().warning(f'{what} refused: {reason}', throttle_duration_sec=5.0)

    def _on_arm_input(self, key: str, msg: Float32MultiArray) -> None:
        if not self._active():
            return
        try:  # no header: the input is as old as its arrival
            self.stream.set_input(key, self.get_clock().now().nanoseconds, msg_to_vector(msg))
        except ValueError as error:  # counted by the stream
            self.get_logger().warning(f'arm/{key} refused: {error}', throttle_duration_sec=5.0)

    def _on_odom(self, msg: Odometry) -> None:
        if not self._active():
            return
        try:
            odometry = msg_to_odometry(msg)
        except ValueError as error:
            self._refused('odometry', str(error))
            return
        if msg.header.frame_id:
            self._odom_frame = msg.header.frame_id
        try:
            self.stream.set_odometry(time_to_ns(msg.header.stamp), odometry)
        except ValueError as error:
            self.get_logger().warning(f'odometry refused: {error}', throttle_duration_sec=5.0)

    def _on_scan(self, msg: LaserScan) -> None:
        if not self._active():
            return
        stream = self.stream
        try:
            ranges = scan_to_lidar(msg, stream.lidar_beams, stream.lidar_range,
                                   bool(self._value('invalid_as_no_return')))
        except ValueError as error:
            self._refused('scan', str(error))
            return
        try:
            stream.set_scan(time_to_ns(msg.header.stamp), ranges)
        except ValueError as error:  # counted by the stream
            self.get_logger().warning(f'scan refused: {error}', throttle_duration_sec=5.0)

    def _in_odom_frame(self, what: str, msg: PoseStamped) -> bool:
        frame = msg.header.frame_id
        if frame and self._odom_frame and frame != self._odom_frame:
            self._refused(what, f"{what} in frame '{frame}', but odometry is in "
                                f"'{self._odom_frame}' (no TF lookup: publish it in that frame)")
            return False
        return True

    def _on_goal(self, msg: PoseStamped) -> None:
        if not self._active() or not self._in_odom_frame('goal', msg):
            return
        try:
            self.stream.set_goal(
                time_to_ns(msg.header.stamp), (msg.pose.position.x, msg.pose.position.y))
        except ValueError as error:
            self.get_logger().warning(f'goal refused: {error}', throttle_duration_sec=5.0)

    def _on_waypoint(self, msg: PoseStamped) -> None:
        if not self._active():
            return
        xy = (msg.pose.position.x, msg.pose.position.y)
        rover_frame = msg.header.frame_id == self._value('base_frame')
        if not rover_frame and not self._in_odom_frame('waypoint', msg):
            return
        try:
            self.stream.set_waypoint(time_to_ns(msg.header.stamp), xy, rover_frame=rover_frame)
        except ValueError as error:
            self.get_logger().warning(f'waypoint refused: {error}', throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ acting
    def _on_timer(self) -> None:
        if not self._active():
            return
        now = self.get_clock().now().nanoseconds
        if now == 0:  # use_sim_time and no /clock yet
            self._cmd_pub.publish(Twist())
            return
        if self.mode == 'arm':
            self._act_arm(now)
            return
        command = self.stream.act(now)
        if command.stopped:
            self.get_logger().warning(
                f'safety stop: {command.reason}', throttle_duration_sec=2.0)
        self._cmd_pub.publish(action_to_twist(
            command.action, float(self._value('max_linear_speed')),
            float(self._value('max_angular_speed'))))

    def _act_arm(self, now: int) -> None:
        command = self.stream.act(now)
        if command.stopped:
            self.get_logger().warning(
                f'safety stop: {command.reason}', throttle_duration_sec=2.0)
        speed = float(self._value('max_ee_speed'))
        twist = Twist()
        twist.linear.x, twist.linear.y, twist.linear.z = (
            float(v) * speed for v in command.translation)
        self._cmd_pub.publish(twist)
        if command.gripper is not None:  # while stopped: the last command, held
            self._gripper_pub.publish(Float32(data=command.gripper))

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name=f'{self.get_name()}: policy', hardware_id='')
        if self._active():
            summary = self.stream.status(self.get_clock().now().nanoseconds)
            status.level = bytes([summary.level])
            status.message = summary.message
            status.values = [KeyValue(key=k, value=v) for k, v in summary.values.items()]
        else:
            status.level = DiagnosticStatus.WARN
            status.message = f'not active (state {self._state_label}): publishing no commands'
        status.values.append(KeyValue(key='lifecycle_state', value=self._state_label))
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)


def main(args=None) -> int:
    return run_node(PolicyNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
