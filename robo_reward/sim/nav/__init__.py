"""Navigation: procedural mazes and floor plans of rooms, a differential-drive rover with lidar
and camera, and its Gymnasium envs."""

from robo_reward.sim.nav.maze import MAZE_SIZES, Maze, generate_maze, maze_to_mjcf
from robo_reward.sim.nav.registration import NAV_TASKS, make_nav_env, register_nav_envs
from robo_reward.sim.nav.rooms import generate_rooms

__all__ = [
    "MAZE_SIZES",
    "NAV_TASKS",
    "Maze",
    "generate_maze",
    "generate_rooms",
    "make_nav_env",
    "maze_to_mjcf",
    "register_nav_envs",
]
