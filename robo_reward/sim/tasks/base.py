"""The tabletop manipulation env shared by every task: one arm, a parallel gripper, three cameras.

Each task subclasses :class:`TabletopEnv` and fills in its scene file, object placement, goals,
success test and privileged progress. Everything else (action handling, observation assembly,
rendering, visual randomisation, seeding) lives here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from robo_reward.sim.assets import asset_path
from robo_reward.sim.randomization import RandomizationConfig, SceneRandomizer
from robo_reward.sim.rendering import MultiViewRenderer, Renderer

REWARD_TYPES = ("success", "step_penalty")
DEFAULT_CAMERAS = ("front", "side", "wrist")
ACTION_DIM = 4
STATE_DIM = 10
FINGER_MAX = 0.04
"""Travel of each finger (m): fully open the gap between the fingertips is 8 cm."""
WORKSPACE_LOW = np.array([-0.38, -0.35, 0.008])
WORKSPACE_HIGH = np.array([0.25, 0.35, 0.40])
HOME_GRIP_POS = np.array([-0.15, 0.0, 0.2])
MAX_TARGET_LEAD = 0.1
"""How far (m) the Cartesian target may run ahead of the hand, so a blocked hand cannot wind up."""
DEFAULT_RANDOMIZATION = RandomizationConfig()
SETTLE_SUBSTEPS = 60
"""Physics steps at reset so the arm reaches its start pose and objects come to rest."""


class TabletopEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Base class of the tabletop tasks; see each task for its own documentation.

    ## Action Space
    ``Box(-1, 1, (4,), float32)``: a Cartesian position delta of the grip point (scaled by
    ``action_scale`` metres per step) and a gripper command (-1 closed, +1 open). The hand keeps
    pointing down. Out-of-range actions are clipped, as in Gymnasium-Robotics' Fetch.

    ## Observation Space
    A ``Dict``:
    - ``state`` (10,): grip position, grip linear velocity, finger positions and velocities;
    - ``object`` (task-specific): privileged object state, if ``privileged_obs``;
    - ``achieved_goal`` / ``desired_goal``: for HER (their dimension depends on the task);
    - one ``uint8`` ``(H, W, 3)`` image per camera, keyed by its name (``front``, ``side``,
      ``wrist``), and ``<camera>_depth`` ``float32`` ``(H, W)`` in metres if ``depth``.

    ## Rewards
    Sparse, by ``reward_type``: ``"success"`` (default) pays 1.0 on a step that ends in success,
    else 0.0; ``"step_penalty"`` pays -1.0 on every step that does not end in success and 0.0 on
    one that does (Gymnasium-Robotics Fetch's convention, which suits maximum-entropy learners:
    with a terminating +1 a positive entropy bonus can make *not* finishing look better).
    ``compute_reward`` gives the same for relabelled goals. ``info["privileged_progress"]`` is a
    hand-written dense progress in [0, 1] from simulator state, reported for reference only.

    ## Episode End
    Terminated on success when ``terminate_on_success`` (the default); truncated by the time
    limit given at registration.

    ## Arguments
    ``cameras``, ``image_size`` (int or (height, width)), ``depth``, ``frame_skip``,
    ``action_scale``, ``reward_type``, ``randomization`` (a :class:`RandomizationConfig`, or
    ``None`` for the nominal scene), ``privileged_obs``, ``terminate_on_success``, ``render_mode``
    (``"rgb_array"``), ``render_size``, ``model_path`` (another MJCF with the same names),
    ``appearance_seed`` (fix the randomised appearance — colours, texture, lights, cameras — to
    one draw for every episode while object placement still varies with the reset seed: one
    visual setup, as on a real robot).

    ## Version History
    - v0: initial release.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 25}

    task_name: ClassVar[str]
    task_text: ClassVar[str]
    model_file: ClassVar[str]
    goal_dim: ClassVar[int]
    object_obs_dim: ClassVar[int] = 0
    color_groups: ClassVar[tuple[tuple[str, ...], ...]] = ()
    success_distance: ClassVar[float | None] = None
    """Position goals succeed within this distance (m); ``None``: a one-number goal that
    succeeds once the achieved value reaches the desired one (an opening, a depression)."""
    goal: np.ndarray
    """The desired goal; tasks set it at reset (or compute it, for goals that move)."""

    def __init__(
        self,
        cameras: Sequence[str] = DEFAULT_CAMERAS,
        image_size: int | Sequence[int] = 96,
        depth: bool = False,
        frame_skip: int = 20,
        action_scale: float = 0.05,
        reward_type: str = "success",
        randomization: RandomizationConfig | None = DEFAULT_RANDOMIZATION,
        privileged_obs: bool = True,
        terminate_on_success: bool = True,
        render_mode: str | None = None,
        render_size: int | Sequence[int] = 480,
        model_path: str | None = None,
        appearance_seed: int | None = None,
    ) -> None:
        check_tabletop_arguments(
            cameras,
            frame_skip,
            action_scale,
            reward_type,
            render_mode,
            self.metadata["render_modes"],
            appearance_seed,
        )
        self.image_height, self.image_width = _parse_size(image_size, "image_size")
        render_height, render_width = _parse_size(render_size, "render_size")
        self.cameras = tuple(cameras)
        self.depth = bool(depth)
        self.frame_skip = frame_skip
        self.action_scale = float(action_scale)
        self.reward_type = reward_type
        self.privileged_obs = bool(privileged_obs)
        self.terminate_on_success = bool(terminate_on_success)
        self.render_mode = render_mode
        self._render_size = (render_height, render_width)

        path = model_path or str(asset_path(f"manipulation/{self.model_file}"))
        self.model = mujoco.MjModel.from_xml_path(path)
        largest = max(self.image_height, self.image_width, render_height, render_width)
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, largest)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, largest)
        self.data = mujoco.MjData(self.model)
        self.dt = self.model.opt.timestep * frame_skip

        self._grip_site = self.model.site("grip").id
        self._ee_mocap = int(self.model.body("ee_target").mocapid[0])
        self._finger_qpos = [
            self.model.joint(n).qposadr[0] for n in ("finger_left", "finger_right")
        ]
        self._finger_qvel = [self.model.joint(n).dofadr[0] for n in ("finger_left", "finger_right")]
        self._arm_qpos = [
            self.model.joint(n).qposadr[0]
            for n in ("arm_yaw", "shoulder", "elbow", "wrist_pitch", "wrist_roll")
        ]
        self._finger_geoms = {self.model.geom(n).id for n in ("finger_left", "finger_right")}
        self._home_arm_qpos = self._solve_home_pose()

        self.appearance_seed = appearance_seed
        self.randomization = randomization
        self._randomizer = (
            SceneRandomizer(
                self.model,
                randomization,
                color_groups=self.color_groups,
            )
            if randomization is not None
            else None
        )

        self.action_space = spaces.Box(-1.0, 1.0, shape=(ACTION_DIM,), dtype=np.float32)
        self.observation_space = spaces.Dict(self._observation_spaces())
        self._views = (
            MultiViewRenderer(
                self.model, self.cameras, self.image_height, self.image_width, self.depth
            )
            if self.cameras
            else None
        )
        self._viewer_renderer: Renderer | None = None
        self._setup_task()

    # ----------------------------------------------------------------- task interface
    def _setup_task(self) -> None:
        """Look up the task's ids in the model (called once at construction)."""

    def _reset_task(self) -> None:
        """Place objects and choose the goal, from ``self.np_random``."""
        raise NotImplementedError

    def _after_settle(self) -> None:
        """Record whatever the task measures from the settled start state (e.g. distances)."""

    def _achieved_goal(self) -> np.ndarray:
        raise NotImplementedError

    def _desired_goal(self) -> np.ndarray:
        return np.array(self.goal, dtype=np.float64)

    def _object_obs(self) -> np.ndarray:
        return np.zeros(0)

    def goal_reached(self, achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        """Vectorised success test on (batches of) goals; bool array of the batch shape."""
        achieved, desired = np.asarray(achieved_goal), np.asarray(desired_goal)
        if self.success_distance is None:
            return (achieved >= desired)[..., 0]
        return np.linalg.norm(achieved - desired, axis=-1) < self.success_distance

    def privileged_progress(self) -> float:
        """A hand-written dense progress in [0, 1] from simulator state (reference only)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        model, data = self.model, self.data
        mujoco.mj_resetData(model, data)
        data.qpos[self._arm_qpos] = self._home_arm_qpos
        start = HOME_GRIP_POS.copy()
        if self._randomizer is not None:
            appearance_rng = (
                self.np_random
                if self.appearance_seed is None
                else np.random.default_rng(self.appearance_seed)
            )
            self._randomizer.apply(appearance_rng)
            start += self.np_random.uniform(-0.03, 0.03, size=3)
        data.mocap_pos[self._ee_mocap] = start
        data.mocap_quat[self._ee_mocap] = (1.0, 0.0, 0.0, 0.0)
        data.ctrl[:2] = FINGER_MAX
        self._reset_task()
        mujoco.mj_forward(model, data)
        mujoco.mj_step(model, data, nstep=SETTLE_SUBSTEPS)
        data.time = 0.0
        self._after_settle()
        return self._get_obs(), self._get_info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self._apply_action(action)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        obs = self._get_obs()
        info = self._get_info(obs)
        reward = float(self._sparse_reward(np.array(info["is_success"])))
        terminated = bool(info["is_success"]) and self.terminate_on_success
        return obs, reward, terminated, False, info

    def compute_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any
    ) -> np.ndarray:
        """Sparse reward for (relabelled) goals, vectorised as HER expects."""
        return self._sparse_reward(self.goal_reached(achieved_goal, desired_goal))

    def _sparse_reward(self, success: np.ndarray) -> np.ndarray:
        success = success.astype(np.float32)
        return success if self.reward_type == "success" else success - 1.0

    def compute_terminated(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any
    ) -> np.ndarray:
        reached = self.goal_reached(achieved_goal, desired_goal)
        return reached & self.terminate_on_success

    def compute_truncated(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any
    ) -> np.ndarray:
        return np.zeros(np.shape(achieved_goal)[:-1], dtype=bool)

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        if self._viewer_renderer is None:
            self._viewer_renderer = Renderer(self.model, *self._render_size)
        self._viewer_renderer.update_scene(self.data, camera="front")
        return self._viewer_renderer.render()

    def close(self) -> None:
        if self._views is not None:
            self._views.close()
            self._views = None
        if self._viewer_renderer is not None:
            self._viewer_renderer.close()
            self._viewer_renderer = None

    # ----------------------------------------------------------------- state accessors
    @property
    def grip_pos(self) -> np.ndarray:
        """Position of the point between the fingertips (world frame, m)."""
        return self.data.site_xpos[self._grip_site].copy()

    @property
    def target_pos(self) -> np.ndarray:
        """The commanded grip position (the mocap target the hand is welded to)."""
        return self.data.mocap_pos[self._ee_mocap].copy()

    @property
    def finger_opening(self) -> float:
        """Gap between the fingertips (m)."""
        return float(self.data.qpos[self._finger_qpos].sum())

    def body_pos(self, name: str) -> np.ndarray:
        return self.data.body(name).xpos.copy()

    def body_velocity(self, body_id: int) -> np.ndarray:
        """Linear velocity (world frame, m/s) of a body's origin."""
        velocity = np.zeros(6)
        mujoco.mj_objectVelocity(
            self.model, self.data, mujoco.mjtObj.mjOBJ_BODY, body_id, velocity, 0
        )
        return velocity[3:]

    def fingers_touch(self, geom_id: int) -> bool:
        """Whether both fingers are in contact with the geom (a grasp)."""
        touching = set()
        for contact in self.data.contact[: self.data.ncon]:
            pair = {contact.geom1, contact.geom2}
            if geom_id in pair:
                touching |= pair & self._finger_geoms
        return touching == self._finger_geoms

    def timestamp_ns(self) -> int:
        return int(round(self.data.time * 1e9))

    # ----------------------------------------------------------------- internals
    def _apply_action(self, action: np.ndarray) -> None:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or infinity: {action}")
        action = np.clip(action, -1.0, 1.0)
        target = next_grip_target(
            self.data.mocap_pos[self._ee_mocap], action, self.action_scale, self.grip_pos
        )
        self.data.mocap_pos[self._ee_mocap] = target
        self.data.ctrl[:2] = FINGER_MAX * (action[3] + 1.0) / 2.0

    def _proprioception(self) -> np.ndarray:
        velocity = np.zeros(6)
        mujoco.mj_objectVelocity(
            self.model, self.data, mujoco.mjtObj.mjOBJ_SITE, self._grip_site, velocity, 0
        )
        return np.concatenate(
            [
                self.grip_pos,
                velocity[3:],
                self.data.qpos[self._finger_qpos],
                self.data.qvel[self._finger_qvel],
            ]
        ).astype(np.float32)

    def _get_obs(self) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {"state": self._proprioception()}
        if self.privileged_obs and self.object_obs_dim:
            obs["object"] = self._object_obs().astype(np.float32)
        if self.goal_dim:
            obs["achieved_goal"] = self._achieved_goal().astype(np.float32)
            obs["desired_goal"] = self._desired_goal().astype(np.float32)
        if self._views is not None:
            rgb, depth = self._views.render(self.data)
            obs.update(rgb)
            obs.update({f"{view}_depth": image for view, image in depth.items()})
        return obs

    def _get_info(self, obs: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
        achieved = obs["achieved_goal"] if obs is not None else self._achieved_goal()
        desired = obs["desired_goal"] if obs is not None else self._desired_goal()
        return {
            "is_success": bool(self.goal_reached(achieved, desired)),
            "privileged_progress": float(self.privileged_progress()),
            "timestamp_ns": self.timestamp_ns(),
        }

    def _observation_spaces(self) -> dict[str, spaces.Space]:
        unbounded = {"low": -np.inf, "high": np.inf, "dtype": np.float32}
        result: dict[str, spaces.Space] = {"state": spaces.Box(shape=(STATE_DIM,), **unbounded)}
        if self.privileged_obs and self.object_obs_dim:
            result["object"] = spaces.Box(shape=(self.object_obs_dim,), **unbounded)
        if self.goal_dim:
            result["achieved_goal"] = spaces.Box(shape=(self.goal_dim,), **unbounded)
            result["desired_goal"] = spaces.Box(shape=(self.goal_dim,), **unbounded)
        image_shape = (self.image_height, self.image_width)
        for camera in self.cameras:
            result[camera] = spaces.Box(0, 255, shape=(*image_shape, 3), dtype=np.uint8)
            if self.depth:
                result[f"{camera}_depth"] = spaces.Box(
                    0.0, np.inf, shape=image_shape, dtype=np.float32
                )
        return result

    def _solve_home_pose(self) -> np.ndarray:
        """Let the weld pull the arm, elbow up, onto the home grip position once (reset reuses
        the joint angles)."""
        data = mujoco.MjData(self.model)
        data.qpos[self._arm_qpos] = (0.0, -0.9, 1.9, -1.0, 0.0)
        data.mocap_pos[self._ee_mocap] = HOME_GRIP_POS
        data.mocap_quat[self._ee_mocap] = (1.0, 0.0, 0.0, 0.0)
        data.ctrl[:2] = FINGER_MAX
        mujoco.mj_step(self.model, data, nstep=500)
        return data.qpos[self._arm_qpos].copy()

    # helpers for tasks
    def _set_free_body(self, joint: str, position: np.ndarray, yaw: float = 0.0) -> None:
        address = self.model.joint(joint).qposadr[0]
        self.data.qpos[address : address + 3] = position
        self.data.qpos[address + 3 : address + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))

    def _set_mocap(self, body: str, position: np.ndarray) -> None:
        self.data.mocap_pos[self.model.body(body).mocapid[0]] = position


def check_tabletop_arguments(
    cameras: Sequence[str],
    frame_skip: int,
    action_scale: float,
    reward_type: str,
    render_mode: str | None,
    render_modes: Sequence[str],
    appearance_seed: int | None,
) -> None:
    """The argument checks of the tabletop envs (MuJoCo's and PyBullet's share them)."""
    if isinstance(cameras, str) or not all(isinstance(c, str) for c in cameras):
        raise TypeError(f"cameras must be a sequence of camera names, got {cameras!r}")
    if not isinstance(frame_skip, int) or isinstance(frame_skip, bool) or frame_skip < 1:
        raise ValueError(f"frame_skip must be a positive int, got {frame_skip!r}")
    if not np.isfinite(action_scale) or not 0 < action_scale <= 0.2:
        raise ValueError(f"action_scale must be in (0, 0.2] metres, got {action_scale!r}")
    if reward_type not in REWARD_TYPES:
        raise ValueError(f"reward_type must be one of {REWARD_TYPES}, got {reward_type!r}")
    if render_mode is not None and render_mode not in render_modes:
        raise ValueError(
            f"render_mode must be one of {list(render_modes)} or None, got {render_mode!r}"
        )
    if appearance_seed is not None and (
        isinstance(appearance_seed, bool)
        or not isinstance(appearance_seed, int)
        or appearance_seed < 0
    ):
        raise ValueError(f"appearance_seed must be an int >= 0 or None, got {appearance_seed!r}")


def next_grip_target(
    target: np.ndarray, action: np.ndarray, action_scale: float, grip: np.ndarray
) -> np.ndarray:
    """The commanded grip point after a (clipped) action: moved by the action, kept inside the
    workspace, and at most ``MAX_TARGET_LEAD`` ahead of the hand (so a blocked hand cannot wind
    up)."""
    target = np.clip(target + action[:3] * action_scale, WORKSPACE_LOW, WORKSPACE_HIGH)
    lead = target - grip
    distance = np.linalg.norm(lead)
    if distance > MAX_TARGET_LEAD:
        target = grip + lead * (MAX_TARGET_LEAD / distance)
    return target


def _parse_size(size: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        height = width = int(size)
    elif (
        isinstance(size, Sequence)
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
    ):
        height, width = (int(s) for s in size)
    else:
        raise ValueError(f"{name} must be an int or a (height, width) pair, got {size!r}")
    if not (8 <= height <= 2048 and 8 <= width <= 2048):
        raise ValueError(f"{name} must be between 8 and 2048 pixels per side, got {size!r}")
    return height, width
