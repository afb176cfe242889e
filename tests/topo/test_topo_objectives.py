"""Safety filter and penalty, subgoal scoring, and the graph-distance potential."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from topo_drives import LOOP_MAZE, drive

from robo_reward.shaping.wrapper import PotentialShaping, ShapingConfig
from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.sim.nav.follower import WaypointFollower
from robo_reward.sim.nav.maze import Maze
from robo_reward.topo import Place, Pose2D, TopologicalMap
from robo_reward.topo.objectives import (
    SafetyConfig,
    SubgoalConfig,
    choose_subgoal,
    filter_action,
    safety_penalty,
    subgoal_score,
)
from robo_reward.topo.potential import GraphDistancePotential
from robo_reward.topo.wrapper import TopoNavRewards

CFG = SafetyConfig()
ANGLES = 2 * np.pi * np.arange(36) / 36


@settings(max_examples=300, deadline=None)
@given(
    scan=st.lists(st.floats(0.0, 3.0), min_size=36, max_size=36),
    forward=st.floats(-1.0, 1.0),
    turn=st.floats(-1.0, 1.0),
)
def test_safety_filter_never_speeds_toward_obstacles(scan, forward, turn) -> None:
    scan = np.array(scan)
    safe = filter_action(np.array([forward, turn]), scan, CFG)
    assert safe[1] == np.float32(turn)
    assert abs(safe[0]) <= abs(np.float32(forward)) and safe[0] * forward >= 0
    travel = ANGLES + (0.0 if forward >= 0 else np.pi)
    along, across = scan * np.cos(travel), scan * np.sin(travel)
    in_path = (scan < 3.0 - 1e-6) & (along > 0) & (np.abs(across) <= CFG.half_width)
    if not (in_path & (along < CFG.slow_distance)).any():
        assert safe[0] == np.float32(forward)  # free direction: untouched
    if (in_path & (along <= CFG.stop_distance)).any():
        assert safe[0] == 0.0


def test_safety_filter_blocks_a_wall_ahead_but_not_behind() -> None:
    scan = np.full(36, 3.0)
    scan[0] = 0.1  # a wall 10 cm ahead
    assert filter_action(np.array([1.0, 0.3]), scan)[0] == 0.0
    assert filter_action(np.array([-1.0, 0.3]), scan)[0] == np.float32(-1.0)
    assert filter_action(np.array([1.0, 0.3]), np.full(36, 3.0))[0] == 1.0


def test_safety_penalty() -> None:
    assert safety_penalty(1.0, CFG) == 0.0
    assert safety_penalty(0.0, CFG) == pytest.approx(-CFG.penalty)
    assert safety_penalty(CFG.safe_distance / 2, CFG) == pytest.approx(-CFG.penalty / 2)


def _place(node: int, x: float, y: float, visits: int, frontier: bool) -> Place:
    return Place(node, Pose2D(x, y, 0.0), None, 0, visits=visits, frontier=frontier)


def test_subgoal_choice_matches_the_documented_score() -> None:
    graph = nx.Graph()
    spec = {0: (0, 0, 3, False), 1: (1, 0, 1, True), 2: (0, 2, 1, True), 3: (-1, 0, 4, True)}
    for node, (x, y, visits, frontier) in spec.items():
        graph.add_node(node, place=_place(node, x, y, visits, frontier))
    graph.add_edge(0, 1, cost=1.0)
    graph.add_edge(0, 2, cost=2.0)
    graph.add_edge(0, 3, cost=1.0)
    graph.add_node(4, place=_place(4, 5, 5, 1, True))  # unreachable
    robot, goal = np.zeros(2), np.array([0.0, 5.0])
    config = SubgoalConfig()
    chosen = choose_subgoal(graph, 0, robot, goal, None, config)
    # by hand: S = 1/sqrt(v) + 0.5 [frontier] - d / 3 + 0.5 cos
    by_hand = {1: 1 + 0.5 - 1 / 3 + 0.0, 2: 1 + 0.5 - 2 / 3 + 0.5, 3: 0.5 + 0.5 - 1 / 3 + 0.0}
    assert chosen.node == max(by_hand, key=by_hand.get) == 2
    assert chosen.score == pytest.approx(by_hand[2])
    place = graph.nodes[1]["place"]
    assert subgoal_score(place.xy, 1, True, 1.0, robot, goal, False, config) == pytest.approx(
        by_hand[1]
    )
    # Without a goal, the nearer node wins; the goal's node outranks every frontier.
    assert choose_subgoal(graph, 0, robot, None, None, config).node == 1
    assert choose_subgoal(graph, 0, robot, goal, 3, config).node == 3


def test_potential_rises_along_the_shortest_path_and_stays_in_bounds() -> None:
    env = MazeNavEnv(maze=Maze.from_ascii(LOOP_MAZE))
    obs, _ = env.reset(seed=0)
    topo = TopologicalMap()
    ring = [(1, 7), (5, 7), (5, 1), (1, 1)]
    obs, _ = drive(env, topo, obs, ring)  # map the whole ring, back at the start
    potential = GraphDistancePotential(lambda: topo, max_distance=10.0)
    follower = WaypointFollower(env)
    phis = [potential.reset(obs, {})]
    assert potential.source == "graph"
    for _ in range(400):
        obs, _, terminated, _, _ = env.step(follower.act())
        topo.update(obs)
        phis.append(potential.potential(obs, {}))
        if terminated:
            break
    phis = np.array(phis)
    assert terminated and np.all((phis >= -1) & (phis <= 0))
    assert phis[-1] - phis[0] > 0.3
    assert np.diff(phis).min() > -0.01  # no real setback along the route


def test_potential_falls_back_to_euclidean_and_says_so() -> None:
    env = MazeNavEnv(size="small", maze_seed=0)
    obs, info = env.reset(seed=0)
    potential = GraphDistancePotential(max_distance=20.0)
    phi = potential.reset(obs, info)
    assert potential.source == "euclidean"
    assert phi == pytest.approx(-np.linalg.norm(obs["goal"]) / 20.0, abs=1e-5)


def test_pbrs_with_the_graph_potential_telescopes() -> None:
    gamma = 0.97
    inner = TopoNavRewards(MazeNavEnv(size="small", maze_seed=0))
    env = PotentialShaping(
        inner, GraphDistancePotential(lambda: inner.topo), ShapingConfig(gamma=gamma)
    )
    _, info = env.reset(seed=0)
    phi0 = info["potential/topo_graph"]
    follower = WaypointFollower(inner.unwrapped)
    shaped, task, t = 0.0, 0.0, 0
    for t in range(600):
        _, reward, terminated, truncated, info = env.step(follower.act())
        shaped += gamma**t * (reward - info["reward/total"] + info["reward/shaping_topo_graph"])
        task += gamma**t * info["reward/total"] - gamma**t * info["reward/shaping_topo_graph"]
        if terminated:
            break
    assert terminated  # Φ(s_T) = 0 on termination: the shaping sums to −Φ(s_0)
    assert shaped == pytest.approx(-phi0, abs=1e-9)
    assert "reward/new_node" in info and "reward/safety" in info
