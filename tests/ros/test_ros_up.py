"""`robo-reward ros up`: the presets plan, and a config starts its nodes as processes that a
Ctrl-C stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import yaml
from ros_harness import NO_ROS, ros_env

from robo_reward.config import list_presets, preset_path
from robo_reward.ros_up import RosUpError, load_ros_config, plan_nodes


@pytest.mark.parametrize("preset", ["sim", "sim_arm", "robot"])
def test_presets_plan(preset):
    path = preset_path("ros", preset)
    launches, env = plan_nodes(load_ros_config(path), path.parent)
    assert launches
    for launch in launches:
        assert launch.argv[1:3] == ["-m", f"robo_reward_ros.{launch.name}"]
        assert "--ros-args" in launch.argv
    assert set(list_presets("ros")) >= {"sim", "sim_arm", "robot"}


def test_plan_refuses_unknown_nodes_and_missing_files(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"nodes": {"navigator": {}}}))
    with pytest.raises(RosUpError, match="no node 'navigator'.*nodes: .*sim_bridge"):
        plan_nodes(load_ros_config(config), tmp_path)
    config.write_text(yaml.safe_dump({"nodes": {"sim_bridge": {"params_files": ["nope.yaml"]}}}))
    with pytest.raises(RosUpError, match="parameter file not found: .*nope.yaml"):
        plan_nodes(load_ros_config(config), tmp_path)
    config.write_text(yaml.safe_dump({"nodes": {"sim_bridge": {"enabled": False}}}))
    with pytest.raises(RosUpError, match="starts no node"):
        plan_nodes(load_ros_config(config), tmp_path)


def test_ros_up_starts_nodes_and_stops_them_on_ctrl_c(tmp_path):
    pytest.importorskip("rclpy", reason=NO_ROS)
    from nav_msgs.msg import Odometry
    from robo_reward_ros.common import COMMAND_QOS
    from ros_harness import ProbeNode, next_domain_id

    domain = next_domain_id()
    config = tmp_path / "up.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "domain_id": domain,
                "nodes": {
                    "sim_bridge": {
                        "params_files": ["package://robo_reward_ros/config/sim_bridge.yaml"],
                        "parameters": {"maze_seed": 1},
                        "remappings": {"odom": "/rover/odom"},
                    },
                    "demo_recorder": {
                        "parameters": {"topics": ["/rover/odom"], "output": str(tmp_path / "bag")},
                    },
                },
            }
        )
    )
    env = ros_env(domain)
    env.pop("PYTHONPATH")  # ros up finds the package source itself
    up = subprocess.Popen(
        [sys.executable, "-m", "robo_reward", "ros", "up", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    probe = ProbeNode(domain)
    try:
        odom = probe.collect(Odometry, "/rover/odom", COMMAND_QOS)
        probe.spin_until(
            lambda: len(odom) >= 3,
            20,
            "/rover/odom from the sim_bridge of ros up",
            check=lambda: up.poll() is None or pytest.fail(up.stdout.read()),
        )
        probe.spin_until(
            lambda: probe.node.count_subscribers("/rover/odom") >= 2,
            10,
            "demo_recorder to subscribe",
        )
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=30)
    finally:
        probe.close()
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, output
    pids = [int(p) for p in re.findall(r"started \w+ \(pid (\d+)\)", output)]
    assert len(pids) == 2, output
    assert "all nodes stopped" in output
    assert "Traceback" not in output, output
    for pid in pids:  # gone (reaped by ros up)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert (tmp_path / "bag" / "metadata.yaml").is_file()


def test_ros_up_refuses_without_rclpy(tmp_path, monkeypatch):
    import robo_reward.ros_up as ros_up

    monkeypatch.setattr(ros_up.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RosUpError, match=r"rclpy is not importable.*pip install -e '\.\[ros\]'"):
        ros_up.check_rclpy()
