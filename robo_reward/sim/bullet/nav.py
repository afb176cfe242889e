"""The rover maze of :class:`~robo_reward.sim.nav.env.MazeNavEnv` rebuilt in PyBullet, with the
same observation and action spaces, mazes, starts, goals, rewards and info, so policies and
explorers written for the MuJoCo env run unchanged on it (the cross-simulator check)."""

from __future__ import annotations

import contextlib
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pybullet as p
from gymnasium import spaces

from robo_reward.sim.assets import asset_path
from robo_reward.sim.nav.env import ODOMETRY_DIM, check_nav_arguments
from robo_reward.sim.nav.maze import (
    DEFAULT_CELL_SIZE,
    DEFAULT_LOOP_FRACTION,
    WALL_HEIGHT,
    Maze,
    generate_maze,
    mark_seen,
    wall_boxes,
)
from robo_reward.sim.nav.rooms import DEFAULT_ROOM_LOOP_FRACTION, generate_rooms
from robo_reward.sim.tasks.base import _parse_size

MAX_SHAPES_PER_BODY = 16
"""PyBullet keeps at most 16 children of a ``create*ShapeArray`` (more are silently dropped), so
walls and floor tiles are split over bodies of 16 boxes."""
FLOOR_TILE = 0.5
"""Side (m) of a square of rover.xml's checker floor (2 x 2 squares, repeated once per metre)."""
CAMERA_NEAR = 0.02
"""Near clipping plane (m) of the rover camera, as ``maze_to_mjcf`` sets it; the far plane is
twice the maze's diagonal, also as there."""
COLLISION_TOLERANCE = 1e-3
"""Chassis-wall distance (m) below which ``info["collision"]`` is set (a chassis pressed against a
wall sits about 2 mm into it)."""
WALL_FRICTION = 1.0
"""Friction coefficient of chassis-wall contacts: 1, as MuJoCo's compiled scene has it. (The
chassis in rover.xml has ``condim="1"``, but MuJoCo takes the larger condim of the two geoms and
the walls keep the default 3, so the contacts have friction 1 and a rover pressed into a wall at
an angle nearly sticks.) 1.0 reproduces that here, 0.0 would be the frictionless sliding
(measured, full speed into a wall at 0.4 rad for 12 steps: MuJoCo slides along it at
0.020 m/s and turns to 0.17 rad; Bullet at 0.019 m/s, 0.08 rad with 1.0; 0.19 m/s, 0.40 rad with
0.0). Bullet multiplies the two bodies' frictions; the chassis has 1, so this sets the contact's."""
_RAY_GROUP, _WALL_GROUP, _ROVER_GROUP = 1, 2, 4
"""Collision filter groups (``_RAY_GROUP``: Bullet's default one, which ``rayTestBatch``'s rays
belong to). Walls pair with the rover and rays only, not with each other (their boxes overlap,
and static-static pairs would cost most of a physics step); rays test walls only."""


@dataclass(frozen=True)
class RoverSpec:
    """What the Bullet rover takes from ``sim_assets/nav/rover.xml``: chassis, servos, sensor
    mounts and colours, so the two simulators' rovers cannot drift apart."""

    timestep: float
    radius: float
    half_height: float
    chassis_z: float
    mass: float
    linear_kv: float
    linear_force: float
    yaw_kv: float
    yaw_torque: float
    lidar_height: float
    camera_pos: tuple[float, float, float]
    camera_fovy: float
    rgba: dict[str, tuple[float, float, float, float]]
    visuals: tuple[tuple[str, tuple[float, ...], tuple[float, ...], tuple[float, ...], str], ...]
    """(type, size, pos, zaxis, material) of every geom of the rover body."""

    @property
    def yaw_inertia(self) -> float:
        """The chassis cylinder's moment of inertia about its axis (kg m^2)."""
        return 0.5 * self.mass * self.radius**2


@cache
def rover_spec() -> RoverSpec:
    """Read :class:`RoverSpec` from ``rover.xml`` (once)."""
    root = ET.parse(asset_path("nav/rover.xml")).getroot()

    def floats(text: str | None) -> tuple[float, ...]:
        return tuple(float(v) for v in (text or "").split())

    rgba = {m.get("name"): floats(m.get("rgba")) for m in root.iter("material") if m.get("rgba")}
    texture = root.find("asset/texture[@name='floor']")
    rgba["floor_light"] = (*floats(texture.get("rgb1")), 1.0)
    rgba["floor_dark"] = (*floats(texture.get("rgb2")), 1.0)
    rover = root.find("worldbody/body[@name='rover']")
    chassis = rover.find("geom[@name='chassis']")
    actuators = {a.get("name"): a for a in root.find("actuator")}
    camera = rover.find("camera[@name='rover']")
    return RoverSpec(
        timestep=float(root.find("option").get("timestep")),
        radius=floats(chassis.get("size"))[0],
        half_height=floats(chassis.get("size"))[1],
        chassis_z=floats(chassis.get("pos"))[2],
        mass=float(chassis.get("mass")),
        linear_kv=float(actuators["forward"].get("kv")),
        linear_force=floats(actuators["forward"].get("forcerange"))[1],
        yaw_kv=float(actuators["yaw"].get("kv")),
        yaw_torque=floats(actuators["yaw"].get("forcerange"))[1],
        lidar_height=floats(rover.find("site[@name='lidar']").get("pos"))[2],
        camera_pos=floats(camera.get("pos")),  # type: ignore[arg-type]
        camera_fovy=float(camera.get("fovy")),
        rgba=rgba,  # type: ignore[arg-type]
        visuals=tuple(
            (
                g.get("type"),
                floats(g.get("size")),
                floats(g.get("pos")),
                floats(g.get("zaxis") or "0 0 1"),
                g.get("material"),
            )
            for g in rover.findall("geom")
        ),
    )


class BulletMazeNavEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Drive a differential-drive rover from the start of a maze to its goal, in PyBullet.

    The PyBullet twin of :class:`~robo_reward.sim.nav.env.MazeNavEnv`: for the same arguments
    and reset seeds it builds the same mazes (or floor plans of rooms), starts, goals and initial
    headings, and it has the same spaces, rewards and info keys. Each env owns a private
    ``p.DIRECT`` client, so several coexist in one process; rendering uses PyBullet's CPU
    TinyRenderer (no GL). Walls are static boxes (runs of wall cells merged, as in MuJoCo); the
    floor and the goal marker are visual only and built only when something renders (cameras
    or ``render_mode``).

    The rover is the chassis of ``sim_assets/nav/rover.xml`` (a 5 kg cylinder, radius 0.12 m,
    half-height 0.05 m, centred 0.08 m above the floor), without gravity and held planar (z,
    roll and pitch reset every physics step). Each 10 ms physics step, the rover-frame velocity
    (forward, lateral, yaw rate) moves toward the command (v, 0, omega) as rover.xml's velocity
    servos move it under MuJoCo's implicit integrator: by ``g / (1 + g)`` of the error,
    ``g = kv h / m``, or by the force limit's ``F h / m`` when ``kv |error|`` exceeds it (in free
    space the step response matches MuJoCo's to float precision). The base velocity is set to
    that, and Bullet's contacts stop the rover at walls, with friction 1 as in MuJoCo's compiled
    scene (``WALL_FRICTION``).

    ## Action Space
    As ``MazeNavEnv``: ``Box(-1, 1, (2,), float32)``, forward velocity (times
    ``max_linear_speed`` m/s) and yaw rate (times ``max_angular_speed`` rad/s, counter-clockwise).
    Out-of-range actions are clipped; NaN or infinite actions are refused.

    ## Observation Space
    As ``MazeNavEnv``, a ``Dict``:
    - ``lidar`` ``float32 (lidar_beams,)`` in ``[0, lidar_range]`` m: one ``rayTestBatch`` ray per
      beam, beam ``i`` at ``2 pi i / lidar_beams`` rad counter-clockwise from the heading, from
      15 cm above the floor, walls only; no hit within range reads ``lidar_range``;
    - ``odometry`` ``float32 (6,)``: x, y, cos yaw, sin yaw, forward velocity, yaw rate (exact);
    - ``goal`` ``float32 (2,)``: the goal relative to the rover in the rover's frame, m;
    - with ``cameras=True``: ``rgb`` ``uint8 (H, W, 3)`` and ``depth`` ``float32 (H, W)`` (m,
      linearised from the z-buffer; the far plane where nothing is hit) of the forward camera
      (0.1 m ahead of the centre, 0.2 m up, looking along the heading, vertical field of view 80
      degrees), rendered by TinyRenderer: flat shading, one directional light, no shadows, a
      checker floor of geometry tiles. It looks different from MuJoCo's image on purpose.

    ## Rewards
    As ``MazeNavEnv``: 1.0 on the step that brings the rover's centre within ``goal_radius`` of
    the goal cell's centre, else 0.0.

    ## Episode End
    As ``MazeNavEnv``: terminated when the goal is reached; no time limit inside the env (wrap it
    in ``TimeLimit`` with the MuJoCo registration's limits, e.g. 600 steps for small mazes).

    ## Info
    As ``MazeNavEnv``: ``is_success``, ``position``, ``cell``, ``coverage`` (the same
    line-of-sight rule on the occupancy grid, :func:`~robo_reward.sim.nav.maze.mark_seen`),
    ``collision`` (the chassis within ``COLLISION_TOLERANCE`` = 1 mm of a wall, or into it) and
    ``timestamp_ns``.

    ## Arguments
    Those of ``MazeNavEnv``, with the same defaults and checks: ``size``, ``maze_seed``, ``maze``,
    ``loop_fraction``, ``cell_size``, ``cameras``, ``image_size``, ``lidar_beams``,
    ``lidar_range``, ``goal_radius``, ``max_linear_speed``, ``max_angular_speed``,
    ``frame_skip`` (10 ms physics steps per env step), ``render_mode`` (``"rgb_array"``: a
    top-down view), ``render_size``, ``layout``.

    ## Differences from MuJoCo
    Away from walls the dynamics and the lidar agree with MuJoCo's to float precision (the
    waypoint follower takes the same number of steps). At walls they part: the same friction
    coefficient gives other sliding (see ``WALL_FRICTION``), and a pressed chassis settles
    about 2 mm into the wall (MuJoCo 0.1 mm). Lidar beams that graze a
    wall corner may hit it in one engine and slip past in the other. The images come from
    TinyRenderer (white background instead of MuJoCo's black, flat lighting). There is no MuJoCo
    ``model``/``data``, so ``SimulatedRover.depth_points`` does not apply.

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
            size, maze_seed, maze, lidar_beams, lidar_range, goal_radius, max_linear_speed,
            max_angular_speed, frame_skip, render_mode, layout, self.metadata["render_modes"],
        )  # fmt: skip
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
        self.rover_spec = rover_spec()
        self.dt = self.rover_spec.timestep * self.frame_skip
        self._client: int | None = None
        self._beam_angles = 2 * np.pi * np.arange(self.lidar_beams) / self.lidar_beams

        if maze_seed is not None:
            maze = self._generate(maze_seed)
        self.fixed_maze = maze
        # A scene to answer before the first reset, from the same maze as MazeNavEnv's.
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

    # ----------------------------------------------------------------- scene
    def _generate(self, rng: np.random.Generator | int) -> Maze:
        """A new maze exactly as ``MazeNavEnv`` makes it from the same generator or seed."""
        generate = generate_maze if self.layout == "maze" else generate_rooms
        return generate(self.size, rng, self.cell_size, self.loop_fraction)

    @property
    def physics_client(self) -> int:
        """This env's private PyBullet client id. After :meth:`close` or unpickling, the first
        use reconnects and rebuilds the scene with the rover where it was."""
        if self._client is None:
            state = (self._pose, self._velocity, self._seen, self._time_steps)
            self._load(self.maze)
            self._pose, self._velocity, self._seen, self._time_steps = state
            self._place()
        return self._client  # type: ignore[return-value]

    def _load(self, maze: Maze) -> None:
        """Build ``maze``'s scene in a fresh simulation (a few ms): walls, floor, goal, rover."""
        if self._client is None:
            self._client = p.connect(p.DIRECT)
            if self._client < 0:
                raise RuntimeError("could not connect to a PyBullet DIRECT physics server")
        cid = self._client
        p.resetSimulation(physicsClientId=cid)
        p.setGravity(0.0, 0.0, 0.0, physicsClientId=cid)  # the rover is held planar
        p.setTimeStep(self.rover_spec.timestep, physicsClientId=cid)
        self.maze = maze
        rgba = self.rover_spec.rgba
        width, depth = maze.extent
        self._diagonal = float(np.hypot(width, depth))
        rows, cs, half_wall = maze.shape[0], maze.cell_size, WALL_HEIGHT / 2
        walls = [
            (
                ((c1 - c0 + 1) / 2 * cs, (r1 - r0 + 1) / 2 * cs, half_wall),
                ((c0 + c1 + 1) / 2 * cs, (rows - (r0 + r1 + 1) / 2) * cs, half_wall),
            )
            for r0, c0, r1, c1 in wall_boxes(maze.walls)
        ]
        self._walls = [
            self._static_boxes(chunk, rgba["wall"], collide=True) for chunk in _chunks(walls)
        ]
        for wall in self._walls:
            p.setCollisionFilterGroupMask(
                wall, -1, _WALL_GROUP, _ROVER_GROUP | _RAY_GROUP, physicsClientId=cid
            )
        self._goal_xy = maze.cell_center(maze.goal)
        if self.cameras or self.render_mode is not None:
            self._add_scenery(maze)
        self._rover = self._create_rover(maze.cell_center(maze.start))

        free = np.array(maze.free_cells())
        self._free_cells = free
        self._free_centers = np.stack([maze.cell_center(tuple(cell)) for cell in free])
        self._seen = np.zeros(len(free), dtype=bool)
        self._time_steps = 0
        self._pose = np.array([*maze.cell_center(maze.start), 0.0])
        self._velocity = np.zeros(3)  # forward, lateral (m/s), yaw rate (rad/s)
        self._place()

    def _add_scenery(self, maze: Maze) -> None:
        """The visual-only bodies: a checker floor and the goal marker. Bullet's step visits
        every body, so they are left out when nothing renders (about 15 % of a step)."""
        cid, rgba = self._client, self.rover_spec.rgba
        width, depth = maze.extent
        self._static_boxes(
            [((width / 2, depth / 2, 0.005), (width / 2, depth / 2, -0.005))], rgba["floor_dark"]
        )
        half_tile = (FLOOR_TILE / 2, FLOOR_TILE / 2, 0.0005)
        tiles = [
            (half_tile, ((i + 0.5) * FLOOR_TILE, (j + 0.5) * FLOOR_TILE, 0.0005))
            for i in range(math.ceil(width / FLOOR_TILE))
            for j in range(math.ceil(depth / FLOOR_TILE))
            if (i + j) % 2 == 0
        ]
        for chunk in _chunks(tiles):
            self._static_boxes(chunk, rgba["floor_light"])
        goal_shape = p.createVisualShape(
            p.GEOM_CYLINDER, radius=0.3 * maze.cell_size, length=0.02, rgbaColor=rgba["goal"],
            physicsClientId=cid,
        )  # fmt: skip
        goal = p.createMultiBody(
            0.0, -1, goal_shape, (*maze.cell_center(maze.goal), 0.01), physicsClientId=cid
        )
        p.setCollisionFilterGroupMask(goal, -1, 0, 0, physicsClientId=cid)

    def _static_boxes(
        self,
        boxes: Sequence[tuple[tuple[float, float, float], tuple[float, float, float]]],
        rgba: Sequence[float],
        collide: bool = False,
    ) -> int:
        """One static body of up to 16 ``(half extents, centre)`` boxes; visual only unless
        ``collide``."""
        cid = self.physics_client
        half_extents = [box[0] for box in boxes]
        centres = [box[1] for box in boxes]
        kinds = [p.GEOM_BOX] * len(boxes)
        visual = p.createVisualShapeArray(
            kinds, halfExtents=half_extents, visualFramePositions=centres,
            rgbaColors=[rgba] * len(boxes), physicsClientId=cid,
        )  # fmt: skip
        collision = -1
        if collide:
            collision = p.createCollisionShapeArray(
                kinds, halfExtents=half_extents, collisionFramePositions=centres,
                physicsClientId=cid,
            )  # fmt: skip
        body = p.createMultiBody(0.0, collision, visual, physicsClientId=cid)
        if not collide:  # out of the broadphase's pairs
            p.setCollisionFilterGroupMask(body, -1, 0, 0, physicsClientId=cid)
        if collide:
            p.changeDynamics(
                body, -1, lateralFriction=WALL_FRICTION, restitution=0.0, physicsClientId=cid
            )
        return body

    def _create_rover(self, xy: np.ndarray) -> int:
        """The chassis cylinder (collision, mass) with rover.xml's geoms as visuals."""
        cid, spec = self.physics_client, self.rover_spec
        kinds, radii, lengths, half_extents, positions, orientations, colours = (
            [], [], [], [], [], [], []
        )  # fmt: skip
        for kind, size, pos, zaxis, material in spec.visuals:
            cylinder = kind == "cylinder"
            kinds.append(p.GEOM_CYLINDER if cylinder else p.GEOM_BOX)
            radii.append(size[0] if cylinder else 0.0)
            lengths.append(2 * size[1] if cylinder else 0.0)
            half_extents.append((0.0, 0.0, 0.0) if cylinder else size)
            positions.append((pos[0], pos[1], pos[2] - spec.chassis_z))
            orientations.append(_quaternion_from_zaxis(zaxis))
            colours.append(spec.rgba[material])
        visual = p.createVisualShapeArray(
            kinds, radii=radii, lengths=lengths, halfExtents=half_extents,
            visualFramePositions=positions, visualFrameOrientations=orientations,
            rgbaColors=colours, physicsClientId=cid,
        )  # fmt: skip
        collision = p.createCollisionShape(
            p.GEOM_CYLINDER, radius=spec.radius, height=2 * spec.half_height, physicsClientId=cid
        )
        rover = p.createMultiBody(
            spec.mass, collision, visual, (*xy, spec.chassis_z), physicsClientId=cid
        )
        p.changeDynamics(
            rover, -1, lateralFriction=1.0, spinningFriction=0.0, rollingFriction=0.0,
            restitution=0.0, linearDamping=0.0, angularDamping=0.0, physicsClientId=cid,
        )  # fmt: skip
        p.setCollisionFilterGroupMask(rover, -1, _ROVER_GROUP, _WALL_GROUP, physicsClientId=cid)
        return rover

    def _place(self) -> None:
        """Put the Bullet body at the planar pose and rover-frame velocity of the env."""
        x, y, yaw = self._pose
        forward, lateral, omega = self._velocity
        c, s = math.cos(yaw), math.sin(yaw)
        half = 0.5 * yaw
        cid = self.physics_client
        p.resetBasePositionAndOrientation(
            self._rover,
            (x, y, self.rover_spec.chassis_z),
            (0.0, 0.0, math.sin(half), math.cos(half)),
            physicsClientId=cid,
        )
        p.resetBaseVelocity(
            self._rover, (c * forward - s * lateral, s * forward + c * lateral, 0.0),
            (0.0, 0.0, omega), physicsClientId=cid,
        )  # fmt: skip

    # ----------------------------------------------------------------- Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        maze = self.fixed_maze or self._generate(self.np_random)
        if maze is not self.maze or self._client is None:
            self._load(maze)
        start = maze.cell_center(maze.start)
        self._pose = np.array([*start, self.np_random.uniform(-np.pi, np.pi)])
        self._velocity = np.zeros(3)
        self._time_steps = 0
        self._place()
        self._seen[:] = False
        return self._get_obs(), self._get_info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"action must have shape (2,), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or infinity: {action}")
        action = np.clip(action, -1.0, 1.0)
        self._simulate(action[0] * self.max_linear_speed, action[1] * self.max_angular_speed)
        obs = self._get_obs()
        info = self._get_info()
        success = info["is_success"]
        return obs, float(success), success, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        width, depth = self.maze.extent
        height = 0.5 * max(width, depth) / np.tan(np.radians(22.5)) + 0.5  # maze_to_mjcf's
        rgb, _ = self._camera_image(
            (width / 2, depth / 2, height), (width / 2, depth / 2, 0.0), (0.0, 1.0, 0.0), 45.0,
            *self._render_size, near=0.1, far=height + 1.0,
        )  # fmt: skip
        return rgb

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            if p.isConnected(physicsClientId=client):
                p.disconnect(physicsClientId=client)
            self._client = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit pybullet may be gone
            self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None  # a connection does not pickle; rebuilt on first use
        return state

    # ----------------------------------------------------------------- state
    @property
    def position(self) -> np.ndarray:
        return self._pose[:2].copy()

    @property
    def yaw(self) -> float:
        """Heading (rad), unwrapped like MuJoCo's hinge angle."""
        return float(self._pose[2])

    def set_pose(self, x: float, y: float, yaw: float) -> None:
        """Place the rover (at rest) for tests and scripted starts; observations follow from
        the next step."""
        self._pose = np.array([x, y, yaw], dtype=np.float64)
        self._velocity = np.zeros(3)
        self._place()

    def lidar_ranges(self) -> np.ndarray:
        x, y, yaw = self._pose
        z = self.rover_spec.lidar_height
        angles = yaw + self._beam_angles
        ends = np.stack(
            [x + self.lidar_range * np.cos(angles), y + self.lidar_range * np.sin(angles)], axis=1
        )
        hits = p.rayTestBatch(
            [(x, y, z)] * self.lidar_beams, [(ex, ey, z) for ex, ey in ends.tolist()],
            collisionFilterMask=_WALL_GROUP, physicsClientId=self.physics_client,
        )  # fmt: skip
        fractions = np.array([hit[2] if hit[0] >= 0 else 1.0 for hit in hits])
        return (np.clip(fractions, 0.0, 1.0) * self.lidar_range).astype(np.float32)

    def odometry(self) -> np.ndarray:
        x, y, yaw = self._pose
        forward, _, omega = self._velocity
        return np.array([x, y, np.cos(yaw), np.sin(yaw), forward, omega], dtype=np.float32)

    def goal_in_rover_frame(self) -> np.ndarray:
        dx, dy = self._goal_xy - self.position
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([c * dx + s * dy, -s * dx + c * dy], dtype=np.float32)

    def in_collision(self) -> bool:
        cid = self.physics_client
        return any(
            p.getClosestPoints(self._rover, wall, COLLISION_TOLERANCE, physicsClientId=cid)
            for wall in self._walls
        )

    # ----------------------------------------------------------------- internals
    def _simulate(self, linear: float, angular: float) -> None:
        """``frame_skip`` physics steps of the servoed, planar rover under (v, omega)."""
        spec = self.rover_spec
        h = spec.timestep
        cid, rover = self.physics_client, self._rover
        linear_servo = (spec.linear_kv, spec.linear_force, h / spec.mass)
        yaw_servo = (spec.yaw_kv, spec.yaw_torque, h / spec.yaw_inertia)
        x, y, yaw = self._pose
        forward, lateral, omega = self._velocity
        z = spec.chassis_z
        for _ in range(self.frame_skip):
            forward += _servo(linear - forward, *linear_servo)
            lateral += _servo(-lateral, *linear_servo)
            omega += _servo(angular - omega, *yaw_servo)
            c, s, half = math.cos(yaw), math.sin(yaw), 0.5 * yaw
            p.resetBasePositionAndOrientation(
                rover, (x, y, z), (0.0, 0.0, math.sin(half), math.cos(half)), physicsClientId=cid
            )
            p.resetBaseVelocity(
                rover, (c * forward - s * lateral, s * forward + c * lateral, 0.0),
                (0.0, 0.0, omega), physicsClientId=cid,
            )  # fmt: skip
            p.stepSimulation(physicsClientId=cid)
            (x, y, _), (qx, qy, qz, qw) = p.getBasePositionAndOrientation(
                rover, physicsClientId=cid
            )
            (vx, vy, _), (_, _, omega) = p.getBaseVelocity(rover, physicsClientId=cid)
            turned = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz)) - yaw
            yaw += math.remainder(turned, 2.0 * math.pi)
            c, s = math.cos(yaw), math.sin(yaw)
            forward, lateral = c * vx + s * vy, -s * vx + c * vy
        self._pose = np.array([x, y, yaw])
        self._velocity = np.array([forward, lateral, omega])
        self._time_steps += self.frame_skip
        self._place()

    def _camera_image(
        self,
        eye: Sequence[float],
        target: Sequence[float],
        up: Sequence[float],
        fovy: float,
        height: int,
        width: int,
        near: float,
        far: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """TinyRenderer RGB (uint8) and linear depth (float32, m) of a pinhole camera."""
        cid = self.physics_client
        view = p.computeViewMatrix(eye, target, up, physicsClientId=cid)
        projection = p.computeProjectionMatrixFOV(
            fovy, width / height, near, far, physicsClientId=cid
        )
        _, _, rgba, zbuffer, _ = p.getCameraImage(
            width, height, view, projection, lightDirection=(0.3, 0.2, 1.0),
            lightColor=(1.0, 1.0, 1.0), shadow=0, lightAmbientCoeff=0.55,
            lightDiffuseCoeff=0.45, lightSpecularCoeff=0.0, renderer=p.ER_TINY_RENDERER,
            flags=p.ER_NO_SEGMENTATION_MASK, physicsClientId=cid,
        )  # fmt: skip
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3].copy()
        zbuffer = np.asarray(zbuffer, dtype=np.float64).reshape(height, width)
        depth = far * near / (far - (far - near) * zbuffer)
        return rgb, depth.astype(np.float32)

    def _get_obs(self) -> dict[str, np.ndarray]:
        obs = {
            "lidar": self.lidar_ranges(),
            "odometry": self.odometry(),
            "goal": self.goal_in_rover_frame(),
        }
        if self.cameras:
            x, y, yaw = self._pose
            c, s = math.cos(yaw), math.sin(yaw)
            ahead, left, up = self.rover_spec.camera_pos
            eye = (x + c * ahead - s * left, y + s * ahead + c * left, up)
            obs["rgb"], obs["depth"] = self._camera_image(
                eye, (eye[0] + c, eye[1] + s, up), (0.0, 0.0, 1.0), self.rover_spec.camera_fovy,
                self.image_height, self.image_width, near=CAMERA_NEAR, far=2 * self._diagonal,
            )  # fmt: skip
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
            "timestamp_ns": int(round(self._time_steps * self.rover_spec.timestep * 1e9)),
        }


def _servo(error: float, kv: float, limit: float, step_per_force: float) -> float:
    """Velocity change over one physics step of a MuJoCo velocity servo (gain ``kv``, force or
    torque ``limit``; ``step_per_force`` = h / mass or h / inertia) under the implicit
    integrator: ``g / (1 + g)`` of the error, ``g = kv h / m``, or the clamped force's
    ``limit h / m`` when ``kv |error|`` exceeds ``limit``."""
    if kv * abs(error) > limit:
        return math.copysign(limit * step_per_force, error)
    gain = kv * step_per_force
    return gain / (1.0 + gain) * error


def _quaternion_from_zaxis(zaxis: Sequence[float]) -> tuple[float, float, float, float]:
    """The shortest rotation (x, y, z, w) taking +z to ``zaxis`` (MJCF's ``zaxis``)."""
    axis = np.cross((0.0, 0.0, 1.0), zaxis)
    norm = float(np.linalg.norm(axis))
    cos = float(np.dot((0.0, 0.0, 1.0), zaxis) / np.linalg.norm(zaxis))
    if norm < 1e-12:
        return (0.0, 0.0, 0.0, 1.0) if cos > 0 else (1.0, 0.0, 0.0, 0.0)
    half = 0.5 * math.acos(max(-1.0, min(1.0, cos)))
    x, y, z = axis / norm * math.sin(half)
    return (float(x), float(y), float(z), math.cos(half))


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), MAX_SHAPES_PER_BODY):
        yield items[start : start + MAX_SHAPES_PER_BODY]
