"""Navigation: procedural mazes, a differential-drive rover with lidar and camera, and its
Gymnasium envs."""

from robo_reward.sim.nav.maze import MAZE_SIZES, Maze, generate_maze, maze_to_mjcf
from robo_reward.sim.nav.registration import NAV_TASKS, make_nav_env, register_nav_envs

__all__ = [
    "MAZE_SIZES",
    "NAV_TASKS",
    "Maze",
    "generate_maze",
    "make_nav_env",
    "maze_to_mjcf",
    "register_nav_envs",
]
