"""``robo-reward perceptual eval``: step discovery against the experts' steps, and progress
quality next to the GRM's, on the same episodes.

Step discovery (Sermanet et al. 2017, table 1) is scored as the Jaccard overlap between the
discovered steps and annotated ones, against an ordered-random split with the same minimum step
length. Our annotation comes from the scripted experts' phases, grouped the way a person would
describe the task in two or three steps (:data:`STEP_ANNOTATIONS`): two steps are "reach the
object" and "move it"; three split the first into "approach" and "take hold" (grasp, lower,
or nothing for the button). The grouping is fixed here, before any result is seen, and applies to
training and held-out tasks alike.

Progress quality: VOC on held-out expert episodes and completion accuracy (Robo-Dopamine's rule,
:func:`robo_reward.grm.evaluate.completion_class`) on success / partial / failure rollouts, for
the perceptual reward fitted on a few demos and for the general GRM conditioned on one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from robo_reward.data import Trajectory
from robo_reward.grm.evaluate import (
    CLASSES,
    classification_rollouts,
    completion_class,
    true_class,
    voc,
)
from robo_reward.perceptual.features import FrameFeatures
from robo_reward.perceptual.reward import PerceptualConfig, discovery_keyframes, fit_from_features
from robo_reward.perceptual.steps import jaccard_overlap, random_ordered_steps
from robo_reward.sim.demos import rollout
from robo_reward.sim.env_config import EnvConfig

STEP_ANNOTATIONS: dict[str, dict[int, tuple[tuple[str, ...], ...]]] = {
    "push": {2: (("approach", "lower"), ("push",)), 3: (("approach",), ("lower",), ("push",))},
    "pick_place": {
        2: (("approach", "grasp"), ("lift", "carry")),
        3: (("approach",), ("grasp",), ("lift", "carry")),
    },
    "drawer_open": {
        2: (("approach", "grasp"), ("pull",)),
        3: (("approach",), ("grasp",), ("pull",)),
    },
    "stack": {
        2: (("approach", "grasp"), ("lift", "carry", "place")),
        3: (("approach",), ("grasp",), ("lift", "carry", "place")),
    },
    "button_press": {2: (("approach",), ("press",))},
}
"""Expert phases grouped into 2 and 3 annotated steps per task (button_press has two phases)."""


def annotated_keyframes(traj: Trajectory, num_steps: int) -> tuple[int, ...]:
    """The trajectory's expert keyframes grouped into ``num_steps`` annotated steps."""
    groups = STEP_ANNOTATIONS.get(traj.task, {}).get(num_steps)
    if groups is None:
        raise ValueError(f"no {num_steps}-step annotation for task {traj.task!r}")
    subtasks = traj.subtasks()
    labels = [label for label, _, _ in subtasks]
    flat = [label for group in groups for label in group]
    if flat != labels:
        raise ValueError(f"annotation {groups} does not match the expert phases {labels}")
    keys, index = [0], 0
    for group in groups:
        index += len(group)
        keys.append(subtasks[index - 1][2])
    return tuple(keys)


@dataclass(frozen=True)
class PerceptualEvalConfig:
    """What ``robo-reward perceptual eval`` measures."""

    tasks: tuple[str, ...] = ("button_press", "stack", "push", "drawer_open", "pick_place")
    """Tasks to evaluate (stack and button_press are held out of GRM and TCN training)."""
    held_out: tuple[str, ...] = ("button_press", "stack")
    fit_demos: int = 5
    """Expert demos the reward is fitted on."""
    discovery_demos: int = 10
    """Expert demos step discovery is scored on."""
    trajectories: int = 10
    """Held-out expert episodes for VOC."""
    rollouts_per_class: int = 10
    """Success / partial / failure rollouts for completion accuracy."""
    random_draws: int = 200
    """Ordered-random splits per demo for the baseline."""
    demo_seed: int = 40_000
    eval_seed: int = 50_000
    reward: PerceptualConfig = field(default_factory=PerceptualConfig)
    grm: bool = True
    """Also evaluate the general GRM (zero-shot, fused progress) on the same episodes."""

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in STEP_ANNOTATIONS]
        if unknown:
            raise ValueError(
                f"no step annotations for {unknown}; known: {sorted(STEP_ANNOTATIONS)}"
            )
        if (
            min(self.fit_demos, self.discovery_demos, self.trajectories, self.rollouts_per_class)
            < 1
        ):
            raise ValueError("demo, trajectory and rollout counts must be >= 1")


def discovery_scores(
    trajectories: list[Trajectory],
    features: list[np.ndarray],
    num_steps: int,
    config: PerceptualConfig,
    random_draws: int,
    seed: int = 0,
) -> dict[str, float]:
    """Mean Jaccard overlap of discovered vs annotated steps, and of ordered-random splits."""
    rng = np.random.default_rng(seed)
    found, baseline = [], []
    for traj, x in zip(trajectories, features, strict=True):
        reference = annotated_keyframes(traj, num_steps)
        keys = discovery_keyframes(x, num_steps, config)
        found.append(jaccard_overlap(keys, reference, traj.num_frames))
        baseline.extend(
            jaccard_overlap(
                random_ordered_steps(traj.num_frames, num_steps, config.min_step_length, rng),
                reference,
                traj.num_frames,
            )
            for _ in range(random_draws)
        )
    return {"discovered": float(np.mean(found)), "ordered_random": float(np.mean(baseline))}


def _classify(progress: list[np.ndarray], rollouts: list[Trajectory]) -> dict[str, Any]:
    confusion = {t: dict.fromkeys(CLASSES, 0) for t in CLASSES}
    for curve, traj in zip(progress, rollouts, strict=True):
        confusion[true_class(traj)][completion_class(curve)] += 1
    total = sum(sum(row.values()) for row in confusion.values())
    accuracy = sum(confusion[c][c] for c in CLASSES) / max(total, 1)
    return {"completion_accuracy": accuracy, "confusion": confusion}


def _grm_curves(trajectories: list[Trajectory], demo: Trajectory) -> list[np.ndarray]:
    from robo_reward.grm.checkpoint import default_checkpoint, load_grm
    from robo_reward.grm.tracker import FusionConfig, Reference, fuse_hops, trajectory_hops

    grm = load_grm(default_checkpoint())
    reference = Reference.from_trajectory(demo)
    curves = []
    for traj in trajectories:
        hops, completion = trajectory_hops(grm, reference, traj, grm.config.views)
        curves.append(fuse_hops(hops, completion, FusionConfig())["fused"])
    return curves


def run_perceptual_eval(config: PerceptualEvalConfig, progress: bool = True) -> dict[str, Any]:
    encoder = FrameFeatures(config.reward.features, config.reward.checkpoint, config.reward.views)
    results: dict[str, Any] = {
        "encoder": encoder.source,
        "checkpoint": encoder.checkpoint,
        "tasks": {},
    }
    for task in tqdm(config.tasks, desc="perceptual eval", disable=not progress):
        env_config = EnvConfig(appearance_seed=config.demo_seed)
        count = max(config.fit_demos, config.discovery_demos)
        demos = [rollout(task, config.demo_seed + i, env_config=env_config) for i in range(count)]
        demo_features = [encoder.trajectory(d) for d in demos]
        task_result: dict[str, Any] = {"held_out": task in config.held_out, "discovery": {}}
        for steps in sorted(STEP_ANNOTATIONS[task]):
            scores = discovery_scores(
                demos[: config.discovery_demos],
                demo_features[: config.discovery_demos],
                steps,
                config.reward,
                config.random_draws,
            )
            # The same objective on the simulator's state (gripper and object poses): whether a
            # shortfall lies in the image features or in the objective itself.
            scores["state_features"] = discovery_scores(
                demos[: config.discovery_demos],
                [d.states for d in demos[: config.discovery_demos]],
                steps,
                config.reward,
                random_draws=1,
            )["discovered"]
            task_result["discovery"][str(steps)] = scores
        reward = fit_from_features(demo_features[: config.fit_demos], config.reward, task)
        experts = [
            rollout(task, config.eval_seed + i, env_config=env_config)
            for i in range(config.trajectories)
        ]
        rollouts = classification_rollouts(
            task, config.rollouts_per_class, config.eval_seed + 1000, env_config
        )
        expert_curves = [reward.progress_from_features(encoder.trajectory(t)) for t in experts]
        rollout_curves = [reward.progress_from_features(encoder.trajectory(t)) for t in rollouts]
        task_result["perceptual"] = {
            "voc": float(np.mean([voc(c) for c in expert_curves])),
            "voc_min": float(np.min([voc(c) for c in expert_curves])),
            **_classify(rollout_curves, rollouts),
        }
        if config.grm:
            grm_experts = _grm_curves(experts, demos[0])
            grm_rollouts = _grm_curves(rollouts, demos[0])
            task_result["grm_zero_shot"] = {
                "voc": float(np.mean([voc(c) for c in grm_experts])),
                "voc_min": float(np.min([voc(c) for c in grm_experts])),
                **_classify(grm_rollouts, rollouts),
            }
        task_result["rollouts"] = {c: sum(true_class(t) == c for t in rollouts) for c in CLASSES}
        results["tasks"][task] = task_result
    return results


def perceptual_markdown(results: dict[str, Any]) -> str:
    lines = [
        "## robo-reward perceptual eval",
        "",
        f"Features: {results['encoder']} ({Path(results['checkpoint']).name}).",
        "",
        "### Step discovery (Jaccard overlap with the annotated steps)",
        "",
        "| task | held out | steps | discovered (image features) | ordered random | "
        "same objective on the true state |",
        "|---|---|---|---|---|---|",
    ]
    for task, r in results["tasks"].items():
        for steps, s in r["discovery"].items():
            lines.append(
                f"| {task} | {'yes' if r['held_out'] else 'no'} | {steps} | "
                f"{s['discovered']:.0%} | {s['ordered_random']:.0%} | {s['state_features']:.0%} |"
            )
    lines += [
        "",
        "### Progress quality (held-out episodes)",
        "",
        "| task | reward | VOC mean | VOC min | completion accuracy |",
        "|---|---|---|---|---|",
    ]
    for task, r in results["tasks"].items():
        for name in ("perceptual", "grm_zero_shot"):
            if name in r:
                m = r[name]
                lines.append(
                    f"| {task} | {name} | {m['voc']:.3f} | {m['voc_min']:.3f} | "
                    f"{m['completion_accuracy']:.0%} |"
                )
    return "\n".join(lines) + "\n"


def plot_perceptual(results: dict[str, Any], path: Path) -> Path:
    """VOC and completion accuracy per task: the perceptual reward next to the zero-shot GRM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(results["tasks"])
    rewards = [
        name for name in ("perceptual", "grm_zero_shot") if name in results["tasks"][tasks[0]]
    ]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    width = 0.8 / len(rewards)
    for ax, metric, title in zip(
        axes, ("voc", "completion_accuracy"), ("VOC", "completion accuracy"), strict=True
    ):
        for index, name in enumerate(rewards):
            values = [results["tasks"][task][name][metric] for task in tasks]
            ax.bar(np.arange(len(tasks)) + index * width, values, width, label=name)
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=20, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = [
    "STEP_ANNOTATIONS",
    "PerceptualEvalConfig",
    "annotated_keyframes",
    "discovery_scores",
    "perceptual_markdown",
    "plot_perceptual",
    "run_perceptual_eval",
]
