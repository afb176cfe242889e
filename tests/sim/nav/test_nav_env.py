"""The maze navigation envs: Gymnasium API, determinism, lidar, odometry, goal and coverage."""

from __future__ import annotations

import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robo_reward.sim import register_envs
from robo_reward.sim.nav import MAZE_SIZES, NAV_TASKS, Maze, make_nav_env
from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.sim.nav.follower import WaypointFollower

SPECS = list(NAV_TASKS.values())
matrix = pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
ACCEPTED_CHECKER_WARNINGS = re.compile(r"observation space (minimum|maximum) value is -?infinity")

CORRIDOR = """
#########
#S......#
#######G#
#########
"""


@pytest.fixture
def make():
    envs = []

    def factory(name: str = "maze_small", **kwargs):
        env = make_nav_env(name, **kwargs)
        envs.append(env)
        return env

    yield factory
    for env in reversed(envs):
        env.close()


def _check(env: gym.Env) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    messages = [str(w.message) for w in caught if "WARN:" in str(w.message)]
    assert [m for m in messages if not ACCEPTED_CHECKER_WARNINGS.search(m)] == []


def _assert_same_obs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


@matrix
def test_registered_with_time_limit_and_env_checker_passes(spec) -> None:
    register_envs()
    assert gym.spec(spec.env_id).max_episode_steps == spec.max_episode_steps
    env = gym.make(spec.env_id)
    try:
        assert env.unwrapped.maze.shape[0] == 2 * MAZE_SIZES[spec.size] + 1
        _check(env)
    finally:
        env.close()


def test_docstring_documents_the_env_and_its_time_limits() -> None:
    doc = MazeNavEnv.__doc__ or ""
    for section in ("## Action Space", "## Observation Space", "## Rewards", "## Episode End"):
        assert section in doc
    for spec in SPECS:
        assert f"({spec.max_episode_steps} steps)" in doc, "time limit in the docs != registration"


def test_env_checker_passes_with_cameras(make) -> None:
    env = make("maze_small", cameras=True, image_size=(24, 32))
    _check(env)
    obs, _ = env.reset(seed=0)
    assert obs["rgb"].shape == (24, 32, 3) and obs["rgb"].dtype == np.uint8
    assert obs["depth"].shape == (24, 32) and obs["depth"].dtype == np.float32
    assert obs["rgb"].std() > 0
    assert 0 < obs["depth"].min() and obs["depth"].max() < 20


def test_same_seed_same_maze_and_trajectory(make) -> None:
    a, b = make(), make()
    obs_a, info_a = a.reset(seed=7)
    obs_b, info_b = b.reset(seed=7)
    _assert_same_obs(obs_a, obs_b)
    assert a.unwrapped.maze == b.unwrapped.maze
    rng = np.random.default_rng(0)
    for _ in range(5):
        action = rng.uniform(-1, 1, 2).astype(np.float32)
        step_a, step_b = a.step(action), b.step(action.copy())
        _assert_same_obs(step_a[0], step_b[0])
        assert step_a[1:3] == step_b[1:3] and step_a[4]["cell"] == step_b[4]["cell"]
    a.reset(seed=8)
    assert a.unwrapped.maze != b.unwrapped.maze, "a new seed gives a new maze"


def test_maze_seed_fixes_the_maze_across_resets(make) -> None:
    env = make(maze_seed=5)
    env.reset(seed=0)
    first = env.unwrapped.maze
    env.reset(seed=1)
    assert env.unwrapped.maze is first


def test_pickle_round_trip(make) -> None:
    env = make(cameras=True, image_size=16)
    env.reset(seed=0)
    copy = pickle.loads(pickle.dumps(env))
    try:
        _assert_same_obs(env.reset(seed=4)[0], copy.reset(seed=4)[0])
    finally:
        copy.close()


def test_lidar_shrinks_toward_a_wall_and_stays_in_range(make) -> None:
    env = make(maze=Maze.from_ascii(CORRIDOR), lidar_range=3.0)
    unwrapped = env.unwrapped
    env.reset(seed=0)
    start = unwrapped.maze.cell_center((1, 1))
    unwrapped.set_pose(*start, np.pi)  # facing the west wall, 0.25 m away
    ahead = []
    for _ in range(10):
        obs = env.step(np.array([0.3, 0.0], dtype=np.float32))[0]
        assert (obs["lidar"] >= 0).all() and (obs["lidar"] <= 3.0).all()
        ahead.append(obs["lidar"][0])
    unwrapped.set_pose(*start, 0.0)  # facing east down the corridor
    obs = env.step(np.zeros(2, dtype=np.float32))[0]
    assert obs["lidar"][0] == pytest.approx(3.0), "no return within range reads lidar_range"
    assert ahead[0] < 0.25 and np.all(np.diff(ahead) <= 1e-6) and ahead[-1] < ahead[0]
    assert ahead[-1] >= 0.1, "the rover drove into the wall"
    assert obs["lidar"][9] == pytest.approx(0.25, abs=1e-3)  # 90 degrees left: north wall


def test_driving_forward_moves_along_the_heading(make) -> None:
    env = make(maze=Maze.from_ascii(CORRIDOR))
    unwrapped = env.unwrapped
    env.reset(seed=0)
    unwrapped.set_pose(*unwrapped.maze.cell_center((1, 2)), 0.0)
    for _ in range(10):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))
    x, y, cos_yaw, sin_yaw, v, omega = obs["odometry"]
    assert x - 1.25 == pytest.approx(0.5, abs=0.05)  # 0.5 m/s for 1 s
    assert abs(y - 1.25) < 1e-3 and cos_yaw == pytest.approx(1.0)
    assert v == pytest.approx(0.5, abs=0.01) and abs(omega) < 1e-3
    assert not info["collision"] and info["cell"] == (1, 3)
    # Turning in place: yaw rate follows the command, position stays.
    for _ in range(5):
        obs = env.step(np.array([0.0, 0.5], np.float32))[0]
    assert obs["odometry"][5] == pytest.approx(1.0, abs=0.02)
    assert np.arctan2(obs["odometry"][3], obs["odometry"][2]) == pytest.approx(0.5, abs=0.05)


def test_goal_vector_is_in_the_rover_frame(make) -> None:
    env = make(maze=Maze.from_ascii(CORRIDOR))
    unwrapped = env.unwrapped
    env.reset(seed=0)
    goal = unwrapped.maze.cell_center(unwrapped.maze.goal)
    unwrapped.set_pose(goal[0] - 1.0, goal[1] + 0.5, np.pi / 2)  # goal 1 m east, 0.5 m south
    np.testing.assert_allclose(unwrapped.goal_in_rover_frame(), (-0.5, -1.0), atol=1e-6)


def test_reaching_the_goal_pays_one_and_terminates(make) -> None:
    env = make(maze=Maze.from_ascii(CORRIDOR))
    unwrapped = env.unwrapped
    obs, info = env.reset(seed=0)
    assert not info["is_success"]
    obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
    assert (reward, terminated, truncated) == (0.0, False, False)
    goal = unwrapped.maze.cell_center(unwrapped.maze.goal)
    unwrapped.set_pose(goal[0], goal[1] + 0.3, -np.pi / 2)  # 0.3 m north of the goal, facing it
    results = []
    for _ in range(4):  # 5 cm per step: inside goal_radius (0.2 m) on the third step
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))
        results.append((reward, terminated, truncated, info["is_success"]))
        if terminated:
            break
    assert results == [(0.0, False, False, False)] * 2 + [(1.0, True, False, True)]


def test_time_limit_truncates(make) -> None:
    env = make(max_episode_steps=3)
    env.reset(seed=0)
    ends = [env.step(np.zeros(2, np.float32))[2:4] for _ in range(3)]
    assert ends == [(False, False), (False, False), (False, True)]


def test_waypoint_follower_reaches_the_goal_and_coverage_grows(make) -> None:
    env = make("maze_small")
    env.reset(seed=3)
    follower = WaypointFollower(env.unwrapped)
    coverage = [0.0]
    for _ in range(NAV_TASKS["maze_small"].max_episode_steps):
        obs, reward, terminated, truncated, info = env.step(follower.act())
        assert info["coverage"] >= coverage[-1]
        coverage.append(info["coverage"])
        if terminated or truncated:
            break
    assert terminated and reward == 1.0 and info["cell"] == env.unwrapped.maze.goal
    assert 0 < coverage[1] < coverage[-1] <= 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown maze size"):
        MazeNavEnv(size="huge")
    with pytest.raises(ValueError, match="not both"):
        MazeNavEnv(maze=Maze.from_ascii(CORRIDOR), maze_seed=1)
    env = MazeNavEnv(maze=Maze.from_ascii(CORRIDOR))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
