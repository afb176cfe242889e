"""Scripted expert for :class:`~robo_reward.sim.tasks.button_press.ButtonPressEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np

from robo_reward.sim.experts.base import GRIPPER_CLOSED, Move, ScriptedExpert

HOVER = 0.03
PRESS_BELOW_TOP = 0.03
"""The grip target sits this far below the resting button top, past the 2 cm of travel, so the
weld pushes through the spring."""


class ButtonPressExpert(ScriptedExpert):
    subtask_labels = ("approach", "press")
    undo_plans = {"press": ("release", "press")}

    def _approach(self, state: dict[str, Any]) -> Move:
        target = state.setdefault("rest_top", self.env.button_top) + np.array([0.0, 0.0, HOVER])
        return Move(
            target, GRIPPER_CLOSED, done=bool(np.linalg.norm(self.env.grip_pos - target) < 0.01)
        )

    def _press(self, state: dict[str, Any]) -> Move:
        top = self.env.button_top + np.array([0.0, 0.0, self.env.depression])
        return Move(top - np.array([0.0, 0.0, PRESS_BELOW_TOP]), GRIPPER_CLOSED, speed=0.5)

    def _undo_release(self, state: dict[str, Any], step: int) -> Move:
        """Lift off before the button bottoms out; the spring pushes it back up."""
        top = self.env.button_top + np.array([0.0, 0.0, self.env.depression])
        target = top + np.array([0.0, 0.0, HOVER])
        done = bool(np.linalg.norm(self.env.grip_pos - target) < 0.01) or step > 15
        return Move(target, GRIPPER_CLOSED, done=done)
