"""Novelty (intrinsic) rewards, the baselines of the topological mapper's exploration bonus:
grid visit counts (:mod:`.counts`), Random Network Distillation (:mod:`.rnd`), Random
Distribution Distillation (:mod:`.rdd`), the shared protocol and feature extraction
(:mod:`.base`) and the Gymnasium wrapper (:mod:`.wrapper`)."""

from robo_reward.intrinsic.base import (
    NAV_FEATURES,
    XY_FEATURES,
    BonusNormalizer,
    IntrinsicReward,
    ObservationFeatures,
    as_batch,
)
from robo_reward.intrinsic.counts import VisitCounts
from robo_reward.intrinsic.rdd import RandomDistributionDistillation, RDDConfig
from robo_reward.intrinsic.rnd import RandomNetworkDistillation, RNDConfig
from robo_reward.intrinsic.wrapper import IntrinsicBonus

__all__ = [
    "NAV_FEATURES",
    "XY_FEATURES",
    "BonusNormalizer",
    "IntrinsicBonus",
    "IntrinsicReward",
    "ObservationFeatures",
    "RDDConfig",
    "RNDConfig",
    "RandomDistributionDistillation",
    "RandomNetworkDistillation",
    "VisitCounts",
    "as_batch",
]
