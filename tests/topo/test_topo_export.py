"""GeoJSON, MarkerArray dicts and the PNG of the map."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from topo_drives import drive

from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.topo import TopologicalMap
from robo_reward.topo.export import (
    SPHERE_LIST,
    TEXT_VIEW_FACING,
    map_markers,
    plot_map,
    write_geojson,
)


@pytest.fixture(scope="module")
def mapped() -> tuple[MazeNavEnv, TopologicalMap]:
    env = MazeNavEnv(size="small", maze_seed=1)
    obs, _ = env.reset(seed=0)
    topo = TopologicalMap()
    drive(env, topo, obs)
    return env, topo


def test_geojson_round_trips(mapped, tmp_path: Path) -> None:
    _, topo = mapped
    path = write_geojson(topo, tmp_path / "graph.geojson")
    data = json.loads(path.read_text())
    nodes = [f for f in data["features"] if f["geometry"]["type"] == "Point"]
    edges = [f for f in data["features"] if f["geometry"]["type"] == "MultiLineString"]
    assert data["type"] == "FeatureCollection"
    assert len(nodes) == len(topo) and len(edges) == 2 * topo.graph.number_of_edges()
    ids = [f["properties"]["id"] for f in data["features"]]
    assert len(set(ids)) == len(ids)
    node_ids = {f["properties"]["id"] for f in nodes}
    for edge in edges:
        props = edge["properties"]
        assert {props["startid"], props["endid"]} <= node_ids and props["cost"] > 0
    assert not list(tmp_path.glob(".*tmp*"))


def test_marker_array_ids_are_consistent(mapped) -> None:
    _, topo = mapped
    markers = map_markers(topo)
    keys = Counter((m["ns"], m["id"]) for m in markers)
    assert max(keys.values()) == 1
    labels = [m for m in markers if m["type"] == TEXT_VIEW_FACING]
    assert sorted(m["id"] for m in labels) == sorted(topo.graph.nodes)
    (nodes,) = [m for m in markers if m["ns"] == "nodes"]
    (frontier,) = [m for m in markers if m["ns"] == "frontier"]
    (edges,) = [m for m in markers if m["ns"] == "edges"]
    assert nodes["type"] == SPHERE_LIST and len(nodes["points"]) == len(topo)
    assert len(frontier["points"]) == len(topo.frontier)
    assert len(edges["points"]) == 2 * topo.graph.number_of_edges()
    for m in markers:
        assert {"ns", "id", "type", "action", "pose", "scale", "color", "points"} <= set(m)


def test_png_is_written(mapped, tmp_path: Path) -> None:
    env, topo = mapped
    path = plot_map(topo, tmp_path / "map.png", maze=env.maze)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
