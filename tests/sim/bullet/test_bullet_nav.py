"""The PyBullet rover maze against the MuJoCo one: spaces, mazes, lidar, step response, walls,
the waypoint follower, and living with other envs in one process."""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

pytest.importorskip("pybullet")

from robo_reward.sim.bullet.nav import BulletMazeNavEnv  # noqa: E402
from robo_reward.sim.nav import NAV_TASKS, Maze  # noqa: E402
from robo_reward.sim.nav.env import MazeNavEnv  # noqa: E402
from robo_reward.sim.nav.follower import WaypointFollower  # noqa: E402

ACCEPTED_CHECKER_WARNINGS = re.compile(r"observation space (minimum|maximum) value is -?infinity")
CORRIDOR = """
#########
#S......#
#######G#
#########
"""


@pytest.fixture
def make() -> Iterator[Callable[..., Any]]:
    """Build Bullet (``mujoco=False``) or MuJoCo envs and close them all at teardown."""
    envs: list[Any] = []

    def factory(mujoco: bool = False, **kwargs: Any) -> Any:
        kwargs.setdefault("size", "small")
        env = (MazeNavEnv if mujoco else BulletMazeNavEnv)(**kwargs)
        envs.append(env)
        return env

    yield factory
    for env in reversed(envs):
        env.close()


def _rollout(env: Any, actions: np.ndarray) -> np.ndarray:
    return np.stack([env.step(action)[0]["odometry"] for action in actions])


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"cameras": True, "image_size": (12, 16), "lidar_beams": 24, "lidar_range": 2.0}],
    ids=["lidar", "cameras"],
)
def test_spaces_equal_mujocos(make, kwargs) -> None:
    bullet, mujoco = make(**kwargs), make(mujoco=True, **kwargs)
    assert bullet.observation_space == mujoco.observation_space
    assert bullet.action_space == mujoco.action_space
    assert bullet.dt == mujoco.dt and bullet.metadata == mujoco.metadata


@pytest.mark.parametrize("layout", ["maze", "rooms"])
def test_same_maze_start_goal_and_heading_as_mujoco(make, layout) -> None:
    bullet, mujoco = make(layout=layout), make(mujoco=True, layout=layout)
    assert bullet.maze == mujoco.maze, "the maze before the first reset"
    for seed in (0, 1):
        obs_b, info_b = bullet.reset(seed=seed)
        obs_m, info_m = mujoco.reset(seed=seed)
        assert bullet.maze == mujoco.maze
        assert bullet.yaw == mujoco.yaw
        np.testing.assert_array_equal(obs_b["odometry"], obs_m["odometry"])
        np.testing.assert_array_equal(obs_b["goal"], obs_m["goal"])
        np.testing.assert_allclose(obs_b["lidar"], obs_m["lidar"], atol=1e-3)
        assert info_b.keys() == info_m.keys()
        for key in ("is_success", "cell", "coverage", "collision", "timestamp_ns"):
            assert info_b[key] == info_m[key], key
    fixed_b, fixed_m = (
        make(maze_seed=4, layout=layout),
        make(mujoco=True, maze_seed=4, layout=layout),
    )
    assert fixed_b.maze == fixed_m.maze
    fixed_b.reset(seed=9)
    assert fixed_b.maze is fixed_b.fixed_maze


def test_env_checker_passes_with_cameras(make) -> None:
    env = make(cameras=True, image_size=(12, 16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    messages = [str(w.message) for w in caught if "WARN:" in str(w.message)]
    assert [m for m in messages if not ACCEPTED_CHECKER_WARNINGS.search(m)] == []
    obs, _ = env.reset(seed=0)
    assert obs["rgb"].shape == (12, 16, 3) and obs["rgb"].std() > 0
    assert obs["depth"].dtype == np.float32 and 0 < obs["depth"].min()


@pytest.mark.parametrize("layout", ["maze", "rooms"])
def test_lidar_agrees_with_mujoco_at_the_same_poses(make, layout) -> None:
    """Measured over 60 poses x 36 beams: median difference < 1e-6 m; the few beams that differ
    by more than 1 cm (about 1 in 5000) graze a wall corner, where one engine's ray hits the
    corner and the other's slips past it."""
    bullet, mujoco = make(maze_seed=3, layout=layout), make(mujoco=True, maze_seed=3, layout=layout)
    maze, cs = bullet.maze, bullet.cell_size
    free = maze.free_cells()
    rng = np.random.default_rng(0)
    differences, grazes = [], 0
    for _ in range(60):
        x, y = maze.cell_center(free[rng.integers(len(free))]) + rng.uniform(-0.1, 0.1, 2)
        yaw = rng.uniform(-np.pi, np.pi)
        bullet.set_pose(x, y, yaw)
        mujoco.set_pose(x, y, yaw)
        ranges_b, ranges_m = bullet.lidar_ranges(), mujoco.lidar_ranges()
        assert ranges_b.dtype == np.float32 and ranges_b.shape == (36,)
        assert np.all((0 <= ranges_b) & (ranges_b <= bullet.lidar_range))
        difference = np.abs(ranges_b - ranges_m)
        differences.append(difference)
        for beam in np.flatnonzero(difference > 0.01):
            angle = yaw + 2 * np.pi * beam / 36
            hits = [
                (x, y) + r * np.array([np.cos(angle), np.sin(angle)])
                for r in (ranges_b[beam], ranges_m[beam])
            ]
            near_corner = [np.abs(hit - np.round(hit / cs) * cs).max() < 0.02 for hit in hits]
            assert any(near_corner), f"beam {beam} at pose {(x, y, yaw)} differs away from corners"
            grazes += 1
    differences = np.concatenate(differences)
    assert np.median(differences) < 1e-3
    assert np.percentile(differences, 99) < 0.01
    assert grazes <= 0.005 * differences.size


def test_free_space_step_response_matches_mujocos_servos(make) -> None:
    bullet, mujoco = make(maze_seed=0, frame_skip=1), make(mujoco=True, maze_seed=0, frame_skip=1)
    start = bullet.maze.cell_center(bullet.maze.start)
    for env in (bullet, mujoco):
        env.reset(seed=0)
        env.set_pose(*start, 0.3)
    actions = np.array([[1.0, 1.0]] * 4 + [[-0.3, -0.5]] * 4 + [[0.0, 0.0]] * 4)
    np.testing.assert_allclose(_rollout(bullet, actions), _rollout(mujoco, actions), atol=1e-4)


@pytest.mark.parametrize(("max_linear_speed", "overlap"), [(0.5, 0.005), (3.0, 0.035)])
def test_driving_into_a_wall_stops_at_the_wall(make, max_linear_speed, overlap) -> None:
    """The chassis may overlap the wall briefly at impact, as in MuJoCo (measured, deepest over
    the 10 ms physics steps: 2.5 mm at 0.5 m/s and 27 mm at 3 m/s, MuJoCo 3.0 and 28 mm), then
    settles within 2 mm of touching (MuJoCo 0.1 mm)."""
    env = make(maze=Maze.from_ascii(CORRIDOR), max_linear_speed=max_linear_speed)
    env.reset(seed=0)
    touching = 0.5 + env.rover_spec.radius  # x of the centre when the chassis touches the west wall
    start = env.maze.cell_center((1, 2))
    env.set_pose(*start, np.pi)  # facing the west wall, 0.63 m to go
    for _ in range(30):
        obs, _, _, _, info = env.step(np.array([1.0, 0.0]))
        assert not env.maze.walls[info["cell"]]
        assert env.position[0] > touching - overlap, "the chassis is deep inside the wall"
    assert env.position[0] > touching - 0.002
    assert info["collision"] and abs(obs["odometry"][4]) < 0.01
    assert obs["lidar"][0] == pytest.approx(env.position[0] - 0.5, abs=1e-3)
    env.set_pose(*start, 0.0)
    assert not env.step(np.zeros(2))[4]["collision"]


def test_follower_reaches_the_goal_of_small_mazes_within_the_time_limit(make) -> None:
    """Measured: seeds 0, 1, 2 in 127, 274 and 84 steps, the same as in MuJoCo, no collision."""
    limit = NAV_TASKS["maze_small"].max_episode_steps
    reached = []
    for seed in (0, 1, 2):
        env = make(maze_seed=seed)
        env.reset(seed=seed)
        follower = WaypointFollower(env)
        for _ in range(limit):
            _, reward, terminated, _, info = env.step(follower.act())
            if terminated:
                break
        reached.append(terminated and reward == 1.0 and info["cell"] == env.maze.goal)
    assert sum(reached) >= 2, reached


def test_bad_actions_are_refused_and_large_ones_clipped(make) -> None:
    env = make(maze_seed=0)
    env.reset(seed=0)
    for bad in ([np.nan, 0.0], [0.0, np.inf]):
        with pytest.raises(ValueError, match="NaN or infinity"):
            env.step(np.array(bad))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    twin = make(maze_seed=0)
    twin.reset(seed=0)
    np.testing.assert_array_equal(
        _rollout(env, np.array([[5.0, -7.0]] * 3)), _rollout(twin, np.array([[1.0, -1.0]] * 3))
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": "huge"},
        {"maze_seed": -1},
        {"layout": "caves"},
        {"lidar_beams": 0},
        {"frame_skip": 0},
        {"goal_radius": np.nan},
        {"render_mode": "human"},
        {"image_size": 4},
    ],
)
def test_bad_arguments_are_refused_as_mujoco_refuses_them(kwargs) -> None:
    with pytest.raises(ValueError) as mujoco_error:
        MazeNavEnv(**kwargs)
    with pytest.raises(ValueError, match=re.escape(str(mujoco_error.value)[:20])):
        BulletMazeNavEnv(**kwargs)


def test_two_envs_in_one_process_do_not_interfere(make) -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (15, 2))
    solo = make(maze_seed=1)
    solo.reset(seed=1)
    expected = _rollout(solo, actions)
    solo.close()
    a, b = make(maze_seed=1), make(maze_seed=2, layout="rooms")
    assert a.physics_client != b.physics_client
    a.reset(seed=1)
    b.reset(seed=5)
    trajectory = []
    for action in actions:
        trajectory.append(a.step(action)[0]["odometry"])
        b.step(-action)
    np.testing.assert_array_equal(np.stack(trajectory), expected)


def test_close_then_a_new_env_works_and_the_closed_one_reconnects(make) -> None:
    env = make(maze_seed=0)
    env.reset(seed=0)
    env.close()
    env.close()  # idempotent
    other = make(maze_seed=0)
    obs, _ = other.reset(seed=0)
    np.testing.assert_array_equal(other.step(np.array([1.0, 0.0]))[0]["lidar"].shape, (36,))
    np.testing.assert_array_equal(env.reset(seed=0)[0]["lidar"], obs["lidar"])


def test_pickle_round_trip_continues_the_episode(make) -> None:
    env = make(maze_seed=0)
    env.reset(seed=0)
    _rollout(env, np.array([[1.0, 0.5]] * 3))
    copy = pickle.loads(pickle.dumps(env))
    try:
        actions = np.array([[0.7, -0.2]] * 4)
        np.testing.assert_array_equal(_rollout(copy, actions), _rollout(env, actions))
        assert copy.physics_client != env.physics_client
    finally:
        copy.close()


def test_camera_depth_is_in_metres_and_render_is_top_down(make) -> None:
    env = make(
        maze=Maze.from_ascii(CORRIDOR), cameras=True, image_size=17, render_mode="rgb_array",
        render_size=(24, 40),
    )  # fmt: skip
    env.reset(seed=0)
    env.set_pose(*env.maze.cell_center((1, 1)), np.pi)  # the camera 0.15 m from the west wall
    obs = env.step(np.zeros(2))[0]
    assert obs["depth"][8, 8] == pytest.approx(0.25 - env.rover_spec.camera_pos[0], abs=0.005)
    red, green, blue = obs["rgb"][8, 8].astype(int)
    assert blue > red and blue > green, "the bluish grey of the walls"
    image = env.render()
    assert image.shape == (24, 40, 3) and image.dtype == np.uint8
    assert make(maze_seed=0).render() is None


def test_frontier_explorer_written_for_mujoco_runs_unchanged(make) -> None:
    """Measured (reset seed = maze seed, 600 steps): seeds 2, 3, 4 in 80, 103 and 160 steps,
    MuJoCo 80, 104 and 163 (seeds 0 and 1: 417 and 520, MuJoCo 436 and 446)."""
    from robo_reward.topo.explorer import FrontierExplorer

    reached = []
    for seed in (2, 3, 4):
        env = make(maze_seed=seed)
        obs, info = env.reset(seed=seed)
        explorer = FrontierExplorer()
        for _ in range(NAV_TASKS["maze_small"].max_episode_steps):
            obs, _, terminated, _, info = env.step(explorer.act(obs, info))
            if terminated:
                break
        reached.append(terminated)
    assert sum(reached) >= 2, reached
