"""Depth image -> obstacle points with open3d: back-projection, voxel downsampling, ground removal.

Used for obstacle (clearance) and frontier detection when the robot has a depth camera; the
lidar-only map does not need it.

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
    "ObstaclePoints",
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
