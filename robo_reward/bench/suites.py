"""Benchmark suites behind ``robo-reward bench <suite>``.

Each suite writes ``results/<suite>/<timestamp>/`` (``results.json``, ``results.md`` and any
plots). A run that is interrupted or fails still writes what it measured, marked
``"complete": false``, so partial figures are never mistaken for a finished run.

grm_reward over ROS 2 is measured at two lengths: ``bench perf`` includes a short run (section
"ROS grm_reward", key ``ros``: 20 s of cameras) for its latency, and ``bench soak`` runs only
that measurement, for 5 minutes, the length over which memory growth and dropped rewards mean
something. ``bench perf --set ros.seconds=300`` is the same soak inside the full perf suite and
``--set ros.enabled=false`` leaves it out; without rclpy the section says it was skipped, and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robo_reward.bench.controllers import (
    ControllerPerfConfig,
    controller_perf_markdown,
    run_controller_perf,
)
from robo_reward.bench.dopamine import DopamineConfig
from robo_reward.bench.experts import ExpertBenchConfig, expert_markdown, run_expert_bench
from robo_reward.bench.grm_perf import GRMPerfConfig, grm_perf_markdown, run_grm_perf
from robo_reward.bench.nav import NavBenchConfig
from robo_reward.bench.perf import PerfConfig, run_sim_perf, sim_perf_markdown
from robo_reward.bench.results import new_run_dir, write_run
from robo_reward.bench.ros_perf import RosPerfConfig
from robo_reward.config import config_to_dict, load_config


@dataclass(frozen=True)
class PerfSuiteConfig:
    """``bench perf``: speeds side by side, as ratios."""

    sim: PerfConfig = field(default_factory=PerfConfig)
    grm: GRMPerfConfig = field(default_factory=GRMPerfConfig)
    controllers: ControllerPerfConfig = field(default_factory=ControllerPerfConfig)
    ros: RosPerfConfig = field(default_factory=RosPerfConfig)
    """grm_reward over DDS, 3 cameras at 30 Hz for 20 s (skipped where rclpy is absent)."""


@dataclass(frozen=True)
class SoakSuiteConfig:
    """``bench soak``: grm_reward over DDS for 5 minutes: latency, dropped rewards, memory."""

    ros: RosPerfConfig = field(default_factory=lambda: RosPerfConfig(seconds=300.0))


@dataclass(frozen=True)
class QuickSuiteConfig:
    """``bench quick``: the README's benchmark, a few minutes on 2 cores with embedded defaults."""

    sim: PerfConfig = field(default_factory=lambda: PerfConfig(steps=400, repeats=3))
    experts: ExpertBenchConfig = field(
        default_factory=lambda: ExpertBenchConfig(seeds=20, variants=("expert", "perturbed"))
    )
    contact_sheets: bool = True
    """Write a contact sheet of one expert demo per task."""


def _perf(
    config: PerfSuiteConfig, run_dir: Path, results: dict[str, Any], sections: list[str]
) -> None:
    results["sim"] = run_sim_perf(config.sim)
    sections.append(sim_perf_markdown(results["sim"]))
    results["grm"] = run_grm_perf(config.grm)
    sections.append(grm_perf_markdown(results["grm"]))
    _ros(config.ros, results, sections)
    if config.controllers.enabled:
        results["controllers"] = run_controller_perf(config.controllers)
        sections.append(controller_perf_markdown(results["controllers"]))


def _ros(config: RosPerfConfig, results: dict[str, Any], sections: list[str]) -> None:
    """The ROS grm_reward section (its own processes; imports no rclpy here)."""
    from robo_reward.bench.ros_perf import ros_perf_markdown, run_ros_perf

    if config.enabled:
        results["ros"] = run_ros_perf(config)
        sections.append(ros_perf_markdown(results["ros"]))


def _soak(
    config: SoakSuiteConfig, run_dir: Path, results: dict[str, Any], sections: list[str]
) -> None:
    _ros(config.ros, results, sections)


def _quick(
    config: QuickSuiteConfig, run_dir: Path, results: dict[str, Any], sections: list[str]
) -> None:
    results["sim"] = run_sim_perf(config.sim)
    sections.append(sim_perf_markdown(results["sim"]))
    results["experts"] = run_expert_bench(config.experts)
    sections.append(expert_markdown(results["experts"]))
    if config.contact_sheets:
        from robo_reward.data import contact_sheet
        from robo_reward.sim.demos import rollout

        lines = ["### Expert demonstrations\n"]
        for task in config.experts.tasks:
            sheet = contact_sheet(rollout(task, seed=0), run_dir / f"demo_{task}.png")
            lines.append(f"![{task}]({sheet.name})")
        results["contact_sheets"] = [f"demo_{task}.png" for task in config.experts.tasks]
        sections.append("\n".join(lines) + "\n")


def _dopamine(
    config: DopamineConfig, run_dir: Path, results: dict[str, Any], sections: list[str]
) -> None:
    from robo_reward.bench.dopamine import dopamine_markdown, plot_curves, run_dopamine

    results["dopamine"] = run_dopamine(config, run_dir)
    plot_curves(results["dopamine"], run_dir / "dopamine_success.png")
    sections.append(dopamine_markdown(results["dopamine"]))


def _nav(config: Any, run_dir: Path, results: dict[str, Any], sections: list[str]) -> None:
    from robo_reward.bench.nav import nav_markdown, plot_nav, run_nav

    results["nav"] = run_nav(config, run_dir)
    plot_nav(results["nav"], run_dir / "nav.png")
    sections.append(nav_markdown(results["nav"]))
    sections.append("![success and coverage](nav.png)\n")


@dataclass(frozen=True)
class Suite:
    config_class: type
    run: Callable[[Any, Path, dict[str, Any], list[str]], None]
    description: str


SUITES: dict[str, Suite] = {
    "perf": Suite(PerfSuiteConfig, _perf, "speeds side by side, printed as ratios"),
    "quick": Suite(QuickSuiteConfig, _quick, "sim speed, expert success, demo pictures"),
    "dopamine": Suite(
        DopamineConfig, _dopamine, "GRM-shaped SAC on a held-out task, with ablations"
    ),
    "nav": Suite(NavBenchConfig, _nav, "maze exploration: TopoNav vs counts, RND, RDD"),
    "soak": Suite(
        SoakSuiteConfig, _soak, "grm_reward over ROS 2 for 5 minutes: latency, drops, memory"
    ),
}


def run_suite(
    name: str,
    results_root: str | Path = "results",
    config_path: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> tuple[Path, str]:
    """Run a suite on its embedded defaults, a YAML file and ``key=value`` overrides; returns the
    run folder and the Markdown summary."""
    if name not in SUITES:
        raise ValueError(f"unknown bench suite {name!r}; suites: {', '.join(SUITES)}")
    suite = SUITES[name]
    config = load_config(suite.config_class, config_path, overrides)
    run_dir = new_run_dir(results_root, name)
    results: dict[str, Any] = {}
    sections: list[str] = [f"## robo-reward bench {name}\n"]
    complete = False
    try:
        suite.run(config, run_dir, results, sections)
        complete = True
    finally:
        results["complete"] = complete
        if not complete:
            sections.append(
                "\n**INCOMPLETE RUN**: interrupted or failed; figures above are partial.\n"
            )
        markdown = "\n".join(sections)
        write_run(run_dir, name, results, markdown, config_to_dict(config))
    return run_dir, markdown
