"""Random Network Distillation (Burda, Edwards, Storkey, Klimov, 2018, arXiv:1810.12894).

A fixed, randomly initialised *target* network ``f`` embeds each observation; a *predictor*
``g`` is trained to reproduce ``f`` on the observations the agent has seen. The bonus is the
prediction error ``||g(s) - f(s)||²``: small where ``g`` has been trained (familiar states),
large elsewhere. As in the paper:

- observations are whitened by a running mean/std and clipped to ``[-5, 5]`` before both
  networks (without it a random target is nearly constant over the observation range);
- the predictor is one hidden layer deeper than the target;
- the reward is the bonus divided by a running std (here of the bonus, not of the intrinsic
  returns: see :class:`~robo_reward.intrinsic.base.BonusNormalizer`).

Vector observations use MLPs (:func:`robo_reward.rl.networks.mlp`); the paper's Atari
convolutional networks would replace them for images. PyTorch, CPU by default, seeded: two
instances with the same seed and the same updates give the same bonus, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from robo_reward.intrinsic.base import (
    NAV_FEATURES,
    BonusNormalizer,
    FeatureSpec,
    ObservationFeatures,
)
from robo_reward.rl.networks import mlp
from robo_reward.rl.normalize import RunningMeanStd

__all__ = ["RNDConfig", "RandomNetworkDistillation"]


@dataclass(frozen=True)
class RNDConfig:
    """Hyper-parameters of RND (and of RDD, which adds a target noise)."""

    features: FeatureSpec = NAV_FEATURES
    """Which observation parts are embedded (default: odometry x, y + lidar)."""
    output_dim: int = 64
    """Embedding size of target and predictor (the paper's 512 is for Atari frames)."""
    target_hidden: tuple[int, ...] = (128, 128)
    """Hidden layers of the fixed random target."""
    predictor_hidden: tuple[int, ...] = (128, 128, 128)
    """Hidden layers of the trained predictor: one deeper than the target, as in the paper."""
    learning_rate: float = 1e-3
    """Adam step size of the predictor (paper: 1e-4 for conv nets on Atari)."""
    epochs: int = 1
    """Passes over the batch given to ``update``."""
    minibatch_size: int = 256
    """Rows per gradient step inside ``update``."""
    obs_clip: float = 5.0
    """Whitened observations are clipped to ``[-obs_clip, obs_clip]`` (paper: 5)."""
    normalize_reward: bool = True
    """Divide ``reward`` by the running std of the bonus (``bonus`` stays raw)."""
    seed: int = 0
    """Seeds the networks' initialisation, minibatch order and (RDD) target noise."""
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("output_dim", "epochs", "minibatch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not (np.isfinite(self.obs_clip) and self.obs_clip > 0):
            raise ValueError(f"obs_clip must be > 0, got {self.obs_clip!r}")


class RandomNetworkDistillation:
    """RND's bonus over a Box or Dict observation space (see the module docstring).

    ``reward`` and ``bonus`` run without gradients and change nothing; ``update`` folds the
    batch into the observation statistics, records its (pre-training) bonus for the reward
    normalisation, then trains the predictor for ``epochs`` passes.
    """

    learned = True

    def __init__(
        self,
        observation_space: gym.Space,
        config: RNDConfig | None = None,
        name: str = "rnd",
    ) -> None:
        self.config = config or RNDConfig()
        self.name = name
        self.features = ObservationFeatures(self.config.features, observation_space)
        self.device = torch.device(self.config.device)
        self.reset()

    # ----------------------------------------------------------------- lifecycle
    def reset(self) -> None:
        config = self.config
        dim = self.features.dim
        assert dim is not None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.target = mlp(dim, config.output_dim, config.target_hidden).to(self.device)
            self.predictor = mlp(dim, config.output_dim, config.predictor_hidden).to(self.device)
        self.target.requires_grad_(False)
        self.target.eval()
        self.obs_stats = RunningMeanStd((dim,)).to(self.device)
        self.reward_stats = BonusNormalizer()
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=config.learning_rate)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self.updates = 0

    # ----------------------------------------------------------------- scoring
    def _inputs(self, observations: Any) -> torch.Tensor:
        x = torch.as_tensor(self.features(observations), device=self.device)
        return x

    def _whiten(self, x: torch.Tensor) -> torch.Tensor:
        return self.obs_stats.normalize(x, clip=self.config.obs_clip)

    @staticmethod
    def _squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``||prediction - target||²`` per row: the paper's bonus and the predictor's loss."""
        return (prediction - target).square().sum(dim=1)

    @torch.no_grad()
    def _bonus(self, x: torch.Tensor) -> torch.Tensor:
        z = self._whiten(x)
        return self._squared_error(self.predictor(z), self.target(z))

    def bonus(self, observations: Any) -> np.ndarray:
        """``float64 (B,)`` raw prediction error ``||g(s) - f(s)||²``."""
        return self._bonus(self._inputs(observations)).double().cpu().numpy()

    def reward(self, observations: Any) -> np.ndarray:
        bonus = self.bonus(observations)
        return self.reward_stats(bonus) if self.config.normalize_reward else bonus

    # ----------------------------------------------------------------- learning
    def _targets(self, target_out: torch.Tensor) -> torch.Tensor:
        """What the predictor regresses on: ``f(s)`` itself for RND."""
        return target_out

    def update(self, observations: Any) -> dict[str, float]:
        x = self._inputs(observations)
        self.obs_stats.update(x)
        before = self._bonus(x)
        self.reward_stats.update(before.double().cpu().numpy())
        with torch.no_grad():
            z = self._whiten(x)
            targets = self._targets(self.target(z))
        self.predictor.train()
        n = z.shape[0]
        # An env wrapper is often stepped inside a learner's no-grad rollout (our PPO's is).
        with torch.enable_grad():
            losses = self._fit(z, targets, n)
        self.predictor.eval()
        self.updates += 1
        return {
            "loss": float(np.mean(losses)),
            "bonus_mean": float(before.mean()),
            "bonus_std": self.reward_stats.std,
        }

    def _fit(self, z: torch.Tensor, targets: torch.Tensor, n: int) -> list[float]:
        losses = []
        for _ in range(self.config.epochs):
            order = torch.randperm(n, generator=self.generator, device=self.device)
            for start in range(0, n, self.config.minibatch_size):
                rows = order[start : start + self.config.minibatch_size]
                loss = self._squared_error(self.predictor(z[rows]), targets[rows]).mean()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
        return losses

    def modules(self) -> dict[str, nn.Module]:
        """The networks and statistics, for checkpoints (safetensors of their state dicts)."""
        return {"target": self.target, "predictor": self.predictor, "obs_stats": self.obs_stats}
