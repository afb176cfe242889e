"""Scripted expert for :class:`~robo_reward.sim.tasks.reach.ReachEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np

from robo_reward.sim.experts.base import GRIPPER_OPEN, Move, ScriptedExpert


class ReachExpert(ScriptedExpert):
    subtask_labels = ("reach",)
    undo_plans = {"reach": ("retreat", "reach")}

    def _reach(self, state: dict[str, Any]) -> Move:
        goal = self.env.goal
        return Move(goal, GRIPPER_OPEN, done=bool(np.linalg.norm(self.env.grip_pos - goal) < 0.02))

    def _undo_retreat(self, state: dict[str, Any], step: int) -> Move:
        """Go back to where the episode started."""
        done = bool(np.linalg.norm(self.env.grip_pos - self.start_grip) < 0.02) or step > 25
        return Move(self.start_grip, GRIPPER_OPEN, done=done)
