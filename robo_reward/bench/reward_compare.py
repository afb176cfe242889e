"""``robo-reward reward compare``: EPIC distances between rewards on simulator transitions.

How far is a learned reward from the simulator's true progress, up to potential shaping and
scale? This runner rolls out a task's scripted expert and its noisy, perturbed and failing
variants (:func:`robo_reward.sim.demos.rollout`), rendered with the configured cameras, and
compares rewards with EPIC (:mod:`robo_reward.bench.epic`, Gleave et al., ICLR 2021):

- transitions ``(s, a, s')`` are consecutive frame pairs of those episodes (``D``),
- coverage states are frames drawn from all of them pooled (``D_S``) and coverage actions,
  independently, from their pooled actions (``D_A``); one coverage sample serves every reward.

A state is a dict of arrays: one ``uint8 (H, W, 3)`` image per camera, ``"true_progress"`` (the
simulator's progress Φ*, for the privileged reward only) and ``"frame_id"``, a unique id of each
pooled frame. Image rewards memoise per-frame work (embeddings, potentials) by that id, which is
what makes the ``M × N`` reward evaluations of the canonicalisation affordable; a reward must give
the same value with or without it.

Rewards are compared as transition rewards, not as their PBRS form (EPIC cancels shaping, so
``γΦ(s') − Φ(s)`` canonicalises to 0): progress models enter as ``r(s, a, s') = Φ(s')``. For
such a reward every coverage term of the canonicalisation is a constant, so EPIC between two of
them is the Pearson distance of their potentials over the next states, whatever the coverage
sample; the coverage matters for rewards of the transition itself, such as ``grm_hop``.

Registered rewards (:data:`REWARDS`), each a builder ``(task, demo, config) -> reward``:

- ``privileged``: the simulator's true progress of the next state, ``r = Φ*(s')``;
- ``grm``: the general GRM's state-only progress as a reward, ``r = Φ(s')`` with
  ``Φ = ½ (H(start, s') ⊕ 0 + 1 ⊕ H(goal, s'))``, the forward and backward anchorings of
  :mod:`robo_reward.grm.tracker` against the demo's first and last frames (the incremental
  anchoring depends on the episode's history, not on ``s'`` alone);
- ``grm_hop``: the GRM's predicted hop between the two states, ``r = H(s, s')``;
- ``perceptual``: a perceptual reward (:mod:`robo_reward.perceptual.reward`) fitted on
  ``perceptual_demos`` expert demos (the demo and the next seeds), ``r = Φ(s')``.

Adding a reward is one line in :data:`REWARDS`, e.g. ``"perceptual": perceptual_reward,`` with
``def perceptual_reward(task: str, demo: Trajectory, config: RewardCompareConfig) -> RewardFn``
(``demo`` is a successful expert rollout of ``task``, rendered like the compared episodes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from robo_reward.bench.epic import (
    Batch,
    Coverage,
    EpicMatrix,
    RewardFn,
    Transitions,
    batch_index,
    batch_len,
    epic_matrix,
)
from robo_reward.data import Trajectory
from robo_reward.grm.checkpoint import default_checkpoint, load_grm
from robo_reward.grm.hop import apply_hop, expected_hop
from robo_reward.grm.model import GRM, views_to_tensor
from robo_reward.grm.tracker import Reference
from robo_reward.sim.demos import DEMO_VARIANTS, rollout
from robo_reward.sim.env_config import EnvConfig
from robo_reward.sim.experts import EXPERTS, Disruption
from robo_reward.sim.registration import task_spec

FRAME_ID = "frame_id"
"""State key: unique int64 id of a pooled frame (a memoisation key for image rewards)."""
TRUE_PROGRESS = "true_progress"
"""State key: the simulator's true progress Φ*(s) in [0, 1] (privileged information)."""


@dataclass(frozen=True)
class RewardCompareConfig:
    """What ``robo-reward reward compare`` measures."""

    task: str = "button_press"
    """Task whose transitions the rewards are compared on."""
    rewards: tuple[str, ...] = ("privileged", "grm", "grm_hop")
    """Registered reward names (see :data:`REWARDS`); every pair is compared."""
    episodes: int = 12
    """Episodes rolled out; variants take turns (all with known true progress)."""
    variants: tuple[str, ...] = ("expert", "noisy", "perturbed", "failure")
    """Demo variants cycled over the episodes; a failure stalls in a random phase."""
    coverage: int = 128
    """Coverage samples M: frames (and, independently, actions) from the pooled episodes."""
    transitions: int = 0
    """At most this many transitions N, drawn at random (0: every consecutive frame pair)."""
    gamma: float = 0.99
    """Discount of the canonicalisation (the learner's γ)."""
    seed: int = 50_000
    """Seed of the first episode (disjoint from GRM training seeds)."""
    demo_seed: int = 40_000
    """Seed of the reference demo given to demo-conditioned rewards."""
    same_appearance: bool = True
    """Episodes share the demo's visual setup (colours, lights, camera poses), as a robot's
    workspace does after one demo; false: every episode draws a new appearance."""
    cameras: tuple[str, ...] = ("front", "side", "wrist")
    """Rendered camera views."""
    image_size: int = 96
    """Rendered image size (the GRM checkpoint's input size)."""
    checkpoint: str = ""
    """GRM checkpoint of the grm rewards (empty: the general one shipped in the package)."""
    batch_size: int = 1024
    """Reward evaluations per call during canonicalisation."""
    bootstrap: int = 1000
    """Bootstrap resamples of the transitions for the confidence intervals (0: none)."""
    sample_seed: int = 0
    """Seed of the transition subsample, the coverage draw and the bootstrap."""
    threads: int = 0
    """torch intra-op threads while comparing (0: torch's default; 1 is fastest on a busy CPU)."""
    perceptual_demos: int = 5
    """Expert demos the perceptual reward is fitted on (seeds from ``demo_seed`` on)."""
    perceptual_steps: int = 2
    """Steps of the perceptual reward."""

    def __post_init__(self) -> None:
        task_spec(self.task)
        if not self.rewards:
            raise ValueError(f"name at least two rewards; known rewards: {', '.join(REWARDS)}")
        unknown = [name for name in self.rewards if name not in REWARDS]
        if unknown:
            raise ValueError(
                f"unknown reward(s) {', '.join(map(repr, unknown))}; "
                f"known rewards: {', '.join(REWARDS)}"
            )
        if len(set(self.rewards)) != len(self.rewards) or len(self.rewards) < 2:
            raise ValueError(f"name at least two distinct rewards, got {list(self.rewards)}")
        if not self.variants or any(v not in DEMO_VARIANTS for v in self.variants):
            raise ValueError(f"variants must be some of {DEMO_VARIANTS}, got {self.variants}")
        if not self.cameras:
            raise ValueError("render at least one camera (cameras)")
        for name, low in (
            ("episodes", 1),
            ("coverage", 2),
            ("transitions", 0),
            ("batch_size", 1),
            ("bootstrap", 0),
            ("threads", 0),
            ("perceptual_demos", 1),
            ("perceptual_steps", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.transitions == 1:
            raise ValueError("transitions must be 0 (all) or >= 2")
        if not (0.0 < self.gamma <= 1.0):
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")


RewardBuilder = Callable[[str, Trajectory, RewardCompareConfig], RewardFn]


# --------------------------------------------------------------------------- rewards


def _state_key(states: Batch, key: str, reward: str) -> np.ndarray:
    if not isinstance(states, Mapping) or key not in states:
        raise ValueError(f"the {reward} reward needs {key!r} in the states")
    return np.asarray(states[key])


def privileged_reward(task: str, demo: Trajectory, config: RewardCompareConfig) -> RewardFn:
    """``r = Φ*(s')``: the simulator's true progress of the next state."""

    def reward(states: Batch, actions: Batch, next_states: Batch) -> np.ndarray:
        return _state_key(next_states, TRUE_PROGRESS, "privileged").astype(np.float64)

    return reward


class GRMFrames:
    """GRM embeddings and state-only potentials of camera states, memoised by frame id.

    As in :class:`robo_reward.grm.tracker.ProgressTracker`, each image is encoded once and every
    hop afterwards is a head pass on cached embeddings. States without ``"frame_id"`` are
    encoded afresh on every call."""

    def __init__(self, grm: GRM, reference: Reference, batch_size: int = 1024) -> None:
        self.grm = grm.eval()
        self.config = grm.config
        self.batch_size = batch_size
        known = [
            {v: image for v, image in obs.items() if v in self.config.views}
            for obs in (reference.start, reference.end)
        ]
        images, masks = zip(*(views_to_tensor(obs, self.config) for obs in known), strict=True)
        with torch.inference_mode():
            self._ref = self.grm.encode(torch.stack(images))
        self._ref_mask = torch.stack(masks)
        views, dim = len(self.config.views), self.config.embed_dim
        self._embeddings = torch.zeros(0, views, dim)
        self._masks = torch.zeros(0, views, dtype=torch.bool)
        self._potentials = np.zeros(0)
        self._has_embedding = np.zeros(0, dtype=bool)
        self._has_potential = np.zeros(0, dtype=bool)

    def embeddings(self, states: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, V, D)`` embeddings and ``(N, V)`` view mask of a batch of camera states."""
        ids = self._ids(states)
        if ids is None:
            return self._encode(states)
        missing, rows = self._missing(ids, self._has_embedding)
        if len(missing):
            embeddings, masks = self._encode(batch_index(states, rows))
            index = torch.from_numpy(missing)
            self._embeddings[index] = embeddings
            self._masks[index] = masks
            self._has_embedding[missing] = True
        index = torch.from_numpy(ids)
        return self._embeddings[index], self._masks[index]

    def potentials(self, states: Batch) -> np.ndarray:
        """State-only progress ``½ (0 ⊕ H(start, s) + 1 ⊕ H(goal, s))`` in [0, 1]."""
        ids = self._ids(states)
        if ids is None:
            return self._potential(*self._encode(states))
        missing, rows = self._missing(ids, self._has_potential)
        if len(missing):
            self._potentials[missing] = self._potential(*self.embeddings(batch_index(states, rows)))
            self._has_potential[missing] = True
        return self._potentials[ids]

    def hops(
        self,
        before: torch.Tensor,
        before_mask: torch.Tensor,
        after: torch.Tensor,
        after_mask: torch.Tensor,
    ) -> np.ndarray:
        """Predicted hops ``H(before, after)`` (expected value) for ``N`` embedding pairs."""
        out = []
        with torch.inference_mode():
            for chunk in torch.arange(len(before)).split(self.batch_size):
                size = len(chunk)
                pair = torch.stack(
                    [
                        self._ref[0].expand(size, -1, -1),
                        self._ref[1].expand(size, -1, -1),
                        before[chunk],
                        after[chunk],
                    ],
                    1,
                )
                mask = torch.stack(
                    [
                        self._ref_mask[0].expand(size, -1),
                        self._ref_mask[1].expand(size, -1),
                        before_mask[chunk],
                        after_mask[chunk],
                    ],
                    1,
                )
                out.append(expected_hop(self.grm.head(pair, mask)[0]))
        return torch.cat(out).double().numpy()

    def _potential(self, embeddings: torch.Tensor, masks: torch.Tensor) -> np.ndarray:
        n = len(embeddings)
        anchors = []
        for role in (0, 1):  # forward from the demo's start, backward from its goal
            before = self._ref[role].expand(n, -1, -1)
            before_mask = self._ref_mask[role].expand(n, -1)
            anchors.append(self.hops(before, before_mask, embeddings, masks))
        return 0.5 * (apply_hop(0.0, anchors[0]) + apply_hop(1.0, anchors[1]))

    def _ids(self, states: Batch) -> np.ndarray | None:
        if not isinstance(states, Mapping) or FRAME_ID not in states:
            return None
        ids = np.asarray(states[FRAME_ID], dtype=np.int64)
        if ids.ndim != 1 or (len(ids) and ids.min() < 0):
            raise ValueError(f"{FRAME_ID!r} must be a 1-D array of ids >= 0")
        needed = int(ids.max()) + 1 if len(ids) else 0
        if needed > len(self._has_embedding):
            grow = max(needed, 2 * len(self._has_embedding)) - len(self._has_embedding)
            self._embeddings = torch.cat(
                [self._embeddings, torch.zeros(grow, *self._embeddings.shape[1:])]
            )
            self._masks = torch.cat(
                [self._masks, torch.zeros(grow, self._masks.shape[1], dtype=torch.bool)]
            )
            self._potentials = np.concatenate([self._potentials, np.zeros(grow)])
            self._has_embedding = np.concatenate([self._has_embedding, np.zeros(grow, bool)])
            self._has_potential = np.concatenate([self._has_potential, np.zeros(grow, bool)])
        return ids

    @staticmethod
    def _missing(ids: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids not yet memoised and the first row holding each."""
        unique, rows = np.unique(ids, return_index=True)
        todo = ~known[unique]
        return unique[todo], rows[todo]

    def _encode(self, states: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(states, Mapping):
            raise ValueError("GRM rewards need camera states: a dict view name -> uint8 images")
        views = self.config.views
        present = [v for v in views if v in states]
        if not present:
            raise ValueError(f"no camera image in the states; the GRM uses {list(views)}")
        size = self.config.image_size
        n = batch_len({v: states[v] for v in present}, "camera states")
        embeddings = torch.zeros(n, len(views), self.config.embed_dim)
        masks = torch.zeros(n, len(views), dtype=torch.bool)
        with torch.inference_mode():
            for index, view in enumerate(views):
                if view not in states:
                    continue
                images = np.asarray(states[view])
                if images.dtype != np.uint8 or images.shape[1:] != (size, size, 3):
                    raise ValueError(
                        f"view {view!r}: the GRM takes uint8 images of shape (N, {size}, {size}, "
                        f"3), got {images.dtype} {images.shape}; render with image_size={size}"
                    )
                tensor = torch.from_numpy(np.ascontiguousarray(images))
                embeddings[:, index] = torch.cat(
                    [self.grm.encode(chunk) for chunk in tensor.split(self.batch_size)]
                )
                masks[:, index] = True
        return embeddings, masks


def _grm_frames(demo: Trajectory, config: RewardCompareConfig) -> GRMFrames:
    grm = load_grm(config.checkpoint or default_checkpoint())
    if grm.config.image_size != config.image_size:
        raise ValueError(
            f"the GRM takes {grm.config.image_size}x{grm.config.image_size} images but "
            f"image_size={config.image_size}; set image_size={grm.config.image_size}"
        )
    if not set(config.cameras) & set(grm.config.views):
        raise ValueError(
            f"none of the cameras {list(config.cameras)} is a GRM view {list(grm.config.views)}"
        )
    return GRMFrames(grm, Reference.from_trajectory(demo), config.batch_size)


def grm_reward(task: str, demo: Trajectory, config: RewardCompareConfig) -> RewardFn:
    """``r = Φ(s')``: the GRM's state-only progress (forward and backward anchorings averaged)
    against the demo, as a reward."""
    frames = _grm_frames(demo, config)

    def reward(states: Batch, actions: Batch, next_states: Batch) -> np.ndarray:
        return frames.potentials(next_states)

    return reward


def grm_hop_reward(task: str, demo: Trajectory, config: RewardCompareConfig) -> RewardFn:
    """``r = H(s, s')``: the GRM's predicted hop from ``s`` to ``s'`` as a transition reward."""
    frames = _grm_frames(demo, config)

    def reward(states: Batch, actions: Batch, next_states: Batch) -> np.ndarray:
        return frames.hops(*frames.embeddings(states), *frames.embeddings(next_states))

    return reward


def perceptual_reward(task: str, demo: Trajectory, config: RewardCompareConfig) -> RewardFn:
    """``r = Φ(s')``: a perceptual reward's progress, fitted on expert demos rendered like the
    compared episodes (the given demo and the next ``perceptual_demos - 1`` seeds)."""
    from robo_reward.perceptual.reward import PerceptualConfig, fit_perceptual_reward

    env_config = EnvConfig(
        cameras=config.cameras,
        image_size=config.image_size,
        appearance_seed=config.demo_seed if config.same_appearance else None,
    )
    demos = [demo] + [
        rollout(task, config.demo_seed + i, env_config=env_config)
        for i in range(1, config.perceptual_demos)
    ]
    fitted = fit_perceptual_reward(
        [d for d in demos if d.success], PerceptualConfig(steps=config.perceptual_steps)
    )
    memo: dict[int, float] = {}

    def reward(states: Batch, actions: Batch, next_states: Batch) -> np.ndarray:
        ids = _state_key(next_states, FRAME_ID, "perceptual").astype(np.int64)
        new = np.array(sorted({int(i) for i in ids} - memo.keys()), dtype=np.int64)
        if len(new):
            rows = np.array([np.flatnonzero(ids == i)[0] for i in new])
            frames = {v: np.asarray(next_states[v])[rows] for v in fitted.config.views}
            memo.update(zip(new.tolist(), fitted.progress(frames).tolist(), strict=True))
        return np.array([memo[int(i)] for i in ids], dtype=np.float64)

    return reward


REWARDS: dict[str, RewardBuilder] = {
    "privileged": privileged_reward,
    "grm": grm_reward,
    "grm_hop": grm_hop_reward,
    "perceptual": perceptual_reward,
}
"""Reward name -> builder ``(task, demo, config) -> batch reward``. One line per reward."""


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class CompareSample:
    """Transitions and coverage drawn from a set of episodes."""

    transitions: Transitions
    coverage: Coverage
    num_frames: int
    """Pooled frames (the coverage state distribution's support)."""


def collect_episodes(
    config: RewardCompareConfig, env_config: EnvConfig, progress: bool = False
) -> list[Trajectory]:
    """``config.episodes`` rollouts, variants taking turns, each with known true progress (an
    episode whose progress the expert cannot tell, e.g. a noisy run that failed, is replaced by
    the next seed). Failures stall in a random phase, so late stalls give partial progress."""
    phases = EXPERTS[config.task].subtask_labels
    episodes: list[Trajectory] = []
    bar = tqdm(total=config.episodes, desc=f"episodes {config.task}", disable=not progress)
    for attempt in itertools.count():
        if len(episodes) == config.episodes:
            break
        if attempt >= 4 * config.episodes + 8:
            raise ValueError(
                f"only {len(episodes)} of {config.episodes} {config.task} episodes had known "
                f"true progress after {attempt} attempts; try other variants"
            )
        variant = config.variants[len(episodes) % len(config.variants)]
        disruption = None
        if variant == "failure":
            rng = np.random.default_rng([config.seed, attempt])
            phase = str(phases[rng.integers(len(phases))])
            disruption = Disruption("stall", phase, float(rng.uniform(0.2, 0.8)))
        traj = rollout(
            config.task, config.seed + attempt, variant, env_config, disruption=disruption
        )
        if traj.progress is not None:
            episodes.append(traj)
            bar.update()
    bar.close()
    return episodes


def build_sample(
    episodes: list[Trajectory],
    coverage: int,
    max_transitions: int = 0,
    seed: int = 0,
) -> CompareSample:
    """Consecutive frame pairs of ``episodes`` as transitions; ``coverage`` frames and,
    independently, ``coverage`` actions drawn from the pooled episodes (without replacement
    when there are enough)."""
    if not episodes:
        raise ValueError("no episodes to sample transitions from")
    views = episodes[0].views
    for traj in episodes:
        if traj.views != views:
            raise ValueError(f"episodes differ in camera views: {traj.views} vs {views}")
        if traj.progress is None:
            raise ValueError(f"episode (seed {traj.seed}) has no true progress")
        if not all(traj.valid_mask(v).all() for v in views):
            raise ValueError(f"episode (seed {traj.seed}) has missing camera frames")
    num_frames = sum(t.num_frames for t in episodes)
    pool: dict[str, np.ndarray] = {
        view: np.concatenate([t.frames[view] for t in episodes]) for view in views
    }
    pool[TRUE_PROGRESS] = np.concatenate([t.progress for t in episodes])
    pool[FRAME_ID] = np.arange(num_frames, dtype=np.int64)
    actions = np.concatenate([t.actions for t in episodes])
    frame_offsets = np.cumsum([0] + [t.num_frames for t in episodes])
    action_offsets = np.cumsum([0] + [t.num_steps for t in episodes])
    step = np.concatenate([np.arange(t.num_steps) for t in episodes])
    owner = np.repeat(np.arange(len(episodes)), [t.num_steps for t in episodes])
    state_index = frame_offsets[owner] + step
    action_index = action_offsets[owner] + step
    rng = np.random.default_rng(seed)
    if max_transitions and len(step) > max_transitions:
        keep = np.sort(rng.choice(len(step), max_transitions, replace=False))
        state_index, action_index = state_index[keep], action_index[keep]
    cover_states = rng.choice(num_frames, coverage, replace=coverage > num_frames)
    cover_actions = rng.choice(len(actions), coverage, replace=coverage > len(actions))
    return CompareSample(
        Transitions(
            batch_index(pool, state_index),
            actions[action_index],
            batch_index(pool, state_index + 1),
        ),
        Coverage(batch_index(pool, cover_states), actions[cover_actions]),
        num_frames,
    )


# --------------------------------------------------------------------------- runner


def run_compare(config: RewardCompareConfig, progress: bool = True) -> dict[str, Any]:
    """Roll out, build every reward, and compare every pair with EPIC; plain-data results."""
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        env_config = EnvConfig(
            cameras=config.cameras,
            image_size=config.image_size,
            appearance_seed=config.demo_seed if config.same_appearance else None,
        )
        demo = rollout(config.task, config.demo_seed, env_config=env_config)
        if not demo.success:
            raise ValueError(
                f"the {config.task} expert failed on demo seed {config.demo_seed}; "
                "choose another demo_seed"
            )
        rewards = {name: REWARDS[name](config.task, demo, config) for name in config.rewards}
        episodes = collect_episodes(config, env_config, progress)
        sample = build_sample(episodes, config.coverage, config.transitions, config.sample_seed)
        matrix = epic_matrix(
            rewards,
            sample.transitions,
            sample.coverage,
            config.gamma,
            batch_size=config.batch_size,
            bootstrap=config.bootstrap,
            seed=config.sample_seed,
        )
    finally:
        torch.set_num_threads(previous_threads)
    return _results(config, episodes, sample, matrix)


def _results(
    config: RewardCompareConfig,
    episodes: list[Trajectory],
    sample: CompareSample,
    matrix: EpicMatrix,
) -> dict[str, Any]:
    names = matrix.names
    pairs = [
        {"a": a, "b": b, **matrix.pairs[(a, b)].to_dict()}
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    variants: dict[str, int] = {}
    for traj in episodes:
        variants[traj.variant] = variants.get(traj.variant, 0) + 1
    return {
        "task": config.task,
        "rewards": list(names),
        "gamma": config.gamma,
        "checkpoint": str(config.checkpoint or default_checkpoint())
        if any(n.startswith("grm") for n in names)
        else None,
        "episodes": {
            "count": len(episodes),
            "successes": sum(t.success for t in episodes),
            "variants": variants,
            "frames": sample.num_frames,
        },
        "num_transitions": batch_len(sample.transitions.actions),
        "num_coverage": batch_len(sample.coverage.actions),
        "distance": {a: {b: matrix.distance(a, b) for b in names} for a in names},
        "pairs": pairs,
        "canonicalize_seconds": matrix.seconds,
    }


def compare_markdown(results: dict[str, Any]) -> str:
    """The distance matrix (with 95% intervals) and each reward against ``privileged``."""
    from robo_reward.bench.results import markdown_table

    names = results["rewards"]
    by_pair = {(p["a"], p["b"]): p for p in results["pairs"]}
    by_pair.update({(p["b"], p["a"]): p for p in results["pairs"]})

    def cell(a: str, b: str) -> str:
        if a == b:
            return "0"
        p = by_pair[(a, b)]
        interval = "" if p["ci_low"] is None else f" [{p['ci_low']:.3f}, {p['ci_high']:.3f}]"
        return f"{p['distance']:.3f}{interval}"

    episodes = results["episodes"]
    variants = ", ".join(f"{n} {v}" for v, n in episodes["variants"].items())
    lines = [
        f"### EPIC distances between rewards on {results['task']}\n",
        f"N = {results['num_transitions']} transitions from {episodes['count']} episodes "
        f"({variants}; {episodes['successes']} successful), M = {results['num_coverage']} "
        f"coverage samples from {episodes['frames']} pooled frames, γ = {results['gamma']}. "
        "0 = equivalent up to shaping and scale, 1 = opposite; "
        "[95% bootstrap interval over transitions].\n",
        markdown_table(["", *names], [[a, *(cell(a, b) for b in names)] for a in names]),
    ]
    if "privileged" in names:
        rows = [
            [
                name,
                f"{by_pair[(name, 'privileged')]['distance']:.3f}",
                f"{by_pair[(name, 'privileged')]['pearson']:.3f}",
                cell(name, "privileged").partition(" ")[2] or "-",
            ]
            for name in names
            if name != "privileged"
        ]
        lines += [
            "\nEach reward against the true progress Φ*(s'):\n",
            markdown_table(["reward", "EPIC", "Pearson ρ", "95% CI"], rows),
        ]
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in results["canonicalize_seconds"].items())
    lines.append(f"\nCanonicalisation time: {seconds}.")
    return "\n".join(lines) + "\n"


def write_compare(results: dict[str, Any], config: Any, out: str | Path | None) -> Path:
    """Write ``results.json`` and ``results.md`` (atomically) to ``out``, or to a new run folder
    ``results/reward_compare/<time>/``; returns the folder."""
    from robo_reward.bench.results import new_run_dir, write_run

    if out is None:
        run_dir = new_run_dir("results", "reward_compare")
    else:
        run_dir = Path(out)
        run_dir.mkdir(parents=True, exist_ok=True)
    # Written only once the comparison has finished (the report takes complete runs only).
    write_run(
        run_dir, "reward_compare", {**results, "complete": True}, compare_markdown(results), config
    )
    return run_dir
