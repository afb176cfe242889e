"""Gymnasium registration of the tabletop tasks, in the style of Gymnasium-Robotics.

Two simulators: every task runs in MuJoCo (``backend="mujoco"``, the default); ``push`` and
``reach`` also have a PyBullet version with the same spaces (``backend="pybullet"``,
``robo_reward/BulletPush-v0``, ...) for the cross-simulator check (``bench crosssim``)."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

from robo_reward.sim.nav.registration import register_nav_envs
from robo_reward.sim.tasks.base import TabletopEnv
from robo_reward.sim.tasks.button_press import ButtonPressEnv
from robo_reward.sim.tasks.drawer_open import DrawerOpenEnv
from robo_reward.sim.tasks.pick_place import PickPlaceEnv
from robo_reward.sim.tasks.push import PushEnv
from robo_reward.sim.tasks.reach import ReachEnv
from robo_reward.sim.tasks.stack import StackEnv

NAMESPACE = "robo_reward"


@dataclass(frozen=True)
class TaskSpec:
    """A task family: its short name, env class, Gymnasium id and time limit."""

    name: str
    env_class: type[TabletopEnv]
    env_id: str
    max_episode_steps: int


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("reach", ReachEnv, f"{NAMESPACE}/Reach-v0", 50),
        TaskSpec("push", PushEnv, f"{NAMESPACE}/Push-v0", 100),
        TaskSpec("pick_place", PickPlaceEnv, f"{NAMESPACE}/PickPlace-v0", 100),
        TaskSpec("stack", StackEnv, f"{NAMESPACE}/Stack-v0", 120),
        TaskSpec("drawer_open", DrawerOpenEnv, f"{NAMESPACE}/DrawerOpen-v0", 100),
        TaskSpec("button_press", ButtonPressEnv, f"{NAMESPACE}/ButtonPress-v0", 50),
    )
}


BACKENDS = ("mujoco", "pybullet")
BULLET_ENTRY_POINTS = {
    "push": "robo_reward.sim.bullet.tabletop:BulletPushEnv",
    "reach": "robo_reward.sim.bullet.tabletop:BulletReachEnv",
}
"""The tasks with a PyBullet version (same spaces, same time limits as in MuJoCo)."""


def bullet_env_id(name: str) -> str:
    """The Gymnasium id of a task's PyBullet version; a clear error for tasks without one."""
    spec = task_spec(name)
    if spec.name not in BULLET_ENTRY_POINTS:
        raise ValueError(
            f"task {spec.name!r} has no PyBullet version; PyBullet tasks: "
            f"{', '.join(BULLET_ENTRY_POINTS)}"
        )
    return spec.env_id.replace(f"{NAMESPACE}/", f"{NAMESPACE}/Bullet")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown simulator backend {backend!r}; backends: {', '.join(BACKENDS)}")


def task_spec(name: str) -> TaskSpec:
    """The spec of a task by short name (``push``) or Gymnasium id; a clear error otherwise."""
    for spec in TASKS.values():
        if name in (spec.name, spec.env_id):
            return spec
    raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")


def register_envs() -> None:
    """Register every task with Gymnasium, the navigation tasks of ``robo_reward.sim.nav``'s
    ``NAV_TASKS`` included (idempotent)."""
    register_nav_envs()
    for spec in TASKS.values():
        if spec.env_id not in gym.registry:
            gym.register(
                id=spec.env_id,
                entry_point=f"{spec.env_class.__module__}:{spec.env_class.__name__}",
                max_episode_steps=spec.max_episode_steps,
            )
    for name, entry_point in BULLET_ENTRY_POINTS.items():
        env_id = bullet_env_id(name)
        if env_id not in gym.registry:
            gym.register(
                id=env_id, entry_point=entry_point, max_episode_steps=TASKS[name].max_episode_steps
            )


def make_env(
    name: str, max_episode_steps: int | None = None, backend: str = "mujoco", **kwargs
) -> gym.Env:
    """``gym.make`` by short task name, e.g. ``make_env("push", image_size=64)``;
    ``backend="pybullet"`` makes the task's PyBullet version."""
    check_backend(backend)
    register_envs()
    spec = task_spec(name)
    env_id = spec.env_id if backend == "mujoco" else bullet_env_id(spec.name)
    steps = spec.max_episode_steps if max_episode_steps is None else max_episode_steps
    return gym.make(env_id, max_episode_steps=steps, **kwargs)
