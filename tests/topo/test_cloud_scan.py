"""Point cloud -> virtual scan (cloud_to_scan): the nearest obstacle per beam sector after ground
and height-band removal, and the sectors a camera did not see left unknown in the map (not
cleared as free space), on synthetic clouds and on the simulated rover's depth camera."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.streams.topo_stream import TopoMapperStream
from robo_reward.topo.occupancy import OccupancyGrid, Pose2D, ScanSpec
from robo_reward.topo.pointcloud import CloudScanConfig, cloud_to_scan

BEAMS, RANGE = 36, 3.0
CAMERA_FOV = (-np.radians(40), np.radians(40))


def floor(x: tuple[float, float], y: tuple[float, float], step: float = 0.05) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(*x, step), np.arange(*y, step))
    return np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)


def wall_ahead(distance: float = 1.0, half_width: float = 0.6, height: float = 0.4) -> np.ndarray:
    ys, zs = np.meshgrid(np.arange(-half_width, half_width, 0.02), np.arange(0.0, height, 0.02))
    return np.stack([np.full(ys.size, distance), ys.ravel(), zs.ravel()], axis=1)


def camera_view(points: np.ndarray, fov: tuple[float, float] = CAMERA_FOV) -> np.ndarray:
    """What a forward camera with this horizontal field of view sees of ``points``."""
    bearing = np.arctan2(points[:, 1], points[:, 0])
    return points[(points[:, 0] > 0) & (bearing >= fov[0]) & (bearing <= fov[1])]


def test_a_wall_ahead_reads_its_distance_on_the_front_beams():
    cloud = camera_view(np.concatenate([floor((0.2, 0.99), (-1.0, 1.0)), wall_ahead(1.0)]))
    scan = cloud_to_scan(cloud, BEAMS, RANGE)
    front = [0, 1, 2, 35, 34]  # within +-20 degrees: the wall's 0.6 m half-width at 1 m is 31
    expected = 1.0 / np.cos(np.radians([0, 5, 15, 5, 15]))  # the sector's nearest point
    np.testing.assert_allclose(scan.ranges[front], expected, atol=0.03)
    assert scan.ranges[0] == pytest.approx(1.0, abs=0.02)
    assert scan.ground_points > 100 and scan.obstacle_points > 50
    # Beyond the camera's view: max range, and not observed.
    behind = np.r_[6:31]
    assert np.all(scan.ranges[behind] == RANGE) and not scan.observed[behind].any()
    assert scan.observed[front].all()


def test_the_ground_and_points_above_the_robot_are_not_obstacles():
    ceiling = floor((-2.0, 2.0), (-2.0, 2.0)) + np.array([0.0, 0.0, 1.5])  # over the robot
    bump = floor((-2.0, 2.0), (-2.0, 2.0)) + np.array([0.0, 0.0, 0.02])  # uneven floor
    cloud = np.concatenate([floor((-2.0, 2.0), (-2.0, 2.0)), ceiling, bump])
    scan = cloud_to_scan(cloud, BEAMS, RANGE)
    assert np.all(scan.ranges == RANGE)  # no obstacle anywhere
    assert scan.observed.all()  # but every sector was seen: free, not unknown
    assert scan.obstacle_points == 0 and scan.ground_points > 0
    # A box under the height band's top is an obstacle; a low band top ignores it.
    box = wall_ahead(1.5, half_width=0.1, height=0.3)
    assert cloud_to_scan(box, BEAMS, RANGE).ranges[0] == pytest.approx(1.5, abs=0.02)
    low = CloudScanConfig(max_height=0.04, min_height=0.01)
    assert cloud_to_scan(box, BEAMS, RANGE, low).ranges[0] == RANGE


def test_ransac_ground_tilted_floor_and_nan_points():
    tilted = floor((0.3, 2.5), (-1.0, 1.0))
    tilted[:, 2] = 0.08 * tilted[:, 0]  # a 5-degree ramp: above min_height beyond 0.6 m
    cloud = np.concatenate([tilted, wall_ahead(2.0, height=0.6) + [0.0, 0.0, 0.16]])
    cloud = np.concatenate([cloud, np.full((10, 3), np.nan)])  # invalid pixels: dropped
    by_height = cloud_to_scan(cloud, BEAMS, RANGE)
    assert by_height.ranges[0] < 1.0  # the ramp reads as an obstacle
    ransac = cloud_to_scan(
        cloud, BEAMS, RANGE, CloudScanConfig(ground="ransac", ground_tolerance=0.02)
    )
    assert ransac.ranges[0] == pytest.approx(2.0, abs=0.03)


def test_field_of_view_marks_the_observed_sectors():
    config = CloudScanConfig(field_of_view=CAMERA_FOV)
    scan = cloud_to_scan(np.zeros((0, 3)), BEAMS, RANGE, config)
    assert np.flatnonzero(scan.observed).tolist() == [0, 1, 2, 3, 4, 32, 33, 34, 35]
    full = cloud_to_scan(
        np.zeros((0, 3)), BEAMS, RANGE, CloudScanConfig(field_of_view=(-np.pi, np.pi))
    )
    assert full.observed.all()
    inferred = cloud_to_scan(np.zeros((0, 3)), BEAMS, RANGE)
    assert not inferred.observed.any() and np.all(inferred.ranges == RANGE)


def test_bad_clouds_and_configs_are_refused():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        cloud_to_scan(np.zeros((5, 2)), BEAMS, RANGE)
    with pytest.raises(ValueError, match="min_height < max_height"):
        CloudScanConfig(min_height=0.5, max_height=0.2)
    with pytest.raises(ValueError, match="ground"):
        CloudScanConfig(ground="plane")
    grid = OccupancyGrid(size=8.0)
    with pytest.raises(ValueError, match="bool mask"):
        grid.integrate_scan(Pose2D(0, 0, 0), np.full(BEAMS, RANGE), ScanSpec(), np.ones(BEAMS))


def test_out_of_view_sectors_are_not_mapped_as_free_space():
    cloud = camera_view(np.concatenate([floor((0.2, 2.9), (-3.0, 3.0)), wall_ahead(2.5, 3.0)]))
    scan = cloud_to_scan(cloud, BEAMS, RANGE)
    pose, spec = Pose2D(0.0, 0.0, 0.0), ScanSpec(BEAMS, RANGE)

    def seen(grid: OccupancyGrid, x: float, y: float) -> tuple[bool, bool]:
        row, col = grid.to_cell(np.array([x, y]))
        return bool(grid.observed[row, col]), bool(grid.free[row, col])

    masked = OccupancyGrid(size=8.0)
    masked.integrate_scan(pose, scan.ranges, spec, scan.observed)
    assert seen(masked, 1.5, 0.0) == (True, True)  # in view, before the wall: free
    assert seen(masked, 2.5, 0.0) == (True, False)  # the wall: occupied
    assert seen(masked, -1.5, 0.0) == (False, False)  # behind the camera: unknown
    assert seen(masked, 0.0, 1.5) == (False, False)  # to the side: unknown
    # Without the mask the max-range beams behind would have cleared it.
    unmasked = OccupancyGrid(size=8.0)
    unmasked.integrate_scan(pose, scan.ranges, spec)
    assert seen(unmasked, -1.5, 0.0) == (True, True)

    # The same through the mapper stream's push_cloud.
    stream = TopoMapperStream()
    stream.push_odometry(1_000, np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]))
    step = stream.push_cloud(1_000, cloud)
    assert step is not None and len(stream.topo) == 1
    grid = stream.topo.grid
    assert seen(grid, 1.5, 0.0) == (True, True) and seen(grid, -1.5, 0.0) == (False, False)
    values = stream.status().values
    assert values["cloud_observed_beams"] == str(int(scan.observed.sum()))


def test_the_rovers_depth_camera_sees_the_wall_its_lidar_sees():
    from robo_reward.sim.robots import SimulatedRover

    rover = SimulatedRover("maze_small", maze_seed=0, cameras=True, image_size=64)
    try:
        checked = 0
        for _ in range(12):  # turn on the spot: several walls in view
            rover.command(np.array([0.0, 1.0]))
            reading = rover.step()
            points = rover.depth_points(reading.depth)
            scan = cloud_to_scan(points, rover.lidar_beams, rover.lidar_range)
            assert scan.ground_points > 0
            behind = np.r_[8:29]
            assert not scan.observed[behind].any()
            lidar = reading.lidar
            for beam in (0, 1, 35):  # the middle of the 80-degree view
                if lidar[beam] < rover.lidar_range - 0.1:
                    # The lidar's ray is the sector's centre; the sector's nearest point is as
                    # near or nearer (an oblique wall), but not nearer than the rays beside it.
                    beside = min(lidar[beam - 1], lidar[beam], lidar[(beam + 1) % 36])
                    assert scan.observed[beam]
                    assert beside - 0.05 <= scan.ranges[beam] <= lidar[beam] + 0.05
                    checked += 1
        assert checked >= 6
    finally:
        rover.close()
