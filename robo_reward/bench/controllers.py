"""Our SAC and PPO side by side with Stable-Baselines3's: env steps/s and success at equal budget.

Every (algorithm, implementation, env, seed) trains in a fresh process pinned to one core, one
after the other, with the settings of :mod:`robo_reward.bench.rl_perf` (SAC: batch 256, [256,
256], one update per step, HER "future" k=4) and :mod:`robo_reward.bench.ppo_perf` (PPO: 8
envs x 128 steps, minibatch 32, 10 epochs, [64, 64], observation normalisation), then evaluates
its deterministic policy on the same fixed-seed episodes. Speed counts training only (SAC: from
``learning_starts`` on, when every step pays for an update).

Envs: Gymnasium-Robotics' FetchReach-v4 (sparse, for SAC+HER) / FetchReachDense-v4 (for PPO)
and our Reach with Fetch's -1-until-success reward. Stable-Baselines3 and Gymnasium-Robotics
come with the ``[bench]`` extra and are imported only here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from robo_reward.bench.worker import run_in_worker
from robo_reward.rl.episodes import EVAL_SEED_OFFSET

SAC_SPEED_TARGET = 3.0
PPO_SPEED_TARGET = 1.5


@dataclass(frozen=True)
class ControllerPerfConfig:
    """The controller comparison in ``bench perf``."""

    enabled: bool = True
    """Run it (about 20 minutes on 2 cores with the defaults; needs the [bench] extra)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds, each run by both implementations."""
    sac_envs: tuple[str, ...] = ("FetchReach-v4", "robo_reward/Reach-v0")
    sac_steps: int = 5_000
    sac_learning_starts: int = 1_000
    ppo_envs: tuple[str, ...] = ("FetchReachDense-v4", "robo_reward/Reach-v0")
    ppo_steps: int = 51_200
    eval_episodes: int = 20


def make_env(env_id: str, keys: tuple[str, ...] | None = None):
    """The env by id (Fetch through Gymnasium-Robotics; ours state-only with Fetch's reward),
    optionally keeping only some observation keys."""
    import gymnasium as gym

    if env_id.startswith("robo_reward/"):
        from robo_reward.sim import register_envs

        register_envs()
        env = gym.make(env_id, cameras=(), reward_type="step_penalty")
    else:
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
        env = gym.make(env_id)
    if keys is not None:
        env = gym.wrappers.FilterObservation(env, list(keys))
    return env


def _ppo_keys(env_id: str) -> tuple[str, ...]:
    first = "state" if env_id.startswith("robo_reward/") else "observation"
    return (first, "desired_goal")


def _evaluate(act, make, seed: int, episodes: int) -> dict[str, float]:
    env = make()
    returns, successes = [], []
    for index in range(episodes):
        obs, info = env.reset(seed=seed + EVAL_SEED_OFFSET + index)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        successes.append(float(info.get("is_success", 0.0)))
    env.close()
    return {"eval_return": float(np.mean(returns)), "eval_success": float(np.mean(successes))}


def run_sac(impl: str, env_id: str, steps: int, learning_starts: int, seed: int, episodes: int):
    """Train one SAC+HER (``impl`` ours or sb3) and evaluate it; run in a worker process."""
    import torch

    from robo_reward.bench import rl_perf

    torch.set_num_threads(1)

    def make():
        return make_env(env_id)

    if impl == "ours":
        from robo_reward.rl.sac import SAC, SACConfig

        config = SACConfig(
            total_steps=steps,
            learning_starts=learning_starts,
            buffer_size=rl_perf.BUFFER_SIZE,
            batch_size=rl_perf.BATCH_SIZE,
            hidden=rl_perf.HIDDEN,
            policy_lr=rl_perf.LEARNING_RATE,
            q_lr=rl_perf.LEARNING_RATE,
            her=True,
            her_k=rl_perf.HER_K,
            seed=seed,
            log_every=steps,
        )
        marks: list[float] = []
        with SAC(make, config) as sac:
            sac.learn(
                progress_bar=False,
                callback=lambda s: (
                    marks.append(time.perf_counter()) if s.global_step == learning_starts else None
                ),
            )
            seconds = time.perf_counter() - marks[0]
            result = _evaluate(lambda o: sac.actor.act(o), make, seed, episodes)
    else:
        from stable_baselines3 import SAC as SB3SAC
        from stable_baselines3 import HerReplayBuffer
        from stable_baselines3.common.callbacks import BaseCallback

        class Mark(BaseCallback):
            started = 0.0

            def _on_step(self) -> bool:
                if self.num_timesteps == learning_starts:
                    self.started = time.perf_counter()
                return True

        model = SB3SAC(
            "MultiInputPolicy",
            make(),
            learning_rate=rl_perf.LEARNING_RATE,
            buffer_size=rl_perf.BUFFER_SIZE,
            learning_starts=learning_starts,
            batch_size=rl_perf.BATCH_SIZE,
            replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs={"n_sampled_goal": rl_perf.HER_K},
            policy_kwargs={"net_arch": list(rl_perf.HIDDEN)},
            seed=seed,
            device="cpu",
        )
        mark = Mark()
        model.learn(steps, callback=mark)
        seconds = time.perf_counter() - mark.started
        result = _evaluate(lambda o: model.predict(o, deterministic=True)[0], make, seed, episodes)
    return {**result, "steps_per_s": (steps - learning_starts) / seconds}


def run_ppo(impl: str, env_id: str, steps: int, seed: int, episodes: int):
    """Train one PPO (``impl`` ours or sb3) and evaluate it; run in a worker process."""
    import torch

    from robo_reward.bench import ppo_perf

    torch.set_num_threads(1)
    keys = _ppo_keys(env_id)

    def make():
        return make_env(env_id, keys)

    if impl == "ours":
        from robo_reward.rl.ppo import PPO, PPOConfig

        config = PPOConfig(
            total_steps=steps,
            num_envs=ppo_perf.NUM_ENVS,
            num_steps=ppo_perf.NUM_STEPS,
            num_minibatches=ppo_perf.NUM_ENVS * ppo_perf.NUM_STEPS // ppo_perf.MINIBATCH_SIZE,
            update_epochs=ppo_perf.EPOCHS,
            hidden=ppo_perf.HIDDEN,
            normalize_observations=True,
            seed=seed,
        )
        with PPO(make, config) as ppo:
            start = time.perf_counter()
            ppo.learn(steps, progress_bar=False)
            seconds = time.perf_counter() - start
            done = ppo.global_step
            result = _evaluate(lambda o: ppo.actor.act(o), make, seed, episodes)
    else:
        from stable_baselines3 import PPO as SB3PPO
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        venv = VecNormalize(
            DummyVecEnv([make] * ppo_perf.NUM_ENVS), norm_obs=True, norm_reward=False
        )
        model = SB3PPO(
            "MultiInputPolicy",
            venv,
            n_steps=ppo_perf.NUM_STEPS,
            batch_size=ppo_perf.MINIBATCH_SIZE,
            n_epochs=ppo_perf.EPOCHS,
            policy_kwargs={
                "net_arch": {"pi": list(ppo_perf.HIDDEN), "vf": list(ppo_perf.HIDDEN)},
                "activation_fn": torch.nn.ReLU,
            },
            seed=seed,
            device="cpu",
        )
        start = time.perf_counter()
        model.learn(steps)
        seconds = time.perf_counter() - start
        done = model.num_timesteps
        venv.training = False

        def act(obs):
            batched = {k: v[None] for k, v in obs.items()}
            return model.predict(venv.normalize_obs(batched), deterministic=True)[0][0]

        result = _evaluate(act, make, seed, episodes)
    return {**result, "steps_per_s": done / seconds}


def run_controller_perf(config: ControllerPerfConfig) -> dict[str, Any]:
    """Every run in its own one-core process, interleaving the implementations per seed."""
    results: dict[str, Any] = {"sac": {}, "ppo": {}}
    for env_id in config.sac_envs:
        runs = {"ours": [], "sb3": []}
        for seed in config.seeds:
            for impl in ("ours", "sb3"):
                args = [impl, env_id, config.sac_steps, config.sac_learning_starts, seed]
                runs[impl].append(
                    run_in_worker(__name__, "run_sac", [*args, config.eval_episodes], True)
                )
        results["sac"][env_id] = runs
    for env_id in config.ppo_envs:
        runs = {"ours": [], "sb3": []}
        for seed in config.seeds:
            for impl in ("ours", "sb3"):
                args = [impl, env_id, config.ppo_steps, seed, config.eval_episodes]
                runs[impl].append(run_in_worker(__name__, "run_ppo", args, True))
        results["ppo"][env_id] = runs
    return results


def controller_perf_markdown(results: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    rows = []
    for algo, target in (("sac", SAC_SPEED_TARGET), ("ppo", PPO_SPEED_TARGET)):
        for env_id, runs in results[algo].items():
            ours = [r["steps_per_s"] for r in runs["ours"]]
            sb3 = [r["steps_per_s"] for r in runs["sb3"]]
            ratio = float(np.median(np.array(ours) / np.array(sb3)))
            success = [np.mean([r["eval_success"] for r in runs[i]]) for i in ("ours", "sb3")]
            rows.append(
                [
                    algo.upper(),
                    env_id,
                    f"{np.median(ours):.0f}",
                    f"{np.median(sb3):.0f}",
                    f"{ratio:.2f}",
                    f">= {target:g}" + (" (met)" if ratio >= target else " (not met)"),
                    f"{100 * success[0]:.0f}% / {100 * success[1]:.0f}%",
                ]
            )
    header = [
        "algo",
        "env",
        "ours steps/s",
        "SB3 steps/s",
        "ratio (median over seeds)",
        "target",
        "eval success ours / SB3",
    ]
    seeds = len(next(iter(next(iter(results["sac"].values())).values())))
    return (
        "### Controllers against Stable-Baselines3 (one core each, equal settings and budget)\n\n"
        + markdown_table(header, rows)
        + f"\n\n{seeds} seeds per cell; success is the deterministic policy on 20 fixed-seed "
        "episodes after training.\n"
    )
