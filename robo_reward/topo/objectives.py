"""TopoNav's hierarchical objectives, in priority order (Hossain et al., 2024):

1. **safety**: keep clear of obstacles. :func:`safety_penalty` is negative when the lidar's
   clearance is under ``safe_distance``; :func:`filter_action` scales down, then blocks, the
   forward (or backward) velocity when an obstacle lies in the swept path closer than
   ``slow_distance`` / ``stop_distance``. It never touches the yaw rate, so the robot can always
   turn away;
2. **subgoal**: a frontier node (or the goal's node once the map holds it) chosen by
   :func:`subgoal_score`, held by :class:`SubgoalSelector` until it is reached or stops being a
   frontier;
3. **global goal**: the task's own reward, and the graph distance to the goal as a shaping
   potential (:class:`~robo_reward.topo.potential.GraphDistancePotential`).

Distances are from the lidar, i.e. from the robot's centre (the nav rover's chassis has a
0.12 m radius and its corridors are 0.5 m wide, so a centred rover has 0.25 m each side).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np

from robo_reward.topo.occupancy import Pose2D, ScanSpec, validate_scan

__all__ = [
    "SafetyConfig",
    "Subgoal",
    "SubgoalConfig",
    "SubgoalSelector",
    "choose_subgoal",
    "filter_action",
    "goal_position",
    "safety_penalty",
    "subgoal_score",
]


# --------------------------------------------------------------------------- safety
@dataclass(frozen=True)
class SafetyConfig:
    """Clearances of the safety objective (m, from the robot's centre)."""

    safe_distance: float = 0.2
    """Clearance under which :func:`safety_penalty` is paid (chassis 0.12 m + 8 cm)."""
    slow_distance: float = 0.35
    """Forward velocity is scaled down linearly from here toward ``stop_distance``."""
    stop_distance: float = 0.18
    """Obstacle this near in the direction of travel: no velocity toward it (6 cm margin)."""
    half_width: float = 0.15
    """Half width of the swept path: beams hitting farther to the side are not in the way."""
    penalty: float = 0.002
    """Weight of the penalty; at zero clearance it is ``-penalty`` per step. Small on purpose: a
    whole 600-step episode against a wall then costs about the goal's reward (1), not 60; at
    0.1 a random walk paid more penalty than every exploration bonus together, and PPO learned
    to stand still (``robo-reward bench nav``, 200k steps: 21% coverage, no success)."""

    def __post_init__(self) -> None:
        if not 0 < self.stop_distance < self.slow_distance:
            raise ValueError(
                f"need 0 < stop_distance < slow_distance, got {self.stop_distance}, "
                f"{self.slow_distance}"
            )
        if not (self.safe_distance > 0 and self.half_width > 0 and self.penalty >= 0):
            raise ValueError("safe_distance and half_width must be > 0, penalty >= 0")


def safety_penalty(clearance: float, config: SafetyConfig) -> float:
    """``-penalty · (safe − c) / safe`` for a clearance ``c`` under ``safe_distance``, else 0."""
    if not (math.isfinite(clearance) and clearance >= 0):
        raise ValueError(f"clearance must be a finite distance >= 0, got {clearance!r}")
    shortfall = max(config.safe_distance - clearance, 0.0) / config.safe_distance
    return -config.penalty * shortfall


def filter_action(
    action: np.ndarray,
    scan: np.ndarray,
    config: SafetyConfig = SafetyConfig(),
    spec: ScanSpec | None = None,
) -> np.ndarray:
    """The action with its linear velocity limited by the obstacles in the direction of travel.

    ``action`` is ``(forward, yaw rate)``. Beams pointing along the travel direction (ahead for
    ``forward > 0``, behind for ``forward < 0``) whose hit lies within ``half_width`` of the
    robot's line of travel give the free distance ``d`` (the hit's projection on that line).
    The velocity is kept for ``d >= slow_distance``, scaled by
    ``(d − stop) / (slow − stop)`` in between and zero from ``stop_distance``: never larger in
    magnitude, never reversed, the yaw rate untouched.
    """
    action = np.asarray(action, dtype=np.float32)
    if action.shape != (2,) or not np.all(np.isfinite(action)):
        raise ValueError(f"action must be a finite (forward, yaw rate), got {action!r}")
    spec = spec or ScanSpec()
    ranges = validate_scan(scan, spec)
    forward = float(action[0])
    if forward == 0.0:
        return action.copy()
    angles = spec.angles + (0.0 if forward > 0 else np.pi)
    along, across = ranges * np.cos(angles), ranges * np.sin(angles)
    hit = ranges < spec.max_range - 1e-6
    in_path = hit & (along > 0) & (np.abs(across) <= config.half_width)
    free = float(along[in_path].min()) if in_path.any() else math.inf
    span = config.slow_distance - config.stop_distance
    scale = float(np.clip((free - config.stop_distance) / span, 0.0, 1.0))
    return np.array([forward * scale, action[1]], dtype=np.float32)


# --------------------------------------------------------------------------- goal
def goal_position(observation: Mapping[str, np.ndarray]) -> np.ndarray:
    """World (x, y) of the goal from a nav observation (``goal`` is in the rover's frame)."""
    pose = Pose2D.from_odometry(observation["odometry"])
    goal = np.asarray(observation["goal"], dtype=np.float64)
    if goal.shape != (2,) or not np.all(np.isfinite(goal)):
        raise ValueError(f"goal must be a finite (x, y) in the rover frame, got {goal!r}")
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    return pose.xy + np.array([c * goal[0] - s * goal[1], s * goal[0] + c * goal[1]])


# --------------------------------------------------------------------------- subgoals
@dataclass(frozen=True)
class SubgoalConfig:
    """Weights of :func:`subgoal_score`."""

    novelty: float = 1.0
    """Weight of novelty ``1/sqrt(visits) + frontier_bonus·[frontier]``."""
    frontier_bonus: float = 0.5
    """Novelty of bordering unexplored space, on top of the visit term."""
    distance: float = 1.0
    """Weight of the graph distance from the robot's node, per ``distance_scale``."""
    distance_scale: float = 3.0
    """Metres of graph distance that cost ``distance`` (the lidar's range)."""
    alignment: float = 0.5
    """Weight of the cosine between the direction to the node and the direction to the goal."""
    goal_bonus: float = 10.0
    """Added to the goal's node: once the map reaches the goal it outranks every frontier."""


def subgoal_score(
    xy: np.ndarray,
    visits: int,
    frontier: bool,
    graph_distance: float,
    robot_xy: np.ndarray,
    goal_xy: np.ndarray | None,
    is_goal: bool,
    config: SubgoalConfig = SubgoalConfig(),
) -> float:
    """The score of one candidate node::

        S = w_nov (1/sqrt(visits) + b_frontier [frontier])
            − w_dist d_graph / d_scale
            + w_align cos(angle(node − robot, goal − robot))
            + b_goal [node is the goal's node]

    The alignment is 0 without a goal or when the node or the goal is at the robot.
    """
    novelty = 1.0 / math.sqrt(max(visits, 1)) + config.frontier_bonus * float(frontier)
    alignment = 0.0
    if goal_xy is not None:
        to_node = np.asarray(xy, dtype=np.float64) - robot_xy
        to_goal = np.asarray(goal_xy, dtype=np.float64) - robot_xy
        norm = float(np.linalg.norm(to_node) * np.linalg.norm(to_goal))
        if norm > 1e-9:
            alignment = float(to_node @ to_goal) / norm
    return (
        config.novelty * novelty
        - config.distance * graph_distance / config.distance_scale
        + config.alignment * alignment
        + config.goal_bonus * float(is_goal)
    )


@dataclass(frozen=True)
class Subgoal:
    node: int
    xy: np.ndarray
    score: float
    is_goal: bool


def choose_subgoal(
    graph: nx.Graph,
    current: int,
    robot_xy: np.ndarray,
    goal_xy: np.ndarray | None = None,
    goal_node: int | None = None,
    config: SubgoalConfig = SubgoalConfig(),
) -> Subgoal | None:
    """The best-scoring node among the frontier nodes and ``goal_node`` (the goal's node when
    the map holds it), excluding the robot's node and nodes it cannot reach in the graph.

    ``graph`` holds a :class:`~robo_reward.topo.graph.Place` as each node's ``place`` and edge
    ``cost`` s (a :class:`~robo_reward.topo.graph.TopologicalMap`'s ``graph``). Ties go to the
    lower node id. None when there is no candidate.
    """
    distances = nx.single_source_dijkstra_path_length(graph, current, weight="cost")
    best: Subgoal | None = None
    for node in sorted(distances):
        place = graph.nodes[node]["place"]
        is_goal = node == goal_node
        if node == current or not (place.frontier or is_goal):
            continue
        score = subgoal_score(
            place.xy, place.visits, place.frontier, distances[node], robot_xy, goal_xy,
            is_goal, config,
        )  # fmt: skip
        if best is None or score > best.score:
            best = Subgoal(node, np.array(place.xy, dtype=np.float64), score, is_goal)
    return best


class SubgoalSelector:
    """Holds the current subgoal: re-chosen when it is reached, when it stops being a frontier
    (and is not the goal's node), when the goal's node enters (or moves in) the map, or when
    there is none."""

    def __init__(self, config: SubgoalConfig = SubgoalConfig()) -> None:
        self.config = config
        self.subgoal: Subgoal | None = None

    def reset(self) -> None:
        self.subgoal = None

    def update(self, topo, goal_xy: np.ndarray | None) -> tuple[Subgoal | None, bool]:
        """(the subgoal after this step, whether the previous one was reached at this step)."""
        current = topo.current
        robot_xy = np.array(topo.trajectory[-1])
        goal_node = None
        if goal_xy is not None:
            path = topo.path_to(goal_xy)
            goal_node = path.goal_node if path.found else None
        held = self.subgoal
        reached = held is not None and current == held.node
        stale = (
            held is None
            or reached
            or held.node not in topo.graph
            or (not held.is_goal and held.node not in topo.frontier)
            or (goal_node is not None and held.node != goal_node)
        )
        if stale:
            self.subgoal = choose_subgoal(
                topo.graph, current, robot_xy, goal_xy, goal_node, self.config
            )
        return self.subgoal, reached
