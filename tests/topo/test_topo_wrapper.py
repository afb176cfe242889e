"""TopoNavRewards on the maze env: the Gymnasium checker, the reported terms, the hierarchy."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.topo.explorer import ExplorerConfig
from robo_reward.topo.wrapper import TopoNavConfig, TopoNavRewards


def test_wrapper_passes_the_gymnasium_checker() -> None:
    check_env(TopoNavRewards(MazeNavEnv(size="small")), skip_render_check=True)


def test_wrapper_reports_map_stats_and_filters_actions() -> None:
    env = TopoNavRewards(MazeNavEnv(size="small", maze_seed=0), TopoNavConfig(filter_actions=True))
    _, info = env.reset(seed=0)
    assert info["topo/nodes"] == 1 and info["topo/subgoal"].shape == (2,)
    filtered = False
    for _ in range(60):
        _, _, _, _, info = env.step(np.array([1.0, 0.0]))
        filtered |= info["topo/action_filtered"]
        assert not info["collision"]
    assert filtered  # drove straight at a wall and was stopped short of it
    for key in ("reward/safety", "reward/subgoal", "topo/frontiers", "topo/subgoal_node"):
        assert key in info


# --------------------------------------------------------------------------- hierarchy
def steer_to_waypoint(observation: dict[str, np.ndarray]) -> np.ndarray:
    """A proportional low level that reads nothing but the ``waypoint`` observation."""
    dx, dy = observation["waypoint"]
    if dx == 0.0 and dy == 0.0:
        return np.array([0.0, 1.0], dtype=np.float32)  # no path: look around
    error = float(np.arctan2(dy, dx))
    return np.array([max(np.cos(error), 0.0) ** 4, np.clip(1.5 * error, -1, 1)], np.float32)


def hierarchy(maze_seed: int) -> TopoNavRewards:
    config = TopoNavConfig(filter_actions=True, waypoints=True, safety=ExplorerConfig().safety)
    return TopoNavRewards(MazeNavEnv(size="small", maze_seed=maze_seed), config)


def test_hierarchy_passes_the_gymnasium_checker_and_adds_a_waypoint() -> None:
    env = hierarchy(0)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs["waypoint"].shape == (2,) and obs["waypoint"].dtype == np.float32
    assert env.observation_space.contains(obs)
    # The waypoint is the lookahead point: near, and ahead of the robot along its plan.
    assert 0.0 < np.linalg.norm(obs["waypoint"]) <= env.config.planner.lookahead + 0.1
    assert info["topo/subgoal_node"] >= 0


def test_a_controller_that_sees_only_the_waypoint_reaches_the_goal() -> None:
    """The high level alone carries the search: steering at the waypoint explores, pays the
    subgoal term at reached frontiers and ends at the goal (maze 0: 421 steps measured)."""
    env = hierarchy(0)
    obs, _ = env.reset(seed=1)
    subgoals, nodes = 0.0, 0.0
    for _ in range(600):
        obs, _, terminated, truncated, info = env.step(steer_to_waypoint(obs))
        subgoals += info["reward/subgoal"]
        nodes += info["reward/new_node"]
        if terminated or truncated:
            break
    assert terminated and info["is_success"]
    assert subgoals > 0 and nodes > 0
    assert info["coverage"] > 0.5


def test_the_waypoint_term_pays_progress_toward_the_shown_waypoint() -> None:
    env = hierarchy(0)
    obs, _ = env.reset(seed=1)
    toward, away = [], []
    for _ in range(40):
        obs, _, _, _, info = env.step(steer_to_waypoint(obs))
        toward.append(info["reward/waypoint"])
    for _ in range(10):  # back away from where it was heading (the shield allows reversing)
        obs, _, _, _, info = env.step(np.array([-1.0, 0.0], dtype=np.float32))
        away.append(info["reward/waypoint"])
    # At most 0.5 m/s x 0.1 s = 5 cm per step, weight 1 per metre.
    assert 0.01 < np.mean(toward) <= 0.05 + 1e-6
    assert np.mean(away) < 0.0


def test_hierarchy_config_is_checked() -> None:
    with pytest.raises(ValueError, match="waypoint_progress"):
        TopoNavConfig(waypoint_progress=float("nan"))
