"""EPIC: a distance between reward functions that ignores potential shaping.

Reference: Gleave, Dennis, Legg, Russell, Leike, "Quantifying Differences in Reward Functions"
(ICLR 2021). Two rewards that differ only by potential shaping (Ng et al. 1999) or by a positive
scale induce the same optimal policies, so a useful distance between rewards should call them
equal. EPIC does this in two steps:

1. **Canonicalise** each reward (paper, Definition 4.1), with ``S, S'`` drawn independently from
   a coverage state distribution ``D_S`` and ``A`` from a coverage action distribution ``D_A``::

       C(R)(s, a, s') = R(s, a, s') + E[γ R(s', A, S') − R(s, A, S') − γ R(S, A, S')]

   Any shaping term ``γΦ(s') − Φ(s)`` cancels. The expectations are estimated from ``M`` coverage
   samples ``(S_j, A_j)`` (the paper's sample-based estimator, Section 4 and Appendix A.1.1), and
   the sample estimate still removes shaping *exactly*, whatever the samples, provided ``S`` in the
   last term is drawn from the same coverage states as ``S'``.
2. **Compare** the canonical rewards on transitions ``(s, a, s') ~ D`` with the Pearson distance
   ``D_ρ(X, Y) = sqrt((1 − ρ(X, Y)) / 2)`` (paper, Definition 4.2), which ignores positive
   scale and constant offsets. EPIC is a pseudometric in [0, 1]: 0 for equivalent rewards, 1 for
   ``R`` vs ``−R``, symmetric, with the triangle inequality.

Consequences worth knowing before using it:

- **Use the same coverage samples for both rewards.** The shaping cancellation and the
  comparison both assume one ``D_S``, ``D_A``; canonicalising two rewards with different
  coverage samples adds independent estimation noise to each and can make equivalent rewards
  look different. :func:`epic_distance` and :func:`epic_matrix` take one coverage set for all.
- **A pure potential-shaping reward is zero after canonicalisation.** ``r = γΦ(s') − Φ(s)``
  canonicalises to 0 and its EPIC distance to anything is undefined (Pearson of a constant);
  :func:`epic_distance` refuses it with a message saying so. So to compare learned progress
  models (the GRM, perceptual rewards), compare *progress as a reward* ``r(s, a, s') = Φ(s')``
  (or a model's own transition reward, such as the GRM's hop ``H(s, s')``), never their PBRS
  form, which all look alike to EPIC by construction.
- The constant term ``γE[R(S, A, S')]`` shifts every canonical reward by the same amount and the
  Pearson distance ignores shifts, so the distance functions skip it (it costs ``M²`` reward
  evaluations); :func:`canonicalize` computes it by default.
- The bootstrap interval of :class:`EpicResult` resamples transitions with the canonical
  rewards held fixed: it covers the transition sample, not the coverage sample.

Batches: a reward is a batch callable ``reward(states, actions, next_states) -> (N,)`` whose
arguments are arrays with a leading batch axis or (possibly nested) dicts of such arrays, e.g.
camera observations ``{"front": uint8 (N, H, W, 3), ...}``. The helpers :func:`batch_len`,
:func:`batch_index` and :func:`batch_concat` work on such batches.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

Batch = np.ndarray | Mapping[str, "Batch"]
"""A batch of states or actions: an array with a leading batch axis, or a dict of batches."""
RewardFn = Callable[[Batch, Batch, Batch], np.ndarray]
"""``reward(states, actions, next_states) -> float (N,)``."""

ZERO_SCALE = 1e-9
"""A canonical reward whose spread is below this fraction of the reward's own magnitude (or 64
rounding units of the dtype the reward returns, for float32 rewards) is treated as constant:
floating-point residue of cancelled shaping."""


class Transitions(NamedTuple):
    """Samples ``(s, a, s') ~ D`` on which the canonical rewards are compared."""

    states: Batch
    actions: Batch
    next_states: Batch


class Coverage(NamedTuple):
    """Samples of the coverage distributions: ``states[j] ~ D_S`` and, drawn independently,
    ``actions[j] ~ D_A``. Pair ``j`` serves as ``(A, S')`` in the canonicalisation."""

    states: Batch
    actions: Batch


@dataclass(frozen=True)
class EpicResult:
    """EPIC distance between two rewards on one sample, with a bootstrap interval."""

    distance: float
    """``sqrt((1 − ρ) / 2)`` in [0, 1]."""
    pearson: float
    """Pearson correlation ρ of the two canonical rewards over the transitions."""
    num_transitions: int
    """Transitions the canonical rewards were compared on (N)."""
    num_coverage: int
    """Coverage samples the expectations were estimated from (M)."""
    ci_low: float
    """Lower end of the bootstrap confidence interval of the distance."""
    ci_high: float
    """Upper end of the bootstrap confidence interval of the distance."""
    confidence: float = 0.95
    """Level of the interval."""

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain data for JSON; an interval not computed (no bootstrap) is ``None``."""
        return {
            "distance": self.distance,
            "pearson": self.pearson,
            "num_transitions": self.num_transitions,
            "num_coverage": self.num_coverage,
            "ci_low": None if math.isnan(self.ci_low) else self.ci_low,
            "ci_high": None if math.isnan(self.ci_high) else self.ci_high,
            "confidence": self.confidence,
        }


# --------------------------------------------------------------------------- batches


def batch_len(batch: Batch, name: str = "batch") -> int:
    """Leading length shared by every array of ``batch``; a clear error when they differ."""
    lengths = {path: len(leaf) for path, leaf in _leaves(batch, name)}
    if not lengths:
        raise ValueError(f"{name} holds no arrays")
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{path}: {n}" for path, n in lengths.items())
        raise ValueError(f"the arrays of {name} differ in batch length ({shown})")
    return next(iter(lengths.values()))


def batch_index(batch: Batch, index: np.ndarray | slice) -> Batch:
    """Rows ``index`` (integer array or slice) of every array of ``batch``."""
    if isinstance(batch, Mapping):
        return {key: batch_index(value, index) for key, value in batch.items()}
    return np.asarray(batch)[index]


def batch_concat(batches: Sequence[Batch]) -> Batch:
    """Concatenate batches of the same structure along the batch axis."""
    if not batches:
        raise ValueError("nothing to concatenate")
    first = batches[0]
    if isinstance(first, Mapping):
        keys = list(first)
        for other in batches[1:]:
            if not isinstance(other, Mapping) or list(other) != keys:
                raise ValueError(f"batches differ in structure: keys {keys} vs another batch")
        return {key: batch_concat([b[key] for b in batches]) for key in keys}
    return np.concatenate([np.asarray(b) for b in batches])


def _leaves(batch: Batch, path: str) -> list[tuple[str, np.ndarray]]:
    if isinstance(batch, Mapping):
        out: list[tuple[str, np.ndarray]] = []
        for key, value in batch.items():
            out.extend(_leaves(value, f"{path}[{key!r}]"))
        return out
    array = np.asarray(batch)
    if array.ndim == 0:
        raise ValueError(f"{path} must have a leading batch axis, got a scalar")
    return [(path, array)]


def _unique_rows(batch: Batch, name: str) -> tuple[Batch, np.ndarray]:
    """Distinct rows of ``batch`` and, per row, the index of its distinct row, so that each
    distinct state is canonicalised once (consecutive transitions share ``s'`` and ``s``)."""
    leaves = [np.ascontiguousarray(a) for _, a in _leaves(batch, name)]
    n = len(leaves[0])
    keys: dict[bytes, int] = {}
    inverse = np.empty(n, dtype=np.int64)
    first: list[int] = []
    for row in range(n):
        digest = hashlib.blake2b(digest_size=16)
        for leaf in leaves:
            digest.update(leaf[row].tobytes())
        key = digest.digest()
        slot = keys.setdefault(key, len(first))
        if slot == len(first):
            first.append(row)
        inverse[row] = slot
    return batch_index(batch, np.asarray(first, dtype=np.int64)), inverse


# --------------------------------------------------------------------------- validation


def _check_gamma(gamma: float) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating)):
        raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
    if not (0.0 < float(gamma) <= 1.0):
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    return float(gamma)


def _check_lengths(named: Mapping[str, Batch], what: str) -> int:
    lengths = {name: batch_len(batch, name) for name, batch in named.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"{what} must have matching batch lengths: {shown}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"{what} are empty: EPIC needs samples")
    return n


def _evaluate(
    reward: RewardFn, states: Batch, actions: Batch, next_states: Batch, n: int, name: str
) -> tuple[np.ndarray, float]:
    """Reward values as float64, and the relative rounding unit of the dtype it returned."""
    returned = np.asarray(reward(states, actions, next_states))
    kind = returned.dtype
    eps = float(np.finfo(kind).eps) if np.issubdtype(kind, np.floating) else 0.0
    values = returned.astype(np.float64)
    if values.shape != (n,):
        raise ValueError(
            f"reward {name!r} must return one value per transition, shape ({n},), "
            f"got shape {values.shape}"
        )
    if not np.isfinite(values).all():
        bad = int(n - np.isfinite(values).sum())
        raise ValueError(f"reward {name!r} returned {bad} NaN or infinite value(s) of {n}")
    return values, eps


# --------------------------------------------------------------------------- canonicalisation


def canonicalize(
    reward: RewardFn,
    states: Batch,
    actions: Batch,
    next_states: Batch,
    coverage_states: Batch,
    coverage_actions: Batch,
    gamma: float,
    *,
    batch_size: int = 1024,
    include_constant: bool = True,
    name: str = "reward",
) -> np.ndarray:
    """Sample-based EPIC canonical reward ``C(R)(s, a, s')`` on ``N`` transitions (paper,
    Definition 4.1 and Appendix A.1.1).

    ``E[R(x, A, S')]`` is the mean over the ``M`` coverage pairs ``(coverage_actions[j],
    coverage_states[j])``; ``E[R(S, A, S')]`` the mean of that over ``S`` = every coverage
    state (``M²`` evaluations; skip with ``include_constant=False`` when only a Pearson
    distance is needed, which ignores constants). Each distinct state of ``states`` and
    ``next_states`` is evaluated once against the coverage, in reward calls of at most
    ``batch_size`` rows, which matters for image rewards.

    Compare two rewards only through canonical rewards made from the *same* coverage samples;
    potential shaping then cancels exactly. ``name`` labels errors (NaN rewards, wrong shapes).
    """
    values, _ = _canonicalize(
        reward,
        Transitions(states, actions, next_states),
        Coverage(coverage_states, coverage_actions),
        gamma,
        batch_size,
        include_constant,
        name,
    )
    return values


def _canonicalize(
    reward: RewardFn,
    transitions: Transitions,
    coverage: Coverage,
    gamma: float,
    batch_size: int,
    include_constant: bool,
    name: str,
) -> tuple[np.ndarray, float]:
    """Canonical rewards and the spread below which they count as constant: the largest
    ``|R|`` met on the way times the relative precision of the reward's values."""
    gamma = _check_gamma(gamma)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    states, actions, next_states = transitions
    n = _check_lengths(
        {"states": states, "actions": actions, "next_states": next_states}, "transitions"
    )
    m = _check_lengths(
        {"coverage_states": coverage.states, "coverage_actions": coverage.actions}, "coverage"
    )
    raw_chunks, eps = [], 0.0
    for chunk in np.array_split(np.arange(n), math.ceil(n / batch_size)):
        values, chunk_eps = _evaluate(
            reward,
            batch_index(states, chunk),
            batch_index(actions, chunk),
            batch_index(next_states, chunk),
            len(chunk),
            name,
        )
        raw_chunks.append(values)
        eps = max(eps, chunk_eps)
    raw = np.concatenate(raw_chunks)
    both = batch_concat([states, next_states])
    if include_constant:
        both = batch_concat([both, coverage.states])
    unique, inverse = _unique_rows(both, "states")
    unique_means, mean_eps = _mean_over_coverage(reward, unique, coverage, m, batch_size, name)
    means = unique_means[inverse]
    mean_from_s, mean_from_next = means[:n], means[n : 2 * n]
    constant = float(means[2 * n :].mean()) if include_constant else 0.0
    canonical = raw + gamma * mean_from_next - mean_from_s - gamma * constant
    scale = float(max(np.abs(raw).max(), np.abs(means).max()))
    return canonical, scale * max(ZERO_SCALE, 64.0 * max(eps, mean_eps))


def _mean_over_coverage(
    reward: RewardFn, states: Batch, coverage: Coverage, m: int, batch_size: int, name: str
) -> tuple[np.ndarray, float]:
    """``mean_j R(x, A_j, S'_j)`` for every row ``x`` of ``states``, in reward calls of at
    most ``batch_size`` (state, coverage pair) combinations."""
    u = batch_len(states, "states")
    sums = np.zeros(u)
    eps = 0.0
    total = u * m
    for start in range(0, total, batch_size):
        flat = np.arange(start, min(start + batch_size, total))
        rows, pairs = np.divmod(flat, m)
        values, chunk_eps = _evaluate(
            reward,
            batch_index(states, rows),
            batch_index(coverage.actions, pairs),
            batch_index(coverage.states, pairs),
            len(flat),
            name,
        )
        sums += np.bincount(rows, weights=values, minlength=u)
        eps = max(eps, chunk_eps)
    return sums / m, eps


# --------------------------------------------------------------------------- Pearson distance


def _check_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, >= 0 and not all zero")
    return w / w.sum()


def _constant_error(name: str) -> ValueError:
    return ValueError(
        f"{name} is constant (or purely potential shaping) on these samples: "
        "EPIC distance undefined. EPIC ignores potential shaping, so a reward "
        "γΦ(s') − Φ(s) canonicalises to 0; compare progress as a reward, r = Φ(s'), instead"
    )


def pearson_distance(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    names: tuple[str, str] = ("x", "y"),
) -> float:
    """``sqrt((1 − ρ) / 2)`` for the (optionally weighted) Pearson correlation ρ of ``x``
    and ``y`` (paper, Definition 4.2). Refuses non-finite input and a constant side."""
    return _pearson_distance(*_pearson_inputs(x, y, weights, names))[0]


def _pearson_inputs(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, str]]:
    arrays = []
    for array, label in ((x, names[0]), (y, names[1])):
        a = np.asarray(array, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"{label} must be 1-D, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{label} contains NaN or infinite values")
        arrays.append(a)
    if len(arrays[0]) != len(arrays[1]):
        raise ValueError(f"{names[0]} has {len(arrays[0])} values but {names[1]} {len(arrays[1])}")
    if len(arrays[0]) < 2:
        raise ValueError("a Pearson distance needs at least 2 samples")
    return arrays[0], arrays[1], _check_weights(weights, len(arrays[0])), names


def _pearson_distance(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, names: tuple[str, str]
) -> tuple[float, float]:
    """Distance and ρ; ``w`` sums to 1."""
    centred = []
    for values, label in ((x, names[0]), (y, names[1])):
        c = values - w @ values
        spread = math.sqrt(w @ (c * c))
        if spread <= 1e-12 * max(np.abs(values).max(), np.finfo(float).tiny):
            raise _constant_error(label)
        centred.append(c / spread)
    rho = float(np.clip(w @ (centred[0] * centred[1]), -1.0, 1.0))
    # sqrt((1 - ρ) / 2) is half the distance between the standardised vectors; computed that
    # way it keeps full precision near 0, where 1 - ρ would cancel to about 1e-16.
    difference = centred[0] - centred[1]
    return min(1.0, 0.5 * math.sqrt(w @ (difference * difference))), rho


def _bootstrap_interval(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    samples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """Percentile bootstrap over transitions; resamples where a side is constant are dropped."""
    if samples == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    n = len(x)
    distances = []
    for chunk in np.array_split(np.arange(samples), min(samples, max(1, samples * n // 1_000_000))):
        index = rng.integers(0, n, size=(len(chunk), n))
        xs, ys, ws = x[index], y[index], w[index]
        ws = ws / ws.sum(1, keepdims=True)
        xc = xs - (ws * xs).sum(1, keepdims=True)
        yc = ys - (ws * ys).sum(1, keepdims=True)
        vx, vy = (ws * xc * xc).sum(1), (ws * yc * yc).sum(1)
        ok = (vx > 1e-24 * (np.abs(x).max() ** 2)) & (vy > 1e-24 * (np.abs(y).max() ** 2))
        xh = xc[ok] / np.sqrt(vx[ok])[:, None]
        yh = yc[ok] / np.sqrt(vy[ok])[:, None]
        distances.append(np.minimum(1.0, 0.5 * np.sqrt((ws[ok] * (xh - yh) ** 2).sum(1))))
    values = np.concatenate(distances)
    if len(values) == 0:
        return math.nan, math.nan
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def compare_canonical(
    canonical_a: np.ndarray,
    canonical_b: np.ndarray,
    num_coverage: int,
    *,
    weights: np.ndarray | None = None,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    names: tuple[str, str] = ("reward_a", "reward_b"),
) -> EpicResult:
    """EPIC from two canonical rewards (made with the same coverage samples), with a seeded
    percentile-bootstrap interval over transitions (``bootstrap`` resamples; 0: none, NaN)."""
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise ValueError(f"bootstrap must be an int >= 0, got {bootstrap!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    labels = (f"reward {names[0]!r}", f"reward {names[1]!r}")
    x, y, w, labels = _pearson_inputs(canonical_a, canonical_b, weights, labels)
    distance, rho = _pearson_distance(x, y, w, labels)
    low, high = _bootstrap_interval(x, y, w, bootstrap, confidence, seed)
    return EpicResult(distance, rho, len(x), int(num_coverage), low, high, confidence)


# --------------------------------------------------------------------------- EPIC


def epic_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    transitions: Transitions | tuple[Batch, Batch, Batch],
    coverage: Coverage | tuple[Batch, Batch],
    gamma: float,
    *,
    weights: np.ndarray | None = None,
    batch_size: int = 1024,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    names: tuple[str, str] = ("reward_a", "reward_b"),
) -> EpicResult:
    """Sample-based EPIC distance between two rewards.

    ``transitions`` = ``(states, actions, next_states)`` drawn from ``D`` (optionally
    ``weights`` per transition); ``coverage`` = ``(states, actions)``, ``M`` independent draws
    from ``D_S`` and ``D_A``, used for *both* rewards. Raises ``ValueError`` naming the reward
    that returns NaN/inf or is constant up to shaping."""
    results = epic_matrix(
        {names[0]: reward_a, names[1]: reward_b},
        transitions,
        coverage,
        gamma,
        weights=weights,
        batch_size=batch_size,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return results.pairs[names]


@dataclass(frozen=True)
class EpicMatrix:
    """Pairwise EPIC results of several rewards on one sample."""

    names: tuple[str, ...]
    pairs: dict[tuple[str, str], EpicResult]
    """``(a, b) -> result`` for every ordered pair of distinct names (symmetric)."""
    seconds: dict[str, float]
    """Wall-clock seconds spent canonicalising each reward."""

    def distance(self, a: str, b: str) -> float:
        return 0.0 if a == b else self.pairs[(a, b)].distance


def epic_matrix(
    rewards: Mapping[str, RewardFn],
    transitions: Transitions | tuple[Batch, Batch, Batch],
    coverage: Coverage | tuple[Batch, Batch],
    gamma: float,
    *,
    weights: np.ndarray | None = None,
    batch_size: int = 1024,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> EpicMatrix:
    """EPIC between every pair of ``rewards``: each reward is canonicalised once, on the same
    transitions and coverage samples, then every pair is compared (same bootstrap resamples
    for every pair, since they share ``seed``)."""
    if len(rewards) < 2:
        raise ValueError(f"need at least two rewards to compare, got {list(rewards)}")
    transitions = Transitions(*transitions)
    coverage = Coverage(*coverage)
    m = batch_len(coverage.states, "coverage_states")
    canonical: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name, reward in rewards.items():
        started = time.perf_counter()
        values, zero = _canonicalize(reward, transitions, coverage, gamma, batch_size, False, name)
        seconds[name] = time.perf_counter() - started
        if np.ptp(values) <= zero:
            raise _constant_error(f"reward {name!r}")
        canonical[name] = values
    names = tuple(rewards)
    pairs: dict[tuple[str, str], EpicResult] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            result = compare_canonical(
                canonical[a],
                canonical[b],
                m,
                weights=weights,
                bootstrap=bootstrap,
                confidence=confidence,
                seed=seed,
                names=(a, b),
            )
            pairs[(a, b)] = pairs[(b, a)] = result
    return EpicMatrix(names, pairs, seconds)


# --------------------------------------------------------------------------- exact, tabular


def tabular_canonicalize(
    reward: np.ndarray, gamma: float, state_dist: np.ndarray, action_dist: np.ndarray
) -> np.ndarray:
    """Exact ``C(R)`` for a finite MDP: ``reward`` is ``(S, A, S)``, ``state_dist`` ``D_S``
    ``(S,)``, ``action_dist`` ``D_A`` ``(A,)`` (paper, Definition 4.1)."""
    gamma = _check_gamma(gamma)
    r = _check_table(reward, "reward")
    s, a = r.shape[:2]
    d_s = _check_dist(state_dist, (s,), "state_dist")
    d_a = _check_dist(action_dist, (a,), "action_dist")
    mean_from = np.einsum("xas,a,s->x", r, d_a, d_s)  # E[R(x, A, S')]
    constant = float(d_s @ mean_from)  # E[R(S, A, S')]
    return r + gamma * mean_from[None, None, :] - mean_from[:, None, None] - gamma * constant


def tabular_epic_distance(
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    gamma: float,
    state_dist: np.ndarray,
    action_dist: np.ndarray,
    transition_dist: np.ndarray,
) -> float:
    """Exact EPIC distance for a finite MDP: rewards ``(S, A, S)``, coverage ``D_S`` ``(S,)``
    and ``D_A`` ``(A,)``, and the distribution ``D`` of transitions ``(S, A, S)`` that the
    Pearson distance weighs. Used to check the sample-based estimator."""
    ra, rb = _check_table(reward_a, "reward_a"), _check_table(reward_b, "reward_b")
    if ra.shape != rb.shape:
        raise ValueError(f"reward_a has shape {ra.shape} but reward_b {rb.shape}")
    d = _check_dist(transition_dist, ra.shape, "transition_dist")
    ca = tabular_canonicalize(ra, gamma, state_dist, action_dist).ravel()
    cb = tabular_canonicalize(rb, gamma, state_dist, action_dist).ravel()
    keep = d.ravel() > 0
    w = d.ravel()[keep]
    scale = max(np.abs(ra).max(), np.abs(rb).max(), np.finfo(float).tiny)
    for values, label in ((ca, "reward_a"), (cb, "reward_b")):
        if np.ptp(values[keep]) <= ZERO_SCALE * scale:
            raise _constant_error(label)
    return _pearson_distance(ca[keep], cb[keep], w / w.sum(), ("reward_a", "reward_b"))[0]


def _check_table(reward: Any, name: str) -> np.ndarray:
    r = np.asarray(reward, dtype=np.float64)
    if r.ndim != 3 or r.shape[0] != r.shape[2]:
        raise ValueError(f"{name} must have shape (S, A, S), got {r.shape}")
    if r.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(r).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return r


def _check_dist(dist: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    d = np.asarray(dist, dtype=np.float64)
    if d.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {d.shape}")
    if not np.isfinite(d).all() or (d < 0).any() or d.sum() <= 0:
        raise ValueError(f"{name} must be finite, >= 0 and not all zero")
    return d / d.sum()
