"""Potential providers: the GRM tracker as a potential."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robo_reward.data import Trajectory
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.shaping import GRMPotential

VIEWS = ("front", "side")
SIZE = 32


def tiny_grm() -> GRM:
    torch.manual_seed(0)
    config = GRMConfig(
        views=VIEWS,
        image_size=SIZE,
        embed_dim=32,
        channels=(8, 16, 32),
        fusion_layers=1,
        fusion_heads=2,
    )
    return GRM(config).eval()


def demo(frames: int = 6) -> Trajectory:
    rng = np.random.default_rng(0)
    return Trajectory(
        frames={v: rng.integers(0, 256, (frames, SIZE, SIZE, 3), dtype=np.uint8) for v in VIEWS},
        actions=np.zeros((frames - 1, 4), np.float32),
        states=np.zeros((frames, 3), np.float32),
        timestamps_ns=np.arange(frames, dtype=np.int64),
        task="push",
        success=True,
    )


def observation(seed: int, views=VIEWS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = {v: rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for v in views}
    obs["state"] = np.zeros(3, np.float32)  # non-camera keys are ignored
    return obs


@pytest.mark.parametrize("anchoring", ["fused", "incremental", "forward", "backward"])
def test_grm_potential_follows_the_tracker(anchoring: str) -> None:
    potential = GRMPotential.from_demo(tiny_grm(), demo(), anchoring=anchoring)
    assert potential.reset(observation(1), {}) == 0.0
    values = [potential.potential(observation(seed), {}) for seed in range(2, 6)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert 0.0 <= potential.last_completion <= 1.0


def test_grm_potential_masks_a_missing_camera_and_refuses_no_camera() -> None:
    potential = GRMPotential.from_demo(tiny_grm(), demo())
    potential.reset(observation(1), {})
    assert 0.0 <= potential.potential(observation(2, views=("front",)), {}) <= 1.0
    with pytest.raises(KeyError, match="none of the GRM's cameras"):
        potential.potential({"state": np.zeros(3)}, {})
    with pytest.raises(ValueError, match="anchoring"):
        GRMPotential.from_demo(tiny_grm(), demo(), anchoring="sideways")
