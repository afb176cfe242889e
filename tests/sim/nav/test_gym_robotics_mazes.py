"""Gymnasium-Robotics' mazes behind the nav env's interface: Gymnasium API, registration, lidar
against the maze geometry, the unicycle command, the goal, the oracle and the frontier explorer."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

pytest.importorskip("gymnasium_robotics")

from robo_reward.sim.nav import NAV_TASKS, make_nav_env  # noqa: E402
from robo_reward.sim.nav.env import MazeNavEnv  # noqa: E402
from robo_reward.sim.nav.follower import WaypointFollower  # noqa: E402
from robo_reward.sim.nav.gym_robotics import (  # noqa: E402
    GYM_ROBOTICS_TASKS,
    SUCCESS_RADIUS,
    CentredMaze,
    PointMazeNav,
)
from robo_reward.sim.nav.registration import nav_task_spec  # noqa: E402
from robo_reward.topo.explorer import FrontierExplorer  # noqa: E402

ACCEPTED_CHECKER_WARNINGS = re.compile(r"observation space (minimum|maximum) value is -?infinity")
FAR_CORNERS = {"reset_cell": (3, 1), "goal_cell": (1, 1)}
"""The U-maze's two ends: the goal is 4 cells of corridor and two corners away."""


@pytest.fixture
def make():
    envs = []

    def factory(name: str = "pointmaze_umaze", **kwargs):
        env = make_nav_env(name, **kwargs)
        envs.append(env)
        return env

    yield factory
    for env in reversed(envs):
        env.close()


def _cast(maze_env, origin: np.ndarray, angles: np.ndarray, max_range: float) -> np.ndarray:
    """Ranges from the maze map alone: rays against every wall cell's square (slab method)."""
    layout = maze_env.upstream.maze
    s = layout.maze_size_scaling
    out = np.full(len(angles), max_range)
    for r, row in enumerate(maze_env.maze_map):
        for c, value in enumerate(row):
            if value != 1:
                continue
            x0, y1 = c * s - layout.x_map_center, layout.y_map_center - r * s
            low, high = np.array([x0, y1 - s]), np.array([x0 + s, y1])
            for i, angle in enumerate(angles):
                d = np.array([np.cos(angle), np.sin(angle)])
                with np.errstate(divide="ignore", invalid="ignore"):
                    t0, t1 = (low - origin) / d, (high - origin) / d
                near = np.nanmax(np.minimum(t0, t1))
                far = np.nanmin(np.maximum(t0, t1))
                if near <= far and near >= 0:
                    out[i] = min(out[i], near)
    return out


@pytest.mark.parametrize("name", ["pointmaze_umaze", "antmaze_umaze"])
def test_registered_and_env_checker_passes(make, name: str) -> None:
    spec = GYM_ROBOTICS_TASKS[name]
    env = make(name)
    assert env.spec.max_episode_steps == spec.max_episode_steps
    assert gym.spec(spec.env_id).max_episode_steps == spec.max_episode_steps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    messages = [str(w.message) for w in caught if "WARN:" in str(w.message)]
    assert [m for m in messages if not ACCEPTED_CHECKER_WARNINGS.search(m)] == []
    unwrapped = env.unwrapped
    assert unwrapped.upstream.continuing_task is False
    upstream = gym.spec(spec.upstream_id)
    assert upstream.max_episode_steps == spec.upstream_max_episode_steps
    assert upstream.kwargs["maze_map"] == unwrapped.maze_map
    action_dim = 2 if name.startswith("point") else 8
    assert env.action_space.shape == (action_dim,)


def test_docstring_time_limits_match_the_table() -> None:
    import robo_reward.sim.nav.gym_robotics as module

    doc = " ".join((module.__doc__ or "").split())
    for spec in GYM_ROBOTICS_TASKS.values():
        assert f"({spec.max_episode_steps} steps)" in doc, spec.name


def test_maze_matches_upstream_coordinates(make) -> None:
    env = make()
    unwrapped = env.unwrapped
    env.reset(seed=3)
    maze, layout = unwrapped.maze, unwrapped.upstream.maze
    assert isinstance(maze, CentredMaze) and maze.cell_size == 1.0
    assert maze.shape == (len(unwrapped.maze_map), len(unwrapped.maze_map[0]))
    for r in range(maze.shape[0]):
        for c in range(maze.shape[1]):
            assert maze.walls[r, c] == (unwrapped.maze_map[r][c] == 1)
            np.testing.assert_allclose(maze.cell_center((r, c)), layout.cell_rowcol_to_xy((r, c)))
            assert maze.cell_at(layout.cell_rowcol_to_xy((r, c)) + 0.3) == (r, c)
    assert maze.start == maze.cell_at(unwrapped.position)
    assert maze.goal == maze.cell_at(unwrapped.goal) != maze.start


@pytest.mark.parametrize(
    ("name", "pose"),
    [("pointmaze_umaze", (-1.2, 1.1, 0.3)), ("antmaze_umaze", (-4.7, 4.3, 2.0))],
)
def test_lidar_matches_the_maze_geometry(make, name: str, pose: tuple[float, float, float]) -> None:
    env = make(name)
    unwrapped = env.unwrapped
    env.reset(seed=0)
    unwrapped.set_pose(*pose)
    lidar = unwrapped.lidar_ranges()
    angles = pose[2] + 2 * np.pi * np.arange(36) / 36
    expected = _cast(unwrapped, np.array(pose[:2]), angles, unwrapped.lidar_range)
    # Neither the ball nor the ant's legs nor the floor block a beam: only walls.
    np.testing.assert_allclose(lidar, expected, atol=0.05)
    if name == "pointmaze_umaze":
        # Beam 18 points west (heading + pi, 0.3 rad off the axis) at the wall face x = -1.5.
        assert lidar[18] == pytest.approx(0.3 / np.cos(0.3), abs=0.05)
        unwrapped.set_pose(-1.2, 1.0, 0.0)  # east down the top corridor: 2.7 m to the wall
        assert unwrapped.lidar_ranges()[0] == pytest.approx(2.7, abs=0.05)
        short = make(name, lidar_range=2.0).unwrapped
        short.reset(seed=0)
        short.set_pose(-1.2, 1.0, 0.0)
        assert short.lidar_ranges()[0] == pytest.approx(2.0), "no return reads lidar_range"


def test_unicycle_command_drives_along_the_virtual_heading() -> None:
    env = PointMazeNav("open")
    try:
        env.reset(seed=0)
        heading = 2.5
        env.set_pose(0.0, 0.0, heading)
        for _ in range(8):
            obs = env.step(np.array([0.5, 0.0], np.float32))[0]
        displacement = env.position
        direction = np.arctan2(displacement[1], displacement[0])
        assert abs(np.angle(np.exp(1j * (direction - heading)))) < np.radians(10)
        assert np.linalg.norm(displacement) == pytest.approx(0.4, abs=0.05)  # 0.5 m/s for 0.8 s
        assert obs["odometry"][4] == pytest.approx(0.5, abs=0.02)
        np.testing.assert_allclose(obs["odometry"][2:4], [np.cos(heading), np.sin(heading)], 1e-6)
        # Turning on the spot: the heading follows the yaw rate, the ball stops.
        for _ in range(5):
            obs = env.step(np.array([0.0, 0.5], np.float32))[0]
        yaw = np.arctan2(obs["odometry"][3], obs["odometry"][2])
        assert yaw == pytest.approx(np.angle(np.exp(1j * (heading + 0.5))), abs=1e-3)
        assert obs["odometry"][5] == pytest.approx(1.0)
        assert np.linalg.norm(env.data.qvel[:2]) < 0.05
        # Full speed is reached: 1 m/s along the new heading.
        for _ in range(5):
            obs = env.step(np.array([1.0, 0.0], np.float32))[0]
        assert obs["odometry"][4] == pytest.approx(1.0, abs=0.02)
        velocity = env.data.qvel[:2]
        assert np.arctan2(velocity[1], velocity[0]) == pytest.approx(yaw, abs=np.radians(2))
    finally:
        env.close()


def test_driving_into_a_wall_reports_collision(make) -> None:
    env = make()
    unwrapped = env.unwrapped
    env.reset(seed=0)
    unwrapped.set_pose(-1.2, 1.0, np.pi)  # 0.3 m from the west wall, 0.2 m to contact
    collisions = [env.step(np.array([0.5, 0.0], np.float32))[4]["collision"] for _ in range(8)]
    assert collisions[0] is False and collisions[-1] is True
    assert unwrapped.position[0] == pytest.approx(-1.4, abs=0.01), "the wall stops the ball"


def test_goal_vector_and_oracle_reach_the_goal(make) -> None:
    env = make()
    unwrapped = env.unwrapped
    obs, info = env.reset(seed=1, options=FAR_CORNERS)
    assert unwrapped.maze.start == (3, 1) and unwrapped.maze.goal == (1, 1)
    goal = unwrapped.goal
    yaw = unwrapped.yaw
    dx, dy = goal - unwrapped.position
    np.testing.assert_allclose(
        obs["goal"],
        [np.cos(yaw) * dx + np.sin(yaw) * dy, -np.sin(yaw) * dx + np.cos(yaw) * dy],
        atol=1e-5,
    )
    follower = WaypointFollower(unwrapped)
    coverage = [info["coverage"]]
    for _ in range(GYM_ROBOTICS_TASKS["pointmaze_umaze"].max_episode_steps):
        obs, reward, terminated, truncated, info = env.step(follower.act())
        assert info["coverage"] >= coverage[-1]
        coverage.append(info["coverage"])
        if terminated or truncated:
            break
        assert reward == 0.0 and not info["is_success"]
    assert (reward, terminated, truncated, info["is_success"]) == (1.0, True, False, True)
    assert np.linalg.norm(info["position"] - goal) <= SUCCESS_RADIUS
    assert coverage[0] < coverage[-1] == 1.0


def test_frontier_explorer_reaches_the_umaze_goal(make) -> None:
    env = make()
    limit = GYM_ROBOTICS_TASKS["pointmaze_umaze"].max_episode_steps
    successes = 0
    for seed in range(3):
        obs, info = env.reset(seed=seed, options=FAR_CORNERS)
        explorer = FrontierExplorer()
        for _ in range(limit):
            obs, reward, terminated, truncated, info = env.step(explorer.act(obs, info))
            if terminated or truncated:
                break
        successes += info["is_success"]
    assert successes >= 1, f"the frontier explorer reached 0 of 3 U-maze goals in {limit} steps"


def test_time_limit_truncates(make) -> None:
    env = make(max_episode_steps=3)
    env.reset(seed=0, options=FAR_CORNERS)
    ends = [env.step(np.zeros(2, np.float32))[2:4] for _ in range(3)]
    assert ends == [(False, False), (False, False), (False, True)]


def test_ant_odometry_follows_the_torso(make) -> None:
    env = make("antmaze_umaze")
    unwrapped = env.unwrapped
    env.reset(seed=0)
    unwrapped.set_pose(-4.0, 4.0, 1.0)
    assert unwrapped.yaw == pytest.approx(1.0)
    unwrapped.data.qvel[:2] = (np.cos(1.0), np.sin(1.0))  # 1 m/s straight ahead
    unwrapped.data.qvel[5] = 0.7
    odometry = unwrapped.odometry()
    np.testing.assert_allclose(odometry, [-4, 4, np.cos(1), np.sin(1), 1, 0.7], atol=1e-5)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs["lidar"].min() > 0.5, "the lidar sees the ant's own legs"


def test_bad_input_is_refused(make) -> None:
    with pytest.raises(ValueError, match="unknown navigation task 'nope'") as error:
        make_nav_env("nope")
    assert "maze_small" in str(error.value) and "pointmaze_umaze" in str(error.value)
    with pytest.raises(ValueError, match="unknown maze 'huge'.*umaze"):
        PointMazeNav("huge")
    with pytest.raises(ValueError, match="max_linear_speed"):
        PointMazeNav(max_linear_speed=6.0)
    for name, dim in (("pointmaze_umaze", 2), ("antmaze_umaze", 8)):
        env = make(name)
        env.reset(seed=0)
        with pytest.raises(ValueError, match="NaN"):
            env.step(np.full(dim, np.nan, np.float32))
        with pytest.raises(ValueError, match="shape"):
            env.step(np.zeros(dim + 1, np.float32))
    env = make()
    with pytest.raises(ValueError, match="is a wall"):
        env.reset(seed=0, options={"goal_cell": (0, 0)})
    with pytest.raises(ValueError, match="same cell"):
        env.reset(seed=0, options={"reset_cell": (1, 1), "goal_cell": (1, 1)})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(seed=0, options={"goal": (1, 1)})
    for seed in range(10):  # a reset cell alone never draws the goal into it
        env.reset(seed=seed, options={"reset_cell": (1, 1)})
        assert env.unwrapped.maze.goal != (1, 1)


def test_existing_nav_api_unchanged_and_upstream_imported_lazily() -> None:
    assert "pointmaze_umaze" not in NAV_TASKS  # our own tasks' table stays ours
    assert nav_task_spec("robo_reward/PointMazeUMaze-v0") is GYM_ROBOTICS_TASKS["pointmaze_umaze"]
    env = make_nav_env("maze_small")
    try:
        assert isinstance(env.unwrapped, MazeNavEnv)
    finally:
        env.close()
    code = (
        "import sys\n"
        "from robo_reward.sim.nav.registration import nav_task_spec, register_nav_envs\n"
        "register_nav_envs()\n"
        "nav_task_spec('pointmaze_umaze')\n"
        "assert 'gymnasium_robotics' not in sys.modules, 'imported gymnasium_robotics'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
