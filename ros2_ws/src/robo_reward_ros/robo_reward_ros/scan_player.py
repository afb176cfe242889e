"""scan_player: a recorded rover drive played as live odometry and laser scans, and what
topo_mapper makes of it.

The load generator of the topo_mapper soak (``robo_reward.bench.topo_soak``): it stands in for a
rover's odometry and lidar so topo_mapper's end-to-end latency, dropped updates, memory and CPU
can be measured over real DDS, in separate processes, as on a robot.

Plays
    a rollout ``.npz`` (arrays ``odometry`` ``(N, 6)``: x, y, cos yaw, sin yaw, v, omega, and
    ``lidar`` ``(N, beams)`` in metres, plus ``lidar_range``; e.g. a frontier explorer's drive
    through a MazeNavEnv maze) as ``odom`` (nav_msgs/Odometry, reliable) and ``scan``
    (sensor_msgs/LaserScan, sensor-data QoS) at ``rate_hz`` in real time for ``seconds``. The
    rollout is played forward, then backward (velocities negated), and so on, so the pose never
    jumps and the mapper keeps one map all run long. Each step publishes the odometry, then the
    scan, both stamped with the same capture time on the node clock. A step whose send time
    has passed by more than a period is skipped (counted), as a sensor does not queue missed
    readings.
Listens
    to the mapper's ``<mapper>/waypoint`` and ``<mapper>/subgoal`` (PoseStamped, stamped with the
    scan: the latency is receive time - stamp, on this node's clock) and
    ``<mapper>/intrinsic_reward`` (Float32, unstamped: the k-th reward is paired with the k-th
    waypoint, both published by the same update over reliable QoS), and ``/diagnostics`` (the
    last status whose name starts with ``diagnostics_name``, and every distinct problem it
    reported). Samples the resident memory (``/proc/<pid>/status`` VmRSS) and CPU time
    (``/proc/<pid>/stat``) of ``watch_pid`` once a second.
Writes
    a JSON report to ``out`` (temp file + rename) at the end, or on Ctrl-C / SIGTERM with
    ``complete: false``. Exit status 0 after a complete run, 1 when the mapper never became
    ready (``start_timeout``) or the run was interrupted, 2 for a bad parameter.

Run: ``python -m robo_reward_ros.scan_player --ros-args -p rollout:=drive.npz
-p out:=report.json -p watch_pid:=<topo_mapper pid>``
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import LaserScan
from std_msgs.msg import Float32

from robo_reward_ros.camera_player import parse_number, percentiles, read_rss_mb
from robo_reward_ros.common import COMMAND_QOS, SENSOR_QOS, NodeConfigError, declare, run_node
from robo_reward_ros.conversions import lidar_to_scan, odometry_to_msg, time_to_ns

PARAMETERS = {
    'rollout': ('', 'rollout .npz to play (odometry (N, 6), lidar (N, beams), lidar_range); '
                'required'),
    'rate_hz': (20.0, 'odometry + scan pairs per second'),
    'seconds': (300.0, 'how long to send, after the mapper is ready'),
    'mapper': ('/topo_mapper', 'full name of the mapper node (its ~/waypoint, ~/subgoal, '
               '~/intrinsic_reward are listened to)'),
    'diagnostics_name': ('topo_mapper', "prefix of the mapper's /diagnostics status name"),
    'watch_pid': (0, 'process whose VmRSS and CPU time are sampled once a second; 0: none'),
    'start_timeout': (60.0, 'seconds to wait for the mapper (subscribed, publishing) before '
                      'giving up with exit status 1'),
    'drain_s': (3.0, 'after the last step, wait up to this long for outstanding outputs and a '
                'diagnostic that covers the last step'),
    'out': ('scan_player_report.json', 'JSON report, written at the end (temp + rename)'),
}

OUTPUT_QOS = QoSProfile(depth=1000)
"""Reliable with a deep queue: a burst of outputs while this node sends is never lost here."""
DIAGNOSTIC_KEYS = ('update_ms_p50', 'update_ms_p99')


def read_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` in seconds (``/proc/<pid>/stat``), None once gone."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return None
    ticks = os.sysconf('SC_CLK_TCK')
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)


@dataclass
class RunState:
    """What one run sent and sampled; times are ``time.monotonic()`` seconds."""

    pid: int = 0
    ready_s: float = 0.0
    start: float = 0.0
    steps: int = 0
    turns: int = 0
    """Times the playback reversed direction."""
    skipped_deadlines: int = 0
    send_times: list[float] = field(default_factory=list)
    rss_t: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu_t: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)


class ScanPlayer(Node):
    """See the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('scan_player', **kwargs)
        params = {name: declare(self, name, default, description)
                  for name, (default, description) in PARAMETERS.items()}
        self.settings = self._check(params)
        self.odom_pub = self.create_publisher(Odometry, 'odom', COMMAND_QOS)
        self.scan_pub = self.create_publisher(LaserScan, 'scan', SENSOR_QOS)
        mapper = self.settings['mapper'].rstrip('/')
        self.waypoint_latency_ms: list[float] = []
        self.waypoint_stamps: list[int] = []
        self.subgoal_latency_ms: list[float] = []
        self.reward_receive_ns: list[int] = []
        self.waypoint_sub = self.create_subscription(
            PoseStamped, f'{mapper}/waypoint', self._on_waypoint, OUTPUT_QOS)
        self.create_subscription(PoseStamped, f'{mapper}/subgoal', self._on_subgoal, OUTPUT_QOS)
        self.create_subscription(
            Float32, f'{mapper}/intrinsic_reward', self._on_reward, OUTPUT_QOS)
        self.last_status: dict[str, Any] | None = None
        self.last_status_time = 0.0
        self.diagnostics_received = 0
        self.problems: dict[str, int] = {}
        """Distinct diagnostic messages at WARN or ERROR -> times seen."""
        self.levels = {0: 0, 1: 0, 2: 0, 3: 0}
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        self._t0 = time.monotonic()
        self.report: dict[str, Any] = {}

    # ------------------------------------------------------------------ set-up
    def _check(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params['rollout']:
            raise NodeConfigError('rollout is empty: give a rollout .npz to play')
        try:
            with np.load(params['rollout']) as data:
                odometry = np.asarray(data['odometry'], dtype=np.float64)
                lidar = np.asarray(data['lidar'], dtype=np.float64)
                lidar_range = float(data['lidar_range'])
        except (OSError, KeyError, ValueError) as error:
            raise NodeConfigError(f'cannot read rollout {params["rollout"]}: {error}') from None
        if odometry.ndim != 2 or odometry.shape[1] != 6 or lidar.ndim != 2 or len(
                lidar) != len(odometry) or len(odometry) < 2:
            raise NodeConfigError(
                f'rollout needs odometry (N, 6) and lidar (N, beams) with N >= 2, got '
                f'{odometry.shape} and {lidar.shape}')
        for name in ('rate_hz', 'seconds', 'start_timeout'):
            if not params[name] > 0:
                raise NodeConfigError(f'{name} must be > 0, got {params[name]}')
        if params['drain_s'] < 0:
            raise NodeConfigError('drain_s must be >= 0')
        if not params['out']:
            raise NodeConfigError('out is empty: give the path of the JSON report')
        backward = odometry[::-1].copy()
        backward[:, 4:] *= -1.0  # driving the same path backwards
        self._odometry = np.concatenate([odometry, backward[1:-1]])
        self._lidar = np.concatenate([lidar, lidar[::-1][1:-1]])
        self._turn_every = len(odometry) - 1
        self._lidar_range = lidar_range
        return params

    # ------------------------------------------------------------------ callbacks
    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_waypoint(self, msg: PoseStamped) -> None:
        stamp = time_to_ns(msg.header.stamp)
        self.waypoint_stamps.append(stamp)
        self.waypoint_latency_ms.append((self._now_ns() - stamp) / 1e6)

    def _on_subgoal(self, msg: PoseStamped) -> None:
        self.subgoal_latency_ms.append((self._now_ns() - time_to_ns(msg.header.stamp)) / 1e6)

    def _on_reward(self, msg: Float32) -> None:
        self.reward_receive_ns.append(self._now_ns())

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        prefix = self.settings['diagnostics_name']
        for status in msg.status:
            if not status.name.startswith(prefix):
                continue
            level = status.level[0] if isinstance(status.level, bytes) else int(status.level)
            self.diagnostics_received += 1
            self.levels[level] = self.levels.get(level, 0) + 1
            if level > 0:
                self.problems[status.message] = self.problems.get(status.message, 0) + 1
            self.last_status_time = time.monotonic()
            self.last_status = {
                'level': level,
                'message': status.message,
                'values': {kv.key: kv.value for kv in status.values},
            }

    # ------------------------------------------------------------------ running
    def _ready(self) -> bool:
        return (self.scan_pub.get_subscription_count() > 0
                and self.odom_pub.get_subscription_count() > 0
                and self.waypoint_sub.get_publisher_count() > 0)

    def run(self, executor: SingleThreadedExecutor, stop: threading.Event) -> int:
        """Wait for the mapper, send for ``seconds``, drain, write the report."""
        run = RunState(pid=int(self.settings['watch_pid']))
        error = self._wait_ready(executor, stop, run.pid)
        run.ready_s = time.monotonic() - self._t0
        if error is None and not stop.is_set():
            run.start = time.monotonic()
            self._send(executor, stop, run)
            self._drain(executor, stop, run)
        status = 0 if error is None and not stop.is_set() else 1
        if error is None and stop.is_set():
            error = 'interrupted before the end of the run'
        self.report = self._report(error, run)
        from robo_reward.data.atomic import atomic_write_json

        atomic_write_json(self.settings['out'], self.report)
        self.get_logger().info(
            f'sent {run.steps} scans, {len(self.waypoint_stamps)} updates came back; report '
            f'{self.settings["out"]}')
        if error is not None:
            self.get_logger().error(error)
        return status

    def _wait_ready(self, executor: SingleThreadedExecutor, stop: threading.Event,
                    pid: int) -> str | None:
        deadline = time.monotonic() + self.settings['start_timeout']
        while not self._ready() and not stop.is_set():
            if time.monotonic() > deadline:
                return (f'the mapper was not ready after {self.settings["start_timeout"]:g} s: '
                        f'subscribers of scan {self.scan_pub.get_subscription_count()}, of odom '
                        f'{self.odom_pub.get_subscription_count()}, publishers of the waypoint '
                        f'{self.waypoint_sub.get_publisher_count()}')
            if pid and read_rss_mb(pid) is None:
                return f'the watched process {pid} exited before the run started'
            executor.spin_once(timeout_sec=0.05)
        return None

    def _sample(self, run: RunState, now: float) -> None:
        if not run.pid:
            return
        rss, cpu = read_rss_mb(run.pid), read_cpu_seconds(run.pid)
        if rss is not None:
            run.rss_t.append(round(now - run.start, 3))
            run.rss_mb.append(round(rss, 3))
        if cpu is not None:
            run.cpu_t.append(round(now - run.start, 3))
            run.cpu_s.append(cpu)

    def _send(self, executor: SingleThreadedExecutor, stop: threading.Event,
              run: RunState) -> None:
        """Steps on a fixed schedule from ``run.start``, sampling once a second."""
        period = 1.0 / self.settings['rate_hz']
        steps = int(round(self.settings['seconds'] * self.settings['rate_hz']))
        frames = len(self._odometry)
        next_sample = run.start
        index = 0  # deadline index: step ``index`` is due at start + index * period
        position = 0  # row of the ping-pong playback sent next
        while index < steps and not stop.is_set():
            due = run.start + index * period
            now = time.monotonic()
            if now >= next_sample:
                self._sample(run, now)
                next_sample += 1.0
                continue
            if now < due:
                executor.spin_once(timeout_sec=min(due, next_sample) - now)
                continue
            if now > due + period:  # a missed reading is skipped, not sent late
                missed = int((now - due) / period)
                run.skipped_deadlines += missed
                index += missed
                continue
            row = position % frames
            if row % self._turn_every == 0 and position:
                run.turns += 1
            stamp = self._now_ns()
            self.odom_pub.publish(odometry_to_msg(self._odometry[row], stamp))
            self.scan_pub.publish(lidar_to_scan(self._lidar[row], self._lidar_range, stamp))
            run.send_times.append(time.monotonic())
            run.steps += 1
            position += 1
            index += 1
        self._sample(run, time.monotonic())

    def _drain(self, executor: SingleThreadedExecutor, stop: threading.Event,
               run: RunState) -> None:
        last_send = time.monotonic()
        deadline = last_send + self.settings['drain_s']
        while time.monotonic() < deadline and not stop.is_set():
            done = len(self.waypoint_stamps) >= run.steps and len(
                self.reward_receive_ns) >= run.steps
            if done and self.last_status_time > last_send:
                return
            executor.spin_once(timeout_sec=0.05)

    def _report(self, error: str | None, run: RunState) -> dict[str, Any]:
        times = run.send_times
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        paired = min(len(self.reward_receive_ns), len(self.waypoint_stamps))
        reward_latency = [(self.reward_receive_ns[k] - self.waypoint_stamps[k]) / 1e6
                          for k in range(paired)]
        cpu_percent = None
        if len(run.cpu_s) > 1 and run.cpu_t[-1] > run.cpu_t[0]:
            cpu_percent = 100.0 * (run.cpu_s[-1] - run.cpu_s[0]) / (run.cpu_t[-1] - run.cpu_t[0])
        values = (self.last_status or {}).get('values', {})
        return {
            'complete': error is None,
            'error': error,
            'rate_hz': self.settings['rate_hz'],
            'seconds': self.settings['seconds'],
            'rollout_steps': self._turn_every + 1,
            'beams': int(self._lidar.shape[1]),
            'ready_s': round(run.ready_s, 3),
            'scans_sent': run.steps,
            'turns': run.turns,
            'updates_received': len(self.waypoint_stamps),
            'rewards_received': len(self.reward_receive_ns),
            'subgoals_received': len(self.subgoal_latency_ms),
            'latency_ms': {
                'waypoint': percentiles(self.waypoint_latency_ms),
                'subgoal': percentiles(self.subgoal_latency_ms),
                'intrinsic_reward': percentiles(reward_latency),
            },
            'latency_series_ms': [round(v, 3) for v in self.waypoint_latency_ms],
            'send_timing': {
                'achieved_rate_hz': (len(times) - 1) / span if span > 0 else None,
                'skipped_deadlines': run.skipped_deadlines,
            },
            'diagnostics': {
                'received': self.diagnostics_received,
                'levels': {str(k): v for k, v in self.levels.items()},
                'problems': self.problems,
                **{key: parse_number(values.get(key)) for key in DIAGNOSTIC_KEYS},
                'last': self.last_status,
            },
            'rss': {'pid': run.pid or None, 't_s': run.rss_t, 'mb': run.rss_mb},
            'cpu': {'t_s': run.cpu_t, 'seconds': run.cpu_s, 'mean_percent': cpu_percent},
        }


def main(args: list[str] | None = None) -> int:
    """Init rclpy, build the player, run it to the end (or Ctrl-C), shut down: exit status."""
    return run_node(ScanPlayer, args, run=lambda node, executor, stop: node.run(executor, stop))


if __name__ == '__main__':
    raise SystemExit(main())
