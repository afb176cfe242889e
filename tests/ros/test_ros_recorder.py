"""demo_recorder as a process over DDS: records sim_bridge's /odom and /scan to an MCAP bag that
is complete after Ctrl-C."""

from __future__ import annotations

import signal

import pytest
from ros_harness import NO_ROS, NodeProcess, running

pytest.importorskip("rclpy", reason=NO_ROS)


def test_recorder_writes_a_readable_bag_after_ctrl_c(probe, domain_id, tmp_path):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    bag = tmp_path / "demo_bag"
    bridge_params = {"task": "maze_small", "maze_seed": 0, "as_fast_as_possible": False}
    recorder_params = {"topics": ["/odom", "/scan", "/goal_pose"], "output": str(bag)}
    with (
        running(NodeProcess("sim_bridge", bridge_params, domain_id, tmp_path)) as bridge,
        running(NodeProcess("demo_recorder", recorder_params, domain_id, tmp_path)) as recorder,
    ):

        def alive() -> None:
            bridge.assert_running()
            recorder.assert_running()

        probe.spin_until(
            lambda: (
                probe.node.count_subscribers("/odom") >= 1
                and probe.node.count_subscribers("/scan") >= 1
                and probe.node.count_subscribers("/goal_pose") >= 1
            ),
            20,
            "demo_recorder to subscribe to /odom, /scan and /goal_pose",
            alive,
        )
        probe.spin_for(1.5)
        assert recorder.stop(signal.SIGINT) == 0, recorder.output
        assert bridge.stop(signal.SIGTERM) == 0, bridge.output
    assert "Traceback" not in recorder.output, recorder.output
    assert "closed" in recorder.output

    typestore = get_typestore(Stores.ROS2_KILTED)
    with Reader(bag) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types == {
            "/odom": "nav_msgs/msg/Odometry",
            "/scan": "sensor_msgs/msg/LaserScan",
            "/goal_pose": "geometry_msgs/msg/PoseStamped",
        }
        assert counts["/odom"] >= 8 and counts["/scan"] >= 8, counts
        assert counts["/goal_pose"] == 1  # latched, recorded although published before
        odom = [c for c in reader.connections if c.topic == "/odom"]
        stamps = []
        for connection, timestamp, raw in reader.messages(connections=odom):
            msg = typestore.deserialize_cdr(raw, connection.msgtype)
            assert msg.header.frame_id == "odom" and msg.child_frame_id == "base_link"
            stamps.append(timestamp)
        assert stamps == sorted(stamps)
    assert any(p.suffix == ".mcap" for p in bag.iterdir())
    assert (bag / "metadata.yaml").is_file()
