"""The topo_mapper soak (``robo_reward.bench.topo_soak``): a short real run over DDS (topo_mapper
and the scan player as processes) reports every figure the table shows; the config is checked;
without ROS it is skipped with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robo_reward.bench import topo_soak
from robo_reward.bench.ros_perf import ros_available
from robo_reward.bench.topo_soak import (
    LATENCY_P99_TARGET_MS,
    TopoSoakConfig,
    run_topo_soak,
    topo_soak_markdown,
)

FIGURES = {
    "scans_sent", "updates_received", "rewards_received", "subgoals_received", "latency_ms",
    "send_timing", "diagnostics", "rss", "cpu", "latency_p50_ms", "latency_p99_ms",
    "subgoal_latency_p50_ms", "subgoal_latency_p99_ms", "waypoint_latency_p99_ms_worst_window",
    "update_ms_p50", "update_ms_p99", "target_p99_ms", "p99_to_target", "meets_target",
    "updates_dropped", "rewards_dropped", "mapper_dropped_scans", "mapper_lost", "rss_growth",
    "rss_stable", "cpu_mean_percent", "load_average_1min", "topo_mapper_exit_status", "config",
}  # fmt: skip


def test_short_soak_over_dds_reports_every_figure(tmp_path: Path) -> None:
    available, reason = ros_available()
    if not available:
        pytest.skip(reason)
    seconds, rate = 5.0, 20.0
    config = TopoSoakConfig(seconds=seconds, rate_hz=rate, rollout_steps=60)
    result = run_topo_soak(config, workdir=tmp_path)
    assert FIGURES <= set(result), f"missing: {FIGURES - set(result)}"
    assert result["complete"] and result["error"] is None
    assert result["rollout_steps"] == 60 and result["turns"] >= 1  # played forward and back
    assert abs(result["scans_sent"] - rate * seconds) <= 0.2 * rate * seconds
    # every scan has its odometry: each one is an update, with its reward and subgoal
    assert result["updates_dropped"] <= 2, result["updates_dropped"]
    assert result["rewards_dropped"] == result["scans_sent"] - result["rewards_received"]
    assert result["mapper_dropped_scans"] == 0 and result["relocalisations"] == 0
    assert result["map_resets"] == 0 and result["map_nodes"] >= 1
    assert 0 < result["latency_p50_ms"] <= result["latency_p99_ms"] < 1000
    assert result["subgoal_latency_p50_ms"] <= result["subgoal_latency_p99_ms"]
    assert result["p99_to_target"] == pytest.approx(
        result["latency_p99_ms"] / LATENCY_P99_TARGET_MS
    )
    assert len(result["rss"]["mb"]) >= seconds - 1 and min(result["rss"]["mb"]) > 50
    assert result["rss_growth"]["growth_mb"] is not None
    assert 0 < result["cpu_mean_percent"] < 200
    assert result["send_timing"]["achieved_rate_hz"] == pytest.approx(rate, rel=0.2)
    assert result["topo_mapper_exit_status"] == 0
    assert json.loads((tmp_path / "scan_player_report.json").read_text())["complete"]
    assert "Traceback" not in (tmp_path / "topo_mapper.log").read_text()
    markdown = topo_soak_markdown(result)
    assert "odometry + LaserScan at 20 Hz for 5 s" in markdown and "p99 / target" in markdown
    assert "<= 50 ms" in markdown


def test_config_is_checked_and_a_disabled_or_rosless_run_is_skipped(monkeypatch) -> None:
    for bad in ({"seconds": 0}, {"rate_hz": -1.0}, {"rollout_steps": 1}):
        with pytest.raises(ValueError):
            TopoSoakConfig(**bad)
    skipped = run_topo_soak(TopoSoakConfig(enabled=False))
    assert skipped["skipped"] == "disabled in the config"
    assert "Skipped: disabled" in topo_soak_markdown(skipped)
    monkeypatch.setattr(topo_soak, "ros_available", lambda: (False, "no rclpy here"))
    result = run_topo_soak(TopoSoakConfig(seconds=1))
    assert result["skipped"] == "no rclpy here" and result["config"]["seconds"] == 1
