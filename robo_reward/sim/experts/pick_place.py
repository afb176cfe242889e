"""Scripted expert for :class:`~robo_reward.sim.tasks.pick_place.PickPlaceEnv`."""

from __future__ import annotations

from typing import Any

from robo_reward.sim.experts.base import Move
from robo_reward.sim.experts.grasping import GraspingExpert


class PickPlaceExpert(GraspingExpert):
    subtask_labels = ("approach", "grasp", "lift", "carry")
    undo_plans = {"lift": ("drop", "approach"), "carry": ("drop", "approach")}

    def _carry(self, state: dict[str, Any]) -> Move:
        return self._carry_to(self.env.goal)
