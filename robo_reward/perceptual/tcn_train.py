"""``robo-reward encoder train``: the multi-view time-contrastive encoder, from simulation videos.

Reference: Sermanet et al., "Time-Contrastive Networks" (ICRA 2018), multi-view variant. A batch
is a set of *moments* (episode, t). For each moment two distinct cameras a != b are drawn: the
view-a image is the anchor, the view-b image of the same moment its positive, and the other
moments of the batch are the negatives. A batch holds a few episodes with several moments each,
at least ``min_negative_gap`` frames apart, so most negatives are the hard ones TCN is about:
the same scene, filmed by the same camera, at another time. The loss is the symmetric
multi-view n-pairs / InfoNCE loss on L2-normalised embeddings (a -> b and b -> a), which uses
every negative of the batch at once instead of the paper's one triplet per anchor.

Validation: a few episodes per dataset never trained on. The *multi-view alignment error* of the
paper: for each frame of view a, its nearest neighbour (embedding space) among the frames of
view b of the same episode; the error is mean ``|t_nn - t| / T`` (T = number of steps), averaged
over ordered view pairs and episodes. 0 is perfect; a random nearest neighbour gives about 1/3.
The same metric for the encoder at initialisation is the baseline.

The shipped encoder (``robo_reward/perceptual/weights/tcn_general.safetensors``, 1.4 MB, made by
``make tcn-pretrain`` with ``configs/encoder/default.yaml`` on the four training tasks of
``make grm-data``; stack and button_press stay held out): 4000 steps of 64 moments, 7.4 minutes
wall time on 2 CPU cores shared with other jobs (one torch thread). Validation alignment error
on 16 held-out episodes (4 per task): 0.242 trained vs 0.390 at random initialisation; by task
drawer_open 0.155, push 0.209, pick_place 0.213, reach 0.392. Expert episodes align well
(0.06-0.17); failure episodes, where the arm stalls and many frames look alike, stay near chance
(0.31-0.46), and three of the four (long enough) reach validation episodes are failures.
Third-person pairs align best (front<->side 0.20); pairs with the wrist camera 0.26-0.27. The
validation error levels off after about 2500 steps while the training loss keeps falling.
"""

from __future__ import annotations

import csv
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from robo_reward.config import config_to_dict
from robo_reward.data import DatasetReader, Trajectory
from robo_reward.data.atomic import atomic_write_json
from robo_reward.grm.augment import PAD, augment_images
from robo_reward.grm.pretrain import DEFAULT_HELD_OUT
from robo_reward.perceptual.tcn import TCNConfig, TCNEncoder, save_tcn

__all__ = [
    "CHECKPOINT_NAME",
    "LOG_NAME",
    "METRICS_NAME",
    "TCNPretrainConfig",
    "TCNTrainConfig",
    "TCNTrainResult",
    "alignment_error",
    "multiview_infonce",
    "sample_moments",
    "train_tcn",
]

CHECKPOINT_NAME = "tcn.safetensors"
LOG_NAME = "train_log.csv"
METRICS_NAME = "metrics.json"


@dataclass(frozen=True)
class TCNTrainConfig:
    """Optimisation and sampling settings of TCN training (CleanRL-style: every knob here)."""

    steps: int = 4000
    """Optimiser steps."""
    batch_size: int = 64
    """Moments per batch (each gives two images: an anchor and its positive)."""
    moments_per_episode: int = 8
    """Moments drawn from one episode; its other-time frames are the hard negatives."""
    min_negative_gap: int = 4
    """Frames between two moments of the same episode in a batch, so a negative is not in fact
    the same moment (consecutive frames can look identical)."""
    lr: float = 1e-3
    """Peak learning rate (AdamW), after a linear warm-up, cosine-decayed to 10%."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    temperature: float = 0.1
    """Softmax temperature on cosine similarities."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    augment: bool = True
    """Random shifts (up to 4 px) and colour jitter, drawn independently per image."""
    val_episodes: int = 4
    """Episodes per dataset held out for the alignment error (0: no validation)."""
    min_val_frames: int = 20
    """Only episodes at least this long are validation candidates (short ones say little)."""
    seed: int = 0
    """Seeds the initialisation, the validation split and every batch."""
    threads: int = 0
    """torch intra-op threads (0: torch's default)."""
    log_every: int = 500
    """Steps between log rows (mean loss since the last row, plus the validation error)."""
    checkpoint_every: int = 1000
    """Steps between checkpoints (and one at the end)."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "moments_per_episode", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2: the other moments are the negatives")
        if self.min_negative_gap < 1:
            raise ValueError(f"min_negative_gap must be >= 1 frame, got {self.min_negative_gap}")
        for name in ("lr", "temperature", "grad_clip"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("warmup_steps", "val_episodes", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.min_val_frames < 2:
            raise ValueError(f"min_val_frames must be >= 2, got {self.min_val_frames}")


@dataclass(frozen=True)
class TCNPretrainConfig:
    """What a ``configs/encoder/*.yaml`` preset holds: the architecture and the training."""

    model: TCNConfig = field(default_factory=TCNConfig)
    train: TCNTrainConfig = field(default_factory=TCNTrainConfig)


@dataclass(frozen=True)
class TCNTrainResult:
    steps: int
    seconds: float
    final_loss: float
    """Mean loss over the last log window."""
    checkpoint: Path
    metrics: Path
    """The JSON summary (``metrics.json``); the loss curve is in ``train_log.csv``."""
    alignment_error: float | None
    """Validation multi-view alignment error of the trained encoder (None: no validation)."""
    random_alignment_error: float | None
    """The same for the encoder at initialisation."""


# --------------------------------------------------------------------------- data


def _load_datasets(
    datasets: Sequence[str | Path], image_size: int, allow_held_out: bool
) -> list[tuple[str, list[Trajectory]]]:
    """``(task, trajectories)`` per dataset, every check done before any training starts."""
    if isinstance(datasets, (str, Path)) or not datasets:
        raise ValueError("give a non-empty list of dataset directories to train the encoder on")
    readers: list[DatasetReader] = []
    for path in map(Path, datasets):
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: no such dataset directory (the training sets are made by `make grm-data`)"
            )
        reader = DatasetReader(path)
        if reader.task in DEFAULT_HELD_OUT and not allow_held_out:
            raise ValueError(
                f"{path} holds {reader.task!r} episodes, a held-out task "
                f"({', '.join(DEFAULT_HELD_OUT)}) the encoder is evaluated on; train on other "
                "tasks, or pass allow_held_out=True (--allow-held-out) on purpose"
            )
        if len(reader) == 0:
            raise ValueError(f"{path}: the dataset holds no episodes")
        readers.append(reader)
    loaded = []
    for reader in readers:
        trajectories = list(reader)
        for index, traj in enumerate(trajectories):
            if len(traj.views) < 2:
                raise ValueError(
                    f"{reader.path}: episode {index} has {len(traj.views)} camera view(s) "
                    f"{list(traj.views)}; multi-view TCN training needs at least 2"
                )
            for view in traj.views:
                shape = traj.frames[view].shape[1:3]
                if shape != (image_size, image_size):
                    raise ValueError(
                        f"{reader.path}: episode {index} view {view!r} is {shape[0]}x{shape[1]}, "
                        f"the encoder takes {image_size}x{image_size}; set model.image_size or "
                        "regenerate the data at that size"
                    )
        loaded.append((reader.task, trajectories))
    return loaded


def _multi_view_times(traj: Trajectory) -> np.ndarray:
    """Frame indices at which at least two cameras have an image."""
    valid = np.stack([traj.valid_mask(view) for view in traj.views])
    return np.flatnonzero(valid.sum(0) >= 2)


def _split(
    loaded: list[tuple[str, list[Trajectory]]], config: TCNTrainConfig
) -> tuple[list[list[int]], list[int], list[Trajectory], list[np.ndarray]]:
    """Training episode ids per dataset, validation ids, the flat episode list and each
    episode's multi-view times. Validation episodes are drawn (seeded) among the long ones."""
    rng = np.random.default_rng([config.seed, 1])
    episodes: list[Trajectory] = []
    train_ids: list[list[int]] = []
    val_ids: list[int] = []
    for _, trajectories in loaded:
        first = len(episodes)
        episodes.extend(trajectories)
        ids = np.arange(first, len(episodes))
        long = [i for i in ids if episodes[i].num_frames >= config.min_val_frames]
        chosen = set(rng.permutation(long)[: config.val_episodes].tolist()) if long else set()
        val_ids.extend(sorted(chosen))
        train_ids.append([int(i) for i in ids if i not in chosen])
    times = [_multi_view_times(traj) for traj in episodes]
    if sum(len(times[i]) for ids in train_ids for i in ids) < 2:
        raise ValueError(
            "the training episodes hold fewer than 2 moments seen by two cameras; "
            "give more data (or fewer val_episodes)"
        )
    return train_ids, val_ids, episodes, times


def _spaced(times: np.ndarray, count: int, gap: int, rng: np.random.Generator) -> list[int]:
    """Up to ``count`` random entries of ``times``, pairwise at least ``gap`` apart."""
    chosen: list[int] = []
    for t in rng.permutation(times):
        if all(abs(int(t) - s) >= gap for s in chosen):
            chosen.append(int(t))
            if len(chosen) == count:
                break
    return chosen


def sample_moments(
    train_ids: Sequence[Sequence[int]],
    episodes: Sequence[Trajectory],
    times: Sequence[np.ndarray],
    config: TCNTrainConfig,
    rng: np.random.Generator,
) -> list[tuple[int, int, str, str]]:
    """A batch of ``(episode, t, view_a, view_b)`` moments: datasets drawn uniformly (so short
    reach episodes count as much as long pick-and-place ones), distinct episodes, up to
    ``moments_per_episode`` spaced moments each. Smaller than ``batch_size`` only when the data
    runs out of episodes."""
    moments: list[tuple[int, int, str, str]] = []
    used: set[int] = set()
    groups = [ids for ids in train_ids if ids]
    tries = 0
    while len(moments) < config.batch_size and tries < 50 * config.batch_size:
        tries += 1
        ids = groups[int(rng.integers(len(groups)))]
        episode = int(ids[int(rng.integers(len(ids)))])
        if episode in used or not len(times[episode]):
            continue
        used.add(episode)
        traj = episodes[episode]
        count = min(config.moments_per_episode, config.batch_size - len(moments))
        for t in _spaced(times[episode], count, config.min_negative_gap, rng):
            views = [v for v in traj.views if traj.valid_mask(v)[t]]
            a, b = rng.choice(len(views), size=2, replace=False)
            moments.append((episode, t, views[int(a)], views[int(b)]))
    return moments


def _batch_images(
    moments: Sequence[tuple[int, int, str, str]],
    episodes: Sequence[Trajectory],
    augment: bool,
    rng: np.random.Generator,
) -> torch.Tensor:
    """``(2B, H, W, 3)`` uint8: the B anchors (view a), then the B positives (view b)."""
    anchors = [episodes[e].frames[a][t] for e, t, a, _ in moments]
    positives = [episodes[e].frames[b][t] for e, t, _, b in moments]
    images = torch.from_numpy(np.stack(anchors + positives))
    if not augment:
        return images
    n = len(images)
    shift = torch.from_numpy(rng.integers(-PAD, PAD + 1, size=(n, 2)))
    low = np.array([-0.08, 0.85, 0.92, 0.92, 0.92])
    high = np.array([0.08, 1.15, 1.08, 1.08, 1.08])
    colour = torch.from_numpy(rng.uniform(low, high, size=(n, 5))).float()
    return augment_images(images, shift, colour)


# --------------------------------------------------------------------------- loss and metric


def multiview_infonce(
    anchors: torch.Tensor, positives: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric multi-view n-pairs / InfoNCE loss on ``(B, D)`` embeddings (row i of each is
    the same moment seen by two cameras); returns the loss and the top-1 accuracy of finding
    the positive among the batch, both directions averaged."""
    a = F.normalize(anchors, dim=-1)
    b = F.normalize(positives, dim=-1)
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    with torch.no_grad():
        accuracy = 0.5 * (
            (logits.argmax(1) == target).float().mean()
            + (logits.argmax(0) == target).float().mean()
        )
    return loss, accuracy


def alignment_error(
    encoder: TCNEncoder, trajectories: Sequence[Trajectory], batch_size: int = 256
) -> dict[str, Any]:
    """Multi-view alignment error (TCN paper, Sec. IV): per episode and ordered view pair
    (a, b), mean ``|t_nn - t| / T`` where ``t_nn`` is the frame of view b nearest (cosine) to
    frame t of view a. Returns the mean over episodes (``"mean"``; NaN with no episodes) and
    breakdowns by task and by view pair."""
    per_episode: list[float] = []
    by_task: dict[str, list[float]] = defaultdict(list)
    by_pair: dict[str, list[float]] = defaultdict(list)
    for traj in trajectories:
        index = {v: np.flatnonzero(traj.valid_mask(v)) for v in traj.views}
        embedded = {
            v: encoder.embed(np.asarray(traj.frames[v])[idx], batch_size)
            for v, idx in index.items()
            if len(idx)
        }
        errors = []
        for a in embedded:
            for b in embedded:
                if a == b:
                    continue
                nearest = index[b][(embedded[a] @ embedded[b].T).argmax(1)]
                error = float(np.abs(nearest - index[a]).mean() / traj.num_steps)
                by_pair[f"{a}->{b}"].append(error)
                errors.append(error)
        if errors:
            per_episode.append(float(np.mean(errors)))
            by_task[traj.task].append(per_episode[-1])
    return {
        "mean": float(np.mean(per_episode)) if per_episode else float("nan"),
        "episodes": len(per_episode),
        "by_task": {k: float(np.mean(v)) for k, v in sorted(by_task.items())},
        "by_view_pair": {k: float(np.mean(v)) for k, v in sorted(by_pair.items())},
    }


# --------------------------------------------------------------------------- training


def learning_rate(step: int, config: TCNTrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def train_tcn(
    datasets: Sequence[str | Path],
    out_dir: str | Path,
    model_config: TCNConfig | None = None,
    train_config: TCNTrainConfig | None = None,
    progress: bool = True,
    allow_held_out: bool = False,
) -> TCNTrainResult:
    """Train a TCN encoder on the episodes of ``datasets`` (dataset directories); writes
    ``out_dir/tcn.safetensors`` (atomically), ``train_log.csv`` and ``metrics.json``.

    Datasets of the held-out tasks (stack, button_press) are refused unless ``allow_held_out``:
    the encoder's features are evaluated on them.
    """
    model_config = model_config or TCNConfig()
    config = train_config or TCNTrainConfig()
    loaded = _load_datasets(datasets, model_config.image_size, allow_held_out)
    train_ids, val_ids, episodes, times = _split(loaded, config)
    validation = [episodes[i] for i in val_ids]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / CHECKPOINT_NAME
    log_path = out / LOG_NAME
    log_path.unlink(missing_ok=True)

    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        torch.manual_seed(config.seed)
        encoder = TCNEncoder(model_config)
        optimizer = torch.optim.AdamW(
            encoder.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        random_metrics = alignment_error(encoder, validation)
        data_summary = {
            task: {
                "episodes": len(trajs),
                "validation": sum(episodes[i].task == task for i in val_ids),
            }
            for task, trajs in loaded
        }
        extra: dict[str, Any] = {
            "purpose": "general",
            "data": [str(p) for p in datasets],
            "data_summary": data_summary,
            "held_out_tasks": [] if allow_held_out else list(DEFAULT_HELD_OUT),
            "train": asdict(config),
            "random_alignment_error": _json_float(random_metrics["mean"]),
        }

        started = time.perf_counter()
        window: list[tuple[float, float]] = []
        final_loss = float("nan")
        val_metrics = random_metrics
        bar = tqdm(range(config.steps), desc="tcn train", unit="step", disable=not progress)
        encoder.train()
        for step in bar:
            rng = np.random.default_rng([config.seed, 2, step])
            moments = sample_moments(train_ids, episodes, times, config, rng)
            images = _batch_images(moments, episodes, config.augment, rng)
            embeddings = encoder(images)
            anchors, positives = embeddings.split(len(moments))
            loss, accuracy = multiview_infonce(anchors, positives, config.temperature)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(encoder.parameters(), config.grad_clip)
            optimizer.step()
            window.append((float(loss.detach()), float(accuracy)))

            last = step == config.steps - 1
            if (step + 1) % config.log_every == 0 or last:
                final_loss = float(np.mean([w[0] for w in window]))
                val_metrics = alignment_error(encoder, validation)
                encoder.train()
                row = {
                    "step": step,
                    "lr": learning_rate(step, config),
                    "seconds": time.perf_counter() - started,
                    "loss": final_loss,
                    "accuracy": float(np.mean([w[1] for w in window])),
                    "val_alignment_error": val_metrics["mean"],
                    "random_alignment_error": random_metrics["mean"],
                }
                _append_log(log_path, row)
                bar.set_postfix(loss=f"{final_loss:.3f}", align=f"{val_metrics['mean']:.3f}")
                window = []
            if (step + 1) % config.checkpoint_every == 0 or last:
                save_tcn(
                    checkpoint,
                    encoder,
                    {**extra, "step": step, "alignment_error": _json_float(val_metrics["mean"])},
                )
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(previous_threads)

    metrics = {
        "steps": config.steps,
        "seconds": seconds,
        "final_loss": _json_float(final_loss),
        "validation": {
            "trained": _jsonable(val_metrics),
            "random_init": _jsonable(random_metrics),
            "episodes": [{"task": episodes[i].task, "seed": episodes[i].seed} for i in val_ids],
        },
        "data_summary": data_summary,
        "data": [str(p) for p in datasets],
        "model": config_to_dict(model_config),
        "train": config_to_dict(config),
        "checkpoint": str(checkpoint),
    }
    metrics_path = out / METRICS_NAME
    atomic_write_json(metrics_path, metrics)
    return TCNTrainResult(
        steps=config.steps,
        seconds=seconds,
        final_loss=final_loss,
        checkpoint=checkpoint,
        metrics=metrics_path,
        alignment_error=_json_float(val_metrics["mean"]),
        random_alignment_error=_json_float(random_metrics["mean"]),
    )


def _jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {**metrics, "mean": _json_float(metrics["mean"])}


def _append_log(path: Path, row: dict[str, float]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
