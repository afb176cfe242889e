"""TopoNav's intrinsic rewards through the wrapper: new-node and 1/sqrt(n) visit bonuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from topo_drives import LOOP_MAZE

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.sim.nav.follower import WaypointFollower
from robo_reward.sim.nav.maze import Maze
from robo_reward.topo.rewards import TopoRewardConfig
from robo_reward.topo.wrapper import TopoNavConfig, TopoNavRewards


def test_new_node_and_visit_bonuses_follow_the_map() -> None:
    weights = TopoRewardConfig(new_node=0.3, visit=0.7, subgoal=0.0)
    env = TopoNavRewards(MazeNavEnv(maze=Maze.from_ascii(LOOP_MAZE)), TopoNavConfig(weights))
    env.reset(seed=0)
    inner = env.unwrapped
    follower = WaypointFollower(inner)
    out_and_back = [(1, 4), (1, 7), (1, 4), (1, 1), (1, 4)]
    follower.waypoints = [inner.maze.cell_center(c) for c in out_and_back]
    created, entries = 0, 0
    previous = env.topo.current
    for _ in range(400):
        nodes = len(env.topo)
        _, _, _, _, info = env.step(follower.act())
        node = info["topo/node"]
        is_new = len(env.topo) > nodes
        assert info["reward/new_node"] == (0.3 if is_new else 0.0)
        if not is_new and node != previous:
            entries += 1
            n = env.topo.place(node).visits
            assert n >= 2
            assert info["reward/visit"] == pytest.approx(0.7 / math.sqrt(n), abs=1e-12)
        else:
            assert info["reward/visit"] == 0.0
        created += is_new
        previous = node
        total = sum(info[f"reward/{k}"] for k in ("task", "new_node", "visit", "subgoal", "safety"))
        assert info["reward/total"] == pytest.approx(total)
        last = follower.index == len(follower.waypoints) - 1
        if last and np.linalg.norm(follower.waypoints[-1] - inner.position) < 0.1:
            break
    assert created >= 2 and entries >= 3


def test_weights_must_be_non_negative() -> None:
    with pytest.raises(ValueError, match="new_node"):
        TopoRewardConfig(new_node=-1.0)
