"""Shaping theory on small tabular MDPs solved exactly by value iteration.

Rewards are read through the real :class:`PotentialShaping` wrapper around a tabular Gymnasium
env, so these tests check the code that trains policies, not a copy of the formula:

- potential-based shaping leaves the optimal policy unchanged (and ``Q' = Q − Φ``) for random
  potentials, with terminal states and with time limits (truncation bootstraps, Φ kept);
- zeroing Φ on truncation, or the naive ``Φ(s') − Φ(s)``, changes it (the "semantic trap").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from robo_reward.shaping import PotentialShaping, ShapingConfig, shaping_reward

GAMMA = 0.9


@dataclass(frozen=True)
class MDP:
    """A deterministic MDP: ``next_state[s, a]``, ``reward[s, a]``, terminal (absorbing) states."""

    next_state: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray

    @property
    def num_states(self) -> int:
        return len(self.next_state)


def random_mdp(
    rng: np.random.Generator, states: int = 7, actions: int = 3, reward_scale: float = 1.0
) -> MDP:
    next_state = rng.integers(0, states, (states, actions))
    terminal = np.zeros(states, dtype=bool)
    terminal[rng.choice(states, size=2, replace=False)] = True
    reward = reward_scale * rng.normal(size=(states, actions))
    return MDP(next_state, reward, terminal)


class TabularEnv(gym.Env):
    """The MDP as a Gymnasium env; ``reset(options={"state": s})`` starts anywhere."""

    def __init__(self, mdp: MDP) -> None:
        self.mdp = mdp
        self.observation_space = spaces.Discrete(mdp.num_states)
        self.action_space = spaces.Discrete(mdp.next_state.shape[1])
        self.state = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = int((options or {}).get("state", 0))
        return self.state, {}

    def step(self, action: int):
        reward = float(self.mdp.reward[self.state, action])
        self.state = int(self.mdp.next_state[self.state, action])
        return self.state, reward, bool(self.mdp.terminal[self.state]), False, {}


class TablePotential:
    """Φ from a table indexed by the (discrete) observation."""

    name = "table"
    bounds = (0.0, 1.0)

    def __init__(self, phi: np.ndarray) -> None:
        self.phi = phi

    def reset(self, observation: int, info: dict) -> float:
        return float(self.phi[observation])

    def potential(self, observation: int, info: dict) -> float:
        return float(self.phi[observation])


def shaped_rewards(mdp: MDP, phi: np.ndarray, mode: str = "pbrs") -> np.ndarray:
    """``R'[s, a]`` as the wrapper pays it (non-terminal start states only)."""
    env = PotentialShaping(
        TabularEnv(mdp), TablePotential(phi), ShapingConfig(gamma=GAMMA, mode=mode)
    )
    shaped = np.full(mdp.reward.shape, np.nan)
    for s in np.flatnonzero(~mdp.terminal):
        for a in range(mdp.reward.shape[1]):
            env.reset(options={"state": int(s)})
            shaped[s, a] = env.step(a)[1]
    return shaped


def q_values(mdp: MDP, reward: np.ndarray, iterations: int = 800) -> np.ndarray:
    """Optimal Q of the discounted MDP (terminal states are worth 0)."""
    q = np.zeros(reward.shape)
    for _ in range(iterations):
        value = np.where(mdp.terminal, 0.0, q.max(1))
        q = reward + GAMMA * value[mdp.next_state]
    return np.where(mdp.terminal[:, None], 0.0, q)


def greedy(q: np.ndarray, mdp: MDP) -> np.ndarray:
    return q.argmax(1)[~mdp.terminal]


@pytest.mark.parametrize("seed", range(10))
def test_pbrs_keeps_the_optimal_policy_and_shifts_q_by_the_potential(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng)
    q = q_values(mdp, np.nan_to_num(mdp.reward))
    for _ in range(5):
        phi = rng.uniform(0, 1, mdp.num_states)
        q_shaped = q_values(mdp, np.nan_to_num(shaped_rewards(mdp, phi)))
        alive = ~mdp.terminal
        np.testing.assert_allclose(q_shaped[alive], (q - phi[:, None])[alive], atol=1e-9)
        np.testing.assert_array_equal(greedy(q_shaped, mdp), greedy(q, mdp))


def test_naive_difference_changes_the_optimal_policy_of_random_mdps() -> None:
    """Not a proof of anything by itself: it shows the invariance test above can fail."""
    rng = np.random.default_rng(123)
    changed = trials = 0
    for _ in range(20):
        mdp = random_mdp(rng, reward_scale=0.1)  # task rewards on the scale of the potential
        q = q_values(mdp, mdp.reward)
        for _ in range(5):
            phi = rng.uniform(0, 1, mdp.num_states)
            q_naive = q_values(mdp, np.nan_to_num(shaped_rewards(mdp, phi, mode="naive")))
            changed += not np.array_equal(greedy(q_naive, mdp), greedy(q, mdp))
            trials += 1
    assert changed >= trials // 10, f"naive shaping changed only {changed}/{trials} policies"


def trap_mdp() -> tuple[MDP, np.ndarray]:
    """Start S; L looks done (Φ = 0.95) but is not; the goal G is reached through a dip D.

    S -a0-> L, S -a1-> D;  L -a0-> L (hover), L -a1-> D;  D -any-> G (task reward 1, terminal).
    """
    S, L, D, G = range(4)
    next_state = np.array([[L, D], [L, D], [G, G], [G, G]])
    reward = np.zeros((4, 2))
    reward[D] = 1.0
    terminal = np.array([False, False, False, True])
    phi = np.array([0.3, 0.95, 0.1, 1.0])
    return MDP(next_state, reward, terminal), phi


def test_semantic_trap_naive_difference_hovers_where_pbrs_finishes() -> None:
    mdp, phi = trap_mdp()
    task = greedy(q_values(mdp, mdp.reward), mdp)
    pbrs = greedy(q_values(mdp, np.nan_to_num(shaped_rewards(mdp, phi))), mdp)
    naive = greedy(q_values(mdp, np.nan_to_num(shaped_rewards(mdp, phi, mode="naive"))), mdp)
    assert task[0] == 1  # the task's optimum goes through the dip to the goal
    np.testing.assert_array_equal(pbrs, task)
    assert naive[0] == 0 and naive[1] == 0  # naive: go to the good-looking state and hover there


# ----------------------------------------------------------------------------- time limits


def finite_horizon_q(
    mdp: MDP, phi: np.ndarray | None, horizon: int, truncation: str = "keep"
) -> np.ndarray:
    """``Q_t(s, a)`` for t < horizon of a learner that bootstraps at the time limit with its
    infinite-horizon value (the Gymnasium rule: truncated is not terminated).

    ``phi`` None: the task reward. ``truncation`` says what the shaping does with Φ(s') on the
    truncated step: ``keep`` (our rule) or ``zero`` (treating truncation like termination)."""
    if phi is None:
        reward, last_reward = mdp.reward, mdp.reward
    else:
        reward = np.nan_to_num(shaped_rewards(mdp, phi))
        last_reward = reward.copy()
        if truncation == "zero":
            # What a wrapper that zeroed Φ(s') on truncation would pay on the last step.
            for s in range(mdp.num_states):
                for a in range(reward.shape[1]):
                    s_next = mdp.next_state[s, a]
                    last_reward[s, a] = mdp.reward[s, a] + shaping_reward(
                        phi[s], phi[s_next], GAMMA, terminated=True
                    )
    bootstrap = np.where(mdp.terminal, 0.0, q_values(mdp, reward).max(1))
    qs = np.zeros((horizon, *reward.shape))
    value = bootstrap
    for t in reversed(range(horizon)):
        r = last_reward if t == horizon - 1 else reward
        qs[t] = r + GAMMA * value[mdp.next_state]
        value = np.where(mdp.terminal, 0.0, qs[t].max(1))
    return qs


def test_truncated_step_keeps_the_potential_in_the_wrapper() -> None:
    rng = np.random.default_rng(7)
    mdp = random_mdp(rng)
    phi = rng.uniform(0, 1, mdp.num_states)
    start = int(np.flatnonzero(~mdp.terminal)[0])
    action = next(a for a in range(3) if not mdp.terminal[mdp.next_state[start, a]])
    env = PotentialShaping(
        gym.wrappers.TimeLimit(TabularEnv(mdp), max_episode_steps=1),
        TablePotential(phi),
        ShapingConfig(gamma=GAMMA),
    )
    env.reset(options={"state": start})
    _, reward, terminated, truncated, info = env.step(action)
    assert truncated and not terminated
    s_next = mdp.next_state[start, action]
    assert reward == pytest.approx(mdp.reward[start, action] + GAMMA * phi[s_next] - phi[start])
    assert info["potential/table"] == pytest.approx(phi[s_next])


@pytest.mark.parametrize("seed", range(5))
def test_pbrs_is_policy_invariant_under_time_limits(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    mdp = random_mdp(rng)
    horizon = 4
    q = finite_horizon_q(mdp, None, horizon)
    for _ in range(10):
        phi = rng.uniform(0, 1, mdp.num_states)
        q_kept = finite_horizon_q(mdp, phi, horizon, "keep")
        for t in range(horizon):
            np.testing.assert_array_equal(greedy(q_kept[t], mdp), greedy(q[t], mdp))
            alive = ~mdp.terminal
            np.testing.assert_allclose(q_kept[t][alive], (q[t] - phi[:, None])[alive], atol=1e-9)


def test_zeroing_the_potential_at_the_time_limit_changes_policies() -> None:
    """Treating truncation like termination rewards *where* the clock ran out."""
    rng = np.random.default_rng(5)
    changed = trials = 0
    for _ in range(20):
        mdp = random_mdp(rng, reward_scale=0.1)
        q_last = finite_horizon_q(mdp, None, 3)[-1]
        for _ in range(5):
            phi = rng.uniform(0, 1, mdp.num_states)
            q_zero = finite_horizon_q(mdp, phi, 3, "zero")[-1]
            changed += not np.array_equal(greedy(q_zero, mdp), greedy(q_last, mdp))
            trials += 1
    assert changed >= trials // 10, f"zeroing at truncation changed only {changed}/{trials}"
