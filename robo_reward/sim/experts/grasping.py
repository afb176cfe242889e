"""Phases shared by the experts that pick up a block: approach from above, grasp, lift, drop."""

from __future__ import annotations

from typing import Any

import numpy as np

from robo_reward.sim.experts.base import GRIPPER_CLOSED, GRIPPER_OPEN, Move, ScriptedExpert

HOVER = 0.08
"""Height (m) above the block's centre from which the gripper descends."""
GRASP_Z_BELOW_CENTRE = 0.012
"""The grip point (fingertips) goes this far below the block's centre before closing."""
CLOSE_FRAMES = 5
LIFT_Z = 0.14


class GraspingExpert(ScriptedExpert):
    """Approach, grasp and lift are the same for every block task; ``block_pos`` is the block."""

    def _approach(self, state: dict[str, Any]) -> Move:
        block = self.env.block_pos
        target = block + np.array([0.0, 0.0, HOVER])
        error = self.env.grip_pos - target
        done = bool(np.linalg.norm(error[:2]) < 0.008 and abs(error[2]) < 0.02)
        return Move(target, GRIPPER_OPEN, done=done)

    def _grasp(self, state: dict[str, Any]) -> Move:
        block = self.env.block_pos
        target = block - np.array([0.0, 0.0, GRASP_Z_BELOW_CENTRE])
        if not state.get("closing") and np.linalg.norm(self.env.grip_pos - target) < 0.01:
            state["closing"] = 0
        if "closing" not in state:
            return Move(target, GRIPPER_OPEN, speed=0.6)
        state["closing"] += 1
        done = state["closing"] >= CLOSE_FRAMES and self.env.block_held()
        return Move(target, GRIPPER_CLOSED, done=done)

    def _lift(self, state: dict[str, Any]) -> Move:
        target = state.setdefault("target", np.array([*self.env.grip_pos[:2], LIFT_Z]))
        return Move(target, GRIPPER_CLOSED, done=bool(self.env.grip_pos[2] > LIFT_Z - 0.015))

    def _carry_to(self, block_target: np.ndarray, speed: float = 1.0) -> Move:
        """Move so that the held block's centre goes to ``block_target``."""
        offset = self.env.block_pos - self.env.grip_pos
        target = block_target - offset
        done = bool(np.linalg.norm(self.env.block_pos - block_target) < 0.01)
        return Move(target, GRIPPER_CLOSED, done=done, speed=speed)

    def _undo_drop(self, state: dict[str, Any], step: int) -> Move:
        """Open the gripper where it is and wait for the block to land."""
        grip = state["grip"]
        return Move(grip + np.array([0.0, 0.0, 0.03]), GRIPPER_OPEN, done=step >= 10)
