"""The issue's rover test: sim_bridge (maze_small, maze 0) + topo_mapper + policy drive the rover
to the goal through ROS topics alone, over DDS between processes.

The policy is the shipped TopoNav low level (PPO on lidar, odometry, goal and waypoint, trained by
``robo-reward bench nav``'s ``toponav`` arm in this maze), behind the mapper's waypoints and the
shield, as in the benchmark. The simulation steps at ``SIM_RATE_HZ`` (twice real time) and the
policy runs on its ``/clock`` (``use_sim_time``) at the env's 10 Hz, so one command per
simulation step, as in training; the test allows the task's time limit (600 steps).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ros_harness import NO_ROS, REPO, NodeProcess, running

pytest.importorskip("rclpy", reason=NO_ROS)

from nav_msgs.msg import Odometry  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS  # noqa: E402
from robo_reward_ros.conversions import msg_to_odometry  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402

SHIPPED_POLICY = REPO / "robo_reward" / "topo" / "weights" / "toponav_low_level.safetensors"
SIM_RATE_HZ = 20.0
TIME_LIMIT_STEPS = 600
"""maze_small's registration time limit."""


def drive_to_goal(probe, domain_id: int, tmp_path: Path, policy_path: Path) -> dict:
    """Start the three nodes, let the policy drive; the outcome (success, steps, wall time)."""
    mapper = NodeProcess("topo_mapper", {"episode_topic": "sim/episode"}, domain_id, tmp_path)
    policy = NodeProcess(
        "policy",
        {"policy_path": str(policy_path), "autostart": True, "use_sim_time": True,
         "rate_hz": 10.0, "max_age_ms": 500.0},
        domain_id, tmp_path,
    )  # fmt: skip
    bridge_params = {
        "task": "maze_small", "maze_seed": 0, "seed": 0, "rate_hz": SIM_RATE_HZ,
        "cmd_timeout": 0.5,
        # Step once the mapper, the policy (active: model loaded) and this test listen.
        "wait_for_subscribers": 3,
    }  # fmt: skip
    with running(mapper), running(policy):
        odom = probe.collect(Odometry, "/odom", COMMAND_QOS)
        success = probe.collect(Bool, "/sim/success", COMMAND_QOS)
        with running(NodeProcess("sim_bridge", bridge_params, domain_id, tmp_path)) as bridge:

            def alive() -> None:
                for node in (bridge, mapper, policy):
                    node.assert_running()

            probe.spin_until(lambda: odom, 60, "the simulation to start", alive)
            start = time.monotonic()
            limit_s = 1.5 * TIME_LIMIT_STEPS / SIM_RATE_HZ + 10.0
            probe.spin_until(
                lambda: any(m.data for _, m in success) or len(odom) > TIME_LIMIT_STEPS,
                limit_s, "the rover to reach the goal or the time limit", alive,
            )  # fmt: skip
            wall = time.monotonic() - start
            reached = next((k for k, (_, m) in enumerate(success) if m.data), None)
            outcome = {
                "success": reached is not None,
                "steps": reached if reached is not None else len(odom),
                "wall_s": wall,
                "end_xy": msg_to_odometry(odom[-1][1])[:2].tolist(),
            }
            assert bridge.stop() == 0
        assert policy.stop() == 0 and mapper.stop() == 0
    for node in (mapper, policy):
        assert "Traceback" not in node.output, node.output[-3000:]
    outcome["policy_log"] = policy.output
    return outcome


def test_rover_reaches_the_goal_through_ros_topics(probe, domain_id, tmp_path):
    if not SHIPPED_POLICY.is_file():
        pytest.skip(
            f"the trained TopoNav low-level policy is not shipped yet ({SHIPPED_POLICY} is "
            "missing; it comes from robo-reward bench nav's toponav arm on maze_small seed 0)"
        )
    # The policy reaches the goal in 4 of 5 evaluation episodes in the gym env; over DDS a busy
    # machine delays some commands by a step, which perturbs the rollout. So: up to two fresh
    # episodes (all three nodes restarted), and at least one must reach the goal in time.
    outcomes = []
    for attempt in range(2):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        outcome = drive_to_goal(probe, domain_id, folder, SHIPPED_POLICY)
        outcomes.append(outcome)
        print(
            f"rover to goal, attempt {attempt}: success {outcome['success']} after "
            f"{outcome['steps']} steps ({outcome['wall_s']:.1f} s wall), end at {outcome['end_xy']}"
        )
        if outcome["success"]:
            break
    last = outcomes[-1]
    assert last["success"], (
        [(o["steps"], o["end_xy"]) for o in outcomes],
        last["policy_log"][-3000:],
    )
    assert last["steps"] <= TIME_LIMIT_STEPS
