"""The topological map out of the library: GeoJSON (a Nav2 route graph), MarkerArray-shaped
dicts (the ROS node turns each into a ``visualization_msgs/Marker`` field by field) and a PNG of
the map over the maze.

Nav2's route server (``nav2_route``, GeoJSON parser) reads a FeatureCollection of ``Point``
features (nodes: ``id``, ``frame``, ``metadata``) and ``MultiLineString`` features (directed
edges: ``id``, ``startid``, ``endid``, ``cost``, ``overridable``, ``metadata``); node and edge ids
must be unique together. Our edges are undirected, so each is written both ways.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from robo_reward.data.atomic import atomic_path, atomic_write_json
from robo_reward.topo.graph import TopologicalMap

__all__ = ["SPHERE_LIST", "LINE_LIST", "TEXT_VIEW_FACING", "map_markers", "map_to_geojson",
           "plot_map", "write_geojson"]  # fmt: skip

# visualization_msgs/Marker constants.
LINE_LIST, SPHERE_LIST, TEXT_VIEW_FACING = 5, 7, 9
ADD = 0


def map_to_geojson(topo: TopologicalMap, frame: str = "map") -> dict[str, Any]:
    """A Nav2 route-graph FeatureCollection: nodes, then every edge in both directions (edge ids
    follow the largest node id)."""
    features: list[dict[str, Any]] = []
    for node, place in sorted(topo.places.items()):
        features.append({
            "type": "Feature",
            "properties": {
                "id": node, "frame": frame,
                "metadata": {
                    "yaw": place.pose.yaw, "visits": place.visits,
                    "first_seen": place.first_seen, "frontier": place.frontier,
                },
            },
            "geometry": {"type": "Point", "coordinates": [place.pose.x, place.pose.y]},
        })  # fmt: skip
    next_id = max(topo.graph.nodes, default=-1) + 1
    for a, b, data in sorted(topo.graph.edges(data=True)):
        for start, end in ((a, b), (b, a)):
            coords = [list(map(float, topo.place(n).xy)) for n in (start, end)]
            features.append({
                "type": "Feature",
                "properties": {
                    "id": next_id, "startid": start, "endid": end, "cost": float(data["cost"]),
                    "overridable": False, "metadata": {"traversals": data["traversals"]},
                },
                "geometry": {"type": "MultiLineString", "coordinates": [coords]},
            })  # fmt: skip
            next_id += 1
    return {"type": "FeatureCollection", "name": "topological_map", "features": features}


def write_geojson(topo: TopologicalMap, path: str | os.PathLike[str], frame: str = "map") -> Path:
    """Write :func:`map_to_geojson` atomically."""
    return atomic_write_json(path, map_to_geojson(topo, frame))


def _pose(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> dict[str, Any]:
    return {"position": {"x": x, "y": y, "z": z},
            "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}}  # fmt: skip


def _colour(r: float, g: float, b: float, a: float = 1.0) -> dict[str, float]:
    return {"r": r, "g": g, "b": b, "a": a}


def map_markers(topo: TopologicalMap, frame: str = "map") -> list[dict[str, Any]]:
    """``visualization_msgs/MarkerArray`` as plain dicts: nodes (SPHERE_LIST, ns ``nodes``),
    frontier nodes (ns ``frontier``), edges (LINE_LIST, ns ``edges``) and one label per node
    (TEXT_VIEW_FACING, ns ``labels``, id = node id). Ids are unique within each namespace."""
    places = sorted(topo.places.items())
    frontier = [p for _, p in places if p.frontier]
    points = lambda ps: [{"x": float(p.pose.x), "y": float(p.pose.y), "z": 0.0} for p in ps]  # noqa: E731

    def marker(ns: str, id_: int, type_: int, scale: float, colour: dict, **extra: Any) -> dict:
        base = {
            "header": {"frame_id": frame}, "ns": ns, "id": id_, "type": type_, "action": ADD,
            "pose": _pose(), "scale": {"x": scale, "y": scale, "z": scale}, "color": colour,
            "points": [], "text": "",
        }  # fmt: skip
        base.update(extra)
        return base

    edge_points = []
    for a, b in sorted(topo.graph.edges):
        for n in (a, b):
            place = topo.place(n)
            edge_points.append({"x": float(place.pose.x), "y": float(place.pose.y), "z": 0.0})
    node_points = points(p for _, p in places)
    markers = [
        marker("nodes", 0, SPHERE_LIST, 0.12, _colour(0.1, 0.4, 0.9), points=node_points),
        marker("frontier", 0, SPHERE_LIST, 0.18, _colour(1, 0.5, 0, 0.8), points=points(frontier)),
        marker("edges", 0, LINE_LIST, 0.03, _colour(0.2, 0.2, 0.2), points=edge_points),
    ]
    for node, place in places:
        markers.append(
            marker("labels", node, TEXT_VIEW_FACING, 0.15, _colour(1.0, 1.0, 1.0),
                   pose=_pose(place.pose.x, place.pose.y, 0.3), text=f"{node} ({place.visits})")
        )  # fmt: skip
    return markers


def plot_map(
    topo: TopologicalMap,
    path: str | os.PathLike[str],
    maze: Any | None = None,
    title: str | None = None,
) -> Path:
    """PNG of the map (over ``maze``'s walls when given): edges, nodes (frontier nodes in
    orange), the robot's path; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    if maze is not None:
        width, height = maze.extent
        ax.imshow(maze.walls, cmap="Greys", vmin=0, vmax=1.6, extent=(0, width, 0, height),
                  origin="upper", interpolation="nearest")  # fmt: skip
    if topo.trajectory:
        xy = np.asarray(topo.trajectory)
        ax.plot(xy[:, 0], xy[:, 1], color="tab:green", lw=1, alpha=0.7, label="path")
    for a, b in topo.graph.edges:
        pa, pb = topo.place(a).xy, topo.place(b).xy
        ax.plot([pa[0], pb[0]], [pa[1], pb[1]], color="0.2", lw=1.5)
    places = list(topo.places.values())
    if places:
        xy = np.array([p.xy for p in places])
        is_frontier = np.array([p.frontier for p in places])
        ax.scatter(*xy[~is_frontier].T, s=40, color="tab:blue", zorder=3, label="node")
        ax.scatter(*xy[is_frontier].T, s=60, color="tab:orange", zorder=3, label="frontier")
    ax.set_aspect("equal")
    ax.set_title(title or f"{len(topo)} nodes, {topo.graph.number_of_edges()} edges")
    ax.legend(loc="upper right", fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return Path(path)
