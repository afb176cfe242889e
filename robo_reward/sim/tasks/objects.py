"""What the block tasks (push, pick and place, stack) share: the block, its placement, its
privileged features and the staged privileged progress of carrying it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robo_reward.sim.tasks.base import TabletopEnv

BLOCK_HALF = 0.02
TABLE_X = (-0.28, 0.08)
TABLE_Y = (-0.2, 0.2)


def sample_table_xy(
    rng: np.random.Generator,
    avoid: Sequence[np.ndarray] = (),
    min_gap: float = 0.0,
    max_gap: float = np.inf,
) -> np.ndarray:
    """A uniform table position at least ``min_gap`` (m) from every point in ``avoid`` and at
    most ``max_gap`` from the first of them."""
    for _ in range(1000):
        xy = np.array([rng.uniform(*TABLE_X), rng.uniform(*TABLE_Y)])
        gaps = [float(np.linalg.norm(xy - other[:2])) for other in avoid]
        if all(gap >= min_gap for gap in gaps) and (not gaps or gaps[0] <= max_gap):
            return xy
    raise RuntimeError("could not place an object on the table; the workspace is too crowded")


def block_features(position: np.ndarray, velocity: np.ndarray, grip: np.ndarray) -> np.ndarray:
    """Position, position relative to the grip point, linear velocity: 9 numbers."""
    return np.concatenate([position, position - grip, velocity])


def carry_progress(
    grip: np.ndarray, block: np.ndarray, goal: np.ndarray, held: bool, initial_distance: float
) -> float:
    """Staged privileged progress for carrying a block: 0.2 reaching it, 0.2 holding it, 0.6 for
    the fraction of the initial block-to-goal distance covered while holding it."""
    reach = 1.0 - min(1.0, float(np.linalg.norm(grip - block)) / 0.3)
    carried = max(0.0, 1.0 - float(np.linalg.norm(block - goal)) / initial_distance)
    return float(np.clip(0.2 * reach + (0.2 + 0.6 * carried) * held, 0.0, 1.0))


class BlockTaskEnv(TabletopEnv):
    """A tabletop task around one free block named ``block``; its goal is the block's position."""

    goal_dim = 3
    object_obs_dim = 9

    def _setup_task(self) -> None:
        self._block_body = self.model.body("block").id
        self._block_geom = self.model.geom("block").id

    def _place_block(
        self, joint: str, avoid: Sequence[np.ndarray] = (), half_height: float = BLOCK_HALF
    ) -> np.ndarray:
        """Put a block at a random table position (12 cm clear of ``avoid``) and yaw; returns
        its xy."""
        xy = sample_table_xy(self.np_random, avoid, min_gap=0.12)
        yaw = self.np_random.uniform(-0.2, 0.2)
        self._set_free_body(joint, np.array([*xy, half_height]), yaw)
        return xy

    def _after_settle(self) -> None:
        self._initial_distance = max(float(np.linalg.norm(self.block_pos - self.goal)), 1e-6)

    @property
    def block_pos(self) -> np.ndarray:
        return self.data.xpos[self._block_body].copy()

    def block_held(self) -> bool:
        return self.fingers_touch(self._block_geom)

    def _object_obs(self) -> np.ndarray:
        return block_features(self.block_pos, self.body_velocity(self._block_body), self.grip_pos)

    def _achieved_goal(self) -> np.ndarray:
        return self.block_pos

    def privileged_progress(self) -> float:
        block, goal = self.block_pos, self.goal
        if self.goal_reached(block, goal):
            return 1.0
        return carry_progress(self.grip_pos, block, goal, self.block_held(), self._initial_distance)
