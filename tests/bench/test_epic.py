"""EPIC on random tabular MDPs: the exact version's pseudometric properties, and the sample-based
estimator against it."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.bench.epic import (
    Coverage,
    Transitions,
    batch_concat,
    batch_index,
    batch_len,
    canonicalize,
    epic_distance,
    epic_matrix,
    pearson_distance,
    tabular_canonicalize,
    tabular_epic_distance,
)

S, A = 7, 3
GAMMA = 0.9


def random_mdp(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "reward": rng.normal(size=(S, A, S)),
        "state_dist": rng.dirichlet(np.ones(S)),
        "action_dist": rng.dirichlet(np.ones(A)),
        "transition_dist": rng.dirichlet(np.ones(S * A * S)).reshape(S, A, S),
        "potential": rng.normal(size=S) * 3.0,
    }


def shaped(reward: np.ndarray, potential: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    return reward + gamma * potential[None, None, :] - potential[:, None, None]


DISTRIBUTIONS = ("state_dist", "action_dist", "transition_dist")


def exact(ra: np.ndarray, rb: np.ndarray, mdp: dict[str, np.ndarray]) -> float:
    return tabular_epic_distance(ra, rb, GAMMA, *(mdp[k] for k in DISTRIBUTIONS))


def table_reward(table: np.ndarray):
    """A batch reward over integer states and actions."""
    return lambda s, a, s2: table[s, a, s2]


def sample(mdp: dict[str, np.ndarray], n: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    flat = rng.choice(S * A * S, size=n, p=mdp["transition_dist"].ravel())
    s, a, s2 = np.unravel_index(flat, (S, A, S))
    coverage = Coverage(
        rng.choice(S, size=m, p=mdp["state_dist"]), rng.choice(A, size=m, p=mdp["action_dist"])
    )
    return Transitions(s, a, s2), coverage


def full_coverage() -> Coverage:
    """Every (state, action) pair once: the exact expectation under uniform D_S and D_A."""
    return Coverage(np.repeat(np.arange(S), A), np.tile(np.arange(A), S))


# --------------------------------------------------------------------------- exact version


@pytest.mark.parametrize("seed", range(5))
def test_exact_shaping_is_invisible(seed: int) -> None:
    mdp = random_mdp(seed)
    r = mdp["reward"]
    assert exact(r, shaped(r, mdp["potential"]), mdp) < 1e-9
    canonical = tabular_canonicalize(r, GAMMA, mdp["state_dist"], mdp["action_dist"])
    canonical_shaped = tabular_canonicalize(
        shaped(r, mdp["potential"]), GAMMA, mdp["state_dist"], mdp["action_dist"]
    )
    np.testing.assert_allclose(canonical, canonical_shaped, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_exact_scale_sign_symmetry(seed: int) -> None:
    mdp = random_mdp(seed)
    r = mdp["reward"]
    other = random_mdp(seed + 100)["reward"]
    assert exact(r, 7.5 * r, mdp) < 1e-7
    assert exact(r, 0.01 * shaped(r, mdp["potential"]), mdp) < 1e-7
    assert exact(r, -r, mdp) == pytest.approx(1.0, abs=1e-9)
    assert exact(r, other, mdp) == pytest.approx(exact(other, r, mdp), abs=1e-12)
    assert 0.0 < exact(r, other, mdp) < 1.0


@pytest.mark.parametrize("seed", range(10))
def test_exact_triangle_inequality(seed: int) -> None:
    mdp = random_mdp(seed)
    rng = np.random.default_rng(seed + 1000)
    ra, rb, rc = (rng.normal(size=(S, A, S)) for _ in range(3))
    rb = 0.5 * ra + rb  # correlated triples make the inequality closer to tight
    assert exact(ra, rc, mdp) <= exact(ra, rb, mdp) + exact(rb, rc, mdp) + 1e-12


def test_exact_refuses_constant_and_nan() -> None:
    mdp = random_mdp(0)
    with pytest.raises(ValueError, match="constant .or purely potential shaping"):
        exact(np.full((S, A, S), 2.0), mdp["reward"], mdp)
    pure_shaping = shaped(np.zeros((S, A, S)), mdp["potential"])
    with pytest.raises(ValueError, match="reward_b is constant"):
        exact(mdp["reward"], pure_shaping, mdp)
    bad = mdp["reward"].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="reward_a contains NaN"):
        exact(bad, mdp["reward"], mdp)
    with pytest.raises(ValueError, match="gamma"):
        tabular_epic_distance(mdp["reward"], mdp["reward"], 1.5, *(mdp[k] for k in DISTRIBUTIONS))


# --------------------------------------------------------------------------- sample-based


@pytest.mark.parametrize("seed", range(3))
def test_sample_shaping_is_invisible(seed: int) -> None:
    mdp = random_mdp(seed)
    r = mdp["reward"]
    transitions, coverage = sample(mdp, 500, 50, seed)
    for cov in (coverage, full_coverage()):
        result = epic_distance(
            table_reward(r), table_reward(shaped(r, mdp["potential"])), transitions, cov, GAMMA
        )
        assert result.distance < 1e-9
        assert result.pearson == pytest.approx(1.0, abs=1e-12)


def test_sample_with_full_coverage_equals_exact() -> None:
    """With every (s, a) as coverage and D the transitions' empirical distribution, the sample
    estimator is the exact formula under uniform D_S and D_A."""
    mdp = random_mdp(3)
    other = random_mdp(4)["reward"]
    transitions, _ = sample(mdp, 400, 1, 3)
    empirical = np.zeros((S, A, S))
    np.add.at(empirical, tuple(transitions), 1.0)
    uniform_s, uniform_a = np.full(S, 1 / S), np.full(A, 1 / A)
    expected = tabular_epic_distance(mdp["reward"], other, GAMMA, uniform_s, uniform_a, empirical)
    got = epic_distance(
        table_reward(mdp["reward"]), table_reward(other), transitions, full_coverage(), GAMMA
    )
    assert got.distance == pytest.approx(expected, abs=1e-9)
    canonical = canonicalize(table_reward(mdp["reward"]), *transitions, *full_coverage(), GAMMA)
    table = tabular_canonicalize(mdp["reward"], GAMMA, uniform_s, uniform_a)
    np.testing.assert_allclose(canonical, table[tuple(transitions)], atol=1e-12)


def test_sample_converges_to_exact() -> None:
    mdp = random_mdp(7)
    other = 0.6 * mdp["reward"] + random_mdp(8)["reward"]
    expected = exact(mdp["reward"], other, mdp)
    assert 0.1 < expected < 0.9
    errors = []
    for n, m in ((30, 5), (20_000, 2_000)):
        transitions, coverage = sample(mdp, n, m, 11)
        result = epic_distance(
            table_reward(mdp["reward"]),
            table_reward(other),
            transitions,
            coverage,
            GAMMA,
            bootstrap=200,
        )
        errors.append(abs(result.distance - expected))
    assert errors[1] < 0.02
    assert result.ci_low <= expected + 0.02 and expected - 0.02 <= result.ci_high
    assert result.num_transitions == 20_000 and result.num_coverage == 2_000


def test_sample_sign_scale_and_symmetry() -> None:
    mdp = random_mdp(1)
    r, other = mdp["reward"], random_mdp(2)["reward"]
    transitions, coverage = sample(mdp, 300, 40, 1)

    def dist(x: np.ndarray, y: np.ndarray) -> float:
        return epic_distance(
            table_reward(x), table_reward(y), transitions, coverage, GAMMA, bootstrap=0
        ).distance

    assert dist(r, -r) == pytest.approx(1.0, abs=1e-9)
    assert dist(r, 4.0 * r) < 1e-6
    assert dist(r, other) == pytest.approx(dist(other, r), abs=1e-12)


def test_same_coverage_matters() -> None:
    """Canonicalising two equivalent rewards with *different* coverage samples makes them look
    different; with the same samples they are identical."""
    mdp = random_mdp(5)
    r, r_shaped = mdp["reward"], shaped(mdp["reward"], mdp["potential"])
    transitions, coverage_1 = sample(mdp, 400, 10, 1)
    _, coverage_2 = sample(mdp, 1, 10, 2)
    same = [canonicalize(table_reward(x), *transitions, *coverage_1, GAMMA) for x in (r, r_shaped)]
    np.testing.assert_allclose(same[0], same[1], atol=1e-9)
    other = canonicalize(table_reward(r_shaped), *transitions, *coverage_2, GAMMA)
    assert pearson_distance(same[0], other) > 0.05


def test_bootstrap_is_seeded() -> None:
    mdp = random_mdp(2)
    transitions, coverage = sample(mdp, 200, 20, 0)
    rewards = (table_reward(mdp["reward"]), table_reward(random_mdp(9)["reward"]))
    runs = [
        epic_distance(*rewards, transitions, coverage, GAMMA, bootstrap=100, seed=s)
        for s in (3, 3, 4)
    ]
    assert runs[0] == runs[1]
    assert runs[0].ci_low != runs[2].ci_low
    assert runs[0].ci_low <= runs[0].distance <= runs[0].ci_high


def test_dict_states_and_batching() -> None:
    """Dict-of-arrays states (an image-like view and an index) give the same answer as plain
    arrays, whatever the reward batch size."""
    mdp = random_mdp(6)
    r, other = mdp["reward"], random_mdp(10)["reward"]
    transitions, coverage = sample(mdp, 150, 12, 6)
    calls: list[int] = []

    def as_dict(states: np.ndarray) -> dict[str, np.ndarray]:
        image = np.broadcast_to(states[:, None, None, None], (len(states), 4, 4, 3))
        return {"x": states, "camera": {"front": image.astype(np.uint8)}}

    def dict_reward(table: np.ndarray):
        def reward(s, a, s2) -> np.ndarray:
            assert s["camera"]["front"].dtype == np.uint8
            calls.append(len(a))
            return table[s["x"], a, s2["x"]]

        return reward

    dict_transitions = Transitions(as_dict(transitions[0]), transitions[1], as_dict(transitions[2]))
    dict_coverage = Coverage(as_dict(coverage.states), coverage.actions)
    plain = epic_distance(table_reward(r), table_reward(other), transitions, coverage, GAMMA)
    wrapped = epic_distance(
        dict_reward(r), dict_reward(other), dict_transitions, dict_coverage, GAMMA, batch_size=7
    )
    assert wrapped.distance == pytest.approx(plain.distance, abs=1e-12)
    assert wrapped.ci_low == pytest.approx(plain.ci_low, abs=1e-12)
    assert max(calls) <= 7
    both = epic_matrix(
        {"r": dict_reward(r), "shaped": dict_reward(shaped(r, mdp["potential"]))},
        dict_transitions,
        dict_coverage,
        GAMMA,
    )
    assert both.distance("r", "shaped") < 1e-9
    assert batch_len(dict_coverage.states) == 12
    joined = batch_concat([batch_index(dict_coverage.states, slice(0, 5)), dict_coverage.states])
    assert batch_len(joined) == 17 and joined["camera"]["front"].shape == (17, 4, 4, 3)


def test_bad_input_is_refused() -> None:
    mdp = random_mdp(0)
    transitions, coverage = sample(mdp, 50, 5, 0)
    good = table_reward(mdp["reward"])

    def nan_reward(s, a, s2):
        out = mdp["reward"][s, a, s2].copy()
        out[0] = np.nan
        return out

    with pytest.raises(ValueError, match="reward 'learned' returned 1 NaN or infinite"):
        epic_distance(good, nan_reward, transitions, coverage, GAMMA, names=("true", "learned"))
    with pytest.raises(ValueError, match="reward 'flat' is constant .or purely potential"):
        epic_distance(
            good,
            lambda s, a, s2: np.full(len(s), 3.0),
            transitions,
            coverage,
            GAMMA,
            names=("true", "flat"),
        )
    pure_shaping = table_reward(shaped(np.zeros((S, A, S)), mdp["potential"]))
    with pytest.raises(ValueError, match="purely potential shaping"):
        epic_distance(good, pure_shaping, transitions, coverage, GAMMA)
    float32_shaping = shaped(np.zeros((S, A, S)), mdp["potential"]).astype(np.float32)
    with pytest.raises(ValueError, match="purely potential shaping"):  # float32 rounding residue
        epic_distance(good, table_reward(float32_shaping), transitions, coverage, GAMMA)
    with pytest.raises(ValueError, match="matching batch lengths"):
        epic_distance(
            good, good, (transitions[0], transitions[1][:-1], transitions[2]), coverage, GAMMA
        )
    with pytest.raises(ValueError, match="matching batch lengths"):
        epic_distance(good, good, transitions, (coverage[0], coverage[1][:3]), GAMMA)
    for gamma in (0.0, -0.5, 1.01, float("nan")):
        with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\]"):
            epic_distance(good, good, transitions, coverage, gamma)
    empty = np.zeros(0, dtype=int)
    with pytest.raises(ValueError, match="transitions are empty"):
        epic_distance(good, good, (empty, empty, empty), coverage, GAMMA)
    with pytest.raises(ValueError, match="coverage are empty"):
        epic_distance(good, good, transitions, (empty, empty), GAMMA)
    with pytest.raises(ValueError, match="shape"):
        epic_distance(good, lambda s, a, s2: np.zeros((len(s), 2)), transitions, coverage, GAMMA)
    with pytest.raises(ValueError, match="y is constant"):
        pearson_distance(np.arange(5.0), np.full(5, 2.0))


def test_pearson_distance_weights() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    counts = rng.integers(1, 4, size=50)
    weighted = pearson_distance(x, y, weights=counts.astype(float))
    repeated = pearson_distance(np.repeat(x, counts), np.repeat(y, counts))
    assert weighted == pytest.approx(repeated, abs=1e-12)
    assert pearson_distance(x, 2 * x + 1) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="weights"):
        pearson_distance(x, y, weights=-np.ones(50))
