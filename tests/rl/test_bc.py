"""Behaviour cloning fits the deterministic action to the demonstrated one."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from robo_reward.rl.bc import behaviour_clone
from robo_reward.rl.policy import Policy


@pytest.mark.parametrize("actor_type", ["squashed_gaussian", "gaussian"])
def test_behaviour_cloning_reproduces_the_demo_actions(actor_type: str) -> None:
    obs_space = spaces.Dict({"state": spaces.Box(-1, 1, (3,)), "goal": spaces.Box(-1, 1, (2,))})
    act_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    policy = Policy(obs_space, act_space, actor_type=actor_type, hidden=(32, 32))
    rng = np.random.default_rng(0)
    observations = [
        {
            "state": rng.uniform(-1, 1, 3).astype(np.float32),
            "goal": rng.uniform(-1, 1, 2).astype(np.float32),
        }
        for _ in range(12)
    ]
    actions = np.stack([0.8 * np.tanh(o["state"][:2] + o["goal"]) for o in observations])
    before = np.mean((policy.act(_batch(observations)) - actions) ** 2)
    loss = behaviour_clone(policy, observations, actions, steps=300, lr=3e-3)
    after = np.mean((policy.act(_batch(observations)) - actions) ** 2)
    assert loss < 1e-3 and after < 0.05 * before


def _batch(observations):
    return {key: np.stack([o[key] for o in observations]) for key in observations[0]}


def test_behaviour_cloning_rejects_mismatched_data() -> None:
    policy = Policy(spaces.Box(-1, 1, (3,)), spaces.Box(-1.0, 1.0, (2,), np.float32), hidden=(8,))
    with pytest.raises(ValueError, match="as many observations"):
        behaviour_clone(policy, np.zeros((3, 3), np.float32), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="steps"):
        behaviour_clone(policy, np.zeros((2, 3), np.float32), np.zeros((2, 2)), steps=0)
