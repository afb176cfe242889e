"""Perceptual reward: feature choice, progress, files and bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robo_reward.checkpoints import CheckpointError, save_weights
from robo_reward.grm.evaluate import voc
from robo_reward.perceptual.reward import (
    PerceptualConfig,
    PerceptualReward,
    feature_scores,
    fit_from_features,
    fit_perceptual_reward,
)

DIMS = 24


def synthetic_demo(rng: np.random.Generator, lengths=(10, 14, 8)) -> np.ndarray:
    """Three phases; phase i moves features 2i and 2i+1 from 0 to 1 (the rest is noise),
    like an arm that approaches, then grasps, then lifts."""
    frames = []
    position = np.zeros(DIMS)
    for phase, length in enumerate(lengths):
        for t in range(length):
            position = position.copy()
            position[2 * phase : 2 * phase + 2] = (t + 1) / length
            frames.append(position + 0.05 * rng.normal(size=DIMS))
    return np.array(frames)


def fitted(steps: int = 3, **changes) -> tuple[PerceptualReward, np.random.Generator]:
    rng = np.random.default_rng(0)
    demos = [synthetic_demo(rng, (10 + k, 14 - k, 8 + k)) for k in range(4)]
    config = PerceptualConfig(steps=steps, top_features=4, features="grm", **changes)
    return fit_from_features(demos, config, "synthetic"), rng


def test_feature_scores_prefer_separating_features() -> None:
    rng = np.random.default_rng(0)
    positives = rng.normal(size=(50, 4))
    negatives = rng.normal(size=(50, 4))
    positives[:, 2] += 3.0  # only feature 2 separates
    assert int(np.argmax(feature_scores(positives, negatives, alpha=5.0))) == 2


def test_each_demo_records_its_discovered_steps() -> None:
    reward, _ = fitted()
    lengths = [32 + k for k in range(4)]
    for keys, frames in zip(reward.extra["demo_keyframes"], lengths, strict=True):
        assert keys[0] == 0 and keys[-1] == frames - 1 and len(keys) == 4
        assert min(np.diff([*keys[:-1], frames])) >= reward.config.min_step_length


def test_progress_rises_on_an_unseen_demo_and_stays_in_range() -> None:
    reward, rng = fitted()
    demo = synthetic_demo(rng, (12, 12, 12))
    progress = reward.progress_from_features(demo)
    assert voc(progress) > 0.95
    assert progress[:3].mean() < 0.2 and progress[-3:].mean() > 0.8
    assert voc(reward.progress_from_features(demo[::-1])) < -0.9
    far = 1e3 * rng.normal(size=(20, DIMS))
    assert np.all(
        (reward.progress_from_features(far) >= 0) & (reward.progress_from_features(far) <= 1)
    )


def test_staircase_without_the_within_step_term() -> None:
    reward, rng = fitted(within_step=False)
    progress = reward.progress_from_features(synthetic_demo(rng))
    # The staircase sits near the step centres (1/6, 1/2, 5/6): it never reaches 1.
    assert progress.max() < 0.9 and voc(progress) > 0.8


def test_save_and_load_round_trip(tmp_path) -> None:
    reward, rng = fitted()
    path = reward.save(tmp_path / "reward.safetensors")
    loaded = PerceptualReward.load(path)
    demo = synthetic_demo(rng)
    np.testing.assert_array_equal(
        loaded.progress_from_features(demo), reward.progress_from_features(demo)
    )
    assert loaded.task == "synthetic" and loaded.config == reward.config


def test_a_checkpoint_of_another_kind_is_refused(tmp_path) -> None:
    import torch

    path = save_weights(tmp_path / "x.safetensors", {"w": torch.zeros(2)}, kind="grm", config={})
    with pytest.raises(CheckpointError, match="perceptual_reward"):
        PerceptualReward.load(path)


def test_features_of_the_wrong_width_are_refused() -> None:
    reward, _ = fitted()
    with pytest.raises(ValueError, match="expected features"):
        reward.progress_from_features(np.zeros((3, DIMS + 1)))
    with pytest.raises(ValueError, match="NaN"):
        reward.progress_from_features(np.full((3, DIMS), np.nan))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 0}, "steps must be a positive integer"),
        ({"min_step_length": 1}, "min_step_length must be >= 2"),
        ({"objective": "median"}, "objective"),
        ({"features": "inception"}, "features"),
        ({"alpha": -1.0}, "alpha"),
        ({"views": ("front", "front")}, "views"),
        ({"discovery": "colour"}, "discovery"),
    ],
)
def test_bad_config_values_are_refused(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PerceptualConfig(), **changes)


# -- real trajectories through the real image encoder (the GRM's, shipped in the package)


@pytest.fixture(scope="module")
def button_demos():
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    env_config = EnvConfig(appearance_seed=7)
    return [rollout("button_press", 100 + i, env_config=env_config) for i in range(3)]


def test_fit_on_real_demos(button_demos) -> None:
    config = PerceptualConfig(steps=2, features="grm")
    reward = fit_perceptual_reward(button_demos, config)
    assert reward.task == "button_press" and len(reward.extra["demo_keyframes"]) == 3
    progress = reward.trajectory_progress(button_demos[0])
    assert progress.shape == (button_demos[0].num_frames,)
    assert 0.0 <= progress.min() and progress.max() <= 1.0
    observation = {view: frames[-1] for view, frames in button_demos[0].frames.items()}
    assert reward(observation) == pytest.approx(progress[-1], abs=1e-6)


def test_fewer_demos_than_steps_is_refused(button_demos) -> None:
    with pytest.raises(ValueError, match="at least as many demos as steps"):
        fit_perceptual_reward(button_demos[:1], PerceptualConfig(steps=2, features="grm"))


def test_demos_of_different_tasks_are_refused(button_demos) -> None:
    other = dataclasses.replace(button_demos[1], task="push")
    with pytest.raises(ValueError, match="mix tasks"):
        fit_perceptual_reward([button_demos[0], other], PerceptualConfig(steps=2, features="grm"))


def test_more_steps_than_frames_is_refused(button_demos) -> None:
    config = PerceptualConfig(steps=3, min_step_length=30, features="grm")
    with pytest.raises(ValueError, match="fewer than 3 steps"):
        fit_perceptual_reward(button_demos, config)


def test_demos_whose_frames_are_all_identical_are_refused(button_demos) -> None:
    frozen = {
        view: np.repeat(frames[:1], len(frames), axis=0)
        for view, frames in button_demos[0].frames.items()
    }
    demo = dataclasses.replace(button_demos[0], frames=frozen)
    with pytest.raises(ValueError, match="identical features in every frame"):
        fit_perceptual_reward([demo, *button_demos[1:]], PerceptualConfig(steps=2, features="grm"))


def test_a_missing_view_is_refused(button_demos) -> None:
    reward = fit_perceptual_reward(button_demos, PerceptualConfig(steps=2, features="grm"))
    observation = {"front": button_demos[0].frames["front"][0]}
    with pytest.raises(ValueError, match="missing camera view"):
        reward(observation)
