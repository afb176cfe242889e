"""Network building blocks shared by the controllers: MLPs, a critic ensemble layer, and the
observation encoder that turns a (dict) observation into one feature vector.

The encoder follows Stable-Baselines3's ``CombinedExtractor``: each camera image gets its own
small CNN (Nature-DQN layout, Mnih et al. 2015), every other key is flattened, and the pieces are
concatenated in the order of ``keys``. That order is part of a saved policy's config, so a policy
sees its inputs in the same order on the robot as in training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn

__all__ = [
    "NatureCNN",
    "ObservationEncoder",
    "VectorizedLinear",
    "ensemble_mlp",
    "is_image_space",
    "mlp",
]

Observation = torch.Tensor | Mapping[str, torch.Tensor]
"""What the networks take: a tensor (Box spaces) or a dict of tensors, leading batch dim."""

MIN_IMAGE_SIDE = 36
"""Smallest image side the Nature CNN accepts (8x8/4 -> 4x4/2 -> 3x3/1 leaves 1x1)."""


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """``Linear -> ReLU`` per hidden size, then a linear output layer (no output activation).

    Layers sit at even indices (``0, 2, 4, ...``), which is what saved state-dict names use.
    """
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), nn.ReLU()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


class VectorizedLinear(nn.Module):
    """``ensemble_size`` independent linear layers evaluated as one batched matmul.

    Weights have shape ``(ensemble_size, in_features, out_features)``; input ``(E, B, in)`` (or
    ``(B, in)``, shared by every member) gives ``(E, B, out)``. Running SAC's twin critics this
    way costs one ``baddbmm`` per layer instead of two matmuls plus the Python around them
    (the trick of EDAC / CORL's ensembles). Initialised like ``nn.Linear``.
    """

    def __init__(self, in_features: int, out_features: int, ensemble_size: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.ensemble_size = ensemble_size
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.ensemble_size, -1, -1)
        if self.out_features == 1:
            # A batched matrix-vector product is slow in BLAS; multiply-and-sum is not.
            return (x * self.weight.transpose(1, 2)).sum(dim=-1, keepdim=True) + self.bias
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, ensemble_size={self.ensemble_size}"


def ensemble_mlp(
    in_dim: int, out_dim: int, hidden: Sequence[int], ensemble_size: int
) -> nn.Sequential:
    """:func:`mlp` with every layer a :class:`VectorizedLinear`: ``(B, in) -> (E, B, out)``."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [VectorizedLinear(last, width, ensemble_size), nn.ReLU()]
        last = width
    layers.append(VectorizedLinear(last, out_dim, ensemble_size))
    return nn.Sequential(*layers)


def is_image_space(space: gym.Space) -> bool:
    """A camera image: ``uint8`` Box of shape ``(H, W, 3)``, as our envs and ROS images are."""
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[-1] == 3
    )


class NatureCNN(nn.Module):
    """Conv 8x8/4 -> 4x4/2 -> 3x3/1 -> linear, on ``uint8 (B, H, W, 3)`` scaled to [0, 1]."""

    def __init__(self, height: int, width: int, features: int) -> None:
        super().__init__()
        if min(height, width) < MIN_IMAGE_SIDE:
            raise ValueError(
                f"images must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} for the CNN "
                f"encoder, got {height}x{width}"
            )
        self.convs = nn.Sequential(
            nn.Conv2d(3, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 3, height, width)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat, features), nn.ReLU())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        return self.linear(self.convs(x))


class ObservationEncoder(nn.Module):
    """Observation -> feature vector of size :attr:`out_dim`.

    Args:
        observation_space: a Box, or a Dict of Boxes.
        keys: the Dict keys to use, in this order (default: every key, in the space's order).
            Goal-conditioned tasks pass e.g. ``("state", "desired_goal")``: ``achieved_goal``
            is for HER's bookkeeping, not an input. Must be ``None`` for a Box space.
        cnn_features: output size of each image key's CNN.

    ``forward`` takes a tensor (Box) or a dict of tensors (Dict; extra keys are ignored), each
    with a leading batch dimension, and returns ``float32 (B, out_dim)``. Non-image inputs are
    cast to float32; a Box space with no image is parameter-free.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        keys: Sequence[str] | None = None,
        cnn_features: int = 256,
    ) -> None:
        super().__init__()
        self.keys: tuple[str, ...] | None
        if isinstance(observation_space, spaces.Dict):
            if isinstance(keys, str):
                raise ValueError(f"keys must be a sequence of key names, got the str {keys!r}")
            names = tuple(observation_space.spaces) if keys is None else tuple(keys)
            if not names:
                raise ValueError("keys must name at least one observation key")
            unknown = [k for k in names if k not in observation_space.spaces]
            if unknown:
                raise ValueError(
                    f"observation keys {unknown} are not in the observation space "
                    f"(it has {list(observation_space.spaces)})"
                )
            if len(set(names)) != len(names):
                raise ValueError(f"observation keys repeat: {list(names)}")
            self.keys = names
            subspaces = {k: observation_space.spaces[k] for k in names}
        elif isinstance(observation_space, spaces.Box):
            if keys is not None:
                raise ValueError("keys only apply to Dict observation spaces; pass keys=None")
            self.keys = None
            subspaces = {"obs": observation_space}
        else:
            raise ValueError(
                f"unsupported observation space {type(observation_space).__name__}: "
                "only a Box or a Dict of Boxes"
            )
        self.cnns = nn.ModuleDict()
        self.out_dim = 0
        for key, space in subspaces.items():
            if not isinstance(space, spaces.Box):
                raise ValueError(f"observation key {key!r}: only Box subspaces are supported")
            if is_image_space(space):
                self.cnns[key] = NatureCNN(space.shape[0], space.shape[1], cnn_features)
                self.out_dim += cnn_features
            else:
                self.out_dim += int(np.prod(space.shape))
        self._order = tuple(subspaces)

    def forward(self, observation: Observation) -> torch.Tensor:
        if self.keys is None:
            if not isinstance(observation, torch.Tensor):
                raise ValueError("this encoder takes a tensor (Box observation space)")
            parts = {"obs": observation}
        else:
            if not isinstance(observation, Mapping):
                raise ValueError(f"this encoder takes a dict of tensors with keys {self.keys}")
            parts = observation
        chunks = []
        for key in self._order:
            x = parts[key]
            if key in self.cnns:
                chunks.append(self.cnns[key](x))
            else:
                chunks.append(x.reshape(x.shape[0], -1).float())
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=1)
