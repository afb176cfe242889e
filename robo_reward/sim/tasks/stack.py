"""Stack: put block A on top of block B."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.objects import (
    BLOCK_HALF,
    BlockTaskEnv,
    block_features,
)

BASE_HALF_HEIGHT = 0.02


class StackEnv(BlockTaskEnv):
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
    success_distance = 0.02
    object_obs_dim = 18
    color_groups = (("block",), ("base_block",))

    def _setup_task(self) -> None:
        super()._setup_task()
        self._base_body = self.model.body("base_block").id

    def _reset_task(self) -> None:
        block_xy = self._place_block("block")
        self._place_block("base_block", [block_xy], BASE_HALF_HEIGHT)

    @property
    def base_pos(self) -> np.ndarray:
        return self.data.xpos[self._base_body].copy()

    @property
    def goal(self) -> np.ndarray:
        return self.base_pos + np.array([0.0, 0.0, BASE_HALF_HEIGHT + BLOCK_HALF])

    def _object_obs(self) -> np.ndarray:
        grip = self.grip_pos
        return np.concatenate(
            [
                block_features(self.block_pos, self.body_velocity(self._block_body), grip),
                block_features(self.base_pos, self.body_velocity(self._base_body), grip),
            ]
        )
