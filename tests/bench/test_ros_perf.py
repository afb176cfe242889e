"""The ROS grm_reward measurement of ``bench perf`` / ``bench soak``: a short real run over DDS
(grm_reward and the camera player as processes) reports every figure the tables show, and the
RSS-growth arithmetic tells a steady process from a leaking one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robo_reward.bench import ros_perf, suites
from robo_reward.bench.ros_perf import (
    RosPerfConfig,
    ros_available,
    ros_perf_markdown,
    rss_growth,
    run_grm_latency,
)

REPORT_FIELDS = {
    "complete", "error", "views", "compressed", "rate_hz", "seconds", "episode_frames",
    "ready_s", "steps_sent", "episodes", "rewards_expected", "rewards_received", "send_timing",
    "diagnostics", "diagnostics_series", "rss",
}  # fmt: skip
DERIVED_FIELDS = {
    "latency_p50_ms", "latency_p99_ms", "latency_p99_ms_worst_window", "compute_p50_ms",
    "compute_p99_ms", "target_p99_ms", "p99_to_target", "meets_target", "rewards_dropped",
    "rss_growth", "rss_stable", "load_average_1min", "grm_reward_exit_status", "workdir",
}  # fmt: skip


def test_short_run_over_dds_reports_every_figure(tmp_path: Path) -> None:
    available, reason = ros_available()
    if not available:
        pytest.skip(reason)
    seconds, rate = 6.0, 30.0
    result = run_grm_latency(seconds=seconds, rate_hz=rate, workdir=tmp_path)
    fields = REPORT_FIELDS | DERIVED_FIELDS
    assert fields <= set(result), f"missing: {fields - set(result)}"
    assert result["complete"] and result["error"] is None
    assert result["views"] == ["front", "side", "wrist"]
    assert abs(result["steps_sent"] - rate * seconds) <= 0.2 * rate * seconds
    expected = result["rewards_expected"]
    # one reward-less first step per episode (a loop of the played episode)
    assert expected == result["steps_sent"] - result["episodes"] and result["episodes"] >= 2
    assert result["rewards_received"] > 0.8 * expected
    assert result["rewards_dropped"] == expected - result["rewards_received"]
    assert 0 < result["latency_p50_ms"] <= result["latency_p99_ms"]
    assert result["compute_p50_ms"] <= result["compute_p99_ms"]
    assert result["p99_to_target"] == pytest.approx(result["latency_p99_ms"] / 50.0)
    assert len(result["rss"]["mb"]) >= seconds - 1 and min(result["rss"]["mb"]) > 50
    assert result["rss_growth"]["growth_mb"] is not None
    assert result["send_timing"]["achieved_rate_hz"] == pytest.approx(rate, rel=0.2)
    assert result["grm_reward_exit_status"] == 0
    assert json.loads((tmp_path / "camera_player_report.json").read_text())["complete"]
    assert "Traceback" not in (tmp_path / "grm_reward.log").read_text()
    config = {"views": result["views"], "rate_hz": rate, "compressed": False, "seconds": seconds}
    markdown = ros_perf_markdown({**result, "config": config})
    assert "3 cameras at 30 Hz" in markdown and "p99 / target" in markdown


def test_rss_growth_flat_series_is_near_zero() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(300.0)
    mb = 400.0 + rng.normal(0.0, 0.5, t.size)
    growth = rss_growth(t, mb)
    assert abs(growth["growth_mb"]) < 0.5 and abs(growth["slope_mb_per_min"]) < 0.2
    assert growth["samples"] == 300 and growth["samples_after_warmup"] == 270


def test_rss_growth_leak_gives_positive_slope_in_mb_per_minute() -> None:
    t = np.arange(300.0)
    mb = 400.0 + 2.0 * t / 60.0  # 2 MB a minute
    growth = rss_growth(t, mb)
    assert growth["slope_mb_per_min"] == pytest.approx(2.0)
    # medians of the last and first 20% (54 samples each) of the 270 after warm-up
    assert growth["growth_mb"] == pytest.approx(2.0 * (270 - 54) / 60.0)
    assert growth["peak_mb"] == pytest.approx(mb.max())


def test_rss_growth_ignores_the_warm_up_and_short_series() -> None:
    t = np.arange(100.0)
    mb = np.where(t < 10, 300.0, 350.0)  # caches filling in the first 10% are not growth
    assert rss_growth(t, mb)["growth_mb"] == pytest.approx(0.0)
    assert rss_growth(t, mb, warmup_fraction=0.0)["growth_mb"] > 0
    short = rss_growth([0.0, 1.0], [1.0, 2.0])
    assert short["growth_mb"] is None and short["slope_mb_per_min"] is None
    assert rss_growth([], [])["peak_mb"] is None
    with pytest.raises(ValueError, match="differ in length"):
        rss_growth([0.0, 1.0], [1.0])


def test_without_rclpy_the_suite_section_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ros_perf, "ros_available", lambda: (False, "no rclpy on this machine"))
    run_dir, markdown = suites.run_suite(
        "soak", tmp_path, overrides=["ros.seconds=5", "topo.enabled=false"]
    )
    assert "ROS grm_reward, 3 cameras at 30 Hz" in markdown
    assert "Skipped: no rclpy on this machine" in markdown
    payload = json.loads((run_dir / "results.json").read_text())
    assert payload["results"]["ros"]["skipped"] == "no rclpy on this machine"
    assert payload["config"]["ros"]["seconds"] == 5.0 and payload["results"]["complete"]


def test_config_defaults_and_validation() -> None:
    assert suites.PerfSuiteConfig().ros.seconds == 20.0
    assert suites.SoakSuiteConfig().ros.seconds == 300.0
    with pytest.raises(ValueError):
        RosPerfConfig(seconds=0)
    with pytest.raises(ValueError):
        RosPerfConfig(views=())
