"""Our PPO against Stable-Baselines3's on the same task, settings and budget.

The design asks our controllers to be faster than SB3 at equal or better returns (target for
PPO: at least 1.5x SB3's env steps per second). :func:`time_ppo_vs_sb3` trains both on the same
env, one after the other in this process, with the settings below made equal one by one:

- 8 envs stepped in sequence (our ``SyncVectorEnv``, SB3's ``DummyVecEnv``), 128 steps per env
  per rollout, minibatches of 32, 10 epochs, gamma 0.99, GAE lambda 0.95, clip 0.2, no value
  clipping, no entropy bonus, value weight 0.5, gradient-norm clip 0.5, constant Adam lr 3e-4;
- separate actor and critic MLPs of [64, 64] with ReLU, orthogonal initialisation, a
  state-independent log-std starting at 0, advantages normalised per minibatch;
- running observation normalisation clipped at 10 (ours in the policy, SB3's ``VecNormalize``
  with ``norm_reward=False``), no reward normalisation;
- the same dict observation keys (``FilterObservation`` for both; SB3's
  ``MultiInputPolicy`` flattens and concatenates them as ours does), and one torch thread.

SB3 is imported lazily: it is a benchmark peer, not a dependency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

NUM_ENVS = 8
NUM_STEPS = 128
MINIBATCH_SIZE = 32
EPOCHS = 10
HIDDEN = (64, 64)
TARGET_RATIO = 1.5
"""Our PPO must reach at least this multiple of SB3's env steps per second."""


def _env_factory(env_id: str, obs_keys: Sequence[str] | None) -> Callable[[], Any]:
    import gymnasium as gym

    from robo_reward.sim import register_envs

    register_envs()

    def make() -> gym.Env:
        env = gym.make(env_id, cameras=())
        if obs_keys is not None:
            env = gym.wrappers.FilterObservation(env, list(obs_keys))
        return env

    return make


def _time_ours(make: Callable[[], Any], steps: int, seed: int) -> dict[str, float]:
    from robo_reward.rl.ppo import PPO, PPOConfig

    config = PPOConfig(
        total_steps=steps,
        num_envs=NUM_ENVS,
        num_steps=NUM_STEPS,
        num_minibatches=NUM_ENVS * NUM_STEPS // MINIBATCH_SIZE,
        update_epochs=EPOCHS,
        hidden=HIDDEN,
        normalize_observations=True,
        seed=seed,
        torch_threads=1,
    )
    with PPO(make, config) as ppo:
        start = time.perf_counter()
        metrics = ppo.learn(steps, progress_bar=False)
        seconds = time.perf_counter() - start
        return {
            "steps": float(ppo.global_step),
            "seconds": seconds,
            "steps_per_s": ppo.global_step / seconds,
            "episodic_return": metrics.get("charts/episodic_return", float("nan")),
            "success_rate": metrics.get("charts/success_rate", float("nan")),
        }


def _time_sb3(make: Callable[[], Any], steps: int, seed: int) -> dict[str, float]:
    import torch
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    env = VecNormalize(
        DummyVecEnv([lambda: Monitor(make())] * NUM_ENVS),
        norm_obs=True,
        norm_reward=False,
        clip_obs=10.0,
    )
    model = SB3PPO(
        "MultiInputPolicy",
        env,
        learning_rate=3e-4,
        n_steps=NUM_STEPS,
        batch_size=MINIBATCH_SIZE,
        n_epochs=EPOCHS,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        clip_range_vf=None,
        normalize_advantage=True,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={
            "net_arch": {"pi": list(HIDDEN), "vf": list(HIDDEN)},
            "activation_fn": torch.nn.ReLU,
            "ortho_init": True,
            "log_std_init": 0.0,
        },
        seed=seed,
        device="cpu",
    )
    start = time.perf_counter()
    model.learn(steps)
    seconds = time.perf_counter() - start
    done = model.num_timesteps
    returns = [info["r"] for info in list(model.ep_info_buffer)[-20:]]
    successes = list(model.ep_success_buffer)[-20:]
    env.close()
    return {
        "steps": float(done),
        "seconds": seconds,
        "steps_per_s": done / seconds,
        "episodic_return": float(np.mean(returns)) if returns else float("nan"),
        "success_rate": float(np.mean(successes)) if successes else float("nan"),
    }


def time_ppo_vs_sb3(
    env_id: str = "robo_reward/Reach-v0",
    steps: int = 20_480,
    seed: int = 0,
    obs_keys: Sequence[str] | None = ("state", "desired_goal"),
    repeats: int = 1,
) -> dict[str, Any]:
    """Train our PPO, then SB3's, for ``steps`` env steps each on ``env_id`` (no cameras).

    Returns ``{"ours": ..., "sb3": ..., "ratio": ours/sb3 steps per second, "target_ratio",
    "settings"}``; each side reports ``steps``, ``seconds`` (of ``learn`` only, construction
    excluded), ``steps_per_s``, and the mean ``episodic_return`` / ``success_rate`` of its last
    20 training episodes (NaN if none finished). Both round ``steps`` up to whole rollouts.
    With ``repeats > 1`` the pair runs that many times, alternating, and each side reports its
    median run by speed (``steps_per_s_runs`` lists all); ``ratio`` is the median of the
    per-pair ratios, which a shared machine's changing load disturbs least.
    """
    import torch

    if steps < NUM_ENVS * NUM_STEPS:
        raise ValueError(f"steps must be at least one rollout ({NUM_ENVS * NUM_STEPS})")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    make = _env_factory(env_id, obs_keys)
    threads = torch.get_num_threads()
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "sb3": []}
    try:
        for _ in range(repeats):
            torch.set_num_threads(1)
            runs["ours"].append(_time_ours(make, steps, seed))
            torch.set_num_threads(1)
            runs["sb3"].append(_time_sb3(make, steps, seed))
    finally:
        torch.set_num_threads(threads)
    ratios = [o["steps_per_s"] / s["steps_per_s"] for o, s in zip(*runs.values(), strict=True)]
    sides: dict[str, dict[str, Any]] = {}
    for side, side_runs in runs.items():
        speeds = [run["steps_per_s"] for run in side_runs]
        sides[side] = {
            **sorted(side_runs, key=lambda run: run["steps_per_s"])[len(side_runs) // 2],
            "steps_per_s_runs": speeds,
        }
    return {
        **sides,
        "ratio": float(np.median(ratios)),
        "ratio_runs": ratios,
        "target_ratio": TARGET_RATIO,
        "settings": {
            "env_id": env_id,
            "obs_keys": None if obs_keys is None else list(obs_keys),
            "steps": steps,
            "seed": seed,
            "repeats": repeats,
            "num_envs": NUM_ENVS,
            "num_steps": NUM_STEPS,
            "minibatch_size": MINIBATCH_SIZE,
            "epochs": EPOCHS,
            "hidden": list(HIDDEN),
        },
    }


if __name__ == "__main__":
    import json
    import sys

    budget = int(sys.argv[1]) if len(sys.argv) > 1 else 20_480
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    print(json.dumps(time_ppo_vs_sb3(steps=budget, repeats=repeats), indent=2))
