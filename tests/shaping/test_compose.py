"""Reward configs to shaped envs: sparse, privileged and GRM rewards on real tasks."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.shaping import PotentialShaping
from robo_reward.shaping.compose import RewardConfig, potential_for, shaped_env
from robo_reward.sim.env_config import EnvConfig


def test_sparse_reward_leaves_the_env_alone() -> None:
    env = EnvConfig(cameras=()).make("reach")
    assert shaped_env(env, RewardConfig(), 0.99, potential_for(RewardConfig(), "reach")) is env


def test_privileged_reward_shapes_with_the_true_progress() -> None:
    config = RewardConfig(kind="privileged", success_bonus=1.0)
    env = shaped_env(
        EnvConfig(cameras=()).make("reach"), config, 0.9, potential_for(config, "reach")
    )
    assert isinstance(env, PotentialShaping) and env.config.gamma == 0.9
    _, info = env.reset(seed=0)
    assert info["potential/privileged"] == pytest.approx(info["privileged_progress"])


def test_grm_reward_conditions_on_an_expert_demo_and_reads_the_cameras() -> None:
    env_config = EnvConfig(image_size=96, appearance_seed=40_000)
    config = RewardConfig(kind="grm", task_weight=0.0, success_bonus=1.0)
    env = shaped_env(
        env_config.make("button_press"),
        config,
        0.99,
        potential_for(config, "button_press", env_config),
    )
    _, info = env.reset(seed=1)
    assert info["potential/grm"] == 0.0
    for _ in range(3):
        _, reward, _, _, info = env.step(np.zeros(4, dtype=np.float32))
        assert 0.0 <= info["potential/grm"] <= 1.0
        assert reward == pytest.approx(info["reward/shaping_grm"] + info["reward/gold"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "dense"}, "reward kind"),
        ({"kind": "grm", "anchoring": "sideways"}, "anchoring"),
        ({"kind": "sparse", "checkpoint": "x.safetensors"}, "only applies to the grm and perc"),
        ({"kind": "perceptual", "demo": "x.npz"}, "demo only applies to the grm"),
        ({"kind": "perceptual", "perceptual_demos": 0}, "perceptual_demos must be >= 1"),
    ],
)
def test_bad_reward_configs(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RewardConfig(**kwargs)


def test_missing_reference_demo_is_an_error(tmp_path) -> None:
    config = RewardConfig(kind="grm", demo=str(tmp_path / "none.npz"))
    with pytest.raises(FileNotFoundError, match="none.npz"):
        potential_for(config, "button_press")


def test_perceptual_reward_from_a_fitted_file(tmp_path) -> None:
    from robo_reward.perceptual.reward import PerceptualConfig, fit_perceptual_reward
    from robo_reward.sim.demos import rollout

    env_config = EnvConfig(image_size=96, appearance_seed=40_000)
    demos = [rollout("button_press", 40_000 + i, env_config=env_config) for i in range(2)]
    path = fit_perceptual_reward(demos, PerceptualConfig(steps=2, features="grm")).save(
        tmp_path / "perceptual.safetensors"
    )
    config = RewardConfig(kind="perceptual", checkpoint=str(path), time_penalty=1.0)
    env = shaped_env(
        env_config.make("button_press"), config, 0.99, potential_for(config, "button_press")
    )
    _, info = env.reset(seed=1)
    assert 0.0 <= info["potential/perceptual"] <= 1.0
    _, reward, _, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert reward == pytest.approx(info["reward/shaping_perceptual"] - 1.0)
    with pytest.raises(ValueError, match="fitted on 'button_press' demos, not 'push'"):
        potential_for(config, "push", env_config)
