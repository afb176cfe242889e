"""Gymnasium-Robotics' standard mazes (PointMaze, AntMaze) behind the interface of
:class:`~robo_reward.sim.nav.env.MazeNavEnv`, so the navigation benchmark, the topological mapper
and the frontier explorer run on them unchanged (``robo_reward/PointMazeUMaze-v0``,
``PointMazeMedium-v0``, ``PointMazeLarge-v0``, ``AntMazeUMaze-v0``).

Each adapter owns the upstream env (``PointMazeEnv``, ``AntMazeEnv`` v5), built directly with
``continuing_task=False`` (upstream's default ``True`` never terminates and moves the goal), and
adds what upstream lacks: a heading, a ray-cast lidar, odometry, a goal vector in the robot frame,
coverage and collisions. Goals, starts, physics and success stay upstream's.
Upstream's maps mark no start or goal cells, so each reset draws both among all free cells
(never the same cell, +-0.25 cell of noise): some episodes start a cell from the goal; pass
``options={"reset_cell": ..., "goal_cell": ...}`` for fixed ends.

## Action Space
:class:`PointMazeNav`: ``Box(-1, 1, (2,), float32)``, forward velocity (times
``max_linear_speed`` m/s) and yaw rate (times ``max_angular_speed`` rad/s), as ``MazeNavEnv``. The
ball has no heading, so the adapter integrates a virtual one and drives the ball's force actuators
with a proportional velocity controller toward ``forward * (cos yaw, sin yaw)``.
:class:`AntMazeNav`: the ant's own ``Box(-1, 1, (8,), float32)`` joint torques (a unicycle command
cannot drive a legged robot without a learned low-level controller). Out-of-range actions are
clipped; NaN or infinite actions are refused.

## Observation Space
As ``MazeNavEnv``: ``lidar`` ``float32 (lidar_beams,)`` in ``[0, lidar_range]`` (beam ``i`` at
``2 pi i / lidar_beams`` rad counter-clockwise from the heading, ``mujoco.mj_multiRay`` against the
maze's wall blocks only, from the robot's (x, y) at the walls' mid-height; no return reads
``lidar_range``), ``odometry`` ``float32 (6,)`` (x, y in upstream's world frame, whose origin is
the maze's centre; cos yaw, sin yaw, forward velocity, yaw rate) and ``goal`` ``float32 (2,)`` (the
goal relative to the robot, in its frame: x ahead, y to the left).

## Rewards
Sparse: 1.0 on the step the goal is reached, else 0.0. "Reached" is upstream's test: within
0.45 m of upstream's goal (``MazeNavEnv`` uses 0.2 m in 0.5 m corridors; these corridors are 1 m
wide for the point, 4 m for the ant).

## Episode End
Terminated when the goal is reached; truncated by the registration's time limit, in adapter
steps: PointMazeUMaze (160 steps), PointMazeMedium (300 steps), PointMazeLarge (450 steps) of
0.1 s, about twice the longest that the map-knowing ``WaypointFollower`` took over 20 seeded
resets at 1 m/s (80 / 139 / 213 steps; mean 34 / 72 / 103); upstream's 300 / 600 / 800 steps
are of 0.01 s (3 / 6 / 8 s) for a ball that may reach 5 m/s. AntMazeUMaze (700 steps) of
0.05 s, upstream's own limit.

## Info
``is_success``; ``position`` (x, y); ``cell`` (row, column of ``maze_map``); ``coverage``: the
fraction of the maze's free cells whose centre has been, at some step of the episode, within
``lidar_range`` of the robot with a clear straight line of sight on the maze map (as
``MazeNavEnv``); ``collision``: a robot geom touches a wall block; ``timestamp_ns``.

## Arguments
``maze_map``: a name (``umaze``, ``open``, ``medium``, ``large``) or a Gymnasium-Robotics map (a
list of rows of ``1`` wall, ``0`` free, ``"r"``/``"g"``/``"c"`` start/goal/either cells);
``lidar_beams``; ``lidar_range`` (m; default 3 cells); ``render_mode`` (``"rgb_array"``,
upstream's renderer). :class:`PointMazeNav` also: ``max_linear_speed`` (m/s, at most upstream's
5 m/s velocity clip), ``max_angular_speed`` (rad/s), ``frame_skip`` (upstream's 10 ms steps per
adapter step), ``velocity_gain``.
``reset(options=...)`` takes upstream's ``reset_cell`` and ``goal_cell`` (row, column).

## Version History
- v0: initial release (PointMaze v3 and AntMaze v5 of gymnasium-robotics 1.4).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from robo_reward.sim.nav.maze import Cell, Maze, mark_seen

__all__ = [
    "GYM_ROBOTICS_TASKS",
    "MAZE_MAPS",
    "AntMazeNav",
    "CentredMaze",
    "GymRoboticsTaskSpec",
    "PointMazeNav",
    "register_gym_robotics_mazes",
]

NAMESPACE = "robo_reward"
MAZE_MAPS: dict[str, str] = {
    "umaze": "U_MAZE",
    "open": "OPEN",
    "medium": "MEDIUM_MAZE",
    "large": "LARGE_MAZE",
}
"""Map names and the ``gymnasium_robotics.envs.maze.maps`` constant of each."""
SUCCESS_RADIUS = 0.45
"""Upstream's goal radius (m), hard-coded in ``MazeEnv.compute_terminated``."""
WALL_GROUP = 1
"""Geom group the adapters give the wall blocks, so rays see walls only (upstream puts every
geom in group 0; groups 0-2 are all drawn by default, so rendering is unchanged)."""
ODOMETRY_DIM = 6


@dataclass(frozen=True)
class GymRoboticsTaskSpec:
    """A Gymnasium-Robotics maze task: short name, our id, time limit (adapter steps), adapter
    class, map name and the upstream id it wraps (with upstream's own time limit)."""

    name: str
    env_id: str
    max_episode_steps: int
    env_class: str
    maze_map: str
    upstream_id: str
    upstream_max_episode_steps: int

    @property
    def entry_point(self) -> str:
        return f"{__name__}:{self.env_class}"


GYM_ROBOTICS_TASKS: dict[str, GymRoboticsTaskSpec] = {
    spec.name: spec
    for spec in (
        GymRoboticsTaskSpec(
            "pointmaze_umaze", f"{NAMESPACE}/PointMazeUMaze-v0", 160,
            "PointMazeNav", "umaze", "PointMaze_UMaze-v3", 300,
        ),
        GymRoboticsTaskSpec(
            "pointmaze_medium", f"{NAMESPACE}/PointMazeMedium-v0", 300,
            "PointMazeNav", "medium", "PointMaze_Medium-v3", 600,
        ),
        GymRoboticsTaskSpec(
            "pointmaze_large", f"{NAMESPACE}/PointMazeLarge-v0", 450,
            "PointMazeNav", "large", "PointMaze_Large-v3", 800,
        ),
        GymRoboticsTaskSpec(
            "antmaze_umaze", f"{NAMESPACE}/AntMazeUMaze-v0", 700,
            "AntMazeNav", "umaze", "AntMaze_UMaze-v5", 700,
        ),
    )
}  # fmt: skip


def register_gym_robotics_mazes() -> None:
    """Register the adapters with Gymnasium (idempotent; imports no gymnasium_robotics)."""
    for spec in GYM_ROBOTICS_TASKS.values():
        if spec.env_id not in gym.registry:
            gym.register(
                id=spec.env_id,
                entry_point=spec.entry_point,
                kwargs={"maze_map": spec.maze_map},
                max_episode_steps=spec.max_episode_steps,
            )


@dataclass(frozen=True, eq=False)
class CentredMaze(Maze):
    """A :class:`~robo_reward.sim.nav.maze.Maze` in Gymnasium-Robotics' world frame.

    Same grid convention (row 0 on top, y up), but upstream centres the map on the world origin,
    so the grid's lower-left corner sits at ``origin`` = (-x_map_center, -y_map_center) instead of
    (0, 0). ``cell_center`` and ``cell_at`` include the shift, so code written for our mazes
    (the ``WaypointFollower``) works on upstream positions.
    """

    origin: tuple[float, float] = (0.0, 0.0)

    def cell_center(self, cell: Cell) -> np.ndarray:
        return super().cell_center(cell) + np.asarray(self.origin)

    def cell_at(self, xy: Sequence[float]) -> Cell:
        return super().cell_at(np.asarray(xy, dtype=np.float64) - np.asarray(self.origin))


def _resolve_map(maze_map: str | Sequence[Sequence[int | str]]) -> list[list[int | str]]:
    from gymnasium_robotics.envs.maze import maps

    if isinstance(maze_map, str):
        if maze_map not in MAZE_MAPS:
            raise ValueError(f"unknown maze {maze_map!r}; mazes: {', '.join(MAZE_MAPS)}")
        return getattr(maps, MAZE_MAPS[maze_map])
    rows = [list(row) for row in maze_map]
    if not rows or len({len(row) for row in rows}) != 1:
        raise ValueError("maze_map must be a non-empty list of rows of equal length")
    if any(v not in (0, 1, "r", "g", "c") for row in rows for v in row):
        raise ValueError('maze_map cells must be 1 (wall), 0, "r", "g" or "c"')
    return rows


def _import_upstream() -> None:
    try:
        import gymnasium_robotics  # noqa: F401
    except ImportError as error:  # an optional dependency (the ``bench`` extra)
        raise ImportError(
            "the Gymnasium-Robotics mazes need gymnasium-robotics: pip install 'robo_reward[bench]'"
        ) from error


class _GymRoboticsMazeNav(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """What both adapters share: lidar, coverage, collisions, the maze, goal and info."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    _inner: Any

    def _setup(self, maze_map: list[list[int | str]], lidar_beams: int, lidar_range: float) -> None:
        """Call once ``self._inner`` exists: spaces of the observations, walls, coverage."""
        if not isinstance(lidar_beams, int) or isinstance(lidar_beams, bool) or lidar_beams < 1:
            raise ValueError(f"lidar_beams must be a positive int, got {lidar_beams!r}")
        if not (np.isfinite(lidar_range) and lidar_range > 0):
            raise ValueError(f"lidar_range must be a positive number, got {lidar_range!r}")
        # Upstream writes its generated MJCF to the temp directory and leaves it there.
        with contextlib.suppress(OSError, AttributeError):
            os.remove(self._inner.tmp_xml_file_path)
        self.lidar_beams = lidar_beams
        self.lidar_range = float(lidar_range)
        self.maze_map = maze_map
        layout = self._inner.maze
        self.cell_size = float(layout.maze_size_scaling)
        self._origin = (-float(layout.x_map_center), -float(layout.y_map_center))
        self._walls = np.array([[v == 1 for v in row] for row in maze_map], dtype=bool)
        free = np.argwhere(~self._walls)
        self._free_centers = np.stack([layout.cell_rowcol_to_xy(cell) for cell in free])
        self._seen = np.zeros(len(free), dtype=bool)

        model = self.model
        names = [model.geom(i).name for i in range(model.ngeom)]
        wall = np.array([name.startswith("block_") for name in names])
        if np.any(model.geom_group[~wall] == WALL_GROUP):
            raise RuntimeError(f"a non-wall geom is in geom group {WALL_GROUP}, kept for walls")
        model.geom_group[wall] = WALL_GROUP
        self._is_wall = wall
        self._is_robot = model.geom_bodyid != 0
        self._ray_groups = np.zeros(6, np.uint8)
        self._ray_groups[WALL_GROUP] = 1
        self._ray_height = layout.maze_height * layout.maze_size_scaling / 2
        self._beam_angles = 2 * np.pi * np.arange(lidar_beams) / lidar_beams
        self._ray_id = np.zeros(lidar_beams, np.int32)
        self._ray_dist = np.zeros(lidar_beams, np.float64)
        self._maze: CentredMaze | None = None

        unbounded = {"low": -np.inf, "high": np.inf, "dtype": np.float32}
        self.observation_space = spaces.Dict(
            {
                "lidar": spaces.Box(0.0, self.lidar_range, (lidar_beams,), np.float32),
                "odometry": spaces.Box(shape=(ODOMETRY_DIM,), **unbounded),
                "goal": spaces.Box(shape=(2,), **unbounded),
            }
        )

    # ----------------------------------------------------------------- upstream state
    @property
    def model(self) -> mujoco.MjModel:
        return self._inner.model

    @property
    def data(self) -> mujoco.MjData:
        return self._inner.data

    @property
    def upstream(self) -> gym.Env:
        """The wrapped Gymnasium-Robotics env."""
        return self._inner

    @property
    def goal(self) -> np.ndarray:
        """Upstream's goal (x, y), world frame."""
        return np.array(self._inner.goal, dtype=np.float64)

    @property
    def maze(self) -> CentredMaze:
        """The layout as a :class:`CentredMaze`: upstream's map, its start (the robot's cell at
        reset) and goal cell, ``cell_size`` = upstream's ``maze_size_scaling``."""
        if self._maze is None:
            raise RuntimeError(
                "call reset() before reading the maze: start and goal are drawn there"
            )
        return self._maze

    @property
    def position(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def yaw(self) -> float:
        raise NotImplementedError

    def odometry(self) -> np.ndarray:
        raise NotImplementedError

    # ----------------------------------------------------------------- sensors
    def lidar_ranges(self) -> np.ndarray:
        """Ray-cast ranges against the wall blocks from the robot at the walls' mid-height."""
        x, y = self.position
        angles = self.yaw + self._beam_angles
        vec = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
        mujoco.mj_multiRay(
            self.model, self.data, np.array([x, y, self._ray_height]), vec.ravel(),
            self._ray_groups, 1, -1, self._ray_id, self._ray_dist, None,
            self.lidar_beams, self.lidar_range,
        )  # fmt: skip
        dist = self._ray_dist
        ranges = np.where((dist < 0) | (dist > self.lidar_range), self.lidar_range, dist)
        return ranges.astype(np.float32)

    def goal_in_rover_frame(self) -> np.ndarray:
        dx, dy = self.goal - self.position
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([c * dx + s * dy, -s * dx + c * dy], dtype=np.float32)

    def in_collision(self) -> bool:
        """A robot geom touches a wall block (floor contacts do not count)."""
        contacts = self.data.contact[: self.data.ncon]
        g1, g2 = contacts.geom1, contacts.geom2
        wall, robot = self._is_wall, self._is_robot
        return bool(np.any((wall[g1] & robot[g2]) | (wall[g2] & robot[g1])))

    # ----------------------------------------------------------------- episode
    def _cell_of(self, xy: np.ndarray) -> Cell:
        row, col = self._inner.maze.cell_xy_to_rowcol(xy)
        return int(row), int(col)

    def _checked_options(self, options: dict[str, Any] | None) -> dict[str, Any] | None:
        """Upstream's ``reset_cell``/``goal_cell`` checked (upstream only asserts). With a
        ``reset_cell`` alone, the goal is drawn from upstream's goal cells other than it
        (upstream's default reset also never starts in the goal's cell)."""
        if options is None:
            return None
        unknown = set(options) - {"reset_cell", "goal_cell"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; use reset_cell, goal_cell")
        rows, cols = self._walls.shape
        checked: dict[str, Any] = {}
        for key in ("reset_cell", "goal_cell"):
            cell = options.get(key)
            if cell is None:
                continue
            cell = np.asarray(cell)
            if cell.shape != (2,) or not np.issubdtype(cell.dtype, np.integer):
                raise ValueError(
                    f"{key} must be a (row, column) pair of ints, got {options[key]!r}"
                )
            r, c = int(cell[0]), int(cell[1])
            if not (0 <= r < rows and 0 <= c < cols):
                raise ValueError(f"{key} {(r, c)} is outside the {rows}x{cols} maze")
            if self._walls[r, c]:
                raise ValueError(f"{key} {(r, c)} is a wall")
            checked[key] = np.array([r, c])
        if "reset_cell" in checked and "goal_cell" in checked:
            if np.array_equal(checked["reset_cell"], checked["goal_cell"]):
                raise ValueError("reset_cell and goal_cell are the same cell")
        elif "reset_cell" in checked:
            goals = [self._cell_of(xy) for xy in self._inner.maze.unique_goal_locations]
            goals = [cell for cell in goals if cell != tuple(checked["reset_cell"])]
            if not goals:
                raise ValueError(f"no goal cell other than reset_cell {checked['reset_cell']}")
            checked["goal_cell"] = np.array(goals[int(self.np_random.integers(len(goals)))])
        return checked

    def _start_episode(self) -> None:
        """After upstream's reset: the maze with this episode's start and goal, coverage."""
        self._maze = CentredMaze(
            self._walls, self._cell_of(self.position), self._cell_of(self.goal),
            self.cell_size, origin=self._origin,
        )  # fmt: skip
        self._seen[:] = False

    def _update_coverage(self) -> None:
        """Mark free cells whose centre is within lidar range and in line of sight."""
        mark_seen(
            self._seen, self._free_centers, self.position, self._walls, self.cell_size,
            self.lidar_range, self._origin,
        )  # fmt: skip

    def _get_obs(self) -> dict[str, np.ndarray]:
        return {
            "lidar": self.lidar_ranges(),
            "odometry": self.odometry(),
            "goal": self.goal_in_rover_frame(),
        }

    def _get_info(self) -> dict[str, Any]:
        self._update_coverage()
        position = self.position
        return {
            "is_success": bool(np.linalg.norm(position - self.goal) <= SUCCESS_RADIUS),
            "position": position,
            "cell": self.maze.cell_at(position),
            "coverage": float(self._seen.mean()),
            "collision": self.in_collision(),
            "timestamp_ns": int(round(self.data.time * 1e9)),
        }

    @staticmethod
    def _checked_action(action: np.ndarray, dim: int) -> np.ndarray:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (dim,):
            raise ValueError(f"action must have shape ({dim},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or infinity: {action}")
        return np.clip(action, -1.0, 1.0)

    def render(self) -> np.ndarray | None:
        return None if self.render_mode is None else self._inner.render()

    def close(self) -> None:
        if getattr(self, "_inner", None) is not None:
            self._inner.close()


class PointMazeNav(_GymRoboticsMazeNav):
    """Gymnasium-Robotics' PointMaze (v3) driven by a unicycle command (see the module docstring).

    The ball (4.19 kg, 0.1 m radius, 100 N per unit of force action, 1 N s/m damping, no
    gravity) has no heading; the adapter keeps a virtual one: in each of ``frame_skip`` upstream
    steps of 10 ms, yaw += yaw rate * 10 ms, and the force action is
    ``clip(velocity_gain * (forward * (cos yaw, sin yaw) - ball velocity), -1, 1)``. The default
    gain 2 closes ~48 % of the velocity error per 10 ms step (stable below ~8.4; 4.2 would be
    dead-beat) and holds 1 m/s against the damping to within 0.5 %. The initial heading is drawn
    uniformly at reset, as ``MazeNavEnv`` does. An adapter step of 0.1 s is ``frame_skip``
    upstream steps, cut short on the upstream step that reaches the goal.

    Measured (reset seeds 0-4, registration time limits): the ``FrontierExplorer`` with its
    defaults reaches the goal in 5/5 UMaze, 5/5 Medium and 5/5 Large resets, without a
    collision; ~1,400-1,700 random-action steps/s on one shared core.
    """

    def __init__(
        self,
        maze_map: str | Sequence[Sequence[int | str]] = "umaze",
        lidar_beams: int = 36,
        lidar_range: float = 3.0,
        max_linear_speed: float = 1.0,
        max_angular_speed: float = 2.0,
        frame_skip: int = 10,
        velocity_gain: float = 2.0,
        render_mode: str | None = None,
    ) -> None:
        for name, value in (
            ("max_linear_speed", max_linear_speed),
            ("max_angular_speed", max_angular_speed),
            ("velocity_gain", velocity_gain),
        ):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if max_linear_speed > 5.0:
            raise ValueError(
                f"max_linear_speed must be <= 5 m/s (upstream clips the ball's velocity there), "
                f"got {max_linear_speed}"
            )
        if not isinstance(frame_skip, int) or isinstance(frame_skip, bool) or frame_skip < 1:
            raise ValueError(f"frame_skip must be a positive int, got {frame_skip!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        _import_upstream()
        from gymnasium_robotics.envs.maze.point_maze import PointMazeEnv

        rows = _resolve_map(maze_map)
        self._inner = PointMazeEnv(
            maze_map=rows, render_mode=render_mode, continuing_task=False, reset_target=False
        )
        self.render_mode = render_mode
        self.max_linear_speed = float(max_linear_speed)
        self.max_angular_speed = float(max_angular_speed)
        self.frame_skip = frame_skip
        self.velocity_gain = float(velocity_gain)
        self._setup(rows, lidar_beams, lidar_range)
        self._physics_dt = float(self._inner.point_env.dt)
        self.dt = self._physics_dt * frame_skip
        self.metadata = {**self.metadata, "render_fps": int(round(1 / self.dt))}
        self._heading = 0.0
        self._yaw_rate = 0.0
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    @property
    def position(self) -> np.ndarray:
        return self.data.qpos[:2].copy()

    @property
    def yaw(self) -> float:
        """The virtual heading (rad)."""
        return self._heading

    def set_pose(self, x: float, y: float, yaw: float) -> None:
        """Place the ball (at rest) and set the heading; for tests and scripted starts."""
        self.data.qpos[:2] = (x, y)
        self.data.qvel[:2] = 0.0
        self._heading = float(np.angle(np.exp(1j * yaw)))
        self._yaw_rate = 0.0
        mujoco.mj_forward(self.model, self.data)

    def odometry(self) -> np.ndarray:
        yaw = self._heading
        vx, vy = self.data.qvel[:2]
        forward = vx * np.cos(yaw) + vy * np.sin(yaw)
        x, y = self.position
        return np.array([x, y, np.cos(yaw), np.sin(yaw), forward, self._yaw_rate], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        options = self._checked_options(options)
        self._inner.reset(seed=seed, options=options)
        self._heading = float(self.np_random.uniform(-np.pi, np.pi))
        self._yaw_rate = 0.0
        self._start_episode()
        return self._get_obs(), self._get_info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = self._checked_action(action, 2)
        speed = action[0] * self.max_linear_speed
        self._yaw_rate = float(action[1] * self.max_angular_speed)
        for _ in range(self.frame_skip):
            self._heading = float(
                np.angle(np.exp(1j * (self._heading + self._yaw_rate * self._physics_dt)))
            )
            desired = speed * np.array([np.cos(self._heading), np.sin(self._heading)])
            force = np.clip(self.velocity_gain * (desired - self.data.qvel[:2]), -1.0, 1.0)
            if self._inner.step(force)[2]:  # upstream terminated: the goal is reached
                break
        obs = self._get_obs()
        info = self._get_info()
        success = info["is_success"]
        return obs, float(success), success, False, info


class AntMazeNav(_GymRoboticsMazeNav):
    """Gymnasium-Robotics' AntMaze (v5) with ``MazeNavEnv``'s observations.

    The action stays the ant's 8 joint torques: a quadruped does not follow a unicycle command
    without a learned low-level (walking) controller, which this adapter does not provide. The
    heading is the torso's yaw (from the quaternion ``qpos[3:7]``), forward velocity the torso's
    world velocity along it, yaw rate the world z of the torso's angular velocity. The lidar
    casts from the torso's (x, y) at the walls' mid-height (1 m) and sees wall blocks only, not
    the ant's legs. Start pose, noise-free joints and the +x initial heading are upstream's.
    Cells are 4 m (``maze_size_scaling``), so the default lidar range is 12 m (3 cells).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        maze_map: str | Sequence[Sequence[int | str]] = "umaze",
        lidar_beams: int = 36,
        lidar_range: float = 12.0,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        _import_upstream()
        from gymnasium_robotics.envs.maze.ant_maze_v5 import AntMazeEnv

        rows = _resolve_map(maze_map)
        self._inner = AntMazeEnv(
            maze_map=rows, render_mode=render_mode, continuing_task=False, reset_target=False
        )
        self.render_mode = render_mode
        self._setup(rows, lidar_beams, lidar_range)
        self._torso = self.model.body("torso").id
        self.dt = float(self._inner.ant_env.dt)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(8,), dtype=np.float32)

    @property
    def position(self) -> np.ndarray:
        return self.data.qpos[:2].copy()

    @property
    def yaw(self) -> float:
        w, x, y, z = self.data.qpos[3:7]
        return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))

    def set_pose(self, x: float, y: float, yaw: float) -> None:
        """Place the torso (upright, joints and velocities unchanged but for the root at rest)."""
        self.data.qpos[:2] = (x, y)
        self.data.qpos[3:7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        self.data.qvel[:6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def odometry(self) -> np.ndarray:
        yaw = self.yaw
        vx, vy = self.data.qvel[:2]
        forward = vx * np.cos(yaw) + vy * np.sin(yaw)
        # A free joint's angular velocity is in the body frame; rotate it to the world's.
        omega = self.data.xmat[self._torso].reshape(3, 3) @ self.data.qvel[3:6]
        x, y = self.position
        return np.array([x, y, np.cos(yaw), np.sin(yaw), forward, omega[2]], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self._inner.reset(seed=seed, options=self._checked_options(options))
        self._start_episode()
        return self._get_obs(), self._get_info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self._inner.step(self._checked_action(action, 8).astype(np.float32))
        obs = self._get_obs()
        info = self._get_info()
        success = info["is_success"]
        return obs, float(success), success, False, info
