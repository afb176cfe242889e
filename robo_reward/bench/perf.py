"""Suite ``perf``: speeds measured side by side in one run and printed as ratios.

Machines here are noisy, so each condition runs in its own fresh process
(:mod:`robo_reward.bench.worker`), conditions are interleaved over several repeats, and the
median is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import median
from typing import Any

from robo_reward.bench.worker import run_in_worker
from robo_reward.sim.tasks.base import DEFAULT_CAMERAS

SIM_TARGET_STEPS_PER_SECOND = 300.0
"""Issue #2: at least 300 env steps/s with three 96x96 views on one core."""


@dataclass(frozen=True)
class PerfConfig:
    """Settings of the ``perf`` suite."""

    task: str = "pick_place"
    """Task whose env is stepped (random actions, reset at episode end)."""
    steps: int = 600
    """Env steps timed per measurement (after a short warm-up)."""
    repeats: int = 3
    """Measurements per condition; the median is reported."""
    image_size: int = 96
    """Square image size of each view."""
    cameras: tuple[str, ...] = DEFAULT_CAMERAS
    """Views rendered in the rendering conditions."""
    single_core: bool = True
    """Pin each worker to one CPU and run the rasteriser single-threaded."""

    def __post_init__(self) -> None:
        if self.steps < 10:
            raise ValueError("steps must be >= 10")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")


SIM_CONDITIONS: dict[str, dict[str, Any]] = {
    "no_render": {"cameras": ()},
    "rgb": {},
    "rgb_depth": {"depth": True},
}


def time_env_steps(task: str, steps: int, env_kwargs: dict[str, Any], seed: int = 0) -> float:
    """Env steps per second of ``task`` under random actions (in this process)."""
    import numpy as np

    from robo_reward.sim.registration import make_env

    env = make_env(task, **env_kwargs)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    env.action_space.seed(seed)

    def run(n: int) -> None:
        for _ in range(n):
            action = rng.uniform(-1, 1, size=env.action_space.shape).astype(np.float32)
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    run(20)
    start = time.perf_counter()
    run(steps)
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def run_sim_perf(config: PerfConfig, progress: bool = True) -> dict[str, Any]:
    """Env steps/s without rendering, with RGB views, and with RGB + depth; with ratios."""
    from tqdm import tqdm

    samples: dict[str, list[float]] = {name: [] for name in SIM_CONDITIONS}
    jobs = [(r, name) for r in range(config.repeats) for name in SIM_CONDITIONS]
    for _, name in tqdm(jobs, desc="perf: sim", unit="run", disable=not progress):
        kwargs = {"cameras": config.cameras, "image_size": config.image_size}
        kwargs.update(SIM_CONDITIONS[name])
        samples[name].append(
            run_in_worker(
                __name__, "time_env_steps", [config.task, config.steps, kwargs], config.single_core
            )
        )
    steps_per_second = {name: median(values) for name, values in samples.items()}
    rgb = steps_per_second["rgb"]
    return {
        "task": config.task,
        "views": len(config.cameras),
        "image_size": config.image_size,
        "single_core": config.single_core,
        "steps_per_second": steps_per_second,
        "samples": samples,
        "ratio_rgb_to_no_render": rgb / steps_per_second["no_render"],
        "ratio_rgb_depth_to_rgb": steps_per_second["rgb_depth"] / rgb,
        "target_rgb_steps_per_second": SIM_TARGET_STEPS_PER_SECOND,
        "ratio_rgb_to_target": rgb / SIM_TARGET_STEPS_PER_SECOND,
        "meets_target": rgb >= SIM_TARGET_STEPS_PER_SECOND,
    }


@dataclass(frozen=True)
class SimPeerConfig:
    """MuJoCo against PyBullet on the same task, spaces and views (the peer simulator)."""

    enabled: bool = True
    task: str = "push"
    """A task with a PyBullet version."""
    steps: int = 300
    repeats: int = 3
    image_size: int = 96
    cameras: tuple[str, ...] = DEFAULT_CAMERAS

    def __post_init__(self) -> None:
        if self.steps < 10 or self.repeats < 1:
            raise ValueError("steps must be >= 10 and repeats >= 1")


def run_sim_peer(config: SimPeerConfig, progress: bool = True) -> dict[str, Any]:
    """Env steps/s of each simulator without and with rendering; ratios MuJoCo / PyBullet."""
    from tqdm import tqdm

    conditions = {"no_render": {"cameras": ()}, "rgb": {"cameras": config.cameras}}
    samples: dict[str, dict[str, list[float]]] = {
        backend: {name: [] for name in conditions} for backend in ("mujoco", "pybullet")
    }
    jobs = [
        (backend, name) for _ in range(config.repeats) for name in conditions for backend in samples
    ]
    for backend, name in tqdm(jobs, desc="perf: mujoco vs pybullet", disable=not progress):
        kwargs = {"image_size": config.image_size, "backend": backend, **conditions[name]}
        samples[backend][name].append(
            run_in_worker(__name__, "time_env_steps", [config.task, config.steps, kwargs], True)
        )
    speeds = {b: {n: median(v) for n, v in by.items()} for b, by in samples.items()}
    return {
        "task": config.task,
        "views": len(config.cameras),
        "image_size": config.image_size,
        "steps_per_second": speeds,
        "samples": samples,
        "ratio_mujoco_to_pybullet": {
            name: speeds["mujoco"][name] / speeds["pybullet"][name] for name in conditions
        },
    }


def sim_peer_markdown(result: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    sps, ratio = result["steps_per_second"], result["ratio_mujoco_to_pybullet"]
    views = f"RGB, {result['views']} views at {result['image_size']}x{result['image_size']}"
    rows = [
        [label, f"{sps['mujoco'][name]:.0f}", f"{sps['pybullet'][name]:.0f}", f"{ratio[name]:.2f}"]
        for name, label in (("no_render", "physics only"), ("rgb", views))
    ]
    return (
        f"### MuJoCo against PyBullet ({result['task']}, one core, same spaces)\n\n"
        + markdown_table(["condition", "MuJoCo steps/s", "PyBullet steps/s", "ratio"], rows)
        + "\nPyBullet renders with its CPU TinyRenderer, MuJoCo with OSMesa; PyBullet drives "
        "the arm by inverse kinematics and joint servos.\n"
    )


def sim_perf_markdown(result: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    sps = result["steps_per_second"]
    views = f"{result['views']} views at {result['image_size']}x{result['image_size']}"
    core = "one core" if result["single_core"] else "all cores"
    rows = [
        ["physics only (no rendering)", f"{sps['no_render']:.0f}", "1.00"],
        [f"RGB, {views}", f"{sps['rgb']:.0f}", f"{result['ratio_rgb_to_no_render']:.3f}"],
        [
            f"RGB + depth, {views}",
            f"{sps['rgb_depth']:.0f}",
            f"{sps['rgb_depth'] / sps['no_render']:.3f}",
        ],
    ]
    verdict = "meets" if result["meets_target"] else "MISSES"
    return (
        f"### Simulation speed ({result['task']}, {core}, "
        f"median of {len(result['samples']['rgb'])})\n\n"
        + markdown_table(["condition", "env steps/s", "ratio to physics only"], rows)
        + f"\nRGB with {views}: {sps['rgb']:.0f} steps/s = "
        f"{result['ratio_rgb_to_target']:.2f}x the target of "
        f"{result['target_rgb_steps_per_second']:.0f} ({verdict} it).\n"
    )
