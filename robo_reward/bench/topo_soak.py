"""topo_mapper over real DDS for minutes (issue #9): latency from a scan's stamp to the intrinsic
reward and subgoal it produces, updates dropped while the inputs are complete, and the memory and
CPU of the mapper process, with odometry and a LaserScan at 20 Hz from a moving rover.

Two processes on a private ``ROS_DOMAIN_ID`` (discovery limited to this machine), as on a robot:
``topo_mapper`` (its shipped parameters: 36 beams, 3 m, markers every 5 updates, exploring
without a goal) and ``robo_reward_ros.scan_player``, which plays a frontier explorer's drive
through a MazeNavEnv maze (recorded here, before the run: odometry and lidar of every env step)
as ``odom`` + ``scan`` in real time, forward then backward so the pose never jumps and the
mapper keeps one map all run long. The player listens to the mapper's outputs: the waypoint and
subgoal carry the scan's stamp, so their latency is measured on the subscriber's side
(receive time - stamp, one clock); the unstamped intrinsic reward is paired with the waypoint
of the same update (the k-th of each, both reliable). It samples the mapper's RSS and CPU time
once a second.

**Target**: p99 of scan stamp -> intrinsic reward received <= 50 ms, one scan period at 20 Hz.
A mapper slower than that falls behind its lidar: scans queue (and, with sensor-data QoS, the
oldest are lost), so every later subgoal comes from an older scan. Nothing else in the rover
stack (the policy steering to the waypoint at 10-20 Hz) needs it sooner. Dropped updates
(scans sent - updates received) should be 0: every scan has its odometry, so each one must make
an update. Memory: the RSS growth after a 10% warm-up, against
:data:`~robo_reward.bench.ros_perf.RSS_GROWTH_LIMIT_MB` (the map itself stays bounded: the drive
revisits the same corridors).

Like :mod:`robo_reward.bench.ros_perf` (whose process, domain and RSS helpers this uses), this
module never imports rclpy: where the ROS wheels are absent the run is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robo_reward.bench.ros_perf import (
    RSS_GROWTH_LIMIT_MB,
    _config_dict,
    _fmt,
    ros_available,
    rss_growth,
    run_against_player,
)

__all__ = [
    "LATENCY_P99_TARGET_MS",
    "TopoSoakConfig",
    "make_rollout",
    "run_topo_soak",
    "topo_soak_markdown",
]

LATENCY_P99_TARGET_MS = 50.0
"""Scan stamp -> intrinsic reward p99: one scan period at 20 Hz (see the module docstring)."""
MAPPER_NODE = "topo_mapper"
TOPO_MODULES = ("nav_msgs", "geometry_msgs", "visualization_msgs")
"""Messages topo_mapper needs beyond those :func:`ros_available` checks."""


@dataclass(frozen=True)
class TopoSoakConfig:
    """The topo_mapper soak: a rover drive played into topo_mapper over DDS."""

    enabled: bool = True
    """Run it (skipped with the reason where rclpy is not installed)."""
    seconds: float = 300.0
    """Time the player sends, after topo_mapper is ready (start-up takes a few seconds more)."""
    rate_hz: float = 20.0
    """Odometry + scan pairs per second (a typical 2D lidar's rate)."""
    task: str = "maze_medium"
    """Navigation task the drive is recorded in (a MazeNavEnv maze)."""
    maze_seed: int = 0
    """Maze (and episode) seed of the recorded drive."""
    rollout_steps: int = 1500
    """Env steps recorded at most (the explorer may reach the goal sooner: maze_medium seed 0
    takes 394 steps, 20 s at 20 Hz each way)."""
    start_timeout: float = 120.0
    """Seconds topo_mapper may take to start and subscribe before the run fails."""

    def __post_init__(self) -> None:
        if not self.seconds > 0 or not self.rate_hz > 0 or not self.start_timeout > 0:
            raise ValueError("seconds, rate_hz and start_timeout must be > 0")
        if self.rollout_steps < 2:
            raise ValueError(f"rollout_steps must be >= 2, got {self.rollout_steps}")


def make_rollout(path: Path, task: str = "maze_medium", maze_seed: int = 0, steps: int = 1500):
    """Record a frontier explorer's drive through ``task`` (odometry, lidar of every step) as
    the ``.npz`` the scan player plays; returns the path."""
    from robo_reward.sim.nav import make_nav_env
    from robo_reward.topo.explorer import FrontierExplorer

    env = make_nav_env(task, maze_seed=maze_seed)
    try:
        observation, _ = env.reset(seed=maze_seed)
        explorer = FrontierExplorer()
        odometry, lidar = [observation["odometry"]], [observation["lidar"]]
        for _ in range(steps - 1):
            observation, _, terminated, truncated, _ = env.step(explorer.act(observation))
            odometry.append(observation["odometry"])
            lidar.append(observation["lidar"])
            if terminated or truncated:
                break
        lidar_range = float(env.unwrapped.lidar_range)
    finally:
        env.close()
    np.savez(path, odometry=np.array(odometry), lidar=np.array(lidar), lidar_range=lidar_range)
    return path


def run_topo_soak(config: TopoSoakConfig, workdir: str | Path | None = None) -> dict[str, Any]:
    """The soak: the measured figures, or ``{"skipped": reason}`` where ROS is absent (or the
    config disables it). ``workdir`` keeps the rollout, parameter files, logs and the player's
    report (default: a temporary folder, removed). Raises
    :class:`~robo_reward.bench.ros_perf.RosPerfError` when a node dies, is not ready in time,
    or the run overruns."""
    if not config.enabled:
        return {"skipped": "disabled in the config", "config": _config_dict(config)}
    available, reason = ros_available()
    missing = [name for name in TOPO_MODULES if importlib.util.find_spec(name) is None]
    if available and missing:
        available, reason = False, f"ROS 2 message wheels missing: {', '.join(missing)}"
    if not available:
        return {"skipped": reason, "config": _config_dict(config)}
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="robo_reward_topo_soak_") as tmp:
            result = _run_in(Path(tmp), config)
        return {**result, "workdir": None, "config": _config_dict(config)}
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    return {**_run_in(folder, config), "config": _config_dict(config)}


def _run_in(folder: Path, config: TopoSoakConfig) -> dict[str, Any]:
    rollout = make_rollout(
        folder / "rollout.npz", config.task, config.maze_seed, config.rollout_steps
    )
    report, load, mapper_status = run_against_player(
        MAPPER_NODE,
        {},
        "scan_player",
        {
            "rollout": str(rollout),
            "rate_hz": float(config.rate_hz),
            "seconds": float(config.seconds),
            "mapper": f"/{MAPPER_NODE}",
            "diagnostics_name": MAPPER_NODE,
            "start_timeout": float(config.start_timeout),
        },
        folder,
        config.seconds + config.start_timeout + 60.0,
    )
    return summarise(report, load, mapper_status, folder)


def summarise(
    report: dict[str, Any], load: list[float], mapper_status: int, workdir: Path | None
) -> dict[str, Any]:
    """The player's report plus the figures the table shows."""
    latency = report["latency_ms"]
    reward = latency["intrinsic_reward"]
    values = (report["diagnostics"].get("last") or {}).get("values", {})
    sent, updates = report["scans_sent"], report["updates_received"]
    growth = rss_growth(report["rss"]["t_s"], report["rss"]["mb"])
    p99 = reward["p99"]
    series = np.asarray(report.pop("latency_series_ms"), dtype=float)
    windows = [
        float(np.percentile(chunk, 99))
        for chunk in np.array_split(series, max(1, len(series) // 1000))
        if chunk.size
    ]
    return {
        **report,
        "latency_p50_ms": reward["p50"],
        "latency_p99_ms": p99,
        "latency_max_ms": reward["max"],
        "subgoal_latency_p50_ms": latency["subgoal"]["p50"],
        "subgoal_latency_p99_ms": latency["subgoal"]["p99"],
        "waypoint_latency_p99_ms_worst_window": max(windows) if windows else None,
        "update_ms_p50": report["diagnostics"]["update_ms_p50"],
        "update_ms_p99": report["diagnostics"]["update_ms_p99"],
        "target_p99_ms": LATENCY_P99_TARGET_MS,
        "p99_to_target": None if p99 is None else p99 / LATENCY_P99_TARGET_MS,
        "meets_target": p99 is not None and p99 <= LATENCY_P99_TARGET_MS,
        "updates_dropped": sent - updates,
        "rewards_dropped": sent - report["rewards_received"],
        "mapper_dropped_scans": _int(values.get("dropped_scans")),
        "mapper_lost": values.get("lost", ""),
        "mapper_refused": values.get("refused", ""),
        "map_nodes": _int(values.get("nodes")),
        "map_resets": _int(values.get("map_resets")),
        "relocalisations": _int(values.get("relocalisations")),
        "rss_growth": growth,
        "rss_stable": growth["growth_mb"] is not None
        and growth["growth_mb"] <= RSS_GROWTH_LIMIT_MB,
        "cpu_mean_percent": report["cpu"]["mean_percent"],
        "load_average_1min": {
            "mean": float(np.mean(load)) if load else None,
            "max": float(np.max(load)) if load else None,
            "cpu_count": os.cpu_count(),
        },
        "topo_mapper_exit_status": mapper_status,
        "workdir": None if workdir is None else str(workdir),
    }


def _int(text: str | None) -> int | None:
    try:
        return None if text in (None, "") else int(text)
    except ValueError:
        return None


def topo_soak_markdown(result: dict[str, Any]) -> str:
    """The section of ``results.md``: latency against the target, dropped updates, memory,
    CPU."""
    config = result["config"]
    title = (
        f"### ROS topo_mapper soak, odometry + LaserScan at {config['rate_hz']:g} Hz for "
        f"{config['seconds']:g} s\n\n"
    )
    if "skipped" in result:
        return title + f"Skipped: {result['skipped']}\n"
    from robo_reward.bench.results import markdown_table

    target = result["target_p99_ms"]
    growth = result["rss_growth"]
    load = result["load_average_1min"]
    worst = result["waypoint_latency_p99_ms_worst_window"]
    rows = [
        ["scan stamp -> intrinsic reward p50", _fmt(result["latency_p50_ms"], ".1f", " ms"),
         "", ""],
        [
            "scan stamp -> intrinsic reward p99",
            _fmt(result["latency_p99_ms"], ".1f", " ms"),
            f"<= {target:.0f} ms",
            _fmt(result["p99_to_target"], ".2f"),
        ],
        [
            "scan stamp -> subgoal p50 / p99",
            f"{_fmt(result['subgoal_latency_p50_ms'], '.1f')} / "
            f"{_fmt(result['subgoal_latency_p99_ms'], '.1f')} ms",
            f"<= {target:.0f} ms (p99)",
            "",
        ],
        [
            "waypoint latency p99, worst 1000-update window",
            _fmt(worst, ".1f", " ms"),
            f"<= {target:.0f} ms",
            _fmt(None if worst is None else worst / target, ".2f"),
        ],
        [
            "map update compute p50 / p99 (mapper's diagnostics)",
            f"{_fmt(result['update_ms_p50'], '.1f')} / {_fmt(result['update_ms_p99'], '.1f')} ms",
            "",
            "",
        ],
        [
            "updates dropped (scans sent - updates received)",
            f"{result['updates_dropped']} of {result['scans_sent']}",
            "0",
            "",
        ],
        [
            "intrinsic rewards dropped",
            f"{result['rewards_dropped']} of {result['scans_sent']}",
            "0",
            "",
        ],
        [
            "topo_mapper RSS growth (after 10% warm-up)",
            f"{_fmt(growth['growth_mb'], '+.1f', ' MB')}, "
            f"{_fmt(growth['slope_mb_per_min'], '+.2f', ' MB/min')}",
            f"<= {RSS_GROWTH_LIMIT_MB:.0f} MB",
            "",
        ],
        ["topo_mapper CPU (mean, one core = 100%)", _fmt(result["cpu_mean_percent"], ".0f", "%"),
         "", ""],
    ]  # fmt: skip
    verdict = "meets" if result["meets_target"] else "MISSES"
    timing = result["send_timing"]
    return (
        title
        + markdown_table(["measurement", "value", "target", "p99 / target"], rows)
        + f"\n{result['scans_sent']} scans sent ({_fmt(timing['achieved_rate_hz'], '.1f')} Hz "
        f"achieved, {timing['skipped_deadlines']} deadlines skipped) from a "
        f"{result['rollout_steps']}-step frontier-explorer drive in {config['task']} (seed "
        f"{config['maze_seed']}), played forward and back ({result['turns']} turns); the mapper "
        f"reported {_fmt(result['mapper_dropped_scans'], 'd')} scans dropped waiting for "
        f"odometry, lost inputs [{result['mapper_lost'] or 'none'}], refused "
        f"[{result['mapper_refused'] or 'none'}], {_fmt(result['map_nodes'], 'd')} map nodes, "
        f"{_fmt(result['map_resets'], 'd')} map resets, "
        f"{_fmt(result['relocalisations'], 'd')} relocalisations; peak RSS "
        f"{_fmt(growth['peak_mb'], '.0f', ' MB')}. p99 {verdict} the target "
        f"({target:.0f} ms: one scan period at {config['rate_hz']:g} Hz, so the map keeps up "
        f"with the lidar). Load average (1 min) during the run: mean "
        f"{_fmt(load['mean'], '.1f')}, max {_fmt(load['max'], '.1f')} on {load['cpu_count']} "
        "CPUs.\n"
    )
