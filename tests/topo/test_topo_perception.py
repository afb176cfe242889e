"""Point clouds from depth (synthetic and rendered) and place descriptors."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.sim.nav.env import ROVER_CAMERA, MazeNavEnv
from robo_reward.topo.place import PlaceRecognizer
from robo_reward.topo.pointcloud import (
    CameraIntrinsics,
    CameraMount,
    depth_to_points,
    obstacle_points,
)


def _floor_and_box(intrinsics: CameraIntrinsics, mount: CameraMount) -> np.ndarray:
    """Ray-cast depth of a floor (z = 0) and a box face at x = 1 m (|y| < 0.2, z < 0.3)."""
    v, u = np.mgrid[: intrinsics.height, : intrinsics.width]
    rays = (
        np.stack(
            [
                (u + 0.5 - intrinsics.cx) / intrinsics.fx,
                (v + 0.5 - intrinsics.cy) / intrinsics.fy,
                np.ones(u.shape),
            ],
            axis=-1,
        )
        @ np.asarray(mount.rotation).T
    )  # body-frame direction per unit of depth
    origin = np.asarray(mount.position)
    depth = np.full(u.shape, 20.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(rays[..., 2] < 0, -origin[2] / rays[..., 2], np.inf)
        t_box = (1.0 - origin[0]) / rays[..., 0]
    hit = origin + t_box[..., None] * rays
    on_box = (t_box > 0) & (np.abs(hit[..., 1]) < 0.2) & (hit[..., 2] < 0.3) & (hit[..., 2] > 0)
    depth = np.minimum(depth, t_floor)
    depth = np.where(on_box & (t_box < depth), t_box, depth)
    return depth.astype(np.float32)


@pytest.mark.parametrize("method", ["height", "ransac"])
def test_ground_removal_keeps_the_box(method: str) -> None:
    intrinsics = CameraIntrinsics.from_fovy(80, 64, 48)
    mount = CameraMount()
    depth = _floor_and_box(intrinsics, mount)
    result = obstacle_points(depth, intrinsics, mount, clearance=2.0, method=method)
    assert result.ground_points > 50 and len(result.points) > 10
    assert np.all(np.abs(result.points[:, 0] - 1.0) < 0.05)
    assert result.nearest == pytest.approx(1.0, abs=0.05)


def test_nan_depth_is_refused() -> None:
    intrinsics = CameraIntrinsics.from_fovy(80, 8, 8)
    depth = np.ones((8, 8), np.float32)
    depth[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        depth_to_points(depth, intrinsics)


def test_rendered_depth_frame_sees_the_wall_the_lidar_sees() -> None:
    env = MazeNavEnv(size="small", maze_seed=0, cameras=True, image_size=64)
    env.reset(seed=0)
    env.set_pose(*env.maze.cell_center((3, 3)), np.pi / 2)
    obs = env.step(np.zeros(2))[0]
    intrinsics = CameraIntrinsics.from_mujoco(env.model, ROVER_CAMERA, 64, 64)
    assert intrinsics.fy == pytest.approx(32 / np.tan(np.radians(40)))
    mount = CameraMount.from_mujoco(env.model, ROVER_CAMERA)
    np.testing.assert_allclose(mount.rotation, CameraMount().rotation, atol=1e-9)
    result = obstacle_points(obs["depth"], intrinsics, mount, clearance=3.0)
    ahead = obs["lidar"][[0, 1, 2, 3, -1, -2, -3]]  # beams within the camera's field of view
    assert result.ground_points > 0 and len(result.points) > 0
    # The nearest obstacle the camera sees is the wall the lidar sees (no lidar rays drawn
    # into the image: the renderer turns MuJoCo's rangefinder visualisation off).
    horizontal = np.linalg.norm(result.points[:, :2], axis=1)
    assert float(horizontal.min()) == pytest.approx(float(ahead.min()), abs=0.1)


def test_place_similarity_is_in_unit_range_and_heading_invariant() -> None:
    env = MazeNavEnv(size="small", maze_seed=0, cameras=True, image_size=64)
    env.reset(seed=0)
    recognizer = PlaceRecognizer()
    here = env.maze.cell_center((3, 3))
    env.set_pose(*here, 0.0)
    a = env.step(np.zeros(2))[0]
    env.set_pose(*here, np.pi / 2)
    b = env.step(np.zeros(2))[0]
    env.set_pose(*env.maze.cell_center((9, 9)), 0.0)
    c = env.step(np.zeros(2))[0]
    da, db, dc = (recognizer.describe(o["lidar"]) for o in (a, b, c))
    assert recognizer.similarity(da, da) == pytest.approx(1.0)
    assert recognizer.similarity(da, db) > 0.9 > recognizer.similarity(da, dc) >= 0.0
    with_image = recognizer.describe(a["lidar"], a["rgb"])
    # Plain maze walls at 64x64 give ORB few corners: the global histogram always stands in.
    assert with_image.histogram is not None and 0.0 < with_image.histogram.sum() <= 1.0 + 1e-6
    assert with_image.orb is None or len(with_image.orb) >= recognizer.min_keypoints
    assert 0.0 <= recognizer.similarity(with_image, recognizer.describe(b["lidar"], b["rgb"])) <= 1
