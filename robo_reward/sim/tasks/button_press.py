"""Button: press a spring-loaded button to the end of its travel."""

from __future__ import annotations

import numpy as np

from robo_reward.sim.tasks.base import TabletopEnv

BUTTON_TRAVEL = 0.02
TARGET_DEPRESSION = 0.8 * BUTTON_TRAVEL


class ButtonPressEnv(TabletopEnv):
    """Press a spring-loaded button (2 cm travel) down by at least 1.6 cm.

    ## Action Space
    See :class:`TabletopEnv`.

    ## Observation Space
    ``state``, images, ``object`` (8: button top position, relative to the grip point,
    depression and its velocity), ``achieved_goal`` = depression (1),
    ``desired_goal`` = 0.016 m (1).

    ## Rewards
    Sparse 1.0 while the button is down by 1.6 cm or more. Privileged progress: 0.5 for
    reaching the button top, 0.5 for the depression as a fraction of 1.6 cm.

    ## Episode End
    Success (if ``terminate_on_success``) or the time limit (50 steps).

    ## Subtasks (scripted expert keyframes)
    ``approach``, ``press``.
    """

    task_name = "button_press"
    task_text = "press the button"
    model_file = "button_press.xml"
    goal_dim = 1
    goal = np.array([TARGET_DEPRESSION])
    object_obs_dim = 8
    color_groups = (("button",),)

    def _setup_task(self) -> None:
        self._base = self.model.body("button_base").id
        self._nominal_base_pos = self.model.body_pos[self._base].copy()
        joint = self.model.joint("button")
        self._button_qpos, self._button_qvel = joint.qposadr[0], joint.dofadr[0]
        self._top_site = self.model.site("button_top").id

    def _reset_task(self) -> None:
        rng = self.np_random
        offset = np.array([rng.uniform(-0.25, 0.05), rng.uniform(-0.2, 0.2), 0.0])
        self.model.body_pos[self._base] = self._nominal_base_pos + offset

    @property
    def depression(self) -> float:
        return float(-self.data.qpos[self._button_qpos])

    @property
    def button_top(self) -> np.ndarray:
        return self.data.site_xpos[self._top_site].copy()

    def _object_obs(self) -> np.ndarray:
        top = self.button_top
        velocity = -self.data.qvel[self._button_qvel]
        return np.concatenate([top, top - self.grip_pos, [self.depression, velocity]])

    def _achieved_goal(self) -> np.ndarray:
        return np.array([self.depression])

    def privileged_progress(self) -> float:
        if self.depression >= TARGET_DEPRESSION:
            return 1.0
        reach = 1.0 - min(1.0, float(np.linalg.norm(self.grip_pos - self.button_top)) / 0.3)
        pressed = max(0.0, self.depression) / TARGET_DEPRESSION
        return float(np.clip(0.5 * reach + 0.5 * pressed, 0.0, 1.0))
