"""PPO: it learns a tiny task in seconds, bootstraps truncations but not terminations, resumes
exactly, exports a policy that acts as the trainer does, refuses bad configurations and foreign
checkpoints, and runs on our MuJoCo Reach task through the shaping wrapper."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from robo_reward.checkpoints import CheckpointError
from robo_reward.rl.policy import load_policy
from robo_reward.rl.ppo import PPO, ClippedSurrogate, PPOConfig, gae_advantages

STEP_SIZE = 0.25
TOLERANCE = 0.05


class GoalLineEnv(gym.Env):
    """A point ``x`` on [-1, 1] moves by ``0.25 * action`` towards a goal ``g``.

    Reward ``-|x - g|`` per step; terminated within 0.05 of the goal; truncated after
    ``max_steps``. ``info`` reports ``is_success`` and reward terms in both styles PPO logs:
    ``reward/distance`` (as our shaping wrapper does; the whole reward) and ``reward_ctrl``
    (as Gymnasium MuJoCo v5 does; an action cost that is not part of the reward).
    ``obs="dict"`` gives ``{"position", "goal", "noise"}`` (``noise``: a key policies skip);
    ``obs="image"`` gives ``{"goal", "front"}`` with a 36x36 camera showing ``x`` as a column.
    """

    def __init__(self, max_steps: int = 20, obs: str = "box") -> None:
        self.max_steps = max_steps
        self.obs = obs
        box = spaces.Box(-1.0, 1.0, (1,), np.float32)
        if obs == "box":
            self.observation_space: spaces.Space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        elif obs == "dict":
            self.observation_space = spaces.Dict({"position": box, "goal": box, "noise": box})
        else:
            image = spaces.Box(0, 255, (36, 36, 3), np.uint8)
            self.observation_space = spaces.Dict({"goal": box, "front": image})
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def _obs(self) -> Any:
        if self.obs == "box":
            return np.array([self.x, self.goal], np.float32)
        goal = np.array([self.goal], np.float32)
        if self.obs == "dict":
            noise = self.np_random.uniform(-1, 1, 1).astype(np.float32)
            return {"position": np.array([self.x], np.float32), "goal": goal, "noise": noise}
        image = np.zeros((36, 36, 3), np.uint8)
        image[:, int(round((self.x + 1) / 2 * 35))] = 255
        return {"goal": goal, "front": image}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.x, self.goal = (float(v) for v in self.np_random.uniform(-1, 1, 2))
        self.t = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        self.x = float(np.clip(self.x + STEP_SIZE * float(np.clip(action[0], -1, 1)), -1, 1))
        self.t += 1
        distance = abs(self.x - self.goal)
        success = distance < TOLERANCE
        ctrl = -0.1 * float(np.square(action).sum())
        info = {"is_success": success, "reward/distance": -distance, "reward_ctrl": ctrl}
        return self._obs(), -distance, success, self.t >= self.max_steps, info


def metric_rows(run_dir: Path) -> list[tuple[int, str, float]]:
    with open(run_dir / "metrics.csv", newline="") as handle:
        return [(int(r["step"]), r["key"], float(r["value"])) for r in csv.DictReader(handle)]


def values_of(rows: list[tuple[int, str, float]], key: str) -> list[float]:
    return [value for _, name, value in rows if name == key]


def tiny_config(**overrides: Any) -> PPOConfig:
    values: dict[str, Any] = {
        "total_steps": 256,
        "num_envs": 2,
        "num_steps": 16,
        "num_minibatches": 4,
        "update_epochs": 2,
        "hidden": (16, 16),
        "seed": 3,
    }
    values.update(overrides)
    return PPOConfig(**values)


# ---------------------------------------------------------------------- learning


def test_learns_the_goal_line_task_in_seconds(tmp_path: Path) -> None:
    config = PPOConfig(
        total_steps=8192,
        num_steps=64,
        num_minibatches=4,
        update_epochs=4,
        lr=3e-3,
        gamma=0.95,
        eval_every=8192,
        eval_episodes=20,
    )
    with PPO(GoalLineEnv, config, run_dir=tmp_path) as ppo:
        metrics = ppo.learn(progress_bar=False)
    # A uniformly random policy: return about -11.8 (20 steps at mean distance ~0.6).
    assert metrics["eval/episodic_return"] > -3.0
    assert metrics["eval/success_rate"] >= 0.8
    assert metrics["global_step"] == 8192 and metrics["iterations"] == 16
    rows = metric_rows(tmp_path)
    keys = {name for _, name, _ in rows}
    assert {
        "charts/episodic_return",
        "charts/success_rate",
        "charts/sps",
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "losses/approx_kl",
        "losses/clipfrac",
        "reward/distance",
        "reward/ctrl",
        "eval/episodic_return",
    } <= keys
    # Reward terms are summed over each episode, including its last step (which SAME_STEP
    # autoreset reports in final_info): here they are the return itself.
    returns = values_of(rows, "charts/episodic_return")
    assert np.allclose(values_of(rows, "reward/distance"), returns, atol=1e-5)
    assert all(math.isfinite(v) for _, _, v in rows)


def gaussian_log_prob(
    actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
) -> torch.Tensor:
    """The reference density: ``torch.distributions``' Normal."""
    return torch.distributions.Normal(mean, log_std.exp()).log_prob(actions).sum(dim=-1)


def test_clipped_surrogate_gradient_matches_autograd() -> None:
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(64, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    log_std = torch.randn(3, dtype=torch.float64, generator=generator).mul(0.3)
    log_std.requires_grad_(True)
    actions = mean.detach() + torch.randn(64, 3, dtype=torch.float64, generator=generator)
    old = gaussian_log_prob(actions, mean.detach(), log_std.detach() + 0.2)
    advantages = torch.randn(64, dtype=torch.float64, generator=generator)

    loss, ratio, log_ratio = ClippedSurrogate.apply(mean, log_std, actions, old, advantages, 0.2)
    ours = torch.autograd.grad(loss, (mean, log_std))
    plain_log_ratio = gaussian_log_prob(actions, mean, log_std) - old
    plain_ratio = plain_log_ratio.exp()
    clipped = plain_ratio.clamp(0.8, 1.2)
    plain = -torch.min(advantages * plain_ratio, advantages * clipped).mean()
    expected = torch.autograd.grad(plain, (mean, log_std))

    assert torch.allclose(loss, plain) and torch.allclose(log_ratio, plain_log_ratio)
    assert ((ratio < 0.8) | (ratio > 1.2)).any()  # the clipped branch is exercised
    for got, want in zip(ours, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-12)


# ---------------------------------------------------------------------- truncation vs termination


def direct_advantages(
    rewards: np.ndarray,
    values: np.ndarray,
    bootstrap: np.ndarray,
    terminated: np.ndarray,
    dones: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """GAE as the explicit sum ``A_t = sum_k (gamma lam)^k delta_{t+k}`` up to the episode's
    end, with ``delta_j = r_j + gamma V(next_j) - V(s_j)``: ``V(next)`` is the next stored value
    inside an episode, ``bootstrap`` at a truncation or at the rollout's end, 0 at a
    termination."""
    steps, envs = rewards.shape
    out = np.zeros_like(rewards)
    for env in range(envs):
        deltas = np.zeros(steps)
        for j in range(steps):
            if terminated[j, env]:
                next_value = 0.0
            elif dones[j, env] or j == steps - 1:
                next_value = bootstrap[j, env]
            else:
                next_value = values[j + 1, env]
            deltas[j] = rewards[j, env] + gamma * next_value - values[j, env]
        for t in range(steps):
            total, weight = 0.0, 1.0
            for j in range(t, steps):
                total += weight * deltas[j]
                if dones[j, env]:
                    break
                weight *= gamma * lam
            out[t, env] = total
    return out


@pytest.mark.parametrize("lam", [1.0, 0.9, 0.0])
def test_gae_bootstraps_truncation_but_not_termination(lam: float) -> None:
    gamma = 0.9
    rewards = np.array([[1.0, 0.5], [1.0, 0.5], [1.0, 0.5], [1.0, 0.5], [1.0, 0.5]])
    values = np.array([[0.5, 1.0], [0.4, 2.0], [0.3, 3.0], [0.2, 4.0], [0.1, 5.0]])
    # env 0 terminates at t=2; env 1 is truncated at t=1 (V(final_obs) = 7) and at t=3 (8).
    terminated = np.zeros((5, 2))
    terminated[2, 0] = 1.0
    truncated = np.zeros((5, 2))
    truncated[1, 1] = truncated[3, 1] = 1.0
    dones = np.maximum(terminated, truncated)
    bootstrap = np.zeros((5, 2))
    bootstrap[2, 0] = 99.0  # V(final_obs) at a termination: must be ignored
    bootstrap[1, 1], bootstrap[3, 1] = 7.0, 8.0
    bootstrap[4] = [0.6, 6.0]  # V of the observation after the rollout
    next_values = np.vstack([values[1:], bootstrap[-1:]])
    next_values = np.where(dones > 0, bootstrap, next_values)

    advantages = gae_advantages(
        *(torch.tensor(a, dtype=torch.float64) for a in (rewards, values, next_values)),
        torch.tensor(terminated),
        torch.tensor(dones),
        gamma,
        lam,
    ).numpy()
    expected = direct_advantages(rewards, values, bootstrap, terminated, dones, gamma, lam)
    assert np.allclose(advantages, expected)
    if lam == 1.0:  # value targets are plain discounted returns, bootstrapped only at truncation
        returns = advantages + values
        assert returns[0, 0] == pytest.approx(1 + gamma + gamma**2)
        assert returns[0, 1] == pytest.approx(0.5 + gamma * 0.5 + gamma**2 * 7.0)
        assert returns[3, 0] == pytest.approx(1 + gamma * 1 + gamma**2 * 0.6)


class ScriptedEpisodes(gym.Env):
    """Observation ``[t, final]``: ``t`` counts the episode's steps. Ends after ``length``
    steps, by termination or by truncation (a time limit). Reward 1 per step. Keeps the
    actions it receives."""

    def __init__(self, length: int, truncate: bool) -> None:
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.length, self.truncate = length, truncate
        self.actions: list[float] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0, 0.0], np.float32), {}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        self.actions.append(float(action[0]))
        self.t += 1
        end = self.t == self.length
        obs = np.array([self.t, float(end)], np.float32)
        return obs, 1.0, end and not self.truncate, end and self.truncate, {}


def test_rollout_reads_final_obs_and_bootstraps_only_truncations() -> None:
    config = tiny_config(
        num_steps=7,
        num_minibatches=2,
        normalize_observations=False,
        gamma=0.9,
        gae_lambda=0.8,
        log_std_init=1.0,
    )
    envs = [lambda: ScriptedEpisodes(3, truncate=False), lambda: ScriptedEpisodes(4, True)]
    with PPO(envs, config) as ppo:
        advantages, returns = ppo._collect_rollout()
        rollout = ppo._rollout
        assert rollout["terminated"][:, 0].tolist() == [0, 0, 1, 0, 0, 1, 0]
        assert rollout["dones"][:, 1].tolist() == [0, 0, 0, 1, 0, 0, 0]
        assert rollout["terminated"][:, 1].sum() == 0
        # Every stored observation is a real transition's start: the reset observation
        # follows each episode end (SAME_STEP autoreset), none is skipped.
        assert rollout["obs/obs"][:, 0, 0].tolist() == [0, 1, 2, 0, 1, 2, 0]
        assert rollout["obs/obs"][:, 1, 0].tolist() == [0, 1, 2, 3, 0, 1, 2]
        with torch.no_grad():
            v_final = float(ppo.critic(torch.tensor([[4.0, 1.0]])))  # env 1's true last obs
            v_last = ppo.critic(torch.tensor([[1.0, 0.0], [3.0, 0.0]]))  # obs after the rollout
        final_values = rollout["final_values"]
        assert float(final_values[3, 1]) == pytest.approx(v_final, abs=1e-6)
        assert torch.count_nonzero(final_values).item() == 1  # terminations bootstrap nothing
        values = rollout["values"].numpy()
        bootstrap = np.zeros((7, 2))
        bootstrap[3, 1] = v_final
        bootstrap[6] = v_last.numpy()
        expected = direct_advantages(
            rollout["rewards"].numpy(),
            values,
            bootstrap,
            rollout["terminated"].numpy(),
            rollout["dones"].numpy(),
            0.9,
            0.8,
        )
        assert np.allclose(advantages.numpy(), expected, atol=1e-5)
        assert torch.allclose(returns, advantages + rollout["values"])
        # The unclipped sample is stored with its log-density; the env gets it clipped.
        actions = rollout["actions"]
        with torch.no_grad():
            mean = ppo.actor.actor(rollout["obs/obs"])
            expected_log_probs = gaussian_log_prob(actions, mean, ppo.actor.log_std)
        assert torch.allclose(rollout["log_probs"], expected_log_probs, atol=1e-5)
        sent = np.array([env.actions for env in ppo.envs.envs]).T
        assert (actions.abs() > 1).any() and np.abs(sent).max() <= 1.0
        assert np.array_equal(sent, actions[..., 0].clamp(-1, 1).numpy())


def test_next_step_autoreset_vector_envs_are_refused() -> None:
    envs = gym.vector.SyncVectorEnv([GoalLineEnv, GoalLineEnv])
    with pytest.raises(ValueError, match="SAME_STEP"):
        PPO(envs, tiny_config())
    envs.close()


# ---------------------------------------------------------------------- resume and export


def dict_factory() -> gym.Env:
    return GoalLineEnv(max_steps=10, obs="dict")


def resume_config() -> PPOConfig:
    return tiny_config(
        obs_keys=("position", "goal"),
        eval_every=64,
        eval_episodes=2,
        anneal_lr=True,
        target_kl=0.05,
        ent_coef=0.01,
        clip_vloss=True,
    )


def trainer_state(ppo: PPO) -> dict[str, torch.Tensor]:
    state = {f"actor.{k}": v for k, v in ppo.actor.state_dict().items()}
    state.update({f"critic.{k}": v for k, v in ppo.critic.state_dict().items()})
    for index, value in ppo.optimizer.state_dict()["state"][0].items():
        state[f"optim.{index}"] = torch.as_tensor(value)
    state["rng"] = ppo.generator.get_state()
    return state


def test_resume_is_exact(tmp_path: Path) -> None:
    checkpoint = tmp_path / "ckpt" / "ppo.safetensors"
    with PPO(dict_factory, resume_config(), run_dir=tmp_path / "a") as first:
        first.learn(96, progress_bar=False)  # three rollouts of 32 steps, one evaluation
        first.save(checkpoint)
        first.learn(192, progress_bar=False)
        state_a, metrics_a = trainer_state(first), first._final_metrics(0.0)
        numpy_state = first.rng.bit_generator.state
    with PPO.load(checkpoint, dict_factory, run_dir=tmp_path / "b") as second:
        assert second.global_step == 96 and second.num_iterations == 3
        second.learn(192, progress_bar=False)
        state_b, metrics_b = trainer_state(second), second._final_metrics(0.0)
        assert second.rng.bit_generator.state == numpy_state

    # Saving from the callback between rollouts is the same rollout boundary.
    def save_at_96(ppo: PPO) -> None:
        if ppo.global_step == 96:
            ppo.save(tmp_path / "callback" / "ppo.safetensors")

    with PPO(dict_factory, resume_config()) as third:
        third.learn(192, progress_bar=False, callback=save_at_96)
        state_c = trainer_state(third)
    assert state_a.keys() == state_b.keys() == state_c.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
        assert torch.equal(state_a[key], state_c[key]), key
    assert metrics_a == metrics_b
    # The resumed run logs what the original logged after the save (speed aside).
    rows_a = [r for r in metric_rows(tmp_path / "a") if r[0] > 96 and r[1] != "charts/sps"]
    rows_b = [r for r in metric_rows(tmp_path / "b") if r[1] != "charts/sps"]
    assert rows_a == rows_b and any(name == "eval/episodic_return" for _, name, _ in rows_b)


def test_exported_policy_acts_like_the_trainer(tmp_path: Path) -> None:
    with PPO(dict_factory, tiny_config(obs_keys=("position", "goal"))) as ppo:
        ppo.learn(64, progress_bar=False)
        assert ppo.actor.normalizer is not None
        assert ppo.actor.normalizer.stats["position"].count > 60  # statistics were gathered
        path = ppo.export_policy(tmp_path / "policy.safetensors")
        env = dict_factory()
        observations = [env.reset(seed=seed)[0] for seed in range(16)]
        batch = {k: np.stack([o[k] for o in observations]) for k in observations[0]}
        batch["position"][0] = 50.0  # far outside what was seen: the action is clipped
        policy = load_policy(path)
        assert policy.algo == "ppo" and policy.extra["global_step"] == 64
        assert policy.keys == ("position", "goal")
        expected = ppo.predict(batch)
        assert np.array_equal(policy.act(batch), expected)
        assert np.array_equal(policy.act(observations[3]), ppo.predict(observations[3]))
        # The deterministic action is the clipped mean of the trained actor.
        with torch.no_grad():
            tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
            mean = ppo.actor.actor(ppo.actor.features(tensors)).clamp(-1.0, 1.0)
        assert np.array_equal(mean.numpy(), expected)
        assert np.all(np.abs(expected) <= 1.0)


def test_images_use_a_cnn_per_camera_and_export(tmp_path: Path) -> None:
    config = tiny_config(num_steps=8, num_minibatches=2, update_epochs=1, cnn_features=8)
    with PPO(lambda: GoalLineEnv(obs="image"), config) as ppo:
        assert not ppo._shared_features and "front" in ppo.actor.encoder.cnns
        ppo.learn(16, progress_bar=False)
        assert ppo.actor.normalizer is not None and set(ppo.actor.normalizer.stats) == {"goal"}
        path = ppo.export_policy(tmp_path / "policy.safetensors")
        obs, _ = GoalLineEnv(obs="image").reset(seed=0)
        assert np.array_equal(load_policy(path).act(obs), ppo.predict(obs))


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"total_steps": 0}, "total_steps must be a positive int"),
        ({"num_envs": 2.0}, "num_envs must be a positive int"),
        ({"num_minibatches": 5}, "must divide the rollout size"),
        ({"gamma": 0.0}, "gamma must be in"),
        ({"gae_lambda": 1.5}, "gae_lambda must be in"),
        ({"clip_coef": 0.0}, "clip_coef must be a finite number > 0"),
        ({"lr": float("nan")}, "lr must be a finite number > 0"),
        ({"ent_coef": -0.1}, "ent_coef must be a finite number >= 0"),
        ({"target_kl": 0.0}, "target_kl must be None or > 0"),
        ({"hidden": ()}, "hidden must be positive ints"),
        ({"obs_keys": "state"}, "obs_keys must be a sequence"),
        ({"eval_every": -1}, "eval_every must be an int >= 0"),
        ({"torch_threads": 0}, "torch_threads must be a positive int"),
    ],
)
def test_config_validation(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny_config(**overrides)


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    config = resume_config()
    assert PPOConfig.from_dict(config.to_dict()) == config
    assert config.batch_size == 32 and config.minibatch_size == 8
    with pytest.raises(ValueError, match="unknown PPOConfig keys"):
        PPOConfig.from_dict({**config.to_dict(), "n_steps": 128})


def test_environment_errors() -> None:
    with pytest.raises(ValueError, match="3 env factories but config.num_envs is 2"):
        PPO([GoalLineEnv] * 3, tiny_config())
    with pytest.raises(ValueError, match="obs_keys only apply to Dict"):
        PPO(GoalLineEnv, tiny_config(obs_keys=("position",)))
    with pytest.raises(ValueError, match="not in the observation space"):
        PPO(dict_factory, tiny_config(obs_keys=("velocity",)))


def test_load_refuses_foreign_checkpoints(tmp_path: Path) -> None:
    from robo_reward.rl.sac import SAC, SACConfig

    sac_path = tmp_path / "sac.safetensors"
    sac_config = SACConfig(total_steps=8, learning_starts=4, buffer_size=16, batch_size=4)
    with SAC(GoalLineEnv, sac_config) as sac:
        sac.learn(progress_bar=False)
        sac.save(sac_path)
    with pytest.raises(CheckpointError, match="'sac' checkpoint .* not a PPO trainer checkpoint"):
        PPO.load(sac_path, GoalLineEnv)

    ppo_path = tmp_path / "ppo.safetensors"
    with PPO(dict_factory, tiny_config(obs_keys=("position", "goal"))) as ppo:
        ppo.learn(32, progress_bar=False)
        ppo.save(ppo_path)
        policy_path = ppo.export_policy(tmp_path / "policy.safetensors")
        ppo.save(tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="'policy' checkpoint .* load_policy"):
        PPO.load(policy_path, dict_factory)
    with pytest.raises(CheckpointError, match="observation space"):
        PPO.load(ppo_path, GoalLineEnv)
    shutil.copy(tmp_path / "other.optim.safetensors", tmp_path / "ppo.optim.safetensors")
    with pytest.raises(CheckpointError, match="another save"):
        PPO.load(ppo_path, dict_factory)


# ---------------------------------------------------------------------- the real task


def test_runs_on_the_mujoco_reach_task_through_the_shaping_wrapper(tmp_path: Path) -> None:
    from robo_reward.shaping import PotentialShaping, PrivilegedPotential, ShapingConfig
    from robo_reward.sim import register_envs

    register_envs()

    def reach() -> gym.Env:
        env = gym.make("robo_reward/Reach-v0", cameras=())
        return PotentialShaping(env, PrivilegedPotential(), ShapingConfig(gamma=0.99))

    config = PPOConfig(
        total_steps=256,
        num_envs=2,
        num_steps=64,
        num_minibatches=4,
        update_epochs=2,
        obs_keys=("state", "desired_goal"),
        eval_every=256,
        eval_episodes=1,
    )
    with PPO(reach, config, run_dir=tmp_path) as ppo:
        metrics = ppo.learn(progress_bar=False)
        path = ppo.export_policy(tmp_path / "reach_policy.safetensors")
        obs, _ = ppo._get_eval_env().reset(seed=0)
        assert np.array_equal(load_policy(path).act(obs), ppo.predict(obs))
    assert metrics["global_step"] == 256
    assert all(math.isfinite(v) for v in metrics.values())
    rows = metric_rows(tmp_path)
    keys = {name for _, name, _ in rows}
    assert {"reward/task", "reward/total", "reward/shaping_privileged", "charts/success_rate"} <= (
        keys
    )
    assert "eval/episodic_return" in keys
    # The learner's reward is the wrapper's total: the two episode sums agree.
    totals = values_of(rows, "reward/total")
    assert totals and np.allclose(totals, values_of(rows, "charts/episodic_return"), atol=1e-4)


def test_callback_stops_training() -> None:
    with PPO(GoalLineEnv, tiny_config()) as ppo:
        metrics = ppo.learn(progress_bar=False, callback=lambda p: p.num_iterations < 2)
    assert metrics["iterations"] == 2 and metrics["global_step"] == 64


@pytest.mark.slow
def test_speed_comparison_with_sb3_runs() -> None:
    pytest.importorskip("stable_baselines3")
    from robo_reward.bench.controllers import run_ppo

    result = run_ppo("sb3", "robo_reward/Reach-v0", 1024, 0, 2)
    assert result["steps_per_s"] > 0 and 0.0 <= result["eval_success"] <= 1.0
