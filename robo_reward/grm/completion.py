"""Robo-Dopamine's completion rule on a progress curve, in a module light enough for a robot's
reward node (no simulator, no torch): :mod:`robo_reward.grm.evaluate` re-exports it."""

from __future__ import annotations

import numpy as np

__all__ = ["completion_class"]


def completion_class(progress: np.ndarray) -> str:
    """Robo-Dopamine's rule: success if the final progress > 0.8 and the mean over the last third
    > 0.6; partial if that mean >= 0.4; otherwise failure."""
    tail = progress[-max(1, len(progress) // 3) :]
    if progress[-1] > 0.8 and tail.mean() > 0.6:
        return "success"
    return "partial" if tail.mean() >= 0.4 else "failure"
