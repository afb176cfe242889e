"""GRM speed in the ``perf`` suite: tracker update latency (one core), batched hop throughput
(two cores) and one-shot adaptation time (two cores), each printed against its target."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from robo_reward.bench.worker import run_in_worker

UPDATE_P99_TARGET_MS = 10.0
HOP_THROUGHPUT_TARGET = 2000.0
ADAPT_SECONDS_TARGET = 60.0


@dataclass(frozen=True)
class GRMPerfConfig:
    """Settings of the GRM speed measurements."""

    checkpoint: str = ""
    """Checkpoint to time (empty: the shipped general model; a fresh model if none is shipped)."""
    updates: int = 300
    """Tracker updates timed (after 20 warm-up updates)."""
    pairs: int = 2048
    """Pairs in the batched-hop measurement."""
    adapt_frames: int = 200
    """Length of the demo adapted on."""
    adapt: bool = True
    """Time one-shot adaptation (the slowest measurement)."""


def _model(checkpoint: str):
    from robo_reward.grm.checkpoint import default_checkpoint, load_grm
    from robo_reward.grm.model import GRM, GRMConfig

    try:
        return load_grm(checkpoint or default_checkpoint())
    except FileNotFoundError:
        return GRM(GRMConfig()).eval()


def time_tracker_updates(checkpoint: str, updates: int) -> dict[str, float]:
    """Per-update latency of ProgressTracker with every view, in this process."""
    import torch

    from robo_reward.grm.tracker import ProgressTracker, Reference

    torch.set_num_threads(1)
    grm = _model(checkpoint)
    size, views = grm.config.image_size, grm.config.views
    rng = np.random.default_rng(0)

    def observation() -> dict[str, np.ndarray]:
        return {v: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for v in views}

    tracker = ProgressTracker(grm, Reference(observation(), observation()))
    tracker.reset(observation())
    samples = []
    for index in range(updates + 20):
        obs = observation()
        start = time.perf_counter()
        tracker.update(obs)
        if index >= 20:
            samples.append(1000.0 * (time.perf_counter() - start))
    return {
        "p50_ms": float(np.percentile(samples, 50)),
        "p99_ms": float(np.percentile(samples, 99)),
        "mean_ms": float(np.mean(samples)),
    }


def time_hop_batch(checkpoint: str, pairs: int, repeats: int = 5) -> dict[str, Any]:
    """Pairs/s of hop_batch on consecutive frames (a replay buffer) and on all-distinct frames,
    the median of ``repeats`` timed runs (this machine's speed swings by 2x between runs)."""
    import torch

    from robo_reward.grm.tracker import Reference, hop_batch

    torch.set_num_threads(2)
    grm = _model(checkpoint)
    size, views = grm.config.image_size, len(grm.config.views)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (pairs + 1, views, size, size, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (pairs, views, size, size, 3), dtype=np.uint8)
    reference = Reference(*({v: frames[0, i] for i, v in enumerate(grm.config.views)},) * 2)
    warm = min(64, pairs)
    hop_batch(grm, reference, frames[:warm], frames[1 : warm + 1])

    def rate(after: np.ndarray) -> float:
        start = time.perf_counter()
        hop_batch(grm, reference, frames[:-1], after)
        return pairs / (time.perf_counter() - start)

    consecutive = [rate(frames[1:]) for _ in range(repeats)]
    distinct = [rate(other) for _ in range(repeats)]
    return {
        "consecutive_pairs_per_s": float(np.median(consecutive)),
        "distinct_pairs_per_s": float(np.median(distinct)),
        "consecutive_samples": consecutive,
        "distinct_samples": distinct,
    }


def time_adaptation(checkpoint: str, frames: int) -> dict[str, Any]:
    """Seconds to adapt on a ``frames``-long stack demo (an expert demo, time-stretched)."""
    import torch

    from robo_reward.data import Trajectory
    from robo_reward.grm.adapt import AdaptConfig, adapt
    from robo_reward.grm.checkpoint import default_checkpoint
    from robo_reward.sim.demos import rollout

    torch.set_num_threads(2)
    demo = rollout("stack", seed=123)
    index = np.linspace(0, demo.num_frames - 1, frames).round().astype(int)
    steps = np.linspace(0, demo.num_steps - 1, frames - 1).round().astype(int)
    stretched = Trajectory(
        frames={v: demo.frames[v][index] for v in demo.views},
        actions=demo.actions[steps],
        states=demo.states[index],
        timestamps_ns=np.arange(frames, dtype=np.int64) * 40_000_000,
        task=demo.task,
        success=True,
        variant="recorded",
    )
    import tempfile

    path = checkpoint or str(default_checkpoint())
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = adapt(stretched, out, AdaptConfig(checkpoint=path), progress=False)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "frames": frames,
        "steps": result.train.steps,
        "labels": result.labels,
    }


def run_grm_perf(config: GRMPerfConfig) -> dict[str, Any]:
    result: dict[str, Any] = {
        "tracker_update": run_in_worker(
            __name__, "time_tracker_updates", [config.checkpoint, config.updates], True
        ),
        "hop_batch": run_in_worker(
            __name__, "time_hop_batch", [config.checkpoint, config.pairs], False
        ),
    }
    if config.adapt:
        result["adaptation"] = run_in_worker(
            __name__, "time_adaptation", [config.checkpoint, config.adapt_frames], False
        )
    return result


def grm_perf_markdown(result: dict[str, Any]) -> str:
    from robo_reward.bench.results import markdown_table

    update, hops = result["tracker_update"], result["hop_batch"]
    rows = [
        [
            "tracker update, 3 views 96x96, one core (p99)",
            f"{update['p99_ms']:.2f} ms",
            f"<= {UPDATE_P99_TARGET_MS:.0f} ms",
            f"{update['p99_ms'] / UPDATE_P99_TARGET_MS:.2f}",
        ],
        [
            "batched hop, replay (consecutive frames), 2 cores",
            f"{hops['consecutive_pairs_per_s']:.0f} pairs/s",
            f">= {HOP_THROUGHPUT_TARGET:.0f}",
            f"{hops['consecutive_pairs_per_s'] / HOP_THROUGHPUT_TARGET:.2f}",
        ],
        [
            "batched hop, all-distinct frames, 2 cores",
            f"{hops['distinct_pairs_per_s']:.0f} pairs/s",
            f">= {HOP_THROUGHPUT_TARGET:.0f}",
            f"{hops['distinct_pairs_per_s'] / HOP_THROUGHPUT_TARGET:.2f}",
        ],
    ]
    if "adaptation" in result:
        a = result["adaptation"]
        rows.append(
            [
                f"one-shot adaptation, {a['frames']}-frame demo, 2 cores",
                f"{a['seconds']:.1f} s",
                f"<= {ADAPT_SECONDS_TARGET:.0f} s",
                f"{a['seconds'] / ADAPT_SECONDS_TARGET:.2f}",
            ]
        )
    return "### GRM speed\n\n" + markdown_table(
        ["measurement", "value", "target", "ratio to target"], rows
    )
