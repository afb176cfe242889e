"""Depth image -> obstacle points with open3d: back-projection, voxel downsampling, ground removal;
and a point cloud -> a virtual planar scan.

Used for obstacle (clearance) and frontier detection when the robot has a depth camera; the
lidar-only map does not need it. :func:`cloud_to_scan` turns a 3D point cloud in the robot's
base frame (a depth camera's or a 3D lidar's, e.g. a ROS ``sensor_msgs/PointCloud2``) into the
scan layout the map expects, with a per-beam mask of the sectors the sensor actually saw.

Camera intrinsics come from the MJCF camera's vertical field of view: MuJoCo renders square
pixels, so ``fy = fx = (H / 2) / tan(fovy / 2)`` and the principal point is the image centre.
Read ``fovy`` from the compiled model (``model.cam_fovy[model.camera(name).id]``, degrees;
:meth:`CameraIntrinsics.from_mujoco` does this) or from the ``<camera fovy=...>`` attribute (the
nav rover's camera: 80 degrees). MuJoCo's depth is the z-depth along the optical axis in metres;
pixels that see nothing read the far clipping plane and are dropped by ``max_depth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import mujoco
    import open3d as o3d

__all__ = [
    "CameraIntrinsics",
    "CameraMount",
    "CloudScanConfig",
    "ObstaclePoints",
    "VirtualScan",
    "cloud_to_scan",
    "depth_to_points",
    "obstacle_points",
    "remove_ground",
]


@dataclass(frozen=True)
class CameraIntrinsics:
    """A pinhole camera (OpenCV convention: x right, y down, z forward), as in
    ``sensor_msgs/CameraInfo``'s K matrix."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_fovy(cls, fovy_deg: float, width: int, height: int) -> CameraIntrinsics:
        """Square pixels, principal point at the centre: MuJoCo's camera model."""
        if not 0 < fovy_deg < 180:
            raise ValueError(f"fovy must be in (0, 180) degrees, got {fovy_deg}")
        f = 0.5 * height / np.tan(np.radians(fovy_deg) / 2)
        return cls(f, f, 0.5 * width, 0.5 * height, int(width), int(height))

    @classmethod
    def from_mujoco(
        cls, model: mujoco.MjModel, camera: str, width: int, height: int
    ) -> CameraIntrinsics:
        return cls.from_fovy(float(model.cam_fovy[model.camera(camera).id]), width, height)


@dataclass(frozen=True)
class CameraMount:
    """Where the camera sits on the robot: optical-frame points -> robot (base) frame.

    ``rotation`` maps OpenCV optical axes (x right, y down, z forward) to the base frame (x ahead,
    y left, z up). The default is a camera looking straight ahead, as the nav rover's.
    """

    position: tuple[float, float, float] = (0.1, 0.0, 0.2)
    rotation: np.ndarray = field(
        default_factory=lambda: np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    )

    @classmethod
    def from_mujoco(cls, model: mujoco.MjModel, camera: str) -> CameraMount:
        """From the camera's pose in its body (``cam_pos``, ``cam_quat``; MuJoCo cameras look
        along their -z with y up, so the optical frame is the MuJoCo frame with y, z flipped)."""
        import mujoco

        cam = model.camera(camera).id
        matrix = np.zeros(9)
        mujoco.mju_quat2Mat(matrix, model.cam_quat[cam])
        rotation = matrix.reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        return cls(tuple(float(v) for v in model.cam_pos[cam]), rotation)


@dataclass(frozen=True)
class ObstaclePoints:
    """Obstacle points near the robot from one depth frame (robot frame, metres)."""

    points: np.ndarray
    """``(N, 3)`` non-ground points within the clearance radius."""
    ground_points: int
    """How many (downsampled) points were removed as ground."""
    nearest: float
    """Horizontal distance to the nearest obstacle point; ``inf`` if none."""


def depth_to_points(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    mount: CameraMount | None = None,
    max_depth: float = 3.0,
) -> np.ndarray:
    """Back-project a depth image to ``(N, 3)`` points in the robot frame (the optical frame if
    ``mount`` is None). Pixels at or beyond ``max_depth`` (sky, far clip) or at 0 are dropped;
    NaN depth is an error."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(
            f"depth has shape {depth.shape}, intrinsics expect "
            f"({intrinsics.height}, {intrinsics.width})"
        )
    if np.isnan(depth).any():
        raise ValueError("depth image has NaN values; drop the frame or fix the driver")
    v, u = np.nonzero((depth > 0) & (depth < max_depth))
    z = depth[v, u].astype(np.float64)
    x = (u + 0.5 - intrinsics.cx) / intrinsics.fx * z
    y = (v + 0.5 - intrinsics.cy) / intrinsics.fy * z
    points = np.stack([x, y, z], axis=1)
    if mount is not None:
        points = points @ np.asarray(mount.rotation).T + np.asarray(mount.position)
    return points


def _cloud(points: np.ndarray) -> o3d.geometry.PointCloud:
    import open3d as o3d

    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(np.ascontiguousarray(points, dtype=np.float64))
    return cloud


def remove_ground(
    points: np.ndarray,
    method: str = "height",
    ground_height: float = 0.0,
    tolerance: float = 0.03,
    voxel: float = 0.03,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """Voxel-downsample ``(N, 3)`` robot-frame points and drop the ground.

    ``method="height"``: the floor is known (a planar robot on flat ground): drop points within
    ``tolerance`` of ``ground_height``. ``method="ransac"``: fit the dominant plane with open3d's
    RANSAC (``segment_plane``, seeded) and drop its inliers, for uneven or tilted ground; only a
    near-horizontal plane (normal within 25 degrees of z) is taken as ground.
    Returns (non-ground points, number of ground points removed).
    """
    if method not in ("height", "ransac"):
        raise ValueError(f"method must be 'height' or 'ransac', got {method!r}")
    if len(points) == 0:
        return np.zeros((0, 3)), 0
    cloud = _cloud(points)
    if voxel > 0:
        cloud = cloud.voxel_down_sample(voxel)
    down = np.asarray(cloud.points)
    if method == "height":
        ground = np.abs(down[:, 2] - ground_height) <= tolerance
    else:
        if len(down) < 3:
            return down, 0
        import open3d as o3d

        o3d.utility.random.seed(seed)
        plane, inliers = cloud.segment_plane(
            distance_threshold=tolerance, ransac_n=3, num_iterations=200
        )
        ground = np.zeros(len(down), dtype=bool)
        if abs(plane[2]) / max(np.linalg.norm(plane[:3]), 1e-12) > np.cos(np.radians(25)):
            ground[np.asarray(inliers, dtype=np.int64)] = True
    return down[~ground], int(ground.sum())


def obstacle_points(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    mount: CameraMount | None = None,
    clearance: float = 1.0,
    max_height: float = 1.0,
    method: str = "height",
    max_depth: float = 3.0,
) -> ObstaclePoints:
    """Obstacle points within ``clearance`` metres (horizontal) of the robot from a depth image:
    back-project, downsample, remove ground, keep points below ``max_height``."""
    mount = CameraMount() if mount is None else mount
    points = depth_to_points(depth, intrinsics, mount, max_depth)
    rest, ground = remove_ground(points, method=method)
    horizontal = np.linalg.norm(rest[:, :2], axis=1)
    keep = (horizontal <= clearance) & (rest[:, 2] <= max_height)
    nearest = float(horizontal[keep].min()) if keep.any() else float("inf")
    return ObstaclePoints(rest[keep], ground, nearest)


@dataclass(frozen=True)
class CloudScanConfig:
    """How a 3D point cloud in the robot's base frame (x ahead, y left, z up, metres; ground at
    ``ground_height``) becomes a planar scan (:func:`cloud_to_scan`)."""

    min_height: float = 0.05
    """Points lower than this (base frame z) are not obstacles: the ground and what the robot
    drives over. A drop-off (stairs down, a hole) is therefore not seen."""
    max_height: float = 0.5
    """Points higher than this are not obstacles: they pass over the robot (a table top, a
    door frame). Set it to the robot's height plus a margin."""
    voxel: float = 0.03
    """open3d voxel size (m) the cloud is downsampled to first; 0: no downsampling."""
    ground: str = "height"
    """Ground removal (:func:`remove_ground`): ``height`` (flat floor at ``ground_height``) or
    ``ransac`` (the dominant near-horizontal plane, for tilted or uneven ground)."""
    ground_height: float = 0.0
    ground_tolerance: float = 0.03
    min_range: float = 0.0
    """Points nearer than this (horizontal) are ignored: the robot's own body in a 3D lidar."""
    field_of_view: tuple[float, float] | None = None
    """Angles (rad, CCW from the heading, ``(start, end)`` going CCW) the sensor sees: a sector
    whose centre lies inside is observed (a forward camera of 80 degrees: ``(-0.70, 0.70)``; a
    360-degree lidar: ``(-pi, pi)``). None: a sector is observed when the cloud has at least one
    point in it, ground and out-of-band points included (a sensor that saw nothing there, e.g.
    only sky, leaves it unobserved)."""

    def __post_init__(self) -> None:
        if self.ground not in ("height", "ransac"):
            raise ValueError(f"ground must be 'height' or 'ransac', got {self.ground!r}")
        numbers = (self.min_height, self.max_height, self.voxel, self.ground_height,
                   self.ground_tolerance, self.min_range)  # fmt: skip
        if not all(np.isfinite(v) for v in numbers):
            raise ValueError(f"cloud scan parameters must be finite, got {numbers}")
        if not self.min_height < self.max_height:
            raise ValueError(
                f"need min_height < max_height, got {self.min_height}, {self.max_height}"
            )
        if self.voxel < 0 or self.min_range < 0 or self.ground_tolerance < 0:
            raise ValueError("voxel, min_range and ground_tolerance must be >= 0")
        if self.field_of_view is not None:
            fov = tuple(float(a) for a in self.field_of_view)
            if len(fov) != 2 or not all(np.isfinite(fov)):
                raise ValueError(
                    f"field_of_view must be (start, end) angles in rad, got {self.field_of_view}"
                )
            object.__setattr__(self, "field_of_view", fov)


@dataclass(frozen=True)
class VirtualScan:
    """A planar scan made from a point cloud (:func:`cloud_to_scan`)."""

    ranges: np.ndarray
    """``float64 (beams,)``: beam ``i`` at ``2 pi i / beams`` CCW from the heading, the
    horizontal distance to the nearest obstacle point in its sector, ``max_range`` where there
    is none (no return)."""
    observed: np.ndarray
    """``bool (beams,)``: the sensor saw the sector. An unobserved sector also reads
    ``max_range``, but that is *unknown*, not free: the occupancy grid must not integrate it
    (pass ``observed`` to :meth:`~robo_reward.topo.occupancy.OccupancyGrid.integrate_scan`)."""
    obstacle_points: int
    """Points (after downsampling) that counted as obstacles, within range."""
    ground_points: int
    """Points (after downsampling) removed as ground."""


def _sector(points_xy: np.ndarray, beams: int) -> np.ndarray:
    """Beam index of each point: sector ``i`` spans ``2 pi i / beams`` +- half a beam."""
    bearing = np.arctan2(points_xy[:, 1], points_xy[:, 0])
    return np.rint(bearing / (2 * np.pi / beams)).astype(np.int64) % beams


def _fov_mask(field_of_view: tuple[float, float], beams: int) -> np.ndarray:
    start, end = field_of_view
    span = (end - start) % (2 * np.pi)
    if span == 0 and end != start:  # (-pi, pi), (0, 2 pi): the full circle
        return np.ones(beams, dtype=bool)
    centres = 2 * np.pi * np.arange(beams) / beams
    return (centres - start) % (2 * np.pi) <= span + 1e-9


def cloud_to_scan(
    points: np.ndarray,
    beams: int,
    max_range: float,
    config: CloudScanConfig = CloudScanConfig(),
) -> VirtualScan:
    """A 3D point cloud in the robot's base frame -> the map's scan layout (a "virtual scan",
    the pointcloud_to_laserscan of ROS done with open3d).

    Non-finite points are dropped (``PointCloud2``'s convention for invalid pixels of an
    organised cloud), the cloud is voxel-downsampled, the ground removed, and points outside
    the height band ``[min_height, max_height]`` or nearer than ``min_range`` ignored. Beam
    ``i`` (at ``2 pi i / beams`` CCW from the heading) reads the horizontal distance to the
    nearest remaining point in its sector, capped at ``max_range``, which also stands for "no
    point". ``observed`` says which sectors the sensor saw (``config.field_of_view``, or the
    sectors holding any point of the raw cloud): a camera's limited field of view leaves the
    others at ``max_range`` but unobserved, and they must not be mapped as free space.
    """
    if isinstance(beams, bool) or not isinstance(beams, int) or beams < 1:
        raise ValueError(f"beams must be a positive int, got {beams!r}")
    if not (np.isfinite(max_range) and max_range > 0):
        raise ValueError(f"max_range must be a positive number of metres, got {max_range}")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must be (N, 3) x, y, z in the base frame, got {points.shape}")
    points = points[np.all(np.isfinite(points), axis=1)]
    ranges = np.full(beams, float(max_range))
    if config.field_of_view is not None:
        observed = _fov_mask(config.field_of_view, beams)
    else:
        observed = np.zeros(beams, dtype=bool)
        if len(points):
            observed[np.unique(_sector(points[:, :2], beams))] = True
    rest, ground = remove_ground(
        points, method=config.ground, ground_height=config.ground_height,
        tolerance=config.ground_tolerance, voxel=config.voxel,
    )  # fmt: skip
    horizontal = np.hypot(rest[:, 0], rest[:, 1])
    keep = (
        (rest[:, 2] >= config.min_height)
        & (rest[:, 2] <= config.max_height)
        & (horizontal >= config.min_range)
        & (horizontal < max_range)
    )
    rest, horizontal = rest[keep], horizontal[keep]
    if len(rest):
        np.minimum.at(ranges, _sector(rest[:, :2], beams), horizontal)
    observed |= ranges < max_range  # a return is seen, whatever field_of_view says
    return VirtualScan(ranges, observed, int(len(rest)), ground)
