"""Shared fixtures of the simulation tests: an env factory that always closes what it made, and
a runner that drives a task's scripted expert and records every step.

Rendering note: with OSMesa, closing an env frees GL objects in whichever context is current, so
closing one env can spoil the images of another one still open (see
``test_rendering.py::test_closing_one_env_leaves_other_envs_images_intact``). Tests that
compare images therefore make their own envs and close them only at teardown; module-scoped
envs never render (``cameras=()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from robo_reward.sim import make_env
from robo_reward.sim.experts import EXPERTS, ScriptedExpert


@dataclass
class Episode:
    """Everything the env returned while an expert acted, one entry per step (obs has T+1)."""

    expert: ScriptedExpert
    observations: list[dict[str, np.ndarray]] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminated: list[bool] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    infos: list[dict[str, Any]] = field(default_factory=list)

    @property
    def num_steps(self) -> int:
        return len(self.rewards)

    @property
    def success(self) -> bool:
        return bool(self.infos[-1]["is_success"])

    def goals(self, key: str) -> np.ndarray:
        """``achieved_goal`` or ``desired_goal`` after every step, stacked: ``(T, G)``."""
        return np.stack([obs[key] for obs in self.observations[1:]])


def drive_expert(
    env: gym.Env, seed: int, expert_seed: int | None = None, **expert_kwargs: Any
) -> Episode:
    """Reset ``env`` with ``seed`` and let the task's expert act until the episode ends."""
    unwrapped = env.unwrapped
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed if expert_seed is None else expert_seed)
    expert = EXPERTS[unwrapped.task_name](unwrapped, rng, **expert_kwargs)
    expert.reset()
    episode = Episode(expert, observations=[obs], infos=[info])
    while True:
        action = expert.act(episode.num_steps)
        obs, reward, terminated, truncated, info = env.step(action)
        episode.observations.append(obs)
        episode.actions.append(action)
        episode.rewards.append(reward)
        episode.terminated.append(terminated)
        episode.truncated.append(truncated)
        episode.infos.append(info)
        if terminated or truncated:
            return episode


@pytest.fixture
def make() -> Iterator[Callable[..., gym.Env]]:
    """``make(task, **kwargs)`` is ``make_env``; every env made is closed after the test."""
    envs: list[gym.Env] = []

    def factory(task: str, **kwargs: Any) -> gym.Env:
        env = make_env(task, **kwargs)
        envs.append(env)
        return env

    yield factory
    for env in reversed(envs):
        env.close()


@pytest.fixture
def run_expert() -> Callable[..., Episode]:
    """``run_expert(env, seed, **expert_kwargs)``: see :func:`drive_expert`."""
    return drive_expert
