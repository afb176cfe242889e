"""Pick and place: carry a block to a target on the table or in the air."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.base import TabletopEnv
from robo_reward.sim.tasks.objects import (
    BLOCK_HALF,
    block_features,
    carry_progress,
    sample_table_xy,
)

SUCCESS_DISTANCE = 0.04


class PickPlaceEnv(TabletopEnv):
    """Grasp a block and bring it within 4 cm of a target: on the table half the time, up to
    20 cm above it otherwise.

    ## Action Space
    See :class:`TabletopEnv`.

    ## Observation Space
    ``state``, images, ``object`` (9: block position, position relative to the grip point,
    linear velocity), ``achieved_goal`` = block position (3), ``desired_goal`` = target (3).

    ## Rewards
    Sparse 1.0 when the block is within 4 cm of the target. Privileged progress: 0.2 for
    reaching the block, 0.2 for holding it, 0.6 for the fraction of the initial block-to-target
    distance covered.

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (100 steps).

    ## Subtasks (scripted expert keyframes)
    ``approach``, ``grasp``, ``lift``, ``carry``.
    """

    task_name = "pick_place"
    task_text = "pick up the block and put it on the green target"
    model_file = "pick_place.xml"
    goal_dim = 3
    object_obs_dim = 9
    color_groups = (("block",),)

    def _setup_task(self) -> None:
        self._block_body = self.model.body("block").id
        self._block_geom = self.model.geom("block").id

    def _reset_task(self) -> None:
        rng = self.np_random
        block_xy = sample_table_xy(rng, [], 0.0)
        goal_xy = sample_table_xy(rng, [block_xy], 0.12)
        height = BLOCK_HALF if rng.uniform() < 0.5 else rng.uniform(0.06, 0.2)
        self._set_free_body("block", np.array([*block_xy, BLOCK_HALF]), rng.uniform(-0.2, 0.2))
        self.goal = np.array([*goal_xy, height])
        self._set_mocap("goal", self.goal)

    def _after_settle(self) -> None:
        self._initial_distance = max(float(np.linalg.norm(self.block_pos - self.goal)), 1e-6)

    @property
    def block_pos(self) -> np.ndarray:
        return self.data.xpos[self._block_body].copy()

    def block_held(self) -> bool:
        return self.fingers_touch(self._block_geom)

    def _object_obs(self) -> np.ndarray:
        return block_features(self.block_pos, self.body_velocity(self._block_body), self.grip_pos)

    def _achieved_goal(self) -> np.ndarray:
        return self.block_pos

    def _desired_goal(self) -> np.ndarray:
        return self.goal.copy()

    def goal_reached(self, achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        distance = np.linalg.norm(np.asarray(achieved_goal) - desired_goal, axis=-1)
        return distance < SUCCESS_DISTANCE

    def privileged_progress(self) -> float:
        block = self.block_pos
        if self.goal_reached(block, self.goal):
            return 1.0
        return carry_progress(
            self.grip_pos, block, self.goal, self.block_held(), self._initial_distance
        )
