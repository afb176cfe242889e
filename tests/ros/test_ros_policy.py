"""policy as a process over DDS: a saved (untrained) policy on odom, scan, goal_pose and the
mapper's waypoint publishes /cmd_vel at its rate; when /scan stops it sends zero commands and
says why on /diagnostics, and resumes when the scan does; the lifecycle loads and frees the
model; a policy it cannot feed fails configure with the reason."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces
from ros_harness import NO_ROS, NodeProcess, rate_hz, running

pytest.importorskip("rclpy", reason=NO_ROS)

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from robo_reward_ros.conversions import (  # noqa: E402
    lidar_to_scan,
    odometry_to_msg,
    pose_stamped,
)
from sensor_msgs.msg import LaserScan  # noqa: E402

from robo_reward.rl.policy import Policy, save_policy  # noqa: E402

NODE = "/policy"
KEYS = ("lidar", "odometry", "goal", "waypoint")


def save_nav_policy(path: Path, keys=KEYS, extra: dict | None = None) -> Path:
    """An untrained PPO-style policy on the toponav arm's observation keys."""
    unbounded = {"low": -np.inf, "high": np.inf, "dtype": np.float32}
    space = spaces.Dict(
        {
            "lidar": spaces.Box(0.0, 3.0, (36,), np.float32),
            "odometry": spaces.Box(shape=(6,), **unbounded),
            "goal": spaces.Box(shape=(2,), **unbounded),
            "waypoint": spaces.Box(shape=(2,), **unbounded),
            **(extra or {}),
        }
    )
    torch.manual_seed(1)
    policy = Policy(
        space,
        spaces.Box(-1.0, 1.0, (2,), np.float32),
        actor_type="gaussian",
        keys=keys,
        hidden=(32, 32),
    )
    with torch.no_grad():  # a clearly non-zero command, whatever the random init gives
        policy.actor[-1].bias.copy_(torch.tensor([0.6, 0.3]))
    return save_policy(path, policy, algo="ppo")


class Inputs:
    """The test plays the robot and the mapper: odom, scan, goal_pose and the waypoint."""

    def __init__(self, probe) -> None:
        node = probe.node
        self.probe = probe
        self.odom = node.create_publisher(Odometry, "/odom", COMMAND_QOS)
        self.scan = node.create_publisher(LaserScan, "/scan", SENSOR_QOS)
        self.goal = node.create_publisher(PoseStamped, "/goal_pose", LATCHED_QOS)
        self.waypoint = node.create_publisher(PoseStamped, "/topo_mapper/waypoint", COMMAND_QOS)

    def play(self, seconds: float, scan: bool = True, period: float = 0.1) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            stamp = time.time_ns()
            self.odom.publish(odometry_to_msg(np.array([1.0, 1.0, 1.0, 0.0, 0.1, 0.0]), stamp))
            if scan:
                self.scan.publish(lidar_to_scan(np.full(36, 3.0), 3.0, stamp))
            self.waypoint.publish(pose_stamped(1.5, 1.2, 0.0, stamp, "odom"))
            self.probe.spin_for(period)


def change_state(probe, node: NodeProcess, transition: int) -> bool:
    client = probe.node.create_client(ChangeState, f"{NODE}/change_state")
    probe.spin_until(client.service_is_ready, 15, "policy/change_state", node.assert_running)
    request = ChangeState.Request()
    request.transition.id = transition
    future = client.call_async(request)
    probe.spin_until(future.done, 30, "a change_state reply", node.assert_running)
    probe.node.destroy_client(client)
    return future.result().success


def policy_status(diagnostics) -> list[DiagnosticStatus]:
    return [s for _, m in diagnostics for s in m.status if s.name.startswith("policy:")]


def test_policy_commands_and_stops_when_the_scan_stops(probe, domain_id, tmp_path):
    path = save_nav_policy(tmp_path / "policy.safetensors")
    params = {"policy_path": str(path), "rate_hz": 10.0, "max_age_ms": 300.0}
    with running(NodeProcess("policy", params, domain_id, tmp_path)) as node:
        inputs = Inputs(probe)
        cmd = probe.collect(Twist, "/cmd_vel", QoSProfile(depth=100))
        diagnostics = probe.collect(DiagnosticArray, "/diagnostics", 10)
        # Unconfigured: no commands. configure loads the model, activate subscribes.
        assert change_state(probe, node, Transition.TRANSITION_CONFIGURE), node.output[-2000:]
        assert "reading ['lidar', 'odometry', 'goal', 'waypoint']" in node.output
        assert change_state(probe, node, Transition.TRANSITION_ACTIVATE)
        probe.spin_until(
            lambda: probe.node.count_subscribers("/topo_mapper/waypoint") >= 1,
            10, "the policy to subscribe", node.assert_running,
        )  # fmt: skip
        inputs.goal.publish(pose_stamped(3.0, 1.0, 0.0, time.time_ns(), "odom"))

        inputs.play(2.0)
        moving = [(t, m) for t, m in cmd if m.linear.x != 0.0 or m.angular.z != 0.0]
        assert len(moving) >= 8, node.output[-2000:]
        hz = rate_hz([t for t, _ in moving[-10:]])
        print(f"policy: {len(moving)} commands, {hz:.1f} Hz (target 10)")
        assert 7.0 < hz < 13.0
        assert 0.0 < abs(moving[-1][1].linear.x) <= 0.5 and abs(moving[-1][1].angular.z) <= 2.0

        # /scan stops, the rest keeps coming: within max_age + a period, zero commands.
        stop_at = time.monotonic()
        inputs.play(1.5, scan=False)
        after = [m for t, m in cmd if t > stop_at + 0.5]
        assert len(after) >= 8
        assert all(m.linear.x == 0.0 and m.angular.z == 0.0 for m in after), after
        first_zero = next(
            t for t, m in cmd if t > stop_at and m.linear.x == 0.0 and m.angular.z == 0.0
        )
        assert first_zero - stop_at < 0.55  # 300 ms max age + one 100 ms period + margin
        probe.spin_until(
            lambda: any("scan is" in s.message for s in policy_status(diagnostics)),
            5, "a WARN naming the stale scan", node.assert_running,
        )  # fmt: skip
        warn = next(s for s in policy_status(diagnostics) if "scan is" in s.message)
        assert warn.level == DiagnosticStatus.WARN and "safety stop" in warn.message

        # The scan is back: commands resume.
        resumed_at = time.monotonic()
        inputs.play(1.0)
        assert any(m.linear.x != 0.0 for t, m in cmd if t > resumed_at)

        # deactivate: one zero command, then silence; cleanup frees the model.
        assert change_state(probe, node, Transition.TRANSITION_DEACTIVATE)
        probe.spin_for(0.3)
        assert cmd[-1][1].linear.x == 0.0 and cmd[-1][1].angular.z == 0.0
        count = len(cmd)
        inputs.play(0.5)
        assert len(cmd) == count
        assert change_state(probe, node, Transition.TRANSITION_CLEANUP)
        assert node.stop() == 0
    assert "Traceback" not in node.output


def test_configure_refuses_a_policy_it_cannot_feed(domain_id, tmp_path):
    image = {"rgb": spaces.Box(0, 255, (3, 32, 32), np.uint8)}
    path = save_nav_policy(tmp_path / "rgb.safetensors", ("lidar", "rgb"), image)
    node = NodeProcess("policy", {"policy_path": str(path), "autostart": True}, domain_id, tmp_path)
    assert node.process.wait(timeout=60) == 1  # autostart's configure failed
    output = node.output
    assert "configure failed: the policy reads observation keys ['rgb']" in output
    assert "['goal', 'lidar', 'odometry', 'waypoint']" in output
    assert "Traceback" not in output
    node.stop()

    missing = NodeProcess("policy", {"autostart": True}, domain_id, tmp_path)
    assert missing.process.wait(timeout=60) == 1
    assert "configure failed: policy_path is empty" in missing.output
    missing.stop()


def test_parameter_file_sets_only_declared_parameters():
    import re

    import yaml
    from ros_harness import ROS_PACKAGE_DIR

    source = (ROS_PACKAGE_DIR / "robo_reward_ros" / "policy.py").read_text()
    declared = set(re.findall(r"declare\(\s*self,\s*'(\w+)'", source))
    data = yaml.safe_load((ROS_PACKAGE_DIR / "config" / "policy.yaml").read_text())
    assert set(data) == {"policy"}
    assert set(data["policy"]["ros__parameters"]) == declared
