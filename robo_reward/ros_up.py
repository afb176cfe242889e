"""``robo-reward ros up``: start a set of ROS 2 nodes as processes, the ``ros2 launch`` of a machine
without a ROS installation (the wheels have no ``launch`` package).

A config (``configs/ros/<name>.yaml``, :class:`RosUpConfig`) lists the nodes of the
``robo_reward_ros`` package to start, each with its parameter files, parameters, remappings and
namespace. Every node runs as ``python -m robo_reward_ros.<executable> --ros-args ...``; when the
ROS package is not installed its source folder (``ros2_ws/src/robo_reward_ros`` of a checkout) is
put on the nodes' ``PYTHONPATH``. Nodes run in their own process groups: Ctrl-C reaches this
process only, which forwards one SIGINT to every node and waits for them to close (a recorder
finishing its bag), escalating to SIGTERM and SIGKILL after ``stop_timeout`` seconds. If a node
fails, the others are stopped and the exit status is 1.

Parameter files are given as paths relative to the config file, or as
``package://robo_reward_ros/config/<file>.yaml``: the package's source folder, else its installed
``share/robo_reward_ros`` (under ``AMENT_PREFIX_PATH`` or this Python's prefix). This module never
imports rclpy; it only checks that it can be imported.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ROS_PACKAGE = "robo_reward_ros"
PACKAGE_URL = f"package://{ROS_PACKAGE}/"
INSTALL_HINT = "pip install -e '.[ros]' (ROS 2 Kilted rclpy and message wheels)"


class RosUpError(ValueError):
    """A config or an environment ``ros up`` cannot start nodes from."""


@dataclass(frozen=True)
class RosNodeConfig:
    """One node process."""

    executable: str = ""
    """Node module of robo_reward_ros (``sim_bridge``, ``grm_reward``, ...); empty: the node's
    name in ``nodes``."""
    params_files: tuple[str, ...] = ()
    """Parameter files, applied in order: paths relative to this config file, or
    ``package://robo_reward_ros/config/<file>.yaml``."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """Parameters applied after the files (``ros__parameters`` values)."""
    remappings: dict[str, str] = field(default_factory=dict)
    """Topic and service remappings, ``from: to`` (e.g. ``cmd_vel: /rover/cmd_vel``)."""
    namespace: str = ""
    """Namespace of the node (its relative topics move with it)."""
    log_level: Literal["debug", "info", "warn", "error", "fatal"] = "info"
    enabled: bool = True
    """false: listed but not started."""


@dataclass(frozen=True)
class RosUpConfig:
    """The nodes ``robo-reward ros up`` starts."""

    nodes: dict[str, RosNodeConfig] = field(default_factory=dict)
    """Node name -> how to start it (the name is the node's ROS name)."""
    domain_id: int | None = None
    """ROS_DOMAIN_ID of every node; null: inherited from the environment."""
    stop_timeout: float = 10.0
    """Seconds a node has to exit after SIGINT before SIGTERM (and as long again to SIGKILL)."""

    def __post_init__(self) -> None:
        if self.domain_id is not None and not 0 <= self.domain_id <= 232:
            raise ValueError(f"domain_id must be in 0..232, got {self.domain_id}")
        if not self.stop_timeout > 0:
            raise ValueError(f"stop_timeout must be > 0, got {self.stop_timeout}")


@dataclass(frozen=True)
class NodeLaunch:
    """A node process ready to start."""

    name: str
    argv: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    """Inline parameters, written to a file whose path replaces ``{inline}`` in ``argv``."""

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


# --------------------------------------------------------------------------------- locating
def ros_package_source() -> Path | None:
    """The package's source folder in a checkout (``<repo>/ros2_ws/src/robo_reward_ros``)."""
    source = Path(__file__).resolve().parents[1] / "ros2_ws" / "src" / ROS_PACKAGE
    return source if (source / ROS_PACKAGE / "__init__.py").is_file() else None


def installed_package_dir() -> Path | None:
    """The folder of an installed (importable) ``robo_reward_ros``, if any."""
    spec = importlib.util.find_spec(ROS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_params_file(entry: str, config_dir: Path) -> Path:
    """A ``params_files`` entry -> an existing file (see the module docstring)."""
    if entry.startswith(PACKAGE_URL):
        relative = entry[len(PACKAGE_URL) :]
        candidates = []
        source = ros_package_source()
        if source is not None:
            candidates.append(source / relative)
        prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
        candidates += [Path(p) / "share" / ROS_PACKAGE / relative for p in [*prefixes, sys.prefix]]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise RosUpError(
            f"parameter file {entry} not found; looked in: {', '.join(map(str, candidates))}"
        )
    if entry.startswith("package://"):
        raise RosUpError(f"parameter file {entry}: only {PACKAGE_URL}... is known")
    path = Path(entry).expanduser()
    path = path if path.is_absolute() else config_dir / path
    if not path.is_file():
        raise RosUpError(f"parameter file not found: {path}")
    return path


# --------------------------------------------------------------------------------- planning
def plan_nodes(
    config: RosUpConfig, config_dir: Path, python: str = sys.executable
) -> tuple[list[NodeLaunch], dict[str, str]]:
    """The node processes to start and the environment variables to add to theirs."""
    enabled = {name: node for name, node in config.nodes.items() if node.enabled}
    if not enabled:
        raise RosUpError("the config starts no node: list some under 'nodes' (enabled: true)")
    # A checkout's source wins over an installed copy: the nodes then run the same code as this
    # robo_reward (and a package merely importable here, e.g. through a test's sys.path, is not
    # mistaken for one the child processes can import).
    source = ros_package_source()
    installed = None if source is not None else installed_package_dir()
    package_dir = source / ROS_PACKAGE if source is not None else installed
    if package_dir is None:
        raise RosUpError(
            f"the ROS package {ROS_PACKAGE} is neither installed nor in this checkout: "
            f"pip install -e ros2_ws/src/{ROS_PACKAGE} (or colcon build on a ROS machine)"
        )
    available = sorted(
        p.stem for p in package_dir.glob("*.py") if "\ndef main(" in p.read_text(errors="replace")
    )
    env: dict[str, str] = {}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(source), os.environ.get("PYTHONPATH", "")) if p
        )
    if config.domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(config.domain_id)

    launches = []
    for name, node in enabled.items():
        executable = node.executable or name
        if not (package_dir / f"{executable}.py").is_file():
            raise RosUpError(
                f"node '{name}': {ROS_PACKAGE} has no node '{executable}' in {package_dir}; "
                f"nodes: {', '.join(available)}"
            )
        argv = [python, "-m", f"{ROS_PACKAGE}.{executable}", "--ros-args"]
        if name != executable:
            argv += ["-r", f"__node:={name}"]
        if node.namespace:
            namespace = node.namespace if node.namespace.startswith("/") else f"/{node.namespace}"
            argv += ["-r", f"__ns:={namespace}"]
        for entry in node.params_files:
            argv += ["--params-file", str(resolve_params_file(entry, config_dir))]
        if node.parameters:
            argv += ["--params-file", "{inline}"]
        for source_name, target in node.remappings.items():
            argv += ["-r", f"{source_name}:={target}"]
        argv += ["--log-level", node.log_level]
        launches.append(NodeLaunch(name, argv, dict(node.parameters)))
    return launches, env


def check_rclpy() -> None:
    """Refuse with the install command where rclpy cannot be imported."""
    if importlib.util.find_spec("rclpy") is None:
        raise RosUpError(f"rclpy is not importable in {sys.executable}: {INSTALL_HINT}")


# --------------------------------------------------------------------------------- running
def run_nodes(
    launches: Sequence[NodeLaunch],
    extra_env: Mapping[str, str],
    stop_timeout: float = 10.0,
    echo: Callable[[str], None] = print,
) -> int:
    """Start every node, print their pids, wait; on SIGINT/SIGTERM or a node failure stop all.

    Returns 0 when every node exited with status 0 (after a stop request, or on its own),
    1 when a node failed (then the others were stopped).
    """
    env = {**os.environ, **extra_env}
    stop_requested = False

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    processes: dict[str, subprocess.Popen] = {}
    status = 0
    try:
        with tempfile.TemporaryDirectory(prefix="robo_reward_ros_up_") as tmp:
            for launch in launches:
                argv = _with_inline_params(launch, Path(tmp))
                processes[launch.name] = subprocess.Popen(argv, env=env, start_new_session=True)
                echo(f"started {launch.name} (pid {processes[launch.name].pid}): {launch.command}")
                if stop_requested:
                    break
            reported: set[str] = set()
            while not stop_requested:
                for name, process in processes.items():
                    if name in reported or process.poll() is None:
                        continue
                    reported.add(name)
                    if process.returncode != 0:
                        echo(f"{name} failed with exit status {process.returncode}; stopping all")
                        status = 1
                        stop_requested = True
                    else:
                        echo(f"{name} exited")
                if len(reported) == len(processes):
                    break
                time.sleep(0.1)
            if not all(p.poll() is not None for p in processes.values()):
                echo(
                    "stopping: SIGINT to "
                    + ", ".join(f"{n} ({p.pid})" for n, p in processes.items() if p.poll() is None)
                )
            failed = _stop_all(processes, stop_timeout, echo)
            if failed:
                status = 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for process in processes.values():  # never leave a node behind
            if process.poll() is None:
                process.kill()
                process.wait()
    return status


def _with_inline_params(launch: NodeLaunch, tmp: Path) -> list[str]:
    if "{inline}" not in launch.argv:
        return list(launch.argv)
    path = tmp / f"{launch.name}_parameters.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": launch.params}}))
    return [str(path) if a == "{inline}" else a for a in launch.argv]


def _stop_all(
    processes: Mapping[str, subprocess.Popen], timeout: float, echo: Callable[[str], None]
) -> list[str]:
    """SIGINT every running node, then SIGTERM, then SIGKILL; names of the stopped nodes that did
    not exit cleanly (status 0)."""
    stopped = [name for name, p in processes.items() if p.poll() is None]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        running = [p for p in processes.values() if p.poll() is None]
        if not running:
            break
        if sig != signal.SIGINT:
            echo(f"{len(running)} node(s) still running after {timeout:.0f} s: {sig.name}")
        for process in running:
            process.send_signal(sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(p.poll() is None for p in running):
            time.sleep(0.05)
    failed = []
    for name in stopped:
        code = processes[name].wait()
        if code != 0:
            failed.append(name)
            echo(f"{name} exited with status {code}")
    if stopped and not failed:
        echo("all nodes stopped")
    return failed


def load_ros_config(path: Path, overrides: Sequence[str] = ()) -> RosUpConfig:
    """A ``configs/ros`` preset or file, with ``key=value`` overrides (``robo_reward.config``)."""
    from robo_reward.config import load_config

    return load_config(RosUpConfig, path, overrides)
