"""The GRM network: a small CNN shared by every camera, and a transformer that fuses per-view
tokens into a hop and a completion logit.

Each camera view gives one token built from its four role embeddings (reference start,
reference end, BEFORE, AFTER, each with a learned role embedding) and their differences — the
comparisons a hop is made of (how far AFTER moved from BEFORE, how far each is from the goal).
The transformer fuses the view tokens under a view mask, so a missing camera removes a token
rather than breaking the estimate.

Image embeddings are computed once per image (:meth:`GRM.encode`) and the fusion head works on
embeddings (:meth:`GRM.head`), so a progress tracker pays one encoder pass per new camera image
and three small head passes per step (one per anchoring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from robo_reward.grm.hop import expected_hop

ROLES = ("ref_start", "ref_end", "before", "after")


@dataclass(frozen=True)
class GRMConfig:
    """Architecture of the GRM (stored next to every checkpoint)."""

    views: tuple[str, ...] = ("front", "side", "wrist")
    """Camera names, in the order of the view embeddings."""
    image_size: int = 96
    """Square input images (uint8 RGB) of this size."""
    embed_dim: int = 128
    """Width of image embeddings and fusion tokens."""
    channels: tuple[int, int, int] = (32, 64, 128)
    """Channels of the three conv stages (stride 4, 2, 2)."""
    fusion_layers: int = 2
    """Transformer layers over the view/role tokens."""
    fusion_heads: int = 4
    """Attention heads per layer."""
    num_bins: int = 25
    """Hop classes, uniform on [-1, 1] (Robo-Dopamine uses 25)."""

    def __post_init__(self) -> None:
        if not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must be distinct and non-empty, got {self.views}")
        if self.image_size % 16 != 0 or self.image_size < 32:
            raise ValueError(
                f"image_size must be a multiple of 16 and >= 32, got {self.image_size}"
            )
        if self.embed_dim < 8 or self.fusion_heads < 1 or self.fusion_layers < 1:
            raise ValueError("embed_dim must be >= 8 and fusion_heads, fusion_layers >= 1")
        if self.embed_dim % self.fusion_heads != 0:
            raise ValueError("embed_dim must be divisible by fusion_heads")
        if any(c < 8 or c % 8 for c in self.channels):
            raise ValueError(
                f"channels must be positive multiples of 8 (GroupNorm), got {self.channels}"
            )
        if self.num_bins < 3 or self.num_bins % 2 == 0:
            raise ValueError(f"num_bins must be odd and >= 3, got {self.num_bins}")


def conv_trunk(channels: tuple[int, int, int]) -> nn.Sequential:
    """Three conv stages of stride 4, 2, 2: ``(N, 3, S, S)`` -> ``(N, c3, S/16, S/16)``. Shared by
    the GRM's and the TCN's image encoders (channels must be multiples of 8 for GroupNorm)."""
    c1, c2, c3 = channels
    return nn.Sequential(
        nn.Conv2d(3, c1, kernel_size=4, stride=4),
        nn.GELU(),
        nn.Conv2d(c1, c2, kernel_size=3, stride=2, padding=1),
        nn.GroupNorm(8, c2),
        nn.GELU(),
        nn.Conv2d(c2, c3, kernel_size=3, stride=2, padding=1),
        nn.GroupNorm(8, c3),
        nn.GELU(),
    )


class ImageEncoder(nn.Module):
    """uint8 ``(N, H, W, 3)`` images -> ``(N, D)`` embeddings. A stride-4 stem keeps 96x96 cheap
    on a CPU (about 7 MMAC per image); the flattened 6x6 map keeps *where* things are."""

    def __init__(self, config: GRMConfig) -> None:
        super().__init__()
        c3 = config.channels[2]
        self.conv = conv_trunk(config.channels)
        side = config.image_size // 16
        self.project = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c3 * side * side, config.embed_dim),
            nn.LayerNorm(config.embed_dim),
        )
        self.register_buffer(
            "mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # uint8 NHWC permuted is already channels-last, oneDNN's fast layout for CPU convolutions.
        x = images.permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
        # Scaling to [0, 1] and centring are folded into the unpadded stem convolution:
        # conv(x / 255 - m) = conv_{w/255}(x) + (b - sum(w * m)). Exact, and it skips two passes
        # over every pixel (about 1.5x encoder throughput on 2 cores; `robo-reward bench perf`).
        stem = self.conv[0]
        weight = stem.weight / 255.0
        bias = stem.bias - (stem.weight * self.mean).sum((1, 2, 3))
        x = F.conv2d(x, weight, bias, stride=stem.stride)
        return self.project(self.conv[1:](x))


class GRM(nn.Module):
    """General process reward model. See :mod:`robo_reward.grm` and DESIGN.md."""

    def __init__(self, config: GRMConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.encoder = ImageEncoder(config)
        self.view_embedding = nn.Parameter(torch.randn(len(config.views), dim) * 0.02)
        self.role_embedding = nn.Parameter(torch.randn(len(ROLES), dim) * 0.02)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pair_token = nn.Sequential(
            nn.Linear(6 * dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)
        )
        layer = nn.TransformerEncoderLayer(
            dim,
            config.fusion_heads,
            dim_feedforward=2 * dim,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
            activation="gelu",
        )
        self.fusion = nn.TransformerEncoder(layer, config.fusion_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.hop_head = nn.Linear(dim, config.num_bins)
        self.completion_head = nn.Linear(dim, 1)
        self.grip_head = nn.Linear(dim, 3)
        """Auxiliary: the grip position seen in an image (pretraining only; teaches the encoder
        to look at the robot)."""

    # ------------------------------------------------------------------ building blocks
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """``(..., H, W, 3)`` uint8 -> ``(..., D)`` embeddings."""
        leading = images.shape[:-3]
        flat = images.reshape(-1, *images.shape[-3:])
        return self.encoder(flat).reshape(*leading, self.config.embed_dim)

    def head(
        self, embeddings: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fuse ``(B, 4, V, D)`` role/view embeddings with a ``(B, 4, V)`` bool mask (True = the
        image exists) into hop logits ``(B, K)`` and completion logits ``(B,)``. A view counts
        when it has both a BEFORE and an AFTER image; a missing reference image zeroes its
        part of the token."""
        batch, _, views, dim = embeddings.shape
        roles = (embeddings + self.role_embedding[None, :, None, :]) * mask[..., None]
        start, goal, before, after = roles.unbind(1)
        features = torch.cat(
            [before, after, after - before, after - goal, before - goal, after - start], dim=-1
        )
        tokens = self.pair_token(features) + self.view_embedding[None]
        tokens = torch.cat([self.cls_token.expand(batch, 1, dim), tokens], 1)
        present = mask[:, 2] & mask[:, 3]
        keep = torch.cat([torch.ones(batch, 1, dtype=torch.bool, device=mask.device), present], 1)
        fused = self.norm(self.fusion(tokens, src_key_padding_mask=~keep)[:, 0])
        return self.hop_head(fused), self.completion_head(fused).squeeze(-1)

    def forward(
        self, images: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 4, V, H, W, 3)`` uint8 images (roles in :data:`ROLES` order) and a ``(B, 4, V)``
        mask -> hop logits and completion logits. Missing images may hold anything."""
        return self.head(self.encode(images), mask)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_hop(
        self, images: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode hop (expected value) and completion probability for a batch."""
        was_training = self.training
        self.eval()
        try:
            hop_logits, completion_logits = self(images, mask)
        finally:
            self.train(was_training)
        return expected_hop(hop_logits), torch.sigmoid(completion_logits)


def views_to_tensor(
    observation: Mapping[str, np.ndarray], config: GRMConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """A camera observation ``{view: uint8 (H, W, 3)}`` -> ``(V, H, W, 3)`` images and a ``(V,)``
    mask, in the config's view order. A missing view is masked, never an error; a present image
    of the wrong size, dtype or with non-finite values is."""
    size = config.image_size
    images = torch.zeros(len(config.views), size, size, 3, dtype=torch.uint8)
    mask = torch.zeros(len(config.views), dtype=torch.bool)
    unknown = set(observation) - set(config.views)
    if unknown:
        raise ValueError(
            f"unknown view(s) {sorted(unknown)}; this model knows {list(config.views)}"
        )
    for index, view in enumerate(config.views):
        image = observation.get(view)
        if image is None:
            continue
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise ValueError(f"view {view!r}: images must be uint8 RGB, got dtype {array.dtype}")
        if array.shape != (size, size, 3):
            raise ValueError(f"view {view!r}: expected shape {(size, size, 3)}, got {array.shape}")
        images[index] = torch.tensor(array)
        mask[index] = True
    if not mask.any():
        raise ValueError(f"no camera image at all; expected some of {list(config.views)}")
    return images, mask


def check_views(views: Sequence[str], config: GRMConfig) -> None:
    unknown = [v for v in views if v not in config.views]
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; this model knows {list(config.views)}")
