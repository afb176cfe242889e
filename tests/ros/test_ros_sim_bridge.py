"""sim_bridge as a process over DDS: the rover drives on cmd_vel and reports odometry and scans;
the arm plays its scripted expert on camera topics."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from ros_harness import NO_ROS, NodeProcess, rate_hz, running

pytest.importorskip("rclpy", reason=NO_ROS)

from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from robo_reward_ros.conversions import msg_to_odometry, scan_to_lidar, time_to_ns  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image, LaserScan  # noqa: E402
from std_msgs.msg import Bool, Int32  # noqa: E402


def test_rover_drives_on_cmd_vel_and_publishes_odom_and_scan(probe, domain_id, tmp_path):
    params = {"task": "maze_small", "maze_seed": 0, "seed": 0, "cmd_timeout": 0.5}
    with running(NodeProcess("sim_bridge", params, domain_id, tmp_path)) as bridge:
        odom = probe.collect(Odometry, "/odom", COMMAND_QOS)
        scans = probe.collect(LaserScan, "/scan", SENSOR_QOS)
        goals = probe.collect(PoseStamped, "/goal_pose", LATCHED_QOS)
        cmd = probe.node.create_publisher(Twist, "/cmd_vel", COMMAND_QOS)
        probe.spin_until(
            lambda: len(odom) >= 3 and len(scans) >= 3 and goals,
            20,
            "odom, scan and goal_pose from sim_bridge",
            bridge.assert_running,
        )
        scan = scans[-1][1]
        assert len(scan.ranges) == 36
        assert scan.angle_min == 0.0
        np.testing.assert_allclose(scan.angle_increment, 2 * np.pi / 36, rtol=1e-6)
        assert scan.range_max == 3.0
        assert all(r == np.inf or 0.0 <= r < 3.0 for r in scan.ranges)
        lidar = scan_to_lidar(scan, 36, 3.0)
        assert lidar.shape == (36,) and lidar.max() <= 3.0
        assert odom[-1][1].header.frame_id == "odom" and odom[-1][1].child_frame_id == "base_link"

        # Idle: the rover stands still.
        start = msg_to_odometry(odom[-1][1])
        probe.spin_for(0.5)
        np.testing.assert_allclose(msg_to_odometry(odom[-1][1])[:2], start[:2], atol=1e-3)

        # Forward at 0.3 m/s for ~1 s: it moves along its heading (or turns, then forward).
        forward = Twist()
        forward.linear.x = 0.3
        begin = len(odom)
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:
            cmd.publish(forward)
            probe.spin_for(0.1)
        moved = msg_to_odometry(odom[-1][1])
        assert np.linalg.norm(moved[:2] - start[:2]) > 0.05, (start, moved)
        assert max(msg_to_odometry(m)[4] for _, m in odom[begin:]) > 0.1  # forward velocity

        # Commands stop: after cmd_timeout the rover stops (zero command).
        probe.spin_for(1.2)
        assert abs(float(msg_to_odometry(odom[-1][1])[4])) < 0.02

        stamps = [time_to_ns(m.header.stamp) for _, m in odom]
        assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
        odom_hz = rate_hz([t for t, _ in odom[1:]])
        scan_hz = rate_hz([t for t, _ in scans[1:]])
        print(f"sim_bridge rover: odom {odom_hz:.1f} Hz, scan {scan_hz:.1f} Hz (target 10)")
        assert 7.0 < odom_hz < 13.0 and 7.0 < scan_hz < 13.0
        assert bridge.stop() == 0
    assert "Traceback" not in bridge.output


def test_arm_plays_scripted_expert_on_camera_topics(probe, domain_id, tmp_path):
    params = {
        "task": "button_press",
        "seed": 0,
        "cameras": ["front", "side"],
        "image_size": 64,
        "play_expert": True,
        "episodes": 1,
        "wait_for_subscribers": 1,
    }
    with running(NodeProcess("sim_bridge", params, domain_id, tmp_path)) as bridge:
        raw = {v: probe.collect(Image, f"/cam/{v}/image_raw", SENSOR_QOS) for v in ("front",)}
        compressed = {
            v: probe.collect(CompressedImage, f"/cam/{v}/image_raw/compressed", SENSOR_QOS)
            for v in ("side",)
        }
        success = probe.collect(Bool, "/sim/success", COMMAND_QOS)
        episode = probe.collect(Int32, "/sim/episode", LATCHED_QOS)
        probe.spin_until(
            lambda: any(m.data for _, m in success),
            20,
            "the scripted button press to succeed",
            bridge.assert_running,
        )
        probe.spin_for(0.3)
        assert episode and episode[0][1].data == 0
        front = [m for _, m in raw["front"]]
        side = [m for _, m in compressed["side"]]
        assert len(front) >= 5 and len(side) >= 5
        assert (front[0].height, front[0].width, front[0].encoding) == (64, 64, "rgb8")
        assert "jpeg" in side[0].format and bytes(side[0].data[:2]) == b"\xff\xd8"
        for messages in (front, side):
            stamps = [time_to_ns(m.header.stamp) for m in messages]
            # Sim time: whole 40 ms steps apart, increasing (best effort may drop a frame).
            steps = np.diff(stamps) / 40_000_000
            assert np.all(steps >= 1) and np.allclose(steps, np.round(steps)), stamps
        first = np.frombuffer(bytes(front[0].data), np.uint8).reshape(64, 64, 3)
        last = np.frombuffer(bytes(front[-1].data), np.uint8).reshape(64, 64, 3)
        assert np.abs(first.astype(int) - last).mean() > 0.5  # the arm moved in view
        assert bridge.stop() == 0


def test_fast_mode_and_reset_service(probe, domain_id, tmp_path):
    from std_srvs.srv import Empty

    params = {"task": "maze_small", "maze_seed": 0, "as_fast_as_possible": True}
    with running(NodeProcess("sim_bridge", params, domain_id, tmp_path)) as bridge:
        odom = probe.collect(Odometry, "/odom", COMMAND_QOS)
        episode = probe.collect(Int32, "/sim/episode", LATCHED_QOS)
        probe.spin_until(lambda: len(odom) >= 50, 20, "50 odom messages", bridge.assert_running)
        fast_hz = rate_hz([t for t, _ in odom[-40:]])
        print(f"sim_bridge rover as fast as possible: odom {fast_hz:.0f} Hz")
        assert fast_hz > 30.0  # well above real time (10 Hz) even on a loaded machine

        reset = probe.node.create_client(Empty, "/sim/reset")
        assert reset.wait_for_service(timeout_sec=10.0)
        future = reset.call_async(Empty.Request())
        probe.spin_until(future.done, 10, "the /sim/reset reply", bridge.assert_running)
        probe.spin_until(
            lambda: any(m.data == 1 for _, m in episode), 10, "episode 1 on /sim/episode"
        )
        stamps = [time_to_ns(m.header.stamp) for _, m in odom]
        assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))  # never rewinds
        assert bridge.stop(signal.SIGTERM) == 0


def test_bad_parameters_exit_with_one_line(domain_id, tmp_path):
    node = NodeProcess("sim_bridge", {"task": "teleport"}, domain_id, tmp_path)
    assert node.process.wait(timeout=30) == 2
    assert "sim_bridge: error: unknown task 'teleport'" in node.output
    assert "Traceback" not in node.output
    node.stop()
