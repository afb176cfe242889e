"""robo_reward: dense, trustworthy rewards for robot learning.

The package never imports rclpy; ROS 2 nodes in ``ros2_ws/`` are thin adapters around it.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# MuJoCo picks its OpenGL backend when it is first imported. With no display, the only backend
# that works on a plain CPU machine is OSMesa; users with a GPU set MUJOCO_GL=egl themselves.
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "osmesa"
