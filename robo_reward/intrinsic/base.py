"""What every novelty reward shares: the :class:`IntrinsicReward` protocol, observation ->
feature vectors (:class:`ObservationFeatures`) and the bonus normalisation
(:class:`BonusNormalizer`).

An intrinsic reward is computed on *batches* of observations (a dict of arrays with a leading
batch dimension, as the replay buffer stores them), so the same object scores a step online in
:class:`~robo_reward.intrinsic.wrapper.IntrinsicBonus` and relabels a replay batch offline.
``reward`` never changes the model; ``update`` is the only place it learns or counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "NAV_FEATURES",
    "XY_FEATURES",
    "BonusNormalizer",
    "FeatureSpec",
    "IntrinsicReward",
    "ObservationFeatures",
    "as_batch",
]

FeatureSpec = Sequence[tuple[str, slice | None]]
"""Which parts of a dict observation make the feature vector, in order: ``(key, slice)`` pairs
over the flattened key (``None``: all of it). For a Box observation use ``(("obs", None),)``."""

NAV_FEATURES: tuple[tuple[str, slice | None], ...] = (("odometry", slice(0, 2)), ("lidar", None))
"""Maze navigation's default: the rover's position (x, y) and its 36 lidar ranges. Heading,
velocities and the goal vector are left out: novelty should be about *where* the robot is and
what it sees, not how fast it turns."""

XY_FEATURES: tuple[tuple[str, slice | None], ...] = (("odometry", slice(0, 2)),)
"""Position only (x, y): what the visit-count grid bins."""


@runtime_checkable
class IntrinsicReward(Protocol):
    """A novelty bonus over observations.

    ``learned`` tells the wrapper how to drive it: a count-based reward is updated with every
    new observation *before* it is scored (so the count includes the current visit); a learned
    one scores a step with its current model and trains every few steps on recent observations.
    """

    name: str
    learned: bool

    def reward(self, observations: Any) -> np.ndarray:
        """``float64 (B,)`` bonus of a batch; does not change the model."""
        ...

    def update(self, observations: Any) -> dict[str, float]:
        """Count or train on a batch; returns losses and statistics for the logs."""
        ...

    def reset(self) -> None:
        """Forget everything: empty counts, networks back to their seeded initialisation."""
        ...


def as_batch(observation: Any) -> Any:
    """A single observation (dict of arrays, or an array) with a batch dimension of 1."""
    if isinstance(observation, Mapping):
        return {key: np.asarray(value)[None] for key, value in observation.items()}
    return np.asarray(observation)[None]


class ObservationFeatures:
    """Turns a batch of observations into ``float32 (B, dim)`` feature vectors.

    Args:
        spec: the ``(key, slice)`` pairs to concatenate (see :data:`FeatureSpec`).
        observation_space: when given, key names and shapes are checked against it and
            :attr:`dim` is known before the first batch (networks need it to be built).

    Accepts a dict of arrays with a leading batch dim, a list of single dict observations, or
    for ``("obs", ...)`` a plain ``(B, ...)`` array. NaN or infinite values raise a
    ``ValueError`` that names the key: a novelty bonus of NaN would silently poison the critic.
    """

    def __init__(self, spec: FeatureSpec, observation_space: gym.Space | None = None) -> None:
        spec = tuple((str(key), part) for key, part in spec)
        if not spec:
            raise ValueError("the feature spec must name at least one observation key")
        for key, part in spec:
            if part is not None and not isinstance(part, slice):
                raise TypeError(f"feature spec for {key!r}: expected a slice or None, got {part!r}")
        self.spec = spec
        self.shapes: dict[str, tuple[int, ...]] | None = None
        self.dim: int | None = None
        if observation_space is not None:
            self.shapes = self._shapes_of(observation_space)
            self.dim = sum(
                len(range(*(part or slice(None)).indices(int(np.prod(self.shapes[key])))))
                for key, part in spec
            )
            if self.dim == 0:
                raise ValueError(f"the feature spec {spec} selects no values")

    def _shapes_of(self, space: gym.Space) -> dict[str, tuple[int, ...]]:
        if isinstance(space, spaces.Dict):
            found = {key: sub.shape for key, sub in space.spaces.items()}
        elif isinstance(space, spaces.Box):
            found = {"obs": space.shape}
        else:
            raise ValueError(f"unsupported observation space {type(space).__name__}")
        missing = [key for key, _ in self.spec if key not in found]
        if missing:
            raise ValueError(
                f"feature keys {missing} are not in the observation space (it has {list(found)})"
            )
        return {key: tuple(shape) for key, shape in found.items()}

    def __call__(self, observations: Any) -> np.ndarray:
        batch = _to_mapping(observations)
        chunks = []
        size = None
        for key, part in self.spec:
            if key not in batch:
                raise ValueError(f"observation batch has no key {key!r} (it has {list(batch)})")
            value = np.asarray(batch[key])
            if self.shapes is not None and value.shape[1:] != self.shapes[key]:
                expected = ", ".join(map(str, self.shapes[key]))
                raise ValueError(
                    f"{key!r}: expected a batch of shape (B, {expected}), got {value.shape}; "
                    "wrap a single observation with as_batch()"
                )
            if value.ndim < 2:
                raise ValueError(
                    f"{key!r}: expected a batch with a leading batch dimension, got shape "
                    f"{value.shape}; wrap a single observation with as_batch()"
                )
            if size is not None and value.shape[0] != size:
                raise ValueError(f"{key!r}: batch size {value.shape[0]} differs from {size}")
            size = value.shape[0]
            flat = value.reshape(size, -1)
            flat = flat if part is None else flat[:, part]
            bad = ~np.isfinite(flat)
            if bad.any():
                rows = np.flatnonzero(bad.any(axis=1))[:5].tolist()
                raise ValueError(
                    f"observation key {key!r} contains NaN or infinite values (batch rows "
                    f"{rows}); fix the sensor or the env before computing a novelty bonus"
                )
            chunks.append(flat.astype(np.float32, copy=False))
        return np.concatenate(chunks, axis=1)


def _to_mapping(observations: Any) -> Mapping[str, Any]:
    if isinstance(observations, Mapping):
        return observations
    if isinstance(observations, np.ndarray):
        return {"obs": observations}
    if isinstance(observations, Sequence) and observations and isinstance(observations[0], Mapping):
        keys = observations[0].keys()
        return {key: np.stack([np.asarray(o[key]) for o in observations]) for key in keys}
    raise TypeError(
        "observations must be a dict of batched arrays, a list of dict observations or an "
        f"array, got {type(observations).__name__}"
    )


class BonusNormalizer:
    """Divides a bonus by the running standard deviation of the bonus itself.

    Burda et al. (2018, sec. 2.4) divide RND's reward by a running std of the *intrinsic
    returns* (discounted sums along the rollout). We normalise by the std of the per-step bonus
    instead, because ``reward`` also scores unordered replay batches, where no return exists;
    the effect is the same: a bonus scale that does not drift as the predictor learns, so one
    ``weight`` works over a whole run. The mean is not subtracted (a bonus stays >= 0).
    Statistics are merged batch by batch (Chan et al. 1979), float64.
    """

    def __init__(self, epsilon: float = 1e-8) -> None:
        self.epsilon = epsilon
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.var = 1.0

    def update(self, bonus: np.ndarray) -> None:
        bonus = np.asarray(bonus, dtype=np.float64).ravel()
        n = bonus.size
        if n == 0:
            return
        batch_mean, batch_var = float(bonus.mean()), float(bonus.var())
        if self.count == 0:
            self.count, self.mean, self.var = n, batch_mean, batch_var
            return
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.var = m2 / total
        self.count = total

    @property
    def std(self) -> float:
        """``1.0`` until the first update, so an untrained model's bonus passes unscaled."""
        return float(np.sqrt(self.var + self.epsilon)) if self.count else 1.0

    def __call__(self, bonus: np.ndarray) -> np.ndarray:
        return np.asarray(bonus, dtype=np.float64) / self.std
