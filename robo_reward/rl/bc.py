"""Behaviour cloning: fit a policy's deterministic action to demonstrated actions.

Used to start RL from the one demonstration a user has (Robo-Dopamine starts its policies the
same way). The loss is the mean squared error between the policy's deterministic action (in
action units, inside the bounds) and the demonstrated action clipped to the bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from robo_reward.rl.policy import Policy


def behaviour_clone(
    policy: Policy,
    observations: Sequence[Mapping[str, np.ndarray]] | np.ndarray,
    actions: np.ndarray,
    steps: int = 500,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """Train ``policy`` in place on ``(observation, action)`` pairs (full batch); returns the
    final loss. Observations are dicts of arrays (or one array for Box policies)."""
    actions = np.asarray(actions, dtype=np.float32)
    if len(observations) != len(actions) or len(actions) == 0:
        raise ValueError(
            f"need as many observations as actions (> 0), got {len(observations)} and "
            f"{len(actions)}"
        )
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    if isinstance(observations, np.ndarray):
        batch = observations
    else:
        batch = {key: np.stack([o[key] for o in observations]) for key in policy.keys or ()}
    tensors, _ = policy.observation_to_tensor(batch)
    target = torch.from_numpy(actions)
    target = torch.maximum(torch.minimum(target, policy.action_high), policy.action_low)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    policy.train()
    loss = torch.zeros(())
    for _ in range(steps):
        loss = (policy(tensors, deterministic=True) - target).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    policy.eval()
    return float(loss.detach())
