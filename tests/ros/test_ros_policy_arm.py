"""policy in mode arm as a process over DDS: a saved (untrained) SAC policy for the reach task's
spaces reads sim_bridge's arm/state and arm/desired_goal (privileged simulator state) and drives
the arm through arm/ee_twist + arm/gripper at its rate, and the end effector moves; when
arm/state stops, the twist is zero within max_age and the gripper is held; a rover policy in
arm mode fails configure with the reason."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from ros_harness import NO_ROS, NodeProcess, rate_hz, running

pytest.importorskip("rclpy", reason=NO_ROS)

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS  # noqa: E402
from std_msgs.msg import Float32, Float32MultiArray  # noqa: E402

from robo_reward.rl.policy import Policy, save_policy  # noqa: E402

OUTPUT_QOS = QoSProfile(depth=200)
MAX_EE_SPEED = 1.25  # the tabletop env: action_scale 0.05 m per 0.04 s step
BIAS = (0.5, -0.3, 0.4, 0.6)  # tanh of these: a clear translation, the gripper half open


def save_reach_policy(path: Path) -> Path:
    """An untrained SAC actor on the reach env's spaces and robo-reward train's default keys."""
    from robo_reward.rl.runner import default_obs_keys
    from robo_reward.sim.env_config import EnvConfig

    env = EnvConfig(cameras=()).make("reach")
    keys = default_obs_keys(env)
    assert keys == ("state", "desired_goal")
    torch.manual_seed(0)
    policy = Policy(env.observation_space, env.action_space, keys=keys, hidden=(32, 32))
    env.close()
    with torch.no_grad():  # a constant command, whatever the random init gives
        policy.actor[-1].weight.zero_()
        policy.actor[-1].bias.copy_(torch.tensor([*BIAS, -1.0, -1.0, -1.0, -1.0]))
    return save_policy(path, policy, algo="sac", extra={"task": "reach"})


def policy_status(diagnostics) -> list[DiagnosticStatus]:
    return [s for _, m in diagnostics for s in m.status if s.name.startswith("policy:")]


def test_arm_policy_drives_the_arm_and_stops_when_the_state_stops(probe, domain_id, tmp_path):
    path = save_reach_policy(tmp_path / "reach.safetensors")
    bridge_params = {"task": "reach", "seed": 0, "cameras": ["none"], "cmd_timeout": 0.5}
    policy_params = {
        "mode": "arm", "policy_path": str(path), "rate_hz": 25.0, "max_age_ms": 200.0,
        "autostart": True,
    }  # fmt: skip
    # The policy hears arm/state through the test (a relay it can cut); the rest directly.
    remaps = {"arm/state": "relay/arm/state"}
    with (
        running(NodeProcess("sim_bridge", bridge_params, domain_id, tmp_path)) as bridge,
        running(NodeProcess("policy", policy_params, domain_id, tmp_path, remaps)) as node,
    ):

        def alive() -> None:
            bridge.assert_running()
            node.assert_running()

        relay_on = [True]
        relay = probe.node.create_publisher(Float32MultiArray, "/relay/arm/state", COMMAND_QOS)

        def forward(msg: Float32MultiArray) -> None:
            if relay_on[0]:
                relay.publish(msg)

        probe.node.create_subscription(Float32MultiArray, "/arm/state", forward, COMMAND_QOS)
        twists = probe.collect(Twist, "/arm/ee_twist", OUTPUT_QOS)
        grippers = probe.collect(Float32, "/arm/gripper", OUTPUT_QOS)
        poses = probe.collect(PoseStamped, "/arm/ee_pose", OUTPUT_QOS)
        diagnostics = probe.collect(DiagnosticArray, "/diagnostics", 10)

        def moving() -> list:
            return [(t, m) for t, m in twists if m.linear.x != 0.0 or m.linear.z != 0.0]

        probe.spin_until(lambda: len(moving()) >= 5, 60, "moving ee_twist commands", alive)
        assert "configured (arm): sac policy" in node.output and "(task reach)" in node.output
        assert "cameras none" in bridge.output  # state alone: nothing rendered
        start = poses[-1][1].pose.position
        start_xyz = np.array([start.x, start.y, start.z])
        probe.spin_for(2.0)
        alive()

        # Commands at the node's rate, the policy's action in m/s, the gripper command beside.
        recent = [t for t, _ in moving()][-25:]
        hz = rate_hz(recent)
        expected = MAX_EE_SPEED * np.tanh(BIAS[:3])
        last = moving()[-1][1]
        velocity = f"{last.linear.x:.3f}, {last.linear.y:.3f}, {last.linear.z:.3f} m/s"
        print(f"arm policy: {len(moving())} ee_twist commands, {hz:.1f} Hz (target 25), {velocity}")
        assert 15.0 < hz < 35.0
        np.testing.assert_allclose(
            [last.linear.x, last.linear.y, last.linear.z], expected, atol=1e-4
        )
        assert last.angular.x == last.angular.y == last.angular.z == 0.0
        assert grippers and grippers[-1][1].data == pytest.approx(np.tanh(BIAS[3]), abs=1e-5)
        # The end effector moved (until the workspace's edge stops it).
        end = poses[-1][1].pose.position
        moved = np.array([end.x, end.y, end.z]) - start_xyz
        assert np.linalg.norm(moved) > 0.05, moved
        assert moved[0] > 0.02  # along the commanded +x

        # arm/state stops, arm/desired_goal keeps coming: zero twists within max_age + a
        # period, the gripper held at its last command.
        relay_on[0] = False
        cut = time.monotonic()
        probe.spin_for(1.0)
        alive()
        after = [m for t, m in twists if t > cut + 0.35]
        assert len(after) >= 10
        assert all(m.linear.x == m.linear.y == m.linear.z == 0.0 for m in after)
        first_zero = next(t for t, m in twists if t > cut and m.linear.x == 0.0)
        print(f"arm policy: zero twist {1e3 * (first_zero - cut):.0f} ms after arm/state stopped")
        assert first_zero - cut < 0.35  # 200 ms max age + one 40 ms period + margin
        held = [m.data for t, m in grippers if t > cut + 0.35]
        assert held and all(g == pytest.approx(np.tanh(BIAS[3]), abs=1e-5) for g in held)
        probe.spin_until(
            lambda: any("state is" in s.message for s in policy_status(diagnostics)),
            5, "a WARN naming the stale arm/state", alive,
        )  # fmt: skip
        warn = next(s for s in policy_status(diagnostics) if "state is" in s.message)
        assert warn.level == DiagnosticStatus.WARN and "gripper held" in warn.message

        # The state is back: the arm moves again.
        relay_on[0] = True
        back = time.monotonic()
        probe.spin_until(lambda: any(t > back for t, _ in moving()), 5, "commands to resume", alive)
        assert node.stop() == 0 and bridge.stop() == 0
    assert "Traceback" not in node.output and "Traceback" not in bridge.output


def test_a_rover_policy_in_arm_mode_fails_configure(domain_id, tmp_path):
    from test_ros_policy import save_nav_policy

    path = save_nav_policy(tmp_path / "rover.safetensors")
    params = {"mode": "arm", "policy_path": str(path), "autostart": True}
    node = NodeProcess("policy", params, domain_id, tmp_path)
    assert node.process.wait(timeout=60) == 1
    output = node.output
    assert "configure failed: the policy reads observation keys" in output
    assert "['state', 'object', 'achieved_goal', 'desired_goal']" in output
    assert "Traceback" not in output
    node.stop()
