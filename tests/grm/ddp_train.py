"""Train the tiny GRM for a few steps, in one process or under torchrun (data-parallel).

Used by ``test_train.py``: ``python -m torch.distributed.run --standalone --nproc_per_node=2
tests/grm/ddp_train.py OUT GRIP_WEIGHT...`` trains one run per grip weight into
``OUT/grip_<weight>/`` with the settings of :func:`ddp_train_config`; the test compares the
weights with a single-process run of the same settings and global batch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch.distributed as dist
from grm_synthetic import tiny_config, training_episodes

from robo_reward.grm.pairs import PairConfig
from robo_reward.grm.train import TrainConfig, train_grm

STEPS = 3
GLOBAL_BATCH = 8


def ddp_train_config(grip_weight: float) -> TrainConfig:
    return TrainConfig(
        steps=STEPS,
        batch_size=GLOBAL_BATCH,
        lr=3e-4,
        warmup_steps=1,
        seed=3,
        grip_weight=grip_weight,
        checkpoint_every=STEPS,
        log_every=1,
    )


def run_dir(root: str | Path, grip_weight: float) -> Path:
    return Path(root) / f"grip_{grip_weight:g}"


def train(root: str | Path, grip_weight: float) -> Path:
    config = tiny_config()
    result = train_grm(
        training_episodes(config),
        run_dir(root, grip_weight),
        config,
        ddp_train_config(grip_weight),
        PairConfig(),
        progress=False,
    )
    return result.checkpoint


def main(argv: list[str]) -> None:
    root, weights = argv[0], [float(w) for w in argv[1:]]
    for weight in weights:
        train(root, weight)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
