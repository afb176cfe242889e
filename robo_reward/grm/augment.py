"""Image augmentation for GRM training: small shifts and colour jitter, from given parameters
(drawn by the pair sampler, so every data-parallel rank agrees on them)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAD = 4


def augment_images(images: torch.Tensor, shift: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 images, ``(N, 2)`` integer shifts in [-4, 4] and ``(N, 5)`` colour
    parameters (brightness offset, contrast, three channel gains) -> augmented uint8 images."""
    if images.shape[0] == 0:
        return images
    n, height, width, _ = images.shape
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    if bool(shift.any()):
        padded = F.pad(x, (PAD, PAD, PAD, PAD), mode="replicate")
        rows = torch.arange(height)[None, :] + PAD + shift[:, 0:1]
        cols = torch.arange(width)[None, :] + PAD + shift[:, 1:2]
        batch = torch.arange(n)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(
            0, 3, 1, 2
        )
    brightness, contrast, gains = colour[:, 0], colour[:, 1], colour[:, 2:]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast[:, None, None, None] + mean + brightness[:, None, None, None]
    x = x * gains[:, :, None, None]
    return x.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
