"""``robo-reward bench crosssim``: what was learned in MuJoCo, measured in PyBullet.

The project's proxy for the sim-to-real gap: the same tasks rebuilt in a second simulator
(:mod:`robo_reward.sim.bullet`: other contact model, other arm controller — inverse kinematics
and joint servos instead of a weld —, other renderer, other colours and lights), with the same
observation and action spaces. Three things cross over, and each is reported as the MuJoCo
figure, the PyBullet figure and the drop:

1. **the general reward model** (GRM, trained on MuJoCo images only): VOC on expert episodes and
   completion accuracy on success / partial / failure rollouts of ``task``, each simulator with
   a reference demo recorded in that simulator (as a robot's user records one), zero-shot; then
   after one-shot adaptation on that demo (``adapt_in``), the recipe a real robot would follow;
2. **a manipulation policy**: SAC + HER on ``policy_task`` trained in MuJoCo from proprioception
   and the goal (``policy`` names a saved one instead), its success in both simulators;
3. **navigation**: the frontier explorer and the TopoNav low-level policy shipped with the
   project (trained in MuJoCo), with the map, planner and safety filter they run with, on the
   same generated mazes in both simulators: success, steps to the goal, coverage.

The scripted experts run unchanged in both (their success is reported too, as the first sign of
a dynamics gap).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from robo_reward.grm.adapt import AdaptConfig
from robo_reward.grm.tracker import FusionConfig
from robo_reward.sim.registration import BACKENDS, BULLET_ENTRY_POINTS

SIMULATORS = BACKENDS
"""Reported in this order: where everything was trained, then the second simulator."""


@dataclass(frozen=True)
class CrossSimConfig:
    """The cross-simulator check."""

    task: str = "push"
    """Manipulation task the GRM is evaluated on (one with a PyBullet version: push, reach)."""
    checkpoint: str = ""
    """GRM checkpoint (empty: the general model shipped with the package)."""
    trajectories: int = 10
    """Expert episodes per simulator for VOC."""
    rollouts_per_class: int = 5
    """Success / partial / failure rollouts per simulator for completion accuracy."""
    demo_seed: int = 40_000
    """Seed of the reference demo (and of the fixed appearance of each simulator's scene)."""
    eval_seed: int = 50_000
    adapt_in: tuple[str, ...] = SIMULATORS
    """Simulators in which the GRM is also adapted on that simulator's demo and re-evaluated."""
    adaptation: AdaptConfig = field(default_factory=AdaptConfig)
    """How the GRM is adapted (its ``checkpoint`` is ignored: ``checkpoint`` above is used)."""
    plots: int = 2
    """Progress plots per simulator and model."""
    policy_task: str = "reach"
    """Task of the manipulation policy (one with a PyBullet version)."""
    policy: str = ""
    """A policy file trained in MuJoCo (``robo-reward train``'s policy.safetensors); empty: train
    SAC + HER here for ``policy_steps``."""
    policy_steps: int = 10_000
    policy_episodes: int = 20
    nav_size: str = "maze_small"
    """Maze (or rooms) family of the navigation check."""
    nav_seeds: tuple[int, ...] = (0, 1, 2)
    """One generated maze per seed, the same in both simulators."""
    nav_episodes: int = 3
    """Episodes per maze and agent (random initial headings)."""
    nav_agents: tuple[str, ...] = ("frontier", "toponav")
    """``frontier`` (scripted explorer) and ``toponav`` (the shipped low-level policy under the
    map's waypoints and safety filter)."""

    def __post_init__(self) -> None:
        for name in ("task", "policy_task"):
            value = getattr(self, name)
            if value not in BULLET_ENTRY_POINTS:
                raise ValueError(
                    f"{name} must be a task with a PyBullet version "
                    f"({', '.join(BULLET_ENTRY_POINTS)}), got {value!r}"
                )
        unknown = [s for s in self.adapt_in if s not in SIMULATORS]
        if unknown:
            raise ValueError(f"adapt_in: unknown simulators {unknown}; simulators: {SIMULATORS}")
        agents = [a for a in self.nav_agents if a not in ("frontier", "toponav")]
        if agents:
            raise ValueError(f"nav_agents: unknown agents {agents}; agents: frontier, toponav")
        from robo_reward.sim.nav.registration import NAV_TASKS

        if self.nav_size not in NAV_TASKS:
            raise ValueError(
                f"nav_size must be one of {', '.join(NAV_TASKS)}, got {self.nav_size!r}"
            )
        counts = (
            self.trajectories,
            self.rollouts_per_class,
            self.policy_episodes,
            self.nav_episodes,
        )
        if self.trajectories < 2 or min(counts) < 1 or self.policy_steps < 1:
            raise ValueError(
                "need trajectories >= 2, rollouts_per_class, policy_episodes, nav_episodes and "
                "policy_steps >= 1"
            )
        if self.plots < 0:
            raise ValueError("plots must be >= 0")

    @classmethod
    def quick(cls) -> CrossSimConfig:
        """The ``bench quick`` budget (a few minutes on 2 cores)."""
        return cls(
            trajectories=8,
            rollouts_per_class=5,
            adapt_in=("pybullet",),
            plots=1,
            policy_steps=6_000,
            policy_episodes=10,
            nav_episodes=2,
        )


# ----------------------------------------------------------------------------- GRM
def grm_transfer(config: CrossSimConfig, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Zero-shot (and adapted) GRM metrics in each simulator, with the expert success rates."""
    from tqdm import tqdm

    from robo_reward.data import contact_sheet
    from robo_reward.grm.adapt import adapt
    from robo_reward.grm.checkpoint import default_checkpoint, load_grm
    from robo_reward.grm.evaluate import classification_rollouts, evaluate_model
    from robo_reward.grm.tracker import Reference
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    checkpoint = config.checkpoint or str(default_checkpoint())
    general = load_grm(checkpoint)
    fusion = FusionConfig()
    adaptation = replace(config.adaptation, checkpoint=checkpoint)
    results: dict[str, Any] = {"task": config.task, "checkpoint": checkpoint}
    for simulator in tqdm(SIMULATORS, desc="crosssim: grm", disable=not progress):
        env_config = EnvConfig(
            backend=simulator,
            appearance_seed=config.demo_seed,
            image_size=general.config.image_size,
            cameras=tuple(general.config.views),
        )
        demo = rollout(config.task, config.demo_seed, env_config=env_config)
        experts = [
            rollout(config.task, config.eval_seed + i, env_config=env_config)
            for i in range(config.trajectories)
        ]
        rollouts = classification_rollouts(
            config.task, config.rollouts_per_class, config.eval_seed + 1000, env_config
        )
        reference = Reference.from_trajectory(demo)
        contact_sheet(demo, out_dir / f"demo_{simulator}.png")

        # what both models are evaluated on (evaluate_model's arguments after the model)
        evaluation = (reference, experts, rollouts, fusion, out_dir, config.plots)
        entry: dict[str, Any] = {
            "demo_success": bool(demo.success),
            "expert_success": float(np.mean([t.success for t in experts])),
            "zero_shot": evaluate_model(general, *evaluation, f"{simulator}_zero_shot"),
        }
        if simulator in config.adapt_in:
            started = time.perf_counter()
            adapted = adapt(demo, out_dir / f"adapted_{simulator}", adaptation, progress=False)
            entry["adaptation_seconds"] = time.perf_counter() - started
            model = load_grm(adapted.train.checkpoint)
            entry["adapted"] = evaluate_model(model, *evaluation, f"{simulator}_adapted")
        results[simulator] = entry
    return results


# ----------------------------------------------------------------------------- policies
def train_policy(config: CrossSimConfig, out_dir: Path) -> tuple[Path, float]:
    """SAC + HER on ``policy_task`` in MuJoCo (the ``reach_sac`` preset's settings); returns the
    policy file and the training seconds."""
    from robo_reward.config import load_config, preset_path
    from robo_reward.rl.runner import TrainConfig, train

    train_config = load_config(
        TrainConfig,
        preset_path("train", "reach_sac"),
        [f"task={config.policy_task}", f"steps={config.policy_steps}", "sac.eval_every=0"],
    )
    started = time.perf_counter()
    run_dir, _ = train(train_config, out_dir / "policy_run", progress=False)
    return run_dir / "policy.safetensors", time.perf_counter() - started


def policy_success(policy_path: Path, task: str, simulator: str, episodes: int) -> float:
    """Success rate of a saved state-based policy on ``task`` in ``simulator`` (deterministic
    actions, reset seeds 70000 + i)."""
    from robo_reward.rl.policy import load_policy
    from robo_reward.sim.env_config import EnvConfig

    policy = load_policy(policy_path)
    env = EnvConfig(cameras=(), backend=simulator, reward_type="step_penalty").make(task)
    successes = []
    try:
        for index in range(episodes):
            obs, info = env.reset(seed=70_000 + index)
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(policy.act(obs))
                done = terminated or truncated
            successes.append(bool(info["is_success"]))
    finally:
        env.close()
    return float(np.mean(successes))


def policy_transfer(config: CrossSimConfig, out_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"task": config.policy_task}
    if config.policy:
        path = Path(config.policy)
        if not path.is_file():
            raise FileNotFoundError(f"policy {path} does not exist")
        result["policy"] = str(path)
    else:
        path, seconds = train_policy(config, out_dir)
        result.update(policy=str(path), trained_steps=config.policy_steps, train_seconds=seconds)
    for simulator in SIMULATORS:
        result[simulator] = {
            "success": policy_success(path, config.policy_task, simulator, config.policy_episodes),
            "episodes": config.policy_episodes,
        }
    return result


# ----------------------------------------------------------------------------- navigation
def nav_agent_episodes(
    agent: str, size: str, seed: int, simulator: str, episodes: int
) -> list[dict[str, float]]:
    """Episodes of one navigation agent on the maze of ``seed`` in one simulator."""
    from robo_reward.bench.nav import EVAL_SEED, run_episodes
    from robo_reward.sim.nav.registration import make_nav_env

    env = make_nav_env(size, maze_seed=seed, backend=simulator)
    try:
        if agent == "frontier":
            from robo_reward.topo.explorer import FrontierExplorer

            out = []
            for index in range(episodes):  # a fresh map per episode
                out += run_episodes(env, FrontierExplorer().act, 1, EVAL_SEED + index)
            return out
        from robo_reward.rl.policy import load_policy
        from robo_reward.streams.policy_stream import SHIPPED_POLICIES
        from robo_reward.topo.explorer import ExplorerConfig
        from robo_reward.topo.wrapper import TopoNavConfig, TopoNavRewards

        policy = load_policy(SHIPPED_POLICIES["toponav"])
        topo_env = TopoNavRewards(
            env,
            TopoNavConfig(filter_actions=True, waypoints=True, safety=ExplorerConfig().safety),
        )
        return run_episodes(topo_env, lambda obs, info: policy.act(obs), episodes, EVAL_SEED)
    finally:
        env.close()


def nav_transfer(config: CrossSimConfig, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    jobs = [
        (agent, simulator, seed)
        for agent in config.nav_agents
        for simulator in SIMULATORS
        for seed in config.nav_seeds
    ]
    episodes: dict[str, dict[str, list[dict[str, float]]]] = {}
    for agent, simulator, seed in tqdm(jobs, desc="crosssim: nav", disable=not progress):
        runs = nav_agent_episodes(agent, config.nav_size, seed, simulator, config.nav_episodes)
        episodes.setdefault(agent, {}).setdefault(simulator, []).extend(runs)
    summary: dict[str, Any] = {"size": config.nav_size, "mazes": len(config.nav_seeds)}
    for agent, by_simulator in episodes.items():
        summary[agent] = {}
        for simulator, runs in by_simulator.items():
            successful = [r["steps"] for r in runs if r["success"]]
            summary[agent][simulator] = {
                "episodes": len(runs),
                "success": float(np.mean([r["success"] for r in runs])),
                "steps_to_goal": float(np.mean(successful)) if successful else None,
                "coverage": float(np.mean([r["coverage"] for r in runs])),
            }
    return summary


# ----------------------------------------------------------------------------- suite
def run_crosssim(config: CrossSimConfig, run: Any) -> None:
    """The suite body: each part is saved as soon as it is measured (``run`` is a
    :class:`~robo_reward.bench.results.SuiteRun`)."""
    run.results["grm"] = grm_transfer(config, run.run_dir)
    run.sections.append(grm_markdown(run.results["grm"]))
    pictures = [f"![{s} demo, as the GRM sees it](demo_{s}.png)" for s in SIMULATORS]
    pictures += [
        f"![{s} {model} progress](" + f"{s}_{model}_{config.task}_0.png)"
        for s in SIMULATORS
        for model in ("zero_shot", "adapted")
        if config.plots and (run.run_dir / f"{s}_{model}_{config.task}_0.png").is_file()
    ]
    run.sections.append("\n".join(pictures) + "\n")
    run.save()
    run.results["policy"] = policy_transfer(config, run.run_dir)
    run.sections.append(policy_markdown(run.results["policy"]))
    run.save()
    run.results["nav"] = nav_transfer(config)
    run.sections.append(nav_markdown(run.results["nav"]))
    plot_crosssim(run.results, run.run_dir / "crosssim.png")
    run.sections.append("![MuJoCo and PyBullet side by side](crosssim.png)\n")


def _drop(mujoco: float | None, pybullet: float | None, unit: str = "") -> str:
    if mujoco is None or pybullet is None:
        return "-"
    return f"{pybullet - mujoco:+.3f}{unit}"


def grm_markdown(result: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    rows = []
    for model in ("zero_shot", "adapted"):
        for metric, key in (("VOC (fused, 3 views)", "voc"), ("completion accuracy", "acc")):
            values = {}
            for simulator in SIMULATORS:
                entry = result[simulator].get(model)
                if entry is None:
                    values[simulator] = None
                elif key == "voc":
                    values[simulator] = entry["voc"]["all"]["fused"]
                else:
                    values[simulator] = entry["completion_accuracy"]
            if all(v is None for v in values.values()):
                continue
            cells = ["-" if v is None else f"{v:.3f}" for v in values.values()]
            rows.append(
                [
                    model.replace("_", "-"),
                    metric,
                    *cells,
                    _drop(values["mujoco"], values["pybullet"]),
                ]
            )
    experts = ", ".join(f"{s} {100 * result[s]['expert_success']:.0f}%" for s in SIMULATORS)
    return (
        f"### Reward model across simulators ({result['task']})\n\n"
        "Each simulator's reference demo is recorded in that simulator; adapted = one-shot "
        "adaptation on that demo.\n\n"
        + markdown_table(["model", "metric", "MuJoCo", "PyBullet", "change"], rows)
        + f"\nScripted expert success on the evaluation episodes: {experts}.\n"
    )


def policy_markdown(result: dict[str, Any]) -> str:
    mujoco, pybullet = result["mujoco"]["success"], result["pybullet"]["success"]
    trained = (
        f"SAC + HER trained in MuJoCo for {result['trained_steps']} steps "
        f"({result['train_seconds']:.0f} s)"
        if "trained_steps" in result
        else f"`{result['policy']}`"
    )
    return (
        f"### Manipulation policy across simulators ({result['task']})\n\n"
        f"{trained}; success over {result['mujoco']['episodes']} episodes: MuJoCo "
        f"{100 * mujoco:.0f}%, PyBullet {100 * pybullet:.0f}% "
        f"(change {100 * (pybullet - mujoco):+.0f} points).\n"
    )


def nav_markdown(result: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    rows = []
    for agent in ("frontier", "toponav"):
        if agent not in result:
            continue
        for simulator in SIMULATORS:
            s = result[agent][simulator]
            steps = "-" if s["steps_to_goal"] is None else f"{s['steps_to_goal']:.0f}"
            rows.append(
                [
                    agent,
                    simulator,
                    f"{100 * s['success']:.0f}%",
                    steps,
                    f"{100 * s['coverage']:.0f}%",
                ]
            )
    return (
        f"### Navigation across simulators ({result['size']}, {result['mazes']} mazes)\n\n"
        "`toponav`: the shipped low-level policy (trained in MuJoCo) under the map's waypoints "
        "and safety filter.\n\n"
        + markdown_table(["agent", "simulator", "success", "steps to goal", "coverage"], rows)
    )


def plot_crosssim(results: dict[str, Any], path: Path) -> Path:
    """Bars of every crossing figure, MuJoCo next to PyBullet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values = [], {s: [] for s in SIMULATORS}
    grm = results["grm"]
    for model in ("zero_shot", "adapted"):
        if all(model in grm[s] for s in SIMULATORS):
            labels += [f"GRM VOC\n{model}", f"GRM completion\n{model}"]
            for s in SIMULATORS:
                values[s] += [
                    grm[s][model]["voc"]["all"]["fused"],
                    grm[s][model]["completion_accuracy"],
                ]
    labels.append(f"policy success\n{results['policy']['task']}")
    for s in SIMULATORS:
        values[s].append(results["policy"][s]["success"])
    for agent in ("frontier", "toponav"):
        if agent in results["nav"]:
            labels.append(f"nav success\n{agent}")
            for s in SIMULATORS:
                values[s].append(results["nav"][agent][s]["success"])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(labels)), 3.8))
    x = np.arange(len(labels))
    for index, simulator in enumerate(SIMULATORS):
        ax.bar(x + (index - 0.5) * 0.38, values[simulator], 0.38, label=simulator)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.legend()
    ax.set_title("Trained in MuJoCo, measured in MuJoCo and PyBullet")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
