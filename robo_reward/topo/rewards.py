"""TopoNav's intrinsic rewards (Hossain et al., 2024), read off each :class:`MapUpdate`.

Three terms, each reported on its own (the wrapper logs them as ``reward/<term>``):

- ``new_node``: ``w_new`` on the step that creates a node (:attr:`MapUpdate.created`): the map
  grew, the robot reached a place it had never been;
- ``visit``: ``w_visit / sqrt(n)`` on the step that *enters* a known node, ``n`` its visit count
  including this entry (:attr:`Place.visits`), the count-based bonus of Strehl & Littman (2008)
  over places instead of states. A creation step is paid by ``new_node`` alone (its ``n = 1``
  would pay twice); standing in a node is not an entry;
- ``subgoal``: ``w_subgoal`` on the step that reaches the current subgoal
  (:class:`~robo_reward.topo.objectives.SubgoalSelector`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robo_reward.topo.graph import MapUpdate

__all__ = ["TOPO_REWARD_TERMS", "TopoRewardConfig", "entered_known_node", "topo_rewards"]

TOPO_REWARD_TERMS = ("new_node", "visit", "subgoal")


@dataclass(frozen=True)
class TopoRewardConfig:
    """Weights of the intrinsic terms (0 turns a term off). The task pays 1.0 at the goal; the
    defaults keep a whole small-maze exploration (~20 nodes) near that order, so that novelty
    guides the search without outweighing the goal."""

    new_node: float = 0.1
    """Paid once per node created."""
    visit: float = 0.02
    """Scale of the ``1/sqrt(n)`` bonus for entering a known node."""
    subgoal: float = 0.2
    """Paid when the current subgoal is reached."""

    def __post_init__(self) -> None:
        for name in TOPO_REWARD_TERMS:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} weight must be a finite number >= 0, got {value!r}")


def entered_known_node(update: MapUpdate) -> bool:
    """The step entered a node the map already had (a visit the map counted, not a creation)."""
    return not update.created and (update.node != update.previous_node or update.relocalised)


def topo_rewards(
    update: MapUpdate, visits: int, subgoal_reached: bool, config: TopoRewardConfig
) -> dict[str, float]:
    """The weighted terms of one step: ``{"new_node", "visit", "subgoal"}``.

    ``visits`` is the current node's :attr:`Place.visits` after ``update`` (this entry included).
    """
    if visits < 1:
        raise ValueError(f"visits counts this entry, so it is >= 1; got {visits}")
    return {
        "new_node": config.new_node if update.created else 0.0,
        "visit": config.visit / math.sqrt(visits) if entered_known_node(update) else 0.0,
        "subgoal": config.subgoal if subgoal_reached else 0.0,
    }
