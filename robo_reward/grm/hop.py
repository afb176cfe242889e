"""The hop: progress made between a BEFORE and an AFTER state, normalised by what was possible.

Robo-Dopamine's step discretisation. With progress ``p`` in [0, 1]:

- a gain is normalised by what remained:   ``H = (p_after - p_before) / (1 - p_before)``,
- a loss by what had been made:            ``H = (p_after - p_before) / p_before``,

so ``H`` is in [-1, 1] and the bounded recursion

    ``Φ_t = Φ_{t-1} + (1 - Φ_{t-1}) H``  if ``H >= 0``,   ``Φ_t = Φ_{t-1} (1 + H)`` otherwise

keeps ``Φ`` in [0, 1] and inverts the labels exactly. The model predicts ``H`` as a class over
``K`` uniform bin centres on [-1, 1] and reads it out as the expected value.
"""

from __future__ import annotations

import numpy as np
import torch

EPS = 1e-6


def hop_label(p_before: np.ndarray | float, p_after: np.ndarray | float) -> np.ndarray:
    """The hop from ``p_before`` to ``p_after`` (arrays broadcast), in [-1, 1]."""
    before = np.asarray(p_before, dtype=np.float64)
    after = np.asarray(p_after, dtype=np.float64)
    if not (np.all(np.isfinite(before)) and np.all(np.isfinite(after))):
        raise ValueError("progress values must be finite")
    if np.any((before < -EPS) | (before > 1 + EPS) | (after < -EPS) | (after > 1 + EPS)):
        raise ValueError("progress values must lie in [0, 1]")
    gain = after - before
    remaining = np.maximum(1.0 - before, EPS)
    made = np.maximum(before, EPS)
    hop = np.where(gain >= 0, gain / remaining, gain / made)
    return np.clip(hop, -1.0, 1.0).astype(np.float32)


def apply_hop(phi: np.ndarray | float, hop: np.ndarray | float) -> np.ndarray:
    """Progress after a hop (the bounded recursion); stays in [0, 1]."""
    phi = np.asarray(phi, dtype=np.float64)
    hop = np.clip(np.asarray(hop, dtype=np.float64), -1.0, 1.0)
    after = np.where(hop >= 0, phi + (1.0 - phi) * hop, phi * (1.0 + hop))
    return np.clip(after, 0.0, 1.0)


def bin_centers(num_bins: int) -> torch.Tensor:
    """``K`` uniform bin centres on [-1, 1], the first at -1 and the last at 1."""
    if num_bins < 3 or num_bins % 2 == 0:
        raise ValueError(
            f"the number of hop bins must be odd and >= 3 (0 is a bin), got {num_bins}"
        )
    centers = torch.linspace(-1.0, 1.0, num_bins)
    centers[num_bins // 2] = 0.0  # exactly: a zero hop must read out as no change
    return centers


def two_hot(hop: torch.Tensor, num_bins: int) -> torch.Tensor:
    """Soft class targets: each hop splits its mass between its two nearest bins, so the
    expected value of the target equals the hop exactly."""
    position = (hop.clamp(-1.0, 1.0) + 1.0) * (num_bins - 1) / 2.0
    lower = position.floor().clamp(max=num_bins - 2)
    upper_weight = position - lower
    target = torch.zeros(*hop.shape, num_bins, dtype=torch.float32, device=hop.device)
    target.scatter_(-1, lower.long().unsqueeze(-1), (1.0 - upper_weight).unsqueeze(-1))
    target.scatter_add_(-1, (lower.long() + 1).unsqueeze(-1), upper_weight.unsqueeze(-1))
    return target


def expected_hop(logits: torch.Tensor) -> torch.Tensor:
    """The hop read out of bin logits: the expected bin centre."""
    centers = bin_centers(logits.shape[-1]).to(logits.device, logits.dtype)
    return torch.softmax(logits, dim=-1) @ centers
