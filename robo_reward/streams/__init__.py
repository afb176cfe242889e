"""Live sensor streams without a transport, the logic behind the ROS nodes: stamp
synchronisation of camera views (:mod:`.sync`), GRM progress / reward from synchronised frames
(:mod:`.grm_stream`, node ``grm_reward``), the topological map's high level from odometry and
scans or point clouds (:mod:`.topo_stream`, node ``topo_mapper``) and a saved rover or arm policy
on live inputs with a safety stop (:mod:`.policy_stream`, node ``policy``). The nodes are thin
adapters over these."""

from robo_reward.streams.grm_stream import (
    MISSING_VIEW_POLICIES,
    GRMRewardStream,
    RewardEstimate,
    StreamConfig,
    StreamStatus,
    latency_probe,
    load_grm_model,
    load_reference_demo,
)
from robo_reward.streams.policy_stream import (
    ARM_KEYS,
    SHIPPED_POLICIES,
    SUPPLIED_KEYS,
    ArmCommand,
    ArmPolicyStream,
    ArmPolicyStreamConfig,
    PolicyCommand,
    PolicyKeyError,
    PolicyStream,
    PolicyStreamConfig,
    resolve_policy_path,
)
from robo_reward.streams.sync import ClockJump, StampSynchronizer, SyncedFrames
from robo_reward.streams.topo_stream import (
    MISSING_GOAL_POLICIES,
    TopoMapperStream,
    TopoStep,
    TopoStreamConfig,
    world_to_rover,
)

__all__ = [
    "ARM_KEYS",
    "MISSING_GOAL_POLICIES",
    "MISSING_VIEW_POLICIES",
    "SHIPPED_POLICIES",
    "SUPPLIED_KEYS",
    "ArmCommand",
    "ArmPolicyStream",
    "ArmPolicyStreamConfig",
    "ClockJump",
    "GRMRewardStream",
    "PolicyCommand",
    "PolicyKeyError",
    "PolicyStream",
    "PolicyStreamConfig",
    "RewardEstimate",
    "StampSynchronizer",
    "StreamConfig",
    "StreamStatus",
    "SyncedFrames",
    "TopoMapperStream",
    "TopoStep",
    "TopoStreamConfig",
    "latency_probe",
    "load_grm_model",
    "load_reference_demo",
    "resolve_policy_path",
    "world_to_rover",
]
