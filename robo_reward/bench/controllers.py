"""Our SAC and PPO side by side with Stable-Baselines3's: env steps/s and success at equal budget.

Every (algorithm, implementation, env, seed) trains in a fresh process pinned to one core, one
after the other, then its deterministic policy is evaluated on the same fixed-seed episodes.
Speed counts training only (SAC: from ``learning_starts`` on, when every step pays for an
update). The settings are made equal one by one:

- SAC: batch 256, two hidden layers of 256, one gradient step per env step, a 100k buffer, HER
  "future" with k = 4, Adam 3e-4 for actor and critics, entropy auto-tuned from 1.0, every
  observation key (SB3's ``MultiInputPolicy`` concatenates them as ours does);
- PPO: 8 envs stepped in sequence (our ``SyncVectorEnv``, SB3's ``DummyVecEnv``), 128 steps per
  env per rollout, minibatches of 32, 10 epochs, gamma 0.99, GAE lambda 0.95, clip 0.2, no value
  clipping, no entropy bonus, value weight 0.5, gradient-norm clip 0.5, constant Adam 3e-4;
  separate actor and critic MLPs of [64, 64] with ReLU, orthogonal initialisation, log-std
  starting at 0; running observation normalisation clipped at 10 (SB3's ``VecNormalize`` with
  ``norm_reward=False``); the same observation keys for both.

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
from robo_reward.rl.episodes import evaluate_policy

SAC_SPEED_TARGET = 3.0
PPO_SPEED_TARGET = 1.5
LEARNING_RATE = 3e-4
SAC_BUFFER_SIZE = 100_000
SAC_BATCH_SIZE = 256
SAC_HIDDEN = (256, 256)
HER_K = 4
PPO_NUM_ENVS = 8
PPO_NUM_STEPS = 128
PPO_MINIBATCH_SIZE = 32
PPO_EPOCHS = 10
PPO_HIDDEN = (64, 64)


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
    result = evaluate_policy(env, act, episodes, seed)
    env.close()
    return {
        "eval_return": result["eval/episodic_return"],
        "eval_success": result["eval/success_rate"],
    }


def run_sac(impl: str, env_id: str, steps: int, learning_starts: int, seed: int, episodes: int):
    """Train one SAC+HER (``impl`` ours or sb3) and evaluate it; run in a worker process."""
    import torch

    torch.set_num_threads(1)

    def make():
        return make_env(env_id)

    if impl == "ours":
        from robo_reward.rl.sac import SAC, SACConfig

        config = SACConfig(
            total_steps=steps,
            learning_starts=learning_starts,
            buffer_size=SAC_BUFFER_SIZE,
            batch_size=SAC_BATCH_SIZE,
            hidden=SAC_HIDDEN,
            policy_lr=LEARNING_RATE,
            q_lr=LEARNING_RATE,
            her=True,
            her_k=HER_K,
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
            learning_rate=LEARNING_RATE,
            buffer_size=SAC_BUFFER_SIZE,
            learning_starts=learning_starts,
            batch_size=SAC_BATCH_SIZE,
            replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs={"n_sampled_goal": HER_K, "goal_selection_strategy": "future"},
            train_freq=1,
            gradient_steps=1,
            policy_kwargs={"net_arch": list(SAC_HIDDEN)},
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

    torch.set_num_threads(1)
    keys = _ppo_keys(env_id)

    def make():
        return make_env(env_id, keys)

    if impl == "ours":
        from robo_reward.rl.ppo import PPO, PPOConfig

        config = PPOConfig(
            total_steps=steps,
            num_envs=PPO_NUM_ENVS,
            num_steps=PPO_NUM_STEPS,
            num_minibatches=PPO_NUM_ENVS * PPO_NUM_STEPS // PPO_MINIBATCH_SIZE,
            update_epochs=PPO_EPOCHS,
            hidden=PPO_HIDDEN,
            lr=LEARNING_RATE,
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
            DummyVecEnv([make] * PPO_NUM_ENVS), norm_obs=True, norm_reward=False, clip_obs=10.0
        )
        model = SB3PPO(
            "MultiInputPolicy",
            venv,
            n_steps=PPO_NUM_STEPS,
            batch_size=PPO_MINIBATCH_SIZE,
            n_epochs=PPO_EPOCHS,
            learning_rate=LEARNING_RATE,
            gamma=0.99,
            gae_lambda=0.95,
            clip_range=0.2,
            clip_range_vf=None,
            normalize_advantage=True,
            ent_coef=0.0,
            vf_coef=0.5,
            max_grad_norm=0.5,
            policy_kwargs={
                "net_arch": {"pi": list(PPO_HIDDEN), "vf": list(PPO_HIDDEN)},
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
