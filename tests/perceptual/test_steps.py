"""Step discovery: the dynamic program is exact, and its inputs are checked."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from robo_reward.perceptual.steps import (
    discover_steps,
    jaccard_overlap,
    merge_keyframes,
    motion_features,
    random_ordered_steps,
    segment_cost_table,
    step_labels,
    step_segments,
)


def brute_force(features: np.ndarray, steps: int, min_length: int, objective: str) -> float:
    cost = segment_cost_table(features, objective)
    frames = len(features)
    best = np.inf
    for cuts in itertools.combinations(range(1, frames), steps - 1):
        bounds = (0, *cuts, frames)
        if min(b - a for a, b in zip(bounds, bounds[1:], strict=False)) < min_length:
            continue
        best = min(best, sum(cost[a, b] for a, b in zip(bounds, bounds[1:], strict=False)))
    return best


def split_cost(features: np.ndarray, keys: tuple[int, ...], objective: str) -> float:
    cost = segment_cost_table(features, objective)
    bounds = (*keys[:-1], len(features))
    return float(sum(cost[a, b] for a, b in zip(bounds, bounds[1:], strict=False)))


@pytest.mark.parametrize("objective", ["sse", "variance"])
@pytest.mark.parametrize("seed", range(6))
def test_dynamic_program_finds_the_brute_force_optimum(objective: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(14, 3)).cumsum(axis=0)
    steps, min_length = 2 + seed % 3, 2 + seed % 2
    keys = discover_steps(features, steps, min_length, objective)
    assert split_cost(features, keys, objective) == pytest.approx(
        brute_force(features, steps, min_length, objective), rel=1e-9, abs=1e-9
    )
    lengths = np.diff([*keys[:-1], len(features)])
    assert len(lengths) == steps and lengths.min() >= min_length


def test_cost_table_matches_the_definition() -> None:
    x = np.random.default_rng(0).normal(size=(9, 4))
    sse = segment_cost_table(x, "sse")
    variance = segment_cost_table(x, "variance")
    for a, b in [(0, 9), (2, 5), (4, 5)]:
        segment = x[a:b]
        expected = ((segment - segment.mean(0)) ** 2).sum()
        assert sse[a, b] == pytest.approx(expected)
        assert variance[a, b] == pytest.approx(expected / (b - a))
    assert np.isinf(sse[5, 5]) and np.isinf(sse[6, 2])


def test_piecewise_constant_signal_is_cut_at_its_jumps() -> None:
    rng = np.random.default_rng(1)
    levels = np.repeat(np.array([[0.0, 0.0], [3.0, -1.0], [1.0, 4.0]]), [7, 12, 9], axis=0)
    features = levels + 0.1 * rng.normal(size=levels.shape)
    assert discover_steps(features, 3, 2) == (0, 7, 19, 27)


def test_motion_features_cut_where_the_motion_changes() -> None:
    # Position moves right for 10 frames, then up for 10: constant appearance drift, a clear
    # change of motion at frame 10.
    t = np.arange(20, dtype=float)
    path = np.stack([np.minimum(t, 10.0), np.maximum(t - 10.0, 0.0)], axis=1)
    keys = discover_steps(motion_features(path, smoothing=1), 2, 2)
    assert abs(keys[1] - 10) <= 1


def test_segments_and_labels_cover_every_frame_once() -> None:
    segments = step_segments((0, 3, 8, 9), 12)
    assert [s.tolist() for s in segments] == [[0, 1, 2], [3, 4, 5, 6, 7], [8, 9, 10, 11]]
    assert step_labels((0, 3, 8, 9), 12).tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2]


def test_jaccard_overlap() -> None:
    assert jaccard_overlap((0, 5, 9), (0, 5, 9), 10) == 1.0
    # steps {0..4},{5..9} vs {0..2},{3..9}: 3/5 and 5/7
    assert jaccard_overlap((0, 5, 9), (0, 3, 9), 10) == pytest.approx((3 / 5 + 5 / 7) / 2)
    with pytest.raises(ValueError, match="steps"):
        jaccard_overlap((0, 5, 9), (0, 2, 5, 9), 10)


def test_random_ordered_steps_respect_the_minimum_and_vary() -> None:
    rng = np.random.default_rng(0)
    draws = [random_ordered_steps(20, 3, 4, rng) for _ in range(300)]
    for keys in draws:
        lengths = np.diff([*keys[:-1], 20])
        assert keys[0] == 0 and keys[-1] == 19 and lengths.min() >= 4 and lengths.sum() == 20
    assert len(set(draws)) > 10
    # uniform over compositions: the first step's mean length is min + slack / steps
    assert np.mean([k[1] for k in draws]) == pytest.approx(4 + 8 / 3, abs=0.4)


def test_merge_keyframes_keeps_the_last_subtask_alone() -> None:
    assert merge_keyframes((0, 10, 14, 29), 2) == (0, 14, 29)
    assert merge_keyframes((0, 10, 14, 29), 3) == (0, 10, 14, 29)
    with pytest.raises(ValueError):
        merge_keyframes((0, 10, 14, 29), 4)


@pytest.mark.parametrize(
    ("features", "steps", "min_length", "message"),
    [
        (np.zeros((5, 2)), 6, 2, "cannot split 5 frames into 6 steps"),
        (np.zeros((9, 2)), 3, 4, "at least 4 frames"),
        (np.zeros((9, 2)), 2, 1, "min_length must be >= 2"),
        (np.zeros((9, 2)), 0, 2, "num_steps must be a positive integer"),
        (np.zeros(9), 2, 2, r"must be \(frames, dims\)"),
        (np.zeros((0, 3)), 1, 2, "empty"),
        (np.full((9, 2), np.nan), 2, 2, "NaN"),
    ],
)
def test_bad_input_is_refused(features, steps, min_length, message) -> None:
    with pytest.raises(ValueError, match=message):
        discover_steps(features, steps, min_length)


def test_unknown_objective_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown objective"):
        segment_cost_table(np.zeros((4, 2)), "median")  # type: ignore[arg-type]
