"""Gymnasium registration of the maze navigation tasks.

They have no scripted manipulation expert and take other keyword arguments than the tabletop
tasks, so they sit in their own table, ``NAV_TASKS``; ``robo_reward.sim.register_envs()``
registers both tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

NAMESPACE = "robo_reward"
ENTRY_POINT = "robo_reward.sim.nav.env:MazeNavEnv"


@dataclass(frozen=True)
class NavTaskSpec:
    """A navigation task: short name, maze size, Gymnasium id and time limit (steps of 0.1 s)."""

    name: str
    size: str
    env_id: str
    max_episode_steps: int


NAV_TASKS: dict[str, NavTaskSpec] = {
    spec.name: spec
    for spec in (
        NavTaskSpec("maze_small", "small", f"{NAMESPACE}/MazeSmall-v0", 600),
        NavTaskSpec("maze_medium", "medium", f"{NAMESPACE}/MazeMedium-v0", 1500),
        NavTaskSpec("maze_large", "large", f"{NAMESPACE}/MazeLarge-v0", 2500),
    )
}


def nav_task_spec(name: str) -> NavTaskSpec:
    """The spec by short name (``maze_medium``) or Gymnasium id; a clear error otherwise."""
    for spec in NAV_TASKS.values():
        if name in (spec.name, spec.env_id):
            return spec
    raise ValueError(f"unknown navigation task {name!r}; known tasks: {', '.join(NAV_TASKS)}")


def register_nav_envs() -> None:
    """Register every navigation task with Gymnasium (idempotent)."""
    for spec in NAV_TASKS.values():
        if spec.env_id not in gym.registry:
            gym.register(
                id=spec.env_id,
                entry_point=ENTRY_POINT,
                kwargs={"size": spec.size},
                max_episode_steps=spec.max_episode_steps,
            )


def make_nav_env(name: str, max_episode_steps: int | None = None, **kwargs) -> gym.Env:
    """``gym.make`` by short name, e.g. ``make_nav_env("maze_small", cameras=True)``."""
    register_nav_envs()
    spec = nav_task_spec(name)
    steps = spec.max_episode_steps if max_episode_steps is None else max_episode_steps
    return gym.make(spec.env_id, max_episode_steps=steps, **kwargs)
