"""Lidar scans and poses into a global log-odds occupancy grid, and the frontier cells of it.

The grid is the classic inverse-sensor-model occupancy map (Thrun, Burgard & Fox, *Probabilistic
Robotics*, ch. 9): every beam lowers the log-odds of the cells it passes through and raises the
one it ends in (unless it read ``max_range``: no return, nothing hit). Frontier cells are free
cells next to never-observed ones (Yamauchi, 1997, frontier-based exploration); the topological
map hands them to its nodes to decide which places border unexplored space.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["OccupancyGrid", "Pose2D", "ScanSpec", "validate_observed", "validate_scan"]


@dataclass(frozen=True)
class Pose2D:
    """A planar pose in the world (``map``) frame: x, y in metres, yaw in radians CCW."""

    x: float
    y: float
    yaw: float

    @classmethod
    def from_odometry(cls, odometry: np.ndarray) -> Pose2D:
        """From the nav env's ``odometry`` (x, y, cos yaw, sin yaw, v, omega)."""
        odometry = np.asarray(odometry, dtype=np.float64)
        if odometry.ndim != 1 or odometry.shape[0] < 4:
            raise ValueError(
                f"odometry must be (x, y, cos yaw, sin yaw, ...), got shape {odometry.shape}"
            )
        if not np.all(np.isfinite(odometry[:4])):
            raise ValueError(f"odometry has NaN or infinite values: {odometry[:4]}")
        return cls(
            float(odometry[0]), float(odometry[1]), float(np.arctan2(odometry[3], odometry[2]))
        )

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y])

    def __post_init__(self) -> None:
        if not all(np.isfinite(v) for v in (self.x, self.y, self.yaw)):
            raise ValueError(f"pose has NaN or infinite values: {(self.x, self.y, self.yaw)}")


@dataclass(frozen=True)
class ScanSpec:
    """The geometry of a planar scan, the fields of a ``sensor_msgs/LaserScan`` that matter.

    Defaults are the nav env's lidar: 36 beams over 360 degrees, beam ``i`` at ``2 pi i / 36``
    rad CCW from the heading, 3 m range.
    """

    beams: int = 36
    max_range: float = 3.0
    angle_min: float = 0.0
    angle_increment: float | None = None
    """Radians between beams; None: ``2 pi / beams`` (a full turn)."""

    def __post_init__(self) -> None:
        if not isinstance(self.beams, int) or isinstance(self.beams, bool) or self.beams < 1:
            raise ValueError(f"beams must be a positive int, got {self.beams!r}")
        if not (np.isfinite(self.max_range) and self.max_range > 0):
            raise ValueError(f"max_range must be a positive number of metres, got {self.max_range}")

    @property
    def angles(self) -> np.ndarray:
        """Beam angles in the robot frame (rad)."""
        step = 2 * np.pi / self.beams if self.angle_increment is None else self.angle_increment
        return self.angle_min + step * np.arange(self.beams)


def validate_scan(ranges: np.ndarray, spec: ScanSpec) -> np.ndarray:
    """``ranges`` as float64 ``(beams,)`` clipped to ``max_range``, or a clear error.

    Readings of ``+inf`` or beyond ``max_range`` are "no return" (REP 117), read as
    ``max_range``. NaN, negative or ``-inf`` readings are refused, never replaced.
    """
    ranges = np.asarray(ranges, dtype=np.float64)
    if ranges.size == 0:
        raise ValueError("scan is empty: expected one range per beam")
    if ranges.ndim != 1 or ranges.shape[0] != spec.beams:
        raise ValueError(
            f"scan has shape {ranges.shape}, expected ({spec.beams},): one range per beam "
            "(set ScanSpec.beams to the sensor's beam count)"
        )
    if np.isnan(ranges).any():
        raise ValueError(
            f"scan has NaN values at beams {np.flatnonzero(np.isnan(ranges)).tolist()}; "
            "drop the scan or fix the driver (NaN is not replaced by a guess)"
        )
    if (ranges < 0).any():
        raise ValueError(f"scan has negative ranges at beams {np.flatnonzero(ranges < 0).tolist()}")
    return np.minimum(ranges, spec.max_range)


def validate_observed(observed: np.ndarray, spec: ScanSpec) -> np.ndarray:
    """A per-beam mask of the beams a sensor saw, as bool ``(beams,)``, or a clear error."""
    mask = np.asarray(observed)
    if mask.shape != (spec.beams,) or mask.dtype != np.bool_:
        raise ValueError(
            f"observed must be a bool mask of shape ({spec.beams},) (one per beam), got "
            f"{mask.dtype} {mask.shape}"
        )
    return mask


class OccupancyGrid:
    """A global log-odds occupancy grid filled by ray casting.

    Args:
        size: side of the square grid (m), centred on ``center``.
        resolution: side of a cell (m); 0.1 m resolves the maze's 0.5 m walls and corridors.
        center: world (x, y) of the grid's centre (usually the first pose).
        hit, miss: log-odds added for a beam's end cell and for each cell it passes through.
        clamp: log-odds are kept in ``[-clamp, clamp]`` so the map can still change its mind.

    Cells are ``[row, col]`` with row growing with y and col with x (``row = (y - y0) / res``).
    """

    def __init__(
        self,
        size: float = 32.0,
        resolution: float = 0.1,
        center: tuple[float, float] = (0.0, 0.0),
        hit: float = 0.85,
        miss: float = -0.4,
        clamp: float = 4.0,
    ) -> None:
        if not (size > 0 and resolution > 0 and size / resolution <= 4096):
            raise ValueError(
                f"need size > 0, resolution > 0, <= 4096 cells a side; got {size}, {resolution}"
            )
        self.resolution = float(resolution)
        self.cells = int(np.ceil(size / resolution))
        self.origin = np.asarray(center, dtype=np.float64) - 0.5 * self.cells * self.resolution
        self.hit, self.miss, self.clamp = float(hit), float(miss), float(clamp)
        self.log_odds = np.zeros((self.cells, self.cells), dtype=np.float32)
        self.observed = np.zeros((self.cells, self.cells), dtype=bool)
        self._bbox = [self.cells, self.cells, -1, -1]  # rows/cols span of observed cells

    # ----------------------------------------------------------------- geometry
    def to_cell(self, xy: np.ndarray) -> np.ndarray:
        """Integer (row, col) of world points ``(..., 2)``; may lie outside the grid."""
        xy = np.asarray(xy, dtype=np.float64)
        ij = np.floor((xy - self.origin) / self.resolution).astype(np.int64)
        return ij[..., ::-1]

    def cell_center(self, rc: np.ndarray) -> np.ndarray:
        """World (x, y) of cell centres ``(..., 2)`` given as (row, col)."""
        rc = np.asarray(rc, dtype=np.float64)
        return self.origin + (rc[..., ::-1] + 0.5) * self.resolution

    def _inside(self, rc: np.ndarray) -> np.ndarray:
        return np.all((rc >= 0) & (rc < self.cells), axis=-1)

    # ----------------------------------------------------------------- updates
    def integrate_scan(
        self,
        pose: Pose2D,
        ranges: np.ndarray,
        spec: ScanSpec,
        observed: np.ndarray | None = None,
    ) -> None:
        """Ray-cast one validated scan from ``pose`` (beams in the robot frame).

        A beam reading ``max_range`` (no return) clears the cells along its whole length. A
        sensor that does not see the full circle (a camera's virtual scan,
        :func:`~robo_reward.topo.pointcloud.cloud_to_scan`) passes ``observed``, a bool mask of
        its beams: the others are unknown, not free, and are skipped.
        """
        ranges = validate_scan(ranges, spec)
        angles = spec.angles + pose.yaw
        if observed is not None:
            observed = validate_observed(observed, spec)
            ranges, angles = ranges[observed], angles[observed]
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        step = 0.5 * self.resolution
        samples = np.arange(0.0, spec.max_range, step)
        # Free space: samples strictly before the end of each beam.
        t = samples[None, :]
        free = t < (ranges[:, None] - step)
        points = pose.xy + t[..., None] * directions[:, None, :]
        free_cells = self.to_cell(points[free])
        hits = ranges < spec.max_range - 1e-6
        hit_cells = self.to_cell(pose.xy + ranges[hits, None] * directions[hits])
        free_cells = np.unique(free_cells[self._inside(free_cells)], axis=0)
        hit_cells = np.unique(hit_cells[self._inside(hit_cells)], axis=0)
        if free_cells.size:
            self._add(free_cells, self.miss)
        if hit_cells.size:
            self._add(hit_cells, self.hit)

    def mark_occupied(self, xy: np.ndarray) -> None:
        """Raise the occupancy of the cells holding world points ``(N, 2)`` (e.g. depth points)."""
        rc = self.to_cell(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
        rc = np.unique(rc[self._inside(rc)], axis=0)
        if rc.size:
            self._add(rc, self.hit)

    def _add(self, rc: np.ndarray, value: float) -> None:
        rows, cols = rc[:, 0], rc[:, 1]
        self.log_odds[rows, cols] = np.clip(
            self.log_odds[rows, cols] + value, -self.clamp, self.clamp
        )
        self.observed[rows, cols] = True
        b = self._bbox
        b[0], b[1] = min(b[0], int(rows.min())), min(b[1], int(cols.min()))
        b[2], b[3] = max(b[2], int(rows.max())), max(b[3], int(cols.max()))

    # ----------------------------------------------------------------- queries
    @property
    def free(self) -> np.ndarray:
        return self.observed & (self.log_odds < 0)

    @property
    def occupied(self) -> np.ndarray:
        return self.observed & (self.log_odds > 0)

    def line_is_clear(self, a: np.ndarray, b: np.ndarray) -> bool:
        """No occupied cell on the straight segment from world point ``a`` to ``b``."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / (0.5 * self.resolution))) + 1)
        rc = self.to_cell(a + np.linspace(0.0, 1.0, n)[:, None] * (b - a))
        rc = rc[self._inside(rc)]
        return not bool(self.occupied[rc[:, 0], rc[:, 1]].any())

    def frontier_cells(self, min_cluster: int = 3) -> np.ndarray:
        """World (x, y) ``(N, 2)`` of free cells 4-adjacent to never-observed cells, in clusters of
        at least ``min_cluster`` cells (single cells are ray-casting gaps, not frontiers)."""
        r0, c0, r1, c1 = self._bbox
        if r1 < 0:
            return np.zeros((0, 2))
        r0, c0 = max(r0 - 1, 0), max(c0 - 1, 0)
        r1, c1 = min(r1 + 2, self.cells), min(c1 + 2, self.cells)
        observed = self.observed[r0:r1, c0:c1]
        free = (observed & (self.log_odds[r0:r1, c0:c1] < 0)).astype(np.uint8)
        unknown = (~observed).astype(np.uint8)
        cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        near_unknown = cv2.dilate(unknown, cross, borderType=cv2.BORDER_CONSTANT, borderValue=1)
        frontier = (free & near_unknown).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(frontier, connectivity=8)
        keep = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_cluster)
        keep = keep[keep > 0]
        rc = np.argwhere(np.isin(labels, keep))
        return self.cell_center(rc + np.array([r0, c0]))
