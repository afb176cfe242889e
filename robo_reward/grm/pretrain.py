"""``robo-reward grm pretrain``: the general GRM, trained on the training task families only.

The held-out families (stack and button_press by default) never reach pretraining: trajectories
of those tasks are refused, so evaluation on them measures generalisation to new tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robo_reward.config import config_to_dict
from robo_reward.grm.model import GRMConfig
from robo_reward.grm.pairs import PairConfig, load_episodes
from robo_reward.grm.train import TrainConfig, TrainResult, train_grm
from robo_reward.sim.registration import TASKS

DEFAULT_HELD_OUT = ("stack", "button_press")


@dataclass(frozen=True)
class PretrainConfig:
    """What ``robo-reward grm pretrain`` trains on and how."""

    data: tuple[str, ...] = (
        "data/grm/reach",
        "data/grm/push",
        "data/grm/pick_place",
        "data/grm/drawer_open",
    )
    """Dataset directories or trajectory files (see ``make grm-data``)."""
    held_out_tasks: tuple[str, ...] = DEFAULT_HELD_OUT
    """Task families kept out of pretraining entirely: the generalisation test."""
    model: GRMConfig = field(default_factory=GRMConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pairs: PairConfig = field(default_factory=PairConfig)

    def __post_init__(self) -> None:
        unknown = [t for t in self.held_out_tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"unknown held-out task(s) {unknown}; tasks: {list(TASKS)}")
        if len(self.held_out_tasks) < 2:
            raise ValueError("hold at least two task families out of pretraining")
        if not self.data:
            raise ValueError("give at least one dataset to pretrain on")


def pretrain(config: PretrainConfig, out_dir: str | Path, resume: bool = False) -> TrainResult:
    episodes, summary = load_episodes(config.data, config.model.views, config.model.image_size)
    leaked = sorted(set(summary) & set(config.held_out_tasks))
    if leaked:
        raise ValueError(
            f"the pretraining data contains held-out task(s) {leaked}; remove them from `data` "
            f"or change `held_out_tasks`"
        )
    extra = {
        "purpose": "general",
        "data": list(config.data),
        "data_summary": summary,
        "held_out_tasks": list(config.held_out_tasks),
        "pretrain_config": config_to_dict(config),
    }
    return train_grm(
        episodes, out_dir, config.model, config.train, config.pairs, resume=resume, extra=extra
    )
