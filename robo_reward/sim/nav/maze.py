"""Procedural mazes on an occupancy grid, their shortest paths, and their MuJoCo scenes.

A maze of ``n x n`` *maze cells* lives on a ``(2n + 1) x (2n + 1)`` occupancy grid: maze cells
sit at odd (row, column) indices, the grid cells between them are either passages or walls, and
the border is wall. Every grid cell is a square of ``cell_size`` metres, so walls are as thick as
corridors are wide. Generation is a randomised depth-first search (recursive backtracker), which
gives a perfect maze (one path between any two cells), followed by knocking out a fraction of the
remaining inner walls so the maze has cycles and more than one route to the goal.

World frame: x grows with the column, y with *decreasing* row, so a maze printed with
:meth:`Maze.to_ascii` (row 0 on top) looks like the scene seen from above with x to the right.
The grid's lower-left corner is the world origin.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from robo_reward.sim.assets import asset_path

Cell = tuple[int, int]
"""A grid cell as (row, column)."""

MAZE_SIZES: dict[str, int] = {"small": 5, "medium": 9, "large": 13}
"""Maze cells per side for each named size."""
DEFAULT_CELL_SIZE = 0.5
"""Side of a grid cell (m): corridors 0.5 m wide for a rover 0.24 m across."""
DEFAULT_LOOP_FRACTION = 0.1
"""Fraction of the inner walls left by the depth-first search that are knocked out."""
WALL_HEIGHT = 0.4
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))


@dataclass(frozen=True, eq=False)
class Maze:
    """An occupancy grid with a start and a goal cell that are connected.

    Args:
        walls: bool ``(rows, cols)``, True where the grid cell is wall.
        start, goal: (row, column) grid cells; free, inside the map, different and connected.
        cell_size: side of a grid cell in metres.
    """

    walls: np.ndarray
    start: Cell
    goal: Cell
    cell_size: float = DEFAULT_CELL_SIZE

    def __post_init__(self) -> None:
        walls = np.asarray(self.walls)
        if walls.ndim != 2 or min(walls.shape) < 1:
            raise ValueError(f"walls must be a 2-D grid, got shape {walls.shape}")
        if walls.dtype != bool:
            if not np.isin(walls, (0, 1)).all():
                raise ValueError("walls must be bool (True = wall) or 0/1")
            walls = walls.astype(bool)
        walls = walls.copy()
        walls.flags.writeable = False
        object.__setattr__(self, "walls", walls)
        if not (np.isfinite(self.cell_size) and self.cell_size > 0):
            raise ValueError(f"cell_size must be a positive number of metres, got {self.cell_size}")
        object.__setattr__(self, "cell_size", float(self.cell_size))
        object.__setattr__(self, "start", self._checked_cell("start", self.start))
        object.__setattr__(self, "goal", self._checked_cell("goal", self.goal))
        if self.start == self.goal:
            raise ValueError(f"start and goal are the same cell {self.start}")
        if not self.has_path():
            raise ValueError(
                f"no path from start {self.start} to goal {self.goal}: walls separate them; "
                "open a passage or choose cells in the same connected region"
            )

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_ascii(cls, text: str, cell_size: float = DEFAULT_CELL_SIZE) -> Maze:
        """A maze from rows of ``#`` (wall), ``.`` (free), ``S`` (start) and ``G`` (goal)."""
        rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if len({len(row) for row in rows}) != 1:
            raise ValueError("every row of an ASCII maze must have the same length")
        unknown = {ch for row in rows for ch in row} - set("#.SG")
        if unknown:
            raise ValueError(f"unknown ASCII maze characters {sorted(unknown)}; use # . S G")
        marks = {}
        for mark in "SG":
            found = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == mark]
            if len(found) != 1:
                raise ValueError(f"an ASCII maze needs exactly one {mark!r}, found {len(found)}")
            marks[mark] = found[0]
        walls = np.array([[ch == "#" for ch in row] for row in rows])
        return cls(walls, marks["S"], marks["G"], cell_size)

    def to_ascii(self) -> str:
        chars = np.where(self.walls, "#", ".")
        chars[self.start], chars[self.goal] = "S", "G"
        return "\n".join("".join(row) for row in chars)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Maze):
            return NotImplemented
        same_cells = (self.start, self.goal) == (other.start, other.goal)
        return (
            same_cells
            and self.cell_size == other.cell_size
            and np.array_equal(self.walls, other.walls)
        )

    __hash__ = None  # type: ignore[assignment]

    # ----------------------------------------------------------------- grid queries
    @property
    def shape(self) -> tuple[int, int]:
        return self.walls.shape  # type: ignore[return-value]

    @property
    def extent(self) -> tuple[float, float]:
        """World size (x, y) of the map in metres."""
        rows, cols = self.shape
        return cols * self.cell_size, rows * self.cell_size

    def in_map(self, cell: Cell) -> bool:
        rows, cols = self.shape
        return 0 <= cell[0] < rows and 0 <= cell[1] < cols

    def is_free(self, cell: Cell) -> bool:
        return self.in_map(cell) and not self.walls[cell]

    def free_cells(self) -> list[Cell]:
        """Every free grid cell, row-major."""
        return [(int(r), int(c)) for r, c in np.argwhere(~self.walls)]

    def distances_from(self, cell: Cell) -> np.ndarray:
        """BFS step counts (4-connected) from ``cell`` to every grid cell; -1 where unreachable."""
        cell = self._checked_cell("cell", cell)
        distance = np.full(self.shape, -1, dtype=np.int64)
        distance[cell] = 0
        queue = deque([cell])
        while queue:
            r, c = queue.popleft()
            for dr, dc in _STEPS:
                nxt = (r + dr, c + dc)
                if self.is_free(nxt) and distance[nxt] < 0:
                    distance[nxt] = distance[r, c] + 1
                    queue.append(nxt)
        return distance

    def shortest_path(self, start: Cell | None = None, goal: Cell | None = None) -> list[Cell]:
        """Cells of a shortest 4-connected path, both ends included (defaults: start, goal)."""
        start = self.start if start is None else self._checked_cell("start", start)
        goal = self.goal if goal is None else self._checked_cell("goal", goal)
        distance = self.distances_from(goal)
        if distance[start] < 0:
            raise ValueError(f"no path from start {start} to goal {goal}")
        path = [start]
        while path[-1] != goal:
            r, c = path[-1]
            path.append(
                next(
                    (r + dr, c + dc)
                    for dr, dc in _STEPS
                    if self.in_map((r + dr, c + dc))
                    and distance[r + dr, c + dc] == distance[r, c] - 1
                )
            )
        return path

    def has_path(self, start: Cell | None = None, goal: Cell | None = None) -> bool:
        start = self.start if start is None else self._checked_cell("start", start)
        goal = self.goal if goal is None else self._checked_cell("goal", goal)
        return bool(self.distances_from(goal)[start] >= 0)

    # ----------------------------------------------------------------- world frame
    def cell_center(self, cell: Cell) -> np.ndarray:
        """World (x, y) of a grid cell's centre."""
        rows = self.shape[0]
        return np.array([(cell[1] + 0.5) * self.cell_size, (rows - cell[0] - 0.5) * self.cell_size])

    def cell_at(self, xy: Sequence[float]) -> Cell:
        """The grid cell containing world point (x, y), clamped to the map."""
        rows, cols = self.shape
        col = int(np.clip(np.floor(xy[0] / self.cell_size), 0, cols - 1))
        row = int(np.clip(rows - 1 - np.floor(xy[1] / self.cell_size), 0, rows - 1))
        return row, col

    def _checked_cell(self, name: str, cell: Sequence[int]) -> Cell:
        if len(cell) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in cell
        ):
            raise ValueError(f"{name} must be a (row, column) pair of ints, got {cell!r}")
        cell = (int(cell[0]), int(cell[1]))
        rows, cols = self.shape
        if not self.in_map(cell):
            raise ValueError(f"{name} {cell} is outside the {rows}x{cols} map")
        if self.walls[cell]:
            raise ValueError(f"{name} {cell} is on a wall")
        return cell


def generate_maze(
    size: str | int = "medium",
    rng: np.random.Generator | int | None = None,
    cell_size: float = DEFAULT_CELL_SIZE,
    loop_fraction: float = DEFAULT_LOOP_FRACTION,
) -> Maze:
    """A random maze of ``size`` (``small``, ``medium``, ``large`` or a number of maze cells per
    side, at least 2), the same for the same seed.

    The start is a random maze cell; the goal a random maze cell at least half as far (in BFS
    steps) from the start as the farthest one, so no episode starts next to its goal.
    """
    if isinstance(size, str):
        if size not in MAZE_SIZES:
            raise ValueError(f"unknown maze size {size!r}; sizes: {', '.join(MAZE_SIZES)}")
        n = MAZE_SIZES[size]
    elif isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size >= 2:
        n = int(size)
    else:
        raise ValueError(f"size must be one of {list(MAZE_SIZES)} or an int >= 2, got {size!r}")
    if not 0.0 <= loop_fraction <= 1.0:
        raise ValueError(f"loop_fraction must be in [0, 1], got {loop_fraction}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    walls = np.ones((2 * n + 1, 2 * n + 1), dtype=bool)
    visited = np.zeros((n, n), dtype=bool)
    first = (int(rng.integers(n)), int(rng.integers(n)))
    visited[first] = True
    walls[2 * first[0] + 1, 2 * first[1] + 1] = False
    stack = [first]
    while stack:
        i, j = stack[-1]
        options = [
            (i + di, j + dj)
            for di, dj in _STEPS
            if 0 <= i + di < n and 0 <= j + dj < n and not visited[i + di, j + dj]
        ]
        if not options:
            stack.pop()
            continue
        ni, nj = options[int(rng.integers(len(options)))]
        visited[ni, nj] = True
        walls[2 * ni + 1, 2 * nj + 1] = False
        walls[i + ni + 1, j + nj + 1] = False  # the wall between the two maze cells
        stack.append((ni, nj))

    # Inner walls between two maze cells: odd/even or even/odd positions off the border.
    inner = [
        (r, c)
        for r in range(1, 2 * n)
        for c in range(1, 2 * n)
        if walls[r, c] and (r % 2) != (c % 2)
    ]
    knock_out = int(round(loop_fraction * len(inner)))
    for index in rng.choice(len(inner), size=knock_out, replace=False) if knock_out else ():
        walls[inner[index]] = False

    maze_cells = [(2 * i + 1, 2 * j + 1) for i in range(n) for j in range(n)]
    start = maze_cells[int(rng.integers(len(maze_cells)))]
    probe = Maze(walls, start, _any_other(maze_cells, start), cell_size)
    distance = probe.distances_from(start)
    far = [cell for cell in maze_cells if distance[cell] >= 0.5 * distance.max()]
    goal = far[int(rng.integers(len(far)))]
    return Maze(walls, start, goal, cell_size)


def _any_other(cells: list[Cell], cell: Cell) -> Cell:
    return next(c for c in cells if c != cell)


def wall_boxes(walls: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Cover the wall cells with few axis-aligned rectangles ``(row0, col0, row1, col1)``
    (inclusive): every horizontal run of two or more walls, then vertical runs for the walls
    left over (these may overlap the first ones, which is harmless for static geoms)."""
    walls = np.asarray(walls, dtype=bool)
    rows, cols = walls.shape
    covered = np.zeros_like(walls)
    boxes = []
    for r in range(rows):
        c = 0
        while c < cols:
            if not walls[r, c]:
                c += 1
                continue
            end = c
            while end + 1 < cols and walls[r, end + 1]:
                end += 1
            if end > c:
                boxes.append((r, c, r, end))
                covered[r, c : end + 1] = True
            c = end + 1
    for c in range(cols):
        for r in range(rows):
            if walls[r, c] and not covered[r, c]:
                top, bottom = r, r
                while top > 0 and walls[top - 1, c]:
                    top -= 1
                while bottom + 1 < rows and walls[bottom + 1, c]:
                    bottom += 1
                boxes.append((top, c, bottom, c))
                covered[top : bottom + 1, c] = True
    return boxes


def maze_to_mjcf(
    maze: Maze,
    lidar_beams: int = 36,
    lidar_range: float = 3.0,
    wall_height: float = WALL_HEIGHT,
) -> str:
    """The MJCF of ``maze`` with the rover of ``sim_assets/nav/rover.xml`` at its start.

    Adds a floor, the walls as merged boxes (:func:`wall_boxes`), a goal marker site (sites are
    invisible to rangefinders), a light, a top-down ``overview`` camera, a ``lidar_<i>``
    rangefinder per beam (beam 0 straight ahead, counter-clockwise, evenly over 360 degrees;
    ``cutoff`` = ``lidar_range``) and a ``start`` keyframe.
    """
    if not isinstance(lidar_beams, int) or isinstance(lidar_beams, bool) or lidar_beams < 1:
        raise ValueError(f"lidar_beams must be a positive int, got {lidar_beams!r}")
    if not (np.isfinite(lidar_range) and lidar_range > 0):
        raise ValueError(f"lidar_range must be a positive number of metres, got {lidar_range}")
    root = ET.parse(asset_path("nav/rover.xml")).getroot()
    root.set("model", f"maze_{maze.shape[0]}x{maze.shape[1]}")
    width, depth = maze.extent
    diagonal = float(np.hypot(width, depth))
    ET.SubElement(root, "statistic", extent=_f(diagonal), center=_f(width / 2, depth / 2, 0))
    visual = root.find("visual")
    # Clip planes are fractions of the extent: 2 cm near (the camera can face a wall closely).
    ET.SubElement(visual, "map", znear=_f(0.02 / diagonal), zfar="2")

    world = root.find("worldbody")
    ET.SubElement(
        world, "light", name="sun", directional="true", castshadow="false",
        pos=_f(width / 2, depth / 2, 5), dir="-0.3 -0.2 -1", diffuse="0.5 0.5 0.5",
    )  # fmt: skip
    ET.SubElement(
        world, "geom", name="floor", type="plane", size=_f(width / 2, depth / 2, 0.05),
        pos=_f(width / 2, depth / 2, 0), material="floor", contype="0", conaffinity="0",
    )  # fmt: skip
    rows = maze.shape[0]
    cs = maze.cell_size
    for index, (r0, c0, r1, c1) in enumerate(wall_boxes(maze.walls)):
        ET.SubElement(
            world, "geom", name=f"wall_{index}", type="box", material="wall",
            pos=_f((c0 + c1 + 1) / 2 * cs, (rows - (r0 + r1 + 1) / 2) * cs, wall_height / 2),
            size=_f((c1 - c0 + 1) / 2 * cs, (r1 - r0 + 1) / 2 * cs, wall_height / 2),
        )  # fmt: skip
    goal_xy = maze.cell_center(maze.goal)
    ET.SubElement(
        world, "site", name="goal", type="cylinder", material="goal",
        pos=_f(*goal_xy, 0.01), size=_f(0.3 * cs, 0.01),
    )  # fmt: skip
    # Top-down view of the whole maze (render_mode="rgb_array").
    height = 0.5 * max(width, depth) / np.tan(np.radians(22.5)) + 0.5
    ET.SubElement(world, "camera", name="overview", pos=_f(width / 2, depth / 2, height), fovy="45")

    rover = world.find("body[@name='rover']")
    lidar = rover.find("site[@name='lidar']")
    sensors = ET.SubElement(root, "sensor")
    for beam in range(lidar_beams):
        angle = 2 * np.pi * beam / lidar_beams
        ET.SubElement(
            rover, "site", name=f"lidar_{beam}", pos=lidar.get("pos"), size="0.005", group="3",
            zaxis=_f(np.cos(angle), np.sin(angle), 0),
        )  # fmt: skip
        ET.SubElement(
            sensors, "rangefinder", name=f"lidar_{beam}", site=f"lidar_{beam}",
            cutoff=_f(lidar_range),
        )  # fmt: skip
    start_xy = maze.cell_center(maze.start)
    keyframe = ET.SubElement(root, "keyframe")
    ET.SubElement(keyframe, "key", name="start", qpos=_f(*start_xy, 0))
    return ET.tostring(root, encoding="unicode")


def _f(*values: float) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def mark_seen(
    seen: np.ndarray,
    free_centers: np.ndarray,
    position: np.ndarray,
    walls: np.ndarray,
    cell_size: float,
    sensor_range: float,
    origin: Sequence[float] = (0.0, 0.0),
) -> None:
    """Set ``seen[i]`` for the free cells whose centre is within ``sensor_range`` of
    ``position`` with a clear straight line on the wall grid (sampled every quarter cell):
    what a lidar there could see, the nav envs' coverage. ``origin`` is the world position of
    the grid's lower-left corner (row 0 is the top row, y up)."""
    offsets = free_centers - position
    distance = np.linalg.norm(offsets, axis=1)
    candidates = np.flatnonzero(~seen & (distance <= sensor_range))
    if candidates.size == 0:
        return
    samples = int(np.ceil(sensor_range / (0.25 * cell_size))) + 1
    t = np.linspace(0.0, 1.0, samples)
    points = position + t[None, :, None] * offsets[candidates, None, :] - np.asarray(origin)
    rows, cols = walls.shape
    col = np.clip(np.floor(points[..., 0] / cell_size).astype(int), 0, cols - 1)
    row = np.clip(rows - 1 - np.floor(points[..., 1] / cell_size).astype(int), 0, rows - 1)
    visible = ~walls[row, col].any(axis=1)
    seen[candidates[visible]] = True
