"""TopoNavRewards on the maze env: the Gymnasium checker and the reported terms."""

from __future__ import annotations

import numpy as np
from gymnasium.utils.env_checker import check_env

from robo_reward.sim.nav.env import MazeNavEnv
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
