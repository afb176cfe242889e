"""Maze navigation: a differential-drive rover with a 2D lidar finds the goal of a procedural
maze (``robo_reward/MazeSmall-v0``, ``MazeMedium-v0``, ``MazeLarge-v0``) or of a procedural
floor plan of rooms and doorways (``layout="rooms"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from robo_reward.sim.nav.maze import (
    DEFAULT_CELL_SIZE,
    DEFAULT_LOOP_FRACTION,
    MAZE_SIZES,
    Maze,
    generate_maze,
    mark_seen,
    maze_to_mjcf,
)
from robo_reward.sim.nav.rooms import DEFAULT_ROOM_LOOP_FRACTION, generate_rooms
from robo_reward.sim.rendering import MultiViewRenderer, Renderer
from robo_reward.sim.tasks.base import _parse_size

ODOMETRY_DIM = 6
ROVER_CAMERA = "rover"
LAYOUTS = ("maze", "rooms")
"""The procedural layouts: :func:`~robo_reward.sim.nav.maze.generate_maze` and
:func:`~robo_reward.sim.nav.rooms.generate_rooms`."""


class MazeNavEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Drive a differential-drive rover from the start of a maze to its goal.

    A new maze (walls, start and goal) is generated from the env's random generator at every
    ``reset``, unless ``maze_seed`` or ``maze`` fixes one: a corridor maze, or with
    ``layout="rooms"`` an indoor floor plan of rectangular rooms joined by doorways one or two
    cells wide (:mod:`robo_reward.sim.nav.rooms`), on a grid of the same size. The rover is a
    planar base driven by velocity servos in its own frame (``sim_assets/nav/rover.xml``):
    unicycle kinematics with a short lag, the command of a ROS ``cmd_vel``; walls stop it.

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: forward velocity (times ``max_linear_speed`` m/s; negative
    drives backwards) and yaw rate (times ``max_angular_speed`` rad/s, counter-clockwise).
    Out-of-range actions are clipped; NaN or infinite actions are refused.

    ## Observation Space
    A ``Dict``:
    - ``lidar`` ``float32 (lidar_beams,)`` in ``[0, lidar_range]`` m: beam ``i`` points at
      ``2 pi i / lidar_beams`` rad counter-clockwise from the heading, from 15 cm above the floor;
      no return within range reads ``lidar_range``;
    - ``odometry`` ``float32 (6,)``: x, y (m, world frame), cos yaw, sin yaw, forward velocity
      (m/s) and yaw rate (rad/s); exact (simulator state, no drift);
    - ``goal`` ``float32 (2,)``: the goal's position relative to the rover, in the rover's frame
      (x ahead, y to the left), m;
    - with ``cameras=True``, the rover's forward camera: ``rgb`` ``uint8 (H, W, 3)`` and
      ``depth`` ``float32 (H, W)`` in metres.

    ## Rewards
    Sparse: 1.0 on the step that brings the rover's centre within ``goal_radius`` of the goal
    cell's centre, else 0.0. Collisions are not penalised (``info["collision"]`` reports them).

    ## Episode End
    Terminated when the goal is reached; truncated by the time limit of the registration:
    MazeSmall (600 steps), MazeMedium (1500 steps), MazeLarge (2500 steps), of 0.1 s each:
    about 1.5-2.5 times what the privileged waypoint follower needs on its worst of 20 mazes.

    ## Info
    ``is_success``; ``position`` (x, y); ``cell`` (row, column of the grid); ``coverage``: the
    fraction of the maze's free grid cells whose centre has been, at some step of the episode,
    within ``lidar_range`` of the rover with a clear straight line of sight on the occupancy grid
    (what the lidar could have seen, not only where the rover drove); ``collision``: the chassis
    touches a wall; ``timestamp_ns``.

    ## Arguments
    ``size`` (``small``, ``medium``, ``large`` or maze cells per side ``n``: a ``(2n + 1)``-cell
    square grid, for both layouts), ``maze_seed`` (one fixed generated maze for every episode),
    ``maze`` (a fixed :class:`~robo_reward.sim.nav.maze.Maze`, e.g. from ``Maze.from_ascii``;
    ``layout`` is then unused), ``loop_fraction`` (``maze``: the fraction of inner walls knocked
    out, default 0.1; ``rooms``: the fraction of neighbouring rooms outside the spanning tree of
    doorways that get a doorway too, default 0.3; None: the layout's default), ``cell_size``
    (m), ``cameras``, ``image_size`` (int or (height, width)), ``lidar_beams``, ``lidar_range``
    (m), ``goal_radius`` (m), ``max_linear_speed`` (m/s), ``max_angular_speed`` (rad/s),
    ``frame_skip`` (10 ms physics steps per env step), ``render_mode`` (``"rgb_array"``: a
    top-down view), ``render_size``, ``layout`` (``"maze"``, the default: corridors one cell
    wide; ``"rooms"``: rooms and doorways; ``size`` ``n`` must then be at least 3).

    ## Version History
    - v0: initial release.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        size: str | int = "medium",
        maze_seed: int | None = None,
        maze: Maze | None = None,
        loop_fraction: float | None = None,
        cell_size: float = DEFAULT_CELL_SIZE,
        cameras: bool = False,
        image_size: int | Sequence[int] = 64,
        lidar_beams: int = 36,
        lidar_range: float = 3.0,
        goal_radius: float = 0.2,
        max_linear_speed: float = 0.5,
        max_angular_speed: float = 2.0,
        frame_skip: int = 10,
        render_mode: str | None = None,
        render_size: int | Sequence[int] = 256,
        layout: str = "maze",
    ) -> None:
        check_nav_arguments(
            size,
            maze_seed,
            maze,
            lidar_beams,
            lidar_range,
            goal_radius,
            max_linear_speed,
            max_angular_speed,
            frame_skip,
            render_mode,
            layout,
            self.metadata["render_modes"],
        )
        self.size = size
        self.layout = layout
        if loop_fraction is None:
            loop_fraction = (
                DEFAULT_LOOP_FRACTION if layout == "maze" else DEFAULT_ROOM_LOOP_FRACTION
            )
        self.loop_fraction = float(loop_fraction)
        self.cell_size = float(cell_size)
        self.cameras = bool(cameras)
        self.image_height, self.image_width = _parse_size(image_size, "image_size")
        self._render_size = _parse_size(render_size, "render_size")
        self.lidar_beams = int(lidar_beams)
        self.lidar_range = float(lidar_range)
        self.goal_radius = float(goal_radius)
        self.max_linear_speed = float(max_linear_speed)
        self.max_angular_speed = float(max_angular_speed)
        self.frame_skip = frame_skip
        self.render_mode = render_mode

        if maze_seed is not None:
            maze = self._generate(maze_seed)
        self.fixed_maze = maze
        # A model to size the spaces and to answer before the first reset.
        self._load(maze or self._generate(0))

        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        unbounded = {"low": -np.inf, "high": np.inf, "dtype": np.float32}
        obs_spaces: dict[str, spaces.Space] = {
            "lidar": spaces.Box(0.0, self.lidar_range, (self.lidar_beams,), np.float32),
            "odometry": spaces.Box(shape=(ODOMETRY_DIM,), **unbounded),
            "goal": spaces.Box(shape=(2,), **unbounded),
        }
        if self.cameras:
            image = (self.image_height, self.image_width)
            obs_spaces["rgb"] = spaces.Box(0, 255, (*image, 3), np.uint8)
            obs_spaces["depth"] = spaces.Box(0.0, np.inf, image, np.float32)
        self.observation_space = spaces.Dict(obs_spaces)

    # ----------------------------------------------------------------- model
    def _generate(self, rng: np.random.Generator | int) -> Maze:
        """A new maze of the env's layout, size, cell size and loop fraction."""
        generate = generate_maze if self.layout == "maze" else generate_rooms
        return generate(self.size, rng, self.cell_size, self.loop_fraction)

    def _load(self, maze: Maze) -> None:
        """Compile ``maze`` into a model (a few ms) and drop renderers of the previous one."""
        self._close_renderers()
        self.maze = maze
        self.model = mujoco.MjModel.from_xml_string(
            maze_to_mjcf(maze, self.lidar_beams, self.lidar_range)
        )
        largest = max(self.image_height, self.image_width, *self._render_size)
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, largest)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, largest)
        self.data = mujoco.MjData(self.model)
        self.dt = self.model.opt.timestep * self.frame_skip
        self._qpos = [self.model.joint(n).qposadr[0] for n in ("x", "y", "yaw")]
        self._qvel = [self.model.joint(n).dofadr[0] for n in ("x", "y", "yaw")]
        self._ctrl = [self.model.actuator(n).id for n in ("forward", "lateral", "yaw")]
        self._lidar = self.model.sensor("lidar_0").adr[0] + np.arange(self.lidar_beams)
        self._chassis = self.model.geom("chassis").id
        self._goal_xy = maze.cell_center(maze.goal)
        free = np.array(maze.free_cells())
        self._free_cells = free
        self._free_centers = np.stack([maze.cell_center(tuple(cell)) for cell in free])
        self._seen = np.zeros(len(free), dtype=bool)
        self._views: MultiViewRenderer | None = None
        self._viewer: Renderer | None = None

    def _close_renderers(self) -> None:
        for name in ("_views", "_viewer"):
            renderer = getattr(self, name, None)
            if renderer is not None:
                renderer.close()
            setattr(self, name, None)

    # ----------------------------------------------------------------- Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        maze = self.fixed_maze or self._generate(self.np_random)
        if maze is not self.maze:
            self._load(maze)
        mujoco.mj_resetDataKeyframe(self.model, self.data, self.model.key("start").id)
        self.data.qpos[self._qpos[2]] = self.np_random.uniform(-np.pi, np.pi)
        mujoco.mj_forward(self.model, self.data)
        self._seen[:] = False
        obs = self._get_obs()
        return obs, self._get_info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"action must have shape (2,), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or infinity: {action}")
        action = np.clip(action, -1.0, 1.0)
        self.data.ctrl[self._ctrl] = (
            action[0] * self.max_linear_speed,
            0.0,
            action[1] * self.max_angular_speed,
        )
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        obs = self._get_obs()
        info = self._get_info()
        success = info["is_success"]
        return obs, float(success), success, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        if self._viewer is None:
            self._viewer = Renderer(self.model, *self._render_size)
        self._viewer.update_scene(self.data, camera="overview")
        return self._viewer.render()

    def close(self) -> None:
        self._close_renderers()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_views"] = state["_viewer"] = None  # GL objects do not pickle; made on demand
        return state

    # ----------------------------------------------------------------- state
    @property
    def position(self) -> np.ndarray:
        return self.data.qpos[self._qpos[:2]].copy()

    @property
    def yaw(self) -> float:
        return float(self.data.qpos[self._qpos[2]])

    def set_pose(self, x: float, y: float, yaw: float) -> None:
        """Place the rover (at rest) for tests and scripted starts; observations follow from
        the next step."""
        self.data.qpos[self._qpos] = (x, y, yaw)
        self.data.qvel[self._qvel] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def lidar_ranges(self) -> np.ndarray:
        ranges = self.data.sensordata[self._lidar]
        ranges = np.where((ranges < 0) | (ranges > self.lidar_range), self.lidar_range, ranges)
        return ranges.astype(np.float32)

    def odometry(self) -> np.ndarray:
        yaw = self.yaw
        vx, vy, omega = self.data.qvel[self._qvel]
        forward = vx * np.cos(yaw) + vy * np.sin(yaw)
        x, y = self.position
        return np.array([x, y, np.cos(yaw), np.sin(yaw), forward, omega], dtype=np.float32)

    def goal_in_rover_frame(self) -> np.ndarray:
        dx, dy = self._goal_xy - self.position
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([c * dx + s * dy, -s * dx + c * dy], dtype=np.float32)

    def in_collision(self) -> bool:
        contacts = self.data.contact[: self.data.ncon]
        return bool(np.any((contacts.geom1 == self._chassis) | (contacts.geom2 == self._chassis)))

    # ----------------------------------------------------------------- internals
    def _get_obs(self) -> dict[str, np.ndarray]:
        obs = {
            "lidar": self.lidar_ranges(),
            "odometry": self.odometry(),
            "goal": self.goal_in_rover_frame(),
        }
        if self.cameras:
            if self._views is None:
                self._views = MultiViewRenderer(
                    self.model, (ROVER_CAMERA,), self.image_height, self.image_width, depth=True
                )
            rgb, depth = self._views.render(self.data)
            obs["rgb"], obs["depth"] = rgb[ROVER_CAMERA], depth[ROVER_CAMERA]
        return obs

    def _update_coverage(self) -> None:
        """Mark free cells whose centre is within lidar range and in line of sight."""
        mark_seen(
            self._seen, self._free_centers, self.position, self.maze.walls, self.cell_size,
            self.lidar_range,
        )  # fmt: skip

    def _get_info(self) -> dict[str, Any]:
        self._update_coverage()
        position = self.position
        return {
            "is_success": bool(np.linalg.norm(position - self._goal_xy) < self.goal_radius),
            "position": position,
            "cell": self.maze.cell_at(position),
            "coverage": float(self._seen.mean()),
            "collision": self.in_collision(),
            "timestamp_ns": int(round(self.data.time * 1e9)),
        }


def check_nav_arguments(
    size: str | int,
    maze_seed: int | None,
    maze: Maze | None,
    lidar_beams: int,
    lidar_range: float,
    goal_radius: float,
    max_linear_speed: float,
    max_angular_speed: float,
    frame_skip: int,
    render_mode: str | None,
    layout: str,
    render_modes: Sequence[str],
) -> None:
    """The argument checks of the maze envs (MuJoCo's and PyBullet's share them)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; layouts: {', '.join(LAYOUTS)}")
    if isinstance(size, str) and size not in MAZE_SIZES:
        raise ValueError(f"unknown maze size {size!r}; sizes: {', '.join(MAZE_SIZES)}")
    if maze is not None and not isinstance(maze, Maze):
        raise TypeError(f"maze must be a nav.maze.Maze, got {type(maze).__name__}")
    if maze is not None and maze_seed is not None:
        raise ValueError("give maze or maze_seed, not both")
    if maze_seed is not None and (
        isinstance(maze_seed, bool) or not isinstance(maze_seed, int) or maze_seed < 0
    ):
        raise ValueError(f"maze_seed must be an int >= 0 or None, got {maze_seed!r}")
    for name, value in (
        ("lidar_range", lidar_range),
        ("goal_radius", goal_radius),
        ("max_linear_speed", max_linear_speed),
        ("max_angular_speed", max_angular_speed),
    ):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not isinstance(frame_skip, int) or isinstance(frame_skip, bool) or frame_skip < 1:
        raise ValueError(f"frame_skip must be a positive int, got {frame_skip!r}")
    if not isinstance(lidar_beams, int) or isinstance(lidar_beams, bool) or lidar_beams < 1:
        raise ValueError(f"lidar_beams must be a positive int, got {lidar_beams!r}")
    if render_mode is not None and render_mode not in render_modes:
        raise ValueError(
            f"render_mode must be one of {list(render_modes)} or None, got {render_mode!r}"
        )
