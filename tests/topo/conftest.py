"""Fixtures of the topological-map tests."""

from __future__ import annotations

import pytest
from topo_drives import LOOP_MAZE

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.sim.nav.maze import Maze


@pytest.fixture
def loop_env() -> MazeNavEnv:
    env = MazeNavEnv(maze=Maze.from_ascii(LOOP_MAZE))
    env.reset(seed=0)
    env.set_pose(*env.maze.cell_center((1, 1)), 0.0)
    return env
