"""Procedural indoor floor plans: rectangular rooms joined by doorways, on a maze's occupancy grid.

:func:`~robo_reward.sim.nav.maze.generate_maze` gives corridors one cell wide everywhere; real
buildings are mostly open rooms behind narrow doors, which changes what a navigator must do: a
lidar sees a whole room at once, but the way on is a gap of one or two cells somewhere in its
walls. :func:`generate_rooms` builds such a floor plan on the same grid and returns the same
:class:`~robo_reward.sim.nav.maze.Maze`, so ``maze_to_mjcf``, the env's coverage, BFS paths and
the waypoint follower work unchanged (``MazeNavEnv(layout="rooms")``).

Generation, all from one random generator (the same seed gives the same plan):

1. **Recursive division.** The floor inside the border wall is split by a straight wall, one cell
   thick, at a random position along its longer side; each part is split again while it is longer
   than ``max_room`` cells (or, by chance, while it can still hold two rooms of ``min_room``
   cells). The leaves are the rooms: rectangles of random sizes, like a floor plan.
2. **Doorways.** Rooms on the two sides of a wall are neighbours. A randomised spanning tree
   (Kruskal over the neighbour pairs in random order) gets one doorway per tree edge, so every
   room can be reached; ``loop_fraction`` of the remaining neighbour pairs get a doorway too, so
   there are loops and more than one route. A doorway is a gap of one or two cells (0.5-1 m for
   the 0.5 m cells: the rover is 0.24 m across) in the shared stretch of wall.
3. **Furniture.** A room at least ``5 x 5`` cells gets, with probability ``furniture``, a wall
   block that keeps one free cell all round it, so the room stays connected and no doorway is
   blocked.
4. **Start and goal.** The start is a random room cell; the goal a random room cell in another
   room at least half as far (BFS steps) from the start as the farthest cell, as for mazes.

Sizes are those of :data:`~robo_reward.sim.nav.maze.MAZE_SIZES` on the same grid: ``n`` maze
cells per side are a ``(2n + 1) x (2n + 1)`` grid (small 11 x 11, medium 19 x 19, large 27 x 27),
so a rooms env and a maze env of one size have the same extent. Rooms per plan over 200 seeds:
small 4-8 (mean 4.7), medium 9-22 (14.3), large 20-40 (29.3).

Measured (seeds 0-4, ``maze_seed`` = reset seed, the maze tasks' time limits of 600 / 1500
steps): the map-knowing ``WaypointFollower`` and the ``FrontierExplorer`` both reach the goal
in 5/5 small and 5/5 medium plans, without collisions (follower 99-213 / 148-294 steps,
explorer 78-237 / 144-567). The straight walls merge into fewer wall geoms than a maze of the
same size (about 11 / 28 / 52 against 14 / 38 / 85).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robo_reward.sim.nav.maze import DEFAULT_CELL_SIZE, MAZE_SIZES, Cell, Maze

DEFAULT_MIN_ROOM = 2
"""Least side of a room in grid cells (1 m for 0.5 m cells)."""
DEFAULT_MAX_ROOM = 7
"""Rooms longer than this (grid cells) are always divided."""
DEFAULT_SPLIT_PROBABILITY = 0.25
"""Chance that a room no longer than ``max_room`` that can hold two rooms is divided anyway."""
DEFAULT_ROOM_LOOP_FRACTION = 0.3
"""Fraction of the neighbour pairs outside the spanning tree that get a doorway too."""
DEFAULT_FURNITURE = 0.5
"""Chance that a room of at least 5 x 5 cells gets a block of furniture."""
MIN_ROOMS_SIZE = 3
"""Least ``n`` (maze cells per side) for rooms: a 7 x 7 grid, two rooms of 2 cells and a wall."""
_FURNISHED_SIDE = 5


@dataclass(frozen=True)
class Room:
    """A rectangle of free grid cells, rows ``top..bottom`` and columns ``left..right``
    (inclusive)."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    def contains(self, cell: Cell) -> bool:
        return self.top <= cell[0] <= self.bottom and self.left <= cell[1] <= self.right


@dataclass(frozen=True, eq=False)
class FloorPlan:
    """A generated floor plan: the :class:`Maze`, its rooms, and the doorways between them.

    Args:
        maze: the occupancy grid with start and goal.
        rooms: the rooms from the recursive division.
        doors: per doorway, the pair of rooms (indices into ``rooms``) and its wall cells.
        labels: int ``maze.shape``: the room index of each free room cell; -1 on walls, doorways
            and furniture.
    """

    maze: Maze
    rooms: tuple[Room, ...]
    doors: tuple[tuple[tuple[int, int], tuple[Cell, ...]], ...]
    labels: np.ndarray

    def room_of(self, cell: Cell) -> int | None:
        """The index of the room holding ``cell``; None on walls, doorways and furniture."""
        label = int(self.labels[cell])
        return None if label < 0 else label


def generate_rooms(
    size: str | int = "medium",
    rng: np.random.Generator | int | None = None,
    cell_size: float = DEFAULT_CELL_SIZE,
    loop_fraction: float = DEFAULT_ROOM_LOOP_FRACTION,
    min_room: int = DEFAULT_MIN_ROOM,
    max_room: int = DEFAULT_MAX_ROOM,
    furniture: float = DEFAULT_FURNITURE,
) -> Maze:
    """A random floor plan of rooms and doorways of ``size`` (``small``, ``medium``, ``large`` or
    ``n`` maze cells per side, at least 3: a ``(2n + 1)``-cell square grid), the same for the same
    seed. See the module docstring, and :func:`generate_floor_plan` for the rooms themselves."""
    return generate_floor_plan(
        size, rng, cell_size, loop_fraction, min_room, max_room, furniture
    ).maze


def generate_floor_plan(
    size: str | int = "medium",
    rng: np.random.Generator | int | None = None,
    cell_size: float = DEFAULT_CELL_SIZE,
    loop_fraction: float = DEFAULT_ROOM_LOOP_FRACTION,
    min_room: int = DEFAULT_MIN_ROOM,
    max_room: int = DEFAULT_MAX_ROOM,
    furniture: float = DEFAULT_FURNITURE,
) -> FloorPlan:
    """:func:`generate_rooms` with its rooms, doorways and room labels (same arguments, same
    maze for the same seed)."""
    side = 2 * _rooms_size(size) + 1
    _check_arguments(side, cell_size, loop_fraction, min_room, max_room, furniture)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    walls = np.ones((side, side), dtype=bool)
    walls[1:-1, 1:-1] = False
    floor = Room(1, 1, side - 2, side - 2)
    rooms = _divide(floor, walls, rng, min_room, max_room, force=True)
    labels = np.full(walls.shape, -1, dtype=np.int64)
    for index, room in enumerate(rooms):
        labels[room.top : room.bottom + 1, room.left : room.right + 1] = index
    doors = _open_doors(walls, labels, len(rooms), rng, loop_fraction)
    for room in rooms:
        _furnish(room, walls, labels, rng, furniture)
    start, goal = _start_and_goal(walls, labels, rng, cell_size)
    maze = Maze(walls, start, goal, cell_size)
    labels.flags.writeable = False
    return FloorPlan(maze, tuple(rooms), tuple(doors), labels)


# --------------------------------------------------------------------------- arguments
def _rooms_size(size: str | int) -> int:
    if isinstance(size, str):
        if size not in MAZE_SIZES:
            raise ValueError(f"unknown rooms size {size!r}; sizes: {', '.join(MAZE_SIZES)}")
        return MAZE_SIZES[size]
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size >= MIN_ROOMS_SIZE:
            return int(size)
        raise ValueError(
            f"size {size} is too small for two rooms: the {2 * size + 1}-cell grid needs "
            f"n >= {MIN_ROOMS_SIZE} (a {2 * MIN_ROOMS_SIZE + 1}-cell grid) for two rooms and "
            "the wall between them"
        )
    raise ValueError(
        f"size must be one of {list(MAZE_SIZES)} or an int >= {MIN_ROOMS_SIZE}, got {size!r}"
    )


def _check_arguments(
    side: int,
    cell_size: float,
    loop_fraction: float,
    min_room: int,
    max_room: int,
    furniture: float,
) -> None:
    if (
        isinstance(cell_size, bool)
        or not isinstance(cell_size, (int, float, np.number))
        or not (np.isfinite(cell_size) and cell_size > 0)
    ):
        raise ValueError(f"cell_size must be a positive number of metres, got {cell_size!r}")
    for name, value in (("loop_fraction", loop_fraction), ("furniture", furniture)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if isinstance(min_room, bool) or not isinstance(min_room, (int, np.integer)) or min_room < 1:
        raise ValueError(f"min_room must be an int >= 1, got {min_room!r}")
    if isinstance(max_room, bool) or not isinstance(max_room, (int, np.integer)):
        raise ValueError(f"max_room must be an int, got {max_room!r}")
    if max_room < 2 * min_room + 1:
        raise ValueError(
            f"max_room ({max_room}) must be at least 2 * min_room + 1 ({2 * min_room + 1}): "
            "a room longer than max_room must split into two rooms of min_room and a wall"
        )
    if side - 2 < 2 * min_room + 1:
        raise ValueError(
            f"a {side}x{side} grid is too small for two rooms of min_room={min_room} cells "
            f"and a wall: the floor inside the border is {side - 2} cells"
        )


# --------------------------------------------------------------------------- rooms
def _divide(
    room: Room,
    walls: np.ndarray,
    rng: np.random.Generator,
    min_room: int,
    max_room: int,
    force: bool = False,
) -> list[Room]:
    """Recursive division of ``room``: draw the dividing walls into ``walls``, return the leaves
    in depth-first order. ``force`` splits a room that could stay whole (the whole floor: a plan
    has two rooms at least)."""
    longest = max(room.height, room.width)
    if longest < 2 * min_room + 1:
        return [room]
    if not force and longest <= max_room and rng.random() >= DEFAULT_SPLIT_PROBABILITY:
        return [room]
    if room.height == room.width:
        across_rows = bool(rng.random() < 0.5)
    else:
        across_rows = room.height > room.width  # a horizontal wall splits the taller side
    first, last = (room.top, room.bottom) if across_rows else (room.left, room.right)
    at = int(rng.integers(first + min_room, last - min_room + 1))
    if across_rows:
        walls[at, room.left : room.right + 1] = True
        parts = (
            Room(room.top, room.left, at - 1, room.right),
            Room(at + 1, room.left, room.bottom, room.right),
        )
    else:
        walls[room.top : room.bottom + 1, at] = True
        parts = (
            Room(room.top, room.left, room.bottom, at - 1),
            Room(room.top, at + 1, room.bottom, room.right),
        )
    return [leaf for part in parts for leaf in _divide(part, walls, rng, min_room, max_room)]


def _shared_walls(walls: np.ndarray, labels: np.ndarray) -> dict[tuple[int, int], list[Cell]]:
    """Per pair of neighbouring rooms (lower index first), the wall cells with one room on one
    side and the other on the opposite side, in row-major order."""
    shared: dict[tuple[int, int], list[Cell]] = {}
    rows, cols = walls.shape
    for r in range(1, rows - 1):
        for c in range(1, cols - 1):
            if not walls[r, c]:
                continue
            for a, b in (
                (labels[r, c - 1], labels[r, c + 1]),
                (labels[r - 1, c], labels[r + 1, c]),
            ):
                if a >= 0 and b >= 0 and a != b:
                    shared.setdefault((int(min(a, b)), int(max(a, b))), []).append((r, c))
    return shared


def _open_doors(
    walls: np.ndarray,
    labels: np.ndarray,
    n_rooms: int,
    rng: np.random.Generator,
    loop_fraction: float,
) -> list[tuple[tuple[int, int], tuple[Cell, ...]]]:
    """Doorways for a random spanning tree of the room neighbour graph, plus ``loop_fraction``
    of the other neighbour pairs; carved into ``walls``."""
    shared = _shared_walls(walls, labels)
    pairs = sorted(shared)
    order = rng.permutation(len(pairs))
    parent = list(range(n_rooms))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree, spare = [], []
    for index in order:
        a, b = pairs[index]
        if root(a) != root(b):
            parent[root(a)] = root(b)
            tree.append(pairs[index])
        else:
            spare.append(pairs[index])
    extra = int(round(loop_fraction * len(spare)))
    doors = []
    for pair in tree + spare[:extra]:
        cells = _door_cells(shared[pair], rng)
        for cell in cells:
            walls[cell] = False
        doors.append((pair, cells))
    return doors


def _door_cells(stretch: list[Cell], rng: np.random.Generator) -> tuple[Cell, ...]:
    """One or two neighbouring cells of a shared stretch of wall (two where it is 3+ long)."""
    width = 2 if len(stretch) >= 3 and rng.random() < 0.5 else 1
    firsts = [
        i
        for i in range(len(stretch) - width + 1)
        if width == 1
        or abs(stretch[i][0] - stretch[i + 1][0]) + abs(stretch[i][1] - stretch[i + 1][1]) == 1
    ]
    first = firsts[int(rng.integers(len(firsts)))]
    return tuple(stretch[first : first + width])


def _furnish(
    room: Room, walls: np.ndarray, labels: np.ndarray, rng: np.random.Generator, chance: float
) -> None:
    """With probability ``chance``, a block inside a room of 5 x 5 cells or more, one free cell
    from every wall, so the ring around it keeps the room (and its doorways) connected."""
    if min(room.height, room.width) < _FURNISHED_SIDE or rng.random() >= chance:
        return
    height = int(rng.integers(1, min(3, room.height - 4) + 1))
    width = int(rng.integers(1, min(3, room.width - 4) + 1))
    top = int(rng.integers(room.top + 1, room.bottom - height + 1))
    left = int(rng.integers(room.left + 1, room.right - width + 1))
    walls[top : top + height, left : left + width] = True
    labels[top : top + height, left : left + width] = -1


# --------------------------------------------------------------------------- start and goal
def _start_and_goal(
    walls: np.ndarray, labels: np.ndarray, rng: np.random.Generator, cell_size: float
) -> tuple[Cell, Cell]:
    """A random room cell for the start and, in another room, one at least half the farthest BFS
    distance away. Starts are redrawn (in a random order) until one has such a goal; should none
    have one, the first start gets the farthest cell of the other rooms."""
    room_cells = [(int(r), int(c)) for r, c in np.argwhere(labels >= 0)]
    fallback: tuple[Cell, Cell] | None = None
    for start_index in rng.permutation(len(room_cells)):
        start = room_cells[start_index]
        others = [cell for cell in room_cells if labels[cell] != labels[start]]
        distance = Maze(walls, start, others[0], cell_size).distances_from(start)
        far = [cell for cell in others if distance[cell] >= 0.5 * distance.max()]
        if far:
            return start, far[int(rng.integers(len(far)))]
        if fallback is None:
            fallback = start, max(others, key=lambda cell: distance[cell])
    assert fallback is not None  # generate_floor_plan makes at least two rooms
    return fallback
