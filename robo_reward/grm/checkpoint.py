"""GRM checkpoints: the project's safetensors format (:mod:`robo_reward.checkpoints`) with the
architecture as JSON config, so a file alone rebuilds the model."""

from __future__ import annotations

from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from robo_reward.checkpoints import (
    load_module,
    load_optimizer,
    save_optimizer,
    save_weights,
)
from robo_reward.grm.model import GRM, GRMConfig

KIND = "grm"
GENERAL_CHECKPOINT = "grm_general.safetensors"
"""The pretrained general model shipped in the package (see docs/grm_model_card.md)."""


def save_grm(path: str | Path, grm: GRM, extra: dict[str, Any] | None = None) -> Path:
    return save_weights(path, grm.state_dict(), kind=KIND, config=asdict(grm.config), extra=extra)


def load_grm(path: str | Path) -> GRM:
    """Rebuild a GRM from a checkpoint; ``grm.checkpoint_extra`` holds what training recorded."""
    return load_module(path, KIND, GRMConfig, GRM, "GRM")


def default_checkpoint() -> Path:
    """Path of the shipped general checkpoint."""
    path = Path(str(resources.files("robo_reward.grm") / "weights" / GENERAL_CHECKPOINT))
    if not path.is_file():
        raise FileNotFoundError(
            f"the general GRM checkpoint is missing at {path}; "
            "make it with `robo-reward grm pretrain`"
        )
    return path


def save_training_state(
    path: str | Path, optimizer: torch.optim.Optimizer, extra: dict[str, Any]
) -> Path:
    return save_optimizer(path, optimizer, extra)


def load_training_state(path: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return load_optimizer(path, optimizer)
