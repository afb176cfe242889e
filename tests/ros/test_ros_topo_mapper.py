"""topo_mapper as a process over DDS: behind sim_bridge's rover it publishes the map as markers,
the waypoint, the subgoal and the intrinsic reward while the test drives /cmd_vel toward the
waypoints, and its node count grows; ~/reset starts a new map; bad input is refused and
reported on /diagnostics, a jump is a relocalisation."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from ros_harness import NO_ROS, NodeProcess, running

pytest.importorskip("rclpy", reason=NO_ROS)

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from robo_reward_ros.conversions import (  # noqa: E402
    action_to_twist,
    lidar_to_scan,
    msg_to_odometry,
    odometry_to_msg,
    pose_stamped,
    time_to_ns,
)
from robo_reward_ros.topo_mapper import markers_to_msg  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402
from std_msgs.msg import Float32  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from robo_reward.topo.export import map_markers  # noqa: E402
from robo_reward.topo.graph import TopologicalMap  # noqa: E402

MAPPER = "/topo_mapper"
OUTPUT_QOS = QoSProfile(depth=100)


def node_count(array: MarkerArray) -> int:
    return len(next(m for m in array.markers if m.ns == "nodes").points)


def diagnostics_of(messages, name: str = "topo_mapper"):
    return [
        s for _, m in messages for s in m.status if s.name.startswith(f"{name}:")
    ]  # fmt: skip


def reported_nodes(messages) -> int:
    """The node count of the mapper's last diagnostics (-1 before any)."""
    statuses = diagnostics_of(messages)
    if not statuses:
        return -1
    return int(next(kv.value for kv in statuses[-1].values if kv.key == "nodes"))


def steer(waypoint: PoseStamped, odom: Odometry) -> Twist:
    """Drive toward the mapper's waypoint as the explorer steers (turn on the spot without one)."""
    x, y, c, s = msg_to_odometry(odom)[:4]
    if waypoint.header.frame_id == "base_link":  # no path: look around
        return action_to_twist(np.array([0.0, 1.0]), 0.5, 2.0)
    dx, dy = waypoint.pose.position.x - x, waypoint.pose.position.y - y
    error = math.atan2(-s * dx + c * dy, c * dx + s * dy)
    action = np.array([max(math.cos(error), 0.0) ** 4, np.clip(1.5 * error, -1.0, 1.0)])
    return action_to_twist(action, 0.5, 2.0)


def test_mapper_behind_the_rover_grows_its_map_while_driving(probe, domain_id, tmp_path):
    bridge_params = {"task": "maze_small", "maze_seed": 0, "seed": 0, "cmd_timeout": 0.5}
    mapper_params = {"markers_every": 5}
    with (
        running(NodeProcess("sim_bridge", bridge_params, domain_id, tmp_path)) as bridge,
        running(NodeProcess("topo_mapper", mapper_params, domain_id, tmp_path)) as mapper,
    ):

        def alive() -> None:
            bridge.assert_running()
            mapper.assert_running()

        odom = probe.collect(Odometry, "/odom", COMMAND_QOS)
        markers = probe.collect(MarkerArray, f"{MAPPER}/markers", LATCHED_QOS)
        waypoints = probe.collect(PoseStamped, f"{MAPPER}/waypoint", OUTPUT_QOS)
        subgoals = probe.collect(PoseStamped, f"{MAPPER}/subgoal", OUTPUT_QOS)
        rewards = probe.collect(Float32, f"{MAPPER}/intrinsic_reward", OUTPUT_QOS)
        diagnostics = probe.collect(DiagnosticArray, "/diagnostics", 10)
        cmd = probe.node.create_publisher(Twist, "/cmd_vel", COMMAND_QOS)
        probe.spin_until(
            lambda: markers and waypoints and odom, 30, "markers and a waypoint", alive
        )
        first = node_count(markers[-1][1])

        # Drive toward the waypoints for ~8 s of the rover's 10 Hz.
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            cmd.publish(steer(waypoints[-1][1], odom[-1][1]))
            probe.spin_for(0.05)
            alive()
        cmd.publish(Twist())
        # Diagnostics come at 1 Hz: wait for one as new as the last markers.
        probe.spin_until(
            lambda: reported_nodes(diagnostics) >= node_count(markers[-1][1]),
            5, "mapper diagnostics of the last markers' map", alive,
        )  # fmt: skip

        counts = [node_count(m) for _, m in markers]
        print(f"topo_mapper: nodes {first} -> {counts[-1]} over {len(markers)} marker arrays, "
              f"{len(waypoints)} waypoints")  # fmt: skip
        assert counts[-1] >= first + 2, counts
        assert counts == sorted(counts)  # one map, growing
        array = markers[-1][1]
        assert array.markers[0].action == Marker.DELETEALL
        kinds = {m.ns: m for m in array.markers[1:]}
        assert kinds["nodes"].type == Marker.SPHERE_LIST
        assert kinds["edges"].type == Marker.LINE_LIST and len(kinds["edges"].points) >= 2
        assert kinds["frontier"].color.r == 1.0  # frontier nodes in orange
        assert all(m.header.frame_id == "odom" for m in array.markers)

        # Waypoints: in the odometry frame, near the rover, stamped with the scans.
        world = [m for _, m in waypoints if m.header.frame_id == "odom"]
        assert len(world) >= 0.9 * len(waypoints)
        odom_at = {time_to_ns(m.header.stamp): msg_to_odometry(m) for _, m in odom}
        near = [
            np.hypot(w.pose.position.x - odom_at[t][0], w.pose.position.y - odom_at[t][1])
            for w in world
            if (t := time_to_ns(w.header.stamp)) in odom_at
        ]
        assert len(near) >= 0.8 * len(world) and max(near) <= 0.8
        assert subgoals and subgoals[-1][1].header.frame_id == "odom"
        paid = [m.data for _, m in rewards]
        assert sum(p >= 0.1 - 1e-6 for p in paid) >= counts[-1] - 1  # new_node per node

        status = diagnostics_of(diagnostics)[-1]
        values = {kv.key: kv.value for kv in status.values}
        assert int(values["nodes"]) >= counts[-1] and values["goal"]
        assert float(values["update_ms_p99"]) < 100.0

        # ~/reset: a new map from the next scan.
        reset = probe.node.create_client(Trigger, f"{MAPPER}/reset")
        assert reset.wait_for_service(timeout_sec=10.0)
        future = reset.call_async(Trigger.Request())
        probe.spin_until(future.done, 10, "the ~/reset reply", alive)
        assert future.result().success
        seen = len(markers)
        probe.spin_until(lambda: len(markers) > seen, 10, "markers of the new map", alive)
        assert node_count(markers[seen][1]) == 1

        assert mapper.stop() == 0 and bridge.stop() == 0
    assert "Traceback" not in mapper.output


def test_mapper_on_the_rovers_depth_camera_cloud_grows_its_map(probe, domain_id, tmp_path):
    """input: cloud: sim_bridge's camera/points (PointCloud2 in base_link) make the map."""
    bridge_params = {
        "task": "maze_small", "maze_seed": 0, "seed": 0, "cmd_timeout": 0.5,
        "cameras": ["rover"], "image_size": 48,
    }  # fmt: skip
    mapper_params = {
        "input": "cloud", "cloud_topic": "camera/points", "cloud_fov_deg": 80.0,
        "markers_every": 5,
    }  # fmt: skip
    with (
        running(NodeProcess("sim_bridge", bridge_params, domain_id, tmp_path)) as bridge,
        running(NodeProcess("topo_mapper", mapper_params, domain_id, tmp_path)) as mapper,
    ):

        def alive() -> None:
            bridge.assert_running()
            mapper.assert_running()

        odom = probe.collect(Odometry, "/odom", COMMAND_QOS)
        markers = probe.collect(MarkerArray, f"{MAPPER}/markers", LATCHED_QOS)
        waypoints = probe.collect(PoseStamped, f"{MAPPER}/waypoint", OUTPUT_QOS)
        diagnostics = probe.collect(DiagnosticArray, "/diagnostics", 10)
        cmd = probe.node.create_publisher(Twist, "/cmd_vel", COMMAND_QOS)
        probe.spin_until(
            lambda: markers and waypoints and odom, 30, "markers from the cloud", alive
        )
        assert probe.node.count_subscribers("/scan") == 0  # the cloud alone makes the map
        first = node_count(markers[-1][1])

        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            cmd.publish(steer(waypoints[-1][1], odom[-1][1]))
            probe.spin_for(0.05)
            alive()
        cmd.publish(Twist())
        probe.spin_until(lambda: diagnostics_of(diagnostics), 5, "mapper diagnostics")

        counts = [node_count(m) for _, m in markers]
        status = diagnostics_of(diagnostics)[-1]
        values = {kv.key: kv.value for kv in status.values}
        print(f"topo_mapper (cloud): nodes {first} -> {counts[-1]} over {len(markers)} marker "
              f"arrays, {len(waypoints)} waypoints, {values.get('cloud_observed_beams')} beams "
              "observed per cloud")  # fmt: skip
        assert counts[-1] >= first + 2, counts
        assert counts == sorted(counts)
        # An 80-degree camera sees 9 of the 36 beam sectors (more only where it has returns).
        assert 1 <= int(values["cloud_observed_beams"]) <= 12, values
        grounds = [
            int(kv.value) for s in diagnostics_of(diagnostics) for kv in s.values
            if kv.key == "cloud_ground_points"
        ]  # fmt: skip
        assert max(grounds) > 0  # the floor was seen, and removed (none when facing a wall)
        assert "refused" not in status.message
        assert mapper.stop() == 0 and bridge.stop() == 0
    assert "Traceback" not in mapper.output and "Traceback" not in bridge.output
    assert "point clouds on camera/points" in mapper.output


def test_bad_input_is_refused_and_a_jump_is_a_relocalisation(probe, domain_id, tmp_path):
    with running(NodeProcess("topo_mapper", {"markers_every": 1}, domain_id, tmp_path)) as mapper:
        odom_pub = probe.node.create_publisher(Odometry, "/odom", COMMAND_QOS)
        scan_pub = probe.node.create_publisher(LaserScan, "/scan", SENSOR_QOS)
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", LATCHED_QOS)
        markers = probe.collect(MarkerArray, f"{MAPPER}/markers", LATCHED_QOS)
        waypoints = probe.collect(PoseStamped, f"{MAPPER}/waypoint", OUTPUT_QOS)
        diagnostics = probe.collect(DiagnosticArray, "/diagnostics", 10)
        probe.spin_until(
            lambda: probe.node.count_subscribers("/scan") >= 1, 20, "the mapper to subscribe",
            mapper.assert_running,
        )  # fmt: skip
        stamp = time.time_ns()
        ranges = np.full(36, 3.0, np.float32)
        ranges[9] = 0.5  # a wall on the left

        def send(x: float, lidar: np.ndarray, t: int) -> None:
            odom_pub.publish(odometry_to_msg(np.array([x, 0.0, 1.0, 0.0, 0.0, 0.0]), t))
            scan_pub.publish(lidar_to_scan(lidar, 3.0, t))

        goal_pub.publish(pose_stamped(5.0, 0.0, 0.0, stamp, "odom"))
        for k in range(3):
            send(0.05 * k, ranges, stamp + k * 100_000_000)
            probe.spin_for(0.1)
        probe.spin_until(lambda: len(markers) >= 3, 10, "three updates", mapper.assert_running)
        assert waypoints

        # A NaN scan: refused, nothing published for it.
        seen = len(markers)
        bad = lidar_to_scan(ranges, 3.0, stamp + 300_000_000)
        bad.ranges[4] = float("nan")
        odom_pub.publish(odometry_to_msg(np.array([0.15, 0, 1, 0, 0, 0]), stamp + 300_000_000))
        scan_pub.publish(bad)
        probe.spin_for(0.5)
        assert len(markers) == seen

        def said(text: str):
            return lambda: any(text in s.message for s in diagnostics_of(diagnostics))

        probe.spin_until(said("NaN"), 5, "the NaN scan on /diagnostics", mapper.assert_running)

        # A 3 m jump in one update: a relocalisation, reported; no edge across it.
        send(3.2, ranges, stamp + 400_000_000)
        probe.spin_until(
            said("relocalisation"), 5, "the relocalisation on /diagnostics", mapper.assert_running
        )
        status = [s for s in diagnostics_of(diagnostics) if "relocalisation" in s.message][-1]
        values = {kv.key: kv.value for kv in status.values}
        assert values["relocalisations"] == "1" and values["edges"] == "0"
        assert mapper.stop() == 0
    assert "Traceback" not in mapper.output


def test_markers_to_msg_round_trip():
    topo = TopologicalMap()
    for x in (0.0, 1.2, 2.4):
        topo.update({"odometry": np.array([x, 0, 1, 0, 0, 0]), "lidar": np.full(36, 3.0)})
    array = markers_to_msg(map_markers(topo, "odom"), 1_500_000_000)
    assert array.markers[0].action == Marker.DELETEALL
    nodes = next(m for m in array.markers if m.ns == "nodes")
    assert [p.x for p in nodes.points] == [0.0, 1.2, 2.4]
    assert nodes.header.stamp.sec == 1 and nodes.header.stamp.nanosec == 500_000_000
    labels = [m for m in array.markers if m.ns == "labels"]
    assert [m.id for m in labels] == [0, 1, 2] and labels[0].text.startswith("0 (")


def test_bad_parameters_exit_with_one_line(domain_id, tmp_path):
    node = NodeProcess("topo_mapper", {"missing_goal": "guess"}, domain_id, tmp_path)
    assert node.process.wait(timeout=30) == 2
    assert "topo_mapper: error: missing_goal must be one of" in node.output
    assert "Traceback" not in node.output
    node.stop()
    cloud = NodeProcess("topo_mapper", {"input": "cloud"}, domain_id, tmp_path)
    assert cloud.process.wait(timeout=30) == 2
    assert "topo_mapper: error: input is cloud but cloud_topic is empty" in cloud.output
    cloud.stop()


def test_parameter_file_sets_only_declared_parameters():
    import re

    import yaml
    from ros_harness import ROS_PACKAGE_DIR

    source = (ROS_PACKAGE_DIR / "robo_reward_ros" / "topo_mapper.py").read_text()
    declared = set(re.findall(r"declare\(\s*self,\s*'(\w+)'", source))
    data = yaml.safe_load((ROS_PACKAGE_DIR / "config" / "topo_mapper.yaml").read_text())
    assert set(data) == {"topo_mapper"}
    assert set(data["topo_mapper"]["ros__parameters"]) == declared
