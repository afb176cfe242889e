"""The graph distance to the goal as a shaping potential (TopoNav's global objective).

    ``Φ(s) = − min(d(s), d_max) / d_max``   in ``[−1, 0]``

**Why 0 at the goal, negative elsewhere.** PBRS sets Φ = 0 after ``terminated``, so Φ must be 0
where episodes end (the goal) or the last shaped step pays ``−Φ(s_{T−1})``. With the earlier
``1 − d/d_max`` (≈ 0.85 near the start of a small maze) reaching the goal paid
``1 + 0 − 0.97 ≈ 0.03`` and every step cost ``(1 − γ)Φ ≈ −0.009``: the map-knowing oracle's
shaped return summed to −2.07 over a successful episode, standing still to −5.37, and PPO learned
to stand still (``robo-reward bench nav``, 200k steps: 21% coverage, no success). With
``−d/d_max`` the terminal Φ and the goal's Φ agree, and ``(1 − γ)|Φ|`` per step is a small
discount correction, not a cost of moving.

with ``d`` the distance the robot still has to travel to the goal:

- **graph** (the map reaches the goal): over the nodes ``n`` near the robot (within
  ``recognition_radius`` and in line of sight on the occupancy grid, plus the current node),
  ``min_n ‖robot − n‖ + d_graph(n, g) + ‖g − goal‖`` with ``g`` the goal's node
  (:meth:`~robo_reward.topo.graph.TopologicalMap.path_to`). Taking the minimum over nearby nodes
  rather than the current node alone makes ``d`` fall continuously while the robot drives along
  the route, not in steps at node switches;
- **euclidean** fallback (the goal is outside the mapped region, or not connected to the robot
  after a relocalisation): ``‖robot − goal‖`` through the observation's goal vector. It is a lower
  bound of the graph distance, so Φ may drop when the route first appears in the map; that is
  still a potential (the shaping telescopes on the values reported), and
  :attr:`GraphDistancePotential.source` says which case produced the last value.

``d_max`` normalises (a constant, so Φ is comparable across episodes); distances beyond it give
Φ = −1 and set :attr:`GraphDistancePotential.saturated`. Pick it above the longest route of the
mazes trained on (default 30 m: medium mazes' routes from start to goal are under ~20 m).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from robo_reward.topo.graph import TopologicalMap, TopoMapConfig
from robo_reward.topo.objectives import goal_position
from robo_reward.topo.occupancy import Pose2D

__all__ = ["GraphDistancePotential", "goal_distance"]


def goal_distance(topo: TopologicalMap, robot_xy: np.ndarray, goal_xy: np.ndarray) -> float | None:
    """The graph case of the module docstring's ``d``; None when the map has no route yet."""
    path = topo.path_to(goal_xy)
    if not path.found:
        return None
    to_goal = topo.distances_from(path.goal_node)
    offset = float(np.linalg.norm(topo.place(path.goal_node).xy - goal_xy))
    radius = topo.config.recognition_radius
    best = np.inf
    for node, cost in to_goal.items():
        xy = topo.place(node).xy
        near = float(np.linalg.norm(xy - robot_xy))
        if node != topo.current and (near > radius or not topo.grid.line_is_clear(robot_xy, xy)):
            continue
        best = min(best, near + cost)
    return None if not np.isfinite(best) else best + offset


class GraphDistancePotential:
    """``Φ = −d/d_max`` (module docstring), a :class:`~robo_reward.shaping.potentials.
    PotentialProvider` for :class:`~robo_reward.shaping.wrapper.PotentialShaping`.

    Args:
        topo: the map to read. None: the potential keeps its own map, rebuilt at every
            ``reset`` and updated with every observation. A callable returning the map shares
            one that something else updates (e.g. ``lambda: wrapper.topo`` of an inner
            :class:`~robo_reward.topo.wrapper.TopoNavRewards`, which rebuilds its map at reset).
        max_distance: ``d_max`` (m).
        map_config: the own map's thresholds.
        name: the potential's name in ``info`` (``potential/<name>``).
    """

    bounds = (-1.0, 0.0)

    def __init__(
        self,
        topo: Callable[[], TopologicalMap] | None = None,
        max_distance: float = 30.0,
        map_config: TopoMapConfig | None = None,
        name: str = "topo_graph",
    ) -> None:
        if not (np.isfinite(max_distance) and max_distance > 0):
            raise ValueError(
                f"max_distance must be a positive number of metres, got {max_distance}"
            )
        if topo is not None and not callable(topo):
            raise TypeError("topo must be None or a callable returning the TopologicalMap")
        self._shared = topo
        self.max_distance = float(max_distance)
        self.map_config = map_config
        self.name = name
        self._own: TopologicalMap | None = None
        self.distance = float("nan")
        self.source = ""
        """``graph`` or ``euclidean``: how the last value was computed."""
        self.saturated = False

    @property
    def topo(self) -> TopologicalMap:
        if self._shared is not None:
            return self._shared()
        if self._own is None:
            raise RuntimeError("call reset() first")
        return self._own

    def _value(self, observation: Mapping[str, np.ndarray]) -> float:
        if self._shared is None:
            self._own.update(observation)
        topo = self.topo
        robot = Pose2D.from_odometry(observation["odometry"]).xy
        goal = goal_position(observation)
        distance = goal_distance(topo, robot, goal) if len(topo) else None
        self.source = "euclidean" if distance is None else "graph"
        if distance is None:
            distance = float(np.linalg.norm(goal - robot))
        self.distance = distance
        self.saturated = distance > self.max_distance
        return -min(distance, self.max_distance) / self.max_distance

    def reset(self, observation: Any, info: Mapping[str, Any]) -> float:
        if self._shared is None:
            self._own = TopologicalMap(self.map_config)
        return self._value(observation)

    def potential(self, observation: Any, info: Mapping[str, Any]) -> float:
        return self._value(observation)
