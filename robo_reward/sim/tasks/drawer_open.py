"""Drawer: pull a drawer open by its handle."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.base import TabletopEnv

TARGET_OPENING = 0.12
"""Opening (m) that counts as open; the drawer travels 0.16 m."""


class DrawerOpenEnv(TabletopEnv):
    """Grasp the handle of a drawer that faces the robot and pull it out by 12 cm.

    ## Action Space
    See :class:`TabletopEnv`.

    ## Observation Space
    ``state``, images, ``object`` (8: handle position, handle relative to the grip point,
    drawer opening and its velocity), ``achieved_goal`` = opening (1),
    ``desired_goal`` = 0.12 m (1).

    ## Rewards
    Sparse 1.0 once the opening reaches 12 cm. Privileged progress: 0.3 for reaching the
    handle, 0.7 for the opening as a fraction of 12 cm.

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (100 steps).

    ## Subtasks (scripted expert keyframes)
    ``approach``, ``grasp``, ``pull``.
    """

    task_name = "drawer_open"
    task_text = "open the drawer"
    model_file = "drawer_open.xml"
    goal_dim = 1
    goal = np.array([TARGET_OPENING])
    object_obs_dim = 8
    color_groups = (
        ("drawer_front", "drawer_bottom", "drawer_side_l", "drawer_side_r"),
        ("handle",),
    )

    def _setup_task(self) -> None:
        self._cabinet = self.model.body("cabinet").id
        self._nominal_cabinet_pos = self.model.body_pos[self._cabinet].copy()
        joint = self.model.joint("drawer")
        self._drawer_qpos, self._drawer_qvel = joint.qposadr[0], joint.dofadr[0]
        self._handle_site = self.model.site("handle").id

    def _reset_task(self) -> None:
        rng = self.np_random
        offset = np.array([rng.uniform(-0.04, 0.04), rng.uniform(-0.15, 0.15), 0.0])
        self.model.body_pos[self._cabinet] = self._nominal_cabinet_pos + offset

    @property
    def opening(self) -> float:
        return float(self.data.qpos[self._drawer_qpos])

    @property
    def handle_pos(self) -> np.ndarray:
        return self.data.site_xpos[self._handle_site].copy()

    def _object_obs(self) -> np.ndarray:
        handle = self.handle_pos
        velocity = self.data.qvel[self._drawer_qvel]
        return np.concatenate([handle, handle - self.grip_pos, [self.opening, velocity]])

    def _achieved_goal(self) -> np.ndarray:
        return np.array([self.opening])

    def privileged_progress(self) -> float:
        if self.opening >= TARGET_OPENING:
            return 1.0
        reach = 1.0 - min(1.0, float(np.linalg.norm(self.grip_pos - self.handle_pos)) / 0.3)
        return float(np.clip(0.3 * reach + 0.7 * self.opening / TARGET_OPENING, 0.0, 1.0))
