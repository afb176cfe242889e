"""Stack: put block A on top of block B."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.base import TabletopEnv
from robo_reward.sim.tasks.objects import (
    BLOCK_HALF,
    block_features,
    carry_progress,
    sample_table_xy,
)

SUCCESS_DISTANCE = 0.02
BASE_HALF_HEIGHT = 0.02


class StackEnv(TabletopEnv):
    """Stack block A (4 cm cube) on block B (5 cm x 5 cm x 4 cm, heavier).

    ## Action Space
    See :class:`TabletopEnv`.

    ## Observation Space
    ``state``, images, ``object`` (18: block-features of A then B, each position, position
    relative to the grip point, linear velocity), ``achieved_goal`` = A's position (3),
    ``desired_goal`` = the point on top of B where A's centre belongs (3; it follows B).

    ## Rewards
    Sparse 1.0 when A's centre is within 2 cm of the stacking point. Privileged progress:
    0.2 reaching A, 0.2 holding A, 0.6 for the fraction of the initial distance covered.

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (120 steps).

    ## Subtasks (scripted expert keyframes)
    ``approach``, ``grasp``, ``lift``, ``carry``, ``place``.
    """

    task_name = "stack"
    task_text = "stack the small block on the large block"
    model_file = "stack.xml"
    goal_dim = 3
    object_obs_dim = 18
    color_groups = (("block",), ("base_block",))

    def _setup_task(self) -> None:
        self._block_body = self.model.body("block").id
        self._block_geom = self.model.geom("block").id
        self._base_body = self.model.body("base_block").id

    def _reset_task(self) -> None:
        rng = self.np_random
        block_xy = sample_table_xy(rng, [], 0.0)
        base_xy = sample_table_xy(rng, [block_xy], 0.12)
        self._set_free_body("block", np.array([*block_xy, BLOCK_HALF]), rng.uniform(-0.2, 0.2))
        self._set_free_body(
            "base_block", np.array([*base_xy, BASE_HALF_HEIGHT]), rng.uniform(-0.2, 0.2)
        )

    def _after_settle(self) -> None:
        self._initial_distance = max(float(np.linalg.norm(self.block_pos - self.goal)), 1e-6)

    @property
    def block_pos(self) -> np.ndarray:
        return self.data.xpos[self._block_body].copy()

    @property
    def base_pos(self) -> np.ndarray:
        return self.data.xpos[self._base_body].copy()

    @property
    def goal(self) -> np.ndarray:
        return self.base_pos + np.array([0.0, 0.0, BASE_HALF_HEIGHT + BLOCK_HALF])

    def block_held(self) -> bool:
        return self.fingers_touch(self._block_geom)

    def _object_obs(self) -> np.ndarray:
        grip = self.grip_pos
        return np.concatenate(
            [
                block_features(self.block_pos, self.body_velocity(self._block_body), grip),
                block_features(self.base_pos, self.body_velocity(self._base_body), grip),
            ]
        )

    def _achieved_goal(self) -> np.ndarray:
        return self.block_pos

    def _desired_goal(self) -> np.ndarray:
        return self.goal

    def goal_reached(self, achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        distance = np.linalg.norm(np.asarray(achieved_goal) - desired_goal, axis=-1)
        return distance < SUCCESS_DISTANCE

    def privileged_progress(self) -> float:
        block, goal = self.block_pos, self.goal
        if self.goal_reached(block, goal):
            return 1.0
        return carry_progress(self.grip_pos, block, goal, self.block_held(), self._initial_distance)
