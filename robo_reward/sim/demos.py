"""Demonstrations from the scripted experts: clean, noisy, perturbed and failed episodes.

Reward models learn regress from real regress, so besides clean demos a dataset holds noisy
experts, experts that undo their progress mid-way (and recover or give up), and failures. Each
episode keeps keyframes when it is a clean success and its true per-frame progress wherever the
expert knows it (see :mod:`robo_reward.sim.experts.base`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from robo_reward.config import config_to_dict
from robo_reward.data import DatasetReader, DatasetWriter, Trajectory, piecewise_linear_progress
from robo_reward.sim.env_config import EnvConfig
from robo_reward.sim.experts import EXPERTS, Disruption, ScriptedExpert
from robo_reward.sim.registration import task_spec

DEMO_VARIANTS = ("expert", "noisy", "perturbed", "failure")


@dataclass(frozen=True)
class DemoConfig:
    """What ``robo-reward demos generate`` writes."""

    task: str = "push"
    """Task name (reach, push, pick_place, stack, drawer_open, button_press)."""
    episodes: int = 50
    """Number of episodes."""
    seed: int = 0
    """Episode ``i`` resets the env with seed ``seed + i``."""
    variants: dict[str, float] = field(default_factory=lambda: {"expert": 1.0})
    """Relative frequency of each variant: expert, noisy, perturbed, failure."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """Env settings: cameras, image size, depth, randomisation."""
    noise_std: float = 0.15
    """Action noise of the noisy variant (in normalised action units)."""
    episodes_per_shard: int = 10
    """Episodes per npz shard."""

    def __post_init__(self) -> None:
        task_spec(self.task)
        for name in ("episodes", "episodes_per_shard"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        unknown = set(self.variants) - set(DEMO_VARIANTS)
        if unknown:
            raise ValueError(f"unknown variants {sorted(unknown)}; choose from {DEMO_VARIANTS}")
        if any(w < 0 for w in self.variants.values()) or sum(self.variants.values()) <= 0:
            raise ValueError("variant weights must be >= 0 and not all zero")
        if not self.env.cameras:
            raise ValueError("record at least one camera (env.cameras)")
        if self.noise_std < 0:
            raise ValueError("noise_std must be >= 0")


def plan_variant(
    variant: str, expert_class: type[ScriptedExpert], rng: np.random.Generator, noise_std: float
) -> dict[str, Any]:
    """Expert keyword arguments (noise, disruption) for one episode of ``variant``."""
    if variant == "expert":
        return {}
    if variant == "noisy":
        return {"noise_std": noise_std, "random_action_prob": 0.05}
    if variant == "perturbed":
        phase = str(rng.choice(expert_class.perturbable_phases()))
        recover = bool(rng.uniform() < 0.8)
        disruption = Disruption("perturb", phase, float(rng.uniform(0.25, 0.6)), recover)
        return {"noise_std": 0.03, "disruption": disruption}
    if variant == "failure":
        if rng.uniform() < 0.7:
            phase = str(rng.choice(expert_class.subtask_labels))
            return {"disruption": Disruption("stall", phase, float(rng.uniform(0.2, 0.6)))}
        return {"disruption": Disruption("random")}
    raise ValueError(f"unknown variant {variant!r}; choose from {DEMO_VARIANTS}")


def rollout(
    task: str,
    seed: int,
    variant: str = "expert",
    env_config: EnvConfig | None = None,
    noise_std: float = 0.15,
    env: gym.Env | None = None,
    disruption: Disruption | None = None,
) -> Trajectory:
    """Run one episode of the task's scripted expert and return it as a :class:`Trajectory`.

    ``env`` may be passed to reuse one (made by ``make_env(task, ...)`` with the time limit of
    :func:`episode_limit`); otherwise one is made from ``env_config`` and closed. Perturbed
    episodes get twice the usual time limit so they can recover. ``disruption`` replaces the
    randomly planned one of a perturbed or failure episode (e.g. a stall in a chosen phase).
    """
    spec = task_spec(task)
    if variant not in DEMO_VARIANTS:
        raise ValueError(f"unknown demo variant {variant!r}; choose from {DEMO_VARIANTS}")
    rng = np.random.default_rng([seed, DEMO_VARIANTS.index(variant)])
    expert_kwargs = plan_variant(variant, EXPERTS[spec.name], rng, noise_std)
    if disruption is not None:
        if variant not in ("perturbed", "failure"):
            raise ValueError("a disruption applies to the perturbed and failure variants only")
        expert_kwargs["disruption"] = disruption
    own_env = env is None
    if own_env:
        env = (env_config or EnvConfig()).make(spec.name, episode_limit(spec.name, variant))
    try:
        return _run_episode(env, spec.name, seed, variant, rng, expert_kwargs)
    finally:
        if own_env:
            env.close()


def episode_limit(task: str, variant: str) -> int:
    base = task_spec(task).max_episode_steps
    return 2 * base if variant == "perturbed" else base


def _run_episode(
    env: gym.Env,
    task: str,
    seed: int,
    variant: str,
    rng: np.random.Generator,
    expert_kwargs: dict[str, Any],
) -> Trajectory:
    unwrapped = env.unwrapped
    obs, info = env.reset(seed=seed)
    expert = EXPERTS[task](unwrapped, rng, **expert_kwargs)
    expert.reset()
    views = unwrapped.cameras
    frames = {view: [obs[view]] for view in views}
    depth = {view: [obs[f"{view}_depth"]] for view in views if unwrapped.depth}
    states, goals_achieved, goals_desired = (
        [obs["state"]],
        [obs["achieved_goal"]],
        [obs["desired_goal"]],
    )
    timestamps, actions, rewards = [info["timestamp_ns"]], [], []
    frame = 0
    while True:
        action = expert.act(frame)
        obs, reward, terminated, truncated, info = env.step(action)
        frame += 1
        actions.append(action)
        rewards.append(reward)
        for view in views:
            frames[view].append(obs[view])
        for view in depth:
            depth[view].append(obs[f"{view}_depth"])
        states.append(obs["state"])
        goals_achieved.append(obs["achieved_goal"])
        goals_desired.append(obs["desired_goal"])
        timestamps.append(info["timestamp_ns"])
        if terminated or truncated:
            break

    success = bool(info["is_success"])
    num_frames = frame + 1
    fired = {event["event"] for event in expert.log.events}
    keyframes = expert.keyframes(frame, success)
    milestones = expert.progress_milestones(frame, success)
    progress = None
    if milestones is not None:
        progress = piecewise_linear_progress(milestones, num_frames)
    disruption = expert_kwargs.get("disruption")
    return Trajectory(
        frames={view: np.stack(images) for view, images in frames.items()},
        depth={view: np.stack(images) for view, images in depth.items()},
        actions=np.asarray(actions, dtype=np.float32),
        states=np.asarray(states, dtype=np.float32),
        timestamps_ns=np.asarray(timestamps, dtype=np.int64),
        task=task,
        task_text=unwrapped.task_text,
        success=success,
        variant=realized_variant(variant, fired),
        keyframes=keyframes[0] if keyframes else None,
        subtask_labels=keyframes[1] if keyframes else None,
        progress=progress,
        achieved_goals=np.asarray(goals_achieved, dtype=np.float32),
        desired_goals=np.asarray(goals_desired, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float32),
        seed=int(seed),
        metadata={
            "expert": type(expert).__name__,
            "planned_variant": variant,
            "noise_std": expert.noise_std,
            "random_action_prob": expert.random_action_prob,
            "disruption": asdict(disruption) if disruption is not None else None,
            "events": expert.log.events,
            "phase_starts": [[f, label] for f, label in expert.log.phase_starts],
            "truncated": bool(truncated),
        },
    )


def realized_variant(planned: str, fired_events: set[str]) -> str:
    """What an episode turned out to be: a planned perturbation or stall can fail to happen
    (the task finished first), and such an episode is not labelled as one."""
    if planned == "perturbed" and "perturb" not in fired_events:
        return "noisy"
    if planned == "failure" and not fired_events & {"stall", "random_actions"}:
        return "expert"
    return planned


def generate_demos(config: DemoConfig, out: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Write ``config.episodes`` episodes to a dataset directory; returns its summary."""
    rng = np.random.default_rng(config.seed)
    names = sorted(config.variants)
    weights = np.array([config.variants[n] for n in names], dtype=float)
    chosen = rng.choice(names, size=config.episodes, p=weights / weights.sum())
    # Make every env before opening the writer, so bad settings fail before anything is written.
    limits = {variant: episode_limit(config.task, variant) for variant in set(chosen)}
    envs: dict[int, gym.Env] = {}
    metadata = {"generator": "robo-reward demos generate", "config": config_to_dict(config)}
    try:
        for limit in sorted(set(limits.values())):
            envs[limit] = config.env.make(config.task, limit)
        with DatasetWriter(
            out, config.task, metadata, config.episodes_per_shard, overwrite=overwrite
        ) as writer:
            for index in tqdm(range(config.episodes), desc=f"demos {config.task}", unit="ep"):
                variant = str(chosen[index])
                env = envs[limits[variant]]
                traj = rollout(
                    config.task, config.seed + index, variant, None, config.noise_std, env
                )
                writer.add(traj)
    finally:
        for env in envs.values():
            env.close()
    return DatasetReader(out).summary()
