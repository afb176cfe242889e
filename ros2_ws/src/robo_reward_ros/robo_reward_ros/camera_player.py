"""camera_player: a recorded episode played as live cameras, and what a reward node makes of it.

The load generator of ``robo-reward bench perf`` (section "ROS grm_reward"): it stands in for a
robot's cameras so grm_reward's end-to-end latency, dropped rewards and memory can be measured
over real DDS, in separate processes, as on a robot.

Plays
    a trajectory ``.npz`` (``robo_reward.data.Trajectory``) as one topic per view,
    ``cam/<view>/image_raw`` (``sensor_msgs/Image`` rgb8) or ``cam/<view>/image_raw/compressed``
    (``sensor_msgs/CompressedImage`` jpeg), sensor-data QoS, at ``rate_hz`` in real time for
    ``seconds``, looping the episode. Every view of a step carries the same header stamp, the
    capture time on the node clock, so grm_reward synchronises them as one step. Messages are
    built (and jpeg-encoded) once at start-up, so sending costs little CPU and the measurement
    is of the reward node, not of this player. A step whose send time has passed by more than a
    period is not sent late but skipped (counted), as a camera does not queue missed frames.
    With ``episode_topic`` set (grm_reward's own ``episode_topic``), a ``std_msgs/Int32`` is
    published at each loop start, so every loop is one reward episode; the first loop's message
    goes out before the first frame, while the player waits for its subscribers.
Listens
    to ``reward_topic`` (the reward node's ``~/reward``, full name) and ``/diagnostics`` (the
    last status whose name starts with ``diagnostics_name``; its latency and compute
    percentiles, once a second), and samples the resident memory of ``watch_pid``
    (``/proc/<pid>/status`` VmRSS) once a second.
Expected rewards
    grm_reward publishes no reward for the first step of an episode (it has no transition), so
    ``steps sent - episodes`` rewards are expected: one episode per loop with ``episode_topic``,
    otherwise one for the whole run.
Writes
    a JSON report to ``out`` (temp file + rename) at the end, or on Ctrl-C / SIGTERM with
    ``complete: false``: steps sent, rewards expected and received, the last diagnostics, the
    latency series, the RSS series (MB) and the player's own send-timing jitter. Exit status 0
    after a complete run, 1 when the reward node never became ready (``start_timeout``) or the
    run was interrupted, 2 for a bad parameter.

Run: ``python -m robo_reward_ros.camera_player --ros-args -p trajectory:=episode.npz
-p out:=report.json -p watch_pid:=<grm_reward pid>``
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import Float32, Int32

from robo_reward_ros.common import COMMAND_QOS, SENSOR_QOS, NodeConfigError, declare, run_node
from robo_reward_ros.images import rgb_to_compressed, rgb_to_image

PARAMETERS = {
    'trajectory': ('', 'trajectory .npz to play (robo_reward Trajectory.save); required'),
    'views': (['front', 'side', 'wrist'], 'views of the trajectory to publish, one topic each'),
    'compressed': (False, 'publish CompressedImage jpeg on cam/<view>/image_raw/compressed '
                   'instead of rgb8 Image on cam/<view>/image_raw'),
    'jpeg_quality': (90, 'jpeg quality of compressed images'),
    'rate_hz': (30.0, 'steps per second (every view once per step)'),
    'seconds': (20.0, 'how long to send, after the reward node is ready'),
    'episode_topic': ('', 'std_msgs/Int32 published at each loop start (the reward node\'s '
                      'episode_topic); empty: none, the run is one episode'),
    'reward_topic': ('/grm_reward/reward', 'the reward node\'s std_msgs/Float32 reward, full name'),
    'diagnostics_name': ('grm_reward', 'prefix of the reward node\'s /diagnostics status name'),
    'watch_pid': (0, 'process whose VmRSS is sampled once a second; 0: none'),
    'wait_for_subscribers': (1, 'subscribers every camera topic needs before sending starts'),
    'start_timeout': (120.0, 'seconds to wait for the reward node (subscribed, publishing) '
                      'before giving up with exit status 1'),
    'drain_s': (3.0, 'after the last step, wait up to this long for outstanding rewards and a '
                'diagnostic that covers the last step'),
    'out': ('camera_player_report.json', 'JSON report, written at the end (temp + rename)'),
}

REWARD_QOS = QoSProfile(depth=1000)
"""Reliable with a deep queue: a burst of rewards while this node sends is never lost here."""
DIAGNOSTIC_KEYS = ('latency_p50_ms', 'latency_p99_ms', 'compute_p50_ms', 'compute_p99_ms')


def read_rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MB (VmRSS), or None once the process is gone."""
    try:
        with open(f'/proc/{pid}/status') as status:
            for line in status:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def percentiles(samples: list[float]) -> dict[str, float | None]:
    """p50, p99, max and count of latency samples (None where there are none)."""
    if not samples:
        return {'p50': None, 'p99': None, 'max': None, 'count': 0}
    values = np.asarray(samples)
    p50, p99 = np.percentile(values, [50, 99])
    return {'p50': float(p50), 'p99': float(p99), 'max': float(values.max()),
            'count': int(values.size)}


@dataclass
class RunState:
    """What one run sent and sampled; times are ``time.monotonic()`` seconds."""

    pid: int = 0
    ready_s: float = 0.0
    start: float = 0.0
    steps: int = 0
    loops: int = 0
    """Episodes started: one per loop of the played trajectory (one in all without
    ``episode_topic``)."""
    skipped_deadlines: int = 0
    lateness_ms: list[float] = field(default_factory=list)
    send_times: list[float] = field(default_factory=list)
    rss_t: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def expected(self) -> int:
        """Rewards due: every step but the first of each episode."""
        return max(0, self.steps - self.loops)


class CameraPlayer(Node):
    """See the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('camera_player', **kwargs)
        params = {name: declare(self, name, default, description)
                  for name, (default, description) in PARAMETERS.items()}
        self.settings = self._check(params)
        self._messages = self._build_messages()
        suffix = '/compressed' if self.settings['compressed'] else ''
        kind = type(self._messages[0][0])
        self.cameras = [self.create_publisher(kind, f'cam/{view}/image_raw{suffix}', SENSOR_QOS)
                        for view in self.settings['views']]
        self.episode_pub = None
        if self.settings['episode_topic']:
            self.episode_pub = self.create_publisher(
                Int32, self.settings['episode_topic'], COMMAND_QOS)
        self.rewards_received = 0
        self.reward_sub = self.create_subscription(
            Float32, self.settings['reward_topic'], self._on_reward, REWARD_QOS)
        self.last_status: dict[str, Any] | None = None
        self.last_status_time = 0.0
        self.diagnostics_received = 0
        self.diagnostics_series: list[list[float | None]] = []
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        self._t0 = time.monotonic()
        self.report: dict[str, Any] = {}

    # ------------------------------------------------------------------ set-up
    def _check(self, params: dict[str, Any]) -> dict[str, Any]:
        """Parameters as used; NodeConfigError says what is wrong."""
        from robo_reward.data.trajectory import Trajectory

        if not params['trajectory']:
            raise NodeConfigError('trajectory is empty: give a trajectory .npz to play')
        try:
            trajectory = Trajectory.load(params['trajectory'])
        except (OSError, ValueError) as error:
            raise NodeConfigError(
                f'cannot read trajectory {params["trajectory"]}: {error}') from None
        views = list(params['views'])
        missing = [v for v in views if v not in trajectory.views]
        if not views or missing:
            raise NodeConfigError(
                f'views {views}: the trajectory has views {list(trajectory.views)}'
                + (f', not {missing}' if missing else ''))
        for name in ('rate_hz', 'seconds', 'start_timeout'):
            if not params[name] > 0:
                raise NodeConfigError(f'{name} must be > 0, got {params[name]}')
        if params['drain_s'] < 0 or params['wait_for_subscribers'] < 0:
            raise NodeConfigError('drain_s and wait_for_subscribers must be >= 0')
        if not 1 <= params['jpeg_quality'] <= 100:
            raise NodeConfigError(f'jpeg_quality must be in 1..100, got {params["jpeg_quality"]}')
        if not params['out']:
            raise NodeConfigError('out is empty: give the path of the JSON report')
        self._trajectory = trajectory
        return {**params, 'views': views}

    def _build_messages(self) -> list[list[Any]]:
        """Per frame, one message per view, built once (stamps are set at send time)."""
        frames = self._trajectory.frames
        messages = []
        for index in range(self._trajectory.num_frames):
            row = []
            for view in self.settings['views']:
                image = np.ascontiguousarray(frames[view][index])
                if self.settings['compressed']:
                    msg = rgb_to_compressed(image, 'jpeg', self.settings['jpeg_quality'],
                                            frame_id=view)
                else:
                    msg = rgb_to_image(image, 'rgb8', frame_id=view)
                row.append(msg)
            messages.append(row)
        self._trajectory = None  # the messages hold the pixels now
        return messages

    # ------------------------------------------------------------------ callbacks
    def _on_reward(self, msg: Float32) -> None:
        self.rewards_received += 1

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        prefix = self.settings['diagnostics_name']
        for status in msg.status:
            if not status.name.startswith(prefix):
                continue
            values = {kv.key: kv.value for kv in status.values}
            self.diagnostics_received += 1
            self.last_status_time = time.monotonic()
            self.last_status = {
                'level': int.from_bytes(status.level, 'little') if isinstance(
                    status.level, bytes) else int(status.level),
                'message': status.message,
                'values': values,
            }
            self.diagnostics_series.append(
                [round(self.last_status_time - self._t0, 3)]
                + [parse_number(values.get(key)) for key in DIAGNOSTIC_KEYS])

    # ------------------------------------------------------------------ running
    def _ready(self) -> bool:
        wanted = self.settings['wait_for_subscribers']
        cameras = all(p.get_subscription_count() >= wanted for p in self.cameras)
        episode = self.episode_pub is None or self.episode_pub.get_subscription_count() > 0
        return cameras and episode and self.reward_sub.get_publisher_count() > 0

    def run(self, executor: SingleThreadedExecutor, stop: threading.Event) -> int:
        """Wait for the reward node, send for ``seconds``, drain, write the report."""
        settings = self.settings
        run = RunState(pid=int(settings['watch_pid']))
        error = self._wait_ready(executor, stop, run.pid)
        run.ready_s = time.monotonic() - self._t0
        run.start = time.monotonic()
        if error is None and not stop.is_set():
            if self.episode_pub is not None:
                self.episode_pub.publish(Int32(data=0))
                run.loops = 1
            settle = time.monotonic() + 0.5  # the reset reaches the node before the first frame
            while time.monotonic() < settle:
                executor.spin_once(timeout_sec=0.05)
            run.start = time.monotonic()
            self._send(executor, stop, run)
            self._drain(executor, stop, run)
        status = 0 if error is None and not stop.is_set() else 1
        if error is None and stop.is_set():
            error = 'interrupted before the end of the run'
        self.report = self._report(error, run)
        from robo_reward.data.atomic import atomic_write_json

        atomic_write_json(settings['out'], self.report)
        self.get_logger().info(
            f'sent {run.steps} steps, received {self.rewards_received}/'
            f'{run.expected} rewards; report {settings["out"]}')
        if error is not None:
            self.get_logger().error(error)
        return status

    def _wait_ready(self, executor: SingleThreadedExecutor, stop: threading.Event,
                    pid: int) -> str | None:
        """Spin until the reward node listens and publishes; what went wrong, if anything."""
        settings = self.settings
        deadline = time.monotonic() + settings['start_timeout']
        while not self._ready() and not stop.is_set():
            if time.monotonic() > deadline:
                return (f'the reward node was not ready after {settings["start_timeout"]:g} s: '
                        f'camera subscribers {[p.get_subscription_count() for p in self.cameras]}'
                        f', publishers of {settings["reward_topic"]}: '
                        f'{self.reward_sub.get_publisher_count()}')
            if pid and read_rss_mb(pid) is None:
                return f'the watched process {pid} exited before the run started'
            executor.spin_once(timeout_sec=0.05)
        return None

    def _send(self, executor: SingleThreadedExecutor, stop: threading.Event,
              run: RunState) -> None:
        """Steps on a fixed schedule from ``run.start``, RSS once a second, spinning between."""
        settings = self.settings
        period = 1.0 / settings['rate_hz']
        steps = int(round(settings['seconds'] * settings['rate_hz']))
        frames = len(self._messages)
        next_sample = run.start
        index = 0  # deadline index: step ``index`` is due at start + index * period
        position = 0  # frame of the episode sent next
        while index < steps and not stop.is_set():
            due = run.start + index * period
            now = time.monotonic()
            if now >= next_sample:
                rss = read_rss_mb(run.pid) if run.pid else None
                if rss is not None:
                    run.rss_t.append(round(now - run.start, 3))
                    run.rss_mb.append(round(rss, 3))
                next_sample += 1.0
                continue
            if now < due:
                executor.spin_once(timeout_sec=min(due, next_sample) - now)
                continue
            if now > due + period:  # a missed frame is skipped, not sent late
                missed = int((now - due) / period)
                run.skipped_deadlines += missed
                index += missed
                continue
            if position == frames:
                position = 0
                if self.episode_pub is not None:
                    self.episode_pub.publish(Int32(data=run.loops))
                    run.loops += 1
            stamp = self.get_clock().now().to_msg()
            sent_at = time.monotonic()
            for publisher, msg in zip(self.cameras, self._messages[position], strict=True):
                msg.header.stamp = stamp
                publisher.publish(msg)
            run.lateness_ms.append(1000.0 * (sent_at - due))
            run.send_times.append(sent_at)
            run.steps += 1
            position += 1
            index += 1
        if self.episode_pub is None and run.steps:
            run.loops = 1

    def _drain(self, executor: SingleThreadedExecutor, stop: threading.Event,
               run: RunState) -> None:
        """Outstanding rewards, and a diagnostic published after the last step."""
        last_send = time.monotonic()
        deadline = last_send + self.settings['drain_s']
        while time.monotonic() < deadline and not stop.is_set():
            if self.rewards_received >= run.expected and self.last_status_time > last_send:
                return
            executor.spin_once(timeout_sec=0.05)

    def _report(self, error: str | None, run: RunState) -> dict[str, Any]:
        settings = self.settings
        times = run.send_times
        intervals = 1000.0 * np.diff(times) if len(times) > 1 else np.zeros(0)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        values = (self.last_status or {}).get('values', {})
        offset = run.start - self._t0
        return {
            'complete': error is None,
            'error': error,
            'views': settings['views'],
            'compressed': settings['compressed'],
            'rate_hz': settings['rate_hz'],
            'seconds': settings['seconds'],
            'episode_frames': len(self._messages),
            'episode_topic': settings['episode_topic'],
            'ready_s': round(run.ready_s, 3),
            'steps_sent': run.steps,
            'episodes': run.loops,
            'rewards_expected': run.expected,
            'rewards_received': self.rewards_received,
            'send_timing': {
                'lateness_ms': percentiles(run.lateness_ms),
                'interval_ms_mean': float(intervals.mean()) if intervals.size else None,
                'interval_ms_std': float(intervals.std()) if intervals.size else None,
                'achieved_rate_hz': (len(times) - 1) / span if span > 0 else None,
                'skipped_deadlines': run.skipped_deadlines,
            },
            'diagnostics': {
                'received': self.diagnostics_received,
                **{key: parse_number(values.get(key)) for key in DIAGNOSTIC_KEYS},
                'last': self.last_status,
            },
            'diagnostics_series': {
                'columns': ['t_s', *DIAGNOSTIC_KEYS],
                'rows': [[round(row[0] - offset, 3), *row[1:]]
                         for row in self.diagnostics_series],
            },
            'rss': {'pid': run.pid or None, 't_s': run.rss_t, 'mb': run.rss_mb},
        }


def parse_number(text: str | None) -> float | None:
    """A diagnostics value as a number; None when absent or not numeric."""
    try:
        return None if text in (None, '') else float(text)
    except ValueError:
        return None


def main(args: list[str] | None = None) -> int:
    """Init rclpy, build the player, run it to the end (or Ctrl-C), shut down: exit status."""
    return run_node(CameraPlayer, args, run=lambda node, executor, stop: node.run(executor, stop))


if __name__ == '__main__':
    raise SystemExit(main())
