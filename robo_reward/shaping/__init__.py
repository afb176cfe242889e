"""Potential-based reward shaping: the formula (:mod:`.pbrs`), potential providers
(:mod:`.potentials`), the Gymnasium wrapper (:mod:`.wrapper`) and an imitation-style reward
function (:mod:`.reward_fn`)."""

from robo_reward.shaping.pbrs import PotentialError, check_potential, shaping_reward
from robo_reward.shaping.potentials import GRMPotential, PotentialProvider, PrivilegedPotential
from robo_reward.shaping.reward_fn import ShapedRewardFn
from robo_reward.shaping.wrapper import PotentialShaping, ShapingConfig

__all__ = [
    "GRMPotential",
    "PotentialError",
    "PotentialProvider",
    "PotentialShaping",
    "PrivilegedPotential",
    "ShapedRewardFn",
    "ShapingConfig",
    "check_potential",
    "shaping_reward",
]
