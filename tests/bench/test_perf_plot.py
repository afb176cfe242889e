"""The perf plot turns every figure with a target into headroom: above 1 met, below 1 missed."""

from __future__ import annotations

from pathlib import Path

import pytest

from robo_reward.bench.perf_plot import headrooms, plot_perf


def test_headroom_is_value_over_floor_and_ceiling_over_value(tmp_path: Path) -> None:
    def run(sps: float) -> dict:
        return {"steps_per_s": sps}

    results = {
        "sim": {"ratio_rgb_to_target": 1.5},
        "grm": {
            "tracker_update": {"p99_ms": 20.0},
            "hop_batch": {"distinct_pairs_per_s": 1000.0},
            "adaptation": {"seconds": 30.0},
        },
        "ros": {"latency_p99_ms": 10.0, "target_p99_ms": 50.0},
        "controllers": {
            "sac": {"Reach": {"ours": [run(90)], "sb3": [run(60)]}},
            "ppo": {"Reach": {"ours": [run(300)], "sb3": [run(100)]}},
        },
    }
    values = dict(headrooms(results))
    assert values["sim, RGB 3 views (>= 300 steps/s)"] == 1.5
    assert values["GRM update p99 (<= 10 ms)"] == pytest.approx(0.5)  # twice the ceiling
    assert values["GRM batched hops (>= 2000 pairs/s)"] == pytest.approx(0.5)
    assert values["one-shot adaptation (<= 60 s)"] == pytest.approx(2.0)
    assert values["ROS reward p99 (<= 50 ms)"] == pytest.approx(5.0)
    assert values["SAC Reach vs SB3 (>= 3x)"] == pytest.approx(0.5)
    assert values["PPO Reach vs SB3 (>= 1.5x)"] == pytest.approx(2.0)
    assert plot_perf(results, tmp_path / "perf.png").stat().st_size > 1000
    assert plot_perf({}, tmp_path / "none.png") is None
