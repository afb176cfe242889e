"""A saved policy on live inputs: the brain of the ROS ``policy`` node, without ROS.

:class:`PolicyStream` holds a policy saved by SAC or PPO (:func:`~robo_reward.rl.policy.
load_policy`) and the latest value of each input, with its stamp. :meth:`PolicyStream.act`
assembles the observation the policy reads, key by key, exactly as the simulation gave it:

========== ============================================================ ====================
key        value                                                        input (ROS topic)
========== ============================================================ ====================
``lidar``  ranges in the env's layout (beam ``i`` at ``2 pi i / N``),   scan (``scan``)
           ``[0, lidar_range]``
``odometry`` ``(x, y, cos yaw, sin yaw, v, omega)``                     odometry (``odom``)
``goal``   the goal in the rover frame, from the world goal and the     goal (``goal_pose``)
           pose                                                         + odometry
``waypoint`` the mapper's waypoint in the rover frame (zeros when the   waypoint
           mapper has no path: the hierarchy's convention)              (``topo_mapper/
                                                                        waypoint``) + odometry
========== ============================================================ ====================

A policy reading any other key is refused when the stream is built, with the keys it can
supply. Its action, a rover's normalised ``(forward, yaw rate)``, passes the safety shield
(:func:`~robo_reward.topo.objectives.filter_action` on the last scan, the ``toponav`` arm's
clearances) unless ``safety_filter`` is off.

**Safety stop**: the stream never acts on stale input. When an input the policy needs (or the
shield's scan) is missing, or older than ``max_age_ms`` against the caller's ``now``, or stamped
in the future by more than that (clocks that disagree), :meth:`~PolicyStream.act` returns a zero
action with the reason. The goal is a set-point, latched by its publisher, so only its presence
is required, not its age.

**Arm policies**: :class:`ArmPolicyStream` runs a policy trained on a tabletop task from state
(``robo-reward train``'s default ``obs_keys``: ``state``, ``object``, ``desired_goal``; also
``achieved_goal``), each key a vector held with its stamp, and turns its action
``(dx, dy, dz, gripper)`` into an :class:`ArmCommand`: the normalised translation (the env moves
the grip point ``action * action_scale`` m per step of ``dt`` s, i.e. at ``action *
action_scale / dt`` m/s) and the gripper command (-1 closed, +1 open). Its safety stop sends a
zero translation and *holds* the gripper at its last command (opening it would drop a held
object). Image-reading arm policies are refused. :class:`PolicyStream` refuses a policy whose
action is not ``(forward, yaw rate)`` and names :class:`ArmPolicyStream` for a 4-D action.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robo_reward.rl.policy import Policy, load_policy
from robo_reward.streams.grm_stream import OK, WARN, StreamStatus
from robo_reward.streams.topo_stream import world_to_rover
from robo_reward.topo.explorer import ExplorerConfig
from robo_reward.topo.objectives import SafetyConfig, filter_action
from robo_reward.topo.occupancy import Pose2D, ScanSpec

__all__ = [
    "ARM_KEYS",
    "INPUTS",
    "SHIPPED_POLICIES",
    "SUPPLIED_KEYS",
    "ArmCommand",
    "ArmPolicyStream",
    "ArmPolicyStreamConfig",
    "PolicyCommand",
    "PolicyKeyError",
    "PolicyStream",
    "PolicyStreamConfig",
    "resolve_policy_path",
]

SHIPPED_POLICIES = {
    "toponav": Path(__file__).resolve().parents[1] / "topo/weights/toponav_low_level.safetensors",
}
"""Policies shipped with robo_reward, by name: ``toponav`` is the low level of TopoNav's
hierarchy (PPO on lidar, odometry, goal and waypoint, trained by ``robo-reward bench nav``'s
``toponav`` arm in ``maze_small``, maze seed 0), to run behind the ``topo_mapper``."""

INPUTS = ("odometry", "scan", "goal", "waypoint")
"""The inputs a stream holds (one latest value each)."""

SUPPLIED_KEYS = {
    "lidar": ("scan",),
    "odometry": ("odometry",),
    "goal": ("goal", "odometry"),
    "waypoint": ("waypoint", "odometry"),
}
"""Observation keys the stream can assemble, and the inputs each is made of."""

_SHAPES = {"odometry": (6,), "goal": (2,), "waypoint": (2,)}
_AGED = ("odometry", "scan", "waypoint")
"""Inputs that go stale; the goal is a latched set-point."""


@dataclass(frozen=True)
class _Held:
    stamp_ns: int
    value: np.ndarray | None
    rover_frame: bool = False


class PolicyKeyError(ValueError):
    """The policy reads an observation key the stream cannot supply."""


@dataclass(frozen=True)
class PolicyStreamConfig:
    max_age_ms: float = 500.0
    """An input the policy needs older than this (against ``now``) stops the robot."""
    safety_filter: bool = True
    """Pass actions through the shield (as the ``toponav`` arm trained and was evaluated)."""
    safety: SafetyConfig = field(default_factory=lambda: ExplorerConfig().safety)
    """The shield's clearances: the ``toponav`` arm's (the explorer's)."""
    deterministic: bool = True
    """Act with the policy's mean action (False: sample)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_age_ms) and self.max_age_ms > 0):
            raise ValueError(f"max_age_ms must be a finite number > 0, got {self.max_age_ms}")


@dataclass(frozen=True)
class PolicyCommand:
    """One command: the action to send and why it is what it is."""

    stamp_ns: int
    """The ``now`` it was computed for."""
    action: np.ndarray
    """``float32 (2,)`` normalised (forward, yaw rate) to send; zeros when stopped."""
    stopped: bool
    """A safety stop: an input was missing or stale (``reason``)."""
    reason: str = ""
    policy_action: np.ndarray | None = None
    """The policy's action before the shield (None when stopped)."""
    filtered: bool = False
    """The shield changed the action."""


class PolicyStream:
    """Latest inputs in, a rover command out (see the module docstring).

    ``policy``: a :class:`~robo_reward.rl.policy.Policy` (or use :meth:`from_file`).
    """

    def __init__(self, policy: Policy, config: PolicyStreamConfig = PolicyStreamConfig()) -> None:
        self.policy = policy.eval()
        self.config = config
        keys = policy.keys
        if keys is None:
            raise PolicyKeyError(
                "the policy takes a flat array observation; PolicyStream assembles dict "
                f"observations with keys {sorted(SUPPLIED_KEYS)} (train with obs_keys)"
            )
        unknown = [k for k in keys if k not in SUPPLIED_KEYS]
        if unknown:
            raise PolicyKeyError(
                f"the policy reads observation keys {unknown} that cannot be supplied; the "
                f"policy node supplies {sorted(SUPPLIED_KEYS)} (lidar from scan, odometry from "
                "odom, goal from goal_pose and odom, waypoint from the topo_mapper's waypoint "
                "and odom)"
            )
        if policy.action_dim != 2:
            raise ValueError(
                f"the policy's action has {policy.action_dim} dimensions; PolicyStream drives a "
                "rover, action (forward, yaw rate)"
                + (" (a 4-D action is an arm's: use ArmPolicyStream, the policy node's mode: arm)"
                   if policy.action_dim == 4 else "")
            )  # fmt: skip
        spaces = policy.observation_space.spaces
        for key in keys:
            shape = tuple(spaces[key].shape)
            expected = _SHAPES.get(key)
            if key == "lidar" and len(shape) != 1:
                raise ValueError(f"the policy's lidar has shape {shape}; expected (beams,)")
            if expected is not None and shape != expected:
                raise ValueError(
                    f"the policy's {key!r} has shape {shape}; the stream supplies {expected}"
                )
        self.keys: tuple[str, ...] = tuple(keys)
        self.needs: tuple[str, ...] = tuple(
            i for i in INPUTS
            if any(i in SUPPLIED_KEYS[k] for k in keys) or (i == "scan" and config.safety_filter)
        )  # fmt: skip
        """Inputs needed to act (the shield's scan included)."""
        lidar = spaces.get("lidar")
        if lidar is not None:
            self.lidar_beams = int(lidar.shape[0])
            high = float(np.max(lidar.high))
            self.lidar_range = high if math.isfinite(high) else ScanSpec().max_range
        else:
            self.lidar_beams, self.lidar_range = ScanSpec().beams, ScanSpec().max_range
        self.scan_spec = ScanSpec(beams=self.lidar_beams, max_range=self.lidar_range)
        self.commands = 0
        self.stops: Counter[str] = Counter()
        """Safety stops by input and cause (``scan stale``, ``goal missing``, ...)."""
        self.refused: Counter[str] = Counter()
        self.last_refusal: dict[str, str] = {}
        self.filtered = 0
        self.last: PolicyCommand | None = None
        self._values: dict[str, _Held] = {}
        self._reported: Counter[str] = Counter()

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], config: PolicyStreamConfig = PolicyStreamConfig()
    ) -> PolicyStream:
        """A stream on a policy saved by :func:`~robo_reward.rl.policy.save_policy` (a path,
        or the name of a shipped policy, :data:`SHIPPED_POLICIES`)."""
        return cls(load_policy(resolve_policy_path(path)), config)

    # ------------------------------------------------------------------ inputs
    def reset(self) -> None:
        """Forget every input (a new episode, or after a pause): the next command stops until
        all needed inputs arrive again."""
        self._values.clear()

    def _refuse(self, what: str, reason: str) -> None:
        self.note_refused(what, reason)
        raise ValueError(reason)

    def note_refused(self, what: str, reason: str) -> None:
        """Count an input refused before it reached the stream (e.g. a message the node could
        not convert): it is reported on the status, and the input's last value ages on."""
        self.refused[what] += 1
        self.last_refusal[what] = reason

    def _finite(self, what: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if value.shape != shape:
            self._refuse(what, f"{what} must have shape {shape}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            self._refuse(what, f"{what} has NaN or infinite values: {value.tolist()}")
        return value

    def set_odometry(self, stamp_ns: int, odometry: np.ndarray) -> None:
        """The odometry vector ``(x, y, cos yaw, sin yaw, v, omega)`` in the world frame."""
        self._values["odometry"] = _Held(int(stamp_ns), self._finite("odometry", odometry, (6,)))

    def set_scan(self, stamp_ns: int, ranges: np.ndarray) -> None:
        """Ranges in the policy's lidar layout (:attr:`lidar_beams`, ``+inf`` / beyond range:
        no return). NaN or negative ranges are refused."""
        ranges = np.asarray(ranges, dtype=np.float64)
        if ranges.shape != (self.lidar_beams,):
            self._refuse(
                "scan", f"scan must have {self.lidar_beams} ranges, got shape {ranges.shape}"
            )
        if np.isnan(ranges).any() or (ranges < 0).any():
            self._refuse("scan", "scan has NaN or negative ranges (not replaced by a guess)")
        self._values["scan"] = _Held(int(stamp_ns), np.minimum(ranges, self.lidar_range))

    def set_goal(self, stamp_ns: int, goal_xy: np.ndarray | None) -> None:
        """The goal in the world (odometry) frame; None clears it (the robot then stops)."""
        if goal_xy is None:
            self._values.pop("goal", None)
            return
        self._values["goal"] = _Held(int(stamp_ns), self._finite("goal", goal_xy, (2,)))

    def set_waypoint(
        self, stamp_ns: int, waypoint_xy: np.ndarray | None, rover_frame: bool = False
    ) -> None:
        """The mapper's waypoint in the world frame (or, with ``rover_frame``, already in the
        robot's frame); None: the mapper has no path (the observation is zeros)."""
        value = None
        if waypoint_xy is not None:
            value = self._finite("waypoint", waypoint_xy, (2,))
        self._values["waypoint"] = _Held(int(stamp_ns), value, bool(rover_frame))

    # ------------------------------------------------------------------ acting
    def age_ms(self, what: str, now_ns: int) -> float | None:
        """How old the last value of ``what`` is at ``now_ns`` (None when there is none)."""
        held = self._values.get(what)
        return None if held is None else (int(now_ns) - held.stamp_ns) / 1e6

    def check_inputs(self, now_ns: int) -> str:
        """Why the stream cannot act at ``now_ns`` ("" when it can)."""
        problems = []
        limit = self.config.max_age_ms
        for what in self.needs:
            age = self.age_ms(what, now_ns)
            if age is None:
                problems.append((f"{what} missing", f"no {what} yet"))
            elif what in _AGED and age > limit:
                problems.append((f"{what} stale", f"{what} is {age:.0f} ms old (max {limit:g})"))
            elif what in _AGED and age < -limit:
                problems.append(
                    (f"{what} in the future",
                     f"{what} is stamped {-age:.0f} ms in the future (clocks disagree: "
                     "use_sim_time?)")
                )  # fmt: skip
        for cause, _ in problems:
            self.stops[cause] += 1
        return "; ".join(text for _, text in problems)

    def observation(self) -> dict[str, np.ndarray]:
        """The policy's observation from the held inputs (call after :meth:`check_inputs`)."""
        obs: dict[str, np.ndarray] = {}
        held = self._values
        pose = Pose2D.from_odometry(held["odometry"].value) if "odometry" in held else None
        for key in self.keys:
            if key == "lidar":
                obs[key] = held["scan"].value.astype(np.float32)
            elif key == "odometry":
                obs[key] = held["odometry"].value.astype(np.float32)
            elif key == "goal":
                obs[key] = world_to_rover(held["goal"].value, pose)
            elif key == "waypoint":
                waypoint = held["waypoint"]
                if waypoint.rover_frame and waypoint.value is not None:
                    obs[key] = waypoint.value.astype(np.float32)
                else:  # None (no path): zeros
                    obs[key] = world_to_rover(waypoint.value, pose)
        return obs

    def act(self, now_ns: int) -> PolicyCommand:
        """The command for ``now_ns`` (the caller's clock, in the stamps' time base): the
        policy's shielded action, or a zero action with the reason (safety stop)."""
        now_ns = int(now_ns)
        self.commands += 1
        reason = self.check_inputs(now_ns)
        if reason:
            return self._stop(now_ns, reason)
        try:
            observation = self.observation()
            raw = self.policy.act(observation, deterministic=self.config.deterministic)
        except ValueError as error:  # e.g. a value outside what the policy checks
            self.stops["policy refused the observation"] += 1
            return self._stop(now_ns, f"policy refused the observation: {error}")
        raw = np.clip(np.asarray(raw, dtype=np.float32), -1.0, 1.0)
        action, filtered = raw, False
        if self.config.safety_filter:
            scan = self._values["scan"].value
            action = filter_action(raw, scan, self.config.safety, self.scan_spec)
            filtered = bool(np.any(action != raw))
            self.filtered += int(filtered)
        self.last = PolicyCommand(now_ns, action, False, "", raw, filtered)
        return self.last

    def _stop(self, now_ns: int, reason: str) -> PolicyCommand:
        self.last = PolicyCommand(now_ns, np.zeros(2, dtype=np.float32), True, reason)
        return self.last

    # ------------------------------------------------------------------ diagnostics
    def status(self, now_ns: int) -> StreamStatus:
        """Level, message and values for ``/diagnostics``: WARN while stopped (with why) and
        for inputs refused since the last status."""
        problems: list[tuple[int, str]] = []
        last = self.last
        if last is None:
            problems.append((WARN, "no command computed yet"))
        elif last.stopped:
            problems.append((WARN, f"safety stop (zero command): {last.reason}"))
        new = self.refused - self._reported
        for what, n in sorted(new.items()):
            problems.append((WARN, f"{n} {what} input(s) refused: {self.last_refusal[what]}"))
        self._reported = Counter(self.refused)
        if problems:
            level = max(level for level, _ in problems)
            message = " | ".join(text for _, text in problems)
        else:
            level = OK
            message = "acting" + (" (shield limited the speed)" if last and last.filtered else "")
        values = {
            "keys": ",".join(self.keys),
            "needs": ",".join(self.needs),
            "max_age_ms": f"{self.config.max_age_ms:g}",
            "safety_filter": str(self.config.safety_filter).lower(),
            "commands": str(self.commands),
            "stops": ",".join(f"{k}:{n}" for k, n in sorted(self.stops.items())),
            "filtered": str(self.filtered),
            "refused": ",".join(f"{k}:{n}" for k, n in sorted(self.refused.items())),
            "last_action": "" if last is None else ",".join(f"{a:.3f}" for a in last.action),
            "stopped": "" if last is None else str(last.stopped).lower(),
        }
        for what in self.needs:
            age = self.age_ms(what, now_ns)
            values[f"{what}_age_ms"] = "" if age is None else f"{age:.0f}"
        return StreamStatus(level, message, values)


def resolve_policy_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a file: a shipped policy's name (``toponav``) gives its file; a missing file
    is refused with what to give instead."""
    name = str(path)
    if name in SHIPPED_POLICIES:
        shipped = SHIPPED_POLICIES[name]
        if not shipped.is_file():
            raise FileNotFoundError(
                f"the shipped policy {name!r} is not installed ({shipped} is missing)"
            )
        return shipped
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise FileNotFoundError(
            f"no policy at {resolved}: give a .safetensors written by save_policy (e.g. the "
            f"policy.safetensors of a bench or train run) or a shipped one: "
            f"{sorted(SHIPPED_POLICIES)}"
        )
    return resolved


# ---------------------------------------------------------------------------------------- arm
ARM_KEYS = ("state", "object", "achieved_goal", "desired_goal")
"""Observation keys of the tabletop tasks an arm policy may read (vectors; the env's images are
not supplied): ``state`` (10: grip position, grip velocity, finger positions and velocities),
``object`` (task-specific object state), ``achieved_goal`` and ``desired_goal``."""

ARM_ACTION_DIM = 4


@dataclass(frozen=True)
class ArmPolicyStreamConfig:
    max_age_ms: float = 500.0
    """An input the policy needs older than this (against ``now``) stops the hand."""
    deterministic: bool = True
    """Act with the policy's mean action (False: sample)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_age_ms) and self.max_age_ms > 0):
            raise ValueError(f"max_age_ms must be a finite number > 0, got {self.max_age_ms}")


@dataclass(frozen=True)
class ArmCommand:
    """One end-effector command."""

    stamp_ns: int
    translation: np.ndarray
    """``float32 (3,)`` normalised grip-point velocity in [-1, 1] (times ``action_scale / dt``
    m/s); zeros when stopped."""
    gripper: float | None
    """Gripper command in [-1, 1] (-1 closed, +1 open). While stopped, the last one commanded
    (held); None when none has been commanded yet (leave the gripper as it is)."""
    stopped: bool
    reason: str = ""
    policy_action: np.ndarray | None = None
    """The policy's action (None when stopped)."""


class ArmPolicyStream:
    """Latest state vectors in, an end-effector command out (see the module docstring).

    ``policy``: a :class:`~robo_reward.rl.policy.Policy` with a 4-D action (a tabletop task's
    ``(dx, dy, dz, gripper)``) reading keys of :data:`ARM_KEYS` (or use :meth:`from_file`).
    """

    def __init__(
        self, policy: Policy, config: ArmPolicyStreamConfig = ArmPolicyStreamConfig()
    ) -> None:
        self.policy = policy.eval()
        self.config = config
        keys = policy.keys
        if keys is None:
            raise PolicyKeyError(
                "the policy takes a flat array observation; ArmPolicyStream assembles dict "
                f"observations with keys {list(ARM_KEYS)} (train with obs_keys)"
            )
        unknown = [k for k in keys if k not in ARM_KEYS]
        if unknown:
            raise PolicyKeyError(
                f"the policy reads observation keys {unknown} that cannot be supplied; the "
                f"policy node in arm mode supplies {list(ARM_KEYS)} (one topic each, "
                "arm/<key>; camera images are not supported)"
            )
        if policy.action_dim != ARM_ACTION_DIM:
            raise ValueError(
                f"the policy's action has {policy.action_dim} dimensions; an arm policy's is "
                "(dx, dy, dz, gripper)"
                + (" (a 2-D action is a rover's: mode rover)" if policy.action_dim == 2 else "")
            )  # fmt: skip
        spaces = policy.observation_space.spaces
        self.shapes: dict[str, tuple[int, ...]] = {}
        for key in keys:
            shape = tuple(spaces[key].shape)
            if len(shape) != 1:
                raise ValueError(f"the policy's {key!r} has shape {shape}; expected a vector")
            self.shapes[key] = shape
        self.keys: tuple[str, ...] = tuple(keys)
        self.needs = self.keys
        """Inputs needed to act: one per key."""
        self.commands = 0
        self.stops: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.last_refusal: dict[str, str] = {}
        self.last: ArmCommand | None = None
        self._gripper: float | None = None
        self._values: dict[str, _Held] = {}
        self._reported: Counter[str] = Counter()

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        config: ArmPolicyStreamConfig = ArmPolicyStreamConfig(),
    ) -> ArmPolicyStream:
        """A stream on a policy saved by :func:`~robo_reward.rl.policy.save_policy` (e.g. the
        ``policy.safetensors`` of a ``robo-reward train`` run on a tabletop task)."""
        return cls(load_policy(resolve_policy_path(path)), config)

    @property
    def task(self) -> str | None:
        """The task the policy was trained on, when its file says (``robo-reward train``)."""
        task = self.policy.extra.get("task") if self.policy.extra else None
        return None if task is None else str(task)

    # ------------------------------------------------------------------ inputs
    def reset(self) -> None:
        """Forget every input and the held gripper command."""
        self._values.clear()
        self._gripper = None

    def note_refused(self, what: str, reason: str) -> None:
        """Count an input refused before it reached the stream (reported on the status)."""
        self.refused[what] += 1
        self.last_refusal[what] = reason

    def set_input(self, key: str, stamp_ns: int, value: np.ndarray) -> None:
        """The latest value of observation key ``key`` (a vector of the policy's shape), at
        ``stamp_ns``. Wrong shapes, NaN and infinity are refused (``ValueError``)."""
        if key not in self.shapes:
            raise ValueError(f"the policy does not read {key!r}; it reads {list(self.keys)}")
        value = np.asarray(value, dtype=np.float64)
        if value.shape != self.shapes[key]:
            reason = f"{key} must have shape {self.shapes[key]}, got {value.shape}"
            self.note_refused(key, reason)
            raise ValueError(reason)
        if not np.all(np.isfinite(value)):
            reason = f"{key} has NaN or infinite values"
            self.note_refused(key, reason)
            raise ValueError(reason)
        self._values[key] = _Held(int(stamp_ns), value)

    # ------------------------------------------------------------------ acting
    def age_ms(self, key: str, now_ns: int) -> float | None:
        held = self._values.get(key)
        return None if held is None else (int(now_ns) - held.stamp_ns) / 1e6

    def check_inputs(self, now_ns: int) -> str:
        """Why the stream cannot act at ``now_ns`` ("" when it can)."""
        problems = []
        limit = self.config.max_age_ms
        for key in self.needs:
            age = self.age_ms(key, now_ns)
            if age is None:
                problems.append((f"{key} missing", f"no {key} yet"))
            elif age > limit:
                problems.append((f"{key} stale", f"{key} is {age:.0f} ms old (max {limit:g})"))
            elif age < -limit:
                problems.append(
                    (f"{key} in the future",
                     f"{key} is stamped {-age:.0f} ms in the future (clocks disagree: "
                     "use_sim_time?)")
                )  # fmt: skip
        for cause, _ in problems:
            self.stops[cause] += 1
        return "; ".join(text for _, text in problems)

    def act(self, now_ns: int) -> ArmCommand:
        """The command for ``now_ns``: the policy's action, or a stop (zero translation, the
        gripper held) with the reason."""
        now_ns = int(now_ns)
        self.commands += 1
        reason = self.check_inputs(now_ns)
        if reason:
            return self._stop(now_ns, reason)
        observation = {k: self._values[k].value.astype(np.float32) for k in self.keys}
        try:
            raw = self.policy.act(observation, deterministic=self.config.deterministic)
        except ValueError as error:
            self.stops["policy refused the observation"] += 1
            return self._stop(now_ns, f"policy refused the observation: {error}")
        action = np.clip(np.asarray(raw, dtype=np.float32), -1.0, 1.0)
        self._gripper = float(action[3])
        self.last = ArmCommand(now_ns, action[:3].copy(), self._gripper, False, "", raw)
        return self.last

    def _stop(self, now_ns: int, reason: str) -> ArmCommand:
        self.last = ArmCommand(now_ns, np.zeros(3, dtype=np.float32), self._gripper, True, reason)
        return self.last

    # ------------------------------------------------------------------ diagnostics
    def status(self, now_ns: int) -> StreamStatus:
        """Level, message and values for ``/diagnostics`` (WARN while stopped, with why)."""
        problems: list[tuple[int, str]] = []
        last = self.last
        if last is None:
            problems.append((WARN, "no command computed yet"))
        elif last.stopped:
            problems.append((WARN, f"safety stop (zero twist, gripper held): {last.reason}"))
        new = self.refused - self._reported
        for what, n in sorted(new.items()):
            problems.append((WARN, f"{n} {what} input(s) refused: {self.last_refusal[what]}"))
        self._reported = Counter(self.refused)
        if problems:
            level = max(level for level, _ in problems)
            message = " | ".join(text for _, text in problems)
        else:
            level, message = OK, "acting"
        values = {
            "keys": ",".join(self.keys),
            "max_age_ms": f"{self.config.max_age_ms:g}",
            "commands": str(self.commands),
            "stops": ",".join(f"{k}:{n}" for k, n in sorted(self.stops.items())),
            "refused": ",".join(f"{k}:{n}" for k, n in sorted(self.refused.items())),
            "last_translation": "" if last is None else ",".join(
                f"{a:.3f}" for a in last.translation),
            "gripper": "" if last is None or last.gripper is None else f"{last.gripper:.3f}",
            "stopped": "" if last is None else str(last.stopped).lower(),
        }  # fmt: skip
        for key in self.needs:
            age = self.age_ms(key, now_ns)
            values[f"{key}_age_ms"] = "" if age is None else f"{age:.0f}"
        return StreamStatus(level, message, values)
