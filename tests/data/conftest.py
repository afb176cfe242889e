"""Synthetic trajectories with tiny images, shared by the data tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from robo_reward.data import Trajectory


def build_trajectory(
    num_steps: int = 12,
    views: dict[str, tuple[int, int]] | None = None,
    seed: int = 0,
    full: bool = False,
    **overrides: Any,
) -> Trajectory:
    """A valid trajectory; ``full=True`` fills every optional field; overrides replace fields."""
    rng = np.random.default_rng(seed)
    views = views or {"front": (16, 16)}
    n = num_steps + 1
    kwargs: dict[str, Any] = {
        "frames": {
            v: rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8) for v, (h, w) in views.items()
        },
        "actions": rng.standard_normal((num_steps, 4)).astype(np.float32),
        "states": rng.standard_normal((n, 7)).astype(np.float32),
        "timestamps_ns": (np.arange(n, dtype=np.int64) * 50_000_000 + 1_700_000_000_000_000_000),
        "task": "push",
        "seed": seed,
    }
    if full:
        third = max(1, num_steps // 3)
        first_view = next(iter(views))
        valid = np.ones(n, dtype=bool)
        valid[min(2, num_steps)] = False
        kwargs |= {
            "task_text": "push the block to the target",
            "success": True,
            "variant": "perturbed",
            "depth": {first_view: rng.uniform(0.2, 2.0, (n, *views[first_view])).astype("f4")},
            "view_valid": {first_view: valid},
            "keyframes": (0, third, 2 * third, num_steps),
            "subtask_labels": ("approach", "grasp", "lift"),
            "progress": np.linspace(0, 1, n, dtype=np.float32),
            "achieved_goals": rng.standard_normal((n, 3)).astype(np.float32),
            "desired_goals": rng.standard_normal((n, 3)).astype(np.float32),
            "rewards": rng.standard_normal(num_steps).astype(np.float32),
            "metadata": {"scene": {"block_rgb": [0.1, 0.5, 0.9], "friction": 0.8}, "n": 3},
        }
    kwargs |= overrides
    return Trajectory(**kwargs)


@pytest.fixture
def make_traj() -> Callable[..., Trajectory]:
    """Factory fixture: ``make_traj(num_steps=..., views={...}, full=True, task=...)``."""
    return build_trajectory
