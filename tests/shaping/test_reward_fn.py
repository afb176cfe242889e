"""The imitation-style shaped reward function: the same formula on batches, validated."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.shaping import PotentialError, ShapedRewardFn, shaping_reward


def progress(states: np.ndarray) -> np.ndarray:
    return states[:, 0]


def test_matches_the_single_transition_formula() -> None:
    rng = np.random.default_rng(0)
    obs, next_obs = rng.uniform(0, 1, (8, 3)), rng.uniform(0, 1, (8, 3))
    acts, dones = rng.normal(size=(8, 2)), rng.uniform(size=8) < 0.4
    base = lambda o, a, n, d: np.full(len(o), 0.25)  # noqa: E731
    for mode in ("pbrs", "naive"):
        reward_fn = ShapedRewardFn(progress, gamma=0.95, base=base, mode=mode)
        rewards = reward_fn(obs, acts, next_obs, dones)
        expected = [
            0.25 + shaping_reward(obs[i, 0], next_obs[i, 0], 0.95, bool(dones[i]), mode)
            for i in range(8)
        ]
        np.testing.assert_allclose(rewards, expected)


def test_bad_potentials_and_shapes_raise() -> None:
    obs = np.zeros((3, 2))
    acts, dones = np.zeros((3, 1)), np.zeros(3, bool)
    with pytest.raises(PotentialError, match=r"next_obs\[1\] is nan"):
        ShapedRewardFn(lambda s: np.where(s[:, 1] > 0, np.nan, 0.0), 0.9)(
            obs, acts, np.array([[0, 0], [0, 1], [0, 0]]), dones
        )
    with pytest.raises(PotentialError, match="outside"):
        ShapedRewardFn(lambda s: np.full(len(s), 2.0), 0.9)(obs, acts, obs, dones)
    with pytest.raises(PotentialError, match="shape"):
        ShapedRewardFn(lambda s: np.zeros((len(s), 1)), 0.9)(obs, acts, obs, dones)
    with pytest.raises(ValueError, match="batch sizes"):
        ShapedRewardFn(progress, 0.9)(obs, acts[:2], obs, dones)
    with pytest.raises(ValueError, match="gamma"):
        ShapedRewardFn(progress, 1.2)
