"""Tiny continuous-control envs that SAC solves in seconds: a point on a line moving to a goal.

``PointEnv`` has a Box observation (position, goal) and a dense reward; ``PointGoalEnv`` is the
goal-conditioned Dict version with a sparse reward and ``compute_reward`` for HER.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TOLERANCE = 0.05
STEP_SIZE = 0.25


class PointEnv(gym.Env[np.ndarray, np.ndarray]):
    """A point at ``x`` in [-1, 1] must reach a goal ``g`` within ``TOLERANCE``.

    Observation ``(x, g)``; action in [-1, 1] moves ``x`` by ``STEP_SIZE * action``. Reward
    ``-|x - g|`` per step (dense); terminated on success; truncated after ``max_steps``.
    """

    def __init__(self, max_steps: int = 15) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.max_steps = max_steps

    def _obs(self) -> np.ndarray:
        return np.array([self.x, self.goal], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-1, 1))
        self.goal = float(self.np_random.uniform(-1, 1))
        self.t = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.x = float(np.clip(self.x + STEP_SIZE * float(np.clip(action[0], -1, 1)), -1, 1))
        self.t += 1
        distance = abs(self.x - self.goal)
        success = distance < TOLERANCE
        return self._obs(), -distance, success, self.t >= self.max_steps, {"is_success": success}


class PointGoalEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """``PointEnv`` as a goal-conditioned task with Fetch's sparse reward: -1 per step until
    the goal is reached, 0 there.

    Observation ``observation`` (x), ``achieved_goal`` (x), ``desired_goal`` (g). With
    ``terminate_on_success`` it ends on success, as our tabletop tasks do. ``info`` carries
    ``reward_distance`` (a reward term, as Gymnasium MuJoCo v5 reports them) and ``is_success``.
    """

    def __init__(self, max_steps: int = 10, terminate_on_success: bool = False) -> None:
        box = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Dict(
            {"observation": box, "achieved_goal": box, "desired_goal": box}
        )
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.max_steps = max_steps
        self.terminate_on_success = terminate_on_success

    def _obs(self) -> dict[str, np.ndarray]:
        x = np.array([self.x], dtype=np.float32)
        return {"observation": x, "achieved_goal": x.copy(), "desired_goal": self.goal.copy()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-1, 1))
        self.goal = self.np_random.uniform(-1, 1, size=1).astype(np.float32)
        self.t = 0
        return self._obs(), {}

    def compute_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any
    ) -> np.ndarray:
        return self.goal_reached(achieved_goal, desired_goal).astype(np.float32) - 1.0

    def compute_terminated(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any
    ) -> np.ndarray:
        return self.goal_reached(achieved_goal, desired_goal) & self.terminate_on_success

    @staticmethod
    def goal_reached(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        distance = np.abs(np.asarray(achieved_goal) - np.asarray(desired_goal))[..., 0]
        return distance < TOLERANCE

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self.x = float(np.clip(self.x + STEP_SIZE * float(np.clip(action[0], -1, 1)), -1, 1))
        self.t += 1
        obs = self._obs()
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        success = bool(self.goal_reached(obs["achieved_goal"], obs["desired_goal"]))
        info = {"is_success": success, "reward_distance": -abs(self.x - float(self.goal[0]))}
        terminated = success and self.terminate_on_success
        return obs, reward, terminated, self.t >= self.max_steps, info


class NoGoalDictEnv(PointGoalEnv):
    """A Dict env without ``compute_reward``-compatible keys (for HER errors)."""

    def __init__(self) -> None:
        super().__init__()
        box = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Dict({"observation": box, "goal": box})

    def _obs(self) -> dict[str, np.ndarray]:
        x = np.array([self.x], dtype=np.float32)
        return {"observation": x, "goal": self.goal.copy()}


class PointImageEnv(PointEnv):
    """``PointEnv`` seen through a 36x36 camera (a bright column at ``x``) plus the goal."""

    def __init__(self, max_steps: int = 15) -> None:
        super().__init__(max_steps)
        self.observation_space = spaces.Dict(
            {
                "goal": spaces.Box(-1.0, 1.0, (1,), np.float32),
                "front": spaces.Box(0, 255, (36, 36, 3), np.uint8),
            }
        )

    def _obs(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        image = np.zeros((36, 36, 3), np.uint8)
        image[:, int(round((self.x + 1) / 2 * 35))] = 255
        return {"goal": np.array([self.goal], np.float32), "front": image}
