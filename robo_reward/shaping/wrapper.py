"""``PotentialShaping``: a Gymnasium wrapper that adds potential-based shaping to a task.

The reward the learner sees is

    ``r' = task_weight · r  +  Σ_i w_i F_i(s, s')  +  r_gold · [Φ_1(s') ≥ threshold]  −  c``

with ``F_i`` the shaping term of potential ``i`` (:func:`robo_reward.shaping.pbrs.shaping_reward`:
``γ Φ(s') − Φ(s)``, ``Φ = 0`` after ``terminated``, kept after ``truncated``). Every term is
reported in ``info`` under flat keys, so they survive Gymnasium's vector envs and reach the logs:

``reward/task``            the task's own reward (true returns are logged from it; set only if
                           an inner wrapper has not, so it stays the environment's reward),
``reward/shaping_<name>``  each weighted shaping term,
``reward/gold``            the success bonus,
``reward/time``            the time penalty ``−c`` (when configured),
``reward/total``           what the learner got,
``potential/<name>``       ``Φ(s')`` as the provider returned it.

The shaped reward is computed when the transition is collected, so a transition keeps the
potential it was collected with even if the reward model is adapted later (store the reward, do
not recompute it). Under a vector env, wrap each sub-env (``gym.make_vec(...,
wrappers=[...])`` or an ``env_fn`` that wraps); autoreset then resets the potential too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym

from robo_reward.shaping.pbrs import (
    SHAPING_MODES,
    ShapingMode,
    check_potential,
    shaping_reward,
)
from robo_reward.shaping.potentials import PotentialProvider


@dataclass(frozen=True)
class ShapingConfig:
    """How potentials become reward."""

    gamma: float = 0.99
    """Discount of the shaping term; must equal the learner's discount."""
    mode: ShapingMode = "pbrs"
    """``pbrs`` (policy-invariant) or ``naive`` (Φ(s') − Φ(s), the semantic-trap ablation)."""
    task_weight: float = 1.0
    """Weight of the task's own reward (0: learn from shaping and the bonus only)."""
    success_bonus: float = 0.0
    """Robo-Dopamine's r_gold, paid when the first potential reaches ``success_threshold``
    (0: off)."""
    success_threshold: float = 0.95
    """Potential at which the success bonus is paid."""
    time_penalty: float = 0.0
    """Constant ``c`` subtracted every step (0: off). With r_gold and no task reward, ``c = 1``
    gives Fetch's −1-until-done convention on the learned success signal, which suits SAC:
    a positive entropy bonus cannot then make lingering pay."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.mode not in SHAPING_MODES:
            raise ValueError(f"mode must be one of {SHAPING_MODES}, got {self.mode!r}")
        if self.success_bonus < 0 or self.time_penalty < 0:
            raise ValueError(
                f"success_bonus and time_penalty must be >= 0, got {self.success_bonus}, "
                f"{self.time_penalty}"
            )


class PotentialShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds shaping terms from one or more potential providers (see the module docstring)."""

    def __init__(
        self,
        env: gym.Env,
        potentials: PotentialProvider | Sequence[PotentialProvider],
        config: ShapingConfig = ShapingConfig(),
        weights: Mapping[str, float] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, potentials=potentials, config=config, weights=weights
        )
        super().__init__(env)
        providers = [potentials] if isinstance(potentials, PotentialProvider) else list(potentials)
        if not providers:
            raise ValueError("give at least one potential provider")
        for provider in providers:
            if not isinstance(provider, PotentialProvider):
                raise TypeError(
                    f"{provider!r} is not a potential provider (needs name, bounds, reset(), "
                    "potential())"
                )
        names = [p.name for p in providers]
        if len(set(names)) != len(names):
            raise ValueError(f"potential names must be distinct, got {names}")
        weights = dict(weights or {})
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"weights for unknown potentials {sorted(unknown)}; have {names}")
        self.providers = providers
        self.config = config
        self.weights = {name: float(weights.get(name, 1.0)) for name in names}
        self._phi: dict[str, float] | None = None

    def _read(self, provider: PotentialProvider, value: Any, where: str) -> float:
        return check_potential(value, provider.name, provider.bounds, where)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        self._phi = {
            p.name: self._read(p, p.reset(observation, info), " at reset") for p in self.providers
        }
        info = dict(info)
        for name, phi in self._phi.items():
            info[f"potential/{name}"] = phi
        return observation, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._phi is None:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        observation, reward, terminated, truncated, info = self.env.step(action)
        config = self.config
        task = float(reward)
        info = dict(info)
        total = config.task_weight * task
        info.setdefault("reward/task", task)
        phi_next = {}
        for provider in self.providers:
            name = provider.name
            phi_next[name] = self._read(provider, provider.potential(observation, info), "")
            term = self.weights[name] * shaping_reward(
                self._phi[name], phi_next[name], config.gamma, bool(terminated), config.mode
            )
            info[f"reward/shaping_{name}"] = term
            info[f"potential/{name}"] = phi_next[name]
            total += term
        if config.success_bonus > 0:
            first = self.providers[0].name
            gold = config.success_bonus if phi_next[first] >= config.success_threshold else 0.0
            info["reward/gold"] = gold
            total += gold
        if config.time_penalty > 0:
            info["reward/time"] = -config.time_penalty
            total -= config.time_penalty
        info["reward/total"] = total
        self._phi = None if (terminated or truncated) else phi_next
        return observation, total, terminated, truncated, info
