"""``IntrinsicBonus``: a Gymnasium wrapper that adds a weighted novelty bonus to the reward.

    ``r' = r + weight · b(s')``

with ``b`` an :class:`~robo_reward.intrinsic.base.IntrinsicReward` of the observation the step
led to. As in :class:`~robo_reward.shaping.wrapper.PotentialShaping`, every term is reported in
``info`` under flat keys:

``reward/intrinsic_<name>``  the weighted bonus ``weight · b(s')``,
``reward/task``              the wrapped env's reward (set only if an inner wrapper has not),
``reward/total``             what the learner gets from this wrapper,
``intrinsic/<name>/<stat>``  the model's losses and statistics on the steps it was updated.

How the model is driven (``reward_fn.learned``):

- counts are updated with each new observation *before* it is scored, so ``n(s)`` includes
  the current visit and a first visit earns the full ``β``;
- learned bonuses (RND, RDD) score the step with the current predictor, then every
  ``update_every`` steps train on the last ``buffer_size`` observations (a sliding window, so
  a state is trained on about ``buffer_size / update_every`` times, as RND trains on each
  rollout for several epochs).

Novelty is lifelong by default: the model carries over episodes, as in RND. ``episodic=True``
resets it at every ``reset`` (an episodic bonus, as NGU's episodic memory); that also makes
the wrapped env deterministic under a seed, which ``check_env`` requires. The reset
observation counts as a visit / enters the buffer.
"""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from robo_reward.intrinsic.base import IntrinsicReward, as_batch

__all__ = ["IntrinsicBonus"]


class IntrinsicBonus(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``weight × bonus`` to the reward (see the module docstring).

    Args:
        env: the env; its observations must hold the keys the reward's features use.
        reward_fn: the novelty bonus (:class:`~robo_reward.intrinsic.counts.VisitCounts`,
            :class:`~robo_reward.intrinsic.rnd.RandomNetworkDistillation`, ...).
        weight: the bonus's weight in the reward.
        update_every: steps between updates of a learned model.
        buffer_size: recent observations a learned model trains on.
        episodic: reset the model at every env ``reset``.
    """

    def __init__(
        self,
        env: gym.Env,
        reward_fn: IntrinsicReward,
        weight: float = 1.0,
        update_every: int = 16,
        buffer_size: int = 256,
        episodic: bool = False,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            reward_fn=reward_fn,
            weight=weight,
            update_every=update_every,
            buffer_size=buffer_size,
            episodic=episodic,
        )
        super().__init__(env)
        if not isinstance(reward_fn, IntrinsicReward):
            raise TypeError(
                f"{reward_fn!r} is not an intrinsic reward (needs name, learned, reward(), "
                "update(), reset())"
            )
        if not np.isfinite(weight):
            raise ValueError(f"weight must be a finite number, got {weight!r}")
        for name, value in (("update_every", update_every), ("buffer_size", buffer_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.reward_fn = reward_fn
        self.weight = float(weight)
        self.update_every = update_every
        self.episodic = bool(episodic)
        self.buffer: deque[Any] = deque(maxlen=buffer_size)
        self.steps = 0
        self._ready = False

    def _observe(self, observation: Any, train: bool) -> dict[str, float]:
        """Count the observation, or add it to the training window (and train when due)."""
        if not self.reward_fn.learned:
            return self.reward_fn.update(as_batch(observation))
        self.buffer.append(observation)
        if train and self.steps % self.update_every == 0:
            return self.reward_fn.update(list(self.buffer))
        return {}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        if self.episodic:
            self.reward_fn.reset()
            self.buffer.clear()
            self.steps = 0
        self.reward_fn.reward(as_batch(observation))  # validates keys, shapes and values
        self._observe(observation, train=False)
        self._ready = True
        return observation, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self._ready:
            raise RuntimeError("call reset() before step()")
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        name = self.reward_fn.name
        self.steps += 1
        if self.reward_fn.learned:
            bonus = float(self.reward_fn.reward(as_batch(observation))[0])
            stats = self._observe(observation, train=True)
        else:
            stats = self._observe(observation, train=True)
            bonus = float(self.reward_fn.reward(as_batch(observation))[0])
        term = self.weight * bonus
        info.setdefault("reward/task", float(reward))
        info[f"reward/intrinsic_{name}"] = term
        total = float(reward) + term
        info["reward/total"] = total
        for key, value in stats.items():
            info[f"intrinsic/{name}/{key}"] = value
        if terminated or truncated:
            self._ready = False
        return observation, total, terminated, truncated, info
