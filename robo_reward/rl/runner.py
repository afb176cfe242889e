"""``robo-reward train``: one typed config → a shaped task env → SAC or PPO → a run folder.

A run folder ``<out>/<task>__<algo>__<seed>__<time>/`` holds ``config.yaml`` (everything the
run was made with), ``metrics.csv`` (and TensorBoard files when enabled), ``trainer.safetensors``
with its sidecars (exact resume with ``--resume <run folder>``) and ``policy.safetensors`` (the
policy alone, for deployment: :func:`robo_reward.rl.policy.load_policy`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import yaml

from robo_reward.config import config_from_dict, config_to_dict
from robo_reward.data.atomic import atomic_write_text
from robo_reward.rl.logger import run_name
from robo_reward.rl.policy import save_policy
from robo_reward.rl.ppo import PPO, PPOConfig
from robo_reward.rl.sac import SAC, SACConfig
from robo_reward.shaping.compose import RewardConfig, potential_factory, shaped_env
from robo_reward.sim.env_config import EnvConfig
from robo_reward.sim.registration import task_spec

ALGOS = ("sac", "ppo")
TRAINER_FILE = "trainer.safetensors"
POLICY_FILE = "policy.safetensors"
CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class TrainConfig:
    """What ``robo-reward train`` runs."""

    algo: Literal["sac", "ppo"] = "sac"
    """Controller: sac or ppo."""
    task: str = "reach"
    """Task name (see ``robo-reward tasks``)."""
    seed: int = 0
    """Seeds the controller (networks, exploration, env resets, evaluation)."""
    steps: int = 20_000
    """Env steps to train for (summed over parallel envs)."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    env: EnvConfig = field(default_factory=lambda: EnvConfig(cameras=()))
    """The task env; cameras are only needed by image rewards or image policies."""
    sac: SACConfig = field(default_factory=SACConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    save_every: int = 0
    """Env steps between trainer checkpoints (0: only at the end)."""

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        task_spec(self.task)
        if self.steps <= 0 or self.save_every < 0:
            raise ValueError("steps must be > 0 and save_every >= 0")
        if self.reward.needs_cameras and not self.env.cameras:
            raise ValueError(
                f"the {self.reward.kind} reward reads camera images, but env.cameras is empty; "
                "set e.g. "
                "env.cameras=[front,side,wrist]"
            )

    @property
    def gamma(self) -> float:
        """The learner's discount, which the shaping must use too."""
        return self.sac.gamma if self.algo == "sac" else self.ppo.gamma


def default_obs_keys(env: gym.Env) -> tuple[str, ...]:
    """Non-image observation keys: proprioception, object state (when the task has one), goal."""
    keys = env.observation_space.spaces
    return tuple(k for k in ("state", "object", "desired_goal") if k in keys)


def env_factory(config: TrainConfig) -> Callable[[], gym.Env]:
    """Zero-argument factory of the shaped task env (each call: a fresh env and potential)."""
    potentials = potential_factory(config.reward, config.task, config.env)

    def make() -> gym.Env:
        env = config.env.make(config.task)
        potential = None if potentials is None else potentials()
        return shaped_env(env, config.reward, config.gamma, potential)

    return make


def _algo_config(config: TrainConfig, obs_keys: tuple[str, ...]) -> SACConfig | PPOConfig:
    algo_config = config.sac if config.algo == "sac" else config.ppo
    changes: dict[str, Any] = {"total_steps": config.steps, "seed": config.seed}
    if algo_config.obs_keys is None:
        changes["obs_keys"] = obs_keys
    return dataclasses.replace(algo_config, **changes)


def train(
    config: TrainConfig,
    out: str | Path,
    resume: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, dict[str, float]]:
    """Train, save the trainer and the policy, return the run folder and the final metrics."""
    make = env_factory(config)
    probe = make()
    obs_keys = default_obs_keys(probe)
    probe.close()
    trainer_class = SAC if config.algo == "sac" else PPO
    if resume is not None:
        run_dir = Path(resume)
        checkpoint = run_dir / TRAINER_FILE
        if not checkpoint.is_file():
            raise FileNotFoundError(f"nothing to resume: {checkpoint} does not exist")
        trainer = trainer_class.load(checkpoint, make, run_dir)
    else:
        run_dir = Path(out) / run_name(config.task, config.algo, config.seed)
        run_dir.mkdir(parents=True, exist_ok=False)
        trainer = trainer_class(make, _algo_config(config, obs_keys), run_dir)
        atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(config_to_dict(config)))

    saved_at = [trainer.global_step]

    def checkpoint_now(t: Any) -> None:
        """Save when a multiple of ``save_every`` was crossed since the last save (SAC calls
        back every vector step, PPO every rollout)."""
        every = config.save_every
        if every and t.global_step // every > saved_at[0] // every:
            t.save(run_dir / TRAINER_FILE)
            saved_at[0] = t.global_step

    try:
        metrics = trainer.learn(config.steps, progress_bar=progress, callback=checkpoint_now)
        metrics = {**metrics, **trainer.evaluate()}
    finally:
        trainer.save(run_dir / TRAINER_FILE)
    save_policy(run_dir / POLICY_FILE, trainer.actor, config.algo, extra={"task": config.task})
    return run_dir, metrics


def load_train_config(run_dir: str | Path) -> TrainConfig:
    """The config a run folder was made with."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: not a robo-reward train run folder")
    return config_from_dict(TrainConfig, yaml.safe_load(path.read_text()), str(path))
