"""The shaping formula, in one place: training, the gym wrapper, the imitation-style reward
function and the ROS reward node all call :func:`shaping_reward`.

Potential-based reward shaping (Ng, Harada & Russell, 1999): adding

    ``F(s, s') = γ Φ(s') − Φ(s)``

to the task reward leaves the optimal policy unchanged, because along any trajectory the shaping
terms telescope to ``−Φ(s_0)`` plus a tail ``γ^T Φ(s_T)`` the learner's own bootstrap absorbs.
Two rules make that true in an episodic learner:

- **terminated**: the episode really ended, nothing is bootstrapped, so the terminal state's
  potential must be 0 (otherwise ``γ Φ(s_T)`` is a reward for *where* the episode ended, which
  changes the optimal policy);
- **truncated** (a time limit): the task did not end, the learner bootstraps ``V(s')``, so
  ``Φ(s')`` is kept — the bootstrap of the shaped value ``V(s') − Φ(s')`` cancels it.

``γ`` must be the learner's discount.

The "naive" difference ``Φ(s') − Φ(s)`` (no ``γ``) is kept as an ablation: under a discounted
learner its return is ``−Φ(s_0) + (1 − γ) Σ_t γ^{t−1} Φ(s_t) + …``, a per-step reward for *being*
in a high-potential state, so hovering in a good-enough state forever can beat finishing the task
(the "semantic trap" of Robo-Dopamine, Tan et al. 2025; the tests build one).

Robo-Dopamine's reward adds a success bonus ``r_gold`` when ``Φ(s') ≥ 0.95``; it is not part of
the potential difference and so *does* change the task (towards "reach high progress").
"""

from __future__ import annotations

import math
from typing import Literal

ShapingMode = Literal["pbrs", "naive"]
SHAPING_MODES: tuple[ShapingMode, ...] = ("pbrs", "naive")


class PotentialError(ValueError):
    """A potential provider returned a value that cannot be used (NaN, infinite, out of its
    declared range). Training stops: clipping it silently would hide a broken reward model."""


def check_potential(
    value: float, name: str, bounds: tuple[float, float] = (0.0, 1.0), where: str = ""
) -> float:
    """``value`` as a float if it is finite and inside ``bounds``; else :class:`PotentialError`."""
    try:
        phi = float(value)
    except (TypeError, ValueError) as exc:
        raise PotentialError(f"potential {name!r}{where} is not a number: {value!r}") from exc
    if not math.isfinite(phi):
        raise PotentialError(f"potential {name!r}{where} is {phi}; a potential must be finite")
    low, high = bounds
    if not (low <= phi <= high):
        raise PotentialError(
            f"potential {name!r}{where} is {phi:.6g}, outside its declared range [{low}, {high}];"
            " fix the provider (nothing is clipped)"
        )
    return phi


def shaping_reward(
    phi: float,
    phi_next: float,
    gamma: float,
    terminated: bool,
    mode: ShapingMode = "pbrs",
) -> float:
    """The shaping term for one transition ``s -> s'``.

    ``pbrs``: ``γ Φ(s') − Φ(s)`` with ``Φ(s') = 0`` when the episode terminated (a truncated
    episode keeps ``Φ(s')``). ``naive``: ``Φ(s') − Φ(s)``, same terminal rule, no discount.
    """
    if mode not in SHAPING_MODES:
        raise ValueError(f"unknown shaping mode {mode!r}; choose one of {SHAPING_MODES}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    next_value = 0.0 if terminated else phi_next
    discount = gamma if mode == "pbrs" else 1.0
    return discount * next_value - phi
