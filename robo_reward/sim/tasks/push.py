"""Push: slide a block to a target on the table."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.objects import BLOCK_HALF, BlockTaskEnv, sample_table_xy


class PushEnv(BlockTaskEnv):
    """Push a block (4 cm cube) until it lies within 4 cm of a target disc on the table.

    ## Action Space
    See :class:`TabletopEnv`.

    ## Observation Space
    ``state``, images, ``object`` (9: block position, position relative to the grip point,
    linear velocity), ``achieved_goal`` = block position (3), ``desired_goal`` = target (3).

    ## Rewards
    Sparse 1.0 when the block is within 4 cm of the target. Privileged progress:
    0.2 for bringing the grip point behind the block, 0.8 for the fraction of the initial
    block-to-target distance covered.

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (100 steps).

    ## Subtasks (scripted expert keyframes)
    ``approach`` (above the block, on the far side from the target), ``lower``, ``push``.
    """

    task_name = "push"
    task_text = "push the block onto the green target"
    model_file = "push.xml"
    success_distance = 0.04
    color_groups = (("block",),)

    def _reset_task(self) -> None:
        block_xy = self._place_block("block")
        goal_xy = sample_table_xy(self.np_random, [block_xy], min_gap=0.12, max_gap=0.25)
        self.goal = np.array([*goal_xy, BLOCK_HALF])
        self._set_mocap("goal", np.array([*goal_xy, 0.001]))

    def privileged_progress(self) -> float:
        block, goal = self.block_pos, self.goal
        direction = (goal - block)[:2] / max(np.linalg.norm((goal - block)[:2]), 1e-6)
        behind = np.array([*(block[:2] - direction * 0.05), BLOCK_HALF])
        approach = 1.0 - min(1.0, float(np.linalg.norm(self.grip_pos - behind)) / 0.3)
        pushed = 1.0 - float(np.linalg.norm(block - goal)) / self._initial_distance
        if self.goal_reached(block, goal):
            return 1.0
        return float(np.clip(0.2 * approach + 0.8 * max(pushed, 0.0), 0.0, 1.0))
