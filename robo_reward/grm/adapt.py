"""One-shot adaptation: fine-tune the general GRM on hop pairs from a single demonstration.

The demo is both the training data and the reference (its first and last frames condition the
model). Progress labels come from its keyframes; a demo without keyframes (e.g. a recording
from a real robot) gets them from perceptual step discovery when ``discovered_steps`` > 0
(exact variance-minimal steps over the GRM's own image embeddings), otherwise uniform progress
over time, 0 at the first frame and 1 at the last.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from robo_reward.data import Trajectory
from robo_reward.grm.checkpoint import default_checkpoint, load_grm
from robo_reward.grm.pairs import PairConfig, episode_from_trajectory, progress_labels
from robo_reward.grm.train import TrainConfig, TrainResult, train_grm


@dataclass(frozen=True)
class AdaptConfig:
    """How ``robo-reward adapt`` fine-tunes."""

    checkpoint: str = ""
    """General checkpoint to start from (empty: the one shipped in the package)."""
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=250,
            batch_size=32,
            lr=3e-4,
            warmup_steps=20,
            checkpoint_every=250,
            log_every=25,
            grip_weight=0.0,
        )
    )
    pairs: PairConfig = field(default_factory=PairConfig)
    discovered_steps: int = 0
    """Keyframes for a demo that has none: this many discovered steps (0: uniform progress)."""

    def __post_init__(self) -> None:
        if self.discovered_steps < 0:
            raise ValueError(f"discovered_steps must be >= 0, got {self.discovered_steps}")


@dataclass(frozen=True)
class AdaptResult:
    train: TrainResult
    labels: str
    """Where the progress labels came from: keyframes, true progress, or uniform."""
    frames: int


def adapt(
    demo: Trajectory,
    out_dir: str | Path,
    config: AdaptConfig = AdaptConfig(),
    progress: bool = True,
) -> AdaptResult:
    """Fine-tune on one successful demo; writes ``out_dir/grm.safetensors``."""
    if not demo.success:
        raise ValueError("one-shot adaptation needs a successful demonstration")
    if demo.num_frames < 2:
        raise ValueError("the demonstration has fewer than two frames")
    checkpoint = config.checkpoint or str(default_checkpoint())
    general = load_grm(checkpoint)
    discovered = None
    if demo.keyframes is None and demo.progress is None and config.discovered_steps:
        from robo_reward.perceptual.features import FrameFeatures
        from robo_reward.perceptual.reward import PerceptualConfig, discovery_keyframes

        features = FrameFeatures("grm", checkpoint, general.config.views)
        discovered = discovery_keyframes(
            features.trajectory(demo),
            config.discovered_steps,
            PerceptualConfig(steps=config.discovered_steps, features="grm"),
        )
        demo = replace(demo, keyframes=discovered, subtask_labels=None)
    labels, source = progress_labels(demo)
    if discovered is not None:
        source = f"discovered steps {list(discovered)}"
    episode = episode_from_trajectory(demo, general.config.views, general.config.image_size)
    assert episode is not None and labels is not None  # a successful demo always has labels
    episode = replace(episode, is_reference=True)
    extra = {
        "purpose": "one-shot adaptation",
        "base_checkpoint": str(checkpoint),
        "demo_task": demo.task,
        "demo_frames": demo.num_frames,
        "labels": source,
    }
    result = train_grm(
        [episode],
        out_dir,
        general.config,
        config.train,
        config.pairs,
        init_checkpoint=checkpoint,
        extra=extra,
        progress=progress,
    )
    return AdaptResult(result, source, demo.num_frames)
