"""``robo-reward bench nav``: exploring and navigating mazes, TopoNav against novelty baselines.

Every arm gets the same budget on the same seeded mazes (``maze_seed = seed``: each seed is one
maze, learned from scratch). Learning arms train PPO on state observations (lidar, odometry, goal
vector) with the task's sparse reward (1 at the goal) plus their exploration signal:

``sparse``     nothing else;
``counts``     visit counts on a 0.5 m grid, β/√n (:mod:`robo_reward.intrinsic.counts`);
``rnd``        Random Network Distillation (Burda et al. 2018);
``rdd``        Random Distribution Distillation (noisy-target distillation, a pseudo-count);
``toponav``    TopoNav's hierarchy (:mod:`robo_reward.topo`): the map's high level picks
               subgoals (frontiers ranked by path cost and goal distance, then the goal) and
               plans paths to them; PPO is the low level and also observes the next
               ``waypoint``. Reward: the task's, the map's intrinsic rewards (new node, visits,
               subgoal reached), the safety penalty, progress toward the waypoint (the low
               level's objective), and PBRS with the graph distance to the goal
               (``GraphDistancePotential``); actions pass the safety filter;
``toponav_flat`` an ablation: the same intrinsic rewards, safety penalty and filter plus PBRS
               with the graph distance to the goal (``GraphDistancePotential``), no hierarchy
               (the policy sees what the baselines see).

The toponav arms are evaluated with their map, planner and filter running (they are part of the
agent, as the frontier explorer's map is part of it); the baselines on the plain env.

Learning-free references run the same evaluation episodes: ``frontier`` (the classical frontier
explorer), ``random`` (uniform actions) and ``oracle`` (the waypoint follower, which knows the map:
an upper bound, not a competitor).

Reported per arm and maze size (TopoNav's metrics): **coverage**, the share of free cells the
lidar has had in range and line of sight, averaged over the training episodes of learning arms
(how much the agent explores while it learns) and over the evaluation episodes; **success**, the
final deterministic policy's rate of reaching the goal over ``eval_episodes`` episodes (random
initial headings); **time to goal**, its mean steps over the successful ones, and **steps per
episode**, the mean over all evaluation episodes with a failure counted at the time limit (time
to goal alone favours an arm that solves only its easiest maze).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from robo_reward.bench.worker import run_in_worker
from robo_reward.rl.ppo import PPOConfig

LEARNING_ARMS = ("sparse", "counts", "rnd", "rdd", "toponav", "toponav_flat")
TOPO_ARMS = ("toponav", "toponav_flat")
SCRIPTED_ARMS = ("frontier", "random", "oracle")
ARMS = LEARNING_ARMS + SCRIPTED_ARMS
NAV_OBS_KEYS = ("lidar", "odometry", "goal")
BENCH_MAZES = (
    "small", "medium", "large",
    "rooms_small", "rooms_medium", "rooms_large",
    "pointmaze_umaze", "pointmaze_medium", "pointmaze_large",
)  # fmt: skip
"""Where ``bench nav`` runs (AntMaze is not here: its 8-D torque action needs a learned
locomotion controller under any of these arms)."""


@dataclass(frozen=True)
class NavBenchConfig:
    """The navigation benchmark."""

    sizes: tuple[str, ...] = ("small",)
    """Where to run: our maze sizes (``small``, ``medium``, ``large``: one generated maze per
    seed), rooms (``rooms_small``, ...: one floor plan per seed) or Gymnasium-Robotics' fixed
    PointMaze maps (``pointmaze_umaze``, ``pointmaze_medium``, ``pointmaze_large``: start and
    goal drawn at every reset, the seed seeds learning only)."""
    arms: tuple[str, ...] = ARMS
    seeds: tuple[int, ...] = (0, 1, 2)
    """One maze per seed (``maze_seed``), the same for every arm."""
    steps: int = 50_000
    """Env steps per learning run."""
    eval_episodes: int = 5
    """Episodes of the final policy (and of each scripted arm) per maze."""
    intrinsic_weight: float = 0.01
    """Weight of the counts / RND / RDD bonus added to the task reward."""
    workers: int = 2
    """Runs in parallel (one process each)."""
    policy_dir: str = ""
    """When set, each learning run's final policy is exported there as
    ``<arm>_<size>_<seed>.safetensors`` (what the ROS policy node loads)."""
    ppo: PPOConfig = field(
        default_factory=lambda: PPOConfig(
            num_envs=4,
            num_steps=256,
            num_minibatches=8,
            update_epochs=4,
            ent_coef=0.01,
            hidden=(128, 128),
            normalize_observations=True,
        )
    )

    def __post_init__(self) -> None:
        unknown = set(self.arms) - set(ARMS)
        if unknown:
            raise ValueError(f"unknown arms {sorted(unknown)}; arms: {ARMS}")
        bad_sizes = set(self.sizes) - set(BENCH_MAZES)
        if bad_sizes or not self.sizes:
            raise ValueError(f"sizes must be some of {BENCH_MAZES}, got {self.sizes}")
        if not self.seeds or self.steps <= 0 or self.eval_episodes <= 0:
            raise ValueError("need seeds, steps > 0 and eval_episodes > 0")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if not (np.isfinite(self.intrinsic_weight) and self.intrinsic_weight >= 0):
            raise ValueError(f"intrinsic_weight must be >= 0, got {self.intrinsic_weight}")


def bench_env(size: str, seed: int) -> gym.Env:
    """The env of one entry of :attr:`NavBenchConfig.sizes` for ``seed``."""
    from robo_reward.sim.nav.registration import make_nav_env

    if size in ("small", "medium", "large"):
        return make_nav_env(f"maze_{size}", maze_seed=seed)
    if size.startswith("rooms_"):
        return make_nav_env(size, maze_seed=seed)
    if size.startswith("pointmaze_"):
        return make_nav_env(size)
    raise ValueError(f"unknown bench maze {size!r}; known: {BENCH_MAZES}")


class EpisodeCoverage(gym.Wrapper):
    """Appends ``info["coverage"]`` at the end of every episode to ``values`` (a list shared by
    the envs of one run)."""

    def __init__(self, env: gym.Env, values: list[float]) -> None:
        super().__init__(env)
        self.values = values

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            self.values.append(float(info["coverage"]))
        return obs, reward, terminated, truncated, info


def make_arm_env(arm: str, size: str, seed: int, config: NavBenchConfig) -> Any:
    """The training env of a learning arm: the maze of ``seed`` with the arm's reward."""
    env = bench_env(size, seed)
    if arm == "sparse":
        return env
    if arm in TOPO_ARMS:
        from robo_reward.shaping.wrapper import PotentialShaping, ShapingConfig
        from robo_reward.topo.explorer import ExplorerConfig
        from robo_reward.topo.potential import GraphDistancePotential
        from robo_reward.topo.wrapper import TopoNavConfig, TopoNavRewards

        # Safety first, as TopoNav orders its objectives: the action filter, plus the penalty.
        # The explorer's shield: the chassis fits the 0.5 m corridors with ~0.13 m a side.
        hierarchy = arm == "toponav"
        topo_env = TopoNavRewards(
            env,
            TopoNavConfig(filter_actions=True, waypoints=hierarchy, safety=ExplorerConfig().safety),
        )
        potential = GraphDistancePotential(lambda: topo_env.topo)
        return PotentialShaping(topo_env, potential, ShapingConfig(gamma=config.ppo.gamma))
    from robo_reward.intrinsic.wrapper import IntrinsicBonus

    if arm == "counts":
        from robo_reward.intrinsic.counts import VisitCounts

        reward_fn: Any = VisitCounts()
    elif arm == "rnd":
        from robo_reward.intrinsic.rnd import RandomNetworkDistillation, RNDConfig

        reward_fn = RandomNetworkDistillation(env.observation_space, RNDConfig(seed=seed))
    elif arm == "rdd":
        from robo_reward.intrinsic.rdd import RandomDistributionDistillation, RDDConfig

        reward_fn = RandomDistributionDistillation(env.observation_space, RDDConfig(seed=seed))
    else:
        raise ValueError(f"{arm!r} is not a learning arm; learning arms: {LEARNING_ARMS}")
    return IntrinsicBonus(env, reward_fn, weight=config.intrinsic_weight)


def run_episodes(env: Any, act: Any, episodes: int, seed: int) -> list[dict[str, float]]:
    """``act(obs, info) -> action`` for ``episodes`` episodes (reset seeds ``seed + i``): success,
    steps and end coverage of each."""
    out = []
    for index in range(episodes):
        obs, info = env.reset(seed=seed + index)
        steps, done = 0, False
        while not done:
            obs, _, terminated, truncated, info = env.step(act(obs, info))
            steps += 1
            done = terminated or truncated
        out.append(
            {"success": float(info["is_success"]), "steps": steps, "coverage": info["coverage"]}
        )
    return out


class _Oracle:
    """The map-knowing waypoint follower behind the ``act(obs, info)`` interface (it plans on
    the first step of each episode, after the env's reset)."""

    def __init__(self, env: Any) -> None:
        self.env: Any = env
        self.follower: Any = None

    def __call__(self, obs: Any, info: Any) -> np.ndarray:
        from robo_reward.sim.nav.follower import WaypointFollower

        if self.follower is None:
            self.follower = WaypointFollower(self.env)
        return self.follower.act()


EVAL_SEED = 90_000
"""First reset seed of evaluation episodes (initial headings differ from training's)."""


def run_arm(arm: str, size: str, seed: int, config_json: str) -> dict[str, Any]:
    """One arm on one maze (in a worker process)."""
    import torch

    from robo_reward.config import config_from_dict

    torch.set_num_threads(1)
    config = config_from_dict(NavBenchConfig, json.loads(config_json))
    eval_env = bench_env(size, seed)
    result: dict[str, Any] = {"arm": arm, "size": size, "seed": seed}
    if arm in SCRIPTED_ARMS:
        episodes = []
        rng = np.random.default_rng(seed)
        for index in range(config.eval_episodes):
            if arm == "frontier":
                from robo_reward.topo.explorer import FrontierExplorer

                act = FrontierExplorer().act  # a fresh map per episode
                episodes += run_episodes(eval_env, act, 1, EVAL_SEED + index)
            elif arm == "random":
                episodes += run_episodes(
                    eval_env, lambda o, i: rng.uniform(-1, 1, 2), 1, EVAL_SEED + index
                )
            else:
                episodes += run_episodes(
                    eval_env, _Oracle(eval_env.unwrapped), 1, EVAL_SEED + index
                )
        result["eval"] = episodes
        return result
    from robo_reward.rl.ppo import PPO

    coverage: list[float] = []
    keys = NAV_OBS_KEYS + (("waypoint",) if arm == "toponav" else ())
    ppo_config = dataclasses.replace(config.ppo, total_steps=config.steps, seed=seed, obs_keys=keys)
    if arm in TOPO_ARMS:  # the map, planner and shield are part of the agent
        eval_env = make_arm_env(arm, size, seed, config)

    def make() -> gym.Env:
        return EpisodeCoverage(make_arm_env(arm, size, seed, config), coverage)

    with PPO(make, ppo_config) as ppo:
        ppo.learn(config.steps, progress_bar=False)
        result["eval"] = run_episodes(
            eval_env, lambda o, i: ppo.actor.act(o), config.eval_episodes, EVAL_SEED
        )
        if config.policy_dir:
            path = Path(config.policy_dir) / f"{arm}_{size}_{seed}.safetensors"
            result["policy"] = str(ppo.export_policy(path))
    result["train_coverage"] = coverage
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per size and arm: coverage (training episodes, evaluation), success, time to goal."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for run in runs:
        table.setdefault(run["size"], {}).setdefault(run["arm"], {"runs": []})["runs"].append(run)
    for arms in table.values():
        for arm, entry in arms.items():
            runs_ = entry.pop("runs")
            episodes = [e for r in runs_ for e in r["eval"]]
            successes = [e["steps"] for e in episodes if e["success"]]
            per_seed = [np.mean([e["success"] for e in r["eval"]]) for r in runs_]
            train = [float(np.mean(r["train_coverage"])) for r in runs_ if r.get("train_coverage")]
            arms[arm] = {
                "seeds": len(runs_),
                "success": float(np.mean(per_seed)),
                "success_std": float(np.std(per_seed)),
                "time_to_goal": float(np.mean(successes)) if successes else None,
                "episode_steps": float(np.mean([e["steps"] for e in episodes])),
                "eval_coverage": float(np.mean([e["coverage"] for e in episodes])),
                "train_coverage": float(np.mean(train)) if train else None,
            }
    return table


def run_nav(
    config: NavBenchConfig,
    run_dir: Path,
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every arm on every maze, ``config.workers`` at a time; ``on_result`` sees each finished
    run as it comes (the suite saves partial results with it)."""
    from tqdm import tqdm

    from robo_reward.config import config_to_dict

    config_json = json.dumps(config_to_dict(config))
    jobs = [
        (arm, size, seed) for size in config.sizes for seed in config.seeds for arm in config.arms
    ]
    runs: list[dict[str, Any]] = []
    with (
        ThreadPoolExecutor(config.workers) as pool,
        tqdm(total=len(jobs), desc="nav", disable=not progress) as bar,
    ):
        futures = [
            pool.submit(run_in_worker, __name__, "run_arm", [arm, size, seed, config_json], False)
            for arm, size, seed in jobs
        ]
        for future in futures:
            runs.append(future.result())
            if on_result is not None:
                on_result(runs[-1])
            bar.update(1)
    return {"runs": runs, "summary": summarize(runs), "steps": config.steps}


def nav_markdown(results: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    sections = []
    for size, arms in results["summary"].items():
        rows = []
        for arm, s in arms.items():
            train = "-" if s["train_coverage"] is None else f"{100 * s['train_coverage']:.0f}%"
            time = "-" if s["time_to_goal"] is None else f"{s['time_to_goal']:.0f}"
            length = s.get("episode_steps")
            rows.append(
                [
                    arm,
                    train,
                    f"{100 * s['eval_coverage']:.0f}%",
                    f"{100 * s['success']:.0f}% ± {100 * s['success_std']:.0f}",
                    time,
                    "-" if length is None else f"{length:.0f}",
                    str(s["seeds"]),
                ]
            )
        header = [
            "arm",
            "coverage while learning",
            "coverage (eval)",
            "success (eval)",
            "steps to goal",
            "steps per episode",
            "mazes",
        ]
        sections.append(
            f"### {size if '_' in size else size + ' mazes'}"
            + (
                f", {results['steps']} env steps per learning run"
                if set(arms) & set(LEARNING_ARMS)
                else ""
            )
            + "\n\n"
            + markdown_table(header, rows)
        )
    return "\n\n".join(sections) + "\n"


def plot_nav(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(results["summary"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for metric, ax in zip(("success", "eval_coverage"), axes, strict=True):
        arms = list(results["summary"][sizes[0]])
        width = 0.8 / len(sizes)
        for index, size in enumerate(sizes):
            values = [results["summary"][size].get(arm, {}).get(metric, 0.0) or 0.0 for arm in arms]
            ax.bar(np.arange(len(arms)) + index * width, values, width, label=size)
        ax.set_xticks(np.arange(len(arms)) + 0.4 - width / 2, arms, rotation=30)
        ax.set_ylim(0, 1)
        ax.set_title(metric.replace("_", " "))
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
