"""TopoMapperStream: the topological mapper on pushed odometry and scans (no ROS): a drive
through a small maze builds the map and gives waypoints ahead; bad input is refused or
reported, never folded into the map."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robo_reward.streams.topo_stream import (
    TopoMapperStream,
    TopoStreamConfig,
    world_to_rover,
)
from robo_reward.topo.explorer import ExplorerConfig
from robo_reward.topo.objectives import filter_action
from robo_reward.topo.occupancy import Pose2D

MS = 1_000_000
PERIOD = 100 * MS
T0 = 7_000_000_000


def steer(waypoint: np.ndarray) -> np.ndarray:
    """The explorer's own steering toward a rover-frame waypoint (look around without one)."""
    if not np.any(waypoint):
        return np.array([0.0, 1.0], dtype=np.float32)
    error = math.atan2(waypoint[1], waypoint[0])
    return np.array([max(math.cos(error), 0.0) ** 4, np.clip(1.5 * error, -1, 1)], np.float32)


def drive(stream: TopoMapperStream, steps: int, seed: int = 0, goal: bool = True):
    """Drive maze_small (maze 0) toward the stream's waypoints; (env, obs, steps, next stamp)."""
    from robo_reward.sim.nav.registration import make_nav_env

    env = make_nav_env("maze_small", maze_seed=0)
    obs, _ = env.reset(seed=seed)
    maze = env.unwrapped.maze
    if goal:
        stream.set_goal(np.asarray(maze.cell_center(maze.goal)))
    results = []
    stamp = T0
    for _ in range(steps):
        assert stream.push_odometry(stamp, obs["odometry"]) is None
        step = stream.push_scan(stamp, obs["lidar"])
        results.append((obs, step))
        action = filter_action(
            steer(step.waypoint_in_rover_frame()), obs["lidar"], ExplorerConfig().safety
        )
        obs, _, terminated, _, _ = env.step(action)
        stamp += PERIOD
        if terminated:
            break
    env.close()
    return obs, results, stamp


def test_drive_builds_nodes_gives_waypoints_ahead_and_pays_new_nodes():
    stream = TopoMapperStream()
    _, results, _ = drive(stream, 160)
    steps = [s for _, s in results]
    assert len(stream.topo) >= 5, len(stream.topo)
    counts = [len(np.unique([s.update.node for s in steps[: k + 1]])) for k in range(len(steps))]
    assert counts[-1] > counts[20]  # the map keeps growing while the rover drives
    # new_node pays once per node created (weight 0.1), and only then.
    paid = [s.rewards["new_node"] for s in steps]
    assert sum(p > 0 for p in paid) == len(stream.topo)
    assert all((p > 0) == s.update.created for p, s in zip(paid, steps, strict=True))
    np.testing.assert_allclose(sum(paid), 0.1 * len(stream.topo))
    assert all(s.intrinsic == pytest.approx(sum(s.rewards.values())) for s in steps)
    # Waypoints: within the lookahead of the robot, mostly ahead once it is under way.
    lookahead = ExplorerConfig().lookahead
    with_point = [s for s in steps if s.waypoint is not None]
    assert len(with_point) >= 0.9 * len(steps)
    for s in with_point:
        assert np.linalg.norm(s.waypoint - s.pose.xy) <= lookahead + 0.15
    ahead = [s.waypoint_in_rover_frame()[0] > 0 for s in with_point[10:]]
    assert np.mean(ahead) > 0.8
    assert all(s.subgoal is not None for s in with_point)
    # Markers: at the first update and every markers_every (5) updates, the current map.
    marked = [k + 1 for k, s in enumerate(steps) if s.markers is not None]
    assert marked[0] == 1 and all(k % 5 == 0 for k in marked[1:])
    nodes = next(m for m in steps[marked[-1] - 1].markers if m["ns"] == "nodes")
    assert len(nodes["points"]) == len(np.unique([s.update.node for s in steps[: marked[-1]]]))
    status = stream.status()
    assert status.level_name == "OK", status
    assert status.values["nodes"] == str(len(stream.topo))
    assert float(status.values["update_ms_p50"]) > 0


def test_reaches_the_goal_of_maze_0_following_its_waypoints():
    """The hierarchy's high level alone, steered as the explorer steers: it reaches the goal."""
    stream = TopoMapperStream()
    obs, results, _ = drive(stream, 600)
    assert np.linalg.norm(obs["goal"]) < 0.3, f"{len(results)} steps, goal at {obs['goal']}"
    assert results[-1][1].subgoal_is_goal


def test_nan_and_empty_scans_are_refused_and_the_map_is_untouched():
    stream = TopoMapperStream()
    _, results, stamp = drive(stream, 20)
    obs = results[-1][0]
    steps_before, nodes_before = stream.topo.step, len(stream.topo)
    stream.push_odometry(stamp, obs["odometry"])
    bad = obs["lidar"].copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        stream.push_scan(stamp, bad)
    with pytest.raises(ValueError, match="empty"):
        stream.push_scan(stamp, np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="NaN or infinite"):
        stream.push_odometry(stamp, np.full(6, np.nan))
    assert (stream.topo.step, len(stream.topo)) == (steps_before, nodes_before)
    status = stream.status()
    assert status.level_name == "WARN"
    assert "2 scan input(s) refused" in status.message and "odometry" in status.message
    assert status.values["refused"] == "odometry:1,scan:2"
    assert stream.status().level_name == "OK"  # reported once
    # A good scan at that stamp still updates.
    assert stream.push_scan(stamp, obs["lidar"]) is not None


def test_odometry_jump_is_a_relocalisation_not_an_edge():
    stream = TopoMapperStream()
    _, results, stamp = drive(stream, 60)
    obs = results[-1][0]
    edges = set(stream.topo.graph.edges)
    jumped = obs["odometry"].copy()
    jumped[0] += 2.0  # 2 m in one update: a kidnapping or a teleport
    stream.push_odometry(stamp, jumped)
    step = stream.push_scan(stamp, obs["lidar"])
    assert step.update.relocalised and step.update.edge is None
    assert step.update.jump == pytest.approx(2.0, abs=1e-5)
    assert set(stream.topo.graph.edges) == edges  # nothing across the jump
    assert stream.relocalisations == 1
    status = stream.status()
    assert status.level_name == "WARN" and "relocalisation" in status.message
    assert status.values["relocalisations"] == "1"


def test_stamps_going_back_start_a_new_map_and_duplicates_are_refused():
    stream = TopoMapperStream()
    _, results, stamp = drive(stream, 40)
    obs = results[-1][0]
    assert len(stream.topo) > 1
    last = stamp - PERIOD
    with pytest.raises(ValueError, match="duplicate stamp"):
        stream.update(last, obs["odometry"], obs["lidar"], stream.goal)
    step = stream.update(last - 5_000 * MS, obs["odometry"], obs["lidar"], stream.goal)
    assert len(stream.topo) == 1 and step.update.created and stream.updates == 1
    assert step.markers is not None  # the new map is published at once
    status = stream.status()
    assert status.level_name == "WARN" and "stamps went back by 5000 ms" in status.message
    assert status.values["map_resets"] == "1"


def test_without_a_goal_it_explores_and_refuse_mode_refuses():
    stream = TopoMapperStream()
    _, results, _ = drive(stream, 50, goal=False)
    steps = [s for _, s in results]
    assert stream.goal is None
    assert sum(s.waypoint is not None for s in steps) >= 40
    assert not any(s.subgoal_is_goal for s in steps)
    assert len(stream.topo) >= 2
    assert "no goal: exploring" in stream.status().message

    refusing = TopoMapperStream(TopoStreamConfig(missing_goal="refuse"))
    odometry = np.array([0.75, 0.75, 1.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="no goal yet"):
        refusing.update(T0, odometry, np.full(36, 3.0))
    assert len(refusing.topo) == 0
    step = refusing.update(T0, odometry, np.full(36, 3.0), np.array([2.0, 0.75]))
    assert step.update.created
    with pytest.raises(ValueError, match="missing_goal"):
        TopoStreamConfig(missing_goal="guess")


def test_scans_pair_with_odometry_by_stamp():
    stream = TopoMapperStream(TopoStreamConfig(tolerance_ms=20.0))
    odometry = np.array([0.75, 0.75, 1.0, 0.0, 0.0, 0.0])
    ranges = np.full(36, 3.0)
    assert stream.push_scan(T0, ranges) is None  # held: no odometry yet
    assert stream.push_scan(T0 + PERIOD, ranges) is None  # replaces the held one
    assert stream.dropped == 1
    step = stream.push_odometry(T0 + PERIOD + 5 * MS, odometry)  # pairs with the held scan
    assert step is not None and step.stamp_ns == T0 + PERIOD
    stream.push_odometry(T0 + 3 * PERIOD, odometry)
    with pytest.raises(ValueError, match="older than every buffered odometry"):
        stream.push_scan(T0, ranges)
    assert "1 scan(s) dropped" in stream.status().message


def test_world_to_rover():
    pose = Pose2D(1.0, 1.0, math.pi / 2)
    np.testing.assert_allclose(world_to_rover(np.array([1.0, 3.0]), pose), [2.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(world_to_rover(np.array([0.0, 1.0]), pose), [0.0, 1.0], atol=1e-6)
    assert not world_to_rover(None, pose).any()
