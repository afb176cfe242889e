"""``robo-reward bench dopamine``: GRM-shaped SAC on a task the GRM never saw, with ablations.

The loop the reward model exists for (Robo-Dopamine, Tan et al. 2025): one demonstration
conditions (and adapts) the GRM; its progress becomes a potential; SAC learns from
``r = r_gold + γΦ(s') − Φ(s) − 1`` (success bonus when Φ(s') ≥ 0.95, potential-based shaping,
Fetch's −1 per step so that SAC's entropy bonus cannot make lingering pay). Arms:

``sparse``           the task's own reward (−1 until success), no shaping;
``grm``              GRM adapted on the demo, fused progress, PBRS + r_gold;
``grm_naive``        the same with Φ(s') − Φ(s) (the semantic-trap ablation);
``grm_general``      the general GRM without adaptation;
``grm_incremental`` / ``grm_forward`` / ``grm_backward``   one anchoring instead of the fusion;
``perceptual``       a perceptual reward (Sermanet et al. 2017) fitted on 5 expert demos;
``privileged``       the simulator's true progress in place of the GRM (the upper bound).

Every arm starts from the same behaviour-cloned policy when ``bc_steps > 0``, trains the same
SAC on state observations (the reward model alone sees the cameras), and is evaluated on true
task success on the same fixed-seed episodes. Reported: success-rate curves against training
episodes (PNG), episodes to reach 80% of the arm's final success rate, and final success.
"""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robo_reward.bench.worker import run_in_worker
from robo_reward.grm.adapt import AdaptConfig
from robo_reward.rl.sac import SACConfig
from robo_reward.shaping.compose import RewardConfig

ARMS = (
    "sparse",
    "grm",
    "grm_naive",
    "grm_general",
    "grm_incremental",
    "grm_forward",
    "grm_backward",
    "perceptual",
    "privileged",
)
DOPAMINE_REWARD = {"task_weight": 0.0, "success_bonus": 1.0, "time_penalty": 1.0}


@dataclass(frozen=True)
class DopamineConfig:
    """The GRM-shaped RL benchmark."""

    task: str = "button_press"
    """A task held out of GRM pretraining."""
    arms: tuple[str, ...] = ARMS
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 15_000
    """Env steps per run."""
    eval_every: int = 1_000
    """Env steps between evaluations."""
    eval_episodes: int = 10
    demo_seed: int = 40_000
    """Seed of the one expert demonstration (reference, adaptation and BC data)."""
    bc_steps: int = 500
    """Behaviour-cloning steps on the demo before RL (0: start from scratch)."""
    workers: int = 2
    """Runs in parallel (one process each)."""
    sac: SACConfig = field(
        default_factory=lambda: SACConfig(
            learning_starts=500, buffer_size=100_000, eval_episodes=10, log_every=5_000
        )
    )
    adaptation: AdaptConfig = field(default_factory=AdaptConfig)

    def __post_init__(self) -> None:
        unknown = set(self.arms) - set(ARMS)
        if unknown:
            raise ValueError(f"unknown arms {sorted(unknown)}; arms: {ARMS}")
        if not self.seeds or self.steps <= 0 or self.eval_every <= 0:
            raise ValueError("need seeds, steps > 0 and eval_every > 0")


def arm_reward(arm: str, adapted_checkpoint: str) -> RewardConfig:
    """The reward config of one arm."""
    if arm == "sparse":
        return RewardConfig(kind="sparse")
    if arm == "privileged":
        return RewardConfig(kind="privileged", **DOPAMINE_REWARD)
    if arm == "perceptual":
        return RewardConfig(kind="perceptual", **DOPAMINE_REWARD)
    changes: dict[str, Any] = {"checkpoint": adapted_checkpoint}
    if arm == "grm_naive":
        changes["mode"] = "naive"
    elif arm == "grm_general":
        changes["checkpoint"] = ""
    elif arm.startswith("grm_"):
        changes["anchoring"] = arm.removeprefix("grm_")
    return RewardConfig(kind="grm", **DOPAMINE_REWARD, **changes)


def run_arm(arm: str, seed: int, config_json: str, adapted: str, out: str) -> dict[str, Any]:
    """Train one arm with one seed (in a worker process); the success curve and the policy."""
    import torch

    from robo_reward.config import config_from_dict
    from robo_reward.rl.bc import behaviour_clone
    from robo_reward.rl.policy import save_policy
    from robo_reward.rl.runner import default_obs_keys
    from robo_reward.rl.sac import SAC
    from robo_reward.shaping.compose import potential_factory, shaped_env
    from robo_reward.sim.env_config import EnvConfig

    torch.set_num_threads(1)
    config = config_from_dict(DopamineConfig, json.loads(config_json))
    reward = arm_reward(arm, adapted)
    cameras = ("front", "side", "wrist") if reward.needs_cameras else ()
    env_config = EnvConfig(
        cameras=cameras, appearance_seed=config.demo_seed, reward_type="step_penalty"
    )
    demo_env_config = dataclasses.replace(env_config, cameras=("front", "side", "wrist"))
    potentials = potential_factory(reward, config.task, demo_env_config)

    def make():
        env = env_config.make(config.task)
        potential = None if potentials is None else potentials()
        return shaped_env(env, reward, config.sac.gamma, potential)

    state_config = dataclasses.replace(env_config, cameras=())

    def make_eval():
        return state_config.make(config.task)

    probe = make_eval()
    sac_config = dataclasses.replace(
        config.sac, total_steps=config.steps, seed=seed, obs_keys=default_obs_keys(probe)
    )
    probe.close()
    curve: list[dict[str, float]] = []
    with SAC(make, sac_config, eval_env=make_eval) as sac:
        if config.bc_steps:
            observations, actions = demo_pairs(config.task, config.demo_seed, state_config)
            behaviour_clone(sac.actor, observations, actions, config.bc_steps, seed=seed)

        def evaluate(s: SAC) -> None:
            result = s.evaluate()
            curve.append(
                {
                    "step": s.global_step,
                    "episodes": s.num_episodes,
                    "success": result["eval/success_rate"],  # the tasks report is_success
                }
            )

        evaluate(sac)
        sac.learn(
            progress_bar=False,
            callback=lambda s: evaluate(s) if s.global_step % config.eval_every == 0 else None,
        )
        save_policy(Path(out) / f"{arm}_{seed}.safetensors", sac.actor, "sac")
    return {"arm": arm, "seed": seed, "curve": curve}


def demo_pairs(task: str, seed: int, env_config) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """(observation, action) pairs of the scripted expert's episode with ``seed``."""
    from robo_reward.sim.experts import EXPERTS

    env = env_config.make(task)
    obs, _ = env.reset(seed=seed)
    expert = EXPERTS[task](env.unwrapped, np.random.default_rng(seed))
    expert.reset()
    observations, actions = [], []
    for frame in range(10_000):
        action = expert.act(frame)
        observations.append(obs)
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    env.close()
    return observations, np.asarray(actions, dtype=np.float32)


def episodes_to_fraction(curve: list[dict[str, float]], fraction: float = 0.8) -> float:
    """Training episodes until the success rate first reaches ``fraction`` of its final value
    (the mean of the last two evaluations); NaN when the final rate is 0."""
    final = float(np.mean([point["success"] for point in curve[-2:]]))
    if final <= 0:
        return float("nan")
    for point in curve:
        if point["success"] >= fraction * final:
            return float(point["episodes"])
    return float(curve[-1]["episodes"])


def run_dopamine(config: DopamineConfig, run_dir: Path, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from robo_reward.config import config_to_dict
    from robo_reward.grm.adapt import adapt
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    needs_adaptation = any(arm.startswith("grm") and arm != "grm_general" for arm in config.arms)
    adapted = ""
    results: dict[str, Any] = {"task": config.task, "runs": []}
    if needs_adaptation:
        demo = rollout(
            config.task, config.demo_seed, env_config=EnvConfig(appearance_seed=config.demo_seed)
        )
        result = adapt(demo, run_dir / "adapted", config.adaptation, progress=False)
        adapted = str(result.train.checkpoint)
        results["adaptation"] = {"seconds": result.train.seconds, "frames": result.frames}
    config_json = json.dumps(config_to_dict(config))
    jobs = [(arm, seed) for seed in config.seeds for arm in config.arms]
    policies = run_dir / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    with (
        ThreadPoolExecutor(config.workers) as pool,
        tqdm(total=len(jobs), desc="dopamine", disable=not progress) as bar,
    ):
        futures = [
            pool.submit(
                run_in_worker,
                __name__,
                "run_arm",
                [arm, seed, config_json, adapted, str(policies)],
                False,
            )
            for arm, seed in jobs
        ]
        for future in futures:
            results["runs"].append(future.result())
            bar.update(1)
    results["summary"] = summarize(results["runs"])
    return results


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_arm.setdefault(run["arm"], []).append(run)
    summary = {}
    for arm, arm_runs in by_arm.items():
        finals = [np.mean([p["success"] for p in r["curve"][-2:]]) for r in arm_runs]
        episodes = [episodes_to_fraction(r["curve"]) for r in arm_runs]
        reached = [e for e in episodes if np.isfinite(e)]
        summary[arm] = {
            "final_success": float(np.mean(finals)),
            "final_success_std": float(np.std(finals)),
            # None (JSON null) when no seed learned anything: there is no 80% of 0 to reach.
            "episodes_to_80pct": float(np.mean(reached)) if reached else None,
            "seeds": len(arm_runs),
        }
    return summary


def dopamine_markdown(results: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    rows = [
        [
            arm,
            f"{100 * s['final_success']:.0f}% ± {100 * s['final_success_std']:.0f}",
            "-" if s["episodes_to_80pct"] is None else f"{s['episodes_to_80pct']:.0f}",
            str(s["seeds"]),
        ]
        for arm, s in results["summary"].items()
    ]
    header = ["arm", "final success", "episodes to 80% of final", "seeds"]
    return (
        f"### GRM-shaped SAC on {results['task']} (held out of GRM pretraining)\n\n"
        + markdown_table(header, rows)
        + "\n\n![success curves](dopamine_success.png)\n"
    )


def plot_curves(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for run in results["runs"]:
        by_arm.setdefault(run["arm"], []).append(run)
    for arm, runs in by_arm.items():
        grid = np.linspace(0, max(p["episodes"] for r in runs for p in r["curve"]), 50)
        curves = [
            np.interp(grid, [p["episodes"] for p in r["curve"]], [p["success"] for p in r["curve"]])
            for r in runs
        ]
        mean = np.mean(curves, 0)
        ax.plot(grid, mean, label=arm)
        ax.fill_between(grid, np.min(curves, 0), np.max(curves, 0), alpha=0.15)
    ax.set_xlabel("training episodes")
    ax.set_ylabel("success rate (evaluation)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"SAC on {results['task']}: reward arms (mean, min-max over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
