"""A shaped reward as a plain function of batched transitions, for the ``imitation`` library.

``imitation`` (and code written against it) takes a ``RewardFn``:
``(obs, acts, next_obs, dones) -> rewards``, all numpy arrays with a leading batch dimension.
:class:`ShapedRewardFn` is one, built from a batched state potential ``Φ(states) -> (N,)`` and an
optional base reward of the same signature. Unlike the episodic providers of the gym wrapper,
``Φ`` here must be a function of the state alone (e.g. privileged progress from the state
vector, a perceptual reward on a frame, a topological distance).

``dones`` must mean *terminated*: a time-limit truncation is not an end of the task and keeps
``Φ(s')`` (see :mod:`robo_reward.shaping.pbrs`). ``imitation``'s own rollouts mark truncations
as dones too; pass ``terminated`` flags where you have them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robo_reward.shaping.pbrs import SHAPING_MODES, PotentialError, ShapingMode

BatchPotential = Callable[[np.ndarray], np.ndarray]
RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class ShapedRewardFn:
    """``r(s, a, s', done) = base(s, a, s', done) + γ (1 − done) Φ(s') − Φ(s)`` (``pbrs``), or
    ``(1 − done) Φ(s') − Φ(s)`` (``naive``)."""

    def __init__(
        self,
        potential: BatchPotential,
        gamma: float,
        base: RewardFn | None = None,
        mode: ShapingMode = "pbrs",
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        if mode not in SHAPING_MODES:
            raise ValueError(f"mode must be one of {SHAPING_MODES}, got {mode!r}")
        self.potential = potential
        self.gamma = gamma
        self.base = base
        self.mode = mode
        self.bounds = bounds

    def _phi(self, states: np.ndarray, which: str) -> np.ndarray:
        phi = np.asarray(self.potential(states), dtype=np.float64)
        if phi.shape != (len(states),):
            raise PotentialError(
                f"the potential of {which} must have shape ({len(states)},), got {phi.shape}"
            )
        bad = ~np.isfinite(phi) | (phi < self.bounds[0]) | (phi > self.bounds[1])
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise PotentialError(
                f"the potential of {which}[{index}] is {phi[index]:.6g}, not finite or outside "
                f"[{self.bounds[0]}, {self.bounds[1]}] ({int(bad.sum())} bad values; nothing is "
                "clipped)"
            )
        return phi

    def __call__(
        self, obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray
    ) -> np.ndarray:
        n = len(obs)
        if not (len(acts) == len(next_obs) == len(dones) == n):
            raise ValueError(
                f"batch sizes differ: obs {n}, acts {len(acts)}, next_obs {len(next_obs)}, "
                f"dones {len(dones)}"
            )
        alive = 1.0 - np.asarray(dones, dtype=np.float64)
        discount = self.gamma if self.mode == "pbrs" else 1.0
        shaping = discount * alive * self._phi(next_obs, "next_obs") - self._phi(obs, "obs")
        if self.base is None:
            return shaping
        base = np.asarray(self.base(obs, acts, next_obs, dones), dtype=np.float64)
        if base.shape != (n,):
            raise ValueError(f"the base reward must have shape ({n},), got {base.shape}")
        return base + shaping
