"""Bookkeeping SAC and PPO share: evaluation seeds and reading per-env values out of a vector
env's ``info`` at the end of a step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

EVAL_SEED_OFFSET = 1_000_003
"""Evaluation episode ``i`` resets with seed ``config.seed + EVAL_SEED_OFFSET + i``: the same
episodes at every evaluation, and none drawn from the training RNG."""

REWARD_TERM_PREFIXES = ("reward/", "reward_")
"""``info`` keys summed per episode and logged as ``reward/<term>``: our shaping wrapper's
``reward/<term>`` and Gymnasium MuJoCo v5's ``reward_<term>``."""


def step_values(
    infos: Mapping[str, Any], key: str, done: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Per-env values of ``infos[key]`` for this step, 0 where absent. Under SAME_STEP
    autoreset the top level of a finished env holds its reset's info, so those envs read
    ``final_info`` instead."""
    out = np.zeros(len(done)) if out is None else out
    out[:] = 0.0
    if key in infos:
        mask = np.asarray(infos.get(f"_{key}", np.ones(len(done), bool)), dtype=bool) & ~done
        out[mask] = np.asarray(infos[key], dtype=np.float64)[mask]
    final = infos.get("final_info")
    if final is not None and key in final:
        mask = np.asarray(final.get(f"_{key}", done), dtype=bool) & done
        out[mask] = np.asarray(final[key], dtype=np.float64)[mask]
    return out


def has_key(infos: Mapping[str, Any], key: str) -> bool:
    """Whether this step's infos carry ``key`` for any env (top level or ``final_info``)."""
    return key in infos or key in (infos.get("final_info") or {})


def evaluate_policy(
    env: Any, act: Callable[[Any], np.ndarray], episodes: int, seed: int
) -> dict[str, float]:
    """Mean return (and success rate, where the env reports ``info["is_success"]`` at an
    episode's last step) of ``act`` over ``episodes`` episodes; episode ``i`` resets with seed
    ``seed + EVAL_SEED_OFFSET + i``, so every evaluation sees the same episodes."""
    returns, successes = [], []
    for index in range(episodes):
        obs, info = env.reset(seed=seed + EVAL_SEED_OFFSET + index)
        episode_return, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            episode_return += float(reward)
            done = terminated or truncated
        returns.append(episode_return)
        if "is_success" in info:
            successes.append(float(info["is_success"]))
    result = {"eval/episodic_return": float(np.mean(returns))}
    if successes:
        result["eval/success_rate"] = float(np.mean(successes))
    return result
