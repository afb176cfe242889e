"""Live sensor streams without a transport: stamp synchronisation of camera views
(:mod:`.sync`) and GRM progress / reward from synchronised frames (:mod:`.grm_stream`). The ROS
``grm_reward`` node is a thin adapter over these."""

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
from robo_reward.streams.sync import ClockJump, StampSynchronizer, SyncedFrames

__all__ = [
    "MISSING_VIEW_POLICIES",
    "ClockJump",
    "GRMRewardStream",
    "RewardEstimate",
    "StampSynchronizer",
    "StreamConfig",
    "StreamStatus",
    "SyncedFrames",
    "latency_probe",
    "load_grm_model",
    "load_reference_demo",
]
