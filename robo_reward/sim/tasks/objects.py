"""Shared helpers for tasks with free-moving blocks: placement and privileged block features."""

from __future__ import annotations

import numpy as np

BLOCK_HALF = 0.02
TABLE_X = (-0.28, 0.08)
TABLE_Y = (-0.2, 0.2)


def sample_table_xy(
    rng: np.random.Generator, avoid: list[np.ndarray], min_gap: float
) -> np.ndarray:
    """A uniform table position at least ``min_gap`` (m) from every point in ``avoid``."""
    for _ in range(1000):
        xy = np.array([rng.uniform(*TABLE_X), rng.uniform(*TABLE_Y)])
        if all(np.linalg.norm(xy - other[:2]) >= min_gap for other in avoid):
            return xy
    raise RuntimeError("could not place an object on the table; the workspace is too crowded")


def block_features(position: np.ndarray, velocity: np.ndarray, grip: np.ndarray) -> np.ndarray:
    """Position, position relative to the grip point, linear velocity: 9 numbers."""
    return np.concatenate([position, position - grip, velocity])


def carry_progress(
    grip: np.ndarray, block: np.ndarray, goal: np.ndarray, held: bool, initial_distance: float
) -> float:
    """Staged privileged progress for carrying a block: 0.2 reaching it, 0.2 holding it, 0.6 for
    the fraction of the initial block-to-goal distance covered while holding it."""
    reach = 1.0 - min(1.0, float(np.linalg.norm(grip - block)) / 0.3)
    carried = max(0.0, 1.0 - float(np.linalg.norm(block - goal)) / initial_distance)
    return float(np.clip(0.2 * reach + (0.2 + 0.6 * carried) * held, 0.0, 1.0))
