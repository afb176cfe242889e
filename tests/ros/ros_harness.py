"""Real ROS 2 across processes for the tests: node subprocesses and a test-side rclpy node.

The ROS package ``robo_reward_ros`` is used from its source folder
(``ros2_ws/src/robo_reward_ros``): this module puts it on ``sys.path`` and on the ``PYTHONPATH``
of the node processes, so the tests need no ``pip install`` of it (``robo-reward ros up`` does the
same when the package is not installed). Each test gets its own ``ROS_DOMAIN_ID`` and discovery
stays on this machine, so parallel runs do not hear each other.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ROS_PACKAGE_DIR = REPO / "ros2_ws" / "src" / "robo_reward_ros"
if str(ROS_PACKAGE_DIR) not in sys.path:
    sys.path.insert(0, str(ROS_PACKAGE_DIR))

NO_ROS = "ROS 2 wheels not installed (pip install -e '.[ros]' brings rclpy and the messages)"

MAX_DOMAIN_ID = 232
"""The largest domain whose Fast DDS ports stay below 65536."""
_claimed: list[object] = []


def next_domain_id() -> int:
    """A DDS domain no other test on this machine uses now: distinct per call, and claimed with
    a lock file (held until this process exits) against test runs in other processes."""
    start = os.getpid() * 7 + len(_claimed)
    for offset in range(MAX_DOMAIN_ID):
        domain = 1 + (start + offset) % MAX_DOMAIN_ID
        handle = open(Path(tempfile.gettempdir()) / f"robo_reward_ros_domain_{domain}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _claimed.append(handle)
        return domain
    raise RuntimeError(f"all ROS domains 1..{MAX_DOMAIN_ID} are in use by tests on this machine")


def ros_env(domain_id: int) -> dict[str, str]:
    """Environment of a node process: the test's domain, local discovery, the package on the
    path, unbuffered output."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in favour of the discovery range
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROS_PACKAGE_DIR), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MUJOCO_GL", "osmesa")
    return env


class NodeProcess:
    """A node started as ``python -m robo_reward_ros.<module> --ros-args --params-file ...``
    (``remaps``: topic remappings, ``-r from:=to``)."""

    def __init__(
        self,
        module: str,
        params: dict[str, Any],
        domain_id: int,
        tmp_path: Path,
        remaps: dict[str, str] | None = None,
    ) -> None:
        params_file = tmp_path / f"{module}_params.yaml"
        params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
        self.log_path = tmp_path / f"{module}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                f"robo_reward_ros.{module}",
                "--ros-args",
                "--params-file",
                str(params_file),
                *(arg for a, b in (remaps or {}).items() for arg in ("-r", f"{a}:={b}")),
            ],
            env=ros_env(domain_id),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def assert_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"node exited with {self.process.returncode}:\n{self.output[-3000:]}"
            )

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait; kill after ``timeout`` s (and fail)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                message = f"node did not stop on {sig!r}:\n{self.output[-3000:]}"
                raise AssertionError(message) from None
        self._log.close()
        return self.process.returncode


class ProbeNode:
    """An rclpy node in the test process, in its own context (no signal handlers)."""

    def __init__(self, domain_id: int, name: str = "test_probe") -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self.context = Context()
        rclpy.init(
            context=self.context,
            domain_id=domain_id,
            signal_handler_options=SignalHandlerOptions.NO,
        )
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def collect(self, msg_type: Any, topic: str, qos: Any) -> list[tuple[float, Any]]:
        """Subscribe; the list fills with (receive time, message)."""
        received: list[tuple[float, Any]] = []
        self.node.create_subscription(
            msg_type, topic, lambda msg: received.append((time.monotonic(), msg)), qos
        )
        return received

    def spin_until(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        what: str,
        check: Callable[[], None] | None = None,
    ) -> None:
        """Spin until ``predicate()``; fail after ``timeout`` s saying ``what`` did not happen.
        ``check`` runs between spins (e.g. that a node process still lives)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            if check is not None:
                check()
            self.executor.spin_once(timeout_sec=0.05)

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


@contextmanager
def running(node: NodeProcess) -> Iterator[NodeProcess]:
    """Stop the node at the end, whatever happens (tests check the exit status themselves)."""
    try:
        yield node
    finally:
        if node.process.poll() is None:
            node.process.kill()
            node.process.wait()


def rate_hz(stamps: list[float]) -> float:
    """Messages per second over the span of ``stamps`` (receive times)."""
    if len(stamps) < 2:
        return 0.0
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])
