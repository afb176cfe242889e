"""Grid visit counts: the exact ``β / √n`` bonus, the count table, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.intrinsic import IntrinsicReward, VisitCounts, as_batch


def _at(x: float, y: float) -> dict[str, np.ndarray]:
    return {"odometry": np.array([[x, y, 1.0, 0.0, 0.0, 0.0]], dtype=np.float32)}


def test_bonus_is_beta_over_sqrt_n_counting_the_current_visit() -> None:
    counts = VisitCounts(cell_size=0.5, beta=2.0)
    assert isinstance(counts, IntrinsicReward)
    here, there = _at(0.1, 0.2), _at(0.7, 0.2)
    for n in range(1, 31):
        counts.update(here)
        assert counts.reward(here)[0] == 2.0 / np.sqrt(n)
        assert counts.visits(here)[0] == n
    assert counts.reward(there)[0] == 2.0  # never counted: a first visit
    assert counts.counts == {(0, 0): 30}
    counts.update(there)
    assert counts.counts == {(0, 0): 30, (1, 0): 1}


def test_reward_reads_without_counting_and_batches_count_every_row() -> None:
    counts = VisitCounts(cell_size=1.0)
    batch = {"odometry": np.zeros((5, 6), dtype=np.float32)}
    batch["odometry"][:, 0] = [0.1, 0.2, 1.5, -0.5, 0.9]
    counts.reward(batch)
    assert counts.total == 0
    stats = counts.update(batch)
    assert stats == {"visited_cells": 3.0, "visits": 5.0}
    assert counts.counts == {(0, 0): 3, (1, 0): 1, (-1, 0): 1}
    np.testing.assert_array_equal(counts.reward(batch), 1 / np.sqrt([3, 3, 1, 1, 3]))
    counts.reset()
    assert counts.counts == {}


def test_bad_observations_fail_clearly() -> None:
    counts = VisitCounts()
    with pytest.raises(ValueError, match="'odometry' contains NaN"):
        counts.update(_at(np.nan, 0.0))
    with pytest.raises(ValueError, match="no key 'odometry'"):
        counts.update({"lidar": np.zeros((1, 36))})
    with pytest.raises(ValueError, match="as_batch"):
        counts.update({"odometry": np.zeros(6)})
    counts.update(as_batch({"odometry": np.zeros(6)}))
    for bad in ({"cell_size": 0.0}, {"cell_size": np.inf}, {"beta": -1.0}):
        with pytest.raises(ValueError):
            VisitCounts(**bad)
