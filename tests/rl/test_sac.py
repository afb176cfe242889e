"""SAC: it learns tiny tasks in seconds, HER helps on sparse goals, resuming is exact, bad
configurations and foreign checkpoints are refused, and it runs on our MuJoCo Reach task."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from tiny_envs import STEP_SIZE, NoGoalDictEnv, PointEnv, PointGoalEnv, PointImageEnv

from robo_reward.checkpoints import CheckpointError
from robo_reward.rl.policy import load_policy, save_policy
from robo_reward.rl.sac import SAC, SACConfig

TINY: dict[str, Any] = {
    "learning_starts": 300,
    "buffer_size": 10_000,
    "batch_size": 64,
    "hidden": (64, 64),
    "eval_episodes": 20,
}
GOAL_KEYS = ("observation", "desired_goal")


def metric_keys(run_dir: Path) -> set[str]:
    with open(run_dir / "metrics.csv", newline="") as handle:
        return {row["key"] for row in csv.DictReader(handle)}


def test_learns_the_point_task_fast(tmp_path: Path) -> None:
    config = SACConfig(total_steps=2000, eval_every=2000, log_every=500, **TINY)
    with SAC(PointEnv, config, run_dir=tmp_path) as sac:
        metrics = sac.learn(progress_bar=False)
    # A uniformly random policy: return about -9.4, success about 0.3.
    assert metrics["eval/success_rate"] >= 0.7
    assert metrics["eval/episodic_return"] > -4.0
    assert metrics["charts/episodic_return"] > -5.0
    assert metrics["global_step"] == 2000 and metrics["updates"] == 1701
    assert {"charts/episodic_return", "charts/success_rate", "charts/sps", "losses/qf_loss"} <= (
        metric_keys(tmp_path)
    )


def test_her_learns_a_sparse_goal_task_that_sac_alone_does_not(tmp_path: Path) -> None:
    results = {}
    for her in (True, False):
        config = SACConfig(
            total_steps=2000, her=her, obs_keys=GOAL_KEYS, eval_every=1000, log_every=1000, **TINY
        )
        with SAC(PointGoalEnv, config, run_dir=tmp_path / str(her)) as sac:
            results[her] = sac.learn(progress_bar=False)["eval/success_rate"]
            # The task never terminates: every episode ends by truncation and nothing is
            # stored as terminated (truncation bootstraps).
            assert not sac.buffer.terminated.any()
    assert results[True] >= 0.8  # a random policy: about 0.05
    assert results[True] >= results[False] + 0.3
    assert "reward/distance" in metric_keys(tmp_path / "True")


def test_transitions_end_where_episodes_did_not_at_the_reset() -> None:
    config = SACConfig(
        total_steps=120,
        learning_starts=60,
        buffer_size=500,
        batch_size=16,
        hidden=(16,),
        num_envs=2,
        her=True,
        obs_keys=GOAL_KEYS,
    )
    with SAC(goal_env_with_success_end, config) as sac:
        sac.learn(progress_bar=False)
        buffer = sac.buffer
    rows = buffer.rows_written
    x = buffer.observations["achieved_goal"][:rows, :, 0]
    x_next = buffer.next_observations["achieved_goal"][:rows, :, 0]
    action = buffer.actions[:rows, :, 0]
    # Every stored next observation follows from the dynamics, also at episode ends (where
    # the vector env already returned the reset observation).
    np.testing.assert_allclose(x_next, np.clip(x + STEP_SIZE * action, -1, 1), atol=1e-6)
    np.testing.assert_array_equal(
        buffer.observations["desired_goal"][:rows], buffer.next_observations["desired_goal"][:rows]
    )
    ends = buffer.episode_end[:rows]
    assert (ends >= 0).sum() > 0 and buffer.terminated[:rows].sum() > 0


def tiny_resume_config(**overrides: Any) -> SACConfig:
    values: dict[str, Any] = {
        "total_steps": 360,
        "learning_starts": 64,
        "buffer_size": 1000,
        "batch_size": 32,
        "hidden": (32, 32),
        "her": True,
        "obs_keys": GOAL_KEYS,
        "num_envs": 2,
        "eval_every": 100,
        "eval_episodes": 2,
        "log_every": 50,
        "utd": 1.5,
        "train_freq": 4,
    }
    values.update(overrides)
    return SACConfig(**values)


def goal_env_with_success_end() -> gym.Env:
    return PointGoalEnv(terminate_on_success=True)


def assert_same_state(a: SAC, b: SAC) -> None:
    for name in ("actor", "critic", "critic_target"):
        left, right = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert left.keys() == right.keys()
        for key in left:
            assert torch.equal(left[key], right[key]), f"{name}.{key}"
    assert torch.equal(a.log_alpha, b.log_alpha)


def test_resume_is_exact(tmp_path: Path) -> None:
    config = tiny_resume_config()
    path = tmp_path / "ckpt" / "sac.safetensors"
    with SAC(goal_env_with_success_end, config, run_dir=tmp_path / "a") as first:
        first.learn(200, progress_bar=False)
        first.save(path)
        continued = first.learn(progress_bar=False)
        with SAC.load(path, goal_env_with_success_end, run_dir=tmp_path / "b") as resumed:
            assert resumed.global_step == 200
            metrics = resumed.learn(progress_bar=False)
            assert_same_state(first, resumed)
            assert resumed.num_updates == first.num_updates
            assert resumed.buffer.rows_written == first.buffer.rows_written
    continued.pop("charts/sps")
    metrics.pop("charts/sps")
    assert metrics == continued
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "sac.actor_optim.safetensors",
        "sac.critic_optim.safetensors",
        "sac.replay.npz",
        "sac.safetensors",
    ]


def test_same_seed_same_run_and_callback_stops() -> None:
    config = tiny_resume_config(eval_every=0, total_steps=150)
    runs = []
    for _ in range(2):
        with SAC(PointGoalEnv, config) as sac:
            sac.learn(progress_bar=False)
            runs.append(sac)
    assert_same_state(*runs)
    with SAC(PointGoalEnv, config) as sac:
        sac.learn(progress_bar=False, callback=lambda s: s.global_step < 20)
        assert sac.global_step == 20


def test_load_refuses_foreign_checkpoints(tmp_path: Path) -> None:
    config = tiny_resume_config(total_steps=80, eval_every=0)
    path = tmp_path / "sac.safetensors"
    with SAC(PointGoalEnv, config) as sac:
        sac.learn(progress_bar=False)
        sac.save(path)
        policy_path = save_policy(tmp_path / "policy.safetensors", sac.actor, algo="sac")
        # A second save elsewhere, then one sidecar mixed in from it.
        sac.save(tmp_path / "other" / "sac.safetensors")
    with pytest.raises(CheckpointError, match="not a SAC trainer checkpoint"):
        SAC.load(policy_path, PointGoalEnv)
    box_config = SACConfig(**{**TINY, "total_steps": 10, "learning_starts": 5})
    with SAC(PointEnv, box_config) as box_sac:
        box_sac.learn(progress_bar=False)
        box_sac.save(tmp_path / "box.safetensors")
    with pytest.raises(CheckpointError, match="observation space"):
        SAC.load(tmp_path / "box.safetensors", _point_3d)
    shutil.copy(tmp_path / "other" / "sac.replay.npz", tmp_path / "sac.replay.npz")
    with pytest.raises(CheckpointError, match="another save"):
        SAC.load(path, PointGoalEnv)
    # The saved policy acts like the trainer's actor.
    obs, _ = PointGoalEnv().reset(seed=0)
    np.testing.assert_array_equal(load_policy(policy_path).act(obs), sac.actor.act(obs))


def _point_3d() -> gym.Env:
    env = PointEnv()
    env.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    return env


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -5}, "batch_size"),
        ({"gamma": 1.5}, "gamma"),
        ({"tau": 0.0}, "tau"),
        ({"hidden": ()}, "hidden"),
        ({"hidden": (64, 0)}, "hidden"),
        ({"utd": 0.0}, "utd"),
        ({"policy_lr": float("nan")}, "policy_lr"),
        ({"train_freq": 0}, "train_freq"),
        ({"learning_starts": -1}, "learning_starts"),
        ({"buffer_size": 10, "batch_size": 64}, "buffer_size"),
        ({"her": True, "obs_keys": ("observation",)}, "desired_goal"),
        ({"obs_keys": "observation"}, "obs_keys"),
        ({"num_envs": True}, "num_envs"),
    ],
)
def test_config_validation(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SACConfig(**overrides)


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    config = tiny_resume_config()
    assert SACConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown SACConfig keys"):
        SACConfig.from_dict({**config.to_dict(), "lr": 1.0})


def test_environment_errors() -> None:
    with pytest.raises(ValueError, match="goal-conditioned"):
        SAC(PointEnv, SACConfig(her=True, **TINY))
    with pytest.raises(ValueError, match="goal-conditioned"):
        SAC(NoGoalDictEnv, SACConfig(her=True, **TINY))
    with pytest.raises(ValueError, match="obs_keys only apply"):
        SAC(PointEnv, SACConfig(obs_keys=("observation",), **TINY))
    next_step = gym.vector.SyncVectorEnv([PointEnv])
    with pytest.raises(ValueError, match="SAME_STEP"):
        SAC(next_step, SACConfig(**TINY))
    same_step = gym.vector.SyncVectorEnv(
        [PointEnv, PointEnv], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    with pytest.raises(ValueError, match="num_envs"):
        SAC(same_step, SACConfig(**TINY))
    with pytest.raises(ValueError, match="env factory or a vector env"):
        SAC(PointEnv(), SACConfig(**TINY))  # type: ignore[arg-type]


def test_images_and_observation_normalisation_run_end_to_end(tmp_path: Path) -> None:
    config = SACConfig(
        total_steps=60,
        learning_starts=30,
        buffer_size=100,
        batch_size=8,
        hidden=(16,),
        cnn_features=8,
        normalize_observations=True,
        eval_every=60,
        eval_episodes=1,
    )
    with SAC(PointImageEnv, config) as sac:
        sac.learn(progress_bar=False)
        assert set(sac.actor.encoder.cnns) == {"front"} and set(sac.critic.encoder.cnns) == {
            "front"
        }
        assert sac.buffer.observations["front"].dtype == np.uint8
        assert sac.actor.normalizer is not None
        stats = sac.actor.normalizer.stats
        assert set(stats) == {"goal"} and float(stats["goal"].count) > 59
        path = save_policy(tmp_path / "p.safetensors", sac.actor, algo="sac")
    obs, _ = PointImageEnv().reset(seed=1)
    np.testing.assert_array_equal(load_policy(path).act(obs), sac.actor.act(obs))


def test_runs_on_the_mujoco_reach_task(tmp_path: Path) -> None:
    from robo_reward.sim import register_envs

    register_envs()

    def make() -> gym.Env:
        return gym.make("robo_reward/Reach-v0", cameras=())

    config = SACConfig(
        total_steps=200,
        learning_starts=100,
        buffer_size=1000,
        batch_size=32,
        hidden=(32, 32),
        her=True,
        obs_keys=("state", "desired_goal"),
        log_every=100,
    )
    with SAC(make, config, run_dir=tmp_path) as sac:
        metrics = sac.learn(progress_bar=False)
        assert metrics["global_step"] == 200 and metrics["updates"] == 101
        assert set(sac.buffer.keys) == {"state", "desired_goal", "achieved_goal"}
        path = save_policy(tmp_path / "reach_policy.safetensors", sac.actor, algo="sac")
        env = make()
        obs, _ = env.reset(seed=0)
        action = load_policy(path).act(obs)
        np.testing.assert_array_equal(action, sac.actor.act(obs))
        assert action.shape == (4,) and env.action_space.contains(action)
        env.close()
    assert {"losses/qf_loss", "charts/sps"} <= metric_keys(tmp_path)


def test_shaping_terms_are_logged_per_episode(tmp_path) -> None:
    """The shaping wrapper's ``reward/<term>`` keys reach the metrics, last step included."""
    from robo_reward.shaping import PotentialShaping, PrivilegedPotential, ShapingConfig
    from robo_reward.sim.env_config import EnvConfig

    def make():
        env = EnvConfig(cameras=()).make("reach", max_episode_steps=5)
        return PotentialShaping(env, PrivilegedPotential(), ShapingConfig(gamma=0.99))

    config = SACConfig(learning_starts=10, batch_size=8, buffer_size=100, hidden=(8,))
    with SAC(make, config, run_dir=tmp_path) as sac:
        sac.learn(20, progress_bar=False)
    with open(tmp_path / "metrics.csv") as f:
        rows = [r for r in csv.reader(f)][1:]
    terms = {key for _, key, _ in rows if key.startswith("reward/")}
    assert {"reward/task", "reward/shaping_privileged", "reward/total"} <= terms
    returns = [float(v) for _, k, v in rows if k == "charts/episodic_return"]
    totals = [float(v) for _, k, v in rows if k == "reward/total"]
    np.testing.assert_allclose(totals, returns, rtol=1e-5, atol=1e-6)
