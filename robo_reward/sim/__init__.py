"""MuJoCo tasks, scripted experts, multi-view rendering and Gymnasium registration."""

from robo_reward.sim.registration import TASKS, make_env, register_envs, task_spec

__all__ = ["TASKS", "make_env", "register_envs", "task_spec"]
