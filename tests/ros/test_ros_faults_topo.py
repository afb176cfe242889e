"""topo_mapper under faults, over DDS with the node as a process (issue #9): the scans stop and
come back, the odometry stops and comes back, the odometry jumps (a relocalisation), the clock
jumps back, and a flood of scans at 10x the rate. Each time: no update from a scan without
odometry of its time (no stale waypoint or reward), diagnostics say what happened, and the map
keeps updating when the input returns.

The input is a frontier explorer's drive through a small MazeNavEnv maze
(:func:`robo_reward.bench.topo_soak.make_rollout`), played forward and back at 20 Hz.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from ros_harness import NO_ROS, NodeProcess, running

pytest.importorskip("rclpy", reason=NO_ROS)

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from robo_reward_ros.camera_player import read_rss_mb  # noqa: E402
from robo_reward_ros.common import COMMAND_QOS, SENSOR_QOS  # noqa: E402
from robo_reward_ros.conversions import lidar_to_scan, odometry_to_msg, time_to_ns  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402
from std_msgs.msg import Float32  # noqa: E402

MAPPER = "/topo_mapper"
RATE_HZ = 20.0
TOLERANCE_NS = 50_000_000
"""The mapper's pairing tolerance (tolerance_ms, its default)."""
OUTPUT_QOS = QoSProfile(depth=5000)


@pytest.fixture(scope="module")
def drive(tmp_path_factory) -> dict[str, np.ndarray]:
    from robo_reward.bench.topo_soak import make_rollout

    path = make_rollout(tmp_path_factory.mktemp("topo_faults") / "drive.npz", "maze_small", 0)
    with np.load(path) as data:
        odometry, lidar = data["odometry"], data["lidar"]
        back = odometry[::-1].copy()
        back[:, 4:] *= -1.0
        return {
            "odometry": np.concatenate([odometry, back[1:-1]]),
            "lidar": np.concatenate([lidar, lidar[::-1][1:-1]]),
            "range": float(data["lidar_range"]),
        }


class Rover:
    """The test side: odometry and scan publishers, listeners of the mapper's outputs."""

    def __init__(self, probe, drive: dict) -> None:
        self.probe, self.drive = probe, drive
        self.odom_pub = probe.node.create_publisher(Odometry, "/odom", COMMAND_QOS)
        self.scan_pub = probe.node.create_publisher(LaserScan, "/scan", SENSOR_QOS)
        self.waypoints: list[tuple[int, int]] = []
        """(receive time ns, scan stamp ns) per update."""
        probe.node.create_subscription(
            PoseStamped,
            f"{MAPPER}/waypoint",
            lambda m: self.waypoints.append((time.time_ns(), time_to_ns(m.header.stamp))),
            OUTPUT_QOS,
        )
        self.rewards = probe.collect(Float32, f"{MAPPER}/intrinsic_reward", OUTPUT_QOS)
        self.diagnostics = probe.collect(DiagnosticArray, "/diagnostics", QoSProfile(depth=200))
        self.row = 0
        self.offset_ns = 0
        """Added to the wall clock in the stamps (a clock jump)."""
        self.shift = np.zeros(2)
        """Added to the odometry position (a jump of the odometry)."""
        self.odom_stamps: list[int] = []

    def send(self, odom: bool = True, scan: bool = True) -> None:
        stamp = time.time_ns() + self.offset_ns
        index = self.row % len(self.drive["odometry"])
        if odom:
            odometry = self.drive["odometry"][index].copy()
            odometry[:2] += self.shift
            self.odom_pub.publish(odometry_to_msg(odometry, stamp))
            self.odom_stamps.append(stamp)
        if scan:
            self.scan_pub.publish(lidar_to_scan(self.drive["lidar"][index], self.drive["range"],
                                                stamp))  # fmt: skip
        self.row += 1

    def play(self, seconds: float, rate: float = RATE_HZ, until=None, check=None, **what) -> int:
        start, sent = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            if until is not None and until():
                break
            due = start + sent / rate
            if time.monotonic() >= due:
                self.send(**what)
                sent += 1
                if check is not None and sent % 20 == 0:
                    check()
            else:
                self.probe.executor.spin_once(timeout_sec=min(0.01, due - time.monotonic()))
        return sent

    def statuses(self, since: int = 0) -> list[DiagnosticStatus]:
        return [
            s for _, a in self.diagnostics[since:] for s in a.status if s.name.startswith("topo_")
        ]

    def wait_status(self, predicate, what: str, timeout: float = 5.0, since: int = 0, **sending):
        """Keep sending (``sending``: which inputs) until a mapper status matches."""
        found = []

        def hit() -> bool:
            found[:] = [s for s in self.statuses(since) if predicate(s)]
            return bool(found)

        self.play(timeout, until=hit, **sending)
        messages = [f"{s.level[0]}: {s.message}" for s in self.statuses(since)][-5:]
        assert found, f"no diagnostic {what} within {timeout} s: {messages}"
        return found[-1]


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def test_inputs_stop_and_resume_jumps_and_clock_going_back(probe, domain_id, tmp_path, drive):
    with running(NodeProcess("topo_mapper", {}, domain_id, tmp_path)) as mapper:
        rover = Rover(probe, drive)
        probe.spin_until(
            lambda: (
                rover.scan_pub.get_subscription_count() > 0
                and rover.odom_pub.get_subscription_count() > 0
            ),
            30,
            "the mapper to subscribe",
            mapper.assert_running,
        )
        sent = rover.play(2.0, check=mapper.assert_running)
        assert len(rover.waypoints) >= sent - 3, (len(rover.waypoints), sent)

        # scans stop, odometry goes on: no update, an ERROR after stall_s (2 s)
        updates = len(rover.waypoints)
        mark = len(rover.diagnostics)
        error = rover.wait_status(
            lambda s: "no scan for" in s.message, "the missing scans", 6, mark, scan=False
        )
        assert error.level[0] == 2 and "the map is not updated" in error.message
        print(f"scans stopped: {error.message}")
        probe.spin_for(0.2)
        assert len(rover.waypoints) == updates
        # scans return: updates resume, OK again
        mark = len(rover.diagnostics)
        rover.play(1.5)
        assert len(rover.waypoints) >= updates + 25
        rover.wait_status(lambda s: s.level[0] == 0, "OK with scans back", since=mark)

        # odometry stops, scans go on: no update from a scan without odometry of its time
        updates = len(rover.waypoints)
        mark = len(rover.diagnostics)
        rover.play(1.5, odom=False)
        probe.spin_for(0.2)
        assert len(rover.waypoints) <= updates + 1  # the one scan in flight with its odometry
        warn = rover.wait_status(
            lambda s: "scan(s) dropped: replaced before odometry" in s.message,
            "the scans waiting for odometry", since=mark, odom=False,
        )  # fmt: skip
        assert int(values(warn)["dropped_scans"]) >= 10
        print(f"odometry stopped: {warn.message}")
        mark = len(rover.diagnostics)
        rover.play(1.5)
        assert len(rover.waypoints) >= updates + 25
        ok = rover.wait_status(lambda s: s.level[0] == 0, "OK with odometry back", since=mark)
        # subscriber side: every update's stamp is a scan that had odometry within tolerance
        odom = np.array(rover.odom_stamps)
        for _, stamp in rover.waypoints:
            assert np.abs(odom - stamp).min() <= TOLERANCE_NS, "an update without odometry"

        # the odometry jumps 3 m (relocalisation): reported, no edge across, mapping goes on
        rover.shift = np.array([3.0, 0.0])
        updates = len(rover.waypoints)
        mark = len(rover.diagnostics)
        jump = rover.wait_status(
            lambda s: "relocalisation" in s.message, "the relocalisation", since=mark
        )
        # (the drive went on while scans or odometry were missing: those resumptions were
        # relocalisations too, as nothing was observed in between)
        relocalised = int(values(ok)["relocalisations"])
        assert int(values(jump)["relocalisations"]) == relocalised + 1
        assert values(jump)["map_resets"] == "0"
        print(f"odometry jump: {jump.message}")
        rover.play(1.0)
        assert len(rover.waypoints) >= updates + 20

        # the clock jumps back 30 s (a bag or simulator restarting): a new map, reported
        rover.offset_ns = -30_000_000_000
        mark = len(rover.diagnostics)
        reset = rover.wait_status(
            lambda s: "new map: stamps went back" in s.message, "the new map", since=mark
        )
        assert values(reset)["map_resets"] == "1"
        print(f"clock back: {reset.message}")
        updates = len(rover.waypoints)
        rover.play(1.0)
        assert len(rover.waypoints) >= updates + 15
        assert mapper.stop() == 0
    assert "Traceback" not in mapper.output


def test_flood_of_scans_at_ten_times_the_rate(probe, domain_id, tmp_path, drive):
    with running(NodeProcess("topo_mapper", {}, domain_id, tmp_path)) as mapper:
        rover = Rover(probe, drive)
        probe.spin_until(
            lambda: rover.scan_pub.get_subscription_count() > 0,
            30,
            "the mapper to subscribe",
            mapper.assert_running,
        )
        rover.play(2.0, check=mapper.assert_running)
        rss_before = read_rss_mb(mapper.process.pid)

        first = len(rover.waypoints)
        start = time.monotonic()
        flood = rover.play(3.0, rate=10 * RATE_HZ, check=mapper.assert_running)
        flood_rate = flood / (time.monotonic() - start)
        probe.spin_for(0.5)
        rss_after = read_rss_mb(mapper.process.pid)
        during = rover.waypoints[first:]
        latency_ms = np.array([(r - s) / 1e6 for r, s in during])
        mark = len(rover.diagnostics)
        status = rover.wait_status(lambda s: True, "a status after the flood", since=mark)
        lost = values(status)["lost"]
        lost_scans = int(dict(kv.split(":") for kv in lost.split(",") if kv).get("scan", 0))
        print(
            f"flood: {flood} scans at {flood_rate:.0f} Hz -> {len(during)} updates, lost "
            f"[{lost}], latency p50 {np.percentile(latency_ms, 50):.1f} p99 "
            f"{np.percentile(latency_ms, 99):.1f} ms, update p99 {values(status)['update_ms_p99']} "
            f"ms; RSS {rss_before:.0f} -> {rss_after:.0f} MB"
        )
        assert flood_rate > 3 * RATE_HZ, "this machine could not flood"
        # kept up, or dropped deliberately: every scan is an update or counted as lost
        assert len(during) + lost_scans >= 0.95 * flood, (len(during), lost_scans, flood)
        if lost_scans:
            messages = [s.message for s in rover.statuses() if "input lost" in s.message]
            assert messages, "lost scans not reported"
            print(f"flood: {messages[0]}")
        assert np.percentile(latency_ms, 99) < 250.0
        assert rss_after - rss_before < 30.0

        # back to 20 Hz: every scan an update, latency back to one scan period
        first = len(rover.waypoints)
        sent = rover.play(2.0)
        probe.spin_for(0.3)
        after = rover.waypoints[first:]
        assert len(after) >= sent - 2
        assert np.percentile([(r - s) / 1e6 for r, s in after], 50) < 50.0
        assert mapper.stop() == 0
    assert "Traceback" not in mapper.output


def test_lost_inputs_are_reported_once():
    """What the node counts from sequence gaps reaches the stream's diagnostics, once."""
    from robo_reward.streams.topo_stream import TopoMapperStream

    stream = TopoMapperStream()
    stream.note_lost("scan", 0)
    assert not stream.lost
    stream.note_lost("scan", 7)
    stream.note_lost("odometry", 2)
    first = stream.status()
    assert "input lost before the mapper read it (2 odometry, 7 scan)" in first.message
    assert first.values["lost"] == "odometry:2,scan:7"
    assert "input lost" not in stream.status().message
