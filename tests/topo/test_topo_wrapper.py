"""TopoNavRewards on the maze env: the Gymnasium checker, the reported terms, the hierarchy."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robo_reward.shaping.wrapper import PotentialShaping, ShapingConfig
from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.topo.explorer import ExplorerConfig
from robo_reward.topo.potential import PlanDistancePotential
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


def test_plan_potential_telescopes_and_stays_in_bounds() -> None:
    gamma = 0.97
    inner = hierarchy(0)
    env = PotentialShaping(
        inner, PlanDistancePotential(lambda: inner.planner), ShapingConfig(gamma=gamma)
    )
    obs, info = env.reset(seed=1)
    phi0 = info["potential/topo_plan"]
    assert -1.0 <= phi0 < 0.0
    shaped = 0.0
    for t in range(600):
        obs, _, terminated, truncated, info = env.step(steer_to_waypoint(obs))
        assert -1.0 <= info["potential/topo_plan"] <= 0.0
        shaped += gamma**t * info["reward/shaping_topo_plan"]
        if terminated or truncated:
            break
    assert terminated  # Φ(s_T) = 0 on termination: the shaping sums to −Φ(s_0)
    assert shaped == pytest.approx(-phi0, abs=1e-9)


class _NoPath:
    def __init__(self) -> None:
        self.distance: float | None = 3.0

    def remaining_distance(self) -> float | None:
        return self.distance


def test_plan_potential_holds_without_a_path_and_refuses_bad_lengths() -> None:
    planner = _NoPath()
    potential = PlanDistancePotential(lambda: planner, max_distance=10.0)
    assert potential.reset({}, {}) == pytest.approx(-0.3)
    planner.distance = None
    assert potential.potential({}, {}) == pytest.approx(-0.3)  # the plan is held
    planner.distance = 25.0
    assert potential.potential({}, {}) == -1.0  # saturates at d_max
    planner.distance = float("nan")
    with pytest.raises(ValueError, match="path length"):
        potential.potential({}, {})
    with pytest.raises(ValueError, match="max_distance"):
        PlanDistancePotential(lambda: planner, max_distance=0.0)
