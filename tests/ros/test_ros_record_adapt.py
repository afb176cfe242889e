"""Record, adapt, deploy, every step as on a robot: demo_recorder records sim_bridge's compressed
camera topics while the arm plays its scripted expert and stops on Ctrl-C; ``robo-reward adapt
--demo <bag>`` adapts the GRM on that bag; grm_reward configures (lifecycle) with the adapted
checkpoint and the bag itself as its reference demo, and publishes rising progress for the next
episode sim_bridge plays."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from ros_harness import NO_ROS, NodeProcess, running

pytest.importorskip("rclpy", reason=NO_ROS)

from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS, LATCHED_QOS  # noqa: E402
from std_msgs.msg import Bool, Float32, Int32  # noqa: E402
from std_srvs.srv import Empty  # noqa: E402

from robo_reward.grm.evaluate import spearman  # noqa: E402

TASK = "push"
VIEWS = ("front", "side", "wrist")
TOPICS = {view: f"/cam/{view}/image_raw/compressed" for view in VIEWS}
NODE = "/grm_reward"
QUICK_ADAPT = ("train.steps=4", "train.batch_size=8", "train.warmup_steps=0")
"""A few optimiser steps: adaptation runs end to end in seconds (a real one takes ~250)."""


def listen(probe, msg_type, topic: str, qos) -> tuple[list, object]:
    """Subscribe in the test process: the messages' ``data`` as they arrive, and the
    subscription (``get_publisher_count()``: the publishers it has matched)."""
    received: list = []
    subscription = probe.node.create_subscription(
        msg_type, topic, lambda msg: received.append(msg.data), qos
    )
    return received, subscription


def call(probe, srv_type, name: str, request, check, timeout: float = 20.0):
    client = probe.node.create_client(srv_type, name)
    probe.spin_until(client.service_is_ready, timeout, f"service {name}", check)
    future = client.call_async(request)
    probe.spin_until(future.done, timeout, f"a reply from {name}", check)
    probe.node.destroy_client(client)
    return future.result()


def transition(probe, transition_id: int, check) -> bool:
    request = ChangeState.Request()
    request.transition.id = transition_id
    return call(probe, ChangeState, f"{NODE}/change_state", request, check).success


def test_record_a_demo_adapt_on_the_bag_and_deploy_it_in_grm_reward(
    probe, domain_id, tmp_path
) -> None:
    started = time.monotonic()
    bag = tmp_path / "push_demo"
    bridge_params = {
        "task": TASK,
        "seed": 0,
        "cameras": list(VIEWS),
        "image_size": 96,
        "play_expert": True,
        "episodes": 1,
        "wait_for_subscribers": 1,  # the recorder: no frame of the demo goes unrecorded
    }
    recorder_params = {"topics": list(TOPICS.values()), "output": str(bag)}
    success, success_sub = listen(probe, Bool, "/sim/success", COMMAND_QOS)
    episodes, _ = listen(probe, Int32, "/sim/episode", LATCHED_QOS)
    with running(NodeProcess("sim_bridge", bridge_params, domain_id, tmp_path)) as bridge:
        # 1. record one scripted episode; Ctrl-C closes the bag. sim_bridge waits for the
        # recorder, which starts once this test hears sim_bridge
        probe.spin_until(
            lambda: success_sub.get_publisher_count() >= 1, 30, "sim_bridge", bridge.assert_running
        )
        probe.spin_for(0.3)
        with running(NodeProcess("demo_recorder", recorder_params, domain_id, tmp_path)) as rec:

            def recording() -> None:
                bridge.assert_running()
                rec.assert_running()

            probe.spin_until(lambda: any(success), 60, "the recorded push to succeed", recording)
            recorded_steps = len(success)
            probe.spin_for(0.5)
            assert rec.stop(signal.SIGINT) == 0, rec.output[-3000:]
        assert "closed" in rec.output and "Traceback" not in rec.output, rec.output[-3000:]
        recorded_s = time.monotonic() - started

        # 2. adapt on the bag with the CLI
        out = tmp_path / "adapted"
        views = ",".join(f"{view}={topic}" for view, topic in TOPICS.items())
        command = [sys.executable, "-m", "robo_reward", "adapt", "--demo", str(bag)]
        command += ["--views", views, "--out", str(out), "--task", TASK]
        command += [arg for setting in QUICK_ADAPT for arg in ("--set", setting)]
        adapt_start = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        adapt_s = time.monotonic() - adapt_start
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        aligned = re.search(r"rosbag2 .*: (\d+) time steps", result.stdout)
        assert aligned, result.stdout
        # every step recorded (best effort may lose a frame on a busy machine: masked, reported)
        assert int(aligned[1]) >= recorded_steps - 3, result.stdout
        checkpoint = out / "grm.safetensors"
        assert checkpoint.is_file()

        # 3. grm_reward with the adapted checkpoint and the bag as its reference
        grm_params = {
            "views": list(VIEWS),
            "topics": [topic.lstrip("/") for topic in TOPICS.values()],
            "checkpoint": str(checkpoint),
            "reference_demo": str(bag),
            "episode_topic": "sim/episode",
            "torch_threads": 1,
        }
        qos = QoSProfile(depth=500)
        progress, progress_sub = listen(probe, Float32, f"{NODE}/progress", qos)
        completion, _ = listen(probe, Bool, f"{NODE}/completion", qos)
        with running(NodeProcess("grm_reward", grm_params, domain_id, tmp_path)) as grm:

            def deployed() -> None:
                bridge.assert_running()
                grm.assert_running()

            assert transition(probe, Transition.TRANSITION_CONFIGURE, deployed), grm.output
            assert f"configured: GRM from {checkpoint}, reference {bag}" in grm.output
            assert "(recorded, " in grm.output  # the reference demo read from the bag
            assert transition(probe, Transition.TRANSITION_ACTIVATE, deployed), grm.output
            probe.spin_until(
                lambda: (
                    all(probe.node.count_subscribers(t) >= 1 for t in TOPICS.values())
                    and progress_sub.get_publisher_count() >= 1
                ),
                20,
                "grm_reward to subscribe to the cameras",
                deployed,
            )
            probe.spin_for(0.5)

            # the next episode (seed 1: another placement and appearance)
            success.clear()
            call(probe, Empty, "/sim/reset", Empty.Request(), deployed)
            probe.spin_until(lambda: any(success), 60, "the next push to succeed", deployed)
            steps = len(success)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len(progress) < steps:
                probe.spin_for(0.2)
            probe.spin_for(0.3)
            assert grm.stop() == 0 and bridge.stop() == 0
        assert "Traceback" not in grm.output and "Traceback" not in bridge.output

    values = np.array(progress)
    n = len(values)
    voc = spearman(values, np.arange(n)) if n > 1 else 0.0
    total = time.monotonic() - started
    print(
        f"record -> adapt -> deploy: recorded {recorded_steps} steps in {recorded_s:.1f} s, "
        f"adapt {adapt_s:.1f} s, grm_reward (adapted, bag reference): {n}/{steps} progress, "
        f"VOC {voc:.3f}, final {values[-1] if n else float('nan'):.3f}, completion at the end "
        f"{completion[-1] if completion else None}; {total:.1f} s in all"
    )
    assert episodes == [0, 1]
    assert n >= steps - 3, (n, steps, grm.output[-3000:])
    assert values[0] == 0.0 and voc >= 0.8
    assert completion[-1] and not completion[0]
