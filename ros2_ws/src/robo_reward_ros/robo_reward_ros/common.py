"""What every robo_reward node shares: ``main()``, parameters with descriptions, and QoS."""

from __future__ import annotations

import signal
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import (
    Executor,
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.signals import SignalHandlerOptions

SENSOR_QOS = qos_profile_sensor_data
"""Cameras, scans: best effort, keep the last 5 (a subscriber must be best effort too)."""

COMMAND_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
)
"""Commands and states (``cmd_vel``, ``odom``): reliable, keep the last 10."""

LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""A value late joiners still get (a goal, an episode index): transient local, depth 1."""


class InputGaps:
    """Messages lost between a publisher and this node, per input, from the publication
    sequence numbers DDS hands a callback (rclpy's ``MessageInfo``): a subscription queue that
    overflowed because the input comes faster than the node takes it (sensor-data QoS keeps the
    last 5), or best-effort samples lost on the way. Such losses are otherwise invisible to the
    node; this counts them so diagnostics can say so.

    Subscribe with a two-argument callback ``(msg, info)`` and call :meth:`note` with the
    input's name and ``info``.
    """

    MAX_PUBLISHERS = 64
    """Publishers remembered per node (the oldest is forgotten): a camera driver restarted over
    days does not grow the table."""

    def __init__(self) -> None:
        self.lost: Counter[str] = Counter()
        """Messages lost so far, by input."""
        self._last: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self._reported: Counter[str] = Counter()

    def note(self, name: str, info: Mapping[str, Any] | None) -> int:
        """Record one received message of input ``name``; the messages lost just before it."""
        sequence = info.get('publication_sequence_number') if info else None
        if sequence is None:  # an RMW without sequence numbers: nothing to tell
            return 0
        gid = info.get('publisher_gid')
        publisher = bytes(gid['data']) if isinstance(gid, Mapping) and 'data' in gid else repr(
            gid).encode()
        key = (name, publisher)
        last = self._last.pop(key, None)
        self._last[key] = int(sequence)
        if len(self._last) > self.MAX_PUBLISHERS:
            self._last.popitem(last=False)
        gap = 0 if last is None or sequence <= last else int(sequence) - last - 1
        if gap:
            self.lost[name] += gap
        return gap

    def new(self) -> Counter[str]:
        """Losses since the previous call (for a once-a-second diagnostic)."""
        fresh = self.lost - self._reported
        self._reported = Counter(self.lost)
        return fresh


class NodeConfigError(ValueError):
    """A parameter a node cannot work with; ``run_node`` prints it and exits with status 2."""


def declare(
    node: Node,
    name: str,
    default: Any,
    description: str,
    *,
    read_only: bool = False,
    additional_constraints: str = '',
    required: bool = True,
) -> Any:
    """Declare ``name`` with a description and return its value.

    ``default`` may be a value (its type is the parameter's type) or a ``Parameter.Type`` for a
    parameter without a default (an empty list has no type of its own): unset, it raises
    :class:`NodeConfigError` naming it, or gives None when not ``required``.
    """
    descriptor = ParameterDescriptor(
        name=name,
        description=description,
        read_only=read_only,
        additional_constraints=additional_constraints,
    )
    node.declare_parameter(name, default, descriptor)
    if isinstance(default, Parameter.Type):
        try:
            return node.get_parameter(name).value
        except rclpy.exceptions.ParameterUninitializedException:
            if not required:
                return None
            raise NodeConfigError(
                f"parameter '{name}' must be set ({description}); e.g. "
                f'--ros-args -p {name}:=... or a --params-file'
            ) from None
    return node.get_parameter(name).value


def run_node(
    node_factory: Callable[[], Node],
    args: Sequence[str] | None = None,
    multithreaded: bool = False,
    run: Callable[[Node, Executor, threading.Event], int] | None = None,
) -> int:
    """Init rclpy, build the node, spin until Ctrl-C or SIGTERM, shut down; the exit status.

    SIGINT and SIGTERM end the spin (within 0.1 s); then the node is destroyed while the context
    is still valid (its ``destroy_node`` closes files, e.g. a bag, and may still log to
    ``/rosout``), with further signals ignored so a second Ctrl-C cannot interrupt the clean-up,
    and rclpy shuts down. A lifecycle node whose ``autostart`` parameter is true is configured
    and activated at start, as Nav2's lifecycle manager does with ``autostart``. A
    :class:`NodeConfigError` (or ``ValueError``) raised while building the node is printed as one
    line and gives status 2; a failed autostart transition gives 1; a normal stop gives 0.
    A node that runs to an end of its own (a benchmark's player) passes ``run(node, executor,
    stop) -> status``, called instead of spinning until stopped.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    node = None
    try:
        try:
            node = node_factory()
        except ValueError as error:  # NodeConfigError included: bad parameters, one line
            print(f'{_program_name()}: error: {error}', file=sys.stderr)
            return 2
        if isinstance(node, LifecycleNode) and _autostart(node):
            for transition in (node.trigger_configure, node.trigger_activate):
                if stop.is_set():
                    break
                if transition() != TransitionCallbackReturn.SUCCESS:
                    node.get_logger().error(f'{transition.__name__} failed; not spinning')
                    return 1
        executor = MultiThreadedExecutor() if multithreaded else SingleThreadedExecutor()
        executor.add_node(node)
        if run is not None:
            return run(node, executor, stop)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _autostart(node: Node) -> bool:
    return node.has_parameter('autostart') and bool(node.get_parameter('autostart').value)


def _program_name() -> str:
    name = sys.argv[0].rsplit('/', 1)[-1] if sys.argv and sys.argv[0] else 'node'
    return name[:-3] if name.endswith('.py') else name
