"""Procedural mazes: connectivity, determinism, BFS, refused grids, and their MJCF."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from robo_reward.sim.nav.maze import MAZE_SIZES, Maze, generate_maze, maze_to_mjcf, wall_boxes

SIZES = list(MAZE_SIZES)
MAX_WALL_GEOMS = {"small": 20, "medium": 50, "large": 100}

HAND_MAZE = """
#######
#S..#.#
#.#.#.#
#.#...#
#.###G#
#######
"""


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("seed", range(6))
def test_generated_maze_is_connected_with_distinct_start_and_goal(size: str, seed: int) -> None:
    maze = generate_maze(size, seed)
    n = MAZE_SIZES[size]
    assert maze.shape == (2 * n + 1, 2 * n + 1)
    assert maze.start != maze.goal and maze.has_path()
    assert maze.walls[0].all() and maze.walls[-1].all()
    assert maze.walls[:, 0].all() and maze.walls[:, -1].all()
    distance = maze.distances_from(maze.start)
    assert (distance[~maze.walls] >= 0).all(), "some free cell is cut off from the start"
    assert distance[maze.goal] >= 0.5 * distance.max()


@pytest.mark.parametrize("size", SIZES)
def test_same_seed_same_maze_and_different_seeds_differ(size: str) -> None:
    assert generate_maze(size, 3) == generate_maze(size, 3)
    assert generate_maze(size, 3) != generate_maze(size, 4)


def test_loops_add_cycles() -> None:
    perfect = generate_maze("medium", 0, loop_fraction=0.0)
    loopy = generate_maze("medium", 0, loop_fraction=0.3)
    # A perfect maze is a tree: free cells - 1 adjacencies. Loops add more.
    for maze, is_tree in ((perfect, True), (loopy, False)):
        free = ~maze.walls
        edges = (free[1:] & free[:-1]).sum() + (free[:, 1:] & free[:, :-1]).sum()
        assert bool(edges == free.sum() - 1) is is_tree


def test_bfs_path_on_a_hand_written_grid() -> None:
    maze = Maze.from_ascii(HAND_MAZE)
    assert maze.start == (1, 1) and maze.goal == (4, 5)
    path = maze.shortest_path()
    assert path == [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 4), (3, 5), (4, 5)]
    assert maze.distances_from(maze.start)[maze.goal] == len(path) - 1
    assert maze.shortest_path((3, 1), (1, 1)) == [(3, 1), (2, 1), (1, 1)]
    assert len(maze.free_cells()) == int((~maze.walls).sum()) == 13
    assert maze.to_ascii() == HAND_MAZE.strip()


def test_grid_without_a_path_is_refused() -> None:
    walled_off = HAND_MAZE.replace("#.#...#", "#.#..##")  # block the only way to G
    with pytest.raises(ValueError, match="no path from start"):
        Maze.from_ascii(walled_off)


@pytest.mark.parametrize(
    ("goal", "message"),
    [((0, 3), "goal \\(0, 3\\) is on a wall"), ((9, 1), "goal \\(9, 1\\) is outside the 6x7 map")],
)
def test_goal_on_a_wall_or_outside_the_map_is_refused(goal: tuple[int, int], message: str) -> None:
    walls = Maze.from_ascii(HAND_MAZE).walls
    with pytest.raises(ValueError, match=message):
        Maze(walls, (1, 1), goal)


def test_unknown_size_and_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown maze size 'huge'"):
        generate_maze("huge")
    with pytest.raises(ValueError, match="loop_fraction"):
        generate_maze("small", 0, loop_fraction=2.0)
    with pytest.raises(ValueError, match="same cell"):
        Maze(Maze.from_ascii(HAND_MAZE).walls, (1, 1), (1, 1))


def test_world_frame_round_trip() -> None:
    maze = Maze.from_ascii(HAND_MAZE, cell_size=0.5)
    np.testing.assert_allclose(maze.cell_center((5, 0)), (0.25, 0.25))  # bottom-left
    np.testing.assert_allclose(maze.cell_center((0, 6)), (3.25, 2.75))  # top-right
    for cell in maze.free_cells():
        assert maze.cell_at(maze.cell_center(cell)) == cell


@pytest.mark.parametrize("size", SIZES)
def test_wall_boxes_cover_exactly_the_walls(size: str) -> None:
    walls = generate_maze(size, 1).walls
    covered = np.zeros_like(walls)
    for r0, c0, r1, c1 in wall_boxes(walls):
        assert walls[r0 : r1 + 1, c0 : c1 + 1].all()
        covered[r0 : r1 + 1, c0 : c1 + 1] = True
    assert np.array_equal(covered, walls)


@pytest.mark.parametrize("size", SIZES)
def test_mjcf_compiles_with_few_geoms(size: str) -> None:
    maze = generate_maze(size, 2)
    model = mujoco.MjModel.from_xml_string(maze_to_mjcf(maze, lidar_beams=36))
    walls = [
        model.geom(i).name for i in range(model.ngeom) if model.geom(i).name.startswith("wall")
    ]
    assert len(walls) <= MAX_WALL_GEOMS[size] and len(walls) < maze.walls.sum() / 4
    assert model.nsensor == 36 and model.nu == 3
    assert {"rover", "overview"} <= {model.camera(i).name for i in range(model.ncam)}
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("start").id)
    np.testing.assert_allclose(data.qpos[:2], maze.cell_center(maze.start))
    mujoco.mj_forward(model, data)
    assert data.ncon == 0, "the rover starts touching a wall"
