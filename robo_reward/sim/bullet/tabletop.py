"""The tabletop tasks in PyBullet, for the cross-simulator check (a proxy of the sim-to-real gap).

Reward models and policies trained on the MuJoCo tasks are evaluated here unchanged: the
observation and action spaces, the task interface the scripted experts and ``demos.rollout`` use,
the seeding (same seed, same block, goal and appearance draws) and every formula (success,
reward, privileged progress, placement) are the MuJoCo tasks' own; the scene is rebuilt from the
same compiled MJCF (:mod:`robo_reward.sim.bullet.scene`). What differs is the physics engine
(Bullet's rigid contacts and joint motors instead of MuJoCo's soft contacts and mocap weld) and
the renderer (PyBullet's CPU TinyRenderer with one light instead of MuJoCo's OpenGL with three).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
import pybullet as p
from gymnasium.utils import EzPickle

from robo_reward.sim.assets import asset_path
from robo_reward.sim.bullet.scene import MjcfScene, SceneCameras
from robo_reward.sim.randomization import RandomizationConfig, SceneRandomizer
from robo_reward.sim.tasks.base import (
    ACTION_DIM,
    DEFAULT_CAMERAS,
    DEFAULT_RANDOMIZATION,
    FINGER_MAX,
    HOME_GRIP_POS,
    SETTLE_SUBSTEPS,
    TabletopEnv,
    _parse_size,
    check_tabletop_arguments,
    next_grip_target,
)
from robo_reward.sim.tasks.objects import BlockTaskEnv, block_features
from robo_reward.sim.tasks.push import PushEnv
from robo_reward.sim.tasks.reach import ReachEnv

ARM_JOINTS = ("arm_yaw", "shoulder", "elbow", "wrist_pitch", "wrist_roll")
FINGER_JOINTS = ("finger_left", "finger_right")
HOME_ARM_SEED = (0.0, -0.9, 1.9, -1.0, 0.0)
"""Elbow-up joint angles the home pose is solved from (those of ``TabletopEnv``)."""
HAND_DOWN = (0.0, 0.0, 0.0, 1.0)
"""The hand's world orientation (PyBullet quaternion): fingers pointing down, as the weld holds
it in MuJoCo."""
ARM_TORQUE = (150.0, 150.0, 100.0, 30.0, 30.0)
"""Torque bound (N m) of each arm joint's position motor."""
ARM_GAIN = 0.05
"""Position gain of the joint motors (PyBullet's ``positionGain``), chosen so the hand follows a
commanded path as closely as MuJoCo's mocap weld lets it (the two hands stay 2 mm apart on
average over random actions)."""
FINGER_FORCE = 15.0
"""Force bound (N) of each finger's position motor, MuJoCo's ``forcerange``."""
FINGER_GAIN = 0.1
SOLVER_ITERATIONS = 20
"""Bullet's constraint solver iterations per physics step (default 50): the push expert
succeeds as often with 20, and a step costs a third less."""
IK_ITERATIONS = 50
IK_TOLERANCE = 1e-5
LIGHT_AMBIENT = 0.5
LIGHT_DIFFUSE = 0.6
"""TinyRenderer's ambient share and the diffuse share of MuJoCo's summed light brightness,
chosen so the views' mean colours come closest to MuJoCo's (off by 4 of 255 on average over
nominal and randomised scenes)."""


class BulletTabletopEnv(gym.Env[dict[str, np.ndarray], np.ndarray], EzPickle):
    """Base class of the PyBullet tabletop tasks. Each mirrors a MuJoCo task documented in
    :class:`~robo_reward.sim.tasks.base.TabletopEnv`; everything said there holds here except
    what follows.

    ## Action Space
    As in MuJoCo, clipped alike (actions to [-1, 1], the commanded grip position to the
    workspace and to ``MAX_TARGET_LEAD`` from the hand). Instead of a mocap weld pulling the
    hand, the commanded grip position goes through ``p.calculateInverseKinematics`` (hand
    pointing down) to joint position motors with bounded torque, as on a real arm; the targets
    are set once per env step and held over its ``frame_skip`` physics steps of 2 ms, as
    MuJoCo's mocap target is. The fingers are position motors with MuJoCo's force bound. The
    arm has no gravity compensation (the motors carry it).

    ## Observation Space
    The same ``Dict`` as MuJoCo's. Images come from PyBullet's CPU TinyRenderer with the MJCF's
    cameras (pose, field of view, clipping planes), colours and textures, and round shapes at
    MuJoCo's rendering resolution; but one directional light (the MJCF's three folded into
    one), no transparency (the goal marker is opaque) and no anti-aliasing. Depth is metres
    along the optical axis, from the z-buffer.

    ## Rewards
    As in MuJoCo: the same functions (``goal_reached``, ``compute_reward``, the task's
    ``privileged_progress``).

    ## Episode End
    As in MuJoCo; the time limit comes with the registration (``robo_reward/BulletPush-v0``,
    ...) or a ``TimeLimit`` wrapper.

    ## Arguments
    Those of :class:`TabletopEnv`, validated alike. ``randomization`` draws MuJoCo's numbers from
    the same generator in the same order (``SceneRandomizer`` on the compiled MJCF), so a seed
    gives the same block, goal and start position in both simulators, and the same colours,
    table texture, camera poses and light positions (as far as one light shows them).
    ``model_path``: another MJCF with the same names, rebuilt like the default one. Pickling
    keeps the arguments, not the state (a PyBullet client cannot be pickled): the copy is a
    fresh env, as after construction.

    ## Version History
    - v0: initial release.
    """

    metadata: ClassVar[dict[str, Any]] = TabletopEnv.metadata

    task_name: ClassVar[str]
    task_text: ClassVar[str]
    model_file: ClassVar[str]
    goal_dim: ClassVar[int]
    object_obs_dim: ClassVar[int] = 0
    color_groups: ClassVar[tuple[tuple[str, ...], ...]] = ()
    success_distance: ClassVar[float | None] = None
    goal: np.ndarray

    # One implementation of each formula: the MuJoCo task's own functions (none touches MuJoCo).
    goal_reached = TabletopEnv.goal_reached
    compute_reward = TabletopEnv.compute_reward
    compute_terminated = TabletopEnv.compute_terminated
    compute_truncated = TabletopEnv.compute_truncated
    _sparse_reward = TabletopEnv._sparse_reward
    _observation_spaces = TabletopEnv._observation_spaces
    _get_info = TabletopEnv._get_info
    _desired_goal = TabletopEnv._desired_goal

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
        self._render_size = _parse_size(render_size, "render_size")
        EzPickle.__init__(
            self,
            cameras=cameras,
            image_size=image_size,
            depth=depth,
            frame_skip=frame_skip,
            action_scale=action_scale,
            reward_type=reward_type,
            randomization=randomization,
            privileged_obs=privileged_obs,
            terminate_on_success=terminate_on_success,
            render_mode=render_mode,
            render_size=render_size,
            model_path=model_path,
            appearance_seed=appearance_seed,
        )
        self.cameras = tuple(cameras)
        self.depth = bool(depth)
        self.frame_skip = frame_skip
        self.action_scale = float(action_scale)
        self.reward_type = reward_type
        self.privileged_obs = bool(privileged_obs)
        self.terminate_on_success = bool(terminate_on_success)
        self.render_mode = render_mode
        self.appearance_seed = appearance_seed
        self.randomization = randomization

        path = model_path or str(asset_path(f"manipulation/{self.model_file}"))
        self.scene_model = mujoco.MjModel.from_xml_path(path)
        """The compiled MJCF the scene is built from; randomisation edits its appearance."""
        available = [self.scene_model.camera(i).name for i in range(self.scene_model.ncam)]
        unknown = [c for c in self.cameras if c not in available]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; this scene has {available}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"camera names repeat: {list(self.cameras)}")
        self._camera_ids = {name: available.index(name) for name in self.cameras}
        self._randomizer = (
            SceneRandomizer(self.scene_model, randomization, color_groups=self.color_groups)
            if randomization is not None
            else None
        )
        self.timestep = float(self.scene_model.opt.timestep)
        self.dt = self.timestep * frame_skip

        self._client = p.connect(p.DIRECT)
        try:
            self._build()
        except Exception:
            p.disconnect(self._client)
            raise
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(ACTION_DIM,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict(self._observation_spaces())
        self._setup_task()

    def _build(self) -> None:
        client = self._client
        p.setGravity(*self.scene_model.opt.gravity, physicsClientId=client)
        p.setPhysicsEngineParameter(
            fixedTimeStep=self.timestep,
            numSolverIterations=SOLVER_ITERATIONS,
            deterministicOverlappingPairs=1,
            physicsClientId=client,
        )
        self.scene = MjcfScene(self.scene_model, client, site_links=("grip",))
        """The PyBullet scene, rebuilt from ``scene_model``."""
        grip = self.scene.sites["grip"]
        self._arm, self._grip_link = grip.body, grip.link
        self._arm_joints = [self.scene.joints[name][1] for name in ARM_JOINTS]
        self._finger_joints = [self.scene.joints[name][1] for name in FINGER_JOINTS]
        self._finger_links = set(self._finger_joints)
        self._arm_range = np.array(
            [self.scene_model.joint(name).range for name in ARM_JOINTS], dtype=np.float64
        )
        for joint, angle in zip(self._arm_joints, HOME_ARM_SEED, strict=True):
            p.resetJointState(self._arm, joint, angle, 0.0, physicsClientId=client)
        self._home_arm_qpos = self._pose_arm(HOME_GRIP_POS, rounds=5)
        self._initial_state = p.saveState(physicsClientId=client)
        self._target = HOME_GRIP_POS.copy()
        self._arm_command = self._home_arm_qpos.copy()
        self._substeps = 0
        self._views = (
            SceneCameras(
                self.scene,
                list(self._camera_ids.values()),
                self.image_height,
                self.image_width,
                LIGHT_AMBIENT,
                LIGHT_DIFFUSE,
            )
            if self.cameras
            else None
        )
        self._viewer: SceneCameras | None = None

    # ----------------------------------------------------------------- task interface
    def _setup_task(self) -> None:
        """Look up the task's bodies (called once at construction)."""

    def _reset_task(self) -> None:
        raise NotImplementedError

    def _after_settle(self) -> None:
        """Record whatever the task measures from the settled start state."""

    def _achieved_goal(self) -> np.ndarray:
        raise NotImplementedError

    def _object_obs(self) -> np.ndarray:
        return np.zeros(0)

    def privileged_progress(self) -> float:
        raise NotImplementedError

    # ----------------------------------------------------------------- Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        client = self._client
        p.restoreState(self._initial_state, physicsClientId=client)
        start = HOME_GRIP_POS.copy()
        # The draws of TabletopEnv.reset, in its order, so placements match seed for seed.
        if self._randomizer is not None:
            appearance_rng = (
                self.np_random
                if self.appearance_seed is None
                else np.random.default_rng(self.appearance_seed)
            )
            self._randomizer.apply(appearance_rng)
            start += self.np_random.uniform(-0.03, 0.03, size=3)
        self.scene.sync_appearance()
        self._target = start
        self._arm_command = self._pose_arm(start, rounds=3)
        for joint in self._finger_joints:
            p.resetJointState(self._arm, joint, FINGER_MAX, 0.0, physicsClientId=client)
        self._command_motors(FINGER_MAX)
        self._reset_task()
        for views in (self._views, self._viewer):
            if views is not None:
                views.invalidate()
        for _ in range(SETTLE_SUBSTEPS):
            p.stepSimulation(physicsClientId=client)
        self._substeps = 0
        self._after_settle()
        return self._get_obs(), self._get_info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self._apply_action(action)
        for _ in range(self.frame_skip):
            p.stepSimulation(physicsClientId=self._client)
        self._substeps += self.frame_skip
        obs = self._get_obs()
        info = self._get_info(obs)
        reward = float(self._sparse_reward(np.array(info["is_success"])))
        terminated = bool(info["is_success"]) and self.terminate_on_success
        return obs, reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        if self._viewer is None:
            self._viewer = SceneCameras(
                self.scene, (), *self._render_size, LIGHT_AMBIENT, LIGHT_DIFFUSE
            )
        return self._viewer.draw(self.scene_model.camera("front").id, *self._render_size)[0]

    def close(self) -> None:
        if getattr(self, "_client", None) is not None:
            if p.isConnected(self._client):
                p.disconnect(self._client)
            self._client = None

    # ----------------------------------------------------------------- state accessors
    @property
    def grip_pos(self) -> np.ndarray:
        """Position of the point between the fingertips (world frame, m)."""
        return self._grip_state()[0]

    @property
    def target_pos(self) -> np.ndarray:
        """The commanded grip position (what MuJoCo's mocap target is)."""
        return self._target.copy()

    @property
    def finger_opening(self) -> float:
        """Gap between the fingertips (m)."""
        return float(self._finger_state()[0].sum())

    def body_pos(self, name: str) -> np.ndarray:
        """World position of the frame of the MJCF body ``name``."""
        return self.scene.frame(self.scene_model.body(name).id)[0].copy()

    def body_velocity(self, body_id: int) -> np.ndarray:
        """Linear velocity (world frame, m/s) of the centre of mass of the MJCF body
        ``body_id`` (an id of ``scene_model``; its origin's, for the tasks' objects)."""
        part = self.scene.parts[body_id]
        if part.link < 0:
            velocity = p.getBaseVelocity(part.body, physicsClientId=self._client)[0]
        else:
            velocity = p.getLinkState(
                part.body, part.link, computeLinkVelocity=1, physicsClientId=self._client
            )[6]
        return np.asarray(velocity)

    def fingers_touch(self, geom_id: int) -> bool:
        """Whether both fingers are in contact with the MJCF geom ``geom_id`` (a grasp)."""
        part = self.scene.parts[int(self.scene_model.geom_bodyid[geom_id])]
        touching = {
            contact[3]
            for contact in p.getContactPoints(
                self._arm, part.body, linkIndexB=part.link, physicsClientId=self._client
            )
        }
        return self._finger_links <= touching

    def timestamp_ns(self) -> int:
        return int(round(self._substeps * self.timestep * 1e9))

    # ----------------------------------------------------------------- helpers for tasks
    def _set_free_body(self, joint: str, position: np.ndarray, yaw: float = 0.0) -> None:
        body = int(self.scene_model.joint(joint).bodyid[0])
        self.scene.set_base_frame(body, position, (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)))

    def _set_mocap(self, body: str, position: np.ndarray) -> None:
        self.scene.set_base_frame(self.scene_model.body(body).id, position)
        for views in (self._views, self._viewer):
            if views is not None:
                views.invalidate()

    # ----------------------------------------------------------------- internals
    def _apply_action(self, action: np.ndarray) -> None:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or infinity: {action}")
        action = np.clip(action, -1.0, 1.0)
        target = next_grip_target(self._target, action, self.action_scale, self.grip_pos)
        self._target = target
        self._arm_command = self._solve_ik(target)
        self._command_motors(FINGER_MAX * (action[3] + 1.0) / 2.0)

    def _command_motors(self, finger_target: float) -> None:
        """Joint position motors to the commanded arm angles and finger position; they hold
        these targets over the physics steps until the next command."""
        p.setJointMotorControlArray(
            self._arm,
            self._arm_joints,
            p.POSITION_CONTROL,
            targetPositions=self._arm_command.tolist(),
            forces=list(ARM_TORQUE),
            positionGains=[ARM_GAIN] * len(ARM_JOINTS),
            physicsClientId=self._client,
        )
        p.setJointMotorControlArray(
            self._arm,
            self._finger_joints,
            p.POSITION_CONTROL,
            targetPositions=[finger_target] * 2,
            forces=[FINGER_FORCE] * 2,
            positionGains=[FINGER_GAIN] * 2,
            physicsClientId=self._client,
        )

    def _solve_ik(self, target: np.ndarray) -> np.ndarray:
        """Arm joint angles putting the grip point at ``target`` with the hand pointing down,
        searched from the arm's current angles (PyBullet's damped least squares), clipped to
        the joint ranges.

        PyBullet's ``currentPositions`` seed is not used: with it the solver ignores the base's
        pose (the arm stands at x = -0.55), so answers come out shifted by it."""
        solution = p.calculateInverseKinematics(
            self._arm,
            self._grip_link,
            np.asarray(target, dtype=np.float64).tolist(),
            targetOrientation=HAND_DOWN,
            maxNumIterations=IK_ITERATIONS,
            residualThreshold=IK_TOLERANCE,
            physicsClientId=self._client,
        )
        return np.clip(solution[: len(ARM_JOINTS)], self._arm_range[:, 0], self._arm_range[:, 1])

    def _pose_arm(self, target: np.ndarray, rounds: int) -> np.ndarray:
        """Put the arm at rest on the joint angles of ``target`` (each round restarts the
        solver from the last answer); returns the angles."""
        angles = np.zeros(len(ARM_JOINTS))
        for _ in range(rounds):
            angles = self._solve_ik(target)
            for joint, angle in zip(self._arm_joints, angles, strict=True):
                p.resetJointState(self._arm, joint, angle, 0.0, physicsClientId=self._client)
        return angles

    def _grip_state(self) -> tuple[np.ndarray, np.ndarray]:
        state = p.getLinkState(
            self._arm,
            self._grip_link,
            computeLinkVelocity=1,
            computeForwardKinematics=1,
            physicsClientId=self._client,
        )
        return np.asarray(state[4]), np.asarray(state[6])

    def _finger_state(self) -> tuple[np.ndarray, np.ndarray]:
        states = p.getJointStates(self._arm, self._finger_joints, physicsClientId=self._client)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def _proprioception(self) -> np.ndarray:
        position, velocity = self._grip_state()
        fingers, finger_velocity = self._finger_state()
        return np.concatenate([position, velocity, fingers, finger_velocity]).astype(np.float32)

    def _get_obs(self) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {"state": self._proprioception()}
        if self.privileged_obs and self.object_obs_dim:
            obs["object"] = self._object_obs().astype(np.float32)
        if self.goal_dim:
            obs["achieved_goal"] = self._achieved_goal().astype(np.float32)
            obs["desired_goal"] = self._desired_goal().astype(np.float32)
        if self._views is not None:
            frames = self._views.render()
            for name, camera in self._camera_ids.items():
                obs[name], depth = frames[camera]
                if self.depth:
                    obs[f"{name}_depth"] = depth
        return obs


class BulletReachEnv(BulletTabletopEnv):
    """:class:`~robo_reward.sim.tasks.reach.ReachEnv` in PyBullet: move the grip point to a
    green target sphere anywhere above the table. What differs from MuJoCo is in
    :class:`BulletTabletopEnv`.

    ## Action Space
    Cartesian delta of the grip point and a gripper command, as in MuJoCo.

    ## Observation Space
    ``state``, the camera images, ``achieved_goal`` = grip position (3), ``desired_goal`` =
    target position (3). No ``object`` key.

    ## Rewards
    Sparse 1.0 when the grip point is within 4 cm of the target. Privileged progress:
    ``1 - distance / initial distance``, clipped to [0, 1].

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (50 steps).
    """

    task_name = ReachEnv.task_name
    task_text = ReachEnv.task_text
    model_file = ReachEnv.model_file
    goal_dim = ReachEnv.goal_dim
    object_obs_dim = ReachEnv.object_obs_dim
    color_groups = ReachEnv.color_groups
    success_distance = ReachEnv.success_distance

    # The MuJoCo task's own placement (the same draws, in the same order), goal and progress.
    _reset_task = ReachEnv._reset_task
    _after_settle = ReachEnv._after_settle
    _achieved_goal = ReachEnv._achieved_goal
    privileged_progress = ReachEnv.privileged_progress


class BulletPushEnv(BulletTabletopEnv):
    """:class:`~robo_reward.sim.tasks.push.PushEnv` in PyBullet: push a block (4 cm cube, 64 g)
    until it lies within 4 cm of a target disc on the table. What differs from MuJoCo is in
    :class:`BulletTabletopEnv`; the block's mass, inertia and friction are the MJCF's (Bullet
    multiplies two surfaces' friction coefficients where MuJoCo takes the larger; with the
    table's and the block's at 1 and the fingers' at 1.5 both give the same).

    ## Action Space
    Cartesian delta of the grip point and a gripper command, as in MuJoCo.

    ## Observation Space
    ``state``, images, ``object`` (9: block position, position relative to the grip point,
    linear velocity), ``achieved_goal`` = block position (3), ``desired_goal`` = target (3).

    ## Rewards
    Sparse 1.0 when the block is within 4 cm of the target. Privileged progress:
    0.2 for bringing the grip point behind the block, 0.8 for the fraction of the initial
    block-to-target distance covered.

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (100 steps).
    """

    task_name = PushEnv.task_name
    task_text = PushEnv.task_text
    model_file = PushEnv.model_file
    goal_dim = PushEnv.goal_dim
    object_obs_dim = PushEnv.object_obs_dim
    color_groups = PushEnv.color_groups
    success_distance = PushEnv.success_distance

    # The MuJoCo task's own placement (the same draws, in the same order), goal and progress.
    _reset_task = PushEnv._reset_task
    _place_block = BlockTaskEnv._place_block
    _after_settle = BlockTaskEnv._after_settle
    _achieved_goal = BlockTaskEnv._achieved_goal
    privileged_progress = PushEnv.privileged_progress

    def _setup_task(self) -> None:
        self._block_body = self.scene_model.body("block").id
        self._block_geom = self.scene_model.geom("block").id

    @property
    def block_pos(self) -> np.ndarray:
        return self.scene.frame(self._block_body)[0].copy()

    def block_held(self) -> bool:
        return self.fingers_touch(self._block_geom)

    def _object_obs(self) -> np.ndarray:
        return block_features(self.block_pos, self.body_velocity(self._block_body), self.grip_pos)
