"""Controller speed: our SAC against Stable-Baselines3's at equal settings, env steps per second.

Both learners get the same env, budget and hyper-parameters (batch 256, two hidden layers of
256, one gradient step per env step, a 100k buffer, HER "future" with k = 4, learning rate 3e-4,
entropy auto-tuned from 1.0), one torch thread, and run one after the other in this process.
Speed is measured from ``learning_starts`` on, when every step pays for a gradient update: the
random-action warm-up costs both the same and would only dilute the ratio.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["time_sac_vs_sb3"]

BUFFER_SIZE = 100_000
BATCH_SIZE = 256
HIDDEN = (256, 256)
LEARNING_RATE = 3e-4
HER_K = 4


def _env_factory(env_id: str, env_kwargs: dict[str, Any]):
    import gymnasium as gym

    from robo_reward.sim import register_envs

    register_envs()

    def make() -> gym.Env:
        return gym.make(env_id, **env_kwargs)

    return make


def _time_ours(make, steps: int, learning_starts: int, seed: int) -> dict[str, float]:
    from robo_reward.rl.sac import SAC, SACConfig

    config = SACConfig(
        total_steps=steps,
        learning_starts=learning_starts,
        buffer_size=BUFFER_SIZE,
        batch_size=BATCH_SIZE,
        hidden=HIDDEN,
        policy_lr=LEARNING_RATE,
        q_lr=LEARNING_RATE,
        utd=1.0,
        train_freq=1,
        her=True,
        her_k=HER_K,
        obs_keys=None,  # every key, as SB3's MultiInputPolicy reads them
        seed=seed,
        torch_threads=1,
        log_every=steps,
    )
    started: list[float] = []

    def mark(sac: SAC) -> None:
        if sac.global_step == learning_starts:
            started.append(time.perf_counter())

    with SAC(make, config) as sac:
        metrics = sac.learn(progress_bar=False, callback=mark)
        elapsed = time.perf_counter() - started[0]
    return {
        "sps": (steps - learning_starts) / elapsed,
        "success_rate": metrics.get("charts/success_rate", float("nan")),
    }


def _time_sb3(make, steps: int, learning_starts: int, seed: int) -> dict[str, float]:
    import numpy as np
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3 import HerReplayBuffer
    from stable_baselines3.common.callbacks import BaseCallback

    class Mark(BaseCallback):
        started: float | None = None

        def _on_step(self) -> bool:
            if self.num_timesteps == learning_starts:
                self.started = time.perf_counter()
            return True

    env = make()
    model = SB3SAC(
        "MultiInputPolicy",
        env,
        learning_rate=LEARNING_RATE,
        buffer_size=BUFFER_SIZE,
        learning_starts=learning_starts,
        batch_size=BATCH_SIZE,
        train_freq=1,
        gradient_steps=1,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": HER_K, "goal_selection_strategy": "future"},
        policy_kwargs={"net_arch": list(HIDDEN)},
        seed=seed,
        device="cpu",
    )
    mark = Mark()
    model.learn(steps, callback=mark)
    elapsed = time.perf_counter() - mark.started
    successes = list(model.ep_success_buffer)
    env.close()
    return {
        "sps": (steps - learning_starts) / elapsed,
        "success_rate": float(np.mean(successes)) if successes else float("nan"),
    }


def time_sac_vs_sb3(
    env_id: str = "robo_reward/Reach-v0",
    steps: int = 2000,
    seed: int = 0,
    learning_starts: int = 500,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Env steps/s after ``learning_starts`` of our SAC and of SB3's SAC, and their ratio.

    ``env_kwargs`` go to ``gymnasium.make`` (default for our tasks: ``cameras=()``, state only).
    Needs the ``[bench]`` extra (Stable-Baselines3), imported here only.
    """
    import stable_baselines3
    import torch

    if not 0 <= learning_starts < steps:
        raise ValueError(f"need 0 <= learning_starts < steps, got {learning_starts}, {steps}")
    if env_kwargs is None:
        env_kwargs = {"cameras": ()} if env_id.startswith("robo_reward/") else {}
    torch.set_num_threads(1)
    make = _env_factory(env_id, env_kwargs)
    ours = _time_ours(make, steps, learning_starts, seed)
    sb3 = _time_sb3(make, steps, learning_starts, seed)
    return {
        "env_id": env_id,
        "steps": steps,
        "learning_starts": learning_starts,
        "seed": seed,
        "torch_threads": 1,
        "sb3_version": stable_baselines3.__version__,
        "ours_sps": ours["sps"],
        "sb3_sps": sb3["sps"],
        "ratio": ours["sps"] / sb3["sps"],
        "ours_success_rate": ours["success_rate"],
        "sb3_success_rate": sb3["success_rate"],
    }
