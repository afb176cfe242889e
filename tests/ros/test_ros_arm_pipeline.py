"""The arm pipeline over DDS, every node a process: sim_bridge plays the push task's scripted
expert on its camera topics, grm_reward (the shipped general GRM, conditioned on a demo of the
same task recorded with another seed) subscribes to them, and the test process listens to
grm_reward's outputs: the published progress rises with time (VOC >= 0.9) and completion is
reported at the end of the episode.

Episodes are lined up by the nodes themselves: sim_bridge holds its first step until every camera
has two subscribers (grm_reward, active, and this test, subscribed once grm_reward's outputs
reach it), and grm_reward restarts its episode on sim_bridge's ``sim/episode``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from ros_harness import NO_ROS, NodeProcess, running

pytest.importorskip("rclpy", reason=NO_ROS)

from rclpy.qos import QoSProfile  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Bool, Float32, Int32  # noqa: E402

from robo_reward.grm.evaluate import spearman  # noqa: E402

TASK = "push"
"""The shipped GRM's VOC on sim_bridge's push expert episodes, the reference from another seed
(other placement and appearance): 0.96-1.0 over seeds 0-7, raw or JPEG, completion reached on
every one, final progress 0.82-0.98 (button_press falls short of the completion rule, pick_place
dips below 0.9 on some seeds). The seeds played here end at 0.92 (raw) and 0.98 (JPEG), well
clear of the rule's 0.8."""
VIEWS = ("front", "side", "wrist")
NODE = "/grm_reward"
OUTPUT_QOS = QoSProfile(depth=500)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A scripted push demo, another seed than the episode sim_bridge plays, as an npz."""
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    demo = rollout(TASK, 1000, env_config=EnvConfig(cameras=VIEWS, image_size=96))
    assert demo.success
    return demo.save(tmp_path_factory.mktemp("arm_pipeline") / "push_demo.npz")


def camera_topic(view: str, compressed: bool) -> str:
    return f"/cam/{view}/image_raw" + ("/compressed" if compressed else "")


def play_expert_through_grm_reward(
    probe, domain_id: int, tmp_path: Path, reference: Path, compressed: bool, seed: int = 0
) -> dict:
    """Start sim_bridge and grm_reward, play one expert episode; what the test process heard."""
    bridge_params = {
        "task": TASK,
        "seed": seed,
        "cameras": list(VIEWS),
        "image_size": 96,
        "play_expert": True,
        "episodes": 1,
        "wait_for_subscribers": 2,
    }
    grm_params = {
        "views": list(VIEWS),
        "topics": [camera_topic(v, compressed).lstrip("/") for v in VIEWS],
        "reference_demo": str(reference),
        "episode_topic": "sim/episode",
        "torch_threads": 1,
        "autostart": True,
    }
    node = probe.node
    progress, progress_sub = listen(probe, Float32, f"{NODE}/progress", OUTPUT_QOS)
    completion, completion_sub = listen(probe, Bool, f"{NODE}/completion", OUTPUT_QOS)
    success, success_sub = listen(probe, Bool, "/sim/success", COMMAND_QOS)
    episodes, _ = listen(probe, Int32, "/sim/episode", LATCHED_QOS)
    frames: list[str] = []
    matched = (progress_sub, completion_sub, success_sub)
    start = time.monotonic()
    with (
        running(NodeProcess("grm_reward", grm_params, domain_id, tmp_path)) as grm,
        running(NodeProcess("sim_bridge", bridge_params, domain_id, tmp_path)) as bridge,
    ):

        def alive() -> None:
            grm.assert_running()
            bridge.assert_running()

        probe.spin_until(
            lambda: (
                all(node.count_subscribers(camera_topic(v, compressed)) >= 1 for v in VIEWS)
                and all(sub.get_publisher_count() >= 1 for sub in matched)
            ),
            60,
            "grm_reward to activate (camera subscriptions, outputs) and sim_bridge to be heard",
            alive,
        )
        probe.spin_for(0.5)  # the nodes' writers match this test's readers too
        ready = time.monotonic()
        # the second subscriber on every camera: sim_bridge starts the episode
        kind = CompressedImage if compressed else Image
        for view in VIEWS:
            node.create_subscription(
                kind,
                camera_topic(view, compressed),
                lambda m, view=view: frames.append(view),
                SENSOR_QOS,
            )
        probe.spin_until(lambda: any(success), 60, "the scripted push to succeed", alive)
        played = time.monotonic()
        settle(probe, progress)
        assert grm.stop() == 0 and bridge.stop() == 0
    assert "Traceback" not in grm.output and "Traceback" not in bridge.output
    return {
        "progress": progress,
        "completion": completion,
        "frames": frames,
        "steps": len(success),
        "success": success,
        "episodes": episodes,
        "grm_log": grm.output,
        "startup_s": ready - start,
        "episode_s": played - ready,
    }


def listen(probe, msg_type, topic: str, qos) -> tuple[list, object]:
    """Subscribe in the test process: the messages' ``data`` as they arrive, and the
    subscription (``get_publisher_count()``: the publishers it has matched)."""
    received: list = []
    subscription = probe.node.create_subscription(
        msg_type, topic, lambda msg: received.append(msg.data), qos
    )
    return received, subscription


def settle(probe, messages: list, quiet: float = 0.5, timeout: float = 5.0) -> None:
    """Spin until nothing new arrived for ``quiet`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = len(messages)
        probe.spin_for(quiet)
        if len(messages) == count:
            return


def check_rising_and_complete(heard: dict, label: str) -> float:
    progress = np.array(heard["progress"])
    completion = heard["completion"]
    n, steps = len(progress), heard["steps"]
    voc = spearman(progress, np.arange(n)) if n > 1 else 0.0
    print(
        f"arm pipeline ({label}): {n} progress / {steps} sim steps, VOC {voc:.3f}, final "
        f"progress {progress[-1] if n else float('nan'):.3f}, completion at the end "
        f"{completion[-1] if completion else None} (first at step "
        f"{completion.index(True) if True in completion else None}), grm_reward up in "
        f"{heard['startup_s']:.1f} s, episode played in {heard['episode_s']:.1f} s"
    )
    assert heard["episodes"] == [0] and heard["success"][-1], heard
    # best-effort cameras on a busy machine may lose a frame now and then
    assert n >= steps - 3 and len(completion) == n, (n, steps, heard["grm_log"][-3000:])
    assert progress[0] == 0.0 and progress[-1] > 0.8
    assert voc >= 0.9
    assert completion[-1] and not completion[0]
    return voc


def test_grm_reward_progress_rises_on_sim_bridge_expert_compressed(
    probe, domain_id, tmp_path, reference
) -> None:
    heard = play_expert_through_grm_reward(
        probe, domain_id, tmp_path, reference, compressed=True, seed=4
    )
    check_rising_and_complete(heard, "compressed cameras")


def test_grm_reward_progress_rises_on_sim_bridge_expert_raw(
    probe, domain_id, tmp_path, reference
) -> None:
    heard = play_expert_through_grm_reward(
        probe, domain_id, tmp_path, reference, compressed=False, seed=1
    )
    check_rising_and_complete(heard, "raw cameras")
