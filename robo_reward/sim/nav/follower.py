"""A waypoint follower that drives a :class:`~robo_reward.sim.nav.env.MazeNavEnv` along the BFS
shortest path with the map and pose known: a privileged baseline and a test driver."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.nav.env import MazeNavEnv


class WaypointFollower:
    """Turn toward the next grid-cell centre of the shortest path, drive when facing it.

    Waypoints advance once the rover is within ``reach`` metres of one. Linear speed falls with
    the heading error (``cos^4``, zero beyond 90 degrees), so the rover turns nearly on the spot
    at corners and stays on the corridor's centreline.
    """

    def __init__(self, env: MazeNavEnv, reach: float = 0.12, turn_gain: float = 3.0) -> None:
        self.env = env
        self.reach = reach
        self.turn_gain = turn_gain
        self.reset()

    def reset(self) -> None:
        """Plan from the rover's current cell (call after ``env.reset``)."""
        maze = self.env.maze
        path = maze.shortest_path(maze.cell_at(self.env.position), maze.goal)
        self.waypoints = [maze.cell_center(cell) for cell in path[1:]]
        self.index = 0

    def act(self) -> np.ndarray:
        position = self.env.position
        while (
            self.index < len(self.waypoints) - 1
            and np.linalg.norm(self.waypoints[self.index] - position) < self.reach
        ):
            self.index += 1
        dx, dy = self.waypoints[self.index] - position
        error = np.angle(np.exp(1j * (np.arctan2(dy, dx) - self.env.yaw)))
        omega = np.clip(self.turn_gain * error / self.env.max_angular_speed, -1.0, 1.0)
        linear = max(np.cos(error), 0.0) ** 4
        return np.array([linear, omega], dtype=np.float32)
