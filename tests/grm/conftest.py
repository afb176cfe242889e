"""Shared fixtures of the GRM tests: synthetic multi-view trajectories with 32x32 images and a
tiny GRM, so every test runs in seconds on a CPU shared with other work."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from grm_synthetic import build_trajectory, tiny_config, training_episodes

from robo_reward.data import Trajectory
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.grm.pairs import Episode


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads, and on a shared CPU (a pretraining job
    next door) extra threads spin-wait: one thread makes these tests ~20x faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def grm_config() -> GRMConfig:
    return tiny_config()


@pytest.fixture
def tiny_grm(grm_config: GRMConfig) -> GRM:
    """A random-weight tiny GRM (seeded), in eval mode."""
    torch.manual_seed(0)
    return GRM(grm_config).eval()


@pytest.fixture
def make_trajectory() -> Callable[..., Trajectory]:
    """Factory fixture: ``make_trajectory(num_steps=..., views=..., keyframes=..., ...)``."""
    return build_trajectory


@pytest.fixture(scope="session")
def episodes() -> list[Episode]:
    """Episodes of :func:`training_trajectories` in the tiny config's view order."""
    return training_episodes()
