"""The ``perf`` suite's plot: every measurement as its headroom against its limit.

Headroom is how many times better than the target a figure is (value / target for a floor such
as steps/s, target / value for a ceiling such as latency): 1 is exactly on the target, and the
plot's line at 1 separates met from missed at a glance, whatever the units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robo_reward.bench.controllers import PPO_SPEED_TARGET, SAC_SPEED_TARGET
from robo_reward.bench.grm_perf import (
    ADAPT_SECONDS_TARGET,
    HOP_THROUGHPUT_TARGET,
    UPDATE_P99_TARGET_MS,
)


def headrooms(results: dict[str, Any]) -> list[tuple[str, float]]:
    """(label, headroom) for every measurement of a ``perf`` run that has a target."""
    rows: list[tuple[str, float]] = []
    sim = results.get("sim")
    if sim:
        rows.append(("sim, RGB 3 views (>= 300 steps/s)", sim["ratio_rgb_to_target"]))
    grm = results.get("grm")
    if grm:
        update, hops = grm["tracker_update"], grm["hop_batch"]
        rows.append(("GRM update p99 (<= 10 ms)", UPDATE_P99_TARGET_MS / update["p99_ms"]))
        rows.append(
            (
                "GRM batched hops (>= 2000 pairs/s)",
                hops["distinct_pairs_per_s"] / HOP_THROUGHPUT_TARGET,
            )
        )
        if "adaptation" in grm:
            rows.append(
                (
                    "one-shot adaptation (<= 60 s)",
                    ADAPT_SECONDS_TARGET / grm["adaptation"]["seconds"],
                )
            )
    ros = results.get("ros")
    if ros and ros.get("latency_p99_ms"):
        rows.append(("ROS reward p99 (<= 50 ms)", ros["target_p99_ms"] / ros["latency_p99_ms"]))
    controllers = results.get("controllers")
    if controllers:
        for algo, target in (("sac", SAC_SPEED_TARGET), ("ppo", PPO_SPEED_TARGET)):
            for env_id, runs in controllers[algo].items():
                ours = np.array([r["steps_per_s"] for r in runs["ours"]])
                sb3 = np.array([r["steps_per_s"] for r in runs["sb3"]])
                ratio = float(np.median(ours / sb3))
                rows.append((f"{algo.upper()} {env_id} vs SB3 (>= {target:g}x)", ratio / target))
    return rows


def plot_perf(results: dict[str, Any], path: Path) -> Path | None:
    """Horizontal bars of :func:`headrooms` (log scale), green where the target is met; None
    when the run measured nothing with a target."""
    rows = headrooms(results)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values = zip(*rows, strict=True)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    colors = ["tab:green" if v >= 1 else "tab:red" for v in values]
    ax.barh(np.arange(len(rows)), values, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("headroom: times better than the target (1 = on target)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
