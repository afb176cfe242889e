"""grm_reward over real DDS in the ``perf`` and ``soak`` suites: end-to-end latency, dropped
rewards and memory, with 3 cameras at 30 Hz (issue #7: p99 <= 50 ms on 2 cores; over a 5-minute
run memory does not grow and no reward is dropped while inputs are complete).

Two processes on a private ``ROS_DOMAIN_ID`` (discovery limited to this machine), as on a robot:
grm_reward (``autostart``, the shipped general GRM, a scripted push demo as its reference) and
``robo_reward_ros.camera_player``, which plays another push episode of the scripted expert on the
camera topics in real time, looping it with an episode message at each loop start, counts the
rewards that come back, reads grm_reward's ``/diagnostics`` and samples grm_reward's RSS once a
second. Latency is grm_reward's own stamp -> reward figure (the capture stamp of a step to the
moment its reward is ready to publish, on the same clock as the stamps), the percentiles of its
last 1000 steps as its diagnostics give them; the worst of the once-a-second windows is kept too.

This module never imports rclpy: the nodes are separate processes (the ROS package from its source
folder when it is not installed, as ``robo-reward ros up`` does), and :func:`ros_available` says
why the measurement is skipped where the wheels are absent.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

LATENCY_P99_TARGET_MS = 50.0
"""Issue #7: stamp -> reward publish p99 with 3 cameras at 30 Hz on 2 cores."""
RSS_GROWTH_LIMIT_MB = 10.0
"""What counts as "memory does not grow" over a run: Python's allocator and glibc arenas move the
RSS of a steady process by a few MB, a leak of one frame per step (27 KB at 30 Hz) adds ~50 MB
a minute."""
TASK = "push"
"""The shipped GRM follows push best (see tests/ros/test_ros_arm_pipeline.py)."""
REFERENCE_SEED, PLAYED_SEED = 1000, 0
EPISODE_TOPIC = "bench/episode"
GRM_NODE = "grm_reward"
MAX_DOMAIN_ID = 232
"""The largest domain whose Fast DDS ports stay below 65536."""
ROS_MODULES = ("rclpy", "std_msgs", "sensor_msgs", "diagnostic_msgs", "std_srvs", "lifecycle_msgs")


class RosPerfError(RuntimeError):
    """The measurement could not be made: a node died, never became ready, or did not stop."""


@dataclass(frozen=True)
class RosPerfConfig:
    """The grm_reward measurement of ``bench perf`` (20 s) and ``bench soak`` (300 s)."""

    enabled: bool = True
    """Run it (skipped with the reason where rclpy is not installed)."""
    seconds: float = 20.0
    """Time the cameras send, after grm_reward is ready (start-up takes 10-30 s more)."""
    views: tuple[str, ...] = ("front", "side", "wrist")
    """Camera views, one topic each (views of the GRM checkpoint)."""
    rate_hz: float = 30.0
    """Camera rate: every view once per step."""
    compressed: bool = False
    """JPEG CompressedImage topics instead of raw rgb8 Image (96x96 frames either way)."""
    start_timeout: float = 180.0
    """Seconds grm_reward may take to load and subscribe before the run fails."""

    def __post_init__(self) -> None:
        if not self.seconds > 0 or not self.rate_hz > 0 or not self.start_timeout > 0:
            raise ValueError("seconds, rate_hz and start_timeout must be > 0")
        if not self.views:
            raise ValueError("views is empty: give at least one camera view")


# ------------------------------------------------------------------------------- environment
def ros_available() -> tuple[bool, str]:
    """Whether the ROS 2 wheels and the robo_reward_ros package are here; if not, why not."""
    from robo_reward.ros_up import INSTALL_HINT, installed_package_dir, ros_package_source

    missing = [name for name in ROS_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        return False, f"ROS 2 wheels not installed (no {', '.join(missing)}): {INSTALL_HINT}"
    if installed_package_dir() is None and ros_package_source() is None:
        return False, (
            "the ROS package robo_reward_ros is neither installed nor in this checkout "
            "(ros2_ws/src/robo_reward_ros)"
        )
    return True, ""


@contextmanager
def claimed_domain_id():
    """A ROS domain no other run on this machine uses while this one lasts: a lock file per domain,
    the same files the ROS tests claim, so a benchmark and a test run never hear each other."""
    start = os.getpid() * 7 + 3
    for offset in range(MAX_DOMAIN_ID):
        domain = 1 + (start + offset) % MAX_DOMAIN_ID
        handle = open(Path(tempfile.gettempdir()) / f"robo_reward_ros_domain_{domain}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            yield domain
        finally:
            handle.close()
        return
    raise RosPerfError(f"all ROS domains 1..{MAX_DOMAIN_ID} are in use on this machine")


def node_env(domain_id: int) -> dict[str, str]:
    """Environment of a node process: the private domain, local discovery, the package on the
    path, unbuffered output.

    The checkout's own ``ros2_ws/src/robo_reward_ros`` goes first on ``PYTHONPATH`` whenever
    there is one, so the nodes measured are those of the robo_reward being benchmarked (an
    installed copy is used otherwise). Whether ``robo_reward_ros`` is importable *here* says
    nothing about the node processes: a test may have put the source on this ``sys.path`` only.
    """
    from robo_reward.ros_up import ros_package_source

    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in favour of the discovery range
    source = ros_package_source()
    if source is not None:
        paths = (str(source), env.get("PYTHONPATH", ""))
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Node:
    """``python -m robo_reward_ros.<module> --ros-args --params-file <yaml>``, output to a log."""

    def __init__(self, module: str, params: dict[str, Any], env: dict[str, str], folder: Path):
        self.name = module
        params_file = folder / f"{module}_params.yaml"
        params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
        self.log_path = folder / f"{module}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        argv = [sys.executable, "-m", f"robo_reward_ros.{module}", "--ros-args"]
        self.process = subprocess.Popen(
            [*argv, "--params-file", str(params_file)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the benchmark is forwarded once, by stop()
        )

    def tail(self, chars: int = 3000) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 15.0) -> int:
        """SIGINT, then SIGTERM and SIGKILL after ``timeout`` s each; the exit status."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
        code = self.process.wait()
        self._log.close()
        return code


# ------------------------------------------------------------------------------- the run
def make_episodes(folder: Path, views: Sequence[str]) -> tuple[Path, Path]:
    """A reference demo and an episode to play, from the scripted push expert (two seeds: other
    placement and appearance), as trajectory ``.npz`` files in ``folder``."""
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    env_config = EnvConfig(cameras=tuple(views), image_size=96)
    reference = rollout(TASK, REFERENCE_SEED, env_config=env_config)
    played = rollout(TASK, PLAYED_SEED, env_config=env_config)
    return reference.save(folder / "reference.npz"), played.save(folder / "played.npz")


def run_grm_latency(
    seconds: float = 20.0,
    views: Sequence[str] = ("front", "side", "wrist"),
    rate_hz: float = 30.0,
    compressed: bool = False,
    workdir: str | Path | None = None,
    start_timeout: float = 180.0,
) -> dict[str, Any]:
    """Play ``views`` at ``rate_hz`` into grm_reward for ``seconds``; the player's report with the
    derived figures (see the module docstring). ``workdir`` keeps the demos, parameter files,
    logs and report (default: a temporary folder, removed). Raises :class:`RosPerfError` when a
    node dies, is not ready within ``start_timeout`` s, or the run overruns."""
    available, reason = ros_available()
    if not available:
        raise RosPerfError(reason)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="robo_reward_ros_perf_") as tmp:
            result = _run_in(Path(tmp), seconds, list(views), rate_hz, compressed, start_timeout)
        return {**result, "workdir": None}
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    return _run_in(folder, seconds, list(views), rate_hz, compressed, start_timeout)


def _run_in(
    folder: Path,
    seconds: float,
    views: list[str],
    rate_hz: float,
    compressed: bool,
    start_timeout: float,
) -> dict[str, Any]:
    reference, played = make_episodes(folder, views)
    suffix = "/compressed" if compressed else ""
    report, load, grm_status = run_against_player(
        GRM_NODE,
        {
            "views": views,
            "topics": [f"cam/{v}/image_raw{suffix}" for v in views],
            "reference_demo": str(reference),
            "episode_topic": EPISODE_TOPIC,
            "torch_threads": 1,
            "autostart": True,
        },
        "camera_player",
        {
            "trajectory": str(played),
            "views": views,
            "compressed": compressed,
            "rate_hz": float(rate_hz),
            "seconds": float(seconds),
            "episode_topic": EPISODE_TOPIC,
            "reward_topic": f"/{GRM_NODE}/reward",
            "diagnostics_name": GRM_NODE,
            "start_timeout": float(start_timeout),
        },
        folder,
        seconds + start_timeout + 60.0,
    )
    return summarise(report, load, grm_status, folder)


def run_against_player(
    node_name: str,
    node_params: dict[str, Any],
    player_name: str,
    player_params: dict[str, Any],
    folder: Path,
    timeout: float,
) -> tuple[dict[str, Any], list[float], int]:
    """Start the node under test, then a player node feeding it (told the node's pid to watch and
    where to write its JSON report), on a domain of their own; wait for the player to finish and
    stop both. Returns the player's report, the 1-minute load average sampled once a second, and
    the node's exit status; a clear error when either fails or the run overruns ``timeout``."""
    report_path = folder / f"{player_name}_report.json"
    report_path.unlink(missing_ok=True)
    with claimed_domain_id() as domain_id:
        env = node_env(domain_id)
        node = _Node(node_name, node_params, env, folder)
        player = None
        try:
            player = _Node(
                player_name,
                {**player_params, "watch_pid": node.process.pid, "out": str(report_path)},
                env,
                folder,
            )
            load = _wait(node, player, timeout)
            player_status = player.stop()
            node_status = node.stop()
        finally:
            for process in (player, node):
                if process is not None and process.process.poll() is None:
                    process.stop(timeout=5.0)
    if not report_path.is_file():
        raise RosPerfError(
            f"{player_name} exited with status {player_status} without a report:\n{player.tail()}"
        )
    import json

    report = json.loads(report_path.read_text())
    if player_status != 0 or not report["complete"]:
        raise RosPerfError(
            f"{player_name} failed (status {player_status}): {report.get('error')}\n"
            f"{player_name} log:\n{player.tail(1500)}\n{node_name} log:\n{node.tail(1500)}"
        )
    return report, load, node_status


def _wait(node: _Node, player: _Node, timeout: float) -> list[float]:
    """Until the player exits; fails when the node under test dies first or the run overruns.
    The 1-minute load average, sampled once a second (the machine's business during the run)."""
    load: list[float] = []
    deadline = time.monotonic() + timeout
    next_sample = time.monotonic()
    while player.process.poll() is None:
        if node.process.poll() is not None:
            code = node.process.returncode
            raise RosPerfError(
                f"{node.name} exited with status {code} during the run:\n{node.tail()}"
            )
        if time.monotonic() > deadline:
            raise RosPerfError(
                f"the run did not finish within {timeout:.0f} s\n{player.name} log:\n"
                f"{player.tail(1500)}\n{node.name} log:\n{node.tail(1500)}"
            )
        if time.monotonic() >= next_sample:
            load.append(os.getloadavg()[0])
            next_sample += 1.0
        time.sleep(0.1)
    return load


def rss_growth(
    t_s: Sequence[float],
    mb: Sequence[float],
    warmup_fraction: float = 0.1,
    edge_fraction: float = 0.2,
) -> dict[str, Any]:
    """How much a process's RSS grew over a run, robust to its noise.

    Samples in the first ``warmup_fraction`` of the run's time span are dropped (buffers and
    caches filling up is not growth); of the rest, ``growth_mb`` is the median of the last
    ``edge_fraction`` minus the median of the first ``edge_fraction`` of samples, and
    ``slope_mb_per_min`` the least-squares slope. None where fewer than 3 samples remain.
    """
    t = np.asarray(t_s, dtype=float)
    m = np.asarray(mb, dtype=float)
    if t.shape != m.shape:
        raise ValueError(f"t_s and mb differ in length: {t.size} vs {m.size}")
    result: dict[str, Any] = {
        "samples": int(t.size),
        "growth_mb": None,
        "slope_mb_per_min": None,
        "start_mb": None,
        "end_mb": None,
        "peak_mb": float(m.max()) if m.size else None,
    }
    if t.size == 0:
        return result
    keep = t >= t[0] + warmup_fraction * (t[-1] - t[0])
    t, m = t[keep], m[keep]
    result["samples_after_warmup"] = int(t.size)
    if t.size < 3:
        return result
    edge = max(1, int(round(edge_fraction * t.size)))
    start, end = float(np.median(m[:edge])), float(np.median(m[-edge:]))
    slope = float(np.polyfit(t / 60.0, m, 1)[0]) if np.ptp(t) > 0 else 0.0
    result.update(start_mb=start, end_mb=end, growth_mb=end - start, slope_mb_per_min=slope)
    return result


def summarise(
    report: dict[str, Any], load: Sequence[float], grm_status: int, workdir: Path | None
) -> dict[str, Any]:
    """The player's report plus the figures the tables show."""
    diagnostics = report["diagnostics"]
    series = report["diagnostics_series"]["rows"]
    warm = [row for row in series if row[0] >= 0.1 * report["seconds"] and row[2] is not None]
    p99 = diagnostics["latency_p99_ms"]
    expected, received = report["rewards_expected"], report["rewards_received"]
    growth = rss_growth(report["rss"]["t_s"], report["rss"]["mb"])
    return {
        **report,
        "latency_p50_ms": diagnostics["latency_p50_ms"],
        "latency_p99_ms": p99,
        "latency_p99_ms_worst_window": max((row[2] for row in warm), default=None),
        "compute_p50_ms": diagnostics["compute_p50_ms"],
        "compute_p99_ms": diagnostics["compute_p99_ms"],
        "target_p99_ms": LATENCY_P99_TARGET_MS,
        "p99_to_target": None if p99 is None else p99 / LATENCY_P99_TARGET_MS,
        "meets_target": p99 is not None and p99 <= LATENCY_P99_TARGET_MS,
        "rewards_dropped": expected - received,
        "rss_growth": growth,
        "rss_stable": growth["growth_mb"] is not None
        and growth["growth_mb"] <= RSS_GROWTH_LIMIT_MB,
        "load_average_1min": {
            "mean": float(np.mean(load)) if load else None,
            "max": float(np.max(load)) if load else None,
            "cpu_count": os.cpu_count(),
        },
        "grm_reward_exit_status": grm_status,
        "workdir": None if workdir is None else str(workdir),
    }


# ------------------------------------------------------------------------------- the suites
def run_ros_perf(config: RosPerfConfig) -> dict[str, Any]:
    """The suite section: the measurement, or ``{"skipped": reason}`` where ROS is absent."""
    available, reason = ros_available()
    if not available:
        return {"skipped": reason, "config": _config_dict(config)}
    result = run_grm_latency(
        config.seconds, config.views, config.rate_hz, config.compressed, None, config.start_timeout
    )
    return {**result, "config": _config_dict(config)}


def _config_dict(config: RosPerfConfig) -> dict[str, Any]:
    from robo_reward.config import config_to_dict

    return config_to_dict(config)


def _fmt(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def ros_perf_markdown(result: dict[str, Any]) -> str:
    """The section of ``results.md``: latency against the target, dropped rewards, memory."""
    config = result["config"]
    title = (
        f"### ROS grm_reward, {len(config['views'])} cameras at {config['rate_hz']:g} Hz "
        f"({'jpeg' if config['compressed'] else 'raw rgb8'})\n\n"
    )
    if "skipped" in result:
        return title + f"Skipped: {result['skipped']}\n"
    from robo_reward.bench.results import markdown_table

    target = result["target_p99_ms"]
    growth = result["rss_growth"]
    load = result["load_average_1min"]
    rows = [
        ["stamp -> reward latency p50", _fmt(result["latency_p50_ms"], ".1f", " ms"), "", ""],
        [
            "stamp -> reward latency p99",
            _fmt(result["latency_p99_ms"], ".1f", " ms"),
            f"<= {target:.0f} ms",
            _fmt(result["p99_to_target"], ".2f"),
        ],
        [
            "latency p99, worst 1000-step window",
            _fmt(result["latency_p99_ms_worst_window"], ".1f", " ms"),
            f"<= {target:.0f} ms",
            _fmt(
                None
                if result["latency_p99_ms_worst_window"] is None
                else result["latency_p99_ms_worst_window"] / target,
                ".2f",
            ),
        ],
        [
            "model compute p50 / p99",
            f"{_fmt(result['compute_p50_ms'], '.1f')} / {_fmt(result['compute_p99_ms'], '.1f')} ms",
            "",
            "",
        ],
        [
            "rewards dropped (expected - received)",
            f"{result['rewards_dropped']} of {result['rewards_expected']}",
            "0",
            "",
        ],
        [
            "grm_reward RSS growth (after 10% warm-up)",
            f"{_fmt(growth['growth_mb'], '+.1f', ' MB')}, "
            f"{_fmt(growth['slope_mb_per_min'], '+.2f', ' MB/min')}",
            f"<= {RSS_GROWTH_LIMIT_MB:.0f} MB",
            "",
        ],
    ]
    verdict = "meets" if result["meets_target"] else "MISSES"
    values = result["diagnostics"].get("last") or {}
    inputs = values.get("values", {})
    return (
        title
        + markdown_table(["measurement", "value", "target", "p99 / target"], rows)
        + f"\n{result['steps_sent']} steps sent in {config['seconds']:g} s "
        f"({_fmt(result['send_timing']['achieved_rate_hz'], '.1f')} Hz achieved, "
        f"{result['send_timing']['skipped_deadlines']} deadlines skipped), "
        f"{result['episodes']} loops of the {result['episode_frames']}-frame episode (one reward "
        f"episode each); grm_reward "
        f"dropped {inputs.get('dropped_frames', 'n/a')} frames and skipped "
        f"{inputs.get('skipped_steps', 'n/a')} steps; peak RSS "
        f"{_fmt(growth['peak_mb'], '.0f', ' MB')}. p99 {verdict} the target. Load average "
        f"(1 min) during the run: mean {_fmt(load['mean'], '.1f')}, max "
        f"{_fmt(load['max'], '.1f')} on {load['cpu_count']} CPUs.\n"
    )
