"""GRM speed measurements run end to end on tiny budgets and report against their targets."""

from __future__ import annotations

from robo_reward.bench.grm_perf import (
    grm_perf_markdown,
    time_hop_batch,
    time_tracker_updates,
)


def test_tracker_latency_and_hop_throughput_are_measured() -> None:
    update = time_tracker_updates("", updates=5)
    assert 0 < update["p50_ms"] <= update["p99_ms"]
    hops = time_hop_batch("", pairs=16)
    assert hops["consecutive_pairs_per_s"] > 0 and hops["distinct_pairs_per_s"] > 0
    markdown = grm_perf_markdown({"tracker_update": update, "hop_batch": hops})
    assert "tracker update" in markdown and "ratio to target" in markdown
