"""The env settings every command shares (demos, benchmarks, training), as one typed config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym

from robo_reward.sim.randomization import RandomizationConfig
from robo_reward.sim.registration import check_backend, make_env
from robo_reward.sim.tasks.base import DEFAULT_CAMERAS


@dataclass(frozen=True)
class EnvConfig:
    """Keyword arguments of the tabletop envs (see ``robo_reward.sim.tasks.base.TabletopEnv``)."""

    cameras: tuple[str, ...] = DEFAULT_CAMERAS
    """Camera views rendered into the observation."""
    image_size: int = 96
    """Square image size in pixels."""
    depth: bool = False
    """Also render a depth image per view."""
    frame_skip: int = 20
    """Physics steps (2 ms each) per env step."""
    action_scale: float = 0.05
    """Metres the grip target moves for an action component of 1."""
    terminate_on_success: bool = True
    """End the episode (terminated=True) on success."""
    reward_type: str = "success"
    """Sparse reward: success (1 on success, else 0) or step_penalty (-1 per step until
    success, Fetch's convention; better for SAC's entropy bonus)."""
    randomization: RandomizationConfig | None = field(default_factory=RandomizationConfig)
    """Per-episode visual randomisation; null for the nominal scene."""
    appearance_seed: int | None = None
    """Fix the randomised appearance to one draw for every episode (placement still varies)."""
    backend: str = "mujoco"
    """Simulator: mujoco, or pybullet (push and reach only; the cross-simulator check)."""

    def __post_init__(self) -> None:
        check_backend(self.backend)

    def env_kwargs(self) -> dict[str, Any]:
        """The env constructor's keyword arguments (the backend chooses the class)."""
        kwargs = asdict(self)
        kwargs["randomization"] = self.randomization
        del kwargs["backend"]
        return kwargs

    def make(self, task: str, max_episode_steps: int | None = None) -> gym.Env:
        return make_env(
            task, max_episode_steps=max_episode_steps, backend=self.backend, **self.env_kwargs()
        )
