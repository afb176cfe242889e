"""A classical frontier explorer (Yamauchi, 1997): the navigation benchmark's learning-free
baseline. It reads observations only (lidar, odometry, goal vector), never the maze.

Each step it updates a :class:`~robo_reward.topo.graph.TopologicalMap` (whose occupancy grid it
plans on). Every ``replan_every`` steps, or when its path is used up, it runs a wavefront (BFS)
over the grid's traversable cells (observed free, or within ``fill`` of observed free cells,
and farther than ``inflation`` from occupied cells) from the robot and picks

1. the goal, once its cell is reachable in the grid (the goal is in the map), else
2. the nearest reachable frontier cell (traversable, next to unexplored space), skipping cells near
   targets it already reached or gave up on (``give_up_steps`` without reaching one);

and follows the grid path with pure pursuit: steer toward the path point ``lookahead`` ahead,
drive at ``cos⁴`` of the heading error (turning on the spot at corners), through the safety
filter (:func:`~robo_reward.topo.objectives.filter_action`). With nothing reachable it turns on
the spot to look around.

Known weakness (measured on seeded mazes, registration time limits): it reached the goal in 2 of
10 small and 0 of 5 medium mazes (the map-knowing ``WaypointFollower``: 10/10 and 5/5), with end
coverage 0.37 / 0.09 against 0.16 / 0.06 for random actions. Its grid paths hug corners, where the
safety filter stops it and it abandons targets; a distance-to-wall path cost and a back-up
recovery are the next fixes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from robo_reward.topo.graph import TopologicalMap, TopoMapConfig
from robo_reward.topo.objectives import SafetyConfig, filter_action, goal_position
from robo_reward.topo.occupancy import Pose2D

__all__ = ["ExplorerConfig", "FrontierExplorer", "wavefront"]

_NEIGHBOURS = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class ExplorerConfig:
    """The explorer's planning and control parameters (m, steps, normalised actions)."""

    inflation: float = 0.1
    """Cells this near an occupied cell are not traversable: one cell, so that a 0.5 m corridor
    keeps a traversable lane 2-3 cells wide after the walls' hit cells (which may lie up to a
    cell inside the corridor) are grown; the safety filter keeps the chassis off the walls."""
    fill: float = 0.2
    """Radius of the morphological closing of the free cells: fills the wedges between the
    lidar's beams (10 degrees apart: 0.35 m at 2 m), which are not unexplored space, without
    growing free space past the ends of the beams (into walls)."""
    full_turn_steps: int = 32
    """Steps of turning on the spot for a full turn (2 rad/s at 0.1 s steps), after which
    abandoned targets may be tried again."""
    blocked_steps: int = 10
    """Steps the safety filter may hold the robot still before its target is abandoned."""
    lookahead: float = 0.2
    """Pure pursuit's lookahead along the path."""
    turn_gain: float = 1.5
    """Yaw-rate action per radian of heading error (clipped to [-1, 1])."""
    replan_every: int = 5
    """Steps between plans (a plan costs a few ms)."""
    target_reached: float = 0.25
    """A frontier target this near is reached: its surroundings are blacklisted."""
    blacklist_radius: float = 0.5
    """Frontier cells this near a reached or abandoned target are not chosen again."""
    give_up_steps: int = 150
    """Steps after which an unreached frontier target is abandoned."""
    map: TopoMapConfig = field(default_factory=TopoMapConfig)
    safety: SafetyConfig = field(
        default_factory=lambda: SafetyConfig(
            stop_distance=0.14, slow_distance=0.25, half_width=0.13
        )
    )
    """A tighter shield than the reward's: grid paths round corners close to the walls."""


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


def _descend(steps: np.ndarray, end: tuple[int, int]) -> list[tuple[int, int]]:
    """The cells from the wavefront's start to ``end`` (steepest descent of ``steps``)."""
    path = [end]
    r, c = end
    rows, cols = steps.shape
    while steps[r, c] > 0:
        best = None
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = r + dr, c + dc
                if 0 <= rr < rows and 0 <= cc < cols and steps[rr, cc] == steps[r, c] - 1:
                    best = (rr, cc)
                    break
            if best is not None:
                break
        r, c = best
        path.append(best)
    return path[::-1]


class FrontierExplorer:
    """Frontier exploration, then the goal (see the module docstring); ``act(obs, info)`` like
    :class:`~robo_reward.sim.nav.follower.WaypointFollower`, without the maze."""

    def __init__(self, config: ExplorerConfig = ExplorerConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget the map (call after ``env.reset``)."""
        self._blocked = 0
        self._idle = 0
        self.topo = TopologicalMap(self.config.map)
        self.path: list[np.ndarray] = []
        self.target: np.ndarray | None = None
        self.target_is_goal = False
        self.blacklist: list[np.ndarray] = []
        self._since_plan = 0
        self._since_target = 0

    # ----------------------------------------------------------------- planning
    def _disk(self, metres: float, resolution: float) -> np.ndarray:
        radius = max(1, int(math.ceil(metres / resolution)))
        return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))

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
        traversable = free & (cv2.dilate(occupied, self._disk(cfg.inflation, res)) == 0)
        robot = grid.to_cell(robot_xy) - (r0, c0)
        start = (int(robot[0]), int(robot[1]))
        # The robot may stand in the inflation band (a tight turn): let it leave it.
        near_robot = np.zeros_like(occupied)
        cv2.circle(near_robot, start[::-1], int(round(2 * cfg.inflation / res)), 1, -1)
        traversable |= free & (near_robot > 0)
        steps = wavefront(traversable, start)
        end = None
        goal = grid.to_cell(goal_xy) - (r0, c0)
        self.target_is_goal = False
        if np.all((goal >= 0) & (goal < steps.shape)) and steps[goal[0], goal[1]] >= 0:
            end, self.target_is_goal = (int(goal[0]), int(goal[1])), True
        else:
            unknown = ((~free) & (occupied == 0)).astype(np.uint8)
            cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
            frontier = (steps > 0) & (cv2.dilate(unknown, cross) > 0)
            rc = np.argwhere(frontier)
            xy = grid.cell_center(rc + (r0, c0))
            ok = np.linalg.norm(xy - robot_xy, axis=1) > cfg.target_reached
            if self.blacklist and len(xy):
                banned = np.array(self.blacklist)
                gap = np.linalg.norm(xy[:, None] - banned[None], axis=2).min(axis=1)
                ok &= gap > cfg.blacklist_radius
            if ok.any():
                cost = steps[rc[:, 0], rc[:, 1]]
                i = np.flatnonzero(ok)[np.argmin(cost[ok])]
                end = (int(rc[i, 0]), int(rc[i, 1]))
        if end is None:
            self.path, self.target = [], None
            return
        cells = np.array(_descend(steps, end)) + (r0, c0)
        self.path = list(grid.cell_center(cells))
        if self.target_is_goal:
            self.path[-1] = np.asarray(goal_xy, dtype=np.float64)
        new_target = self.path[-1]
        if self.target is None or np.linalg.norm(new_target - self.target) > cfg.target_reached:
            self._since_target = 0
        self.target = new_target

    # ----------------------------------------------------------------- control
    def act(self, observation: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None):
        """The next action ``(forward, yaw rate)`` in [-1, 1]; ``info`` is not read."""
        cfg = self.config
        self.topo.update(observation)
        pose = Pose2D.from_odometry(observation["odometry"])
        goal_xy = goal_position(observation)
        self._since_plan += 1
        self._since_target += 1
        if self.target is not None and not self.target_is_goal:
            if (
                np.linalg.norm(self.target - pose.xy) < cfg.target_reached
                or self._since_target > cfg.give_up_steps
                or self._blocked > cfg.blocked_steps
            ):
                self._blocked = 0
                self.blacklist.append(self.target)
                self.target, self.path = None, []
        if not self.path or self._since_plan >= cfg.replan_every:
            self._plan(pose.xy, goal_xy)
            self._since_plan = 0
        if not self.path:
            self._idle += 1
            if self._idle > cfg.full_turn_steps:  # looked all round: retry old targets
                self.blacklist.clear()
                self._idle = 0
            return np.array([0.0, 1.0], dtype=np.float32)  # look around
        self._idle = 0
        points = np.array(self.path)
        distance = np.linalg.norm(points - pose.xy, axis=1)
        nearest = int(np.argmin(distance))
        ahead = np.flatnonzero(distance[nearest:] >= cfg.lookahead)
        point = points[nearest + ahead[0]] if len(ahead) else points[-1]
        self.path = self.path[nearest:]
        dx, dy = point - pose.xy
        error = math.remainder(math.atan2(dy, dx) - pose.yaw, 2 * math.pi)
        action = np.array(
            [max(math.cos(error), 0.0) ** 4, np.clip(cfg.turn_gain * error, -1.0, 1.0)],
            dtype=np.float32,
        )
        safe = filter_action(action, observation["lidar"], cfg.safety, cfg.map.scan)
        self._blocked = self._blocked + 1 if safe[0] < 0.5 * action[0] else 0
        if self._blocked > cfg.blocked_steps:
            self._since_plan = cfg.replan_every  # replan next step
        return safe
