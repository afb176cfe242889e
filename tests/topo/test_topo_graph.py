"""TopologicalMap on the maze env: node creation, revisits, loop closure, frontiers, goals,
relocalisation."""

from __future__ import annotations

import numpy as np
import pytest
from topo_drives import drive

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.topo import Pose2D, TopologicalMap, TopoObservation

RING = [(1, 7), (5, 7), (5, 1), (1, 1)]


def _obs(env: MazeNavEnv) -> dict:
    return env.step(np.zeros(2))[0]


def test_nodes_appear_as_the_rover_moves_and_not_when_it_stands_still() -> None:
    env = MazeNavEnv(size="small", maze_seed=0)
    obs, _ = env.reset(seed=0)
    topo = TopologicalMap()
    obs, updates = drive(env, topo, obs)
    created = [u.step for u in updates if u.created]
    assert len(topo) >= 5 and created[0] == 0 and len(created) == len(topo)
    assert topo.graph.number_of_edges() >= len(topo) - 1
    visits = {n: p.visits for n, p in topo.places.items()}
    for _ in range(20):
        update = topo.update(_obs(env))
        assert not update.created and update.edge is None and update.node == updates[-1].node
    assert {n: p.visits for n, p in topo.places.items()} == visits


def test_revisiting_reuses_nodes(loop_env: MazeNavEnv) -> None:
    topo = TopologicalMap()
    obs = _obs(loop_env)
    obs, _ = drive(loop_env, topo, obs, [(1, 4), (1, 7)])
    out = len(topo)
    obs, back = drive(loop_env, topo, obs, [(1, 4), (1, 1)])
    assert len(topo) == out and not any(u.created for u in back)
    assert max(p.visits for p in topo.places.values()) >= 2
    xy = np.array([p.xy for p in topo.places.values()])
    pairwise = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(len(xy)) * 9
    assert pairwise.min() >= topo.config.min_node_separation


def test_driving_round_a_cycle_closes_a_loop(loop_env: MazeNavEnv) -> None:
    topo = TopologicalMap()
    _, updates = drive(loop_env, topo, _obs(loop_env), RING)
    closures = [c for u in updates for c in u.loop_closures]
    assert len(closures) >= 1
    closure = closures[-1]
    assert closure.to_node == 0 or topo.place(closure.to_node).first_seen < 20
    assert closure.hops_before is None or closure.hops_before >= topo.config.loop_min_hops
    assert nx_has_cycle(topo)


def nx_has_cycle(topo: TopologicalMap) -> bool:
    import networkx as nx

    return len(nx.cycle_basis(topo.graph)) >= 1


def test_frontier_shrinks_as_coverage_grows(loop_env: MazeNavEnv) -> None:
    topo = TopologicalMap()
    _, updates = drive(loop_env, topo, _obs(loop_env), RING)
    frontier_cells = len(topo.grid.frontier_cells(topo.config.frontier_min_cells))
    peak = max(len(u.frontier) for u in updates)
    assert peak >= 2
    assert len(updates[-1].frontier) < peak
    assert frontier_cells < 20


def test_graph_distance_decreases_along_the_path_to_the_goal() -> None:
    env = MazeNavEnv(size="small", maze_seed=0)
    obs, _ = env.reset(seed=0)
    topo = TopologicalMap()
    drive(env, topo, obs)
    goal = env.maze.cell_center(env.maze.goal)
    path = topo.path_to(goal, start=0)
    assert path.found and path.nodes[0] == 0 and len(path.nodes) >= 3
    distances = [topo.goal_distance(goal, start=n) for n in path.nodes]
    assert all(a > b for a, b in zip(distances, distances[1:], strict=False))
    assert topo.graph_distance(path.nodes[0], path.nodes[-1]) == pytest.approx(path.cost)
    far = topo.path_to(np.array([50.0, 50.0]))
    assert not far.found and "outside the mapped region" in far.reason
    assert topo.goal_distance(np.array([50.0, 50.0])) is None


def test_an_odometry_jump_relocalises_without_an_edge(loop_env: MazeNavEnv) -> None:
    topo = TopologicalMap()
    obs, _ = drive(loop_env, topo, _obs(loop_env), [(1, 3)])
    before = topo.current
    edges = set(topo.graph.edges)
    loop_env.set_pose(*loop_env.maze.cell_center((5, 5)), np.pi)
    update = topo.update(_obs(loop_env))
    assert update.relocalised and update.edge is None and update.jump > 2.0
    assert update.previous_node == before and update.node != before
    assert set(topo.graph.edges) == edges
    assert not topo.graph.has_edge(before, update.node)
    assert topo.relocalisations == [update.step]
    assert topo.graph_distance(before, update.node) == float("inf")
    path = topo.path_to(topo.place(before).xy)
    assert not path.found and "not connected" in path.reason


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (np.full(36, np.nan), "scan has NaN values"),
        (np.zeros(0), "scan is empty"),
        (np.ones(20), "expected (36,)"),
        (-np.ones(36), "negative"),
    ],
)
def test_bad_scans_are_refused(ranges: np.ndarray, message: str) -> None:
    topo = TopologicalMap()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        topo.update(TopoObservation(Pose2D(1.0, 1.0, 0.0), ranges))
    assert len(topo) == 0 and topo.step == 0


def test_no_return_readings_count_as_max_range() -> None:
    topo = TopologicalMap()
    ranges = np.full(36, np.inf)
    update = topo.update(TopoObservation(Pose2D(0.0, 0.0, 0.0), ranges))
    assert update.created and update.clearance == topo.config.scan.max_range
