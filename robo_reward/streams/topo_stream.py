"""The topological mapper on live odometry and scans: the brain of the ROS ``topo_mapper`` node,
without ROS.

:class:`TopoMapperStream` holds the high level of TopoNav's hierarchy, a
:class:`~robo_reward.topo.explorer.FrontierExplorer` with the configuration of the ``toponav``
arm of ``robo-reward bench nav`` (the one its low-level policies were trained under): a
:class:`~robo_reward.topo.graph.TopologicalMap`, the subgoal (a frontier ranked by path cost and
distance to the goal, or the goal once the map reaches it) and a path to it on the occupancy
grid. Odometry and scans are pushed one message at a time with their stamps; each scan is paired
with the odometry nearest in stamp (within ``tolerance_ms``) and makes one update, which returns
a :class:`TopoStep`. A 3D point cloud (a depth camera's, a 3D lidar's) can stand in for the scan
(:meth:`TopoMapperStream.push_cloud`): it becomes a virtual scan
(:func:`~robo_reward.topo.pointcloud.cloud_to_scan`: ground and points above the robot removed,
the nearest obstacle per beam sector), and sectors outside the sensor's view are left out of the
occupancy grid, since unseen is unknown, not free. A camera's virtual scan covers a narrow
wedge, so the map grows frontiers at its edges and place recognition (a heading-invariant scan
signature) sees mostly "no return": nodes come mostly from distance travelled.

- **waypoint**: the path point to steer toward (world x, y; the observation ``waypoint`` of the
  hierarchy's low level, :class:`~robo_reward.topo.wrapper.TopoNavRewards` with
  ``waypoints=True``), or None without a path (nothing reachable: the low level looks around);
- **subgoal**: the explorer's target (world x, y) and whether it is the goal;
- **rewards**: the intrinsic terms ``new_node``, ``visit`` and ``subgoal``
  (:func:`~robo_reward.topo.rewards.topo_rewards`) and their sum;
- **markers**: the map as ``visualization_msgs/MarkerArray``-shaped dicts
  (:func:`~robo_reward.topo.export.map_markers`), every ``markers_every`` updates (None between).

:meth:`TopoMapperStream.status` summarises the stream for ``/diagnostics``.

Bad input (nothing is guessed; every refusal is counted with its reason and reported once):

- a scan with NaN ranges, an empty scan or one of another beam count, and odometry with NaN or
  infinite values are refused (``ValueError``); the map is not touched;
- a scan with no odometry within ``tolerance_ms`` is held until odometry of its time arrives
  (a newer scan replaces it, counted as dropped) and refused when it is older than every
  odometry message by more than the tolerance;
- an **odometry jump** larger than the map's ``max_step_distance`` in one update cannot be
  driven: the map records a relocalisation (the robot is placed at a recognised or a new node
  and no edge is made across the jump, so the graph stays consistent), the explorer drops its
  path and replans, and the event is reported. A jump that is an odometry reset (the pose back
  at the origin while the robot stood still) leaves the occupancy grid misaligned: reset the
  map (:meth:`TopoMapperStream.reset`, the node's ``~/reset``);
- **stamps going backwards** (a bag or simulator restarting) start a new map, reported; a scan
  with the stamp of the last update is refused as a duplicate;
- **inputs lost before the stream** (a transport queue that overflowed when scans came faster
  than the node took them) are counted by the caller (:meth:`TopoMapperStream.note_lost`) and
  reported; every scan that does arrive is mapped, in order;
- **no goal** (``missing_goal``): ``"explore"`` (default) maps and explores without a goal
  direction: frontiers are ranked by path cost alone and the goal is never a target, until a
  goal is given (reported on the status); ``"refuse"`` refuses updates until a goal is given.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robo_reward.streams.grm_stream import ERROR, OK, WARN, StreamStatus
from robo_reward.topo.explorer import ExplorerConfig, FrontierExplorer
from robo_reward.topo.export import map_markers, map_to_geojson
from robo_reward.topo.graph import MapUpdate, TopologicalMap
from robo_reward.topo.occupancy import Pose2D, validate_observed, validate_scan
from robo_reward.topo.pointcloud import CloudScanConfig, VirtualScan, cloud_to_scan
from robo_reward.topo.rewards import TopoRewardConfig, topo_rewards

__all__ = ["MISSING_GOAL_POLICIES", "TopoMapperStream", "TopoStep", "TopoStreamConfig"]

MISSING_GOAL_POLICIES = ("explore", "refuse")

_NO_GOAL_DISTANCE = 1.0e4
"""Without a goal the explorer is given one this far away (m; outside any grid), with a zero
goal weight: it never becomes a target and does not bias the frontier choice."""


@dataclass(frozen=True)
class TopoStreamConfig:
    """How odometry and scans become map updates, waypoints and intrinsic rewards."""

    explorer: ExplorerConfig = field(default_factory=ExplorerConfig)
    """The high level's map, planning and shield parameters. The default is the ``toponav``
    bench arm's (``TopoNavConfig(waypoints=True)``: ``ExplorerConfig()`` with the default map),
    the configuration its low-level policies were trained under."""
    rewards: TopoRewardConfig = field(default_factory=TopoRewardConfig)
    """Weights of the intrinsic terms."""
    tolerance_ms: float = 50.0
    """A scan is paired with odometry at most this far from it in stamp."""
    markers_every: int = 5
    """Return the map's markers every this many updates (and at the first update of a map)."""
    frame: str = "odom"
    """``header.frame_id`` of the markers: the odometry frame (the map is in it)."""
    missing_goal: str = "explore"
    """Without a goal: ``explore`` (frontiers by path cost alone) or ``refuse`` (no update)."""
    stall_s: float = 2.0
    """No scan for this long (wall clock of the stream) is an error."""
    cloud: CloudScanConfig = field(default_factory=CloudScanConfig)
    """How :meth:`TopoMapperStream.push_cloud` makes a point cloud into a scan."""

    def __post_init__(self) -> None:
        if self.missing_goal not in MISSING_GOAL_POLICIES:
            raise ValueError(
                f"missing_goal must be one of {MISSING_GOAL_POLICIES}, got {self.missing_goal!r}"
            )
        if not (math.isfinite(self.tolerance_ms) and self.tolerance_ms >= 0):
            raise ValueError(f"tolerance_ms must be a finite number >= 0, got {self.tolerance_ms}")
        if isinstance(self.markers_every, bool) or not (
            isinstance(self.markers_every, int) and self.markers_every >= 1
        ):
            raise ValueError(f"markers_every must be an int >= 1, got {self.markers_every!r}")
        if not (math.isfinite(self.stall_s) and self.stall_s > 0):
            raise ValueError(f"stall_s must be a finite number > 0, got {self.stall_s}")


@dataclass(frozen=True)
class TopoStep:
    """What one map update gives."""

    stamp_ns: int
    """Stamp of the scan (the update's time)."""
    pose: Pose2D
    """The robot's pose at the update (world / odometry frame)."""
    waypoint: np.ndarray | None
    """World (x, y) to steer toward; None without a path (look around)."""
    subgoal: np.ndarray | None
    """World (x, y) of the explorer's target; None when nothing is reachable."""
    subgoal_is_goal: bool
    """The target is the global goal (the map reaches it)."""
    rewards: dict[str, float]
    """``new_node``, ``visit``, ``subgoal`` (weighted)."""
    update: MapUpdate
    """The map's update: current node, created, relocalised, loop closures, clearance."""
    markers: list[dict[str, Any]] | None
    """MarkerArray-shaped dicts every ``markers_every`` updates, else None."""
    latency_s: float
    """Compute time of the update (map, planning, rewards, markers)."""

    @property
    def intrinsic(self) -> float:
        """The sum of the intrinsic terms."""
        return float(sum(self.rewards.values()))

    def waypoint_in_rover_frame(self) -> np.ndarray:
        """The waypoint in the robot's frame at this update (``float32 (2,)``; zeros without
        one): the low level's ``waypoint`` observation."""
        return world_to_rover(self.waypoint, self.pose)


def world_to_rover(xy: np.ndarray | None, pose: Pose2D) -> np.ndarray:
    """A world point in the frame of a robot at ``pose`` (``float32 (2,)``; zeros for None)."""
    vector = np.zeros(2, dtype=np.float32)
    if xy is not None:
        dx, dy = np.asarray(xy, dtype=np.float64) - pose.xy
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        vector[:] = (c * dx + s * dy, -s * dx + c * dy)
    return vector


class TopoMapperStream:
    """Odometry and scans in; map, waypoint, subgoal, intrinsic reward out (module docstring).

    Use :meth:`push_odometry` / :meth:`push_scan` (paired by stamp) or :meth:`update` with an
    already paired odometry and scan. ``set_goal`` gives (or clears) the global goal.
    """

    def __init__(self, config: TopoStreamConfig = TopoStreamConfig()) -> None:
        self.config = config
        self._no_goal_config = dataclasses.replace(config.explorer, goal_weight=0.0)
        self.explorer = FrontierExplorer(config.explorer)
        self.goal: np.ndarray | None = None
        self.updates = 0
        """Updates of the current map."""
        self.total_updates = 0
        self.resets = 0
        """Maps started since the first (reset calls and stamps going backwards)."""
        self.relocalisations = 0
        self.refused: Counter[str] = Counter()
        """Refused inputs by reason."""
        self.last_refusal: dict[str, str] = {}
        self.dropped = 0
        """Scans replaced by a newer one before odometry of their time arrived."""
        self.lost: Counter[str] = Counter()
        """Inputs lost before they reached the stream (counted by the caller), by kind."""
        self._reported_lost: Counter[str] = Counter()
        self.last: TopoStep | None = None
        self.last_cloud: VirtualScan | None = None
        """The virtual scan of the last cloud pushed (:meth:`push_cloud`)."""
        self._odometry: deque[tuple[int, np.ndarray]] = deque(maxlen=64)
        self._pending: tuple[int, np.ndarray, np.ndarray | None] | None = None
        self._last_stamp: int | None = None
        self._latencies: deque[float] = deque(maxlen=200)
        self._events: list[tuple[int, str]] = []
        self._reported: Counter[str] = Counter()
        self._reported_dropped = 0
        self._last_input_s: float | None = None

    # ------------------------------------------------------------------ state
    @property
    def topo(self) -> TopologicalMap:
        """The current map."""
        return self.explorer.topo

    @property
    def beams(self) -> int:
        """Ranges per scan (the map's scan layout: beam ``i`` at ``2 pi i / beams``)."""
        return self.config.explorer.map.scan.beams

    @property
    def lidar_range(self) -> float:
        return self.config.explorer.map.scan.max_range

    def reset(self, reason: str = "") -> None:
        """Start a new map (keeps the goal, the counters and the odometry buffer)."""
        self.explorer.reset()
        self.updates = 0
        self.last = None
        self._pending = None
        self._last_stamp = None
        self.resets += 1
        if reason:
            self._events.append((WARN, f"new map: {reason}"))

    def set_goal(self, goal_xy: np.ndarray | None) -> None:
        """The global goal in the world (odometry) frame, or None (explore without it). A goal
        moved by more than 5 cm makes the explorer replan at the next update."""
        if goal_xy is not None:
            goal = np.asarray(goal_xy, dtype=np.float64)
            if goal.shape != (2,) or not np.all(np.isfinite(goal)):
                self._refuse("goal", f"goal must be a finite world (x, y), got {goal_xy!r}")
            goal_xy = goal
        moved = (self.goal is None) != (goal_xy is None) or (
            goal_xy is not None and float(np.linalg.norm(goal_xy - self.goal)) > 0.05
        )
        self.goal = goal_xy
        if moved:
            self.explorer.target, self.explorer.path = None, []

    def note_refused(self, what: str, reason: str) -> None:
        """Count an input refused before it reached the stream (e.g. a message the node could
        not convert), so diagnostics report it."""
        self.refused[what] += 1
        self.last_refusal[what] = reason

    def note_lost(self, what: str, count: int) -> None:
        """Count ``count`` inputs of kind ``what`` (``scan``, ``odometry``, ``cloud``) that never
        reached the stream, e.g. messages a transport queue dropped (the ROS node reads the gaps
        in the publishers' sequence numbers), so diagnostics report them."""
        if count > 0:
            self.lost[what] += int(count)

    def _refuse(self, what: str, reason: str) -> None:
        self.note_refused(what, reason)
        raise ValueError(reason)

    # ------------------------------------------------------------------ inputs
    def push_odometry(self, stamp_ns: int, odometry: np.ndarray) -> TopoStep | None:
        """Buffer an odometry vector ``(x, y, cos yaw, sin yaw, v, omega)``; the update of a
        held scan that it pairs with, if any. Refuses NaN (``ValueError``)."""
        odometry = self._check_odometry(odometry)
        stamp_ns = int(stamp_ns)
        if self._odometry and stamp_ns < self._odometry[-1][0]:
            self._odometry.clear()  # the clock went back: older odometry is of another run
        self._odometry.append((stamp_ns, odometry))
        if self._pending is not None:
            scan_stamp, ranges, observed = self._pending
            match = self._match(scan_stamp)
            if match is not None:
                self._pending = None
                return self.update(scan_stamp, match, ranges, self.goal, observed)
        return None

    def push_scan(
        self, stamp_ns: int, ranges: np.ndarray, observed: np.ndarray | None = None
    ) -> TopoStep | None:
        """A scan in the map's layout (:attr:`beams` ranges, ``+inf`` or beyond the range: no
        return; ``observed``: optional bool mask of the beams the sensor saw, the others are
        not mapped). The update when odometry of its time is known; None while it waits for
        it. Refuses bad scans and scans older than all odometry (``ValueError``)."""
        stamp_ns = int(stamp_ns)
        ranges, observed = self._check_scan(ranges, observed)
        self._last_input_s = time.monotonic()
        odometry = self._match(stamp_ns)
        if odometry is not None:
            return self.update(stamp_ns, odometry, ranges, self.goal, observed)
        tolerance = int(self.config.tolerance_ms * 1e6)
        if self._odometry and stamp_ns < self._odometry[0][0] - tolerance:
            self._refuse(
                "scan",
                f"scan at {stamp_ns} ns is older than every buffered odometry message "
                f"(from {self._odometry[0][0]} ns) by more than {self.config.tolerance_ms:g} ms",
            )
        if self._pending is not None:
            self.dropped += 1
        self._pending = (stamp_ns, ranges, observed)
        return None

    def push_cloud(self, stamp_ns: int, points: np.ndarray) -> TopoStep | None:
        """A 3D point cloud ``(N, 3)`` in the robot's base frame (a depth camera's or a 3D
        lidar's), made into a virtual scan by :func:`~robo_reward.topo.pointcloud.cloud_to_scan`
        with :attr:`TopoStreamConfig.cloud`; then as :meth:`push_scan`, with the sectors the
        sensor did not see left out of the map (unknown, not free)."""
        try:
            scan = cloud_to_scan(points, self.beams, self.lidar_range, self.config.cloud)
        except ValueError as error:
            self.note_refused("cloud", str(error))
            raise
        self.last_cloud = scan
        return self.push_scan(stamp_ns, scan.ranges, scan.observed)

    def _match(self, stamp_ns: int) -> np.ndarray | None:
        if not self._odometry:
            return None
        stamps = np.array([s for s, _ in self._odometry], dtype=np.int64)
        i = int(np.argmin(np.abs(stamps - stamp_ns)))
        if abs(int(stamps[i]) - stamp_ns) <= self.config.tolerance_ms * 1e6:
            return self._odometry[i][1]
        return None

    def _check_odometry(self, odometry: np.ndarray) -> np.ndarray:
        odometry = np.asarray(odometry, dtype=np.float64)
        if odometry.ndim != 1 or odometry.shape[0] < 4:
            self._refuse(
                "odometry",
                f"odometry must be (x, y, cos yaw, sin yaw, ...), got shape {odometry.shape}",
            )
        if not np.all(np.isfinite(odometry)):
            self._refuse("odometry", f"odometry has NaN or infinite values: {odometry.tolist()}")
        if abs(math.hypot(odometry[2], odometry[3]) - 1.0) > 0.05:
            self._refuse(
                "odometry",
                f"odometry heading (cos, sin) = ({odometry[2]:.3f}, {odometry[3]:.3f}) is not a "
                "unit vector",
            )
        return odometry

    def _check_scan(
        self, ranges: np.ndarray, observed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        spec = self.config.explorer.map.scan
        try:
            ranges = validate_scan(ranges, spec)
            return ranges, None if observed is None else validate_observed(observed, spec)
        except ValueError as error:
            self.note_refused("scan", str(error))
            raise

    # ------------------------------------------------------------------ update
    def update(
        self,
        stamp_ns: int,
        odometry: np.ndarray,
        ranges: np.ndarray,
        goal_xy: np.ndarray | None = None,
        observed: np.ndarray | None = None,
    ) -> TopoStep:
        """One map update from a paired odometry vector and scan (and the goal in the world
        frame, or None; ``observed``: the mask of the beams the sensor saw, None: all).
        Refuses bad input with ``ValueError`` (counted, map untouched)."""
        start = time.perf_counter()
        stamp_ns = int(stamp_ns)
        odometry = self._check_odometry(odometry)
        ranges, observed = self._check_scan(ranges, observed)
        self._last_input_s = time.monotonic()
        if goal_xy is not None or self.goal is not None:
            self.set_goal(goal_xy)
        if self.goal is None and self.config.missing_goal == "refuse":
            self._refuse("goal", "no goal yet (missing_goal=refuse): publish a goal pose")
        if self._last_stamp is not None:
            if stamp_ns == self._last_stamp:
                self._refuse("stamp", f"duplicate stamp {stamp_ns} ns (the last update's)")
            if stamp_ns < self._last_stamp:
                back_ms = (self._last_stamp - stamp_ns) / 1e6
                self.reset(f"stamps went back by {back_ms:.0f} ms (a restarted bag or simulator)")
        pose = Pose2D.from_odometry(odometry)
        explorer = self.explorer
        jump_limit = explorer.topo.config.max_step_distance
        if explorer.topo.trajectory:
            last = np.asarray(explorer.topo.trajectory[-1])
            if float(np.linalg.norm(pose.xy - last)) > jump_limit:
                explorer.target, explorer.path = None, []  # the old path is of another pose

        if self.goal is None:
            explorer.config = self._no_goal_config
            goal_world = pose.xy + np.array([_NO_GOAL_DISTANCE, 0.0])
        else:
            explorer.config = self.config.explorer
            goal_world = self.goal
        observation = {
            "odometry": odometry.astype(np.float32),
            "lidar": ranges.astype(np.float32),
            "goal": world_to_rover(goal_world, pose),
        }
        if observed is not None:
            observation["lidar_observed"] = observed
        update = explorer.observe(observation)
        if update.relocalised:
            self.relocalisations += 1
            self._events.append(
                (WARN, f"relocalisation: the pose jumped {update.jump:.2f} m in one update "
                       f"(> {jump_limit:g} m); no edge made across it, replanned")
            )  # fmt: skip
        visits = explorer.topo.place(update.node).visits
        rewards = topo_rewards(update, visits, explorer.target_reached, self.config.rewards)
        waypoint = explorer.waypoint()
        target = explorer.target
        self.updates += 1
        self.total_updates += 1
        markers = None
        if self.updates == 1 or self.updates % self.config.markers_every == 0:
            markers = map_markers(explorer.topo, self.config.frame)
        self._last_stamp = stamp_ns
        latency = time.perf_counter() - start
        self._latencies.append(latency)
        self.last = TopoStep(
            stamp_ns=stamp_ns,
            pose=pose,
            waypoint=None if waypoint is None else np.array(waypoint, dtype=np.float64),
            subgoal=None if target is None else np.array(target, dtype=np.float64),
            subgoal_is_goal=bool(target is not None and explorer.target_is_goal),
            rewards=rewards,
            update=update,
            markers=markers,
            latency_s=latency,
        )
        return self.last

    def markers(self) -> list[dict[str, Any]]:
        """The map's markers now (MarkerArray-shaped dicts)."""
        return map_markers(self.topo, self.config.frame)

    def geojson(self) -> dict[str, Any]:
        """The map as a Nav2 route graph (GeoJSON FeatureCollection)."""
        return map_to_geojson(self.topo, self.config.frame)

    # ------------------------------------------------------------------ diagnostics
    def status(self) -> StreamStatus:
        """Level, message and key values for ``/diagnostics``. Events (relocalisations, new
        maps, refused and dropped inputs) are reported once, by the first status after them."""
        problems: list[tuple[int, str]] = list(self._events)
        self._events.clear()
        if self._last_input_s is None:
            problems.append((WARN, "no scans yet"))
        else:
            silent = time.monotonic() - self._last_input_s
            if silent > self.config.stall_s:
                problems.append((ERROR, f"no scan for {silent:.1f} s: the map is not updated"))
        if self._pending is not None and self.last is not None:
            if self._pending[0] - self.last.stamp_ns > 10 * self.config.tolerance_ms * 1e6:
                problems.append(
                    (WARN, f"scans wait for odometry: none within {self.config.tolerance_ms:g} "
                           "ms of their stamps (is odom published?)")
                )  # fmt: skip
        new_refusals = self.refused - self._reported
        for what, n in sorted(new_refusals.items()):
            problems.append((WARN, f"{n} {what} input(s) refused: {self.last_refusal[what]}"))
        self._reported = Counter(self.refused)
        new_lost = self.lost - self._reported_lost
        if new_lost:
            kinds = ", ".join(f"{n} {what}" for what, n in sorted(new_lost.items()))
            problems.append(
                (WARN, f"input lost before the mapper read it ({kinds}): published faster than "
                       "the node takes it; the newest inputs are mapped")
            )  # fmt: skip
            self._reported_lost = Counter(self.lost)
        if self.dropped > self._reported_dropped:
            problems.append(
                (WARN, f"{self.dropped - self._reported_dropped} scan(s) dropped: replaced "
                       "before odometry of their time arrived")
            )  # fmt: skip
            self._reported_dropped = self.dropped
        if problems:
            level = max(level for level, _ in problems)
            message = " | ".join(text for _, text in problems)
        else:
            level = OK
            message = self._summary()
        return StreamStatus(level, message, self._values())

    def _summary(self) -> str:
        last = self.last
        if last is None:
            return "waiting for paired odometry and scan"
        goal = "no goal: exploring frontiers by path cost" if self.goal is None else "goal set"
        if last.subgoal is None:
            target = "no reachable subgoal (looking around)"
        else:
            kind = "the goal" if last.subgoal_is_goal else "a frontier"
            target = f"subgoal {kind} at ({last.subgoal[0]:.2f}, {last.subgoal[1]:.2f})"
        return f"mapping: {len(self.topo)} nodes, {goal}, {target}"

    def _values(self) -> dict[str, str]:
        last = self.last
        latencies = np.array(self._latencies) * 1e3
        fmt = lambda xy: "" if xy is None else f"{xy[0]:.3f},{xy[1]:.3f}"  # noqa: E731
        return {
            "nodes": str(len(self.topo)),
            "edges": str(self.topo.graph.number_of_edges()),
            "frontier_nodes": str(len(self.topo.frontier)),
            "relocalisations": str(self.relocalisations),
            "map_resets": str(self.resets),
            "updates": str(self.updates),
            "goal": fmt(self.goal),
            "waypoint": "" if last is None else fmt(last.waypoint),
            "subgoal": "" if last is None else fmt(last.subgoal),
            "subgoal_is_goal": "" if last is None else str(last.subgoal_is_goal).lower(),
            "last_stamp_ns": "" if last is None else str(last.stamp_ns),
            "last_update_ms": "" if last is None else f"{last.latency_s * 1e3:.2f}",
            "update_ms_p50": f"{np.percentile(latencies, 50):.2f}" if len(latencies) else "",
            "update_ms_p99": f"{np.percentile(latencies, 99):.2f}" if len(latencies) else "",
            "refused": ",".join(f"{k}:{n}" for k, n in sorted(self.refused.items())),
            "last_refusal": " | ".join(f"{k}: {v}" for k, v in sorted(self.last_refusal.items())),
            "dropped_scans": str(self.dropped),
            "lost": ",".join(f"{k}:{n}" for k, n in sorted(self.lost.items())),
            **self._cloud_values(),
        }

    def _cloud_values(self) -> dict[str, str]:
        scan = self.last_cloud
        if scan is None:
            return {}
        return {
            "cloud_observed_beams": str(int(scan.observed.sum())),
            "cloud_obstacle_points": str(scan.obstacle_points),
            "cloud_ground_points": str(scan.ground_points),
        }
