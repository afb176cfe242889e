"""Per-frame image features for perceptual rewards: one embedding per camera view, concatenated.

Two encoders are available, both trained in the project (no pretrained vision weights can be
downloaded on these machines): the multi-view time-contrastive encoder (``"tcn"``,
:mod:`robo_reward.perceptual.tcn`) and the GRM's image encoder (``"grm"``). The paper used
ImageNet Inception activations; the choice is recorded in every fitted reward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch

from robo_reward.data import Trajectory

FeatureSource = Literal["tcn", "grm"]
FEATURE_SOURCES: tuple[FeatureSource, ...] = ("tcn", "grm")


class FrameFeatures:
    """``{view: uint8 (T, H, W, 3)}`` → float32 ``(T, V·D)`` features, views in a fixed order.

    Every configured view must be present: a perceptual reward compares feature statistics
    position by position, so a missing camera cannot be masked the way the GRM masks it."""

    def __init__(
        self,
        source: FeatureSource = "tcn",
        checkpoint: str = "",
        views: Sequence[str] = ("front", "side", "wrist"),
        batch_size: int = 256,
    ) -> None:
        if source not in FEATURE_SOURCES:
            raise ValueError(f"unknown feature source {source!r}; choose one of {FEATURE_SOURCES}")
        if not views or len(set(views)) != len(views):
            raise ValueError(f"views must be distinct and non-empty, got {list(views)}")
        self.source = source
        self.views = tuple(views)
        self.batch_size = batch_size
        if source == "tcn":
            from robo_reward.perceptual.tcn import default_tcn_checkpoint, load_tcn

            self.checkpoint = checkpoint or str(default_tcn_checkpoint())
            self._tcn = load_tcn(self.checkpoint)
            self.image_size = self._tcn.config.image_size
        else:
            from robo_reward.grm.checkpoint import default_checkpoint, load_grm

            self.checkpoint = checkpoint or str(default_checkpoint())
            self._grm = load_grm(self.checkpoint)
            self.image_size = self._grm.config.image_size

    def _embed(self, images: np.ndarray) -> np.ndarray:
        if self.source == "tcn":
            return self._tcn.embed(images, batch_size=self.batch_size)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = torch.from_numpy(
                    np.array(images[start : start + self.batch_size])  # writable copy
                )
                chunks.append(self._grm.encode(batch).numpy())
        return np.concatenate(chunks).astype(np.float32)

    def frames(self, frames: Mapping[str, np.ndarray]) -> np.ndarray:
        """Features of a stack of frames per view (all views the same length)."""
        missing = [v for v in self.views if v not in frames]
        if missing:
            raise ValueError(
                f"missing camera view(s) {missing}; these features need {list(self.views)} "
                f"(got {sorted(frames)})"
            )
        lengths = {v: len(frames[v]) for v in self.views}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"views have different numbers of frames: {lengths}")
        parts = []
        for view in self.views:
            images = np.asarray(frames[view])
            expected = (self.image_size, self.image_size, 3)
            if images.dtype != np.uint8:
                raise ValueError(f"view {view!r}: images must be uint8 RGB, got {images.dtype}")
            if images.ndim != 4 or images.shape[1:] != expected:
                raise ValueError(
                    f"view {view!r}: expected frames of shape (T, {', '.join(map(str, expected))}),"
                    f" got {images.shape}"
                )
            if len(images) == 0:
                raise ValueError(f"view {view!r} has no frames")
            parts.append(self._embed(images))
        return np.concatenate(parts, axis=1)

    def observation(self, observation: Mapping[str, np.ndarray]) -> np.ndarray:
        """Features ``(V·D,)`` of one camera observation ``{view: uint8 (H, W, 3)}``."""
        return self.frames(
            {v: np.asarray(observation[v])[None] for v in self.views if v in observation}
        )[0]

    def trajectory(self, trajectory: Trajectory) -> np.ndarray:
        """Features of every frame of a trajectory; refuses one with dropped frames."""
        for view in self.views:
            if view in trajectory.frames and not trajectory.valid_mask(view).all():
                raise ValueError(
                    f"trajectory {trajectory.task!r} has dropped {view!r} frames; perceptual "
                    "features need every view at every frame"
                )
        return self.frames(trajectory.frames)
