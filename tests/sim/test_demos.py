"""Demonstrations from the scripted experts: keyframes and true progress of clean demos, real
regress in perturbed ones, variant planning, and datasets written by ``generate_demos``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from robo_reward.data import DatasetReader, Trajectory, keyframe_progress
from robo_reward.sim import TASKS, make_env
from robo_reward.sim.demos import (
    DEMO_VARIANTS,
    DemoConfig,
    episode_limit,
    generate_demos,
    plan_variant,
    rollout,
)
from robo_reward.sim.env_config import EnvConfig
from robo_reward.sim.experts import EXPERTS

TASK_NAMES = list(TASKS)
SEEDS = (0, 1, 2)
SMALL = EnvConfig(cameras=("front",), image_size=32)


def _rollouts(task: str, variant: str, seeds, image_size: int = 32) -> list[Trajectory]:
    env = make_env(
        task,
        max_episode_steps=episode_limit(task, variant),
        cameras=("front",),
        image_size=image_size,
    )
    try:
        return [rollout(task, seed, variant, env=env) for seed in seeds]
    finally:
        env.close()


@pytest.fixture(scope="module", params=TASK_NAMES)
def clean_demos(request) -> Iterator[tuple[str, list[Trajectory]]]:
    yield request.param, _rollouts(request.param, "expert", SEEDS)


# --------------------------------------------------------------------------- clean demos


def test_clean_demos_have_keyframes_at_subtask_boundaries(clean_demos) -> None:
    task, demos = clean_demos
    labels = EXPERTS[task].subtask_labels
    for traj in demos:
        assert traj.success and traj.variant == "expert"
        assert traj.metadata["events"] == []
        keyframes = traj.keyframes
        assert keyframes is not None, f"seed {traj.seed}: a clean success has no keyframes"
        assert keyframes[0] == 0 and keyframes[-1] == traj.num_steps
        assert list(keyframes) == sorted(set(keyframes)), "keyframes are not strictly ordered"
        assert traj.subtask_labels == labels
        phase_starts = [frame for frame, _ in traj.metadata["phase_starts"]]
        assert list(keyframes[:-1]) == phase_starts


def test_clean_demos_progress_is_monotone_and_follows_the_keyframes(clean_demos) -> None:
    _, demos = clean_demos
    for traj in demos:
        progress = traj.progress
        assert progress is not None and progress.dtype == np.float32
        assert progress.shape == (traj.num_steps + 1,)
        assert progress[0] == 0.0 and progress[-1] == 1.0
        assert ((progress >= 0) & (progress <= 1)).all()
        assert (np.diff(progress) >= 0).all(), "clean expert progress goes down"
        # Each subtask is worth 1/N and progress is linear inside it (the design's labels).
        expected = keyframe_progress(traj.keyframes, traj.num_steps + 1)
        np.testing.assert_allclose(progress, expected, atol=1e-6)


def test_clean_demos_record_a_consistent_episode(clean_demos) -> None:
    task, demos = clean_demos
    env = make_env(task, cameras=())
    try:
        unwrapped = env.unwrapped
        for traj in demos:
            steps = traj.num_steps
            assert traj.task == task and traj.task_text == unwrapped.task_text
            assert set(traj.frames) == {"front"} and traj.depth == {}
            assert traj.frames["front"].shape == (steps + 1, 32, 32, 3)
            assert traj.actions.shape == (steps, 4) and (np.abs(traj.actions) <= 1).all()
            assert traj.states.shape == (steps + 1, 10)
            dt_ns = round(unwrapped.dt * 1e9)
            assert traj.timestamps_ns[0] == 0
            np.testing.assert_allclose(np.diff(traj.timestamps_ns), dt_ns, atol=1)
            assert traj.achieved_goals.shape == traj.desired_goals.shape
            assert traj.achieved_goals.shape == (steps + 1, unwrapped.goal_dim)
            rewards = unwrapped.compute_reward(
                traj.achieved_goals[1:], traj.desired_goals[1:], None
            )
            np.testing.assert_array_equal(traj.rewards, rewards)
            assert traj.rewards[-1] == 1.0 and traj.rewards.sum() == 1.0
            assert traj.metadata["truncated"] is False
    finally:
        env.close()


def test_same_seed_same_demo() -> None:
    first, second = _rollouts("push", "noisy", (4, 4))
    assert first.variant == "noisy" and first.metadata["noise_std"] > 0
    np.testing.assert_array_equal(first.actions, second.actions)
    np.testing.assert_array_equal(first.frames["front"], second.frames["front"])
    other = _rollouts("push", "noisy", (5,))[0]
    assert first.actions.shape != other.actions.shape or not np.array_equal(
        first.actions, other.actions
    )


# --------------------------------------------------------------------------- perturbed


@pytest.fixture(scope="module", params=TASK_NAMES)
def perturbed_demos(request) -> Iterator[tuple[str, list[Trajectory]]]:
    yield request.param, _rollouts(request.param, "perturbed", range(6), image_size=16)


def test_perturbed_demos_regress_and_record_their_events(perturbed_demos) -> None:
    task, demos = perturbed_demos
    checked = 0
    for traj in demos:
        disruption = traj.metadata["disruption"]
        assert traj.metadata["planned_variant"] == "perturbed" and disruption["kind"] == "perturb"
        assert disruption["phase"] in EXPERTS[task].perturbable_phases()
        events = [event["event"] for event in traj.metadata["events"]]
        if "undo_done" not in events:
            continue
        first = traj.metadata["events"][0]
        assert first["event"] == "perturb" and first["phase"] == disruption["phase"]
        assert traj.keyframes is None and traj.subtask_labels is None
        if traj.progress is None:  # an unplanned failure: progress unknown
            assert not traj.success
            continue
        assert ((traj.progress >= 0) & (traj.progress <= 1)).all()
        assert (np.diff(traj.progress) < 0).any(), f"seed {traj.seed}: progress never went down"
        checked += 1
    assert checked >= 3, "too few perturbed demos with an undo and known progress"


def test_demos_labelled_perturbed_were_perturbed(perturbed_demos) -> None:
    """A planned perturbation can fail to happen (the task finishes first); such a demo is
    labelled by what it was (noisy), never as perturbed."""
    task, demos = perturbed_demos
    for traj in demos:
        assert traj.metadata["planned_variant"] == "perturbed"
        events = [event["event"] for event in traj.metadata["events"]]
        if traj.variant == "perturbed":
            assert events[0] == "perturb", f"seed {traj.seed}: labelled perturbed, not perturbed"
        else:
            assert traj.variant == "noisy" and events == [], f"seed {traj.seed}: {events}"
    assert sum(traj.variant == "perturbed" for traj in demos) >= len(demos) // 2


def test_failure_demos_are_stalls_or_random_actions() -> None:
    kinds = set()
    for traj in _rollouts("push", "failure", range(6), image_size=16):
        kind = traj.metadata["disruption"]["kind"]
        kinds.add(kind)
        assert traj.variant == "failure" and traj.keyframes is None
        if kind == "random":
            assert traj.progress is None
        else:
            assert kind == "stall" and traj.progress is not None
            assert not traj.success and traj.progress[-1] < 1.0
    assert kinds == {"stall", "random"}


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize("task", TASK_NAMES)
def test_plan_variant(task: str) -> None:
    expert = EXPERTS[task]
    rng = np.random.default_rng(0)
    assert plan_variant("expert", expert, rng, 0.2) == {}
    noisy = plan_variant("noisy", expert, rng, 0.2)
    assert noisy["noise_std"] == 0.2 and 0 < noisy["random_action_prob"] < 1
    for _ in range(20):
        disruption = plan_variant("perturbed", expert, rng, 0.2)["disruption"]
        assert disruption.kind == "perturb" and disruption.phase in expert.perturbable_phases()
        assert 0.25 <= disruption.at_fraction <= 0.6
        failure = plan_variant("failure", expert, rng, 0.2)["disruption"]
        assert failure.kind in ("stall", "random")
        if failure.kind == "stall":
            assert failure.phase in expert.subtask_labels
    with pytest.raises(ValueError, match="unknown variant 'clean'"):
        plan_variant("clean", expert, rng, 0.2)


def test_unknown_variant_in_rollout_is_rejected() -> None:
    with pytest.raises(ValueError):
        rollout("reach", 0, "clean", env_config=SMALL)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_perturbed_episodes_get_twice_the_time(task: str) -> None:
    base = TASKS[task].max_episode_steps
    assert episode_limit(task, "perturbed") == 2 * base
    for variant in ("expert", "noisy", "failure"):
        assert episode_limit(task, variant) == base


# --------------------------------------------------------------------------- config


def test_demo_config_defaults_are_valid() -> None:
    config = DemoConfig()
    assert config.task in TASKS and config.episodes >= 1
    assert set(config.variants) <= set(DEMO_VARIANTS) and config.env.cameras


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variants": {"expert": 1, "sloppy": 1}}, "unknown variants.*sloppy"),
        ({"episodes": 0}, "episodes"),
        ({"episodes": -3}, "episodes"),
        ({"task": "nope"}, "unknown task"),
        ({"variants": {"expert": -1.0, "noisy": 2.0}}, "weights"),
        ({"variants": {"expert": 0.0}}, "weights"),
        ({"variants": {}}, "weights"),
        ({"env": EnvConfig(cameras=())}, "camera"),
        ({"noise_std": -0.1}, "noise_std"),
    ],
)
def test_bad_demo_config_is_rejected(kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DemoConfig(**kwargs)


# --------------------------------------------------------------------------- datasets


def test_generate_demos_writes_a_readable_dataset(tmp_path: Path) -> None:
    config = DemoConfig(task="reach", episodes=3, env=SMALL, variants={"expert": 1, "perturbed": 1})
    out = tmp_path / "ds"
    summary = generate_demos(config, out)
    reader = DatasetReader(out)
    assert len(reader) == 3 and reader.task == "reach" and reader.complete
    assert summary == reader.summary() and summary["num_episodes"] == 3
    assert sum(v["count"] for v in summary["by_variant"].values()) == 3
    assert reader.manifest["metadata"]["config"]["task"] == "reach"
    for index, traj in enumerate(reader):
        assert traj.task == "reach" and traj.seed == config.seed + index
        assert traj.variant in ("expert", "perturbed")
        assert traj.frames["front"].shape == (traj.num_steps + 1, 32, 32, 3)
        if traj.variant == "expert":
            assert traj.success and traj.subtask_labels == ("reach",)

    with pytest.raises(FileExistsError, match="not empty"):
        generate_demos(config, out)
    assert len(DatasetReader(out)) == 3, "a refused call must leave the dataset alone"

    replacement = DemoConfig(task="reach", episodes=2, env=SMALL)
    generate_demos(replacement, out, overwrite=True)
    assert len(DatasetReader(out)) == 2


@pytest.mark.parametrize(
    "env", [EnvConfig(cameras=("front",), image_size=5), EnvConfig(cameras=("top",))]
)
def test_generate_demos_fails_before_writing_anything(tmp_path: Path, env: EnvConfig) -> None:
    out = tmp_path / "ds"
    with pytest.raises(ValueError):
        generate_demos(DemoConfig(task="reach", episodes=1, env=env), out)
    assert not out.exists()
