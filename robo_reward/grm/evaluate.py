"""``robo-reward grm eval``: how good is GRM progress on tasks it never saw in pretraining?

For each held-out task: VOC (Spearman correlation of predicted progress with time) on expert
trajectories for the fusion and each single anchoring, with every camera and with each view
alone or dropped; zero-shot (the reference is one demo, the model is the general one) and after
one-shot adaptation on that demo; and completion accuracy on success / partial / failure
rollouts, with Robo-Dopamine's decision rule on the fused progress.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from robo_reward.data import Trajectory
from robo_reward.data.paths import file_name_part
from robo_reward.grm.adapt import AdaptConfig, adapt
from robo_reward.grm.checkpoint import default_checkpoint, load_grm
from robo_reward.grm.completion import completion_class  # re-exported: the rule lives there
from robo_reward.grm.model import GRM
from robo_reward.grm.pairs import progress_labels
from robo_reward.grm.tracker import (
    ANCHORINGS,
    FusionConfig,
    Reference,
    fuse_hops,
    trajectory_hops,
)
from robo_reward.sim.demos import rollout
from robo_reward.sim.env_config import EnvConfig
from robo_reward.sim.experts import EXPERTS, Disruption
from robo_reward.sim.registration import task_spec

CLASSES = ("success", "partial", "failure")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (ties get average ranks); 0 when either side is constant."""
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def voc(progress: np.ndarray) -> float:
    """Value-order correlation: Spearman correlation of progress with time."""
    return spearman(progress, np.arange(len(progress)))


def true_class(traj: Trajectory) -> str:
    """Ground truth from the simulator: success if the env said so; otherwise partial when the
    true progress over the last third averages >= 0.4, else failure."""
    if traj.success:
        return "success"
    labels, _ = progress_labels(traj)
    if labels is None:
        return "failure"
    tail = labels[-max(1, len(labels) // 3) :]
    return "partial" if tail.mean() >= 0.4 else "failure"


@dataclass(frozen=True)
class EvalConfig:
    """What ``robo-reward grm eval`` measures."""

    checkpoint: str = ""
    """General checkpoint (empty: the one shipped in the package)."""
    tasks: tuple[str, ...] = ("stack", "button_press")
    """Held-out task families to evaluate on."""
    trajectories: int = 10
    """Expert trajectories per task for VOC."""
    rollouts_per_class: int = 10
    """Success / partial / failure rollouts per task for completion accuracy."""
    demo_seed: int = 40_000
    """Seed of the one demo used as reference and for adaptation."""
    eval_seed: int = 50_000
    """First seed of the evaluation episodes (disjoint from training seeds)."""
    adapt_model: bool = True
    """Also adapt on the demo and evaluate the adapted model."""
    same_appearance: bool = True
    """Evaluation episodes share the demo's visual setup (colours, table texture, lights and
    camera poses; object placement varies), as a robot's workspace does after one demo. False:
    every episode draws a new appearance."""
    adaptation: AdaptConfig = field(default_factory=AdaptConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    plots: int = 10
    """Progress plots (PNG) per task and model (the first ``plots`` expert trajectories)."""

    def __post_init__(self) -> None:
        for task in self.tasks:
            task_spec(task)
        if self.trajectories < 2 or self.rollouts_per_class < 1:
            raise ValueError("need >= 2 trajectories and >= 1 rollout per class")


def classification_rollouts(
    task: str, per_class: int, seed: int, env_config: EnvConfig | None = None
) -> list[Trajectory]:
    """Successes (expert), partials (stalled in a late phase) and failures (stalled in the first
    phase or random actions), labelled by :func:`true_class`, ``per_class`` of each.

    An episode the decision rule would misread even on its *true* progress (a stall at 95% of
    the task reads as success) is ambiguous for any progress estimate and is left out."""
    phases = EXPERTS[task].subtask_labels
    wanted = {name: per_class for name in CLASSES}
    found: list[Trajectory] = []
    for attempt in itertools.count():
        if not any(wanted.values()) or attempt > 40 * per_class:
            break
        kind = CLASSES[attempt % 3]
        if wanted[kind] == 0:
            continue
        rng = np.random.default_rng([seed, attempt])
        if kind == "success":
            traj = rollout(task, seed + attempt, env_config=env_config)
        else:
            if kind == "partial":
                late = phases[max(1, len(phases) // 2) :]
                phase = late[rng.integers(len(late))]
                disruption = Disruption("stall", phase, float(rng.uniform(0.3, 0.9)))
            elif rng.uniform() < 0.5:
                disruption = Disruption("stall", phases[0], float(rng.uniform(0.1, 0.6)))
            else:
                disruption = Disruption("random")
            traj = rollout(
                task, seed + attempt, "failure", env_config=env_config, disruption=disruption
            )
        label = true_class(traj)
        labels, _ = progress_labels(traj)
        if labels is not None and completion_class(labels) != label:
            continue  # the rule itself misreads the true progress (e.g. stalled at 95%): ambiguous
        if wanted[label] > 0:
            wanted[label] -= 1
            found.append(traj)
    return found


FUSION_VARIANTS = {
    "alpha 20 (paper)": FusionConfig(alpha=20.0, consistency=True),
    "alpha 5": FusionConfig(alpha=5.0, consistency=True),
    "plain mean": FusionConfig(consistency=False),
}
"""Fusion settings compared side by side on the same hops (the configured one is the headline)."""


def evaluate_model(
    grm: GRM,
    reference: Reference,
    experts: list[Trajectory],
    rollouts: list[Trajectory],
    fusion: FusionConfig,
    plot_dir: Path | None = None,
    plots: int = 0,
    label: str = "",
) -> dict[str, Any]:
    """VOC per anchoring and view subset, and completion accuracy, for one model. Hops are
    predicted once per trajectory and view subset and fused under every setting compared."""
    views = grm.config.views
    subsets = {"all": views}
    subsets.update({f"only {v}": (v,) for v in views})
    subsets.update({f"without {v}": tuple(w for w in views if w != v) for v in views})
    fusions = {"configured": fusion, **FUSION_VARIANTS}
    vocs: dict[str, dict[str, list[float]]] = {name: {} for name in subsets}
    fusion_vocs: dict[str, list[float]] = {name: [] for name in fusions}
    for index, traj in enumerate(experts):
        for name, subset in subsets.items():
            hops, completion = trajectory_hops(grm, reference, traj, subset)
            curves = fuse_hops(hops, completion, fusion)
            for key in (*ANCHORINGS, "fused"):
                vocs[name].setdefault(key, []).append(voc(curves[key]))
            if name != "all":
                continue
            for fusion_name, variant in fusions.items():
                fusion_vocs[fusion_name].append(voc(fuse_hops(hops, completion, variant)["fused"]))
            if plot_dir is not None and index < plots:
                from robo_reward.grm.plots import plot_progress

                png = f"{file_name_part(label)}_{file_name_part(traj.task)}_{index}.png"
                plot_progress(
                    traj,
                    curves,
                    plot_dir / png,
                    title=f"{traj.task} ({label}), VOC fused {vocs[name]['fused'][-1]:.3f}",
                )
    confusions = {name: {t: dict.fromkeys(CLASSES, 0) for t in CLASSES} for name in fusions}
    anchoring_confusions = {
        name: {t: dict.fromkeys(CLASSES, 0) for t in CLASSES} for name in ANCHORINGS
    }
    for traj in rollouts:
        hops, completion = trajectory_hops(grm, reference, traj, views)
        for fusion_name, variant in fusions.items():
            curves = fuse_hops(hops, completion, variant)
            confusions[fusion_name][true_class(traj)][completion_class(curves["fused"])] += 1
            if fusion_name == "configured":
                # The same decision rule on each anchoring alone: VOC only sees monotonicity on
                # expert runs; this shows which anchoring also tells a failure from a success.
                for anchoring in ANCHORINGS:
                    predicted = completion_class(curves[anchoring])
                    anchoring_confusions[anchoring][true_class(traj)][predicted] += 1
    accuracy = {name: _accuracy(matrix) for name, matrix in confusions.items()}
    return {
        "voc": {name: {k: float(np.mean(v)) for k, v in d.items()} for name, d in vocs.items()},
        "voc_min_fused": float(np.min(vocs["all"]["fused"])),
        "completion_accuracy": accuracy["configured"],
        "confusion": confusions["configured"],
        "completion_accuracy_per_anchoring": {
            name: _accuracy(matrix) for name, matrix in anchoring_confusions.items()
        },
        "fusion_variants": {
            name: {"voc": float(np.mean(fusion_vocs[name])), "completion_accuracy": accuracy[name]}
            for name in fusions
        },
    }


def _accuracy(confusion: dict[str, dict[str, int]]) -> float:
    total = sum(sum(row.values()) for row in confusion.values())
    return sum(confusion[c][c] for c in CLASSES) / max(total, 1)


def run_eval(config: EvalConfig, out_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = config.checkpoint or str(default_checkpoint())
    general = load_grm(checkpoint)
    results: dict[str, Any] = {"checkpoint": checkpoint, "tasks": {}}
    for task in tqdm(config.tasks, desc="grm eval", disable=not progress):
        env_config = EnvConfig(appearance_seed=config.demo_seed if config.same_appearance else None)
        demo = rollout(task, config.demo_seed, env_config=env_config)
        reference = Reference.from_trajectory(demo)
        experts = [
            rollout(task, config.eval_seed + i, env_config=env_config)
            for i in range(config.trajectories)
        ]
        rollouts = classification_rollouts(
            task, config.rollouts_per_class, config.eval_seed + 1000, env_config
        )
        task_result: dict[str, Any] = {
            "expert_trajectories": len(experts),
            "rollouts": {c: sum(true_class(t) == c for t in rollouts) for c in CLASSES},
            "zero_shot": evaluate_model(
                general, reference, experts, rollouts, config.fusion, out, config.plots, "zero_shot"
            ),
        }
        if config.adapt_model:
            started = time.perf_counter()
            adapted_dir = out / f"adapted_{file_name_part(task)}"
            adapted = adapt(demo, adapted_dir, config.adaptation, progress=False)
            task_result["adaptation"] = {
                "seconds": time.perf_counter() - started,
                "labels": adapted.labels,
                "demo_frames": adapted.frames,
                "steps": adapted.train.steps,
            }
            model = load_grm(adapted.train.checkpoint)
            task_result["adapted"] = evaluate_model(
                model, reference, experts, rollouts, config.fusion, out, config.plots, "adapted"
            )
        results["tasks"][task] = task_result
    return results


def eval_markdown(results: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    rows, fusion_rows = [], []
    for task, r in results["tasks"].items():
        for mode in ("zero_shot", "adapted"):
            if mode not in r:
                continue
            m = r[mode]
            v = m["voc"]["all"]
            single = max(m["voc"][k]["fused"] for k in m["voc"] if k.startswith("only "))
            drops = [
                v["fused"] - m["voc"][k]["fused"] for k in m["voc"] if k.startswith("without ")
            ]
            name = mode.replace("_", "-")
            rows.append(
                [
                    task,
                    name,
                    f"{v['fused']:.3f}",
                    f"{v['incremental']:.3f}",
                    f"{v['forward']:.3f}",
                    f"{v['backward']:.3f}",
                    f"{single:.3f}",
                    f"{max(drops):+.3f}",
                    f"{100 * m['completion_accuracy']:.0f}%",
                    " / ".join(
                        f"{100 * m['completion_accuracy_per_anchoring'][a]:.0f}%"
                        for a in ANCHORINGS
                    ),
                ]
            )
            fusion_rows.append(
                [task, name]
                + [
                    f"{f['voc']:.3f} / {100 * f['completion_accuracy']:.0f}%"
                    for f in m["fusion_variants"].values()
                ]
            )
    header = [
        "task",
        "model",
        "VOC fused",
        "incremental",
        "forward",
        "backward",
        "best single view",
        "worst view-drop cost",
        "completion acc.",
        "completion acc. incr. / fwd / bwd alone",
    ]
    lines = ["### GRM on held-out tasks\n", markdown_table(header, rows)]
    any_variants = next(iter(results["tasks"].values()))["zero_shot"]["fusion_variants"]
    lines.append("\nFusion settings on the same hops (VOC fused / completion accuracy):\n")
    lines.append(markdown_table(["task", "model", *any_variants], fusion_rows))
    for task, r in results["tasks"].items():
        if "adaptation" in r:
            a = r["adaptation"]
            lines.append(
                f"- {task}: adaptation on one {a['demo_frames']}-frame demo ({a['labels']} labels, "
                f"{a['steps']} steps) took {a['seconds']:.0f} s."
            )
    return "\n".join(lines) + "\n"
