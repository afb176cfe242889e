"""Step discovery: split a demonstration into steps of minimal within-step feature variance.

Sermanet, Xu & Levine (2017), "Unsupervised Perceptual Rewards for Imitation Learning", sec. 3.1:
a demo is cut into ``n`` contiguous segments so that the features vary as little as possible
inside each segment. The problem decomposes over segments, so a dynamic program over cut points
finds the exact optimum in O(n·T²) (T ≤ a few hundred frames here: milliseconds), where the
paper used a brute-force search.

Two segment costs are offered:

``"sse"``       the summed squared deviation from the segment mean (contiguous k-means); long
                segments cost in proportion to their length.
``"variance"``  the segment's mean squared deviation (the paper's "average variance"); every
                segment weighs the same whatever its length, which lets a short, busy step stand
                out next to a long, quiet one.

A step boundary is the index of a step's first frame; steps are reported as keyframes
``(0, k1, ..., k_{n-1}, T)`` (frame ``T`` = the last frame), the same convention the scripted
experts use, so the discovered steps can stand in for missing keyframes (GRM one-shot
adaptation of a demo recorded on a robot).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Objective = Literal["sse", "variance"]
OBJECTIVES: tuple[Objective, ...] = ("sse", "variance")


def check_features(features: np.ndarray, name: str = "features") -> np.ndarray:
    """A finite float ``(T, D)`` array, or a clear error."""
    array = np.asarray(features)
    if array.ndim != 2:
        raise ValueError(f"{name} must be (frames, dims), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def segment_cost_table(features: np.ndarray, objective: Objective = "sse") -> np.ndarray:
    """``cost[i, j]``: the cost of one segment holding frames ``i .. j-1`` (``i < j``); +inf
    where ``j <= i``. Built from prefix sums, O(T²·1) after an O(T·D) pass."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")
    x = check_features(features)
    frames = x.shape[0]
    sums = np.vstack([np.zeros(x.shape[1]), np.cumsum(x, axis=0)])  # (T+1, D)
    squares = np.concatenate([[0.0], np.cumsum((x * x).sum(axis=1))])  # (T+1,)
    start = np.arange(frames + 1)[:, None]
    end = np.arange(frames + 1)[None, :]
    length = (end - start).astype(np.float64)
    valid = length > 0
    safe_length = np.where(valid, length, 1.0)
    gram = sums @ sums.T  # ||S_j - S_i||² = |S_j|² + |S_i|² - 2 S_i·S_j, without a (T, T, D) array
    norms = np.diag(gram)
    segment_sum_sq = norms[None, :] + norms[:, None] - 2.0 * gram
    sse = squares[None, :] - squares[:, None] - segment_sum_sq / safe_length
    sse = np.maximum(sse, 0.0)  # round-off
    cost = sse if objective == "sse" else sse / safe_length
    return np.where(valid, cost, np.inf)


def discover_steps(
    features: np.ndarray,
    num_steps: int,
    min_length: int = 2,
    objective: Objective = "sse",
) -> tuple[int, ...]:
    """The exact minimum-cost split of ``features`` (one row per frame) into ``num_steps``
    contiguous steps of at least ``min_length`` frames. Returns keyframes ``(0, k1, ...,
    k_{n-1}, T-1)``: step ``i`` holds frames ``k_i .. k_{i+1}-1`` and the last step runs to the
    last frame ``T-1`` inclusive."""
    x = check_features(features)
    frames = x.shape[0]
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if isinstance(min_length, bool) or not isinstance(min_length, int | np.integer):
        raise ValueError(f"min_length must be an integer, got {min_length!r}")
    if min_length < 2:
        raise ValueError(
            f"min_length must be >= 2 frames (a step has a start and an end), got {min_length}"
        )
    if num_steps > frames:
        raise ValueError(f"cannot split {frames} frames into {num_steps} steps")
    if num_steps * min_length > frames:
        raise ValueError(
            f"cannot split {frames} frames into {num_steps} steps of at least {min_length} "
            f"frames (needs {num_steps * min_length}); lower --steps or the minimum step length"
        )
    cost = segment_cost_table(x, objective)
    starts = np.arange(frames + 1)
    lengths = starts[None, :] - starts[:, None]
    cost = np.where(lengths >= min_length, cost, np.inf)
    # best[k, j]: the cheapest split of frames 0..j-1 into k steps; back[k, j]: its last cut.
    best = np.full((num_steps + 1, frames + 1), np.inf)
    back = np.zeros((num_steps + 1, frames + 1), dtype=np.int64)
    best[0, 0] = 0.0
    for k in range(1, num_steps + 1):
        totals = best[k - 1][:, None] + cost  # (cut i, end j)
        back[k] = np.argmin(totals, axis=0)
        best[k] = totals[back[k], starts]
    if not np.isfinite(best[num_steps, frames]):  # pragma: no cover - excluded by the checks
        raise ValueError("no split satisfies the minimum step length")
    cuts = [frames]
    for k in range(num_steps, 0, -1):
        cuts.append(int(back[k, cuts[-1]]))
    cuts.reverse()  # (0, k1, ..., T)
    return tuple(cuts[:-1]) + (frames - 1,)


def step_segments(keyframes: Sequence[int], num_frames: int) -> list[np.ndarray]:
    """The frame indices of each step for keyframes ``(0, k1, ..., k_n)``: step ``i`` holds
    ``k_i .. k_{i+1}-1``; the last step also holds every frame from ``k_{n-1}`` to the end of the
    trajectory (an expert idles after its last keyframe, and that belongs to the last step)."""
    keys = [int(k) for k in keyframes]
    if len(keys) < 2 or keys[0] != 0 or any(b <= a for a, b in zip(keys, keys[1:], strict=False)):
        raise ValueError(f"keyframes must start at 0 and increase strictly, got {keys}")
    if keys[-1] > num_frames - 1:
        raise ValueError(f"keyframes {keys} exceed the last frame {num_frames - 1}")
    bounds = keys[:-1] + [num_frames]
    return [np.arange(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def step_labels(keyframes: Sequence[int], num_frames: int) -> np.ndarray:
    """int ``(num_frames,)``: the step each frame belongs to (see :func:`step_segments`)."""
    labels = np.empty(num_frames, dtype=np.int64)
    for index, frames in enumerate(step_segments(keyframes, num_frames)):
        labels[frames] = index
    return labels


def merge_keyframes(keyframes: Sequence[int], num_steps: int) -> tuple[int, ...]:
    """Expert keyframes coarsened to ``num_steps`` steps by merging the *leading* subtasks, so the
    final, task-completing motion stays a step of its own (``approach, lower, push`` → 2 steps:
    ``approach+lower, push``)."""
    keys = tuple(int(k) for k in keyframes)
    subtasks = len(keys) - 1
    if not 1 <= num_steps <= subtasks:
        raise ValueError(f"cannot coarsen {subtasks} subtasks into {num_steps} steps")
    drop = subtasks - num_steps
    return (keys[0],) + keys[1 + drop :]


def jaccard_overlap(predicted: Sequence[int], reference: Sequence[int], num_frames: int) -> float:
    """Mean over steps of |P_i ∩ R_i| / |P_i ∪ R_i| (the paper's step-discovery score)."""
    a = step_segments(predicted, num_frames)
    b = step_segments(reference, num_frames)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} predicted steps vs {len(b)} reference steps")
    scores = []
    for frames_a, frames_b in zip(a, b, strict=True):
        inter = len(np.intersect1d(frames_a, frames_b))
        union = len(np.union1d(frames_a, frames_b))
        scores.append(inter / union)
    return float(np.mean(scores))


def random_ordered_steps(
    num_frames: int, num_steps: int, min_length: int, rng: np.random.Generator
) -> tuple[int, ...]:
    """A uniformly random split into ordered steps of at least ``min_length`` frames (the
    paper's "ordered random" baseline): stars and bars over the slack frames."""
    slack = num_frames - num_steps * min_length
    if slack < 0:
        raise ValueError(f"cannot split {num_frames} frames into {num_steps}×{min_length}")
    # num_steps non-negative extra lengths summing to slack, uniform over compositions.
    bars = np.sort(rng.choice(slack + num_steps - 1, size=num_steps - 1, replace=False))
    extras = np.diff(np.concatenate([[-1], bars, [slack + num_steps - 1]])) - 1
    lengths = extras + min_length
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return tuple(int(s) for s in starts) + (num_frames - 1,)


def motion_features(features: np.ndarray, smoothing: int = 3) -> np.ndarray:
    """Frame-to-frame change of (moving-average smoothed) features, the first frame repeating the
    second's. Variance-minimal steps on these are stretches of steady motion, so the cuts fall
    where the motion changes (the arm stops approaching and starts pressing), while steps on the
    features themselves are stretches of similar appearance."""
    x = check_features(features)
    if isinstance(smoothing, bool) or not isinstance(smoothing, int) or smoothing < 1:
        raise ValueError(f"smoothing must be a positive integer, got {smoothing!r}")
    if len(x) < 2:
        raise ValueError("motion features need at least two frames")
    if smoothing > 1:
        pad = smoothing // 2
        padded = np.pad(x, ((pad, smoothing - 1 - pad), (0, 0)), mode="edge")
        kernel = np.ones(smoothing) / smoothing
        x = np.stack([np.convolve(c, kernel, mode="valid") for c in padded.T], axis=1)
    change = np.diff(x, axis=0)
    return np.vstack([change[:1], change])
