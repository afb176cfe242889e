"""RND and RDD (same machinery): novelty ordering after training, seeded determinism, reward
normalisation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from robo_reward.intrinsic import (
    IntrinsicReward,
    RandomDistributionDistillation,
    RandomNetworkDistillation,
    RDDConfig,
    RNDConfig,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPACE = spaces.Dict(
    {
        "lidar": spaces.Box(0.0, 3.0, (36,), np.float32),
        "odometry": spaces.Box(-np.inf, np.inf, (6,), np.float32),
        "goal": spaces.Box(-np.inf, np.inf, (2,), np.float32),
    }
)
MODELS = pytest.mark.parametrize(
    ("cls", "config_cls"),
    [(RandomNetworkDistillation, RNDConfig), (RandomDistributionDistillation, RDDConfig)],
    ids=["rnd", "rdd"],
)


def _observations(rng: np.random.Generator, n: int, region: float) -> dict[str, np.ndarray]:
    """Rover-like observations around ``(region, region)``; lidar tied to the position."""
    xy = rng.normal(region, 0.3, (n, 2))
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    lidar = 1.5 + np.sin(angles[None] * (1 + region) + xy[:, :1]) + 0.05 * rng.normal(size=(n, 36))
    odometry = np.zeros((n, 6))
    odometry[:, :2] = xy
    odometry[:, 2] = 1.0
    return {
        "lidar": np.clip(lidar, 0, 3).astype(np.float32),
        "odometry": odometry.astype(np.float32),
        "goal": np.zeros((n, 2), np.float32),
    }


@MODELS
def test_familiar_states_score_lower_than_unseen_ones(cls, config_cls) -> None:
    rng = np.random.default_rng(0)
    model = cls(SPACE, config_cls(seed=3))
    assert isinstance(model, IntrinsicReward) and model.learned
    familiar = _observations(rng, 256, region=0.0)
    before = model.bonus(familiar).mean()
    for _ in range(150):
        stats = model.update(familiar)
    assert np.isfinite(stats["loss"])
    seen = model.bonus(_observations(rng, 128, region=0.0)).mean()  # same region, new draws
    unseen = model.bonus(_observations(rng, 128, region=3.0)).mean()
    assert seen < 0.1 * before
    assert seen < 0.2 * unseen, (seen, unseen)


@MODELS
def test_same_seed_same_bonus_other_seed_other_bonus(cls, config_cls) -> None:
    rng = np.random.default_rng(1)
    batches = [_observations(rng, 64, region=float(i)) for i in range(3)]
    probe = _observations(rng, 32, region=1.5)

    def run(seed: int) -> np.ndarray:
        model = cls(SPACE, config_cls(seed=seed))
        for batch in batches:
            model.update(batch)
        return model.bonus(probe)

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.allclose(run(7), run(8))
    model = cls(SPACE, config_cls(seed=7))
    for batch in batches:
        model.update(batch)
    model.reset()
    for batch in batches:
        model.update(batch)
    np.testing.assert_array_equal(model.bonus(probe), run(7))


@MODELS
def test_reward_is_bonus_over_running_std(cls, config_cls) -> None:
    rng = np.random.default_rng(2)
    model = cls(SPACE, config_cls())
    probe = _observations(rng, 16, region=0.0)
    np.testing.assert_array_equal(model.reward(probe), model.bonus(probe))  # no stats yet
    first = _observations(rng, 128, region=0.0)
    twin = cls(SPACE, config_cls())  # the bonus update() sees: after whitening, before training
    twin.obs_stats.update(torch.as_tensor(twin.features(first)))
    expected_std = twin.bonus(first).std()
    model.update(first)
    assert model.reward_stats.std == pytest.approx(expected_std, rel=1e-5)
    np.testing.assert_allclose(model.reward(probe), model.bonus(probe) / expected_std, rtol=1e-5)
    raw = cls(SPACE, config_cls(normalize_reward=False))
    raw.update(first)
    np.testing.assert_array_equal(raw.reward(probe), raw.bonus(probe))


@MODELS
def test_bad_input_fails_clearly(cls, config_cls) -> None:
    model = cls(SPACE, config_cls())
    batch = _observations(np.random.default_rng(3), 4, region=0.0)
    batch["lidar"][2, 5] = np.nan
    with pytest.raises(
        ValueError, match=r"'lidar' contains NaN or infinite values \(batch rows \[2\]"
    ):
        model.update(batch)
    with pytest.raises(ValueError, match=r"expected a batch of shape \(B, 6\), got \(6,\)"):
        model.reward({"lidar": np.zeros(36), "odometry": np.zeros(6)})
    with pytest.raises(ValueError, match="not in the observation space"):
        cls(spaces.Dict({"goal": SPACE["goal"]}), config_cls())
    with pytest.raises(ValueError, match="output_dim"):
        config_cls(output_dim=0)


@MODELS
def test_update_learns_inside_a_no_grad_rollout(cls, config_cls) -> None:
    """Env wrappers are stepped inside a learner's ``torch.no_grad()`` rollout (PPO's is)."""
    import torch

    model = cls(SPACE, config_cls(seed=1))
    familiar = _observations(np.random.default_rng(0), 256, region=0.0)
    before = model.bonus(familiar).mean()
    with torch.no_grad():
        for _ in range(20):
            model.update(familiar)
    assert model.bonus(familiar).mean() < before
