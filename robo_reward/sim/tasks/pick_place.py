"""Pick and place: carry a block to a target on the table or in the air."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.objects import (
    BLOCK_HALF,
    BlockTaskEnv,
    sample_table_xy,
)


class PickPlaceEnv(BlockTaskEnv):
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
    success_distance = 0.04
    color_groups = (("block",),)

    def _reset_task(self) -> None:
        rng = self.np_random
        block_xy = self._place_block("block")
        goal_xy = sample_table_xy(rng, [block_xy], min_gap=0.12)
        height = BLOCK_HALF if rng.uniform() < 0.5 else rng.uniform(0.06, 0.2)
        self.goal = np.array([*goal_xy, height])
        self._set_mocap("goal", self.goal)
