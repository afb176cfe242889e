"""The topological map: places as nodes, traversals as edges, frontiers, loop closures.

Reference: TopoNav (Hossain et al., 2024). A node is a place the robot has been (pose, a
:class:`~robo_reward.topo.place.PlaceDescriptor`, the occupancy signature inside it, a visit
count and the step it was first seen). **Node-creation rule**, each step:

1. farther than ``node_distance`` from every node -> a new node (the map keeps up with motion);
2. otherwise, if a node within ``recognition_radius`` and in line of sight on the occupancy grid
   looks like the current view (similarity >= ``similarity_threshold``), the robot is *at* the
   nearest such node (it stays at its current node unless another is ``switch_margin`` nearer);
3. otherwise, if no node is within ``min_node_separation``, a new node (a place that looks
   unlike its neighbours: a junction, a doorway); else the robot stays where it was.

Edges join consecutive current nodes and cost the distance travelled between them (the minimum
over traversals). Entering a node counts a visit. Reaching a known node over a new edge whose
ends were ``loop_min_hops`` or more hops apart (or unconnected) is a **loop closure**. A pose
change larger than ``max_step_distance`` in one update cannot be driven: it is a
**relocalisation** (odometry reset, kidnapping, a teleporting simulator); the robot is placed at a
recognised node or a new one, and no edge is made across the jump.

**Frontier nodes** border unexplored space: free occupancy cells next to never-observed cells
(clusters of at least ``frontier_min_cells``) are given to their nearest node within
``frontier_radius``; a node with any is a frontier node.

What the intrinsic rewards and the hierarchical objectives read: :attr:`MapUpdate.created`,
:attr:`Place.visits`, :attr:`MapUpdate.frontier`, :meth:`TopologicalMap.graph_distance`,
:meth:`TopologicalMap.path_to` and :attr:`MapUpdate.clearance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from robo_reward.topo.occupancy import (
    OccupancyGrid,
    Pose2D,
    ScanSpec,
    validate_observed,
    validate_scan,
)
from robo_reward.topo.place import PlaceDescriptor, PlaceRecognizer
from robo_reward.topo.pointcloud import CameraIntrinsics, CameraMount, obstacle_points

__all__ = [
    "GraphPath",
    "LoopClosure",
    "MapUpdate",
    "Place",
    "TopoMapConfig",
    "TopoObservation",
    "TopologicalMap",
]


@dataclass(frozen=True)
class TopoMapConfig:
    """Thresholds of the map (metres unless stated). Defaults suit the nav mazes (0.5 m grid
    cells, 3 m lidar, 0.5 m/s rover at 10 Hz)."""

    node_distance: float = 1.0
    """A new node when farther than this from every node: every second maze grid cell."""
    recognition_radius: float = 1.5
    """Nodes this near (and in line of sight) are compared with the current view."""
    similarity_threshold: float = 0.7
    """Similarity in [0, 1] from which a view is the same place. Measured on maze drives
    (lidar only): similarity to the current node has median ~0.8, 5th percentile ~0.6; 0.8
    gave a node every ~0.55 m, 0.7 one every ~0.75-1 m."""
    min_node_separation: float = 0.5
    """No new node for a change of appearance nearer than this to a node (one grid cell)."""
    switch_margin: float = 0.2
    """Hysteresis: leave the current node for another only if that one is this much nearer."""
    max_step_distance: float = 0.5
    """Larger pose changes in one update are relocalisations (10x the rover's 5 cm per step)."""
    loop_min_hops: int = 3
    """A new edge closes a loop if its ends were at least this many hops apart."""
    frontier_radius: float = 3.0
    """Frontier cells farther than this from every node are given to none (the lidar range)."""
    frontier_min_cells: int = 3
    """Smaller clusters of frontier cells are gaps between beams, not frontiers."""
    goal_tolerance: float = 1.0
    """A goal farther than this from every node is outside the mapped region."""
    grid_size: float = 32.0
    """Side of the occupancy grid (m), centred on the first pose."""
    grid_resolution: float = 0.1
    scan: ScanSpec = field(default_factory=ScanSpec)

    def __post_init__(self) -> None:
        if not 0 < self.min_node_separation <= self.node_distance <= self.recognition_radius:
            raise ValueError(
                "need 0 < min_node_separation <= node_distance <= recognition_radius, got "
                f"{self.min_node_separation}, {self.node_distance}, {self.recognition_radius}"
            )
        if not 0.0 <= self.similarity_threshold <= 1.0:
            raise ValueError(
                f"similarity_threshold must be in [0, 1], got {self.similarity_threshold}"
            )
        if self.max_step_distance <= 0:
            raise ValueError(f"max_step_distance must be > 0, got {self.max_step_distance}")


@dataclass(frozen=True)
class TopoObservation:
    """One sensor snapshot in plain arrays (what a ROS node assembles from its topics)."""

    pose: Pose2D
    ranges: np.ndarray
    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    observed: np.ndarray | None = None
    """Bool mask of the beams the sensor saw (a camera's virtual scan,
    :func:`~robo_reward.topo.pointcloud.cloud_to_scan`); None: all (a full-circle lidar).
    Unobserved beams are not integrated into the occupancy grid."""

    @classmethod
    def from_nav(cls, obs: Mapping[str, np.ndarray]) -> TopoObservation:
        """From a :class:`~robo_reward.sim.nav.env.MazeNavEnv` observation dict (optionally
        with ``lidar_observed``, the mask of :attr:`observed`)."""
        missing = [key for key in ("lidar", "odometry") if key not in obs]
        if missing:
            raise ValueError(f"observation lacks {missing}; it has {sorted(obs)}")
        return cls(
            Pose2D.from_odometry(obs["odometry"]), obs["lidar"], obs.get("rgb"), obs.get("depth"),
            obs.get("lidar_observed"),
        )  # fmt: skip


@dataclass
class Place:
    """A node of the map."""

    id: int
    pose: Pose2D
    descriptor: PlaceDescriptor
    first_seen: int
    """The update step at which the node was created."""
    visits: int = 1
    """Times the robot entered the node (creation included): the count of a 1/sqrt(n) bonus."""
    frontier: bool = False

    @property
    def xy(self) -> np.ndarray:
        return self.pose.xy


@dataclass(frozen=True)
class LoopClosure:
    from_node: int
    to_node: int
    similarity: float
    hops_before: int | None
    """Hops between the two nodes before the new edge; None if they were not connected."""


@dataclass(frozen=True)
class MapUpdate:
    """What one :meth:`TopologicalMap.update` did."""

    step: int
    node: int
    """The current node."""
    created: bool
    """The current node was created at this step (the new-node intrinsic reward)."""
    previous_node: int | None
    edge: tuple[int, int] | None
    """The edge traversed at this step (new or known), None if the robot stayed."""
    loop_closures: tuple[LoopClosure, ...]
    relocalised: bool
    """The pose jumped by more than ``max_step_distance``: no edge was made."""
    jump: float
    """Pose change since the previous update (m)."""
    frontier: frozenset[int]
    similarity: float | None
    """Similarity to the current node (None when it was just created)."""
    clearance: float
    """Distance to the nearest obstacle (lidar, and depth points when there is a camera)."""


@dataclass(frozen=True)
class GraphPath:
    """A route on the graph; ``found`` False with a ``reason`` when there is none yet."""

    found: bool
    nodes: tuple[int, ...] = ()
    cost: float = float("inf")
    goal_node: int | None = None
    reason: str = ""


class TopologicalMap:
    """An online topological map over networkx (see the module docstring for the rules).

    Args:
        config: thresholds, :class:`TopoMapConfig`.
        recognizer: place descriptors and similarity; default from the scan's range.
        camera: intrinsics of the depth camera; with it, depth frames add obstacle points to
            the occupancy grid and to the clearance.
        camera_mount: where the camera sits on the robot (default: the nav rover's).
    """

    def __init__(
        self,
        config: TopoMapConfig | None = None,
        recognizer: PlaceRecognizer | None = None,
        camera: CameraIntrinsics | None = None,
        camera_mount: CameraMount | None = None,
    ) -> None:
        self.config = config or TopoMapConfig()
        self.recognizer = recognizer or PlaceRecognizer(self.config.scan.max_range)
        self.camera = camera
        self.camera_mount = camera_mount or CameraMount()
        self.graph = nx.Graph()
        self.grid: OccupancyGrid | None = None
        self.step = 0
        self.current: int | None = None
        self.trajectory: list[tuple[float, float]] = []
        self.relocalisations: list[int] = []
        """Steps at which the pose jumped."""
        self._positions = np.zeros((0, 2))
        self._last_pose: Pose2D | None = None
        self._travelled = 0.0
        self._frontier: frozenset[int] = frozenset()

    # ----------------------------------------------------------------- access
    @property
    def places(self) -> dict[int, Place]:
        return {n: self.graph.nodes[n]["place"] for n in self.graph.nodes}

    def place(self, node: int) -> Place:
        return self.graph.nodes[node]["place"]

    @property
    def frontier(self) -> frozenset[int]:
        return self._frontier

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    # ----------------------------------------------------------------- update
    def update(self, observation: TopoObservation | Mapping[str, np.ndarray]) -> MapUpdate:
        """Integrate one observation (a :class:`TopoObservation` or a nav env obs dict)."""
        obs = (
            observation
            if isinstance(observation, TopoObservation)
            else TopoObservation.from_nav(observation)
        )
        cfg = self.config
        ranges = validate_scan(obs.ranges, cfg.scan)
        if obs.observed is not None:
            validate_observed(obs.observed, cfg.scan)
        pose = obs.pose
        if self.grid is None:
            self.grid = OccupancyGrid(cfg.grid_size, cfg.grid_resolution, (pose.x, pose.y))
        step = self.step
        self.step += 1
        jump = (
            0.0 if self._last_pose is None else float(np.linalg.norm(pose.xy - self._last_pose.xy))
        )
        relocalised = jump > cfg.max_step_distance
        if relocalised:
            self.relocalisations.append(step)
            self._travelled = 0.0
        else:
            self._travelled += jump
        self._last_pose = pose
        self.trajectory.append((pose.x, pose.y))

        self.grid.integrate_scan(pose, ranges, cfg.scan, obs.observed)
        clearance = float(ranges.min())
        if self.camera is not None and obs.depth is not None:
            obstacles = obstacle_points(
                obs.depth, self.camera, self.camera_mount, clearance=cfg.scan.max_range,
                max_depth=cfg.scan.max_range,
            )  # fmt: skip
            if len(obstacles.points):
                c, s = np.cos(pose.yaw), np.sin(pose.yaw)
                body = obstacles.points[:, :2]
                world = pose.xy + body @ np.array([[c, s], [-s, c]])
                self.grid.mark_occupied(world)
            clearance = min(clearance, obstacles.nearest)
        descriptor = self.recognizer.describe(ranges, obs.rgb)

        before = self.current
        previous = None if relocalised else before
        node, created, similarity = self._localise(pose, descriptor, step)
        edge: tuple[int, int] | None = None
        closures: list[LoopClosure] = []
        if previous is not None and node != previous:
            edge = (previous, node)
            if not self.graph.has_edge(previous, node):
                hops = self._hops(previous, node)
                if not created and (hops is None or hops >= cfg.loop_min_hops):
                    closures.append(LoopClosure(previous, node, similarity or 0.0, hops))
                self.graph.add_edge(previous, node, cost=self._travelled, traversals=1)
            else:
                data = self.graph.edges[previous, node]
                data["cost"] = min(data["cost"], self._travelled)
                data["traversals"] += 1
            self._travelled = 0.0
        if (node != before or relocalised) and not created:
            self.place(node).visits += 1
        self.current = node
        self._update_frontier()
        return MapUpdate(
            step=step, node=node, created=created,
            previous_node=before, edge=edge,
            loop_closures=tuple(closures), relocalised=relocalised, jump=jump,
            frontier=self._frontier, similarity=similarity, clearance=clearance,
        )  # fmt: skip

    def _localise(
        self, pose: Pose2D, descriptor: PlaceDescriptor, step: int
    ) -> tuple[int, bool, float | None]:
        """(node, created, similarity) by the node-creation rule."""
        cfg = self.config
        if len(self) == 0:
            return self._add_node(pose, descriptor, step), True, None
        distance = np.linalg.norm(self._positions - pose.xy, axis=1)
        if distance.min() > cfg.node_distance:
            return self._add_node(pose, descriptor, step), True, None
        best: tuple[int, float, float] | None = None  # (node, distance, similarity)
        current: tuple[int, float, float] | None = None
        for node in np.argsort(distance):
            d = float(distance[node])
            if d > cfg.recognition_radius:
                break
            node = int(node)
            if not self.grid.line_is_clear(pose.xy, self._positions[node]):
                continue
            sim = self.recognizer.similarity(descriptor, self.place(node).descriptor)
            if sim < cfg.similarity_threshold:
                continue
            if best is None:
                best = (node, d, sim)
            if node == self.current:
                current = (node, d, sim)
        if best is not None:
            if current is not None and current[1] <= best[1] + cfg.switch_margin:
                best = current
            return best[0], False, best[2]
        if distance.min() > cfg.min_node_separation:
            return self._add_node(pose, descriptor, step), True, None
        if self.current is not None:
            node = self.current
        else:
            node = int(np.argmin(distance))
        return node, False, self.recognizer.similarity(descriptor, self.place(node).descriptor)

    def _add_node(self, pose: Pose2D, descriptor: PlaceDescriptor, step: int) -> int:
        node = len(self)
        self.graph.add_node(node, place=Place(node, pose, descriptor, first_seen=step))
        self._positions = np.vstack([self._positions, pose.xy])
        return node

    def _hops(self, a: int, b: int) -> int | None:
        try:
            return int(nx.shortest_path_length(self.graph, a, b))
        except nx.NetworkXNoPath:
            return None

    def _update_frontier(self) -> None:
        cells = self.grid.frontier_cells(self.config.frontier_min_cells)
        for place in self.places.values():
            place.frontier = False
        if len(cells) == 0:
            self._frontier = frozenset()
            return
        distance = np.linalg.norm(cells[:, None, :] - self._positions[None, :, :], axis=2)
        nearest = np.argmin(distance, axis=1)
        near = distance[np.arange(len(cells)), nearest] <= self.config.frontier_radius
        frontier = frozenset(int(n) for n in np.unique(nearest[near]))
        for node in frontier:
            self.place(node).frontier = True
        self._frontier = frontier

    # ----------------------------------------------------------------- queries
    def nearest_node(self, xy: np.ndarray) -> tuple[int, float] | None:
        """(node, Euclidean distance) of the node nearest world point ``xy``; None if empty."""
        if len(self) == 0:
            return None
        distance = np.linalg.norm(self._positions - np.asarray(xy, dtype=np.float64), axis=1)
        node = int(np.argmin(distance))
        return node, float(distance[node])

    def graph_distance(self, a: int, b: int) -> float:
        """Dijkstra cost (m travelled) between two nodes; ``inf`` if not connected."""
        for node in (a, b):
            if node not in self.graph:
                raise KeyError(f"node {node} is not in the map (it has {len(self)} nodes)")
        try:
            return float(nx.dijkstra_path_length(self.graph, a, b, weight="cost"))
        except nx.NetworkXNoPath:
            return float("inf")

    def distances_from(self, node: int) -> dict[int, float]:
        """Dijkstra cost from ``node`` to every node it connects to (one pass, for potentials)."""
        return dict(nx.single_source_dijkstra_path_length(self.graph, node, weight="cost"))

    def path_to(self, goal_xy: np.ndarray, start: int | None = None) -> GraphPath:
        """Shortest route from ``start`` (default: the current node) to the node nearest the
        goal. A goal farther than ``goal_tolerance`` from every node, or a disconnected one,
        gives ``found=False`` and the reason: nothing is guessed."""
        goal_xy = np.asarray(goal_xy, dtype=np.float64)
        if goal_xy.shape != (2,) or not np.all(np.isfinite(goal_xy)):
            raise ValueError(f"goal must be a finite (x, y), got {goal_xy}")
        start = self.current if start is None else start
        if start is None:
            return GraphPath(False, reason="the map is empty: no update yet")
        goal_node, distance = self.nearest_node(goal_xy)
        if distance > self.config.goal_tolerance:
            return GraphPath(
                False, goal_node=goal_node,
                reason=f"goal is outside the mapped region (nearest node {goal_node} is "
                f"{distance:.2f} m away, tolerance {self.config.goal_tolerance} m): no path yet",
            )  # fmt: skip
        try:
            cost, nodes = nx.single_source_dijkstra(self.graph, start, goal_node, weight="cost")
        except nx.NetworkXNoPath:
            return GraphPath(
                False, goal_node=goal_node,
                reason=f"node {goal_node} near the goal is not connected to node {start} "
                "(a relocalisation split the map): no path yet",
            )  # fmt: skip
        return GraphPath(True, tuple(int(n) for n in nodes), float(cost), goal_node)

    def goal_distance(self, goal_xy: np.ndarray, start: int | None = None) -> float | None:
        """Graph distance to the goal node plus its Euclidean offset to the goal; None when
        :meth:`path_to` finds no path (the shaping potential is undefined, not zero)."""
        path = self.path_to(goal_xy, start)
        if not path.found:
            return None
        offset = float(np.linalg.norm(self.place(path.goal_node).xy - np.asarray(goal_xy)))
        return path.cost + offset
