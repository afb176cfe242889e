"""Scripted experts: one per task, phases that match the task docs, reliable success, valid
actions, and disruptions (perturb / stall / random) that do what they promise."""

from __future__ import annotations

import re

import numpy as np
import pytest

from robo_reward.sim import TASKS
from robo_reward.sim.experts import EXPERTS, Disruption, ScriptedExpert

EXPERT_ITEMS = list(EXPERTS.items())
expert_matrix = pytest.mark.parametrize(
    ("task", "expert_class"), EXPERT_ITEMS, ids=[task for task, _ in EXPERT_ITEMS]
)
PERTURBABLE = [(task, phase) for task, cls in EXPERTS.items() for phase in cls.perturbable_phases()]
FIXED = [
    (task, phase)
    for task, cls in EXPERTS.items()
    for phase in cls.subtask_labels
    if phase not in cls.undo_plans
]
STALLABLE = [(task, phase) for task, cls in EXPERTS.items() for phase in cls.subtask_labels]


def _events(expert: ScriptedExpert) -> list[str]:
    return [event["event"] for event in expert.log.events]


# --------------------------------------------------------------------------- structure


def test_one_expert_per_task() -> None:
    assert set(EXPERTS) == set(TASKS)


@expert_matrix
def test_phases_and_undo_plans_are_well_formed(task: str, expert_class) -> None:
    labels = expert_class.subtask_labels
    assert labels and len(set(labels)) == len(labels)
    for label in labels:
        assert callable(getattr(expert_class, f"_{label}", None)), f"no phase method _{label}"
    assert expert_class.perturbable_phases(), "every expert can be perturbed somewhere"
    for phase, (routine, restart) in expert_class.undo_plans.items():
        assert phase in labels and restart in labels
        assert labels.index(restart) <= labels.index(phase)
        assert callable(getattr(expert_class, f"_undo_{routine}", None))


@expert_matrix
def test_task_docs_list_the_experts_subtasks(task: str, expert_class) -> None:
    doc = TASKS[task].env_class.__doc__ or ""
    section = doc.split("## Subtasks", 1)[1]
    assert tuple(re.findall(r"``(\w+)``", section)) == expert_class.subtask_labels


# --------------------------------------------------------------------------- success


@expert_matrix
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expert_succeeds(task: str, expert_class, seed: int, make, run_expert) -> None:
    env = make(task, cameras=())
    episode = run_expert(env, seed)
    assert episode.success, f"{expert_class.__name__} failed on seed {seed}"
    assert episode.terminated[-1] and episode.num_steps < TASKS[task].max_episode_steps
    assert [label for _, label in episode.expert.log.phase_starts] == list(
        expert_class.subtask_labels
    )
    keyframes, labels = episode.expert.keyframes(episode.num_steps, success=True)
    assert labels == expert_class.subtask_labels
    assert keyframes[0] == 0 and keyframes[-1] == episode.num_steps
    assert all(b > a for a, b in zip(keyframes, keyframes[1:], strict=False))
    assert episode.expert.log.events == []


@pytest.mark.slow
@expert_matrix
def test_expert_success_rate_over_100_seeds(task: str, expert_class, make, run_expert) -> None:
    env = make(task, cameras=())
    failures, unlabelled = [], []
    for seed in range(100):
        episode = run_expert(env, seed)
        if not episode.success:
            failures.append(seed)
        elif episode.expert.keyframes(episode.num_steps, success=True) is None:
            unlabelled.append(seed)
    assert len(failures) <= 5, f"{expert_class.__name__} failed on seeds {failures}"
    assert len(unlabelled) <= 5, f"successes without keyframes on seeds {unlabelled}"


@expert_matrix
def test_actions_are_valid_even_when_noisy(task: str, expert_class, make, run_expert) -> None:
    env = make(task, cameras=())
    episode = run_expert(env, 0, noise_std=0.5, random_action_prob=0.2)
    for action in episode.actions:
        assert action.shape == (4,) and action.dtype == np.float32
        assert np.isfinite(action).all() and (np.abs(action) <= 1).all()


@expert_matrix
def test_expert_is_deterministic_given_its_rng(task: str, expert_class, make, run_expert) -> None:
    a, b = make(task, cameras=()), make(task, cameras=())
    first = run_expert(a, 1, noise_std=0.1)
    second = run_expert(b, 1, noise_std=0.1)
    assert first.num_steps == second.num_steps
    for x, y in zip(first.actions, second.actions, strict=True):
        np.testing.assert_array_equal(x, y)
    other = run_expert(a, 1, expert_seed=99, noise_std=0.1)
    assert any(not np.array_equal(x, y) for x, y in zip(first.actions, other.actions, strict=False))


# --------------------------------------------------------------------------- disruptions


@expert_matrix
@pytest.mark.parametrize("kind", ["perturb", "stall"])
def test_disruption_of_a_missing_phase_is_rejected(task: str, expert_class, kind, make) -> None:
    env = make(task, cameras=())
    with pytest.raises(ValueError, match="no phase 'fly'") as info:
        expert_class(env.unwrapped, np.random.default_rng(0), disruption=Disruption(kind, "fly"))
    assert all(label in str(info.value) for label in expert_class.subtask_labels)


@pytest.mark.parametrize(("task", "phase"), FIXED, ids=[f"{t}-{p}" for t, p in FIXED])
def test_perturbing_a_phase_without_undo_is_rejected(task: str, phase: str, make) -> None:
    env = make(task, cameras=())
    expert_class = EXPERTS[task]
    with pytest.raises(ValueError, match=f"cannot undo phase '{phase}'"):
        expert_class(
            env.unwrapped, np.random.default_rng(0), disruption=Disruption("perturb", phase)
        )
    expert_class(env.unwrapped, np.random.default_rng(0), disruption=Disruption("stall", phase))


@pytest.mark.parametrize(("task", "phase"), PERTURBABLE, ids=[f"{t}-{p}" for t, p in PERTURBABLE])
@pytest.mark.parametrize("recover", [True, False], ids=["recover", "give_up"])
def test_perturbation_undoes_progress(
    task: str, phase: str, recover: bool, make, run_expert
) -> None:
    limit = 2 * TASKS[task].max_episode_steps
    env = make(task, cameras=(), max_episode_steps=limit)
    disruption = Disruption("perturb", phase, at_fraction=0.5, recover=recover)
    episode = run_expert(env, 0, disruption=disruption)
    expert = episode.expert
    events = _events(expert)
    assert events[:2] == ["perturb", "undo_done"]
    assert events[2:] == (["restart"] if recover else ["gave_up"])
    assert expert.log.events[0]["phase"] == phase
    assert expert.keyframes(episode.num_steps, episode.success) is None
    milestones = expert.progress_milestones(episode.num_steps, episode.success)
    if recover:
        assert episode.success, "the expert did not recover from its own perturbation"
    assert milestones is not None
    values = [value for _, value in milestones]
    assert any(b < a for a, b in zip(values, values[1:], strict=False)), milestones
    assert all(0.0 <= v <= 1.0 for v in values)
    if episode.success:
        assert milestones[-1] == (episode.num_steps, 1.0)


@pytest.mark.parametrize(
    ("task", "phase"),
    [
        pytest.param(
            task,
            phase,
            id=f"{task}-{phase}",
        )
        for task, phase in STALLABLE
    ],
)
def test_planned_stall_fires_and_fails(task: str, phase: str, make, run_expert) -> None:
    env = make(task, cameras=())
    for seed in (0, 1):
        episode = run_expert(env, seed, disruption=Disruption("stall", phase, at_fraction=0.5))
        assert _events(episode.expert) == ["stall"]
        assert not episode.success and episode.truncated[-1]
        milestones = episode.expert.progress_milestones(episode.num_steps, episode.success)
        assert milestones is not None and milestones[-1][1] < 1.0


@expert_matrix
def test_random_actions_have_unknown_progress(task: str, expert_class, make, run_expert) -> None:
    env = make(task, cameras=())
    episode = run_expert(env, 0, disruption=Disruption("random"))
    assert _events(episode.expert) == ["random_actions"]
    assert episode.expert.progress_milestones(episode.num_steps, episode.success) is None
    assert episode.expert.keyframes(episode.num_steps, episode.success) is None
    assert np.std(np.stack(episode.actions)[:, :3]) > 0.3
