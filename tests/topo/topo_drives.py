"""Drives shared by the topological-map tests (a uniquely named module: test directories share
one import namespace)."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.sim.nav.follower import WaypointFollower
from robo_reward.topo import MapUpdate, TopologicalMap

LOOP_MAZE = """
#########
#S......#
#.#####.#
#.#####.#
#.#####.#
#......G#
#########
"""
"""A ring corridor: the one cycle closes a loop."""


def drive(
    env: MazeNavEnv,
    topo: TopologicalMap,
    obs: dict,
    cells: list[tuple[int, int]] | None = None,
    max_steps: int = 800,
) -> tuple[dict, list[MapUpdate]]:
    """Follow ``cells`` (default: the shortest path to the goal), updating the map each step."""
    follower = WaypointFollower(env)
    if cells is not None:
        follower.waypoints = [env.maze.cell_center(c) for c in cells]
        follower.index = 0
    updates = []
    for _ in range(max_steps):
        updates.append(topo.update(obs))
        last = follower.index == len(follower.waypoints) - 1
        if last and np.linalg.norm(follower.waypoints[-1] - env.position) < 0.1:
            break
        obs, *_ = env.step(follower.act())
    else:
        raise AssertionError("the follower did not reach its last waypoint")
    return obs, updates
