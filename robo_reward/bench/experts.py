"""Scripted-expert success rates per task (the demos' quality bar: >= 95% of seeds)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from robo_reward.sim.demos import episode_limit, rollout
from robo_reward.sim.env_config import EnvConfig
from robo_reward.sim.registration import TASKS, task_spec

EXPERT_SUCCESS_TARGET = 0.95
PHYSICS_ONLY = EnvConfig(cameras=("front",), image_size=16)
"""Trajectories need one view; a tiny one keeps this measurement about physics and experts."""


@dataclass(frozen=True)
class ExpertBenchConfig:
    """Settings of the expert-success measurement."""

    tasks: tuple[str, ...] = tuple(TASKS)
    """Tasks to measure."""
    seeds: int = 50
    """Episodes (seeds 0..seeds-1) per task."""
    variants: tuple[str, ...] = ("expert",)
    """Demo variants to measure (expert, noisy, perturbed, failure)."""

    def __post_init__(self) -> None:
        for task in self.tasks:
            task_spec(task)
        if self.seeds < 1:
            raise ValueError("seeds must be >= 1")


def run_expert_bench(config: ExpertBenchConfig, progress: bool = True) -> dict[str, Any]:
    """Success rate, episode length and keyframe coverage per task and variant (no rendering)."""
    results: dict[str, Any] = {}
    jobs = [(t, v) for t in config.tasks for v in config.variants]
    for task, variant in tqdm(jobs, desc="experts", unit="task", disable=not progress):
        successes, lengths, keyframed, as_planned = [], [], [], []
        env = PHYSICS_ONLY.make(task, episode_limit(task, variant))
        for seed in range(config.seeds):
            traj = rollout(task, seed, variant, env=env)
            successes.append(traj.success)
            lengths.append(traj.num_steps)
            keyframed.append(traj.keyframes is not None)
            as_planned.append(traj.variant == variant)
        env.close()
        results.setdefault(task, {})[variant] = {
            "episodes": config.seeds,
            "success_rate": float(np.mean(successes)),
            "mean_steps": float(np.mean(lengths)),
            "keyframed_share": float(np.mean(keyframed)),
            "as_planned_share": float(np.mean(as_planned)),
        }
    return results


def expert_markdown(results: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    rows = []
    for task, by_variant in results.items():
        for variant, r in by_variant.items():
            verdict = ""
            if variant == "expert":
                verdict = "yes" if r["success_rate"] >= EXPERT_SUCCESS_TARGET else "NO"
            rows.append(
                [
                    task,
                    variant,
                    r["episodes"],
                    f"{100 * r['success_rate']:.0f}%",
                    f"{r['mean_steps']:.1f}",
                    f"{100 * r['keyframed_share']:.0f}%",
                    f"{100 * r['as_planned_share']:.0f}%",
                    verdict,
                ]
            )
    header = ["task", "variant", "episodes", "success", "mean steps", "keyframed", "as planned"]
    note = (
        "\n`as planned`: share of episodes in which the planned disruption happened (it can come "
        "too late when the task finishes first; such an episode is labelled by what it was). "
        "Perturbed experts give up after the undo in 20% of episodes by design.\n"
    )
    return "### Scripted experts\n\n" + markdown_table([*header, ">= 95%"], rows) + note
