"""``robo-reward train``: one typed config → a shaped task env → SAC or PPO → a run folder.

A run folder ``<out>/<task>__<algo>__<seed>__<time>/`` holds ``config.yaml`` (everything the
run was made with), ``metrics.csv`` (and TensorBoard files when enabled), ``trainer.safetensors``
with its sidecars (exact resume with ``--resume <run folder>``) and ``policy.safetensors`` (the
policy alone, for deployment: :func:`robo_reward.rl.policy.load_policy`).

A run killed at any instant (even SIGKILL while a checkpoint is being written) resumes exactly:
the trainer files are one atomic set (:func:`robo_reward.data.atomic.atomic_group`), and
``metrics.csv`` is cut back to what it held when the checkpoint was saved, so the resumed run
logs every row once.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import yaml

from robo_reward.config import config_from_dict, config_to_dict
from robo_reward.data.atomic import atomic_write_text, recover_group, remove_stale_temps
from robo_reward.rl.logger import METRICS_FILE, run_name
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
        if self.seed < 0:  # checked here, before a run folder is made, not only by SAC/PPO
            raise ValueError(f"seed must be an int >= 0, got {self.seed}")
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


def _metrics_bytes(run_dir: Path) -> int:
    """Size of ``metrics.csv`` now (the logger flushes every row)."""
    try:
        return (run_dir / METRICS_FILE).stat().st_size
    except FileNotFoundError:
        return 0


def _rewind_metrics(run_dir: Path, size: Any) -> None:
    """Cut ``metrics.csv`` back to ``size`` bytes, dropping the rows a crashed run logged after
    its last checkpoint (the resumed run logs them again). The logger appends (O_APPEND), so
    its next row lands at the new end."""
    path = run_dir / METRICS_FILE
    if isinstance(size, int) and not isinstance(size, bool) and 0 < size < _metrics_bytes(run_dir):
        os.truncate(path, size)


def _named_run_error(error: OSError, run_dir: Path) -> OSError:
    """An OSError that names no file (a failed flush of the metrics, say) names the run folder."""
    if error.filename is not None or error.errno is None:
        return error
    return OSError(error.errno, error.strerror or os.strerror(error.errno), os.fspath(run_dir))


def train(
    config: TrainConfig,
    out: str | Path,
    resume: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, dict[str, float]]:
    """Train, save the trainer and the policy, return the run folder and the final metrics.

    An ``OSError`` (full disk, read-only folder) names the file or the run folder it concerns;
    the checkpoint saved before it stays loadable.
    """
    make = env_factory(config)
    probe = make()
    obs_keys = default_obs_keys(probe)
    probe.close()
    trainer_class = SAC if config.algo == "sac" else PPO
    if resume is not None:
        run_dir = Path(resume)
        checkpoint = run_dir / TRAINER_FILE
        # A run killed while committing its first save has its trainer file still staged.
        recover_group([checkpoint, *trainer_class.sidecar_paths(checkpoint).values()])
        if not checkpoint.is_file():
            raise FileNotFoundError(f"nothing to resume: {checkpoint} does not exist")
        trainer = trainer_class.load(checkpoint, make, run_dir)
        _rewind_metrics(run_dir, trainer.checkpoint_extra.get("metrics_bytes"))
        for name in (POLICY_FILE, CONFIG_FILE):
            remove_stale_temps(run_dir / name)
    else:
        run_dir = Path(out) / run_name(config.task, config.algo, config.seed)
        run_dir.mkdir(parents=True, exist_ok=False)
        try:
            atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(config_to_dict(config)))
        except OSError:
            run_dir.rmdir()  # nothing else is in it yet: leave no empty run folder behind
            raise
        trainer = trainer_class(make, _algo_config(config, obs_keys), run_dir)

    saved_at = [trainer.global_step]

    def checkpoint_now(t: Any) -> None:
        """Save when a multiple of ``save_every`` was crossed since the last save (SAC calls
        back every vector step, PPO every rollout)."""
        every = config.save_every
        if every and t.global_step // every > saved_at[0] // every:
            save(t)
            saved_at[0] = t.global_step

    def save(t: Any, finished: bool = False) -> None:
        """``finished``: the final evaluation is in the metrics (a resume must not log it again)."""
        extra = {"metrics_bytes": _metrics_bytes(run_dir), "finished": finished}
        t.save(run_dir / TRAINER_FILE, extra=extra)

    # A run killed after its final save (while writing the policy) is only finished off.
    evaluated = trainer.checkpoint_extra.get("finished") is True
    evaluated = evaluated and trainer.global_step >= config.steps
    try:
        try:
            metrics = trainer.learn(config.steps, progress_bar=progress, callback=checkpoint_now)
            if not evaluated:
                metrics = {**metrics, **trainer.evaluate()}
                evaluated = True
        finally:
            save(trainer, finished=evaluated)
        save_policy(run_dir / POLICY_FILE, trainer.actor, config.algo, extra={"task": config.task})
    except OSError as error:
        named = _named_run_error(error, run_dir)
        if named is error:
            raise
        raise named from error
    finally:
        trainer.close()
    return run_dir, metrics


def load_train_config(run_dir: str | Path) -> TrainConfig:
    """The config a run folder was made with."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: not a robo-reward train run folder")
    return config_from_dict(TrainConfig, yaml.safe_load(path.read_text()), str(path))
