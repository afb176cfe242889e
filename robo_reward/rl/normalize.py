"""Observation normalisation: running mean and variance, kept as module buffers.

Statistics live in ``register_buffer`` tensors, so they travel in a policy's state dict and the
ROS policy node normalises exactly as training did. Images are never normalised (the CNN scales
them by 1/255); every other key has its own :class:`RunningMeanStd`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import gymnasium as gym
import torch
from gymnasium import spaces
from torch import nn

from robo_reward.rl.networks import Observation, is_image_space

__all__ = ["ObservationNormalizer", "RunningMeanStd"]


class RunningMeanStd(nn.Module):
    """Mean and variance of a stream of batches (Chan et al.'s parallel update, 1979).

    ``count`` starts at a tiny epsilon rather than 0, as in Stable-Baselines3's ``VecNormalize``,
    so the first update needs no special case. Statistics are float64 to stay accurate over
    millions of samples; :meth:`normalize` returns float32.
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, shape: Sequence[int] = (), epsilon: float = 1e-4) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(tuple(shape), dtype=torch.float64))
        self.register_buffer("var", torch.ones(tuple(shape), dtype=torch.float64))
        self.register_buffer("count", torch.tensor(epsilon, dtype=torch.float64))

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        """Fold a batch ``(B, *shape)`` into the statistics."""
        if batch.shape[1:] != self.mean.shape:
            raise ValueError(
                f"batch of shape {tuple(batch.shape)} does not match statistics of shape "
                f"{tuple(self.mean.shape)} (expected (B, *shape))"
            )
        batch = batch.to(torch.float64)
        batch_count = batch.shape[0]
        if batch_count == 0:
            return
        batch_mean = batch.mean(dim=0)
        batch_var = batch.var(dim=0, unbiased=False)
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * (batch_count / total)
        m2 = (
            self.var * self.count
            + batch_var * batch_count
            + delta.square() * (self.count * batch_count / total)
        )
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor, clip: float = 10.0, eps: float = 1e-8) -> torch.Tensor:
        """``(x - mean) / sqrt(var + eps)``, clipped to ``[-clip, clip]``, as float32."""
        mean = self.mean.to(torch.float32)
        std = torch.sqrt(self.var + eps).to(torch.float32)
        return ((x.to(torch.float32) - mean) / std).clamp_(-clip, clip)


class ObservationNormalizer(nn.Module):
    """One :class:`RunningMeanStd` per non-image key of ``observation_space``.

    ``keys`` limits it to the keys a policy uses (default: all). Calling it returns an
    observation of the same structure with those keys normalised; other keys (images, unused
    keys) pass through unchanged. For a Box space the statistics are stored under ``"obs"``.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        keys: Sequence[str] | None = None,
        clip: float = 10.0,
    ) -> None:
        super().__init__()
        self.clip = float(clip)
        self.is_dict = isinstance(observation_space, spaces.Dict)
        if self.is_dict:
            names = tuple(observation_space.spaces) if keys is None else tuple(keys)
            subspaces = {k: observation_space.spaces[k] for k in names}
        elif isinstance(observation_space, spaces.Box):
            subspaces = {"obs": observation_space}
        else:
            raise ValueError(
                f"unsupported observation space {type(observation_space).__name__}: "
                "only a Box or a Dict of Boxes"
            )
        self.stats = nn.ModuleDict(
            {
                key: RunningMeanStd(space.shape)
                for key, space in subspaces.items()
                if not is_image_space(space)
            }
        )

    def update(self, observation: Observation) -> None:
        """Fold a batch of observations (leading batch dim) into the statistics."""
        for key, stats in self.stats.items():
            stats.update(self._get(observation, key))

    def forward(self, observation: Observation) -> Observation:
        if not self.is_dict:
            if "obs" not in self.stats:
                return observation
            return self.stats["obs"].normalize(observation, self.clip)
        out = dict(observation)
        for key, stats in self.stats.items():
            out[key] = stats.normalize(out[key], self.clip)
        return out

    def _get(self, observation: Observation, key: str) -> torch.Tensor:
        if not self.is_dict:
            return observation  # type: ignore[return-value]
        if not isinstance(observation, Mapping):
            raise ValueError("this normaliser takes a dict of tensors")
        return observation[key]
