"""PolicyStream: a saved policy on the latest inputs (no ROS): observations assembled key by key
to the policy's space, the shield, a safety stop on missing or stale input, and policies whose
keys cannot be supplied refused."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces

from robo_reward.rl.policy import Policy, save_policy
from robo_reward.streams.policy_stream import (
    ARM_KEYS,
    SHIPPED_POLICIES,
    ArmPolicyStream,
    ArmPolicyStreamConfig,
    PolicyKeyError,
    PolicyStream,
    PolicyStreamConfig,
    resolve_policy_path,
)

MS = 1_000_000
T0 = 9_000_000_000
KEYS = ("lidar", "odometry", "goal", "waypoint")


def nav_space(extra: dict | None = None) -> spaces.Dict:
    unbounded = {"low": -np.inf, "high": np.inf, "dtype": np.float32}
    return spaces.Dict(
        {
            "lidar": spaces.Box(0.0, 3.0, (36,), np.float32),
            "odometry": spaces.Box(shape=(6,), **unbounded),
            "goal": spaces.Box(shape=(2,), **unbounded),
            "waypoint": spaces.Box(shape=(2,), **unbounded),
            **(extra or {}),
        }
    )


def saved_policy(path: Path, keys=KEYS, space=None, action_dim: int = 2) -> Path:
    torch.manual_seed(0)
    policy = Policy(
        space or nav_space(),
        spaces.Box(-1.0, 1.0, (action_dim,), np.float32),
        actor_type="gaussian",
        keys=keys,
        hidden=(16,),
        normalize_observations=True,
    )
    return save_policy(path, policy, algo="ppo")


@pytest.fixture
def policy_file(tmp_path) -> Path:
    return saved_policy(tmp_path / "policy.safetensors")


def feed(stream: PolicyStream, stamp: int, ranges=None, waypoint=(2.0, 1.0)) -> None:
    stream.set_odometry(stamp, np.array([1.0, 1.0, 0.0, 1.0, 0.2, 0.0]))  # at (1, 1), facing +y
    stream.set_scan(stamp, np.full(36, np.inf) if ranges is None else ranges)
    stream.set_goal(stamp, np.array([1.0, 3.0]))
    stream.set_waypoint(stamp, None if waypoint is None else np.array(waypoint))


def test_observation_matches_the_policy_space_and_frames(policy_file):
    stream = PolicyStream.from_file(policy_file, PolicyStreamConfig(safety_filter=False))
    assert stream.keys == KEYS and stream.needs == ("odometry", "scan", "goal", "waypoint")
    assert (stream.lidar_beams, stream.lidar_range) == (36, 3.0)
    feed(stream, T0)
    obs = stream.observation()
    for key, space in stream.policy.observation_space.spaces.items():
        assert obs[key].shape == space.shape and obs[key].dtype == np.float32, key
    stream.policy.observation_to_tensor(obs)  # what the policy checks: it accepts it
    np.testing.assert_allclose(obs["lidar"], 3.0)  # +inf: no return, the lidar's range
    np.testing.assert_allclose(obs["goal"], [2.0, 0.0], atol=1e-6)  # 2 m straight ahead
    np.testing.assert_allclose(obs["waypoint"], [0.0, -1.0], atol=1e-6)  # 1 m to the right
    stream.set_waypoint(T0, None)  # the mapper has no path: zeros
    np.testing.assert_allclose(stream.observation()["waypoint"], [0.0, 0.0])
    stream.set_waypoint(T0, np.array([0.4, 0.1]), rover_frame=True)
    np.testing.assert_allclose(stream.observation()["waypoint"], [0.4, 0.1], atol=1e-6)

    command = stream.act(T0 + 50 * MS)
    assert not command.stopped and command.reason == ""
    expected = np.clip(stream.policy.act(stream.observation()), -1, 1)
    np.testing.assert_allclose(command.action, expected, atol=1e-6)
    assert np.any(command.action != 0)
    assert stream.status(T0 + 50 * MS).level_name == "OK"


def test_shield_limits_the_speed_toward_a_wall(tmp_path):
    path = saved_policy(tmp_path / "p.safetensors")
    stream = PolicyStream.from_file(path)
    with torch.no_grad():  # a policy that always drives forward at full speed
        stream.policy.actor[-1].weight.zero_()
        stream.policy.actor[-1].bias.copy_(torch.tensor([1.0, 0.0]))
    ranges = np.full(36, 3.0)
    feed(stream, T0, ranges)
    assert stream.act(T0).action[0] == pytest.approx(1.0)
    ranges[0] = 0.12  # a wall 12 cm ahead: inside the stop distance (0.14 m)
    feed(stream, T0, ranges)
    command = stream.act(T0)
    assert command.filtered and command.action[0] == 0.0 and command.policy_action[0] == 1.0
    ranges[0] = 0.2  # between stop (0.14) and slow (0.25): scaled down
    feed(stream, T0, ranges)
    assert 0.0 < stream.act(T0).action[0] < 1.0
    assert stream.filtered == 2


def test_safety_stop_on_missing_stale_or_future_input(policy_file):
    stream = PolicyStream.from_file(policy_file, PolicyStreamConfig(max_age_ms=300.0))
    command = stream.act(T0)
    assert command.stopped and not command.action.any()
    for what in ("odometry", "scan", "goal", "waypoint"):
        assert f"no {what} yet" in command.reason
    feed(stream, T0)
    assert not stream.act(T0 + 299 * MS).stopped
    # The scan stops (a dead driver): everything else keeps coming, the robot stops.
    stream.set_odometry(T0 + 400 * MS, np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0]))
    stream.set_waypoint(T0 + 400 * MS, np.array([2.0, 1.0]))
    command = stream.act(T0 + 450 * MS)
    assert command.stopped and not command.action.any()
    assert command.reason == "scan is 450 ms old (max 300)"
    # The goal is latched: old, but not stale.
    stream.set_scan(T0 + 440 * MS, np.full(36, 3.0))
    assert not stream.act(T0 + 450 * MS).stopped
    # Stamps from the future: clocks disagree, stop.
    command = stream.act(T0 - 400 * MS)
    assert command.stopped and "in the future" in command.reason
    status = stream.status(T0 - 400 * MS)
    assert status.level_name == "WARN" and "safety stop" in status.message
    assert "scan stale:1" in status.values["stops"]
    # A cleared goal stops the robot too.
    stream.set_goal(T0, None)
    assert "no goal yet" in stream.act(T0 + 450 * MS).reason
    # reset forgets every input.
    stream.reset()
    assert stream.act(T0 + 450 * MS).reason.count("yet") == 4


def test_bad_inputs_are_refused_and_reported(policy_file):
    stream = PolicyStream.from_file(policy_file)
    with pytest.raises(ValueError, match="NaN or negative"):
        stream.set_scan(T0, np.full(36, np.nan))
    with pytest.raises(ValueError, match="36 ranges"):
        stream.set_scan(T0, np.full(10, 1.0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        stream.set_goal(T0, np.array([np.inf, 0.0]))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        stream.set_odometry(T0, np.zeros(4))
    status = stream.status(T0)
    assert "2 scan input(s) refused" in status.message
    assert status.values["refused"] == "goal:1,odometry:1,scan:2"


def test_policies_it_cannot_feed_are_refused(tmp_path):
    image = {"rgb": spaces.Box(0, 255, (3, 64, 64), np.uint8)}
    path = saved_policy(tmp_path / "rgb.safetensors", keys=("lidar", "rgb"), space=nav_space(image))
    with pytest.raises(PolicyKeyError) as error:
        PolicyStream.from_file(path)
    message = str(error.value)
    assert "['rgb']" in message and "['goal', 'lidar', 'odometry', 'waypoint']" in message

    arm = saved_policy(tmp_path / "arm.safetensors", action_dim=4)
    with pytest.raises(ValueError, match="4 dimensions.*an arm's: use ArmPolicyStream"):
        PolicyStream.from_file(arm)

    flat = Policy(spaces.Box(-1, 1, (8,), np.float32), spaces.Box(-1, 1, (2,), np.float32))
    with pytest.raises(PolicyKeyError, match="flat array observation"):
        PolicyStream(flat)

    with pytest.raises(FileNotFoundError, match="no policy at .*shipped one: \\['toponav'\\]"):
        resolve_policy_path(tmp_path / "missing.safetensors")
    assert SHIPPED_POLICIES["toponav"].name == "toponav_low_level.safetensors"


def test_a_policy_without_goal_or_waypoint_needs_only_what_it_reads(tmp_path):
    path = saved_policy(tmp_path / "p.safetensors", keys=("lidar", "odometry"))
    stream = PolicyStream.from_file(path, PolicyStreamConfig(safety_filter=False))
    assert stream.needs == ("odometry", "scan")
    stream.set_odometry(T0, np.array([0.0, 0.0, math.cos(0.3), math.sin(0.3), 0.0, 0.0]))
    stream.set_scan(T0, np.full(36, 2.0))
    assert not stream.act(T0).stopped


# ---------------------------------------------------------------------------------------- arm
def arm_space(object_dim: int = 0) -> spaces.Dict:
    """The state keys of a tabletop task's observation (reach: no object)."""
    unbounded = {"low": -np.inf, "high": np.inf, "dtype": np.float32}
    keys = {"state": (10,), "achieved_goal": (3,), "desired_goal": (3,)}
    if object_dim:
        keys["object"] = (object_dim,)
    return spaces.Dict({k: spaces.Box(shape=shape, **unbounded) for k, shape in keys.items()})


def saved_arm_policy(path: Path, keys=("state", "desired_goal"), space=None) -> Path:
    torch.manual_seed(0)
    policy = Policy(
        space or arm_space(), spaces.Box(-1.0, 1.0, (4,), np.float32), keys=keys, hidden=(16,)
    )
    return save_policy(path, policy, algo="sac", extra={"task": "reach"})


def test_arm_stream_acts_on_state_and_holds_the_gripper_when_it_stops(tmp_path):
    stream = ArmPolicyStream.from_file(
        saved_arm_policy(tmp_path / "arm.safetensors"), ArmPolicyStreamConfig(max_age_ms=200)
    )
    assert stream.keys == stream.needs == ("state", "desired_goal") and stream.task == "reach"
    assert set(stream.keys) <= set(ARM_KEYS)
    stopped = stream.act(T0)  # nothing yet: stop, no gripper command to hold
    assert stopped.stopped and stopped.gripper is None and "no state yet" in stopped.reason

    state = np.linspace(-0.2, 0.2, 10)
    goal = np.array([0.0, 0.1, 0.2])
    stream.set_input("state", T0, state)
    stream.set_input("desired_goal", T0, goal)
    command = stream.act(T0 + 50 * MS)
    expected = stream.policy.act(
        {"state": state.astype(np.float32), "desired_goal": goal.astype(np.float32)}
    )
    assert not command.stopped
    np.testing.assert_allclose(command.translation, expected[:3], atol=1e-6)
    assert command.gripper == pytest.approx(float(expected[3]))
    assert np.all(np.abs(command.translation) <= 1.0)

    # The goal keeps coming, the state does not: 250 ms later a stop, the gripper held.
    stream.set_input("desired_goal", T0 + 240 * MS, goal)
    held = stream.act(T0 + 250 * MS)
    assert held.stopped and "state is 250 ms old (max 200)" in held.reason
    assert not np.any(held.translation) and held.gripper == command.gripper
    status = stream.status(T0 + 250 * MS)
    assert "safety stop (zero twist, gripper held)" in status.message
    assert status.values["state_age_ms"] == "250" and status.values["stopped"] == "true"
    # reset forgets the inputs and the held gripper.
    stream.reset()
    assert stream.act(T0 + 300 * MS).gripper is None


def test_arm_stream_refuses_bad_input_and_policies_it_cannot_feed(tmp_path):
    stream = ArmPolicyStream.from_file(saved_arm_policy(tmp_path / "arm.safetensors"))
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        stream.set_input("state", T0, np.zeros(9))
    with pytest.raises(ValueError, match="NaN"):
        stream.set_input("desired_goal", T0, [0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="does not read 'object'"):
        stream.set_input("object", T0, np.zeros(9))
    assert stream.status(T0).values["refused"] == "desired_goal:1,state:1"

    image = spaces.Dict({**arm_space().spaces, "front": spaces.Box(0, 255, (3, 32, 32), np.uint8)})
    with_image = saved_arm_policy(tmp_path / "img.safetensors", ("state", "front"), image)
    with pytest.raises(PolicyKeyError, match=r"\['front'\].*camera images are not supported"):
        ArmPolicyStream.from_file(with_image)
    rover = saved_policy(tmp_path / "rover.safetensors", keys=("odometry",))
    with pytest.raises(PolicyKeyError, match=r"\['odometry'\]"):
        ArmPolicyStream.from_file(rover)
    two_d = Policy(arm_space(), spaces.Box(-1, 1, (2,), np.float32), keys=("state",))
    with pytest.raises(ValueError, match="2 dimensions.*a rover's"):
        ArmPolicyStream(two_d)
