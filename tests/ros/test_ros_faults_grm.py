"""grm_reward under faults, over DDS with the node as a process (issue #9): a camera stops and
comes back, every camera stops, the clock jumps back, a flood of frames at 10x the rate, and the
node restarted (SIGTERM, SIGKILL) while the cameras keep publishing. Each time: no stale reward
(nothing published from a step without every camera, nor from frames older than the node),
diagnostics say what happened, and rewards resume when the input does.

The images are random 32x32 frames (the node resizes them to the model's input) and the reference
demo a random trajectory: these tests check the plumbing, not the reward's quality (that is
test_ros_grm_reward.py and test_ros_arm_pipeline.py).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from ros_harness import NO_ROS, NodeProcess, running

pytest.importorskip("rclpy", reason=NO_ROS)

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from robo_reward_ros.camera_player import read_rss_mb  # noqa: E402
from robo_reward_ros.common import SENSOR_QOS  # noqa: E402
from robo_reward_ros.images import rgb_to_image  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Float32  # noqa: E402

from robo_reward.data import Trajectory  # noqa: E402

VIEWS = ("front", "side", "wrist")
NODE = "/grm_reward"
OUTPUT_QOS = QoSProfile(depth=2000)
RATE_HZ = 30.0


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    steps = 6
    demo = Trajectory(
        frames={v: rng.integers(0, 256, (steps, 32, 32, 3), dtype=np.uint8) for v in VIEWS},
        actions=np.zeros((steps - 1, 0), np.float32),
        states=np.zeros((steps, 0), np.float32),
        timestamps_ns=np.arange(steps, dtype=np.int64) * 100_000_000,
        task="push",
        success=True,
    )
    return demo.save(tmp_path_factory.mktemp("grm_faults") / "reference.npz")


def params(reference: Path, **overrides) -> dict:
    return {
        "views": list(VIEWS),
        "reference_demo": str(reference),
        "tolerance_ms": 10.0,
        "max_age_ms": 150.0,
        "torch_threads": 1,
        "autostart": True,
        **overrides,
    }


def to_time(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class Rig:
    """The test side: three camera publishers and the listeners of the node's outputs."""

    def __init__(self, probe) -> None:
        self.probe = probe
        self.cameras = {
            v: probe.node.create_publisher(Image, f"/cam/{v}/image_raw", SENSOR_QOS) for v in VIEWS
        }
        rng = np.random.default_rng(0)
        self.frames = [
            {v: rgb_to_image(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for v in VIEWS}
            for _ in range(8)
        ]
        self.progress = probe.collect(Float32, f"{NODE}/progress", OUTPUT_QOS)
        self.reward = probe.collect(Float32, f"{NODE}/reward", OUTPUT_QOS)
        self.diagnostics = probe.collect(DiagnosticArray, "/diagnostics", QoSProfile(depth=200))
        self.steps = 0
        self.offset_ns = 0
        """Added to the wall clock in the stamps (a clock jump)."""

    def send(self, views=VIEWS, stamp_ns: int | None = None) -> None:
        stamp = to_time(time.time_ns() + self.offset_ns if stamp_ns is None else stamp_ns)
        row = self.frames[self.steps % len(self.frames)]
        for view in views:
            msg = row[view]
            msg.header.stamp = stamp
            self.cameras[view].publish(msg)
        self.steps += 1

    def play(
        self,
        seconds: float,
        views=VIEWS,
        rate: float = RATE_HZ,
        until: Callable[[], bool] | None = None,
        check: Callable[[], None] | None = None,
    ) -> int:
        """Publish a step every 1/rate s for ``seconds`` (or until ``until()``), spinning
        between; the steps sent."""
        start, sent = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            if until is not None and until():
                break
            due = start + sent / rate
            if time.monotonic() >= due:
                self.send(views)
                sent += 1
            else:
                self.probe.executor.spin_once(timeout_sec=min(0.01, due - time.monotonic()))
            if check is not None and sent % 30 == 0:
                check()
        return sent

    def statuses(self, since: int = 0) -> list[DiagnosticStatus]:
        return [
            s for _, a in self.diagnostics[since:] for s in a.status if s.name.startswith("grm_")
        ]

    def wait_status(self, predicate, what: str, timeout: float = 5.0, views=VIEWS, since=0):
        """Keep the cameras on ``views`` going until a grm_reward status matches."""
        found = []

        def hit() -> bool:
            found[:] = [s for s in self.statuses(since) if predicate(s)]
            return bool(found)

        self.play(timeout, views=views, until=hit)
        assert found, f"no diagnostic {what} within {timeout} s: {self.messages(since)}"
        return found[-1]

    def messages(self, since: int = 0) -> list[str]:
        return [f"{s.level[0]}: {s.message}" for s in self.statuses(since)][-6:]


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def level(status: DiagnosticStatus) -> int:
    return status.level[0]


def wait_subscribed(rig: Rig, node: NodeProcess, timeout: float = 60.0) -> None:
    rig.probe.spin_until(
        lambda: all(p.get_subscription_count() > 0 for p in rig.cameras.values()),
        timeout,
        "grm_reward to subscribe to the cameras",
        node.assert_running,
    )


def test_camera_stops_and_resumes_all_stop_and_clock_jumps_back(
    probe, domain_id, tmp_path, reference
) -> None:
    with running(NodeProcess("grm_reward", params(reference), domain_id, tmp_path)) as node:
        rig = Rig(probe)
        wait_subscribed(rig, node)
        rig.play(2.0, check=node.assert_running)
        assert len(rig.reward) >= 30, node.output[-2000:]

        # side stops: no estimate from a step without it (skip), diagnostics name it
        rig.play(0.3, views=("front", "wrist"))  # steps in flight, then the view turns stale
        counts = len(rig.progress), len(rig.reward)
        mark = len(rig.diagnostics)
        warn = rig.wait_status(
            lambda s: values(s).get("stale_views") == "side", "naming side", 3, ("front", "wrist")
        )
        rig.play(1.0, views=("front", "wrist"))
        assert (len(rig.progress), len(rig.reward)) == counts
        assert level(warn) == 1 and "stale view(s) side" in warn.message
        assert "publishing nothing (missing_view=skip)" in warn.message
        assert int(values(warn)["skipped_steps"]) > 0
        print(f"side stopped: {warn.message}")

        # side is back: rewards resume, diagnostics return to OK
        mark = len(rig.diagnostics)
        rig.play(1.5)
        assert len(rig.reward) >= counts[1] + 30, len(rig.reward) - counts[1]
        ok = rig.wait_status(lambda s: level(s) == 0, "OK after side returned", since=mark)
        assert values(ok)["stale_views"] == ""

        # every camera stops (longer than stall_s = 2 s): nothing published, ERROR
        counts = len(rig.progress), len(rig.reward)
        mark = len(rig.diagnostics)
        probe.spin_until(
            lambda: any("no camera frames for" in s.message for s in rig.statuses(mark)),
            6,
            "an ERROR for the silent cameras",
            node.assert_running,
        )
        error = [s for s in rig.statuses(mark) if "no camera frames for" in s.message][-1]
        assert level(error) == 2
        print(f"all stopped: {error.message}")
        assert (len(rig.progress), len(rig.reward)) == counts
        rig.play(1.5)
        assert len(rig.reward) >= counts[1] + 30, "rewards did not resume after the cameras"
        rig.wait_status(lambda s: level(s) == 0, "OK once the cameras are back", since=mark)

        # the clock jumps back 10 s (a simulator or bag restarting): a new episode, reported
        rig.offset_ns = -10_000_000_000
        before = len(rig.progress)
        mark = len(rig.diagnostics)
        jump = rig.wait_status(lambda s: "clock jumped back" in s.message, "the clock jump")
        assert "episode restarted" in jump.message and int(values(jump)["clock_jumps"]) == 1
        print(f"clock back: {jump.message}")
        rig.play(1.0)
        after = [m.data for _, m in rig.progress[before:]]
        assert len(after) >= 20 and 0.0 in after  # a new episode starts at progress 0
        assert node.stop() == 0
    assert "Traceback" not in node.output


def test_flood_at_ten_times_the_rate_stays_bounded_and_is_reported(
    probe, domain_id, tmp_path, reference
) -> None:
    node_params = params(reference, max_delay_ms=250.0)
    with running(NodeProcess("grm_reward", node_params, domain_id, tmp_path)) as node:
        rig = Rig(probe)
        wait_subscribed(rig, node)
        rig.play(2.0, check=node.assert_running)
        rss_before = read_rss_mb(node.process.pid)
        rewards_before = len(rig.reward)

        # 10x: three cameras at 300 Hz for 3 s (as fast as this process can, up to that)
        start = time.monotonic()
        flood = rig.play(3.0, rate=10 * RATE_HZ, check=node.assert_running)
        flood_rate = flood / (time.monotonic() - start)
        rig.play(0.5)
        rss_after = read_rss_mb(node.process.pid)
        during = len(rig.reward) - rewards_before
        mark = len(rig.diagnostics)
        report = rig.wait_status(
            lambda s: (
                int(values(s).get("lost_frames", "0")) > 0
                or int(values(s).get("dropped_frames", "0")) > 0
            ),
            "a report of the frames the flood cost",
        )
        stats = values(report)
        print(
            f"flood: {flood} steps at {flood_rate:.0f} Hz -> {during} rewards; lost "
            f"{stats['lost_frames']}, stale {stats['stale_frames']}, dropped by the "
            f"synchroniser {stats['dropped_frames']}; latency p99 {stats.get('latency_p99_ms')} "
            f"ms; RSS {rss_before:.0f} -> {rss_after:.0f} MB"
        )
        assert flood_rate > 3 * RATE_HZ, "this machine could not flood"
        assert during > 0, "the node stopped publishing under the flood"
        assert rss_after - rss_before < 50.0
        # the node drops deliberately rather than queueing: latency stays bounded
        assert float(stats["latency_p99_ms"]) < 250.0 + 150.0
        if int(stats["lost_frames"]) + int(stats["stale_frames"]):
            said = [
                s.message
                for s in rig.statuses()
                if "lost before" in s.message or "stale fr" in s.message
            ]  # noqa: E501
            assert said, "the lost frames were not reported"
            print(f"flood: {said[0]}")

        # back to the normal rate: steady rewards, fresh latency
        counts = len(rig.reward)
        mark = len(rig.diagnostics)
        rig.play(3.0)
        assert len(rig.reward) - counts >= 0.8 * 3.0 * RATE_HZ
        ok = rig.wait_status(lambda s: level(s) == 0, "OK after the flood", since=mark)
        assert float(values(ok)["latency_p50_ms"]) < 250.0
        assert node.stop() == 0
    assert "Traceback" not in node.output


def test_restart_sigterm_and_sigkill_never_yield_a_stale_reward(
    probe, domain_id, tmp_path, reference
) -> None:
    """Cameras publish throughout; grm_reward is stopped with SIGTERM, a new one started and
    killed with SIGKILL, a third started. Between nodes nothing is published; each new node
    starts a fresh episode (progress 0), its estimates are of frames stamped after its start,
    and a backlog of frames stamped before its start (a camera flushing its queue) yields no
    reward (``max_delay_ms``) and is reported."""
    rig = Rig(probe)
    node_params = params(reference, max_delay_ms=500.0)

    def silence_between_nodes() -> None:
        rig.play(0.3)  # what was in flight
        counts = len(rig.progress), len(rig.reward)
        rig.play(1.0)
        assert (len(rig.progress), len(rig.reward)) == counts, "a reward with no node running"

    first = NodeProcess("grm_reward", node_params, domain_id, tmp_path)
    with running(first):
        rig.play(60.0, until=lambda: len(rig.reward) >= 20, check=first.assert_running)
        assert first.stop(signal.SIGTERM) == 0  # SIGTERM: a clean exit
    assert "Traceback" not in first.output
    silence_between_nodes()

    for name, end in (("second", signal.SIGKILL), ("third", signal.SIGTERM)):
        folder = tmp_path / name
        folder.mkdir()
        started_ns = time.time_ns()
        node = NodeProcess("grm_reward", node_params, domain_id, folder)
        with running(node):
            first_index = len(rig.progress)
            rig.play(
                60.0,
                until=lambda i=first_index: len(rig.progress) >= i + 10,
                check=node.assert_running,
            )
            # a fresh episode: nothing carried over from the previous process
            assert rig.progress[first_index][1].data == 0.0
            mark = len(rig.diagnostics)
            status = rig.wait_status(
                lambda s: values(s).get("last_stamp_ns", "") != "", "a stamped status", since=mark
            )
            assert int(values(status)["last_stamp_ns"]) >= started_ns

            # frames stamped before this node started (a camera's backlog): no reward. First let
            # the rewards of the fresh frames still in flight arrive (slow under load).
            probe.spin_for(1.5)
            counts = len(rig.progress), len(rig.reward)
            mark = len(rig.diagnostics)
            for k in range(30):
                rig.send(stamp_ns=started_ns - 2_000_000_000 + k * 33_000_000)
                probe.spin_for(0.01)
            probe.spin_for(1.0)
            assert (len(rig.progress), len(rig.reward)) == counts, "a reward from old frames"
            stale = rig.wait_status(
                lambda s: "stale frame(s) dropped" in s.message, "the stale frames", since=mark
            )
            assert int(values(stale)["stale_frames"]) >= 30
            assert "more than max_delay_ms=500 after their stamp" in stale.message
            print(f"backlog: {stale.message}")
            rig.play(1.0)
            assert len(rig.reward) > counts[1], "rewards did not resume after the backlog"
            if end == signal.SIGTERM:
                assert node.stop(signal.SIGTERM) == 0
            else:
                node.process.send_signal(end)
                node.process.wait(10)
                assert node.stop() == -end
        assert "Traceback" not in node.output
        silence_between_nodes()


def test_input_gaps_count_sequence_holes_per_publisher() -> None:
    from robo_reward_ros.common import InputGaps

    gaps = InputGaps()

    def info(sequence, publisher=b"a"):
        return {"publication_sequence_number": sequence, "publisher_gid": {"data": publisher}}

    assert [gaps.note("front", info(n)) for n in (1, 2, 5, 6)] == [0, 0, 2, 0]
    assert gaps.note("front", info(1, b"b")) == 0  # another publisher: its own sequence
    assert gaps.note("front", info(4, b"b")) == 2
    assert gaps.note("side", info(3)) == 0 and gaps.note("side", info(3)) == 0  # repeat: no gap
    assert gaps.note("side", {"publication_sequence_number": None}) == 0  # RMW without them
    assert gaps.new() == {"front": 4} and not gaps.new()
    for publisher in range(InputGaps.MAX_PUBLISHERS + 10):  # the table stays bounded
        gaps.note("wrist", info(1, bytes([publisher])))
    assert len(gaps._last) == InputGaps.MAX_PUBLISHERS
