"""Gymnasium registration of the maze navigation tasks.

They have no scripted manipulation expert and take other keyword arguments than the tabletop
tasks, so they sit in their own table, ``NAV_TASKS``; ``robo_reward.sim.register_envs()``
registers both tables. Gymnasium-Robotics' mazes behind the same interface (``pointmaze_umaze``,
...) sit in ``robo_reward.sim.nav.gym_robotics.GYM_ROBOTICS_TASKS``: ``nav_task_spec``,
``make_nav_env`` and ``register_nav_envs`` accept them too, importing that module (never
gymnasium_robotics itself, which only ``gym.make`` of those ids needs) on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gymnasium as gym

if TYPE_CHECKING:
    from robo_reward.sim.nav.gym_robotics import GymRoboticsTaskSpec

NAMESPACE = "robo_reward"
ENTRY_POINT = "robo_reward.sim.nav.env:MazeNavEnv"
BULLET_ENTRY_POINT = "robo_reward.sim.bullet.nav:BulletMazeNavEnv"
"""The PyBullet version of the mazes and floor plans (``robo_reward/BulletMazeSmall-v0``, ...):
the same spaces, mazes and time limits, for the cross-simulator check."""


@dataclass(frozen=True)
class NavTaskSpec:
    """A navigation task: short name, maze size, Gymnasium id and time limit (steps of 0.1 s)."""

    name: str
    size: str
    env_id: str
    max_episode_steps: int
    layout: str = "maze"


NAV_TASKS: dict[str, NavTaskSpec] = {
    spec.name: spec
    for spec in (
        NavTaskSpec("maze_small", "small", f"{NAMESPACE}/MazeSmall-v0", 600),
        NavTaskSpec("maze_medium", "medium", f"{NAMESPACE}/MazeMedium-v0", 1500),
        NavTaskSpec("maze_large", "large", f"{NAMESPACE}/MazeLarge-v0", 2500),
        # Floor plans of rooms and doorways on the same grids; the same limits (the map-knowing
        # follower needs at most ~300 steps on medium plans, seeds 0-4).
        NavTaskSpec("rooms_small", "small", f"{NAMESPACE}/RoomsSmall-v0", 600, "rooms"),
        NavTaskSpec("rooms_medium", "medium", f"{NAMESPACE}/RoomsMedium-v0", 1500, "rooms"),
        NavTaskSpec("rooms_large", "large", f"{NAMESPACE}/RoomsLarge-v0", 2500, "rooms"),
    )
}


def nav_task_spec(name: str) -> NavTaskSpec | GymRoboticsTaskSpec:
    """The spec by short name (``maze_medium``, ``pointmaze_umaze``) or Gymnasium id; a clear
    error otherwise."""
    for spec in NAV_TASKS.values():
        if name in (spec.name, spec.env_id):
            return spec
    from robo_reward.sim.nav.gym_robotics import GYM_ROBOTICS_TASKS

    for other in GYM_ROBOTICS_TASKS.values():
        if name in (other.name, other.env_id):
            return other
    known = ", ".join([*NAV_TASKS, *GYM_ROBOTICS_TASKS])
    raise ValueError(f"unknown navigation task {name!r}; known tasks: {known}")


def register_nav_envs() -> None:
    """Register every navigation task with Gymnasium, Gymnasium-Robotics' mazes included
    (idempotent)."""
    from robo_reward.sim.nav.gym_robotics import register_gym_robotics_mazes

    register_gym_robotics_mazes()
    for spec in NAV_TASKS.values():
        if spec.env_id not in gym.registry:
            for env_id, entry_point in (
                (spec.env_id, ENTRY_POINT),
                (bullet_nav_id(spec), BULLET_ENTRY_POINT),
            ):
                gym.register(
                    id=env_id,
                    entry_point=entry_point,
                    kwargs={"size": spec.size, "layout": spec.layout},
                    max_episode_steps=spec.max_episode_steps,
                )


def bullet_nav_id(spec: NavTaskSpec) -> str:
    return spec.env_id.replace(f"{NAMESPACE}/", f"{NAMESPACE}/Bullet")


def make_nav_env(
    name: str, max_episode_steps: int | None = None, backend: str = "mujoco", **kwargs
) -> gym.Env:
    """``gym.make`` by short name, e.g. ``make_nav_env("maze_small", cameras=True)`` or
    ``make_nav_env("pointmaze_umaze")``; ``backend="pybullet"`` makes the PyBullet version of
    a maze or floor plan."""
    from robo_reward.sim.registration import check_backend

    check_backend(backend)
    register_nav_envs()
    spec = nav_task_spec(name)
    env_id = spec.env_id
    if backend == "pybullet":
        if not isinstance(spec, NavTaskSpec):
            raise ValueError(
                f"{spec.name!r} has no PyBullet version; PyBullet mazes: {', '.join(NAV_TASKS)}"
            )
        env_id = bullet_nav_id(spec)
    steps = spec.max_episode_steps if max_episode_steps is None else max_episode_steps
    return gym.make(env_id, max_episode_steps=steps, **kwargs)
