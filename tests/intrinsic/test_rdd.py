"""RDD's pseudo-count: a state fitted on ``n`` noisy targets keeps a bonus near ``σ² D / n``,
and the bonus stays bounded while a state is trained on again and again."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from robo_reward.intrinsic import (
    RandomDistributionDistillation,
    RandomNetworkDistillation,
    RDDConfig,
    RNDConfig,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPACE = spaces.Box(-1.0, 1.0, (8,), np.float32)
FEATURES = (("obs", None),)


def test_bonus_of_a_state_seen_n_times_is_about_sigma2_d_over_n() -> None:
    """Eight states per count n in {1, 4, 16} in one batch, fitted to convergence: the mean
    bonus per group should be ``σ² D / n`` (chi-square noise: about ±18 % for 8 x 64 dims)."""
    rng = np.random.default_rng(0)
    counts = (1, 4, 16)
    states = {n: rng.uniform(-1, 1, (8, 8)).astype(np.float32) for n in counts}
    rows = np.concatenate([np.repeat(states[n], n, axis=0) for n in counts])
    config = RDDConfig(features=FEATURES, epochs=200, minibatch_size=1024, learning_rate=3e-3)
    model = RandomDistributionDistillation(SPACE, config)
    model.update(rows)
    scaled = {n: model.bonus(states[n]).mean() / config.count_scale for n in counts}
    assert scaled[1] > scaled[4] > scaled[16]
    assert 0.6 < scaled[1] < 1.5, scaled
    assert 8.0 < scaled[1] / scaled[16] < 32.0, scaled
    np.testing.assert_allclose(model.pseudo_counts(states[4]).mean(), 4.0, rtol=0.5)
    # Without target noise the same fit drives every group's error far below σ² D / 16.
    rnd = RandomNetworkDistillation(
        SPACE, RNDConfig(features=FEATURES, epochs=200, minibatch_size=1024, learning_rate=3e-3)
    )
    rnd.update(rows)
    assert rnd.bonus(states[1]).mean() < 0.3 * scaled[16] * config.count_scale


def test_bonus_decays_with_repeated_training_and_stays_bounded() -> None:
    rng = np.random.default_rng(1)
    state = rng.uniform(-1, 1, (1, 8)).astype(np.float32)
    others = rng.uniform(-1, 1, (4096, 8)).astype(np.float32)
    config = RDDConfig(features=FEATURES, seed=2)
    model = RandomDistributionDistillation(SPACE, config)
    model.update(others[:256])
    start = model.bonus(state)[0]
    series = []
    for step in range(60):
        batch = np.concatenate([np.repeat(state, 8, axis=0), others[step * 64 : step * 64 + 56]])
        model.update(batch)
        series.append(model.bonus(state)[0])
    series = np.array(series)
    assert np.all(np.isfinite(series))
    assert series.max() <= start + config.count_scale  # discrepancy + pseudo-count (n >= 1)
    assert series[-10:].mean() < 0.2 * start
    assert series[-10:].mean() < series[:10].mean()
    assert series[-10:].mean() > 0.0
