"""Reach: move the grip point to a target in the air."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.base import TabletopEnv


class ReachEnv(TabletopEnv):
    """Move the grip point to a green target sphere anywhere above the table.

    ## Action Space
    See :class:`TabletopEnv`: Cartesian delta of the grip point and a gripper command.

    ## Observation Space
    ``state``, the camera images, ``achieved_goal`` = grip position (3),
    ``desired_goal`` = target position (3). No ``object`` key.

    ## Rewards
    Sparse 1.0 when the grip point is within 4 cm of the target. Privileged progress:
    ``1 - distance / initial distance``, clipped to [0, 1].

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (50 steps).

    ## Subtasks (scripted expert keyframes)
    ``reach``.
    """

    task_name = "reach"
    task_text = "move the gripper to the green target"
    model_file = "reach.xml"
    goal_dim = 3
    success_distance = 0.04

    def _reset_task(self) -> None:
        rng = self.np_random
        self.goal = np.array(
            [rng.uniform(-0.3, 0.1), rng.uniform(-0.22, 0.22), rng.uniform(0.04, 0.3)]
        )
        self._set_mocap("goal", self.goal)

    def _after_settle(self) -> None:
        self._initial_distance = max(float(np.linalg.norm(self.grip_pos - self.goal)), 1e-6)

    def _achieved_goal(self) -> np.ndarray:
        return self.grip_pos

    def privileged_progress(self) -> float:
        distance = float(np.linalg.norm(self.grip_pos - self.goal))
        return float(np.clip(1.0 - distance / self._initial_distance, 0.0, 1.0))
