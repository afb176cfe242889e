"""Pretraining keeps the held-out task families out."""

from __future__ import annotations

from pathlib import Path

import pytest
from grm_synthetic import tiny_config

from robo_reward.grm.pretrain import PretrainConfig, pretrain
from robo_reward.grm.train import TrainConfig
from robo_reward.sim.demos import DemoConfig, generate_demos
from robo_reward.sim.env_config import EnvConfig


def test_pretraining_refuses_data_of_a_held_out_task(tmp_path: Path) -> None:
    data = tmp_path / "stack"
    env = EnvConfig(cameras=("front", "side", "wrist"), image_size=32)
    generate_demos(DemoConfig(task="stack", episodes=1, env=env), data)
    config = PretrainConfig(
        data=(str(data),), model=tiny_config(), train=TrainConfig(steps=1, batch_size=4)
    )
    with pytest.raises(ValueError, match=r"held-out task\(s\) \['stack'\]"):
        pretrain(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_at_least_two_families_are_held_out() -> None:
    with pytest.raises(ValueError, match="at least two"):
        PretrainConfig(held_out_tasks=("stack",))
    with pytest.raises(ValueError, match="unknown held-out"):
        PretrainConfig(held_out_tasks=("stack", "juggle"))
