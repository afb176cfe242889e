"""A classical frontier explorer (Yamauchi, 1997): the navigation benchmark's learning-free
baseline. It reads observations only (lidar, odometry, goal vector), never the maze.

Each step it updates a :class:`~robo_reward.topo.graph.TopologicalMap` (whose occupancy grid it
plans on). Every ``replan_every`` steps, or when its path is used up, it runs Dijkstra over the
grid's traversable cells (observed free, or within ``fill`` of observed free cells, and at least
``clearance`` from occupied cells) from the robot. A cell costs more the nearer it is to a wall
(a distance transform of the occupied cells: up to ``wall_cost`` times below
``preferred_clearance``), so paths keep to the middle of corridors and round corners wide. It
picks

1. the goal, once its cell is reachable in the grid (the goal is in the map), else
2. the frontier cell (traversable, next to unexplored space) with the least path cost plus
   ``goal_weight`` times its straight-line distance to the goal, skipping cells near targets it
   gave up on. It commits to that target until it is reached, stops being a reachable frontier,
   or is abandoned (``give_up_steps``, or ``recoveries_before_abandon`` recoveries); a target
   reached twice (a frontier that cannot be seen past) is abandoned.

It steers toward the farthest path point within ``lookahead`` that is in line of sight over
wall-clear cells, drives at ``cos⁴`` of the heading error (turning on the spot at corners),
through the safety filter (:func:`~robo_reward.topo.objectives.filter_action`). When the filter
holds it for ``blocked_steps`` it backs up for ``recovery_steps`` (turning toward its path) and
replans. With nothing reachable it turns on the spot to look around.

Measured on seeded mazes (``maze_seed = reset seed``, small 0-9 and medium 0-4, registration
time limits): it reaches the goal in 9 of 10 small and 5 of 5 medium mazes (the map-knowing
``WaypointFollower``: 10/10 and 5/5), with end coverage 0.69 / 0.42 and no collisions, at
~1.5-2 ms per step. Before the clearance cost, the line-of-sight lookahead, the recovery and the
commitment it reached 2/10 and 0/5 (coverage 0.37 / 0.09; random actions 0.16 / 0.06). The
small maze it misses (seed 7) puts the goal behind a dead end on the goal's side: the
goal-directed frontier choice explores that side first, and the time limit ends the episode
with the goal in its map, a few metres away.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from robo_reward.topo.graph import MapUpdate, TopologicalMap, TopoMapConfig
from robo_reward.topo.objectives import SafetyConfig, filter_action, goal_position
from robo_reward.topo.occupancy import Pose2D

__all__ = ["ExplorerConfig", "FrontierExplorer", "dijkstra", "wavefront"]

_NEIGHBOURS = np.ones((3, 3), np.uint8)
_MOVES = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


@dataclass(frozen=True)
class ExplorerConfig:
    """The explorer's planning and control parameters (m, steps, normalised actions)."""

    clearance: float = 0.12
    """Cells nearer than this to an occupied cell are not traversable (the chassis radius; wall
    hit cells lie up to half a cell inside the corridor, a 0.5 m corridor keeps a lane of
    2-3 cells)."""
    preferred_clearance: float = 0.25
    """Cells nearer than this to an occupied cell cost more, up to ``wall_cost`` times at
    ``clearance``: paths keep to the middle of 0.5 m corridors and round corners wide."""
    wall_cost: float = 6.0
    fill: float = 0.2
    """Radius of the morphological closing of the free cells: fills the wedges between the
    lidar's beams (10 degrees apart: 0.35 m at 2 m), which are not unexplored space, without
    growing free space past the ends of the beams (into walls)."""
    goal_weight: float = 1.0
    """Frontier targets are ranked by path cost plus this times their straight-line distance to
    the goal (the goal vector is an observation): the search heads for the goal's side."""
    switch_margin: float = math.inf
    """Keep the committed frontier target (while it is still a reachable frontier) unless another
    one ranks this much (m) better: by default until it is reached or proven unreachable
    (a margin of 1 m made it oscillate between targets as paths grew, 4/5 medium mazes)."""
    full_turn_steps: int = 32
    """Steps of turning on the spot for a full turn (2 rad/s at 0.1 s steps), after which
    abandoned targets may be tried again."""
    lookahead: float = 0.6
    """Steer toward the farthest path point within this distance that is in line of sight
    over traversable cells."""
    turn_gain: float = 1.5
    """Yaw-rate action per radian of heading error (clipped to [-1, 1])."""
    replan_every: int = 5
    """Steps between plans (a plan costs a few ms)."""
    target_reached: float = 0.25
    """A frontier target this near is reached: its surroundings are blacklisted."""
    blacklist_radius: float = 0.5
    """Frontier cells this near a reached or abandoned target are not chosen again."""
    give_up_steps: int = 300
    """Steps after which an unreached frontier target is abandoned."""
    blocked_steps: int = 8
    """Steps without progress (the safety filter holding the robot) before a recovery."""
    recovery_steps: int = 6
    """Steps of backing up (turning toward the path) in a recovery."""
    recoveries_before_abandon: int = 3
    """Recoveries toward one target before it is abandoned."""
    map: TopoMapConfig = field(default_factory=TopoMapConfig)
    safety: SafetyConfig = field(
        default_factory=lambda: SafetyConfig(
            stop_distance=0.14, slow_distance=0.25, half_width=0.13
        )
    )
    """A tighter shield than the reward's: the chassis fits the corridors with ~0.13 m a side."""


def wavefront(traversable: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """BFS steps (8-connected) from ``start`` over ``traversable``; -1 where unreachable."""
    steps = np.full(traversable.shape, -1, np.int32)
    reached = np.zeros(traversable.shape, np.uint8)
    reached[start] = 1
    steps[start] = 0
    allowed = traversable.astype(np.uint8)
    allowed[start] = 1
    k = 0
    while True:
        k += 1
        grown = cv2.dilate(reached, _NEIGHBOURS) & allowed
        new = (grown > 0) & (reached == 0)
        if not new.any():
            return steps
        steps[new] = k
        reached = grown


def dijkstra(cost: np.ndarray, start: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Least-cost distances (8-connected; a move costs its length in cells times the mean of its
    two cells' costs) from ``start`` over the cells with finite ``cost``, and each reached cell's
    predecessor as a flat index (-1 at the start and where unreachable; distance ``inf``)."""
    rows, cols = cost.shape
    flat_cost = cost.ravel().tolist()
    distance = [math.inf] * (rows * cols)
    previous = [-1] * (rows * cols)
    s = start[0] * cols + start[1]
    distance[s] = 0.0
    if not math.isfinite(flat_cost[s]):
        flat_cost[s] = 1.0
    moves = [(dr * cols + dc, dr, dc, math.hypot(dr, dc) / 2) for dr, dc in _MOVES]
    heap = [(0.0, s)]
    while heap:
        d, i = heapq.heappop(heap)
        if d > distance[i]:
            continue
        r, c = divmod(i, cols)
        ci = flat_cost[i]
        for offset, dr, dc, half in moves:
            rr, cc = r + dr, c + dc
            if not (0 <= rr < rows and 0 <= cc < cols):
                continue
            j = i + offset
            cj = flat_cost[j]
            if cj == math.inf:
                continue
            nd = d + half * (ci + cj)
            if nd < distance[j]:
                distance[j] = nd
                previous[j] = i
                heapq.heappush(heap, (nd, j))
    return (
        np.array(distance).reshape(rows, cols),
        np.array(previous, dtype=np.int64).reshape(rows, cols),
    )


class FrontierExplorer:
    """Frontier exploration, then the goal (see the module docstring); ``act(obs, info)`` like
    :class:`~robo_reward.sim.nav.follower.WaypointFollower`, without the maze."""

    def __init__(self, config: ExplorerConfig = ExplorerConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget the map (call after ``env.reset``)."""
        self.topo = TopologicalMap(self.config.map)
        self.path: list[np.ndarray] = []
        self.target: np.ndarray | None = None
        self.target_is_goal = False
        self.blacklist: list[np.ndarray] = []
        self._reached: list[np.ndarray] = []
        self._since_plan = 0
        self._since_target = 0
        self._idle = 0
        self._blocked = 0
        self._recovering = 0
        self._recoveries = 0
        self._sight: np.ndarray | None = None
        self._origin = (0, 0)
        self.pose = Pose2D(0.0, 0.0, 0.0)
        self.target_reached = False
        """Whether the last :meth:`observe` reached a frontier target."""

    # ----------------------------------------------------------------- planning
    def _disk(self, metres: float, resolution: float) -> np.ndarray:
        radius = max(1, int(math.ceil(metres / resolution)))
        return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))

    def _abandon(self) -> None:
        if self.target is not None and not self.target_is_goal:
            self.blacklist.append(self.target)
        self.target, self.path, self.target_is_goal = None, [], False
        self._since_target = 0
        self._recoveries = 0

    def _plan(self, robot_xy: np.ndarray, goal_xy: np.ndarray) -> None:
        cfg = self.config
        grid = self.topo.grid
        res = grid.resolution
        # Plan in the window of observed cells, with a margin for the filled-in free space.
        margin = int(math.ceil(cfg.fill / res)) + 2
        b = grid._bbox
        r0, c0 = max(b[0] - margin, 0), max(b[1] - margin, 0)
        r1, c1 = min(b[2] + margin + 1, grid.cells), min(b[3] + margin + 1, grid.cells)
        occupied = grid.occupied[r0:r1, c0:c1].astype(np.uint8)
        free = cv2.morphologyEx(
            grid.free[r0:r1, c0:c1].astype(np.uint8), cv2.MORPH_CLOSE, self._disk(cfg.fill, res)
        )
        free = (free > 0) & (occupied == 0)
        # Distance (m) from each cell's centre to the nearest occupied cell's centre.
        clear = cv2.distanceTransform((occupied == 0).astype(np.uint8), cv2.DIST_L2, 5) * res
        traversable = free & (clear >= cfg.clearance)
        span = max(cfg.preferred_clearance - cfg.clearance, 1e-6)
        cost = 1.0 + (cfg.wall_cost - 1.0) * np.clip(
            (cfg.preferred_clearance - clear) / span, 0.0, 1.0
        )
        robot = grid.to_cell(robot_xy) - (r0, c0)
        start = (int(robot[0]), int(robot[1]))
        # The robot may stand nearer a wall than ``clearance`` (a tight turn): let it leave.
        near_robot = np.zeros_like(occupied)
        cv2.circle(near_robot, start[::-1], int(round(2 * cfg.clearance / res)), 1, -1)
        passable = traversable | (free & (near_robot > 0))
        cost = np.where(passable, cost, np.inf)
        cost[~traversable & passable] = cfg.wall_cost * 2
        self._sight = traversable & (clear >= cfg.clearance + 0.5 * res)
        self._origin = (r0, c0)
        distance, previous = dijkstra(cost, start)
        distance *= res
        end = None
        goal = grid.to_cell(goal_xy) - (r0, c0)
        self.target_is_goal = False
        inside = bool(np.all((goal >= 0) & (goal < distance.shape)))
        if inside and np.isfinite(distance[goal[0], goal[1]]):
            end, self.target_is_goal = (int(goal[0]), int(goal[1])), True
        else:
            unknown = ((~free) & (occupied == 0)).astype(np.uint8)
            cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
            frontier = traversable & np.isfinite(distance) & (cv2.dilate(unknown, cross) > 0)
            rc = np.argwhere(frontier)
            xy = grid.cell_center(rc + (r0, c0))
            ok = np.linalg.norm(xy - robot_xy, axis=1) > cfg.target_reached
            if self.blacklist and len(xy):
                banned = np.array(self.blacklist)
                gap = np.linalg.norm(xy[:, None] - banned[None], axis=2).min(axis=1)
                ok &= gap > cfg.blacklist_radius
            if ok.any():
                score = distance[rc[:, 0], rc[:, 1]] + cfg.goal_weight * np.linalg.norm(
                    xy - goal_xy, axis=1
                )
                score[~ok] = np.inf
                i = int(np.argmin(score))
                if self.target is not None:  # commitment: keep the target unless much worse
                    near = np.linalg.norm(xy - self.target, axis=1)
                    near[~ok] = np.inf
                    j = int(np.argmin(near))
                    if near[j] < cfg.target_reached and score[j] <= score[i] + cfg.switch_margin:
                        i = j
                end = (int(rc[i, 0]), int(rc[i, 1]))
        if end is None:
            self.path, self.target = [], None
            return
        cells = [end]
        cols = distance.shape[1]
        k = int(previous[end])
        while k >= 0:
            cells.append(divmod(k, cols))
            k = int(previous[cells[-1]])
        cells = np.array(cells[::-1]) + (r0, c0)
        self.path = list(grid.cell_center(cells))
        if self.target_is_goal:
            self.path[-1] = np.asarray(goal_xy, dtype=np.float64)
        new_target = self.path[-1]
        if self.target is None or np.linalg.norm(new_target - self.target) > cfg.target_reached:
            self._since_target = 0
            self._recoveries = 0
        self.target = new_target

    def _in_sight(self, a: np.ndarray, b: np.ndarray) -> bool:
        """The segment from ``a`` to ``b`` crosses only cells clear of walls (plan window)."""
        grid = self.topo.grid
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / (0.5 * grid.resolution))) + 1)
        rc = grid.to_cell(a + np.linspace(0.0, 1.0, n)[1:, None] * (b - a)) - self._origin
        shape = np.array(self._sight.shape)
        if np.any((rc < 0) | (rc >= shape)):
            return False
        return bool(self._sight[rc[:, 0], rc[:, 1]].all())

    # ----------------------------------------------------------------- high level
    def observe(self, observation: Mapping[str, np.ndarray]) -> MapUpdate:
        """The explorer's high level for one observation: update the map, settle the target
        (reached, given up) and replan when due. :meth:`act` calls it; a learned low-level
        controller (``TopoNavRewards`` with ``waypoints``) calls it instead of :meth:`act` and
        steers toward :meth:`waypoint`. Sets :attr:`target_reached` for this step."""
        cfg = self.config
        update = self.topo.update(observation)
        pose = Pose2D.from_odometry(observation["odometry"])
        goal_xy = goal_position(observation)
        self.pose = pose
        self.target_reached = False
        self._since_plan += 1
        self._since_target += 1
        if self.target is not None and not self.target_is_goal:
            if np.linalg.norm(self.target - pose.xy) < cfg.target_reached:
                # Reached: a frontier reached twice cannot be seen past; else look again.
                self.target_reached = True
                if any(np.linalg.norm(self.target - r) < cfg.target_reached for r in self._reached):
                    self._abandon()
                else:
                    self._reached.append(self.target)
                    self.target, self.path = None, []
            elif self._since_target > cfg.give_up_steps:
                self._abandon()
        if not self.path or self._since_plan >= cfg.replan_every:
            self._plan(pose.xy, goal_xy)
            self._since_plan = 0
        if self.path:  # drop the path points already passed
            points = np.array(self.path)
            nearest = int(np.argmin(np.linalg.norm(points - pose.xy, axis=1)))
            self.path = self.path[nearest:]
        return update

    def waypoint(self) -> np.ndarray | None:
        """The farthest path point within ``lookahead`` in line of sight (world x, y): where the
        low level steers. None without a path (nothing reachable: look around)."""
        if not self.path:
            return None
        points = np.array(self.path)
        point = points[min(1, len(points) - 1)]
        along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
        for k in range(1, len(points)):
            if along[k] > self.config.lookahead:
                break
            if self._in_sight(self.pose.xy, points[k]):
                point = points[k]
        return point

    def remaining_distance(self) -> float | None:
        """Metres from the robot along the path to the target; None without a path."""
        if not self.path:
            return None
        points = np.array(self.path)
        along = float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())
        return float(np.linalg.norm(points[0] - self.pose.xy)) + along

    # ----------------------------------------------------------------- control
    def act(self, observation: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None):
        """The next action ``(forward, yaw rate)`` in [-1, 1]; ``info`` is not read."""
        cfg = self.config
        self.observe(observation)
        pose = self.pose
        point = self.waypoint()
        if point is None:
            self._idle += 1
            if self._idle > cfg.full_turn_steps:  # looked all round: retry old targets
                self.blacklist.clear()
                self._idle = 0
            return np.array([0.0, 1.0], dtype=np.float32)  # look around
        self._idle = 0
        dx, dy = point - pose.xy
        error = math.remainder(math.atan2(dy, dx) - pose.yaw, 2 * math.pi)
        turn = float(np.clip(cfg.turn_gain * error, -1.0, 1.0))
        if self._recovering > 0:  # back up, turning toward the path
            self._recovering -= 1
            action = np.array([-0.5, turn], dtype=np.float32)
            return filter_action(action, observation["lidar"], cfg.safety, cfg.map.scan)
        action = np.array([max(math.cos(error), 0.0) ** 4, turn], dtype=np.float32)
        safe = filter_action(action, observation["lidar"], cfg.safety, cfg.map.scan)
        self._blocked = self._blocked + 1 if safe[0] < 0.5 * action[0] else 0
        if self._blocked > cfg.blocked_steps:
            self._blocked = 0
            self._recoveries += 1
            if self._recoveries > cfg.recoveries_before_abandon:
                self._abandon()
            else:
                self._recovering = cfg.recovery_steps
            self._since_plan = cfg.replan_every  # replan next step
        return safe
