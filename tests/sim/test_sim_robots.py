"""Simulated robots (what the ROS sim_bridge runs): clock, command watchdog, scripted play."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.sim.robots import SimulatedArm, SimulatedRover, robot_kind


def test_robot_kind():
    assert robot_kind("maze_small") == "rover"
    assert robot_kind("button_press") == "arm"
    with pytest.raises(ValueError, match="unknown task 'teleport'"):
        robot_kind("teleport")


def test_rover_clock_watchdog_and_reset():
    rover = SimulatedRover("maze_small", maze_seed=0, cmd_timeout=0.25, start_ns=5_000)
    try:
        first = rover.last_reading
        assert first.stamp_ns == 5_000 and first.episode == 0 and first.lidar.shape == (36,)
        rover.command([1.0, 0.0])
        readings = [rover.step() for _ in range(6)]
        stamps = [r.stamp_ns for r in readings]
        assert stamps == [5_000 + k * 100_000_000 for k in range(1, 7)]
        speeds = [float(r.odometry[4]) for r in readings]
        assert max(speeds[:3]) > 0.2  # driving while the command is fresh (<= 0.25 s)
        assert abs(speeds[-1]) < 0.05  # stale after 0.25 s: stopped
        with pytest.raises(ValueError, match="NaN"):
            rover.command([np.nan, 0.0])
        reset = rover.reset()
        assert reset.episode == 1
        assert reset.stamp_ns == stamps[-1] + 100_000_000  # time never rewinds nor repeats
        np.testing.assert_allclose(reset.goal_xy, first.goal_xy)  # the same fixed maze
    finally:
        rover.close()


def test_rover_plays_the_waypoint_follower_to_the_goal():
    rover = SimulatedRover("maze_small", maze_seed=0, play_expert=True)
    try:
        for _ in range(rover.episode_limit):
            reading = rover.step()
            if reading.episode_done:
                break
        assert reading.success and reading.episode_done
        held = rover.step()
        np.testing.assert_allclose(held.odometry[:2], reading.odometry[:2], atol=0.02)
    finally:
        rover.close()


def test_arm_plays_its_expert_and_holds_still_after():
    arm = SimulatedArm("button_press", cameras=("front", "side"), image_size=32, play_expert=True)
    try:
        assert set(arm.last_reading.images) == {"front", "side"}
        assert arm.last_reading.images["front"].shape == (32, 32, 3)
        readings = []
        while not (readings and readings[-1].episode_done):
            readings.append(arm.step())
            assert len(readings) <= arm.spec.max_episode_steps
        assert readings[-1].success
        progress = [r.privileged_progress for r in readings]
        assert progress[-1] > progress[0]
        held = arm.step()
        np.testing.assert_allclose(held.grip_pos, readings[-1].grip_pos, atol=0.01)
        assert np.diff([r.stamp_ns for r in readings]).tolist() == [40_000_000] * (
            len(readings) - 1
        )
    finally:
        arm.close()


def test_arm_commands_and_stale_gripper_hold():
    arm = SimulatedArm("button_press", cameras=("front",), image_size=32, cmd_timeout=0.1)
    try:
        start = arm.last_reading.grip_pos
        arm.command([0.0, 0.0, 1.0, -1.0])  # up, close
        for _ in range(2):
            arm.step()
        assert arm.last_reading.grip_pos[2] > start[2] + 0.02
        for _ in range(5):  # stale: the hand stops, the gripper stays closed
            arm.step()
        assert arm.gripper_command == -1.0
        z = arm.last_reading.grip_pos[2]
        arm.step()
        assert abs(arm.last_reading.grip_pos[2] - z) < 0.005
        with pytest.raises(ValueError, match=r"shape \(4,\)"):
            arm.command([0.0, 1.0])
    finally:
        arm.close()


def test_bad_arguments():
    with pytest.raises(ValueError, match="not a rover task"):
        SimulatedRover("button_press")
    with pytest.raises(ValueError, match="not an arm task"):
        SimulatedArm("maze_small")
    with pytest.raises(ValueError, match="cmd_timeout"):
        SimulatedRover("maze_small", cmd_timeout=0.0)
