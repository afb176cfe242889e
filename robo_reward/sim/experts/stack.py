"""Scripted expert for :class:`~robo_reward.sim.tasks.stack.StackEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np

from robo_reward.sim.experts.base import Move
from robo_reward.sim.experts.grasping import GraspingExpert

ABOVE = 0.05
"""Height (m) above the stacking point at which the carried block is lined up."""


class StackExpert(GraspingExpert):
    subtask_labels = ("approach", "grasp", "lift", "carry", "place")
    undo_plans = {"lift": ("drop", "approach"), "carry": ("drop", "approach")}

    def _carry(self, state: dict[str, Any]) -> Move:
        return self._carry_to(self.env.goal + np.array([0.0, 0.0, ABOVE]))

    def _place(self, state: dict[str, Any]) -> Move:
        return self._carry_to(self.env.goal, speed=0.4)
