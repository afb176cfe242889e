"""Nav observations and commands <-> ROS messages: the env's conventions survive a round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ros_harness import NO_ROS

pytest.importorskip("rclpy", reason=NO_ROS)

from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import Quaternion, Twist  # noqa: E402
from robo_reward_ros.conversions import (  # noqa: E402
    action_to_ee_twist,
    action_to_twist,
    cloud_to_points,
    ee_twist_to_action,
    lidar_to_scan,
    msg_to_odometry,
    msg_to_vector,
    ns_to_time,
    odometry_to_msg,
    points_to_cloud,
    pose_stamped,
    quaternion_to_yaw,
    scan_to_lidar,
    time_to_ns,
    twist_to_action,
    vector_to_msg,
    yaw_to_quaternion,
)
from sensor_msgs.msg import LaserScan, PointCloud2, PointField  # noqa: E402


def test_time_round_trip():
    for ns in (0, 1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789):
        stamp = ns_to_time(ns)
        assert 0 <= stamp.nanosec < 1_000_000_000
        assert time_to_ns(stamp) == ns
    assert time_to_ns(Time(sec=2, nanosec=5)) == 2_000_000_005
    with pytest.raises(ValueError, match="negative"):
        ns_to_time(-1)


@pytest.mark.parametrize("yaw", [0.0, 0.3, -2.0, math.pi - 1e-6, 3 * math.pi / 2])
def test_yaw_quaternion(yaw):
    q = yaw_to_quaternion(yaw)
    assert math.isclose(q.x**2 + q.y**2 + q.z**2 + q.w**2, 1.0)
    back = quaternion_to_yaw(q)
    assert math.isclose(math.cos(back), math.cos(yaw), abs_tol=1e-9)
    assert math.isclose(math.sin(back), math.sin(yaw), abs_tol=1e-9)


def test_quaternion_refuses_nan_and_zero():
    with pytest.raises(ValueError, match="NaN"):
        quaternion_to_yaw(Quaternion(x=0.0, y=0.0, z=float("nan"), w=1.0))
    with pytest.raises(ValueError, match="zero"):
        quaternion_to_yaw(Quaternion(x=0.0, y=0.0, z=0.0, w=0.0))


def test_odometry_round_trip():
    yaw = 2.5
    odometry = np.array([1.5, -0.25, math.cos(yaw), math.sin(yaw), 0.4, -1.2], np.float32)
    msg = odometry_to_msg(odometry, 123_000_000_000, "odom", "base_link")
    assert (msg.header.frame_id, msg.child_frame_id) == ("odom", "base_link")
    assert time_to_ns(msg.header.stamp) == 123_000_000_000
    assert msg.twist.twist.linear.x == pytest.approx(0.4)  # body frame: forward speed
    np.testing.assert_allclose(msg_to_odometry(msg), odometry, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        odometry_to_msg(np.zeros(4), 0)
    with pytest.raises(ValueError, match="NaN"):
        odometry_to_msg(np.array([np.nan, 0, 1, 0, 0, 0]), 0)
    msg.twist.twist.angular.z = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        msg_to_odometry(msg)


def test_lidar_scan_layout_and_no_return():
    ranges = np.array([0.5, 3.0, 1.25, 3.0], np.float32)  # 3.0 = lidar_range: no return
    scan = lidar_to_scan(ranges, 3.0, 5, "base_link", scan_time=0.1)
    assert scan.angle_min == 0.0
    assert scan.angle_increment == pytest.approx(math.pi / 2)
    assert scan.angle_max == pytest.approx(3 * math.pi / 2)
    assert list(scan.ranges) == [0.5, math.inf, 1.25, math.inf]  # REP 117
    assert (scan.range_min, scan.range_max) == (0.0, 3.0)
    np.testing.assert_array_equal(scan_to_lidar(scan, 4, 3.0), ranges)


def test_scan_of_a_real_lidar_is_resampled_to_the_env_layout():
    # A 360-beam lidar from -pi, CCW, 12 m; the obstacle straight ahead is at 1 m, the one on
    # the left (+90 degrees) at 2 m; one reading beyond the env's 3 m range, one too close.
    scan = LaserScan()
    scan.angle_min = -math.pi
    scan.angle_increment = 2 * math.pi / 360
    scan.angle_max = scan.angle_min + 359 * scan.angle_increment
    ranges = np.full(360, np.inf, np.float32)
    ranges[180] = 1.0  # angle 0
    ranges[270] = 2.0  # angle +pi/2
    ranges[0] = 7.5  # angle -pi (behind): beyond 3 m
    ranges[90] = -np.inf  # angle -pi/2 (right): closer than range_min
    scan.ranges = ranges.tolist()
    lidar = scan_to_lidar(scan, 4, 3.0)
    np.testing.assert_array_equal(lidar, [1.0, 2.0, 3.0, 0.0])  # ahead, left, behind, right


def test_scan_refuses_nan_partial_circle_and_bad_increment():
    scan = lidar_to_scan(np.ones(8, np.float32), 3.0, 0)
    values = list(scan.ranges)
    values[3] = float("nan")
    scan.ranges = values
    with pytest.raises(ValueError, match="1 invalid"):
        scan_to_lidar(scan, 8, 3.0)
    assert scan_to_lidar(scan, 8, 3.0, invalid_as_no_return=True)[3] == 3.0
    half = LaserScan(angle_min=-math.pi / 2, angle_increment=math.pi / 4, ranges=[1.0] * 5)
    with pytest.raises(ValueError, match="full circle"):
        scan_to_lidar(half, 8, 3.0)
    clockwise = LaserScan(angle_min=0.0, angle_increment=-0.1, ranges=[1.0] * 5)
    with pytest.raises(ValueError, match="angle_increment must be positive"):
        scan_to_lidar(clockwise, 8, 3.0)


def test_rover_command_round_trip():
    twist = action_to_twist(np.array([0.5, -0.25]), 0.5, 2.0)
    assert (twist.linear.x, twist.angular.z) == (0.25, -0.5)
    np.testing.assert_allclose(twist_to_action(twist, 0.5, 2.0), [0.5, -0.25])
    fast = Twist()
    fast.linear.x, fast.angular.z = 10.0, -10.0
    np.testing.assert_array_equal(twist_to_action(fast, 0.5, 2.0), [1.0, -1.0])
    fast.linear.x = float("nan")
    with pytest.raises(ValueError, match="cmd_vel has NaN"):
        twist_to_action(fast, 0.5, 2.0)


def test_arm_command_round_trip():
    action = np.array([0.5, -1.0, 0.2, -1.0])
    twist, gripper = action_to_ee_twist(action, dt=0.04, action_scale=0.05)
    assert twist.linear.x == pytest.approx(0.5 * 0.05 / 0.04)
    np.testing.assert_allclose(ee_twist_to_action(twist, gripper, 0.04, 0.05), action, atol=1e-6)


def test_pose_stamped():
    msg = pose_stamped(1.0, 2.0, math.pi / 2, 7, "odom")
    assert msg.header.frame_id == "odom" and time_to_ns(msg.header.stamp) == 7
    assert quaternion_to_yaw(msg.pose.orientation) == pytest.approx(math.pi / 2)


def test_point_cloud_round_trip():
    points = np.array([[1.0, -0.5, 0.2], [2.5, 0.0, 0.0], [np.nan, np.nan, np.nan]])
    msg = points_to_cloud(points, 1_500_000_000, "base_link")
    assert msg.header.frame_id == "base_link" and msg.width == 3 and msg.point_step == 12
    assert not msg.is_dense  # a NaN point
    np.testing.assert_allclose(cloud_to_points(msg), points.astype(np.float32))
    empty = cloud_to_points(points_to_cloud(np.zeros((0, 3)), 0, "base_link"))
    assert empty.shape == (0, 3)


def test_an_organised_big_endian_padded_cloud_decodes():
    """A driver's layout: float64 x, y, z after an rgb field, 32-byte points, padded rows."""
    height, width = 2, 3
    points = np.arange(height * width * 3, dtype=np.float64).reshape(-1, 3) / 10
    record = np.dtype({"names": ["rgb", "x", "y", "z"], "formats": [">u4", ">f8", ">f8", ">f8"],
                       "offsets": [0, 8, 16, 24], "itemsize": 32})  # fmt: skip
    data = np.zeros(height * width, dtype=record)
    data["x"], data["y"], data["z"] = points.T
    rows = data.tobytes()
    row_step = 32 * width + 8  # 8 bytes of padding per row
    padded = b"".join(rows[r * 32 * width : (r + 1) * 32 * width] + bytes(8) for r in range(height))
    msg = PointCloud2(height=height, width=width, is_bigendian=True, point_step=32,
                      row_step=row_step, data=padded)  # fmt: skip
    msg.fields = [
        PointField(name="rgb", offset=0, datatype=PointField.UINT32, count=1),
        *(PointField(name=n, offset=8 + 8 * i, datatype=PointField.FLOAT64, count=1)
          for i, n in enumerate("xyz")),
    ]  # fmt: skip
    np.testing.assert_allclose(cloud_to_points(msg), points)


def test_bad_clouds_are_refused():
    msg = points_to_cloud(np.ones((4, 3)), 0, "base_link")
    msg.fields = msg.fields[:2]
    with pytest.raises(ValueError, match=r"no \['z'\] field"):
        cloud_to_points(msg)
    short = points_to_cloud(np.ones((4, 3)), 0, "base_link")
    short.data = short.data[:20]
    with pytest.raises(ValueError, match="bytes"):
        cloud_to_points(short)


def test_state_vector_round_trip():
    vector = np.array([0.1, -0.2, 0.3], np.float32)
    msg = vector_to_msg("desired_goal", vector)
    assert msg.layout.dim[0].label == "desired_goal" and msg.layout.dim[0].size == 3
    np.testing.assert_array_equal(msg_to_vector(msg), vector)
