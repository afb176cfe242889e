"""Simulated robots behind a real robot's interface: commands in, time-stamped readings out.

The ROS ``sim_bridge`` node (``ros2_ws/src/robo_reward_ros``) is a thin adapter around these
classes: it turns ``cmd_vel`` (or an end-effector twist) into :meth:`command` calls, calls
:meth:`step` from a timer and publishes the reading. What the robot does between commands, when
a command goes stale and how time advances is decided here, so it is tested without a transport.

- **Clock.** Each robot keeps its own simulation clock in nanoseconds, starting at ``start_ns``
  (the bridge passes the wall time at start-up, so in real time the stamps track the wall clock)
  and advancing by the env's ``dt`` per step and per reset. Episode resets do not rewind it: ROS
  time never jumps back, and no two readings share a stamp.
- **Command watchdog.** A command older than ``cmd_timeout`` seconds of simulation time is stale
  and the robot stops (zero velocity), as a real base's ``cmd_vel`` watchdog does.
- **Scripted play.** With ``play_expert`` the robot drives itself: the rover with the map-knowing
  :class:`~robo_reward.sim.nav.follower.WaypointFollower`, the arm with its task's scripted expert
  (:mod:`robo_reward.sim.experts`), to play demonstrations through the robot's topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robo_reward.sim.env_config import EnvConfig
from robo_reward.sim.experts import EXPERTS, ScriptedExpert
from robo_reward.sim.nav.env import ROVER_CAMERA, MazeNavEnv
from robo_reward.sim.nav.follower import WaypointFollower
from robo_reward.sim.nav.registration import NAV_TASKS, make_nav_env
from robo_reward.sim.registration import TASKS, task_spec
from robo_reward.sim.tasks.base import TabletopEnv

ROBOT_KINDS = ("rover", "arm")
STATE_KEYS = ("state", "object", "achieved_goal", "desired_goal")
"""The tabletop env's non-image observation keys (:attr:`ArmReading.state`)."""


def robot_kind(task: str) -> str:
    """``"rover"`` for a maze/rooms navigation task, ``"arm"`` for a tabletop task."""
    if task in NAV_TASKS:
        return "rover"
    if task in TASKS:
        return "arm"
    known = ", ".join([*NAV_TASKS, *TASKS])
    raise ValueError(f"unknown task {task!r} for a simulated robot; tasks: {known}")


@dataclass(frozen=True)
class RoverReading:
    """What the rover's sensors report after a step (or a reset)."""

    stamp_ns: int
    """Simulation time of the reading (ns)."""
    episode: int
    frame: int
    """Steps since the episode's reset."""
    odometry: np.ndarray
    """x, y (m, world frame), cos yaw, sin yaw, forward velocity (m/s), yaw rate (rad/s)."""
    lidar: np.ndarray
    """Beam ``i`` at ``2 pi i / N`` rad counter-clockwise from the heading; no return reads
    ``lidar_range`` (the env's convention; ROS messages use +inf, REP 117)."""
    goal_xy: np.ndarray
    """The goal's position in the world frame (m)."""
    success: bool
    collision: bool
    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    episode_done: bool = False
    """A scripted episode ended (goal reached or the task's time limit); the rover stops."""


@dataclass(frozen=True)
class ArmReading:
    """What the arm's cameras and state report after a step (or a reset)."""

    stamp_ns: int
    episode: int
    frame: int
    images: dict[str, np.ndarray]
    """View name -> uint8 HxWx3."""
    grip_pos: np.ndarray
    """The grip point (between the fingertips), world frame, m."""
    finger_opening: float
    success: bool
    privileged_progress: float
    """The task's hand-written progress in [0, 1] from simulator state (reference only)."""
    episode_done: bool = False
    """A scripted episode ended (success or its time limit); the robot holds still."""
    extra: dict[str, Any] = field(default_factory=dict)
    state: dict[str, np.ndarray] = field(default_factory=dict)
    """The env's non-image observation keys, ``float32`` vectors: ``state`` (grip position,
    grip velocity, finger positions and velocities), ``object`` (tasks with objects),
    ``achieved_goal``, ``desired_goal``; what a state-based policy (``robo-reward train``'s
    default ``obs_keys``) reads. In simulation ``object`` and the goals are privileged: read
    from the simulator, where a real robot would need perception for them."""


class _SimClock:
    """Simulation time that only moves forward, and the command watchdog that reads it."""

    def __init__(self, dt: float, start_ns: int, cmd_timeout: float) -> None:
        if isinstance(start_ns, bool) or not isinstance(start_ns, int) or start_ns < 0:
            raise ValueError(f"start_ns must be an int >= 0, got {start_ns!r}")
        if not (np.isfinite(cmd_timeout) and cmd_timeout > 0):
            raise ValueError(f"cmd_timeout must be a positive number of seconds, got {cmd_timeout}")
        self.dt_ns = int(round(dt * 1e9))
        self.now_ns = start_ns
        self.cmd_timeout_ns = int(round(cmd_timeout * 1e9))
        self._command: np.ndarray | None = None
        self._command_ns = 0

    def tick(self) -> None:
        self.now_ns += self.dt_ns

    def set_command(self, action: np.ndarray) -> None:
        self._command = action
        self._command_ns = self.now_ns

    def clear_command(self) -> None:
        self._command = None

    def command(self) -> np.ndarray | None:
        """The latest command, or None when there is none or it is older than the timeout."""
        if self._command is None or self.now_ns - self._command_ns > self.cmd_timeout_ns:
            return None
        return self._command


def _check_seed(name: str, value: int | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def _finite_action(action: Any, dim: int) -> np.ndarray:
    action = np.asarray(action, dtype=np.float64)
    if action.shape != (dim,):
        raise ValueError(f"command must have shape ({dim},), got {action.shape}")
    if not np.all(np.isfinite(action)):
        raise ValueError(f"command contains NaN or infinity: {action}")
    return np.clip(action, -1.0, 1.0)


class SimulatedRover:
    """The maze rover (:class:`~robo_reward.sim.nav.env.MazeNavEnv`) as a robot that runs forever.

    No time limit and no termination: reaching the goal sets ``success`` on the readings and the
    rover keeps taking commands until :meth:`reset` (a new episode of the same maze, or a new maze
    when ``maze_seed`` is None).

    Args:
        task: a navigation task of ``NAV_TASKS`` (``maze_small``, ``rooms_medium``, ...).
        maze_seed: one fixed maze for every episode; None: a new one per episode.
        seed: episode ``k`` resets the env with seed ``seed + k`` (start heading, maze if not
            fixed).
        cameras: render the forward camera (RGB and depth) into the readings.
        image_size: camera image size in pixels (square).
        cmd_timeout: seconds of simulation time after which a command is stale (zero velocity).
        play_expert: drive with the map-knowing waypoint follower instead of commands.
        start_ns: simulation time of the first reading.
    """

    kind = "rover"

    def __init__(
        self,
        task: str = "maze_small",
        maze_seed: int | None = 0,
        seed: int = 0,
        cameras: bool = False,
        image_size: int = 64,
        cmd_timeout: float = 0.5,
        play_expert: bool = False,
        start_ns: int = 0,
    ) -> None:
        if task not in NAV_TASKS:
            raise ValueError(f"{task!r} is not a rover task; rover tasks: {', '.join(NAV_TASKS)}")
        _check_seed("maze_seed", maze_seed, allow_none=True)
        _check_seed("seed", seed)
        env = make_nav_env(task, maze_seed=maze_seed, cameras=cameras, image_size=image_size)
        self.env: MazeNavEnv = env.unwrapped  # no time limit: a robot does not truncate
        self._wrapper = env
        self.episode_limit = NAV_TASKS[task].max_episode_steps
        self.task, self.seed, self.play_expert = task, seed, bool(play_expert)
        self.clock = _SimClock(self.env.dt, start_ns, cmd_timeout)
        self.episode = -1
        self._follower: WaypointFollower | None = None
        self._reading = self.reset()

    @property
    def dt(self) -> float:
        return self.env.dt

    @property
    def lidar_range(self) -> float:
        return self.env.lidar_range

    @property
    def lidar_beams(self) -> int:
        return self.env.lidar_beams

    @property
    def max_linear_speed(self) -> float:
        return self.env.max_linear_speed

    @property
    def max_angular_speed(self) -> float:
        return self.env.max_angular_speed

    @property
    def last_reading(self) -> RoverReading:
        return self._reading

    def depth_points(self, depth: np.ndarray) -> np.ndarray:
        """The forward camera's depth image (a reading's ``depth``) as ``(N, 3)`` points in the
        rover's base frame (x ahead, y left, z up, m; the floor at z = 0): what a depth camera's
        point cloud holds once transformed to ``base_link``. Pixels that see nothing (the far
        clipping plane: sky over the walls) are dropped."""
        from robo_reward.topo.pointcloud import CameraIntrinsics, CameraMount, depth_to_points

        model = self.env.model
        height, width = np.shape(depth)
        intrinsics = CameraIntrinsics.from_mujoco(model, ROVER_CAMERA, width, height)
        far = float(model.vis.map.zfar * model.stat.extent)
        return depth_to_points(
            depth, intrinsics, CameraMount.from_mujoco(model, ROVER_CAMERA), 0.999 * far
        )

    def command(self, action: Any) -> None:
        """Take a normalised (forward, yaw rate) command in [-1, 1]^2 (clipped); NaN refused."""
        self.clock.set_command(_finite_action(action, 2))

    def reset(self, seed: int | None = None) -> RoverReading:
        """Start the next episode (seed ``seed``, default ``self.seed + episode``); drops the
        command. A reset takes one step of simulation time, so no two readings share a stamp."""
        self.episode += 1
        if self.episode > 0:
            self.clock.tick()
        _check_seed("seed", seed, allow_none=True)
        obs, info = self.env.reset(seed=self.seed + self.episode if seed is None else seed)
        self.clock.clear_command()
        self.frame = 0
        self._done = False
        if self.play_expert:
            self._follower = WaypointFollower(self.env)
        self._reading = self._read(obs, info)
        return self._reading

    def step(self) -> RoverReading:
        """Advance one env step (``dt`` s) under the current command (zero if stale). After a
        scripted episode ended the rover stands still."""
        if self._follower is not None and not self._done:
            action = self._follower.act()
        else:
            action = self.clock.command()
            if action is None or self._done:
                action = np.zeros(2)
        obs, _, _, _, info = self.env.step(action)
        self.clock.tick()
        self.frame += 1
        if self._follower is not None:
            ended = bool(info["is_success"]) or self.frame >= self.episode_limit
            self._done = self._done or ended
        self._reading = self._read(obs, info)
        return self._reading

    def _read(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> RoverReading:
        return RoverReading(
            stamp_ns=self.clock.now_ns,
            episode=self.episode,
            frame=self.frame,
            odometry=obs["odometry"],
            lidar=obs["lidar"],
            goal_xy=np.asarray(self.env.maze.cell_center(self.env.maze.goal), dtype=np.float64),
            success=bool(info["is_success"]),
            collision=bool(info["collision"]),
            rgb=obs.get("rgb"),
            depth=obs.get("depth"),
            episode_done=self._done,
        )

    def close(self) -> None:
        self._wrapper.close()


class SimulatedArm:
    """A tabletop task's arm (:class:`~robo_reward.sim.tasks.base.TabletopEnv`) as a robot.

    Commands are the env's normalised action: a Cartesian grip-point delta per step (times
    ``action_scale`` m) and a gripper command (-1 closed, +1 open). A stale command stops the
    hand and keeps the gripper where it was last commanded (dropping a held object is worse than
    stopping). With ``play_expert`` the task's scripted expert acts, and an episode ends on
    success or at the task's time limit (``episode_done``); otherwise the arm runs until
    :meth:`reset`.

    Args:
        task: a tabletop task of ``TASKS`` (``button_press``, ``push``, ...).
        seed: episode ``k`` resets with seed ``seed + k`` (placement, appearance unless fixed).
        cameras: the camera views rendered into the readings (``front``, ``side``, ``wrist``);
            none for a state-based policy.
        image_size: image size in pixels (square).
        cmd_timeout: seconds of simulation time after which a command is stale.
        play_expert: the scripted expert acts instead of commands.
        start_ns: simulation time of the first reading.
        env: any other :class:`~robo_reward.sim.env_config.EnvConfig` settings (cameras and
            image size above win).
    """

    kind = "arm"

    def __init__(
        self,
        task: str = "button_press",
        seed: int = 0,
        cameras: tuple[str, ...] = ("front", "side"),
        image_size: int = 96,
        cmd_timeout: float = 0.5,
        play_expert: bool = False,
        start_ns: int = 0,
        env: EnvConfig | None = None,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"{task!r} is not an arm task; arm tasks: {', '.join(TASKS)}")
        _check_seed("seed", seed)
        config = env or EnvConfig()
        config = EnvConfig(
            **{**config.env_kwargs(), "cameras": tuple(cameras), "image_size": image_size}
        )
        self.spec = task_spec(task)
        wrapped = config.make(task)
        self.env: TabletopEnv = wrapped.unwrapped
        self._wrapper = wrapped
        self.task, self.seed, self.play_expert = task, seed, bool(play_expert)
        self.cameras = tuple(cameras)
        self.clock = _SimClock(self.env.dt, start_ns, cmd_timeout)
        self.episode = -1
        self._expert: ScriptedExpert | None = None
        self._gripper = 1.0
        self._reading = self.reset()

    @property
    def dt(self) -> float:
        return self.env.dt

    @property
    def action_scale(self) -> float:
        return self.env.action_scale

    @property
    def max_ee_speed(self) -> float:
        """End-effector speed (m/s, per axis) of a translation action of 1: ``action_scale``
        metres per step of ``dt`` s."""
        return self.env.action_scale / self.env.dt

    @property
    def last_reading(self) -> ArmReading:
        return self._reading

    @property
    def gripper_command(self) -> float:
        """The gripper command in force (held when commands go stale)."""
        return self._gripper

    def command(self, action: Any) -> None:
        """Take a normalised (dx, dy, dz, gripper) command in [-1, 1]^4; NaN refused."""
        action = _finite_action(action, 4)
        self._gripper = float(action[3])
        self.clock.set_command(action)

    def reset(self, seed: int | None = None) -> ArmReading:
        """Start the next episode (seed ``seed``, default ``self.seed + episode``); one step of
        simulation time, like the rover's."""
        self.episode += 1
        if self.episode > 0:
            self.clock.tick()
        _check_seed("seed", seed, allow_none=True)
        episode_seed = self.seed + self.episode if seed is None else seed
        obs, info = self.env.reset(seed=episode_seed)
        self.clock.clear_command()
        self._gripper = 1.0
        self.frame = 0
        self._done = False
        if self.play_expert:
            self._expert = EXPERTS[self.task](self.env, np.random.default_rng(episode_seed))
            self._expert.reset()
        self._reading = self._read(obs, info)
        return self._reading

    def step(self) -> ArmReading:
        """One env step (``dt`` s). After a scripted episode ended the arm holds still."""
        if self._expert is not None and not self._done:
            action = self._expert.act(self.frame)
        else:
            action = self.clock.command()
            if action is None or self._done:
                action = np.array([0.0, 0.0, 0.0, self._gripper])
        obs, _, terminated, _, info = self.env.step(action)
        self.clock.tick()
        self.frame += 1
        if self._expert is not None:
            ended = bool(info["is_success"]) or self.frame >= self.spec.max_episode_steps
            self._done = self._done or ended or terminated
        self._reading = self._read(obs, info)
        return self._reading

    def _read(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> ArmReading:
        return ArmReading(
            stamp_ns=self.clock.now_ns,
            episode=self.episode,
            frame=self.frame,
            images={view: obs[view] for view in self.cameras},
            grip_pos=self.env.grip_pos,
            finger_opening=self.env.finger_opening,
            success=bool(info["is_success"]),
            privileged_progress=float(info["privileged_progress"]),
            episode_done=self._done,
            state={
                key: np.asarray(value, dtype=np.float32)
                for key, value in obs.items()
                if key in STATE_KEYS
            },
        )

    def close(self) -> None:
        self._wrapper.close()
