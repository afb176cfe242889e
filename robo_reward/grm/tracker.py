"""Dense progress from hops: three anchorings, their fusion, and the online tracker.

Robo-Dopamine's multi-perspective fusion. Every step the GRM predicts three hops to the current
state ``s_t``:

- incremental: from the previous state (``Φ_t = Φ_{t-1} ⊕ H(s_{t-1}, s_t)``),
- forward: from the episode's first state, whose progress is 0 (``Φ = H(s_0, s_t)``),
- backward: from the reference demo's last state, whose progress is 1 (``Φ = 1 + H(goal, s_t)``),

(``⊕`` is the bounded recursion of :func:`robo_reward.grm.hop.apply_hop``). The fused progress
moves from its previous value towards the mean of the three by a consistency weight
``w = exp(-α Δ²)``, ``Δ`` the forward/backward disagreement relative to their mean: when the
two absolute anchorings disagree, progress holds where it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from robo_reward.data import Trajectory
from robo_reward.grm.hop import apply_hop, expected_hop
from robo_reward.grm.model import GRM, check_views, views_to_tensor

ANCHORINGS = ("incremental", "forward", "backward")
CONSISTENCY_FLOOR = 0.1
"""Floor of the mean in the relative disagreement, so two near-zero estimates at the start of an
episode do not read as a large relative disagreement."""


@dataclass(frozen=True)
class FusionConfig:
    """How the three anchorings are fused."""

    alpha: float = 20.0
    """Sharpness of the consistency weight exp(-alpha * delta^2) (paper: 20)."""
    consistency: bool = False
    """Apply the consistency weight; off: the fused progress is the plain mean. Off by default:
    on validation episodes of training tasks (pick_place, drawer_open; docs/grm_model_card.md)
    the plain mean classified completion best (100% vs 83-88% with the paper's weight) at a VOC
    within 0.01 of the best; the paper's setting is reported next to it in every evaluation."""

    def __post_init__(self) -> None:
        if not (self.alpha >= 0 and math.isfinite(self.alpha)):
            raise ValueError(f"alpha must be a finite number >= 0, got {self.alpha}")


@dataclass(frozen=True)
class ProgressEstimate:
    """Progress after one observation, per anchoring and fused, all in [0, 1]."""

    incremental: float
    forward: float
    backward: float
    fused: float
    consistency: float
    """The weight the fusion gave this step's evidence (1: full agreement)."""
    completion: float
    """Probability that the task is complete."""
    views: tuple[str, ...]
    """Views that contributed (the others were missing and masked)."""


def fuse_step(
    previous_fused: float,
    previous_incremental: float,
    hops: np.ndarray,
    config: FusionConfig,
) -> tuple[float, float, float, float, float]:
    """One step of the fusion: ``hops`` = (incremental, forward, backward) hops to the new state.
    Returns ``(incremental, forward, backward, fused, weight)`` progress values.

    The reported incremental anchoring chains its own hops; inside the fusion the incremental
    hop is applied to the previous *fused* progress."""
    incremental = float(apply_hop(previous_incremental, hops[0]))
    forward = float(apply_hop(0.0, hops[1]))
    backward = float(apply_hop(1.0, hops[2]))
    mean = (float(apply_hop(previous_fused, hops[0])) + forward + backward) / 3.0
    weight = 1.0
    if config.consistency:
        delta = abs(forward - backward) / max(0.5 * (forward + backward), CONSISTENCY_FLOOR)
        weight = math.exp(-config.alpha * delta * delta)
    fused = previous_fused + weight * (mean - previous_fused)
    return incremental, forward, backward, float(np.clip(fused, 0.0, 1.0)), weight


@dataclass(frozen=True)
class Reference:
    """Task conditioning: the first and last camera observation of a demonstration."""

    start: Mapping[str, np.ndarray]
    end: Mapping[str, np.ndarray]

    @classmethod
    def from_trajectory(cls, traj: Trajectory) -> Reference:
        if not traj.success:
            raise ValueError("a reference demonstration must be successful (its end is the goal)")
        start = {v: traj.frames[v][0] for v in traj.views if traj.valid_mask(v)[0]}
        end = {v: traj.frames[v][-1] for v in traj.views if traj.valid_mask(v)[-1]}
        return cls(start, end)


class ProgressTracker:
    """Online progress of one episode against a reference demo.

    Embeddings of the reference and of the episode's first and previous observations are cached,
    so :meth:`update` costs one encoder pass for the new images and one batched head pass for
    the three anchorings.
    """

    def __init__(self, grm: GRM, reference: Reference, fusion: FusionConfig = FusionConfig()):
        self.grm = grm.eval()
        self.config = grm.config
        self.fusion = fusion
        ref_images, ref_mask = zip(
            *(
                views_to_tensor(_known(obs, self.config.views), self.config)
                for obs in (reference.start, reference.end)
            ),
            strict=True,
        )
        with torch.no_grad():
            self._ref = self.grm.encode(torch.stack(ref_images))
        self._ref_mask = torch.stack(ref_mask)
        self._start: tuple[torch.Tensor, torch.Tensor] | None = None

    def _encode(self, observation: Mapping[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        images, mask = views_to_tensor(_known(observation, self.config.views), self.config)
        with torch.no_grad():
            embeddings = torch.zeros(len(self.config.views), self.config.embed_dim)
            embeddings[mask] = self.grm.encode(images[mask])
        return embeddings, mask

    def reset(self, observation: Mapping[str, np.ndarray]) -> ProgressEstimate:
        """Start an episode at ``observation`` (progress 0)."""
        self._start = self._previous = self._encode(observation)
        self._fused = self._incremental = 0.0
        views = tuple(v for v, m in zip(self.config.views, self._start[1], strict=True) if m)
        return ProgressEstimate(0.0, 0.0, 0.0, 0.0, 1.0, 0.0, views)

    def update(self, observation: Mapping[str, np.ndarray]) -> ProgressEstimate:
        """Progress after ``observation``. Missing views are masked; present images must be
        uint8 RGB of the model's size."""
        if self._start is None:
            raise RuntimeError("call reset(observation) at the start of an episode first")
        current = self._encode(observation)
        befores = [self._previous, self._start, (self._ref[1], self._ref_mask[1])]
        hops, completion = self._hops(befores, current)
        values = fuse_step(self._fused, self._incremental, hops, self.fusion)
        self._incremental, _, _, self._fused, _ = values
        self._previous = current
        views = tuple(v for v, m in zip(self.config.views, current[1], strict=True) if m)
        return ProgressEstimate(*values, completion=completion, views=views)

    def _hops(self, befores, current) -> tuple[np.ndarray, float]:
        embeddings = torch.stack(
            [torch.cat([self._ref, before[0][None], current[0][None]]) for before in befores]
        )
        mask = torch.stack(
            [torch.cat([self._ref_mask, before[1][None], current[1][None]]) for before in befores]
        )
        with torch.no_grad():
            hop_logits, completion_logits = self.grm.head(embeddings, mask)
        hops = expected_hop(hop_logits).numpy()
        return hops, float(torch.sigmoid(completion_logits).mean())


def trajectory_hops(
    grm: GRM,
    reference: Reference,
    traj: Trajectory,
    views: tuple[str, ...] | None = None,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """The three anchorings' hops ``(T+1, 3)`` (to each frame from the previous frame, the first
    frame and the reference goal) and completion probabilities ``(T+1,)`` for a whole
    trajectory, batched: every frame is encoded once. ``views`` limits the cameras the model
    sees (the others are masked, as if missing)."""
    config = grm.config
    use = tuple(config.views if views is None else views)
    check_views(use, config)
    frames, masks = [], []
    for t in range(traj.num_frames):
        observation = {
            v: traj.frames[v][t] for v in use if v in traj.frames and traj.valid_mask(v)[t]
        }
        images, mask = views_to_tensor(observation, config)
        frames.append(images)
        masks.append(mask)
    images, mask = torch.stack(frames), torch.stack(masks)
    ref_obs = [_known(obs, use) for obs in (reference.start, reference.end)]
    ref_images, ref_mask = zip(*(views_to_tensor(obs, config) for obs in ref_obs), strict=True)
    grm.eval()
    with torch.no_grad():
        embeddings = torch.cat([grm.encode(chunk) for chunk in images.split(batch_size)])
        ref = grm.encode(torch.stack(ref_images))
        ref_mask_t = torch.stack(ref_mask)
        n = traj.num_frames
        goal = ref[1][None].expand(n, -1, -1)
        goal_mask = ref_mask_t[1][None].expand(n, -1)
        previous = torch.cat([embeddings[:1], embeddings[:-1]])
        previous_mask = torch.cat([mask[:1], mask[:-1]])
        befores = [
            (previous, previous_mask),
            (embeddings[:1].expand(n, -1, -1), mask[:1].expand(n, -1)),
            (goal, goal_mask),
        ]
        hops, completion = [], []
        for before, before_mask in befores:
            pair = torch.stack(
                [
                    ref[0][None].expand(n, -1, -1),
                    ref[1][None].expand(n, -1, -1),
                    before,
                    embeddings,
                ],
                1,
            )
            pair_mask = torch.stack(
                [
                    ref_mask_t[0][None].expand(n, -1),
                    ref_mask_t[1][None].expand(n, -1),
                    before_mask,
                    mask,
                ],
                1,
            )
            logits = [
                grm.head(e, m)
                for e, m in zip(pair.split(batch_size), pair_mask.split(batch_size), strict=True)
            ]
            hops.append(torch.cat([expected_hop(h) for h, _ in logits]).numpy())
            completion.append(torch.cat([torch.sigmoid(c) for _, c in logits]).numpy())
    return np.stack(hops, 1), np.mean(completion, axis=0)


def fuse_hops(
    hops: np.ndarray, completion: np.ndarray, fusion: FusionConfig
) -> dict[str, np.ndarray]:
    """Progress curves (each anchoring, fused, consistency weight, completion) from the ``(T+1, 3)``
    hops of :func:`trajectory_hops`, by the same :func:`fuse_step` recursion as the tracker."""
    n = len(hops)
    result = {name: np.zeros(n) for name in (*ANCHORINGS, "fused", "consistency")}
    result["consistency"][0] = 1.0
    fused = incremental = 0.0
    for t in range(1, n):
        values = fuse_step(fused, incremental, hops[t], fusion)
        incremental, _, _, fused, _ = values
        for name, value in zip((*ANCHORINGS, "fused", "consistency"), values, strict=True):
            result[name][t] = value
    result["completion"] = np.array(completion, dtype=float)
    result["completion"][0] = 0.0
    return result


def track_trajectory(
    grm: GRM,
    reference: Reference,
    traj: Trajectory,
    views: tuple[str, ...] | None = None,
    fusion: FusionConfig = FusionConfig(),
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """Offline version of the tracker over a whole trajectory, batched: every frame encoded once,
    all hops predicted in batches, then the same :func:`fuse_step` recursion. ``views`` limits
    the cameras the model sees (the others are masked, as if missing)."""
    hops, completion = trajectory_hops(grm, reference, traj, views, batch_size)
    return fuse_hops(hops, completion, fusion)


def hop_batch(
    grm: GRM,
    reference: Reference,
    before: np.ndarray,
    after: np.ndarray,
    before_mask: np.ndarray | None = None,
    after_mask: np.ndarray | None = None,
    batch_size: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """Hops and completion probabilities for ``N`` (BEFORE, AFTER) pairs, e.g. to relabel a
    replay buffer. Images are uint8 ``(N, V, H, W, 3)`` in the model's view order, masks
    ``(N, V)`` bool (default: all present). Identical frames (a replay buffer's ``s'`` is the next
    transition's ``s``) are encoded once."""
    config = grm.config
    expected = (len(config.views), config.image_size, config.image_size, 3)
    for name, images in (("before", before), ("after", after)):
        if not isinstance(images, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(images).__name__}")
        if images.dtype != np.uint8 or images.shape[1:] != expected:
            raise ValueError(
                f"{name} must be uint8 of shape (N, *{expected}), got {images.dtype} {images.shape}"
            )
    if len(before) != len(after):
        raise ValueError(f"{len(before)} BEFORE images but {len(after)} AFTER images")
    n = len(before)
    if n == 0:
        raise ValueError("no (BEFORE, AFTER) pairs: before and after are empty")
    masks = [
        np.ones((n, len(config.views)), bool) if m is None else np.asarray(m)
        for m in (before_mask, after_mask)
    ]
    for name, mask in zip(("before_mask", "after_mask"), masks, strict=True):
        if mask.dtype != np.bool_ or mask.shape != (n, len(config.views)):
            raise ValueError(
                f"{name} must be bool of shape {(n, len(config.views))}, got {mask.dtype} "
                f"{mask.shape}"
            )
        if not mask.any(axis=1).all():
            raise ValueError(
                f"{name}: pair {int(np.argmin(mask.any(axis=1)))} has no view at all; a hop "
                "from no image would be a guess"
            )
    # A replay buffer's s' is the next transition's s: encode such an AFTER frame once.
    shared = np.zeros(n, dtype=bool)
    shared[:-1] = [np.array_equal(after[i], before[i + 1]) for i in range(n - 1)]
    ref_images, ref_mask = zip(
        *(
            views_to_tensor(_known(obs, config.views), config)
            for obs in (reference.start, reference.end)
        ),
        strict=True,
    )
    grm.eval()
    with torch.inference_mode():
        before_embeddings = _encode_frames(grm, before, batch_size)
        after_embeddings = torch.empty_like(before_embeddings)
        after_embeddings[:-1][torch.from_numpy(shared[:-1])] = before_embeddings[1:][
            torch.from_numpy(shared[:-1])
        ]
        if (~shared).any():
            after_embeddings[torch.from_numpy(~shared)] = _encode_frames(
                grm, after[~shared], batch_size
            )
        embeddings = torch.cat([before_embeddings, after_embeddings])
        ref = grm.encode(torch.stack(ref_images))
        ref_mask_t = torch.stack(ref_mask)
        hops, completion = [], []
        for chunk in torch.arange(n).split(batch_size):
            size = len(chunk)
            pair = torch.stack(
                [
                    ref[0].expand(size, -1, -1),
                    ref[1].expand(size, -1, -1),
                    embeddings[chunk],
                    embeddings[n + chunk],
                ],
                1,
            )
            pair_mask = torch.stack(
                [
                    ref_mask_t[0].expand(size, -1),
                    ref_mask_t[1].expand(size, -1),
                    torch.from_numpy(masks[0][chunk.numpy()]),
                    torch.from_numpy(masks[1][chunk.numpy()]),
                ],
                1,
            )
            hop_logits, completion_logits = grm.head(pair, pair_mask)
            hops.append(expected_hop(hop_logits))
            completion.append(torch.sigmoid(completion_logits))
    return torch.cat(hops).numpy(), torch.cat(completion).numpy()


def _encode_frames(grm: GRM, frames: np.ndarray, batch_size: int) -> torch.Tensor:
    """``(N, V, H, W, 3)`` uint8 frames -> ``(N, V, D)`` embeddings, in chunks."""
    flat = torch.from_numpy(np.ascontiguousarray(frames)).flatten(0, 1)
    chunks = [grm.encoder(chunk) for chunk in flat.split(batch_size)]
    return torch.cat(chunks).reshape(len(frames), frames.shape[1], -1)


def _known(observation: Mapping[str, np.ndarray], views: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The images of the views a model uses; cameras it does not know are ignored."""
    if not isinstance(observation, Mapping):
        raise ValueError(
            f"an observation must be a mapping view -> uint8 (H, W, 3) image, got "
            f"{type(observation).__name__}"
        )
    return {view: image for view, image in observation.items() if view in views}
