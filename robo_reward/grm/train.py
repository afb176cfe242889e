"""GRM training: general pretraining on many tasks and one-shot adaptation on one demo.

One loop serves both. It runs in one process or data-parallel under ``torchrun`` (DDP, gloo on
CPU, NCCL on GPU): every rank draws the same global batch from ``(seed, step)`` and trains on its
slice, so N ranks follow the same trajectory as one process with the whole batch. Checkpoints
(safetensors) are written every ``checkpoint_every`` steps; ``resume`` continues from the last one
and replays exactly the batches an uninterrupted run would have drawn. The weights, the optimizer
state and the log are one atomic set (:func:`robo_reward.data.atomic.atomic_group`): a run killed
at any instant, even while saving, resumes from a consistent checkpoint and logs every row once.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from robo_reward.checkpoints import CheckpointError
from robo_reward.data.atomic import atomic_group, recover_group
from robo_reward.grm.augment import augment_images
from robo_reward.grm.checkpoint import load_grm, load_training_state, save_grm, save_training_state
from robo_reward.grm.hop import expected_hop, two_hot
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.grm.pairs import Episode, PairBatch, PairConfig, PairSampler

CHECKPOINT_NAME = "grm.safetensors"
OPTIMIZER_NAME = "optimizer.safetensors"
LOG_NAME = "train_log.csv"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (CleanRL-style: every knob in one place)."""

    steps: int = 1500
    """Optimiser steps."""
    batch_size: int = 64
    """Global batch (pairs); split evenly across data-parallel ranks."""
    lr: float = 1e-3
    """Peak learning rate (AdamW), after a linear warm-up, cosine-decayed to 10%."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    completion_weight: float = 0.5
    """Weight of the completion loss next to the hop loss."""
    grip_weight: float = 1.0
    """Weight of the auxiliary loss: regress the grip position from each BEFORE/AFTER image
    (simulation knows it; it makes the encoder find the robot in every view)."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    seed: int = 0
    """Seeds the model initialisation and every batch."""
    checkpoint_every: int = 250
    """Steps between checkpoints (and one at the end)."""
    log_every: int = 25
    """Steps between log rows."""
    threads: int = 0
    """torch intra-op threads per process (0: torch's default)."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if self.warmup_steps < 0 or self.threads < 0:
            raise ValueError("warmup_steps and threads must be >= 0")
        for name in ("weight_decay", "completion_weight", "grip_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value}")
        if not (self.grad_clip > 0 and math.isfinite(self.grad_clip)):
            raise ValueError(f"grad_clip must be a positive number, got {self.grad_clip}")
        if self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed}")


@dataclass(frozen=True)
class TrainResult:
    steps: int
    final_loss: float
    seconds: float
    checkpoint: Path


class PairModel(nn.Module):
    """What DDP wraps: encodes the batch's few reference images once and every BEFORE/AFTER image,
    then fuses them per pair."""

    def __init__(self, grm: GRM) -> None:
        super().__init__()
        self.grm = grm

    def forward(
        self,
        ref_images: torch.Tensor,
        ref_mask: torch.Tensor,
        images: torch.Tensor,
        mask: torch.Tensor,
        reference: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ref_embeddings = self.grm.encode(ref_images)[reference]
        pair_embeddings = self.grm.encode(images)
        embeddings = torch.cat([ref_embeddings, pair_embeddings], dim=1)
        hop_logits, completion_logits = self.grm.head(
            embeddings, torch.cat([ref_mask[reference], mask], dim=1)
        )
        return hop_logits, completion_logits, self.grm.grip_head(pair_embeddings)


def batch_tensors(batch: PairBatch, episodes: Sequence[Episode]) -> dict[str, torch.Tensor]:
    """Gather (and augment) the images of a batch of pairs."""
    refs = [episodes[r] for r in batch.references]
    ref_images = np.stack([np.stack([e.frames[0], e.frames[-1]]) for e in refs])
    before = np.stack(
        [
            refs[batch.reference[i]].frames[-1] if episode < 0 else episodes[episode].frames[frame]
            for i, (episode, frame) in enumerate(batch.before)
        ]
    )
    after = np.stack([episodes[episode].frames[frame] for episode, frame in batch.after])
    images = np.stack([before, after], axis=1)
    return {
        "ref_images": _augment(ref_images, batch.ref_shift, batch.ref_colour),
        "ref_mask": torch.from_numpy(batch.ref_mask),
        "images": _augment(images, batch.shift, batch.colour),
        "mask": torch.from_numpy(batch.mask),
        "reference": torch.from_numpy(batch.reference).long(),
    }


GRIP_CENTER = np.array([-0.1, 0.0, 0.15], dtype=np.float32)
GRIP_SCALE = 0.15


def grip_targets(batch: PairBatch, episodes: Sequence[Episode]) -> torch.Tensor:
    """Normalised grip positions of each BEFORE/AFTER image ``(B, 2, 3)`` (0 where unknown)."""
    refs = [episodes[r] for r in batch.references]
    targets = np.zeros((len(batch), 2, 3), dtype=np.float32)
    for i in range(len(batch)):
        for role, (episode, frame) in enumerate((batch.before[i], batch.after[i])):
            if batch.grip_known[i, role]:
                source = refs[batch.reference[i]] if episode < 0 else episodes[episode]
                position = source.grip[-1 if episode < 0 else frame]
                targets[i, role] = (position - GRIP_CENTER) / GRIP_SCALE
    return torch.from_numpy(targets)


def _augment(images: np.ndarray, shift: np.ndarray, colour: np.ndarray) -> torch.Tensor:
    leading = images.shape[:3]
    flat = torch.from_numpy(images.reshape(-1, *images.shape[3:]))
    out = augment_images(
        flat,
        torch.from_numpy(shift.reshape(-1, 2)),
        torch.from_numpy(colour.reshape(-1, 5)).float(),
    )
    return out.reshape(*leading, *images.shape[3:])


def pair_loss(
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    batch: PairBatch,
    grip_target: torch.Tensor,
    config: TrainConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy against two-hot hop targets, plus weighted completion BCE, plus the weighted
    auxiliary grip regression over the BEFORE/AFTER images that exist.

    Every term is normalised by *global*-batch counts, so the mean of the data-parallel ranks'
    losses is exactly the loss of the whole batch in one process."""
    hop_logits, completion_logits, grip_pred = outputs
    hop = torch.from_numpy(batch.hop)
    target = two_hot(hop, hop_logits.shape[-1])
    hop_loss = -(target * F.log_softmax(hop_logits, dim=-1)).sum(-1).mean()
    completion_loss = F.binary_cross_entropy_with_logits(
        completion_logits, torch.from_numpy(batch.complete)
    )
    weight = torch.from_numpy(batch.mask & batch.grip_known[..., None]).float()
    squared = ((grip_pred - grip_target[:, :, None, :]) ** 2).sum(-1)
    share = len(batch) / batch.global_size
    grip_loss = (squared * weight).sum() / max(batch.grip_total * share, 1.0)
    loss = hop_loss + config.completion_weight * completion_loss + config.grip_weight * grip_loss
    with torch.no_grad():
        mae = (expected_hop(hop_logits) - hop).abs().mean()
    stats = {
        "loss": float(loss.detach()),
        "hop_loss": float(hop_loss.detach()),
        "completion_loss": float(completion_loss.detach()),
        "grip_loss": float(grip_loss.detach()),
        "hop_mae": float(mae),
    }
    return loss, stats


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed() -> _Distributed:
    """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return _Distributed()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return _Distributed(dist.get_rank(), dist.get_world_size())


def train_grm(
    episodes: Sequence[Episode],
    out_dir: str | Path,
    model_config: GRMConfig,
    train_config: TrainConfig,
    pair_config: PairConfig | None = None,
    init_checkpoint: str | Path | None = None,
    resume: bool = False,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a GRM on pairs from ``episodes``; writes ``out_dir/grm.safetensors`` (+ optimizer
    state and a CSV log). ``init_checkpoint`` starts from given weights (one-shot adaptation);
    ``resume`` continues ``out_dir``'s own run."""
    pair_config = pair_config or PairConfig()
    ddp = _init_distributed()
    if train_config.threads:
        torch.set_num_threads(train_config.threads)
    out = Path(out_dir)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(train_config.seed)
    checkpoint = out / CHECKPOINT_NAME
    if resume and ddp.main:
        recover_group(_checkpoint_files(out))
    if resume and ddp.world_size > 1:
        dist.barrier()  # every rank reads the checkpoint the main rank recovered
    if resume and not checkpoint.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint to resume in {out}")
    # Weights come from this run's checkpoint (resume), a given one (adaptation; its stored
    # architecture wins over ``model_config``), or a fresh seeded initialisation.
    weights = checkpoint if resume else init_checkpoint
    grm = load_grm(weights) if weights is not None else GRM(model_config)
    model_config = grm.config
    optimizer = torch.optim.AdamW(
        grm.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay
    )
    start = load_training_state(out / OPTIMIZER_NAME, optimizer)["step"] + 1 if resume else 0
    if resume and grm.checkpoint_extra.get("step") != start - 1:
        raise CheckpointError(
            f"{out}: {CHECKPOINT_NAME} is from step {grm.checkpoint_extra.get('step')!r} but "
            f"{OPTIMIZER_NAME} from step {start - 1}; restore the files of one save together"
        )

    pair_model: nn.Module = PairModel(grm)
    if ddp.world_size > 1:
        pair_model = nn.parallel.DistributedDataParallel(pair_model)
    sampler = PairSampler(episodes, pair_config, model_config.num_bins, train_config.seed)
    metadata = {"train": asdict(train_config), "pairs": asdict(pair_config), **(extra or {})}

    started = time.perf_counter()
    stats: dict[str, float] = {"loss": float("nan")}
    log_rows: list[dict[str, float]] = []
    bar = tqdm(
        range(start, train_config.steps),
        desc="grm train",
        unit="step",
        disable=not (progress and ddp.main),
        initial=start,
        total=train_config.steps,
    )
    grm.train()
    for step in bar:
        batch = sampler.sample(step, train_config.batch_size).slice(ddp.rank, ddp.world_size)
        tensors = batch_tensors(batch, episodes)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, train_config)
        outputs = pair_model(**tensors)
        loss, stats = pair_loss(outputs, batch, grip_targets(batch, episodes), train_config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(grm.parameters(), train_config.grad_clip)
        optimizer.step()
        if step % train_config.log_every == 0 or step == train_config.steps - 1:
            row = {
                "step": step,
                "lr": learning_rate(step, train_config),
                "seconds": time.perf_counter() - started,
                **stats,
            }
            log_rows.append(row)
            bar.set_postfix(loss=f"{stats['loss']:.3f}", mae=f"{stats['hop_mae']:.3f}")
            if on_log is not None:
                on_log(step, stats)
        last = step == train_config.steps - 1
        if ddp.main and ((step + 1) % train_config.checkpoint_every == 0 or last):
            with atomic_group(_checkpoint_files(out)) as (weights, optimizer_state, log):
                save_grm(weights, grm, {**metadata, "step": step})
                save_training_state(optimizer_state, optimizer, {"step": step})
                _extend_log(out / LOG_NAME, log, log_rows)
            log_rows = []
    if ddp.main:
        _append_log(out / LOG_NAME, log_rows)
    return TrainResult(train_config.steps, stats["loss"], time.perf_counter() - started, checkpoint)


def _checkpoint_files(out: Path) -> list[Path]:
    """The files one checkpoint consists of; the first names the group."""
    return [out / CHECKPOINT_NAME, out / OPTIMIZER_NAME, out / LOG_NAME]


def _extend_log(path: Path, staged: Path, rows: list[dict[str, float]]) -> None:
    """Write the log at ``path`` plus ``rows`` to ``staged``."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if rows:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
        if not text:
            writer.writeheader()
        writer.writerows(rows)
        text += buffer.getvalue()
    staged.write_text(text, encoding="utf-8", newline="")


def _append_log(path: Path, rows: list[dict[str, float]]) -> None:
    if not rows:
        return
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)
