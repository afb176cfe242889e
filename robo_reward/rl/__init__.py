"""Controllers: SAC (with HER) and the machinery they share, in small modules.

``spaces`` (spaces as JSON), ``networks`` (MLPs, critic ensembles, observation encoder),
``normalize`` (running observation statistics), ``replay`` (replay and HER buffers),
``policy`` (a policy that acts without its trainer; what the ROS node loads), ``logger``
(metrics CSV and TensorBoard), ``sac`` (the algorithm, readable top to bottom).
"""

from __future__ import annotations

from robo_reward.rl.logger import RunLogger, run_name
from robo_reward.rl.networks import ObservationEncoder, VectorizedLinear, mlp
from robo_reward.rl.normalize import ObservationNormalizer, RunningMeanStd
from robo_reward.rl.policy import Policy, load_policy, save_policy
from robo_reward.rl.replay import HerReplayBuffer, ReplayBatch, ReplayBuffer
from robo_reward.rl.sac import SAC, SACConfig
from robo_reward.rl.spaces import space_from_json, space_to_json

__all__ = [
    "SAC",
    "HerReplayBuffer",
    "ObservationEncoder",
    "ObservationNormalizer",
    "Policy",
    "ReplayBatch",
    "ReplayBuffer",
    "RunLogger",
    "RunningMeanStd",
    "SACConfig",
    "VectorizedLinear",
    "load_policy",
    "mlp",
    "run_name",
    "save_policy",
    "space_from_json",
    "space_to_json",
]
