"""demo_recorder: record chosen topics to a rosbag2 folder for ``robo-reward adapt --demo``.

Messages are written as the serialized CDR bytes received (raw subscriptions), with
:class:`robo_reward.data.bag_writer.BagWriter` (the ``rosbags`` library), MCAP by default or
sqlite3. Topics are subscribed as they appear in the graph, so the recorder can start before the
robot. Each subscription takes the QoS its publishers offer: reliable only if every publisher is
reliable, transient local only if every publisher is (a latched goal is then recorded too).
Each message is stamped with its receive time on the node's clock (sim time with
``use_sim_time``). The bag is closed on Ctrl-C or SIGTERM (``metadata.yaml`` written), and
topics that never appeared are reported.

Parameters: ``topics`` (required), ``output`` (bag folder, must not exist; default
``demo_<date>_<time>`` in the working directory), ``storage`` (``mcap`` or ``sqlite3``),
``discovery_period`` (seconds between graph checks for topics not yet subscribed).
"""

from __future__ import annotations

import importlib
import threading
import time

from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from robo_reward.data.bag_writer import STORAGES, BagWriter
from robo_reward_ros.common import NodeConfigError, declare, run_node


def message_class(type_name: str) -> type:
    """``sensor_msgs/msg/Image`` -> the Python message class."""
    package, kind, name = type_name.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), name)


class DemoRecorder(Node):
    """Subscribe to ``topics`` as they appear and write every message to a bag."""

    def __init__(self) -> None:
        super().__init__('demo_recorder')
        topics = declare(self, 'topics', Parameter.Type.STRING_ARRAY,
                         'topics to record, e.g. [/cam/front/image_raw/compressed, /odom]',
                         read_only=True)
        output = declare(self, 'output', '', 'bag folder to create (must not exist); empty: '
                         'demo_<date>_<time> in the working directory', read_only=True)
        storage = declare(self, 'storage', 'mcap', f'bag storage: {" or ".join(STORAGES)}',
                          read_only=True)
        period = declare(self, 'discovery_period', 0.5,
                         'seconds between graph checks for topics not subscribed yet',
                         read_only=True)
        if not topics:
            raise NodeConfigError('topics is empty: give the topics to record')
        if period <= 0:
            raise NodeConfigError(f'discovery_period must be > 0, got {period}')
        self.topics = [self.resolve_topic_name(t) for t in topics]
        output = output or time.strftime('demo_%Y%m%d_%H%M%S')
        try:
            self.bag = BagWriter(output, storage)
        except (OSError, ValueError) as error:
            raise NodeConfigError(str(error)) from None
        self._lock = threading.Lock()
        self._recorded: dict[str, object] = {}
        self.timer = self.create_timer(period, self._discover)
        self._discover()
        self.get_logger().info(
            f'recording {", ".join(self.topics)} to {self.bag.path} ({storage})')

    def _discover(self) -> None:
        waiting = [t for t in self.topics if t not in self._recorded]
        if not waiting:
            self.timer.cancel()
            return
        graph = dict(self.get_topic_names_and_types())
        for topic in waiting:
            types = graph.get(topic)
            if not types:
                continue
            if len(types) > 1:
                self.get_logger().error(
                    f'{topic} has several types {types}; not recording it',
                    throttle_duration_sec=10.0)
                continue
            self._subscribe(topic, types[0])

    def _subscribe(self, topic: str, type_name: str) -> None:
        try:
            msg_type = message_class(type_name)
            with self._lock:
                self.bag.add_topic(topic, type_name)
        except (ImportError, AttributeError, ValueError) as error:
            self.get_logger().error(f'cannot record {topic} ({type_name}): {error}')
            self._recorded[topic] = None  # do not retry every period
            return
        qos = self._matching_qos(topic)
        self._recorded[topic] = self.create_subscription(
            msg_type, topic, lambda data, topic=topic: self._write(topic, data), qos, raw=True)
        self.get_logger().info(
            f'recording {topic} ({type_name}, {qos.reliability.name.lower()}, '
            f'{qos.durability.name.lower()})')

    def _matching_qos(self, topic: str) -> QoSProfile:
        offered = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
        reliable = bool(offered) and all(
            q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
        latched = bool(offered) and all(
            q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=100,
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )

    def _write(self, topic: str, data: bytes) -> None:
        with self._lock:
            if not self.bag.closed:
                self.bag.write(topic, self.get_clock().now().nanoseconds, data)

    def destroy_node(self) -> None:
        with self._lock:
            self.bag.close()
        counts = ', '.join(f'{t}: {n}' for t, n in self.bag.message_counts.items())
        self.get_logger().info(f'closed {self.bag.path} ({counts or "no messages"})')
        missing = [t for t in self.topics if self._recorded.get(t) is None]
        if missing:
            self.get_logger().warning(f'never recorded (not published?): {", ".join(missing)}')
        super().destroy_node()


def main(args=None) -> int:
    return run_node(DemoRecorder, args)


if __name__ == '__main__':
    raise SystemExit(main())
