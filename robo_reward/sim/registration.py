"""Gymnasium registration of the tabletop tasks, in the style of Gymnasium-Robotics."""

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


def make_env(name: str, max_episode_steps: int | None = None, **kwargs) -> gym.Env:
    """``gym.make`` by short task name, e.g. ``make_env("push", image_size=64)``."""
    register_envs()
    spec = task_spec(name)
    steps = spec.max_episode_steps if max_episode_steps is None else max_episode_steps
    return gym.make(spec.env_id, max_episode_steps=steps, **kwargs)
