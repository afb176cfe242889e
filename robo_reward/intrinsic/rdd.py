"""Random Distribution Distillation (Fang, Yang, Tao, Lyu, Li, Shen, Li, 2025,
"Exploration by Random Distribution Distillation", arXiv:2505.11044).

RND with a noisy target: for state ``s`` the predictor ``g`` regresses on a *sample*

    ``t ~ N(f(s), σ² I_D)``,  drawn afresh every time ``s`` is trained on,

around the fixed random network ``f``, and the bonus is ``||g(s) - f(s)||²``, the distance of
the predictor from the *mean* of the target distribution.

Why it is a pseudo-count. Suppose ``g(s)`` could be set freely per state and ``s`` has been
trained on ``n`` times, with targets ``t_1..t_n``. The least-squares fit is their mean,
``g(s) = f(s) + σ ε̄`` with ``ε̄ ~ N(0, I/n)``, so

    ``E ||g(s) - f(s)||² = σ² D / n``,

a count-based ``1/n`` bonus (``n̂(s) = σ² D / bonus`` is the implied pseudo-count), in the
network's own generalising feature space rather than on a grid. A real network adds a second,
*discrepancy* term, ``||E g(s) - f(s)||²``, which starts at the RND error of an unseen state
and shrinks as the predictor converges; the paper bounds the bonus by the sum of the two. The
noise term also gives the bonus a scale fixed by ``σ`` (the plain RND error has no such anchor:
it decays towards 0 at a rate set by the optimiser, with no count interpretation), and under a
constant step size it leaves a floor (an exponential moving average of the noisy targets keeps
a variance of about ``σ² D · α / (2 - α)`` for an effective step ``α``), so a well-known state
keeps a small, bounded bonus instead of one that vanishes.

Assumptions (the paper's exact architecture and constants were not at hand; simple defaults):

- ``σ = 0.05`` on every output dimension (``σ² D = 0.16`` for ``D = 64``), well below the
  initial discrepancy of an unseen state, so novelty still ranks above the count term;
- targets are drawn once per row per ``update`` call and kept for that call's epochs (within a
  call ``g`` fits the mean of that call's draws: a state present ``n`` times in the batch gets
  the ``σ² D / n`` term); a new call draws new targets;
- networks, observation whitening, optimiser and reward normalisation are RND's
  (:mod:`robo_reward.intrinsic.rnd`); the bonus is the squared norm summed over ``D`` outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from robo_reward.intrinsic.rnd import RandomNetworkDistillation, RNDConfig

__all__ = ["RDDConfig", "RandomDistributionDistillation"]


@dataclass(frozen=True)
class RDDConfig(RNDConfig):
    """RND's hyper-parameters plus the target noise."""

    sigma: float = 0.05
    """Standard deviation of the target sample around ``f(s)``, per output dimension."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be > 0, got {self.sigma!r}")

    @property
    def count_scale(self) -> float:
        """``σ² D``: the expected bonus of a state fitted on one sample (``n = 1``)."""
        return self.sigma**2 * self.output_dim


class RandomDistributionDistillation(RandomNetworkDistillation):
    """RDD's bonus (see the module docstring); the API is RND's."""

    config: RDDConfig

    def __init__(
        self,
        observation_space: gym.Space,
        config: RDDConfig | None = None,
        name: str = "rdd",
    ) -> None:
        super().__init__(observation_space, config or RDDConfig(), name)

    def _targets(self, target_out: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(target_out.shape, generator=self.generator, device=target_out.device)
        return target_out + self.config.sigma * noise

    def pseudo_counts(self, observations: Any) -> np.ndarray:
        """``n̂(s) = σ² D / bonus``: the visit count the bonus would correspond to."""
        return self.config.count_scale / np.maximum(self.bonus(observations), 1e-12)
