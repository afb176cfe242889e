"""Benchmark suites behind ``robo-reward bench <suite>``.

Each suite writes ``results/<suite>/<timestamp>/`` (``results.json``, ``results.md`` and any
plots) and saves after every finished part: a run that is interrupted, fails or is killed keeps
what it measured, marked ``"complete": false``, so partial figures are never mistaken for a
finished run (``robo-reward report`` leaves such runs out and lists them).

``bench quick`` and ``bench full`` are profiles: they run several suites, each into its own
``results/<suite>/<timestamp>/`` (marked with the profile), then write their own folder with an
index of those runs and compose the report (``results/report/``). ``quick`` is the README's
benchmark (about 10 minutes on 2 cores, embedded defaults, nothing downloaded); ``full`` runs
every suite at its own defaults (hours).

grm_reward over ROS 2 is measured at two lengths: ``bench perf`` includes a short run (section
"ROS grm_reward", key ``ros``: 20 s of cameras) for its latency, and ``bench soak`` runs only
that measurement, for 5 minutes, the length over which memory growth and dropped rewards mean
something. ``bench perf --set ros.seconds=300`` is the same soak inside the full perf suite and
``--set ros.enabled=false`` leaves it out; without rclpy the section says it was skipped, and why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robo_reward.bench.controllers import (
    ControllerPerfConfig,
    controller_perf_markdown,
    run_controller_perf,
)
from robo_reward.bench.crosssim import CrossSimConfig
from robo_reward.bench.dopamine import DopamineConfig
from robo_reward.bench.experts import ExpertBenchConfig, expert_markdown, run_expert_bench
from robo_reward.bench.grm_perf import GRMPerfConfig, grm_perf_markdown, run_grm_perf
from robo_reward.bench.nav import NavBenchConfig
from robo_reward.bench.perf import (
    PerfConfig,
    SimPeerConfig,
    run_sim_peer,
    run_sim_perf,
    sim_peer_markdown,
    sim_perf_markdown,
)
from robo_reward.bench.results import SuiteRun, markdown_table, new_run_dir, read_run
from robo_reward.bench.ros_perf import RosPerfConfig
from robo_reward.bench.topo_soak import TopoSoakConfig
from robo_reward.config import config_to_dict, load_config
from robo_reward.grm.evaluate import EvalConfig
from robo_reward.perceptual.evaluate import PerceptualEvalConfig


@dataclass(frozen=True)
class PerfSuiteConfig:
    """``bench perf``: speeds side by side, as ratios."""

    sim: PerfConfig = field(default_factory=PerfConfig)
    sim_peer: SimPeerConfig = field(default_factory=SimPeerConfig)
    """MuJoCo against PyBullet on push."""
    grm: GRMPerfConfig = field(default_factory=GRMPerfConfig)
    controllers: ControllerPerfConfig = field(default_factory=ControllerPerfConfig)
    ros: RosPerfConfig = field(default_factory=RosPerfConfig)
    """grm_reward over DDS, 3 cameras at 30 Hz for 20 s (skipped where rclpy is absent)."""


@dataclass(frozen=True)
class SoakSuiteConfig:
    """``bench soak``: grm_reward (3 cameras at 30 Hz) and topo_mapper (scans at 20 Hz) over
    DDS for 5 minutes each: latency, dropped messages, memory."""

    ros: RosPerfConfig = field(default_factory=lambda: RosPerfConfig(seconds=300.0))
    topo: TopoSoakConfig = field(default_factory=TopoSoakConfig)


class SuiteFailed(RuntimeError):
    """A profile ran, but some of its member suites failed (each one's error is recorded)."""


PROFILE_SUITES = ("perf", "grm", "perceptual", "dopamine", "nav", "crosssim")
"""The suites a profile (``quick``, ``full``) may run, in the order it runs them."""


@dataclass(frozen=True)
class QuickSuiteConfig:
    """``bench quick``: every suite on a small budget (about 10 minutes on 2 cores), then the
    report. Each member's section takes the settings of that suite (``--set grm.trajectories=3``);
    ``suites`` chooses the members."""

    suites: tuple[str, ...] = ("perf", "grm", "perceptual", "nav", "crosssim")
    perf: PerfSuiteConfig = field(
        default_factory=lambda: PerfSuiteConfig(
            sim=PerfConfig(steps=400, repeats=3),
            sim_peer=SimPeerConfig(steps=200, repeats=2),
            grm=GRMPerfConfig(updates=100, pairs=512, adapt=False),
            controllers=ControllerPerfConfig(enabled=False),
            ros=RosPerfConfig(seconds=10.0),
        )
    )
    grm: EvalConfig = field(
        default_factory=lambda: EvalConfig(
            tasks=("button_press",), trajectories=5, rollouts_per_class=5, plots=2
        )
    )
    perceptual: PerceptualEvalConfig = field(
        default_factory=lambda: PerceptualEvalConfig(
            tasks=("button_press",),
            fit_demos=3,
            discovery_demos=3,
            trajectories=5,
            rollouts_per_class=3,
            random_draws=50,
        )
    )
    dopamine: DopamineConfig = field(default_factory=DopamineConfig)
    """Not in the quick profile's ``suites`` (hours even when small)."""
    nav: NavBenchConfig = field(
        default_factory=lambda: NavBenchConfig(
            arms=("random", "frontier", "oracle"), eval_episodes=3
        )
    )
    crosssim: CrossSimConfig = field(default_factory=CrossSimConfig.quick)
    experts: ExpertBenchConfig = field(
        default_factory=lambda: ExpertBenchConfig(seeds=20, variants=("expert", "perturbed"))
    )
    """Scripted experts' success, in the profile's own folder."""
    contact_sheets: bool = True
    """Write a contact sheet of one expert demo per task."""
    report: bool = True
    """Compose ``results/report/`` from the latest complete runs at the end."""

    def __post_init__(self) -> None:
        unknown = [name for name in self.suites if name not in PROFILE_SUITES]
        if unknown:
            raise ValueError(f"unknown suites {unknown} in suites; choose from {PROFILE_SUITES}")


@dataclass(frozen=True)
class FullSuiteConfig(QuickSuiteConfig):
    """``bench full``: every suite at its own defaults (hours on 2 cores), then the report."""

    suites: tuple[str, ...] = PROFILE_SUITES
    perf: PerfSuiteConfig = field(default_factory=PerfSuiteConfig)
    grm: EvalConfig = field(default_factory=EvalConfig)
    perceptual: PerceptualEvalConfig = field(default_factory=PerceptualEvalConfig)
    nav: NavBenchConfig = field(default_factory=NavBenchConfig)
    crosssim: CrossSimConfig = field(default_factory=CrossSimConfig)
    experts: ExpertBenchConfig = field(default_factory=ExpertBenchConfig)


def _perf(config: PerfSuiteConfig, run: SuiteRun) -> None:
    run.results["sim"] = run_sim_perf(config.sim)
    run.sections.append(sim_perf_markdown(run.results["sim"]))
    run.save()
    if config.sim_peer.enabled:
        run.results["sim_peer"] = run_sim_peer(config.sim_peer)
        run.sections.append(sim_peer_markdown(run.results["sim_peer"]))
        run.save()
    run.results["grm"] = run_grm_perf(config.grm)
    run.sections.append(grm_perf_markdown(run.results["grm"]))
    run.save()
    _ros(config.ros, run)
    if config.controllers.enabled:
        run.results["controllers"] = run_controller_perf(config.controllers)
        run.sections.append(controller_perf_markdown(run.results["controllers"]))
    else:
        run.sections.append(
            "### Controllers against Stable-Baselines3\n\nNot run (`controllers.enabled=false`);"
            " `make bench-perf` runs it (about 20 minutes, the [bench] extra).\n"
        )
    from robo_reward.bench.perf_plot import plot_perf

    if plot_perf(run.results, run.run_dir / "perf.png") is not None:
        run.sections.append("![every measurement against its target](perf.png)\n")


def _ros(config: RosPerfConfig, run: SuiteRun) -> None:
    """The ROS grm_reward section (its own processes; imports no rclpy here)."""
    from robo_reward.bench.ros_perf import ros_perf_markdown, run_ros_perf

    if config.enabled:
        run.results["ros"] = run_ros_perf(config)
        run.sections.append(ros_perf_markdown(run.results["ros"]))
        run.save()


def _soak(config: SoakSuiteConfig, run: SuiteRun) -> None:
    _ros(config.ros, run)
    if config.topo.enabled:
        from robo_reward.bench.topo_soak import run_topo_soak, topo_soak_markdown

        run.results["topo"] = run_topo_soak(config.topo)
        run.sections.append(topo_soak_markdown(run.results["topo"]))


def _grm(config: EvalConfig, run: SuiteRun) -> None:
    from robo_reward.grm.evaluate import eval_markdown, run_eval

    run.results.update(run_eval(config, run.run_dir))
    run.sections.append(eval_markdown(run.results))


def _perceptual(config: PerceptualEvalConfig, run: SuiteRun) -> None:
    from robo_reward.perceptual.evaluate import (
        perceptual_markdown,
        plot_perceptual,
        run_perceptual_eval,
    )

    run.results.update(run_perceptual_eval(config))
    run.sections.append(perceptual_markdown(run.results))
    plot_perceptual(run.results, run.run_dir / "perceptual.png")
    run.sections.append("![perceptual reward and GRM per task](perceptual.png)\n")


def _dopamine(config: DopamineConfig, run: SuiteRun) -> None:
    from robo_reward.bench.dopamine import dopamine_markdown, plot_curves, run_dopamine

    run.results["dopamine"] = run_dopamine(config, run.run_dir)
    plot_curves(run.results["dopamine"], run.run_dir / "dopamine_success.png")
    run.sections.append(dopamine_markdown(run.results["dopamine"]))
    run.sections.append("![success while learning](dopamine_success.png)\n")


def _nav(config: NavBenchConfig, run: SuiteRun) -> None:
    from robo_reward.bench.nav import nav_markdown, plot_nav, run_nav

    finished: list[dict[str, Any]] = []
    run.results["nav"] = {"runs": finished, "steps": config.steps}

    def keep(result: dict[str, Any]) -> None:
        finished.append(result)
        run.save()

    run.results["nav"] = run_nav(config, run.run_dir, on_result=keep)
    plot_nav(run.results["nav"], run.run_dir / "nav.png")
    run.sections.append(nav_markdown(run.results["nav"]))
    run.sections.append("![success and coverage](nav.png)\n")


def _crosssim(config: CrossSimConfig, run: SuiteRun) -> None:
    from robo_reward.bench.crosssim import run_crosssim

    run_crosssim(config, run)


def _experts(config: QuickSuiteConfig, run: SuiteRun) -> None:
    run.results["experts"] = run_expert_bench(config.experts)
    run.sections.append(expert_markdown(run.results["experts"]))
    run.save()
    if config.contact_sheets:
        from robo_reward.data import contact_sheet
        from robo_reward.sim.demos import rollout

        lines = ["### Expert demonstrations\n"]
        for task in config.experts.tasks:
            sheet = contact_sheet(rollout(task, seed=0), run.run_dir / f"demo_{task}.png")
            lines.append(f"![{task}]({sheet.name})")
        run.results["contact_sheets"] = [f"demo_{task}.png" for task in config.experts.tasks]
        run.sections.append("\n".join(lines) + "\n")


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _headline(suite: str, results: dict[str, Any]) -> str:
    """One line of a member suite's main figures, for the profile's summary."""
    if suite == "perf":
        sim = results["sim"]
        line = f"{sim['steps_per_second']['rgb']:.0f} env steps/s with 3 views"
        line += f" ({sim['ratio_rgb_to_target']:.2f}x the target)"
        if "sim_peer" in results:
            line += (
                f"; MuJoCo/PyBullet {results['sim_peer']['ratio_mujoco_to_pybullet']['rgb']:.2f}x"
            )
        grm = results["grm"]
        line += f"; GRM update p99 {grm['tracker_update']['p99_ms']:.1f} ms"
        return line
    if suite in ("grm", "perceptual"):
        parts = []
        for task, entry in results["tasks"].items():
            for model in ("zero_shot", "adapted", "perceptual"):
                figures = entry.get(model)
                if figures is None:
                    continue
                voc = figures["voc"]["all"]["fused"] if suite == "grm" else figures["voc"]
                accuracy = _pct(figures["completion_accuracy"])
                parts.append(f"{task} {model}: VOC {voc:.3f}, completion {accuracy}")
        return "; ".join(parts)
    if suite == "nav":
        return "; ".join(
            f"{size} {arm}: success {_pct(s['success'])}, coverage {_pct(s['eval_coverage'])}"
            for size, arms in results["nav"]["summary"].items()
            for arm, s in arms.items()
        )
    if suite == "crosssim":
        grm = results["grm"]
        voc = {sim: grm[sim]["zero_shot"]["voc"]["all"]["fused"] for sim in ("mujoco", "pybullet")}
        policy = results["policy"]
        return (
            f"GRM VOC MuJoCo {voc['mujoco']:.3f} -> PyBullet {voc['pybullet']:.3f}; "
            f"{policy['task']} policy success {_pct(policy['mujoco']['success'])} -> "
            f"{_pct(policy['pybullet']['success'])}"
        )
    if suite == "dopamine":
        return "see the report"
    return ""


def _profile(config: QuickSuiteConfig, run: SuiteRun) -> None:
    """Run the member suites (each into its own folder), the experts, then the report.

    A member that fails is recorded and the others still run; the profile then ends with an
    error (and stays marked incomplete). An interrupt (Ctrl-C) stops everything."""
    members: list[dict[str, Any]] = []
    run.results["runs"] = members
    rows = []
    for index, name in enumerate(config.suites, start=1):
        print(
            f"bench {run.suite} [{index}/{len(config.suites)}]: {name}", file=sys.stderr, flush=True
        )
        entry: dict[str, Any] = {"suite": name, "complete": False}
        members.append(entry)
        run.save()
        try:
            member_dir, _ = run_suite(
                name, run.results_root, config=getattr(config, name), profile=run.suite
            )
        except Exception as error:  # noqa: BLE001 - recorded, re-raised after the others ran
            entry["error"] = f"{type(error).__name__}: {error}"
            rows.append([name, "-", f"FAILED: {entry['error']}", "-"])
            continue
        member = read_run(member_dir)["results"]
        seconds = member.get("seconds")
        try:
            headline = _headline(name, member)
        except (KeyError, TypeError, ZeroDivisionError):
            headline = "(see its results)"
        entry.update(folder=str(member_dir), complete=True, seconds=seconds, headline=headline)
        rows.append([name, f"{seconds:.0f}", headline, f"`{member_dir}`"])
    run.sections.append(
        "### Suites run\n\n" + markdown_table(["suite", "seconds", "main figures", "results"], rows)
    )
    run.save()
    _experts(config, run)
    failed = [entry["suite"] for entry in members if not entry["complete"]]
    if not failed:
        run.save(complete=True)  # so that the report includes this run's own section
    if config.report:
        from robo_reward.bench.report import write_report

        markdown_path, html_path = write_report(run.results_root, run.results_root / "report")
        run.results["report"] = {"markdown": str(markdown_path), "html": str(html_path)}
        run.sections.append(f"Report: `{markdown_path}` and `{html_path}`.\n")
    if failed:
        raise SuiteFailed(f"bench {run.suite}: suites {failed} failed (see {run.run_dir})")


@dataclass(frozen=True)
class Suite:
    config_class: type
    run: Callable[[Any, SuiteRun], None]
    description: str


SUITES: dict[str, Suite] = {
    "quick": Suite(
        QuickSuiteConfig, _profile, "every suite on a small budget (~10 min), then the report"
    ),
    "full": Suite(
        FullSuiteConfig, _profile, "every suite at its defaults (hours), then the report"
    ),
    "perf": Suite(PerfSuiteConfig, _perf, "speeds side by side, printed as ratios"),
    "grm": Suite(EvalConfig, _grm, "GRM VOC and completion accuracy, zero-shot and adapted"),
    "perceptual": Suite(
        PerceptualEvalConfig, _perceptual, "perceptual rewards: step discovery, VOC, completion"
    ),
    "dopamine": Suite(
        DopamineConfig, _dopamine, "GRM-shaped SAC on a held-out task, with ablations"
    ),
    "nav": Suite(NavBenchConfig, _nav, "maze exploration: TopoNav vs counts, RND, RDD"),
    "crosssim": Suite(
        CrossSimConfig, _crosssim, "MuJoCo-trained GRM and policies evaluated in PyBullet"
    ),
    "soak": Suite(
        SoakSuiteConfig,
        _soak,
        "grm_reward and topo_mapper over ROS 2, 5 minutes each: latency, drops, memory",
    ),
}


def run_suite(
    name: str,
    results_root: str | Path = "results",
    config_path: str | Path | None = None,
    overrides: Sequence[str] = (),
    config: Any = None,
    profile: str | None = None,
) -> tuple[Path, str]:
    """Run a suite on its embedded defaults, a YAML file and ``key=value`` overrides (or on a
    ready ``config``); returns the run folder and the Markdown summary."""
    if name not in SUITES:
        raise ValueError(f"unknown bench suite {name!r}; suites: {', '.join(SUITES)}")
    suite = SUITES[name]
    if config is None:
        config = load_config(suite.config_class, config_path, overrides)
    run = SuiteRun(new_run_dir(results_root, name), name, config_to_dict(config), profile)
    run.save()
    try:
        suite.run(config, run)
    except BaseException:
        run.save()
        raise
    run.finish()
    return run.run_dir, run.markdown()
