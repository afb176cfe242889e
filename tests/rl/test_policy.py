"""Saved policies: identical actions after a save/load round trip, bounds respected, and every
bad observation refused with its key named."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from robo_reward.checkpoints import CheckpointError, save_weights
from robo_reward.rl.policy import Policy, load_policy, save_policy

ACTION = spaces.Box(np.array([-1.0, 0.0, -2.0], np.float32), np.array([1.0, 0.5, 4.0], np.float32))
DICT_SPACE = spaces.Dict(
    OrderedDict(
        state=spaces.Box(-np.inf, np.inf, (5,), np.float32),
        achieved_goal=spaces.Box(-1, 1, (2,), np.float32),
        desired_goal=spaces.Box(-1, 1, (2,), np.float32),
        front=spaces.Box(0, 255, (36, 36, 3), np.uint8),
    )
)
KEYS = ("state", "desired_goal", "front")


def dict_obs(rng: np.random.Generator, batch: int | None = None) -> dict[str, np.ndarray]:
    lead = () if batch is None else (batch,)
    return {
        "state": rng.normal(size=(*lead, 5)).astype(np.float32),
        "achieved_goal": rng.uniform(-1, 1, (*lead, 2)).astype(np.float32),
        "desired_goal": rng.uniform(-1, 1, (*lead, 2)).astype(np.float32),
        "front": rng.integers(0, 256, (*lead, 36, 36, 3), dtype=np.uint8),
    }


def make_policy(actor_type: str, normalize: bool = True) -> Policy:
    torch.manual_seed(0)
    policy = Policy(
        DICT_SPACE,
        ACTION,
        actor_type=actor_type,
        keys=KEYS,
        hidden=(16, 16),
        normalize_observations=normalize,
        cnn_features=8,
        log_std_init=-0.5,
    )
    if normalize:
        assert policy.normalizer is not None
        obs = dict_obs(np.random.default_rng(9), batch=32)
        policy.normalizer.update({k: torch.from_numpy(v) for k, v in obs.items()})
    return policy


@pytest.mark.parametrize("actor_type", ["squashed_gaussian", "gaussian"])
def test_round_trip_gives_identical_actions(tmp_path: Path, actor_type: str) -> None:
    policy = make_policy(actor_type)
    path = save_policy(tmp_path / "policy.safetensors", policy, algo="sac", extra={"step": 7})
    loaded = load_policy(path)
    assert loaded.algo == "sac" and loaded.extra == {"step": 7} and not loaded.training
    assert loaded.keys == KEYS and loaded.actor_type == actor_type
    obs = dict_obs(np.random.default_rng(1), batch=6)
    np.testing.assert_array_equal(loaded.act(obs), policy.act(obs))
    stochastic = [
        p.act(obs, deterministic=False, generator=torch.Generator().manual_seed(3))
        for p in (policy, loaded)
    ]
    np.testing.assert_array_equal(*stochastic)


def test_box_policy_round_trip_without_normalizer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    space = spaces.Box(-5, 5, (4,), np.float32)
    policy = Policy(space, ACTION, hidden=(8,))
    assert policy.normalizer is None and policy.keys is None
    loaded = load_policy(save_policy(tmp_path / "p.safetensors", policy, algo="sac"))
    obs = np.random.default_rng(0).uniform(-5, 5, (3, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs), policy.act(obs))


@pytest.mark.parametrize("actor_type", ["squashed_gaussian", "gaussian"])
def test_actions_are_within_bounds_single_and_batched(actor_type: str) -> None:
    policy = make_policy(actor_type)
    rng = np.random.default_rng(2)
    single = policy.act(dict_obs(rng))
    assert single.shape == (3,) and single.dtype == np.float32
    batched = policy.act(dict_obs(rng, batch=50), deterministic=False)
    assert batched.shape == (50, 3)
    assert np.all(batched >= ACTION.low) and np.all(batched <= ACTION.high)
    # Extra keys (achieved_goal here) are ignored; act leaves the training mode as it was.
    assert policy.training


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda o: o.pop("desired_goal"), "'desired_goal' is missing"),
        (lambda o: o.update(state=np.zeros(4, np.float32)), "'state' has shape"),
        (lambda o: o.update(state=np.array([0, np.nan, 0, 0, 0], np.float32)), "'state'.*NaN"),
        (lambda o: o.update(desired_goal=np.array([np.inf, 0.0])), "'desired_goal'.*infinity"),
        (lambda o: o.update(front=np.zeros((36, 36, 3), np.float32)), "'front'.*uint8"),
        (lambda o: o.update(front=np.zeros((2, 36, 36, 3), np.uint8)), "batch size"),
        (lambda o: o.update(state=np.array(["a"] * 5)), "'state'.*non-numeric"),
    ],
)
def test_bad_observations_raise_naming_the_key(change, match: str) -> None:
    policy = make_policy("squashed_gaussian", normalize=False)
    obs = dict_obs(np.random.default_rng(0))
    change(obs)
    with pytest.raises(ValueError, match=match):
        policy.act(obs)


def test_wrong_observation_container_raises() -> None:
    policy = make_policy("gaussian", normalize=False)
    with pytest.raises(ValueError, match="dict observation"):
        policy.act(np.zeros(5, np.float32))
    box_policy = Policy(spaces.Box(-1, 1, (2,), np.float32), ACTION)
    with pytest.raises(ValueError, match="array observation"):
        box_policy.act({"state": np.zeros(2)})


def test_squashed_log_prob_matches_torch_distributions() -> None:
    policy = make_policy("squashed_gaussian", normalize=False)
    obs = {k: torch.from_numpy(v) for k, v in dict_obs(np.random.default_rng(4), 8).items()}
    features = policy.features(obs)
    action, log_prob = policy.squashed_sample(features, torch.Generator().manual_seed(0))
    mean, log_std = policy._squashed_head(features)
    dist = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform(cache_size=1)])
    clipped = action.clamp(-1 + 1e-6, 1 - 1e-6)
    torch.testing.assert_close(log_prob, dist.log_prob(clipped).sum(-1), atol=2e-3, rtol=1e-4)
    # Deterministic action: tanh(mean) mapped affinely onto the bounds.
    expected = (torch.tanh(mean) + 1) / 2 * (policy.action_high - policy.action_low)
    torch.testing.assert_close(policy(obs), policy.action_low + expected)


def test_gaussian_distribution_and_clipping() -> None:
    policy = make_policy("gaussian", normalize=False)
    obs = {k: torch.from_numpy(v) for k, v in dict_obs(np.random.default_rng(5), 4).items()}
    dist = policy.distribution(policy.features(obs))
    torch.testing.assert_close(dist.stddev, torch.full((4, 3), float(np.exp(-0.5))))
    torch.testing.assert_close(
        policy(obs), dist.mean.clamp(min=policy.action_low, max=policy.action_high)
    )
    with pytest.raises(ValueError, match="gaussian"):
        make_policy("squashed_gaussian").distribution(torch.zeros(1, 5))


def test_invalid_policy_arguments() -> None:
    with pytest.raises(ValueError, match="actor_type"):
        Policy(DICT_SPACE, ACTION, actor_type="beta")
    with pytest.raises(ValueError, match="finite action bounds"):
        Policy(DICT_SPACE, spaces.Box(-np.inf, np.inf, (2,), np.float32))
    with pytest.raises(ValueError, match="1-D Box"):
        Policy(DICT_SPACE, spaces.Discrete(2))
    Policy(DICT_SPACE, spaces.Box(-np.inf, np.inf, (2,), np.float32), actor_type="gaussian")


def test_load_refuses_other_checkpoints(tmp_path: Path) -> None:
    other = save_weights(tmp_path / "grm.safetensors", {"w": torch.zeros(2)}, kind="grm", config={})
    with pytest.raises(CheckpointError, match="'policy'"):
        load_policy(other)
    bad = save_weights(
        tmp_path / "bad.safetensors",
        {"w": torch.zeros(2)},
        kind="policy",
        config={"algo": "sac", **make_policy("gaussian").config()},
    )
    with pytest.raises(CheckpointError, match="do not fit"):
        load_policy(bad)
