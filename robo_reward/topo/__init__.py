"""Active topological mapping (TopoNav, Hossain et al., 2024): occupancy from lidar, obstacle
points from depth, place recognition, the place graph and its exports.

- :mod:`~robo_reward.topo.occupancy`: scan + pose -> log-odds grid, frontier cells;
- :mod:`~robo_reward.topo.pointcloud`: depth + intrinsics -> obstacle points (open3d);
- :mod:`~robo_reward.topo.place`: place descriptors (lidar signature, ORB) and similarity;
- :mod:`~robo_reward.topo.graph`: :class:`TopologicalMap`, the node-creation rule;
- :mod:`~robo_reward.topo.export`: GeoJSON (Nav2 route graph), MarkerArray dicts, PNG;
- :mod:`~robo_reward.topo.rewards`: intrinsic rewards (new node, 1/sqrt(n) visit, subgoal);
- :mod:`~robo_reward.topo.objectives`: safety (penalty, action filter), subgoal choice;
- :mod:`~robo_reward.topo.potential`: the graph distance to the goal as a shaping potential;
- :mod:`~robo_reward.topo.wrapper`: :class:`TopoNavRewards`, all of it as a gym wrapper;
- :mod:`~robo_reward.topo.explorer`: a classical frontier explorer (a benchmark baseline).
"""

from robo_reward.topo.graph import (
    GraphPath,
    LoopClosure,
    MapUpdate,
    Place,
    TopologicalMap,
    TopoMapConfig,
    TopoObservation,
)
from robo_reward.topo.occupancy import OccupancyGrid, Pose2D, ScanSpec, validate_scan
from robo_reward.topo.place import PlaceDescriptor, PlaceRecognizer

__all__ = [
    "GraphPath",
    "LoopClosure",
    "MapUpdate",
    "OccupancyGrid",
    "Place",
    "PlaceDescriptor",
    "PlaceRecognizer",
    "Pose2D",
    "ScanSpec",
    "TopoMapConfig",
    "TopoObservation",
    "TopologicalMap",
    "validate_scan",
]
