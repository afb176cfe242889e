"""Scripted expert for :class:`~robo_reward.sim.tasks.drawer_open.DrawerOpenEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np

from robo_reward.sim.experts.base import (
    GRIPPER_CLOSED,
    Move,
    ScriptedExpert,
    gripper_command_for_opening,
)

STRADDLE_OPENING = 0.05
"""Fingers open just wide enough (m) to pass either side of the 1.4 cm handle bar, not so wide
that the inner finger hits the drawer front."""
GRIP_BELOW_HANDLE = 0.022
HOVER = 0.1
CLOSE_FRAMES = 5
PULL = 0.15


class DrawerOpenExpert(ScriptedExpert):
    subtask_labels = ("approach", "grasp", "pull")
    undo_plans = {"pull": ("push_shut", "grasp")}

    def _straddle(self) -> float:
        return gripper_command_for_opening(STRADDLE_OPENING)

    def _approach(self, state: dict[str, Any]) -> Move:
        """Line up above the handle, then descend with the fingers either side of it."""
        handle = self.env.handle_pos
        grasp_point = handle - np.array([0.0, 0.0, GRIP_BELOW_HANDLE])
        hover = np.array([*grasp_point[:2], handle[2] + HOVER])
        if not state.get("descending"):
            state["descending"] = bool(np.linalg.norm(self.env.grip_pos - hover) < 0.015)
        if not state["descending"]:
            return Move(hover, self._straddle())
        done = bool(np.linalg.norm(self.env.grip_pos - grasp_point) < 0.008)
        return Move(grasp_point, self._straddle(), done=done, speed=0.6)

    def _grasp(self, state: dict[str, Any]) -> Move:
        state["closing"] = state.get("closing", 0) + 1
        target = self.env.handle_pos - np.array([0.0, 0.0, GRIP_BELOW_HANDLE])
        return Move(target, GRIPPER_CLOSED, done=state["closing"] >= CLOSE_FRAMES)

    def _pull(self, state: dict[str, Any]) -> Move:
        start = state.setdefault("start", self.env.grip_pos)
        return Move(start - np.array([PULL, 0.0, 0.0]), GRIPPER_CLOSED, speed=0.6)

    def _undo_push_shut(self, state: dict[str, Any], step: int) -> Move:
        """Let go and push the drawer back in with the fingers either side of the handle."""
        if step < 3:
            return Move(self.env.grip_pos, self._straddle())
        target = self.env.handle_pos - np.array([-self.env.opening - 0.01, 0.0, GRIP_BELOW_HANDLE])
        done = self.env.opening < 0.005 or step > 40
        return Move(target, self._straddle(), done=done, speed=0.6)
