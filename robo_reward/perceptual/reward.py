"""Perceptual reward from a few demonstrations (Sermanet, Xu & Levine 2017).

Fitting (:func:`fit_perceptual_reward`):

1. **Features**: per-frame image embeddings of every view (:mod:`robo_reward.perceptual.features`),
   standardised with the demos' mean and standard deviation so that features are comparable.
2. **Steps**: each demo is split into ``steps`` contiguous steps of minimal within-step variance,
   exactly (:func:`~robo_reward.perceptual.steps.discover_steps`).
3. **Feature choice** (paper eq. 1): for step ``i``, the frames of step ``i`` of every demo are the
   positives and all other frames the negatives; feature ``j`` scores
   ``α|μ⁺ − μ⁻| − (σ⁺ + σ⁻)`` (α = 5) and the top ``n`` (32) features are kept.
4. **Per-step model**: the positives' mean and standard deviation of the kept features.

Reading (:meth:`PerceptualReward.progress`): a frame's closeness to step ``i`` is the mean squared
z-score of its kept features, ``d_i = mean_j ((x_j − μ⁺_ij) / σ⁺_ij)²``; the step memberships are
``softmax(−d_i / 2)`` (a diagonal-Gaussian classifier with equal priors). Steps are ordered, and
later steps are worth more: step ``i`` (0-based) stands for progress ``i / n`` at its start and
``(i + 1) / n`` at its end. Inside a step, progress is the frame's position between the step's
start and end appearance (the projection of its kept features onto the line between the mean of
the step's first and last frames, clipped to the step). The potential is the membership-weighted
sum, in [0, 1]: a frame that looks like the end of the last step reads 1.

The within-step term is ours: the paper sums the per-step scores with weights ``2^(i-1)``, which
orders the steps but is flat inside each one and does not reach a known value at the goal; a
potential for shaping needs both. ``within_step=False`` gives the staircase alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from robo_reward.checkpoints import CheckpointError, load_weights, save_weights
from robo_reward.config import ConfigError, config_from_dict
from robo_reward.data import Trajectory
from robo_reward.perceptual.features import FEATURE_SOURCES, FeatureSource, FrameFeatures
from robo_reward.perceptual.steps import (
    OBJECTIVES,
    Objective,
    discover_steps,
    motion_features,
    step_segments,
)

KIND = "perceptual_reward"
_STD_FLOOR = 1e-3
"""Standard deviations below this (of standardised features) are floored: a feature that is
constant within a step would otherwise make every other value infinitely far."""


@dataclass(frozen=True)
class PerceptualConfig:
    """How ``robo-reward perceptual fit`` builds a reward."""

    steps: int = 3
    """Steps each demo is split into."""
    min_step_length: int = 3
    """Fewest frames in a step."""
    objective: Objective = "sse"
    """Step-discovery cost: sse (summed squared deviation) or variance (per-step mean)."""
    discovery: Literal["appearance", "motion"] = "appearance"
    """What steps are homogeneous in: appearance (the features, as in the paper) or motion (their
    frame-to-frame change: cuts where the motion changes)."""
    smoothing: int = 3
    """Moving-average window (frames) before motion features are taken."""
    top_features: int = 32
    """Features kept per step (the paper's n = 32)."""
    alpha: float = 5.0
    """Weight of the mean separation in the feature score (the paper's α = 5)."""
    features: FeatureSource = "grm"
    """Image features: grm (the GRM's encoder) or tcn (the project's time-contrastive encoder).
    grm is the default: it gave the better step discovery and progress on the training tasks
    (docs/benchmarks/perceptual/results.md)."""
    checkpoint: str = ""
    """Encoder checkpoint (empty: the one shipped in the package)."""
    views: tuple[str, ...] = ("front", "side", "wrist")
    """Camera views whose embeddings are concatenated."""
    within_step: bool = True
    """Progress inside a step (ours); False: the paper's staircase over steps."""
    edge_fraction: float = 0.2
    """Share of a step's frames at each end that define its start and end appearance."""

    def __post_init__(self) -> None:
        for name in ("steps", "min_step_length", "top_features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.min_step_length < 2:
            raise ValueError(f"min_step_length must be >= 2, got {self.min_step_length}")
        if self.discovery not in ("appearance", "motion"):
            raise ValueError(f"discovery must be appearance or motion, got {self.discovery!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.features not in FEATURE_SOURCES:
            raise ValueError(f"features must be one of {FEATURE_SOURCES}, got {self.features!r}")
        if not np.isfinite(self.alpha) or self.alpha < 0:
            raise ValueError(f"alpha must be finite and >= 0, got {self.alpha}")
        if not 0.0 < self.edge_fraction <= 0.5:
            raise ValueError(f"edge_fraction must be in (0, 0.5], got {self.edge_fraction}")
        if not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must be distinct and non-empty, got {self.views}")


def feature_scores(positives: np.ndarray, negatives: np.ndarray, alpha: float = 5.0) -> np.ndarray:
    """The paper's per-feature separation score ``α|μ⁺ − μ⁻| − (σ⁺ + σ⁻)``."""
    return alpha * np.abs(positives.mean(0) - negatives.mean(0)) - (
        positives.std(0) + negatives.std(0)
    )


@dataclass(frozen=True)
class StepModel:
    """What is kept of one step: its features and their statistics."""

    features: np.ndarray
    """int (n,): indices of the kept features."""
    mean: np.ndarray
    """(n,) mean of the kept features over the step's frames."""
    std: np.ndarray
    """(n,) their standard deviation (floored)."""
    start: np.ndarray
    """(n,) mean of the kept features over the step's first frames."""
    end: np.ndarray
    """(n,) ... and over its last frames."""


class PerceptualReward:
    """A fitted perceptual reward: progress in [0, 1] from camera frames (see the module doc)."""

    def __init__(
        self,
        config: PerceptualConfig,
        feature_mean: np.ndarray,
        feature_std: np.ndarray,
        steps: Sequence[StepModel],
        task: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if len(steps) != config.steps:
            raise ValueError(f"{len(steps)} step models for a {config.steps}-step config")
        self.config = config
        self.feature_mean = np.asarray(feature_mean, np.float64)
        self.feature_std = np.asarray(feature_std, np.float64)
        self.steps = tuple(steps)
        self.task = task
        self.extra = dict(extra or {})
        self._features: FrameFeatures | None = None

    # ------------------------------------------------------------------ reading
    @property
    def encoder(self) -> FrameFeatures:
        """The image encoder (loaded on first use)."""
        if self._features is None:
            self._features = FrameFeatures(
                self.config.features, self.config.checkpoint, self.config.views
            )
        return self._features

    def standardise(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or x.shape[1] != self.feature_mean.shape[0]:
            raise ValueError(
                f"expected features (frames, {self.feature_mean.shape[0]}), got {x.shape}"
            )
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or infinite values")
        return (x - self.feature_mean) / self.feature_std

    def memberships(self, features: np.ndarray) -> np.ndarray:
        """(T, steps): the probability of each step for each frame."""
        z = self.standardise(features)
        distances = np.stack(
            [(((z[:, s.features] - s.mean) / s.std) ** 2).mean(1) for s in self.steps], axis=1
        )
        logits = -0.5 * distances
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def within_step(self, features: np.ndarray) -> np.ndarray:
        """(T, steps): each frame's position in [0, 1] between each step's start and end."""
        z = self.standardise(features)
        columns = []
        for s in self.steps:
            direction = s.end - s.start
            length = float(direction @ direction)
            if length <= 1e-12:
                columns.append(np.full(len(z), 0.5))
                continue
            columns.append(np.clip((z[:, s.features] - s.start) @ direction / length, 0.0, 1.0))
        return np.stack(columns, axis=1)

    def progress_from_features(self, features: np.ndarray) -> np.ndarray:
        """float (T,): progress in [0, 1] of frames given as raw (unstandardised) features."""
        members = self.memberships(features)
        offsets = np.arange(self.config.steps, dtype=np.float64)
        inside = self.within_step(features) if self.config.within_step else 0.5
        value = (members * (offsets + inside)).sum(axis=1) / self.config.steps
        return np.clip(value, 0.0, 1.0)  # only round-off can leave [0, 1]

    def progress(self, frames: Mapping[str, np.ndarray]) -> np.ndarray:
        """Progress of a stack of frames ``{view: uint8 (T, H, W, 3)}``."""
        return self.progress_from_features(self.encoder.frames(frames))

    def trajectory_progress(self, trajectory: Trajectory) -> np.ndarray:
        return self.progress_from_features(self.encoder.trajectory(trajectory))

    def __call__(self, observation: Mapping[str, np.ndarray]) -> float:
        """Φ of one camera observation ``{view: uint8 (H, W, 3)}``."""
        return float(self.progress_from_features(self.encoder.observation(observation)[None])[0])

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        tensors = {
            "feature_mean": torch.from_numpy(self.feature_mean.copy()),
            "feature_std": torch.from_numpy(self.feature_std.copy()),
        }
        for index, step in enumerate(self.steps):
            for name in ("features", "mean", "std", "start", "end"):
                tensors[f"step{index}.{name}"] = torch.from_numpy(
                    np.ascontiguousarray(getattr(step, name))
                )
        extra = {"task": self.task, **self.extra}
        return save_weights(path, tensors, kind=KIND, config=asdict(self.config), extra=extra)

    @classmethod
    def load(cls, path: str | Path) -> PerceptualReward:
        loaded = load_weights(path, kind=KIND)
        try:
            config = config_from_dict(PerceptualConfig, loaded.config, source=str(path))
        except (ConfigError, ValueError) as error:
            raise CheckpointError(
                f"{path}: the stored perceptual config is invalid: {error}"
            ) from error
        t = {name: tensor.numpy() for name, tensor in loaded.tensors.items()}
        try:
            steps = [
                StepModel(
                    **{n: t[f"step{i}.{n}"] for n in ("features", "mean", "std", "start", "end")}
                )
                for i in range(config.steps)
            ]
            mean, std = t["feature_mean"], t["feature_std"]
        except KeyError as error:
            raise CheckpointError(f"{path}: missing tensor {error}") from error
        width = mean.shape[0]
        if std.shape != (width,) or any(
            s.features.min() < 0 or s.features.max() >= width for s in steps
        ):
            raise CheckpointError(f"{path}: the stored statistics do not fit together")
        extra = dict(loaded.extra)
        task = str(extra.pop("task", ""))
        return cls(config, mean, std, steps, task, extra)


def _check_demos(demos: Sequence[Trajectory], config: PerceptualConfig) -> None:
    if not demos:
        raise ValueError("no demonstrations given")
    if len(demos) < config.steps:
        raise ValueError(
            f"{len(demos)} demonstration(s) for {config.steps} steps: fitting needs at least as "
            "many demos as steps (each step's feature statistics need several examples); record "
            "more demos or ask for fewer steps"
        )
    tasks = sorted({demo.task for demo in demos})
    if len(tasks) > 1:
        raise ValueError(f"the demonstrations mix tasks {tasks}; fit one reward per task")
    for index, demo in enumerate(demos):
        if demo.num_frames < config.steps * config.min_step_length:
            raise ValueError(
                f"demo {index} has {demo.num_frames} frames, fewer than {config.steps} steps × "
                f"{config.min_step_length} frames"
            )


def fit_perceptual_reward(
    demos: Sequence[Trajectory],
    config: PerceptualConfig = PerceptualConfig(),
    features: FrameFeatures | None = None,
) -> PerceptualReward:
    """Discover steps in each demo, choose features per step, and return the reward."""
    _check_demos(demos, config)
    encoder = features or FrameFeatures(config.features, config.checkpoint, config.views)
    raw = [encoder.trajectory(demo) for demo in demos]
    for index, x in enumerate(raw):
        if np.ptp(x, axis=0).max() == 0:
            raise ValueError(
                f"demo {index} has identical features in every frame (a frozen camera?); "
                "nothing to discover steps from"
            )
    return fit_from_features(raw, config, demos[0].task, encoder=encoder)


def discovery_keyframes(
    features: np.ndarray, num_steps: int, config: PerceptualConfig
) -> tuple[int, ...]:
    """Steps of one demo from its raw features: standardised within the demo, then (for motion
    discovery) differenced, then split exactly."""
    x = np.asarray(features, np.float64)
    z = (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)
    if config.discovery == "motion":
        z = motion_features(z, config.smoothing)
    return discover_steps(z, num_steps, config.min_step_length, config.objective)


def fit_from_features(
    raw: Sequence[np.ndarray],
    config: PerceptualConfig,
    task: str = "",
    encoder: FrameFeatures | None = None,
) -> PerceptualReward:
    """The fit on precomputed raw features (one ``(T, D)`` array per demo)."""
    pooled = np.concatenate(raw)
    mean = pooled.mean(0)
    std = np.maximum(pooled.std(0), 1e-6)
    standardised = [(x - mean) / std for x in raw]
    keyframes = [discovery_keyframes(x, config.steps, config) for x in raw]
    labels = []
    for z, keys in zip(standardised, keyframes, strict=True):
        label = np.empty(len(z), dtype=np.int64)
        for step, frames in enumerate(step_segments(keys, len(z))):
            label[frames] = step
        labels.append(label)
    z_all, label_all = np.concatenate(standardised), np.concatenate(labels)
    top = min(config.top_features, z_all.shape[1])
    steps = []
    for step in range(config.steps):
        positives, negatives = z_all[label_all == step], z_all[label_all != step]
        if len(negatives) == 0:  # one step: every frame is a positive
            chosen = np.argsort(-positives.std(0))[:top]
        else:
            chosen = np.argsort(-feature_scores(positives, negatives, config.alpha))[:top]
        chosen = np.sort(chosen)
        starts, ends = [], []
        for z, label in zip(standardised, labels, strict=True):
            frames = np.flatnonzero(label == step)
            edge = max(1, int(round(config.edge_fraction * len(frames))))
            starts.append(z[frames[:edge]][:, chosen])
            ends.append(z[frames[-edge:]][:, chosen])
        steps.append(
            StepModel(
                features=chosen.astype(np.int64),
                mean=positives[:, chosen].mean(0),
                std=np.maximum(positives[:, chosen].std(0), _STD_FLOOR),
                start=np.concatenate(starts).mean(0),
                end=np.concatenate(ends).mean(0),
            )
        )
    extra = {
        "demos": len(raw),
        "demo_keyframes": json.loads(json.dumps([list(k) for k in keyframes])),
    }
    reward = PerceptualReward(config, mean, std, steps, task, extra)
    if encoder is not None:
        reward._features = encoder
    return reward
