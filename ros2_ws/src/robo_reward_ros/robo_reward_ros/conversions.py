"""Navigation and arm observations and commands <-> standard ROS messages; pure functions.

Conventions (those of :class:`robo_reward.sim.nav.env.MazeNavEnv` and REP 103/105/117):

- **Odometry vector** ``(x, y, cos yaw, sin yaw, v, omega)``: pose of ``base_link`` in the
  world (``odom``) frame, forward velocity along the heading (m/s) and yaw rate (rad/s, CCW).
  In ``nav_msgs/Odometry`` the pose is in ``header.frame_id`` and the twist in
  ``child_frame_id`` (the base), so ``v`` is ``twist.linear.x`` and ``omega`` ``twist.angular.z``.
- **Lidar**: beam ``i`` of ``N`` points ``2 pi i / N`` rad counter-clockwise from the heading
  (``x`` ahead, REP 103), so a ``LaserScan`` has ``angle_min = 0``,
  ``angle_increment = 2 pi / N`` and ``angle_max = 2 pi (N - 1) / N``. The env reads
  ``lidar_range`` where nothing is hit; ROS reads ``+inf`` (REP 117: no return within range),
  ``-inf`` (closer than ``range_min``) and ``NaN`` (an invalid reading).
- **Rover command**: the env's normalised ``(forward, yaw rate)`` in ``[-1, 1]^2`` is
  ``geometry_msgs/Twist`` ``(linear.x / max_linear_speed, angular.z / max_angular_speed)``.
- **Arm command**: the tabletop env's normalised ``(dx, dy, dz, gripper)``; the translation is an
  end-effector velocity ``linear * dt / action_scale`` (``geometry_msgs/Twist``, world frame; the
  hand keeps pointing down, so ``angular`` is unused), the gripper a ``std_msgs/Float32`` in
  ``[-1, 1]`` (-1 closed, +1 open).
- **Point clouds**: ``sensor_msgs/PointCloud2`` <-> ``(N, 3)`` x, y, z in ``header.frame_id``
  (metres); decoded from the ``x``, ``y``, ``z`` fields at their offsets with numpy (any numeric
  datatype, either endianness, padded points and rows), so ``sensor_msgs_py`` is not needed.
- **Arm state**: an observation vector (``state``, ``desired_goal``, ...) as
  ``std_msgs/Float32MultiArray``, one dimension labelled with the key. It has no header: a
  subscriber ages it by its arrival time.
- **Time**: ``builtin_interfaces/Time`` <-> integer nanoseconds.
"""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped, Quaternion, Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import LaserScan, PointCloud2, PointField
from std_msgs.msg import Float32MultiArray, MultiArrayDimension

NS_PER_S = 1_000_000_000


# ------------------------------------------------------------------------------------ time
def ns_to_time(ns: int) -> Time:
    """Integer nanoseconds (>= 0) -> ``builtin_interfaces/Time``."""
    ns = int(ns)
    if ns < 0:
        raise ValueError(f'a ROS time cannot be negative, got {ns} ns')
    sec, nanosec = divmod(ns, NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


def time_to_ns(stamp: Time) -> int:
    """``builtin_interfaces/Time`` -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


# ------------------------------------------------------------------------------------ pose
def yaw_to_quaternion(yaw: float) -> Quaternion:
    """A rotation of ``yaw`` rad about z."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def quaternion_to_yaw(q: Quaternion) -> float:
    """The heading (rotation about z, rad in (-pi, pi]) of a quaternion; refuses NaN and zero."""
    values = (q.x, q.y, q.z, q.w)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'quaternion has NaN or infinite values: {values}')
    if sum(v * v for v in values) < 1e-12:
        raise ValueError('quaternion is zero (an unset orientation?)')
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def pose_stamped(x: float, y: float, yaw: float, stamp_ns: int, frame_id: str) -> PoseStamped:
    """A planar pose as ``geometry_msgs/PoseStamped``."""
    msg = PoseStamped()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    msg.pose.position.x, msg.pose.position.y = float(x), float(y)
    msg.pose.orientation = yaw_to_quaternion(float(yaw))
    return msg


# ------------------------------------------------------------------------------------ odometry
def odometry_to_msg(
    odometry: np.ndarray, stamp_ns: int, frame_id: str = 'odom', child_frame_id: str = 'base_link'
) -> Odometry:
    """The env's odometry vector -> ``nav_msgs/Odometry`` (covariances zero: exact)."""
    odometry = np.asarray(odometry, dtype=np.float64)
    if odometry.shape != (6,):
        raise ValueError(
            f'odometry must be (x, y, cos yaw, sin yaw, v, omega), got shape {odometry.shape}')
    if not np.all(np.isfinite(odometry)):
        raise ValueError(f'odometry has NaN or infinite values: {odometry}')
    x, y, cos_yaw, sin_yaw, v, omega = odometry
    msg = Odometry()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    msg.pose.pose.position.x, msg.pose.pose.position.y = float(x), float(y)
    msg.pose.pose.orientation = yaw_to_quaternion(math.atan2(sin_yaw, cos_yaw))
    msg.twist.twist.linear.x = float(v)
    msg.twist.twist.angular.z = float(omega)
    return msg


def msg_to_odometry(msg: Odometry) -> np.ndarray:
    """``nav_msgs/Odometry`` -> the env's ``float32`` odometry vector; refuses NaN."""
    position, twist = msg.pose.pose.position, msg.twist.twist
    yaw = quaternion_to_yaw(msg.pose.pose.orientation)
    values = (
        position.x, position.y, math.cos(yaw), math.sin(yaw), twist.linear.x, twist.angular.z)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'odometry message has NaN or infinite values: {values}')
    return np.array(values, dtype=np.float32)


# ------------------------------------------------------------------------------------ lidar
def lidar_to_scan(
    ranges: np.ndarray,
    range_max: float,
    stamp_ns: int,
    frame_id: str = 'base_link',
    range_min: float = 0.0,
    scan_time: float = 0.0,
) -> LaserScan:
    """The env's lidar (``range_max`` = no return) -> ``sensor_msgs/LaserScan`` (``+inf``)."""
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.ndim != 1 or ranges.size == 0:
        raise ValueError(f'lidar ranges must be a non-empty 1-D array, got shape {ranges.shape}')
    if not np.all(np.isfinite(ranges)):
        raise ValueError('lidar ranges have NaN or infinite values')
    beams = ranges.size
    increment = 2.0 * math.pi / beams
    msg = LaserScan()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    msg.angle_min = 0.0
    msg.angle_increment = increment
    msg.angle_max = increment * (beams - 1)
    msg.time_increment = 0.0
    msg.scan_time = float(scan_time)
    msg.range_min = float(range_min)
    msg.range_max = float(range_max)
    msg.ranges = np.where(ranges >= range_max, np.inf, ranges).astype(np.float32).tolist()
    return msg


def scan_to_lidar(
    msg: LaserScan, beams: int, lidar_range: float, invalid_as_no_return: bool = False
) -> np.ndarray:
    """``sensor_msgs/LaserScan`` -> the env's lidar layout: ``beams`` ranges in
    ``[0, lidar_range]``, beam ``i`` at ``2 pi i / beams`` CCW from the heading.

    A scan in exactly that layout maps beam for beam; any other (a real lidar's ``angle_min =
    -pi``, another resolution) is resampled, each beam taking the scan's reading nearest in angle,
    and must cover the whole circle. ``+inf`` and readings beyond ``lidar_range`` read
    ``lidar_range`` (what the env's lidar would report), ``-inf`` (too close) reads 0. ``NaN``
    (invalid) is refused unless ``invalid_as_no_return``.
    """
    if isinstance(beams, bool) or not isinstance(beams, int) or beams < 1:
        raise ValueError(f'beams must be a positive int, got {beams!r}')
    ranges = np.asarray(msg.ranges, dtype=np.float64)
    if ranges.size == 0:
        raise ValueError('the scan has no ranges')
    if not (math.isfinite(msg.angle_increment) and msg.angle_increment > 0):
        raise ValueError(
            f'scan angle_increment must be positive (counter-clockwise), got {msg.angle_increment}'
        )
    invalid = np.isnan(ranges)
    if invalid.any() and not invalid_as_no_return:
        raise ValueError(
            f'the scan has {int(invalid.sum())} invalid (NaN) ranges; '
            'pass invalid_as_no_return=True to read them as no return'
        )
    ranges = np.where(invalid, np.inf, ranges)
    ranges = np.where(ranges == -np.inf, 0.0, ranges)
    ranges = np.clip(ranges, 0.0, lidar_range)

    targets = 2.0 * math.pi * np.arange(beams) / beams
    offset = (targets - msg.angle_min) % (2.0 * math.pi)
    index = np.rint(offset / msg.angle_increment).astype(np.int64)
    full_circle = ranges.size * msg.angle_increment >= 2.0 * math.pi - 1e-3
    if full_circle:
        index %= ranges.size
    elif np.any(index >= ranges.size):
        raise ValueError(
            f'the scan covers {math.degrees(ranges.size * msg.angle_increment):.0f} degrees; '
            'the rover lidar layout needs the full circle'
        )
    return ranges[index].astype(np.float32)


# ------------------------------------------------------------------------------------ commands
def _finite(values: tuple[float, ...], what: str) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'{what} has NaN or infinite values: {values}')


def twist_to_action(msg: Twist, max_linear_speed: float, max_angular_speed: float) -> np.ndarray:
    """``cmd_vel`` -> the rover's normalised ``(forward, yaw rate)``, clipped to [-1, 1].

    A differential drive cannot follow ``linear.y``, ``linear.z``, ``angular.x/y``: ignored.
    """
    _finite((msg.linear.x, msg.angular.z), 'cmd_vel')
    action = np.array([msg.linear.x / max_linear_speed, msg.angular.z / max_angular_speed])
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def action_to_twist(
    action: np.ndarray, max_linear_speed: float, max_angular_speed: float
) -> Twist:
    """The rover's normalised ``(forward, yaw rate)`` -> ``cmd_vel`` (m/s, rad/s)."""
    action = np.asarray(action, dtype=np.float64)
    if action.shape != (2,):
        raise ValueError(f'a rover action has shape (2,), got {action.shape}')
    _finite(tuple(action), 'action')
    msg = Twist()
    msg.linear.x = float(action[0] * max_linear_speed)
    msg.angular.z = float(action[1] * max_angular_speed)
    return msg


def ee_twist_to_action(
    msg: Twist, gripper: float, dt: float, action_scale: float
) -> np.ndarray:
    """An end-effector velocity (m/s) and gripper command -> the arm's normalised action."""
    linear = (msg.linear.x, msg.linear.y, msg.linear.z)
    _finite((*linear, gripper), 'end-effector command')
    action = np.array([*(v * dt / action_scale for v in linear), gripper])
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def action_to_ee_twist(action: np.ndarray, dt: float, action_scale: float) -> tuple[Twist, float]:
    """The arm's normalised action -> (end-effector velocity in m/s, gripper command)."""
    action = np.asarray(action, dtype=np.float64)
    if action.shape != (4,):
        raise ValueError(f'an arm action has shape (4,), got {action.shape}')
    _finite(tuple(action), 'action')
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.linear.z = (float(a * action_scale / dt) for a in action[:3])
    return msg, float(action[3])


# ------------------------------------------------------------------------------------ clouds
_POINT_FIELD_TYPES = {
    PointField.INT8: 'i1', PointField.UINT8: 'u1', PointField.INT16: 'i2',
    PointField.UINT16: 'u2', PointField.INT32: 'i4', PointField.UINT32: 'u4',
    PointField.FLOAT32: 'f4', PointField.FLOAT64: 'f8',
}


def cloud_to_points(msg: PointCloud2) -> np.ndarray:
    """``sensor_msgs/PointCloud2`` -> ``float64 (N, 3)`` x, y, z in ``header.frame_id``.

    Organised clouds (``height > 1``) are flattened; invalid points (NaN, REP 118's convention
    for pixels without depth) are kept for the caller to drop. A cloud without ``x``, ``y``,
    ``z`` fields, with a packed field (``count`` != 1), or whose data is shorter than its
    layout says is refused.
    """
    fields = {f.name: f for f in msg.fields}
    missing = [name for name in 'xyz' if name not in fields]
    if missing:
        raise ValueError(
            f'the point cloud has no {missing} field(s); it has {sorted(fields)}')
    points = int(msg.height) * int(msg.width)
    if points == 0:
        return np.zeros((0, 3))
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for name in 'xyz':
        field = fields[name]
        kind = _POINT_FIELD_TYPES.get(field.datatype)
        if kind is None or field.count != 1:
            raise ValueError(
                f'point cloud field {name!r} has datatype {field.datatype}, count {field.count};'
                ' expected one number')
        names.append(name)
        formats.append(order + kind)
        offsets.append(int(field.offset))
    step, row_step = int(msg.point_step), int(msg.row_step)
    if step < max(o + np.dtype(f).itemsize for o, f in zip(offsets, formats, strict=True)):
        raise ValueError(f'point_step {step} is smaller than the x, y, z fields it holds')
    if row_step < step * int(msg.width):
        raise ValueError(f'row_step {row_step} < point_step {step} x width {msg.width}')
    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if data.size < row_step * int(msg.height):
        raise ValueError(
            f'point cloud data has {data.size} bytes; its layout needs '
            f'{row_step * int(msg.height)} (row_step x height)')
    rows = data[: row_step * int(msg.height)].reshape(int(msg.height), row_step)
    packed = np.ascontiguousarray(rows[:, : step * int(msg.width)]).reshape(points, step)
    dtype = np.dtype({'names': names, 'formats': formats, 'offsets': offsets, 'itemsize': step})
    structured = packed.view(dtype).reshape(points)
    return np.stack([structured[name].astype(np.float64) for name in 'xyz'], axis=1)


def points_to_cloud(points: np.ndarray, stamp_ns: int, frame_id: str) -> PointCloud2:
    """``(N, 3)`` x, y, z (m) -> an unorganised ``sensor_msgs/PointCloud2`` (``float32`` x, y, z
    at offsets 0, 4, 8; ``is_dense`` when every point is finite)."""
    points = np.asarray(points, dtype='<f4')
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points must be (N, 3), got shape {points.shape}')
    msg = PointCloud2()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = 1, int(points.shape[0])
    msg.fields = [
        PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
        for i, name in enumerate('xyz')
    ]
    msg.is_bigendian = False
    msg.point_step = 12
    msg.row_step = 12 * msg.width
    msg.is_dense = bool(np.all(np.isfinite(points)))
    msg.data = np.ascontiguousarray(points).tobytes()
    return msg


# ------------------------------------------------------------------------------------ arm state
def vector_to_msg(key: str, vector: np.ndarray) -> Float32MultiArray:
    """An observation vector -> ``std_msgs/Float32MultiArray`` (one dimension labelled ``key``)."""
    vector = np.asarray(vector, dtype=np.float32).ravel()
    msg = Float32MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=key, size=vector.size, stride=vector.size)]
    msg.data = vector.tolist()
    return msg


def msg_to_vector(msg: Float32MultiArray) -> np.ndarray:
    """``std_msgs/Float32MultiArray`` -> ``float32`` vector (its data; the layout's offset
    honoured). NaN and infinity are left for the caller to refuse."""
    offset = int(msg.layout.data_offset)
    return np.asarray(msg.data, dtype=np.float32)[offset:]
