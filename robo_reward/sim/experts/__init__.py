"""Scripted experts, one per task, and the registry that pairs them with tasks."""

from __future__ import annotations

from robo_reward.sim.experts.base import Disruption, ScriptedExpert
from robo_reward.sim.experts.button_press import ButtonPressExpert
from robo_reward.sim.experts.drawer_open import DrawerOpenExpert
from robo_reward.sim.experts.pick_place import PickPlaceExpert
from robo_reward.sim.experts.push import PushExpert
from robo_reward.sim.experts.reach import ReachExpert
from robo_reward.sim.experts.stack import StackExpert

EXPERTS: dict[str, type[ScriptedExpert]] = {
    "reach": ReachExpert,
    "push": PushExpert,
    "pick_place": PickPlaceExpert,
    "stack": StackExpert,
    "drawer_open": DrawerOpenExpert,
    "button_press": ButtonPressExpert,
}

__all__ = ["EXPERTS", "Disruption", "ScriptedExpert"]
