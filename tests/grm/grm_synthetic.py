"""Synthetic GRM training data: multi-view trajectories with 32x32 images and a tiny GRM config.

A plain module (not only fixtures) so that the data-parallel training script, which runs under
torchrun outside pytest, builds exactly the same episodes as the tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from robo_reward.data import Trajectory, piecewise_linear_progress
from robo_reward.grm.model import GRMConfig
from robo_reward.grm.pairs import Episode, episode_from_trajectory

VIEWS = ("front", "side", "wrist")
SIZE = 32


def tiny_config(**overrides: Any) -> GRMConfig:
    """The smallest GRM worth testing: 32x32 images, 32-wide embeddings, one fusion layer."""
    kwargs: dict[str, Any] = dict(
        image_size=SIZE, embed_dim=32, channels=(8, 16, 32), fusion_layers=1, fusion_heads=2
    )
    kwargs |= overrides
    return GRMConfig(**kwargs)


def _frame(progress: float, view: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """A noisy background with a bright square whose position follows progress (different per
    view), so frames of one episode differ in a way a model could learn."""
    image = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    side = size // 4
    travel = size - side
    row = int(round((0.2 + 0.3 * view) * (size - side)))
    col = int(round(progress * travel))
    colour = np.array([255, 64 * (view + 1) % 256, 40], dtype=np.uint8)
    image[row : row + side, col : col + side] = colour
    return image


def build_trajectory(
    num_steps: int = 12,
    views: Sequence[str] = VIEWS,
    size: int = SIZE,
    seed: int = 0,
    task: str = "push",
    success: bool = True,
    variant: str = "expert",
    keyframes: tuple[int, ...] | None | str = "auto",
    progress: np.ndarray | None = None,
    **overrides: Any,
) -> Trajectory:
    """A valid synthetic trajectory. ``keyframes="auto"`` gives three equal subtasks; the square
    in the images moves with ``progress`` when given, else with the keyframe (or linear)
    progress."""
    rng = np.random.default_rng(seed)
    n = num_steps + 1
    if keyframes == "auto":
        third = max(1, num_steps // 3)
        keyframes = (0, third, 2 * third, num_steps)
    if progress is not None:
        motion = np.asarray(progress, dtype=np.float64)
    else:
        motion = np.linspace(0.0, 1.0, n)
    frames = {
        v: np.stack([_frame(float(motion[t]), i, rng, size) for t in range(n)])
        for i, v in enumerate(views)
    }
    kwargs: dict[str, Any] = {
        "frames": frames,
        "actions": rng.standard_normal((num_steps, 4)).astype(np.float32),
        "states": (0.05 * rng.standard_normal((n, 7))).astype(np.float32),
        "timestamps_ns": np.arange(n, dtype=np.int64) * 50_000_000 + 1_000,
        "task": task,
        "success": success,
        "variant": variant,
        "keyframes": keyframes,
        "progress": progress,
        "seed": seed,
    }
    kwargs |= overrides
    return Trajectory(**kwargs)


def training_trajectories() -> list[Trajectory]:
    """Two tasks, each with a keyframed reference demo, plus a perturbed episode with true
    progress that goes down and up again and an unlabelled failure (skipped)."""
    n = 13
    perturbed = piecewise_linear_progress([(0, 0.0), (6, 0.6), (9, 0.3), (12, 0.7)], n)
    return [
        build_trajectory(seed=1, task="push"),
        build_trajectory(seed=2, task="push", keyframes=(0, 6, 12)),
        build_trajectory(
            seed=3,
            task="push",
            success=False,
            variant="perturbed",
            keyframes=None,
            progress=perturbed,
        ),
        build_trajectory(seed=4, task="reach", keyframes=(0, 4, 12)),
        build_trajectory(seed=5, task="reach", success=False, variant="failure", keyframes=None),
    ]


def training_episodes(config: GRMConfig | None = None) -> list[Episode]:
    config = config or tiny_config()
    episodes = [
        episode_from_trajectory(t, config.views, config.image_size) for t in training_trajectories()
    ]
    return [e for e in episodes if e is not None]
