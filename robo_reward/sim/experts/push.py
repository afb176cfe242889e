"""Scripted expert for :class:`~robo_reward.sim.tasks.push.PushEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np

from robo_reward.sim.experts.base import GRIPPER_CLOSED, Move, ScriptedExpert

BEHIND = 0.07
"""Distance (m) behind the block, away from the target, where the closed gripper lines up."""
CONTACT = 0.032
"""Grip-point-to-block-centre distance when the closed fingers (2.4 cm) touch the block (4 cm)."""
HOVER_Z, PUSH_Z = 0.08, 0.018


class PushExpert(ScriptedExpert):
    subtask_labels = ("approach", "lower", "push")
    undo_plans = {"push": ("retreat", "approach")}

    def _direction(self) -> np.ndarray:
        offset = (self.env.goal - self.env.block_pos)[:2]
        return offset / max(np.linalg.norm(offset), 1e-6)

    def _behind(self, height: float) -> np.ndarray:
        xy = self.env.block_pos[:2] - self._direction() * BEHIND
        return np.array([*xy, height])

    def _approach(self, state: dict[str, Any]) -> Move:
        target = self._behind(HOVER_Z)
        return Move(
            target, GRIPPER_CLOSED, done=bool(np.linalg.norm(self.env.grip_pos - target) < 0.015)
        )

    def _lower(self, state: dict[str, Any]) -> Move:
        target = state.setdefault("target", self._behind(PUSH_Z))
        return Move(
            target, GRIPPER_CLOSED, done=bool(np.linalg.norm(self.env.grip_pos - target) < 0.012)
        )

    def _push(self, state: dict[str, Any]) -> Move:
        """Stay on the block-to-target line behind the block and nudge forward; when the block
        drifts sideways, first slide back onto the line."""
        direction = self._direction()
        block = self.env.block_pos
        contact = np.array([*(block[:2] - direction * CONTACT), PUSH_Z])
        offset = (self.env.grip_pos - contact)[:2]
        lateral = abs(offset[0] * direction[1] - offset[1] * direction[0])
        along = float(offset @ direction)
        if lateral > 0.008 or along > 0.01:
            # Off the line: move back behind the block before pushing again.
            target = np.array([*(block[:2] - direction * (CONTACT + 0.015)), PUSH_Z])
        else:
            target = contact + np.array([*(direction * 0.02), 0.0])
        return Move(target, GRIPPER_CLOSED, speed=0.4)

    def _undo_retreat(self, state: dict[str, Any], step: int) -> Move:
        """Back off from the block and rise, losing the alignment the push needs."""
        grip = state["grip"]
        target = np.array([*(grip[:2] - self._direction() * 0.1), 0.15])
        done = bool(np.linalg.norm(self.env.grip_pos - target) < 0.02) or step > 20
        return Move(target, GRIPPER_CLOSED, done=done)
