"""Procedural floor plans of rooms: determinism, connectivity, rooms and doorways, start and
goal, their MJCF, and ``MazeNavEnv(layout="rooms")``."""

from __future__ import annotations

import re
import warnings

import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import TimeLimit

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.sim.nav.follower import WaypointFollower
from robo_reward.sim.nav.maze import MAZE_SIZES, maze_to_mjcf, wall_boxes
from robo_reward.sim.nav.rooms import FloorPlan, generate_floor_plan, generate_rooms

SIZES = list(MAZE_SIZES)
GRID_SIDES = {"small": 11, "medium": 19, "large": 27}
MIN_ROOMS = {"small": 3, "medium": 8, "large": 15}
ACCEPTED_CHECKER_WARNINGS = re.compile(r"observation space (minimum|maximum) value is -?infinity")


def _edges(walls: np.ndarray) -> int:
    free = ~walls
    return int((free[1:] & free[:-1]).sum() + (free[:, 1:] & free[:, :-1]).sum())


@pytest.mark.parametrize("size", SIZES)
def test_same_seed_same_plan_and_different_seeds_differ(size: str) -> None:
    assert generate_rooms(size, 3) == generate_rooms(size, 3)
    assert generate_rooms(size, 3) != generate_rooms(size, 4)
    assert generate_rooms(size, np.random.default_rng(5)) == generate_rooms(size, 5)
    assert generate_floor_plan(size, 3).maze == generate_rooms(size, 3)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("seed", range(5))
def test_every_free_cell_is_reachable_and_the_goal_is_far_in_another_room(
    size: str, seed: int
) -> None:
    plan = generate_floor_plan(size, seed)
    maze = plan.maze
    assert maze.shape == (GRID_SIDES[size], GRID_SIDES[size])
    assert maze.shape[0] == 2 * MAZE_SIZES[size] + 1, "rooms and mazes of a size share a grid"
    assert maze.walls[0].all() and maze.walls[-1].all()
    assert maze.walls[:, 0].all() and maze.walls[:, -1].all()
    distance = maze.distances_from(maze.start)
    assert (distance[~maze.walls] >= 0).all(), "some free cell is cut off from the start"
    start_room, goal_room = plan.room_of(maze.start), plan.room_of(maze.goal)
    assert start_room is not None and goal_room is not None and start_room != goal_room
    assert distance[maze.goal] >= 0.5 * distance.max()


@pytest.mark.parametrize("size", SIZES)
def test_rooms_are_walled_rectangles_joined_by_narrow_doorways(size: str) -> None:
    for seed in range(3):
        plan = generate_floor_plan(size, seed)
        walls = plan.maze.walls
        assert len(plan.rooms) >= MIN_ROOMS[size]
        assert len(plan.doors) >= len(plan.rooms) - 1  # a spanning tree at least
        for index, room in enumerate(plan.rooms):
            assert min(room.height, room.width) >= 2
            # A wall (or doorway) all round: the cells just outside are never room cells.
            ring = np.zeros_like(walls)
            ring[room.top - 1 : room.bottom + 2, room.left - 1 : room.right + 2] = True
            ring[room.top : room.bottom + 1, room.left : room.right + 1] = False
            assert (plan.labels[ring] < 0).all()
            inside = plan.labels[room.top : room.bottom + 1, room.left : room.right + 1]
            assert set(np.unique(inside)) <= {index, -1}  # -1: furniture
        for (a, b), cells in plan.doors:
            assert a != b and 1 <= len(cells) <= 2
            for cell in cells:
                assert not walls[cell] and plan.room_of(cell) is None
                neighbours = {
                    plan.room_of((cell[0] + dr, cell[1] + dc))
                    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                }
                assert {a, b} <= neighbours


def test_more_rooms_in_larger_sizes() -> None:
    mean_rooms = [
        np.mean([len(generate_floor_plan(s, seed).rooms) for seed in range(5)]) for s in SIZES
    ]
    assert mean_rooms == sorted(mean_rooms) and mean_rooms[0] < mean_rooms[-1]


def test_loop_fraction_adds_doorways_and_cycles() -> None:
    tree = generate_floor_plan("medium", 1, loop_fraction=0.0, furniture=0.0)
    loopy = generate_floor_plan("medium", 1, loop_fraction=1.0, furniture=0.0)
    assert len(tree.doors) == len(tree.rooms) - 1
    assert len(loopy.doors) > len(loopy.rooms) - 1
    # Removing a doorway of a spanning tree disconnects the plan; with loops it need not.
    for plan, must_split in ((tree, True), (loopy, False)):
        split = []
        for _, cells in plan.doors:
            walls = plan.maze.walls.copy()
            for cell in cells:
                walls[cell] = True
            reach = _reachable(walls, plan.maze.start)
            split.append(bool((~walls & ~reach).any()))
        assert all(split) if must_split else not all(split)


def _reachable(walls: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    seen = np.zeros_like(walls)
    stack = [start]
    seen[start] = True
    while stack:
        r, c = stack.pop()
        for nxt in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if not walls[nxt] and not seen[nxt]:
                seen[nxt] = True
                stack.append(nxt)
    return seen


def test_furniture_keeps_a_free_ring_and_can_be_turned_off() -> None:
    bare = [generate_floor_plan("large", seed, furniture=0.0) for seed in range(4)]
    for plan in bare:
        for room in plan.rooms:
            inside = plan.maze.walls[room.top : room.bottom + 1, room.left : room.right + 1]
            assert not inside.any()
    furnished = [generate_floor_plan("large", seed, furniture=1.0) for seed in range(4)]
    blocks = 0
    for plan in furnished:
        for room in plan.rooms:
            inside = plan.maze.walls[room.top : room.bottom + 1, room.left : room.right + 1]
            blocks += bool(inside.any())
            assert not inside[[0, -1]].any() and not inside[:, [0, -1]].any()
    assert blocks > 0


@pytest.mark.parametrize("size", SIZES)
def test_mjcf_compiles_with_few_wall_geoms_and_a_clear_start(size: str) -> None:
    maze = generate_rooms(size, 2)
    covered = np.zeros_like(maze.walls)
    for r0, c0, r1, c1 in wall_boxes(maze.walls):
        covered[r0 : r1 + 1, c0 : c1 + 1] = True
    assert np.array_equal(covered, maze.walls)
    model = mujoco.MjModel.from_xml_string(maze_to_mjcf(maze, lidar_beams=36))
    walls = [
        model.geom(i).name for i in range(model.ngeom) if model.geom(i).name.startswith("wall")
    ]
    assert len(walls) < maze.walls.sum() / 4
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("start").id)
    mujoco.mj_forward(model, data)
    assert data.ncon == 0, "the rover starts touching a wall"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": "huge"}, "unknown rooms size 'huge'"),
        ({"size": 2}, "too small for two rooms"),
        ({"size": 1.5}, "size must be one of"),
        ({"size": True}, "size must be one of"),
        ({"cell_size": 0.0}, "cell_size must be a positive"),
        ({"cell_size": float("nan")}, "cell_size must be a positive"),
        ({"loop_fraction": 1.5}, "loop_fraction must be in"),
        ({"furniture": -0.1}, "furniture must be in"),
        ({"min_room": 0}, "min_room must be an int"),
        ({"min_room": 3, "max_room": 6}, "max_room .* at least 2 \\* min_room"),
        ({"size": 3, "min_room": 3, "max_room": 7}, "too small for two rooms of min_room=3"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_rooms(**kwargs)


def test_smallest_size_has_two_rooms() -> None:
    for seed in range(5):
        plan = generate_floor_plan(3, seed)
        assert plan.maze.shape == (7, 7) and len(plan.rooms) >= 2
        assert isinstance(plan, FloorPlan)


# --------------------------------------------------------------------------- env
def test_env_checker_passes_with_rooms() -> None:
    env = MazeNavEnv(size="small", layout="rooms")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env, skip_render_check=True)
        messages = [str(w.message) for w in caught if "WARN:" in str(w.message)]
        assert [m for m in messages if not ACCEPTED_CHECKER_WARNINGS.search(m)] == []
    finally:
        env.close()


def test_env_layout_picks_the_generator_at_construction_and_reset() -> None:
    env = MazeNavEnv(size="small", maze_seed=4, layout="rooms")
    assert env.maze == generate_rooms("small", 4) and env.layout == "rooms"
    env.reset(seed=0)
    assert env.maze == generate_rooms("small", 4)
    free = MazeNavEnv(size="small", layout="rooms")
    free.reset(seed=7)
    first = free.maze
    free.reset(seed=7)
    assert free.maze == first and free.maze.shape == (11, 11)
    assert free.loop_fraction == 0.3
    maze_env = MazeNavEnv(size="small")
    assert maze_env.layout == "maze" and maze_env.loop_fraction == 0.1
    for e in (env, free, maze_env):
        e.close()


def test_env_refuses_an_unknown_layout_or_a_size_too_small_for_rooms() -> None:
    with pytest.raises(ValueError, match="unknown layout 'house'; layouts: maze, rooms"):
        MazeNavEnv(layout="house")
    with pytest.raises(ValueError, match="too small for two rooms"):
        MazeNavEnv(size=2, layout="rooms")


@pytest.mark.parametrize("seed", range(3))
def test_waypoint_follower_reaches_the_goal_in_rooms(seed: int) -> None:
    env = TimeLimit(MazeNavEnv(size="small", maze_seed=seed, layout="rooms"), 600)
    try:
        env.reset(seed=seed)
        follower = WaypointFollower(env.unwrapped)
        for _ in range(600):
            obs, reward, terminated, truncated, info = env.step(follower.act())
            if terminated or truncated:
                break
        assert terminated and reward == 1.0
        assert info["cell"] == env.unwrapped.maze.goal
    finally:
        env.close()
