"""Visit counts on a grid: the count-based exploration bonus ``β / √n(s)``.

The classic bonus of model-based interval estimation (Strehl & Littman, 2008) and the baseline
that pseudo-counts (Bellemare et al., 2016) and RND are measured against. In the maze the state
is binned on a grid over the rover's position, ``cell_size`` metres per side (the maze's own
cell, 0.5 m, by default), so the bonus is exact and deterministic: a reference that needs no
training, against which the learned bonuses' decay can be read.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from robo_reward.intrinsic.base import XY_FEATURES, FeatureSpec, ObservationFeatures

__all__ = ["VisitCounts"]


class VisitCounts:
    """``β / √n(s)`` with ``n(s)`` the visits of ``s``'s grid cell, the current one included.

    Args:
        cell_size: side of a grid cell, in the features' units (m for positions).
        beta: the bonus of a first visit.
        features: what is binned (default: odometry x, y).
        name: the name in ``info`` (``reward/intrinsic_<name>``).

    ``update`` counts every row of a batch; ``reward`` reads the counts without changing them.
    A state never counted scores as a first visit (``n = 1``), i.e. ``β``, so relabelling a
    replay batch of already-counted states gives each its current ``β / √n``.
    """

    learned = False

    def __init__(
        self,
        cell_size: float = 0.5,
        beta: float = 1.0,
        features: FeatureSpec = XY_FEATURES,
        name: str = "counts",
    ) -> None:
        if not (np.isfinite(cell_size) and cell_size > 0):
            raise ValueError(f"cell_size must be a positive number, got {cell_size!r}")
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a number >= 0, got {beta!r}")
        self.cell_size = float(cell_size)
        self.beta = float(beta)
        self.features = ObservationFeatures(features)
        self.name = name
        self._counts: Counter[tuple[int, ...]] = Counter()

    def cells(self, observations: Any) -> list[tuple[int, ...]]:
        """The grid cell (integer indices, ``floor(x / cell_size)``) of each row."""
        index = np.floor(self.features(observations) / self.cell_size).astype(np.int64)
        return [tuple(row) for row in index.tolist()]

    def visits(self, observations: Any) -> np.ndarray:
        """``int64 (B,)``: how often each row's cell has been counted."""
        return np.array([self._counts[c] for c in self.cells(observations)], dtype=np.int64)

    def reward(self, observations: Any) -> np.ndarray:
        return self.beta / np.sqrt(np.maximum(self.visits(observations), 1).astype(np.float64))

    def update(self, observations: Any) -> dict[str, float]:
        self._counts.update(self.cells(observations))
        return {"visited_cells": float(len(self._counts)), "visits": float(self.total)}

    def reset(self) -> None:
        self._counts.clear()

    @property
    def counts(self) -> dict[tuple[int, ...], int]:
        """A copy of the count table: grid cell -> visits."""
        return dict(self._counts)

    @property
    def total(self) -> int:
        return sum(self._counts.values())
