"""``robo-reward train``: config → shaped env → SAC/PPO → run folder, resume, CLI errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robo_reward.cli import main
from robo_reward.config import list_presets
from robo_reward.rl.policy import load_policy
from robo_reward.rl.ppo import PPOConfig
from robo_reward.rl.runner import (
    POLICY_FILE,
    TRAINER_FILE,
    TrainConfig,
    env_factory,
    load_train_config,
    train,
)
from robo_reward.rl.sac import SACConfig
from robo_reward.shaping import PotentialShaping
from robo_reward.shaping.compose import RewardConfig
from robo_reward.sim.env_config import EnvConfig

TINY_SAC = SACConfig(learning_starts=64, batch_size=32, buffer_size=1000, hidden=(32, 32))
TINY_PPO = PPOConfig(num_envs=2, num_steps=32, num_minibatches=2, update_epochs=1, hidden=(16,))


def tiny(algo: str = "sac", **changes) -> TrainConfig:
    return TrainConfig(algo=algo, task="reach", steps=128, sac=TINY_SAC, ppo=TINY_PPO, **changes)


@pytest.mark.parametrize("algo", ["sac", "ppo"])
def test_train_writes_a_run_folder_with_a_deployable_policy(tmp_path, algo: str) -> None:
    config = tiny(algo, reward=RewardConfig(kind="privileged"))
    run_dir, metrics = train(config, tmp_path, progress=False)
    assert run_dir.parent == tmp_path and run_dir.name.startswith(f"reach__{algo}__0__")
    for name in (TRAINER_FILE, POLICY_FILE, "config.yaml", "metrics.csv"):
        assert (run_dir / name).is_file(), name
    assert 0.0 <= metrics["eval/success_rate"] <= 1.0
    assert load_train_config(run_dir) == config
    policy = load_policy(run_dir / POLICY_FILE)
    env = env_factory(config)()
    obs, _ = env.reset(seed=0)
    action = policy.act(obs)
    assert env.action_space.contains(action.astype(env.action_space.dtype))
    assert policy.keys == ("state", "desired_goal")


def test_resume_continues_the_run_it_was_given(tmp_path) -> None:
    config = tiny()
    run_dir, _ = train(config, tmp_path, progress=False)
    longer = dataclasses.replace(config, steps=192)
    resumed, _ = train(longer, tmp_path, resume=run_dir, progress=False)
    assert resumed == run_dir
    from robo_reward.rl.sac import SAC

    trainer = SAC.load(run_dir / TRAINER_FILE, env_factory(config))
    assert trainer.global_step == 192


def test_env_factory_shapes_with_the_learners_gamma() -> None:
    config = tiny("ppo", reward=RewardConfig(kind="privileged"))
    config = dataclasses.replace(config, ppo=dataclasses.replace(TINY_PPO, gamma=0.95))
    env = env_factory(config)()
    assert isinstance(env, PotentialShaping) and env.config.gamma == 0.95


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"algo": "dqn"}, "algo"),
        ({"task": "juggle"}, "juggle"),
        ({"steps": 0}, "steps"),
        ({"reward": RewardConfig(kind="grm")}, "cameras"),
    ],
)
def test_bad_train_configs(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(env=EnvConfig(cameras=()), **changes)


def test_cli_refuses_to_change_a_resumed_run(tmp_path, capsys) -> None:
    assert main(["train", "--resume", str(tmp_path), "--task", "push"]) == 2
    assert "only --steps may change" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_cli_trains_from_a_preset_with_overrides(tmp_path, capsys) -> None:
    code = main(
        [
            "train",
            "--config",
            "reach_sac",
            "--steps",
            "64",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--set",
            "sac.learning_starts=32",
            "--set",
            "sac.batch_size=16",
            "--set",
            "sac.hidden=[16]",
            "--set",
            "sac.eval_episodes=2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "sac on reach with the sparse reward" in out
    (run_dir,) = tmp_path.iterdir()
    assert load_train_config(run_dir).sac.her is True
    assert np.isfinite(
        load_policy(run_dir / POLICY_FILE).act(
            env_factory(load_train_config(run_dir))().reset(seed=1)[0]
        )
    ).all()


@pytest.mark.parametrize("algo", ["sac", "ppo"])
def test_periodic_checkpoints_are_written_during_training(tmp_path, algo: str, monkeypatch) -> None:
    from robo_reward.rl.ppo import PPO
    from robo_reward.rl.sac import SAC

    trainer_class = SAC if algo == "sac" else PPO
    saves: list[int] = []
    original = trainer_class.save

    def counting_save(self, path, **kwargs):
        saves.append(self.global_step)
        return original(self, path, **kwargs)

    monkeypatch.setattr(trainer_class, "save", counting_save)
    train(dataclasses.replace(tiny(algo), steps=256, save_every=64), tmp_path, progress=False)
    assert len(saves) >= 3  # periodic saves, then the final one
    assert saves[-1] == 256


@pytest.mark.parametrize("name", list_presets("train"))
def test_every_train_preset_loads(name: str) -> None:
    from robo_reward.config import load_config, preset_path

    config = load_config(TrainConfig, preset_path("train", name))
    assert config.steps > 0 and (not config.reward.needs_cameras or config.env.cameras)
