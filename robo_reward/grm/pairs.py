"""Training pairs for the GRM: (reference start/end, BEFORE, AFTER) with hop and completion labels.

Progress labels come from keyframes (each subtask an equal share, linear inside) or, for
perturbed and stalled episodes, from the expert's true progress, so regress is learned from real
regress. A batch mixes three kinds of pairs, one per anchoring the tracker uses:

- incremental: two frames of one episode, at a gap drawn from log-spaced gap bins, in either time
  order (a few percent are the same frame: zero hop);
- forward: the episode's first frame as BEFORE (progress 0);
- backward: the reference demo's last frame as BEFORE (progress 1).

Candidates are drawn several times over and then resampled so hop bins are balanced. Everything
random in a batch (pairs, view dropout, augmentation parameters) is drawn from ``(seed, step)``
for the *global* batch, so data-parallel ranks slice one identical batch and a resumed run
replays the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from robo_reward.data import Trajectory, keyframe_progress
from robo_reward.grm.hop import hop_label

COMPLETE = 0.99
"""Progress at or above which a state counts as task-complete."""


@dataclass(frozen=True)
class PairConfig:
    """How training pairs are drawn."""

    forward_share: float = 0.15
    """Share of pairs whose BEFORE is the episode's first frame."""
    backward_share: float = 0.15
    """Share of pairs whose BEFORE is the reference demo's last frame."""
    zero_hop_share: float = 0.04
    """Share of pairs with BEFORE == AFTER."""
    reverse_share: float = 0.3
    """Share of incremental pairs taken backwards in time (negative hops)."""
    end_share: float = 0.1
    """Share of pairs whose AFTER is an episode's last frame (complete, or a failure's end), so
    the completion head sees enough of both."""
    gap_bins: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    """Lower edges of the time-gap bins (frames); a gap is drawn uniformly within a bin."""
    balance_pool: int = 4
    """Candidates drawn per pair before resampling to balance hop bins (1 = no balancing)."""
    view_dropout: float = 0.2
    """Probability of hiding each (role, view) image; every role keeps at least one view."""
    camera_failure: float = 0.1
    """Probability that one camera is missing for all roles of a pair."""
    augment: bool = True
    """Random shifts (up to 4 px) and colour jitter."""

    def __post_init__(self) -> None:
        for name in (
            "forward_share",
            "backward_share",
            "zero_hop_share",
            "reverse_share",
            "end_share",
            "view_dropout",
            "camera_failure",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.forward_share + self.backward_share + self.zero_hop_share > 1.0:
            raise ValueError("forward_share + backward_share + zero_hop_share must be <= 1")
        if not self.gap_bins or any(g < 1 for g in self.gap_bins):
            raise ValueError("gap_bins must be positive frame counts")
        if self.balance_pool < 1:
            raise ValueError("balance_pool must be >= 1")


@dataclass
class Episode:
    """One trajectory's frames in model view order, with its progress labels."""

    task: str
    frames: np.ndarray  # (T+1, V, H, W, 3) uint8; a missing view is zeros
    mask: np.ndarray  # (T+1, V) bool
    progress: np.ndarray  # (T+1,) float32
    is_reference: bool  # a clean successful expert demo: its start and end condition the model
    grip: np.ndarray | None = None  # (T+1, 3) grip position, when the trajectory records it

    @property
    def num_frames(self) -> int:
        return len(self.progress)


def progress_labels(traj: Trajectory) -> tuple[np.ndarray | None, str]:
    """Per-frame progress of a trajectory and where it came from.

    Keyframes win (the design's labels); else the expert's true progress; else, for a
    successful demo with neither, uniform progress over time (0 at the start, 1 at the end) —
    the labels one-shot adaptation uses until a step-discovery provider supplies keyframes.
    A failure without known progress has no labels (``None``)."""
    if traj.keyframes is not None:
        return keyframe_progress(traj.keyframes, traj.num_frames), "keyframes"
    if traj.progress is not None:
        return np.asarray(traj.progress, dtype=np.float32), "true progress"
    if traj.success:
        return np.linspace(0.0, 1.0, traj.num_frames, dtype=np.float32), "uniform (no keyframes)"
    return None, "unknown"


def episode_from_trajectory(
    traj: Trajectory, views: Sequence[str], image_size: int
) -> Episode | None:
    """Stack a trajectory's views in model order; ``None`` if its progress is unknown."""
    progress, _ = progress_labels(traj)
    if progress is None:
        return None
    if traj.num_frames < 2:
        raise ValueError("a trajectory needs at least two frames to make hop pairs")
    frames = np.zeros((traj.num_frames, len(views), image_size, image_size, 3), dtype=np.uint8)
    mask = np.zeros((traj.num_frames, len(views)), dtype=bool)
    found = False
    for index, view in enumerate(views):
        if view not in traj.frames:
            continue
        images = traj.frames[view]
        if images.shape[1:] != (image_size, image_size, 3):
            raise ValueError(
                f"view {view!r} of a {traj.task} trajectory has images of shape "
                f"{images.shape[1:]}; the model expects {(image_size, image_size, 3)}"
            )
        frames[:, index] = images
        mask[:, index] = traj.valid_mask(view)
        found = True
    if not found:
        raise ValueError(
            f"a {traj.task} trajectory has none of the model's views {list(views)} "
            f"(it has {list(traj.views)})"
        )
    is_reference = bool(traj.success and traj.keyframes is not None) or traj.variant == "recorded"
    grip = (
        traj.states[:, :3].copy()
        if traj.states.shape[1] >= 3 and traj.variant != "recorded"
        else None
    )
    return Episode(traj.task, frames, mask, progress, is_reference, grip)


@dataclass
class PairBatch:
    """A global batch: indices into the episode list, labels, and per-image randomness.

    ``references`` lists the reference episodes of the batch; images of role ``ref_start`` and
    ``ref_end`` come from them (shared by many pairs: they are encoded once).
    """

    references: np.ndarray  # (R,) episode indices
    ref_mask: np.ndarray  # (R, 2, V) bool
    ref_shift: np.ndarray  # (R, 2, V, 2) int
    ref_colour: np.ndarray  # (R, 2, V, 5) float
    reference: np.ndarray  # (B,) index into references
    before: np.ndarray  # (B, 2) (episode, frame); episode -1 = the reference's last frame
    after: np.ndarray  # (B, 2)
    mask: np.ndarray  # (B, 2, V) bool for BEFORE and AFTER
    shift: np.ndarray  # (B, 2, V, 2)
    colour: np.ndarray  # (B, 2, V, 5)
    hop: np.ndarray  # (B,) float32
    complete: np.ndarray  # (B,) float32
    kind: np.ndarray  # (B,) 0 incremental, 1 forward, 2 backward, 3 zero
    grip_known: np.ndarray  # (B, 2) whether the grip position of BEFORE/AFTER is recorded
    grip_total: float  # present images with a known grip position in the *global* batch
    global_size: int

    PER_PAIR_FIELDS: ClassVar[tuple[str, ...]] = (
        "reference",
        "before",
        "after",
        "mask",
        "shift",
        "colour",
        "hop",
        "complete",
        "kind",
        "grip_known",
    )
    """Fields with one row per pair: what a data-parallel slice cuts."""

    def __len__(self) -> int:
        return len(self.hop)

    def slice(self, rank: int, world_size: int) -> PairBatch:
        """The part of the global batch one data-parallel rank trains on."""
        if len(self) % world_size:
            raise ValueError(f"batch size {len(self)} is not divisible by {world_size} ranks")
        part = slice(rank * len(self) // world_size, (rank + 1) * len(self) // world_size)
        fields = {name: getattr(self, name)[part] for name in self.PER_PAIR_FIELDS}
        return PairBatch(
            self.references,
            self.ref_mask,
            self.ref_shift,
            self.ref_colour,
            **fields,
            grip_total=self.grip_total,
            global_size=self.global_size,
        )


class PairSampler:
    """Draws balanced, labelled pair batches from episodes of one or more tasks."""

    def __init__(self, episodes: Sequence[Episode], config: PairConfig, num_bins: int, seed: int):
        if not episodes:
            raise ValueError("no episodes with known progress to train on")
        self.episodes = list(episodes)
        self.config, self.num_bins, self.seed = config, num_bins, seed
        self.tasks = sorted({e.task for e in self.episodes})
        self._by_task = {
            t: [i for i, e in enumerate(self.episodes) if e.task == t] for t in self.tasks
        }
        self._refs_by_task = {
            t: [i for i in ids if self.episodes[i].is_reference] for t, ids in self._by_task.items()
        }
        missing = [t for t, refs in self._refs_by_task.items() if not refs]
        if missing:
            raise ValueError(
                f"no reference demo (a clean, successful, keyframed expert episode) for {missing}"
            )
        self.num_views = self.episodes[0].mask.shape[1]

    def sample(self, step: int, batch_size: int) -> PairBatch:
        rng = np.random.default_rng([self.seed, step])
        cfg, views = self.config, self.num_views
        pool = batch_size * cfg.balance_pool
        task_ids = rng.integers(len(self.tasks), size=pool)
        # One reference demo per task per batch: its images are shared and encoded once.
        refs = [int(rng.choice(self._refs_by_task[t])) for t in self.tasks]
        episode = np.array([rng.choice(self._by_task[self.tasks[t]]) for t in task_ids])
        lengths = np.array([self.episodes[e].num_frames for e in episode])
        kind = rng.choice(
            3,
            size=pool,
            p=[1 - cfg.forward_share - cfg.backward_share, cfg.forward_share, cfg.backward_share],
        )
        after = np.where(rng.uniform(size=pool) < cfg.end_share, lengths - 1, rng.integers(lengths))
        gap_bin = rng.integers(len(cfg.gap_bins), size=pool)
        lows = np.array(cfg.gap_bins)[gap_bin]
        highs = np.array([*cfg.gap_bins[1:], 2 * cfg.gap_bins[-1]])[gap_bin]
        gap = rng.integers(lows, highs)
        backwards_in_time = rng.uniform(size=pool) < cfg.reverse_share
        before = np.clip(np.where(backwards_in_time, after + gap, after - gap), 0, lengths - 1)
        before = np.where(kind == 1, 0, before)

        p_after = np.array(
            [self.episodes[e].progress[f] for e, f in zip(episode, after, strict=True)]
        )
        p_before = np.array(
            [self.episodes[e].progress[f] for e, f in zip(episode, before, strict=True)]
        )
        p_before = np.where(kind == 2, 1.0, p_before)
        hop = hop_label(p_before, p_after)

        chosen = self._balance(rng, hop, batch_size)
        task_ids, episode, kind, before, after, hop = (
            a[chosen] for a in (task_ids, episode, kind, before, after, hop)
        )
        p_after = p_after[chosen]
        # Zero-hop pairs are added after balancing, which would otherwise thin them out.
        zero = rng.uniform(size=batch_size) < cfg.zero_hop_share
        kind = np.where(zero, 3, kind)
        before = np.where(zero, after, before)
        hop = np.where(zero, 0.0, hop).astype(np.float32)
        before_episode = np.where(kind == 2, -1, episode)
        # Dropout hides a camera for BEFORE and AFTER alike and keeps one view; then images that
        # the data itself lacks are masked.
        mask = _keep_one_view(self._view_mask(rng, (batch_size, 1, views)), rng).repeat(2, axis=1)
        mask[:, 1] &= np.array(
            [self.episodes[e].mask[f] for e, f in zip(episode, after, strict=True)]
        )
        mask[:, 0] &= np.array(
            [
                self.episodes[e].mask[f] if e >= 0 else self.episodes[refs[t]].mask[-1]
                for e, f, t in zip(before_episode, before, task_ids, strict=True)
            ]
        )
        ref_mask = _keep_one_view(self._view_mask(rng, (len(refs), 2, views)), rng)
        ref_mask[:, 0] &= np.array([self.episodes[r].mask[0] for r in refs])
        ref_mask[:, 1] &= np.array([self.episodes[r].mask[-1] for r in refs])
        grip_known = np.array(
            [
                [
                    (self.episodes[refs[t]] if b < 0 else self.episodes[b]).grip is not None,
                    self.episodes[a].grip is not None,
                ]
                for b, a, t in zip(before_episode, episode, task_ids, strict=True)
            ]
        ).reshape(batch_size, 2)
        return PairBatch(
            references=np.array(refs),
            ref_mask=ref_mask,
            ref_shift=self._shifts(rng, (len(refs), 2, views)),
            ref_colour=self._colours(rng, (len(refs), 2, views)),
            reference=task_ids,
            before=np.stack([before_episode, before], 1),
            after=np.stack([episode, after], 1),
            mask=mask,
            shift=self._shifts(rng, (batch_size, 2, views)),
            colour=self._colours(rng, (batch_size, 2, views)),
            hop=hop.astype(np.float32),
            complete=(p_after >= COMPLETE).astype(np.float32),
            kind=kind,
            grip_known=grip_known,
            grip_total=float((mask & grip_known[..., None]).sum()),
            global_size=batch_size,
        )

    def _balance(self, rng: np.random.Generator, hop: np.ndarray, size: int) -> np.ndarray:
        """Indices of ``size`` candidates, resampled so every occupied hop bin is equally likely."""
        if self.config.balance_pool == 1:
            return np.arange(size)
        bins = np.rint((hop + 1.0) * (self.num_bins - 1) / 2.0).astype(int)
        counts = np.bincount(bins, minlength=self.num_bins)
        weights = 1.0 / counts[bins]
        return rng.choice(len(hop), size=size, replace=False, p=weights / weights.sum())

    def _view_mask(self, rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
        mask = rng.uniform(size=shape) >= self.config.view_dropout
        broken = rng.uniform(size=shape[0]) < self.config.camera_failure
        camera = rng.integers(shape[2], size=shape[0])
        mask[broken, :, camera[broken]] = False
        return mask

    def _shifts(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        if not self.config.augment:
            return np.zeros((*shape, 2), dtype=np.int64)
        return rng.integers(-4, 5, size=(*shape, 2))

    def _colours(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Brightness offset, contrast factor, and three channel gains per image."""
        neutral = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
        if not self.config.augment:
            return np.broadcast_to(neutral, (*shape, 5)).copy()
        low = np.array([-0.08, 0.85, 0.92, 0.92, 0.92])
        high = np.array([0.08, 1.15, 1.08, 1.08, 1.08])
        return rng.uniform(low, high, size=(*shape, 5))


def _keep_one_view(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give back one random view to every (item, role) that lost all of them."""
    empty = ~mask.any(axis=-1)
    if empty.any():
        items, roles = np.nonzero(empty)
        mask[items, roles, rng.integers(mask.shape[-1], size=len(items))] = True
    return mask


def load_episodes(
    paths: Sequence[str], views: Sequence[str], image_size: int, tasks: Sequence[str] | None = None
) -> tuple[list[Episode], dict[str, dict[str, int]]]:
    """Episodes with known progress from trajectory files or dataset directories, and a count
    per task of what was used and what was skipped (progress unknown)."""
    from robo_reward.data import load_trajectories

    episodes: list[Episode] = []
    summary: dict[str, dict[str, int]] = {}
    for path in paths:
        for traj in load_trajectories(path):
            if tasks is not None and traj.task not in tasks:
                continue
            counts = summary.setdefault(traj.task, {"used": 0, "skipped": 0, "references": 0})
            episode = episode_from_trajectory(traj, views, image_size)
            if episode is None:
                counts["skipped"] += 1
                continue
            counts["used"] += 1
            counts["references"] += int(episode.is_reference)
            episodes.append(episode)
    return episodes, summary
