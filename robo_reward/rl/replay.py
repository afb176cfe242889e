"""Replay buffers for off-policy learning, with Hindsight Experience Replay (HER).

Storage is preallocated numpy, one array per observation key, laid out ``(rows, num_envs, ...)``
so a vector env's batch is one row write. A transition keeps ``terminated`` only: time-limit
truncation is not a property of the MDP, so the learner bootstraps through it (Pardo et al.,
"Time Limits in Reinforcement Learning", 2018); truncation only closes the episode for HER.

HER (Andrychowicz et al., 2017), "future" strategy: with probability ``k / (k + 1)`` a sampled
transition's ``desired_goal`` (in both its observation and next observation) is replaced by the
``achieved_goal`` reached at the end of a transition drawn uniformly from the rest of its episode
(itself included), and its reward and ``terminated`` are recomputed for that goal. Episodes still
running are relabelled from the transitions written so far, so HER works from the first step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from robo_reward.data.atomic import atomic_path
from robo_reward.rl.networks import Observation

__all__ = ["GoalFunction", "HerReplayBuffer", "ReplayBatch", "ReplayBuffer", "goal_functions"]

BUFFER_FORMAT = "robo_reward.replay"
BUFFER_VERSION = 1
BOX_KEY = "obs"
"""Internal key of a Box observation (Dict observations use their own keys)."""

GoalFunction = Callable[[np.ndarray, np.ndarray, Any], np.ndarray]
"""``f(achieved_goal (B, G), desired_goal (B, G), info) -> (B,)``, as on goal-conditioned envs."""


@dataclass(frozen=True)
class ReplayBatch:
    """A sampled minibatch as CPU tensors (shared memory with fresh numpy arrays, no copy)."""

    observations: Observation
    """Tensor (Box spaces) or dict of tensors, ``(B, *shape)``, dtype as stored."""
    actions: torch.Tensor
    """``float32 (B, action_dim)``, as passed to :meth:`ReplayBuffer.add`."""
    rewards: torch.Tensor
    """``float32 (B,)``."""
    next_observations: Observation
    """Like ``observations``: the true next observation, also at episode ends."""
    terminated: torch.Tensor
    """``float32 (B,)``: 1.0 where the transition ended the MDP (no bootstrap)."""


def _storage_dtype(space: spaces.Box) -> np.dtype:
    """Floats are stored as float32 (networks run in float32); integers keep their dtype."""
    if np.issubdtype(space.dtype, np.floating):
        return np.dtype(np.float32)
    return np.dtype(space.dtype)


class ReplayBuffer:
    """Uniform replay over transitions from ``num_envs`` parallel envs.

    Args:
        observation_space: the single-env observation space (Box, or Dict of Boxes).
        action_space: the single-env action space (a Box).
        capacity: transitions held (rounded up to a multiple of ``num_envs``); the oldest are
            overwritten first.
        num_envs: envs per :meth:`add` call.
        keys: Dict keys to store (default: every key). Leave out camera keys a policy does not
            use: images dominate memory.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        capacity: int,
        num_envs: int = 1,
        keys: Sequence[str] | None = None,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if not isinstance(action_space, spaces.Box):
            raise ValueError(f"action space must be a Box, got {type(action_space).__name__}")
        self.is_dict = isinstance(observation_space, spaces.Dict)
        if self.is_dict:
            names = tuple(observation_space.spaces) if keys is None else tuple(dict.fromkeys(keys))
            missing = [k for k in names if k not in observation_space.spaces]
            if missing:
                raise ValueError(f"keys {missing} are not in the observation space")
            subspaces = {k: observation_space.spaces[k] for k in names}
        elif isinstance(observation_space, spaces.Box):
            if keys is not None:
                raise ValueError("keys only apply to Dict observation spaces")
            subspaces = {BOX_KEY: observation_space}
        else:
            raise ValueError(
                f"unsupported observation space {type(observation_space).__name__}: "
                "only a Box or a Dict of Boxes"
            )
        for key, space in subspaces.items():
            if not isinstance(space, spaces.Box):
                raise ValueError(f"observation key {key!r}: only Box subspaces are supported")
        self.observation_space = observation_space
        self.action_space = action_space
        self.num_envs = num_envs
        self.rows = -(-capacity // num_envs)
        self.capacity = self.rows * num_envs
        self.keys = tuple(subspaces)
        self.action_dim = int(np.prod(action_space.shape))
        shape = (self.rows, num_envs)
        self.observations = {
            k: np.zeros(shape + s.shape, dtype=_storage_dtype(s)) for k, s in subspaces.items()
        }
        self.next_observations = {k: np.zeros_like(v) for k, v in self.observations.items()}
        self.actions = np.zeros((*shape, self.action_dim), dtype=np.float32)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=np.float32)
        self.episode_end = np.full(shape, -1, dtype=np.int64)
        """Absolute row one past the episode's last transition; -1 while it is running."""
        self.episode_start = np.zeros(num_envs, dtype=np.int64)
        """Absolute row at which each env's current episode began."""
        self.rows_written = 0
        """Rows written since creation (the absolute index of the next row)."""
        self._flat_views()

    def _flat_views(self) -> None:
        """``(rows * num_envs, ...)`` views, so a sample is one fancy index per array."""
        n = self.capacity

        def flat(a: np.ndarray) -> np.ndarray:
            return a.reshape(n, *a.shape[2:])

        self._obs_flat = {k: flat(v) for k, v in self.observations.items()}
        self._next_obs_flat = {k: flat(v) for k, v in self.next_observations.items()}
        self._actions_flat = flat(self.actions)
        self._rewards_flat = flat(self.rewards)
        self._terminated_flat = flat(self.terminated)

    def __len__(self) -> int:
        """Transitions currently held."""
        return min(self.rows_written, self.rows) * self.num_envs

    # ------------------------------------------------------------------ writing
    def add(
        self,
        observations: Mapping[str, np.ndarray] | np.ndarray,
        next_observations: Mapping[str, np.ndarray] | np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """Store one step of every env (arrays with a leading ``num_envs`` dimension).

        ``next_observations`` must be the true last observation where an episode ended (a
        vector env's ``info["final_obs"]``), not the reset observation. ``truncated`` only
        closes the episode; it never becomes ``terminated``.
        """
        row = self.rows_written % self.rows
        obs = observations if self.is_dict else {BOX_KEY: observations}
        next_obs = next_observations if self.is_dict else {BOX_KEY: next_observations}
        for key in self.keys:
            self.observations[key][row] = obs[key]
            self.next_observations[key][row] = next_obs[key]
        self.actions[row] = np.asarray(actions).reshape(self.num_envs, self.action_dim)
        self.rewards[row] = rewards
        self.terminated[row] = terminated
        self.episode_end[row] = -1
        self.rows_written += 1
        done = np.logical_or(terminated, truncated)
        if np.any(done):
            self._close_episodes(np.flatnonzero(done))

    def end_episodes(self) -> None:
        """Close every episode in progress here (envs are about to be reset, e.g. on save)."""
        running = np.flatnonzero(self.episode_start < self.rows_written)
        self._close_episodes(running)

    def _close_episodes(self, envs: np.ndarray) -> None:
        end = self.rows_written
        for env in envs:
            start = max(int(self.episode_start[env]), end - self.rows)
            self.episode_end[np.arange(start, end) % self.rows, env] = end
            self.episode_start[env] = end

    # ------------------------------------------------------------------ sampling
    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly with replacement, using ``rng`` only."""
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        flat = rng.integers(0, len(self), size=batch_size)
        obs = {k: v[flat] for k, v in self._obs_flat.items()}
        next_obs = {k: v[flat] for k, v in self._next_obs_flat.items()}
        rewards = self._rewards_flat[flat]
        terminated = self._terminated_flat[flat]
        self._relabel(flat, obs, next_obs, rewards, terminated, rng)
        return ReplayBatch(
            observations=self._to_torch(obs),
            actions=torch.from_numpy(self._actions_flat[flat]),
            rewards=torch.from_numpy(rewards),
            next_observations=self._to_torch(next_obs),
            terminated=torch.from_numpy(terminated),
        )

    def _relabel(
        self,
        flat: np.ndarray,
        obs: dict[str, np.ndarray],
        next_obs: dict[str, np.ndarray],
        rewards: np.ndarray,
        terminated: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Hook for goal relabelling (in place on the sampled copies); none here."""

    def _to_torch(self, arrays: dict[str, np.ndarray]) -> Observation:
        if not self.is_dict:
            return torch.from_numpy(arrays[BOX_KEY])
        return {k: torch.from_numpy(v) for k, v in arrays.items()}

    def _absolute_rows(self, rows: np.ndarray) -> np.ndarray:
        """The absolute index of the transitions now held in ``rows``."""
        return rows + self.rows * ((self.rows_written - 1 - rows) // self.rows)

    # ------------------------------------------------------------------ persistence
    def _meta(self) -> dict[str, Any]:
        return {
            "format": BUFFER_FORMAT,
            "version": BUFFER_VERSION,
            "class": type(self).__name__,
            "rows": self.rows,
            "num_envs": self.num_envs,
            "keys": list(self.keys),
            "shapes": {k: list(v.shape[2:]) for k, v in self.observations.items()},
            "dtypes": {k: v.dtype.name for k, v in self.observations.items()},
            "action_dim": self.action_dim,
        }

    def save(self, path: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> None:
        """Write the filled part of the buffer to an ``.npz`` atomically (no pickle).

        ``extra`` (JSON-compatible) comes back from :meth:`load`.
        """
        filled = min(self.rows_written, self.rows)
        meta = {**self._meta(), "extra": dict(extra or {})}
        arrays: dict[str, np.ndarray] = {
            "meta": np.array(json.dumps(meta, allow_nan=False)),
            "rows_written": np.array(self.rows_written, dtype=np.int64),
            "episode_start": self.episode_start,
            "actions": self.actions[:filled],
            "rewards": self.rewards[:filled],
            "terminated": self.terminated[:filled],
            "episode_end": self.episode_end[:filled],
        }
        for key in self.keys:
            arrays[f"obs/{key}"] = self.observations[key][:filled]
            arrays[f"next_obs/{key}"] = self.next_observations[key][:filled]
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    def load(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Restore a buffer written by :meth:`save` into this (identically built) buffer;
        return the ``extra`` it was saved with."""
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable replay buffer file ({exc})") from None
        with archive:
            if "meta" not in archive.files:
                raise ValueError(f"{path}: not a robo_reward replay buffer (no 'meta' entry)")
            meta = json.loads(str(archive["meta"]))
            expected = self._meta()
            if meta.get("format") != BUFFER_FORMAT or meta.get("version") != BUFFER_VERSION:
                raise ValueError(
                    f"{path}: replay buffer format {meta.get('format')!r} version "
                    f"{meta.get('version')!r}; expected {BUFFER_FORMAT!r} version {BUFFER_VERSION}"
                )
            diffs = sorted(k for k in expected if meta.get(k) != expected[k])
            if diffs:
                detail = ", ".join(
                    f"{k}: saved {meta.get(k)!r}, now {expected[k]!r}" for k in diffs
                )
                raise ValueError(f"{path}: replay buffer does not fit this buffer ({detail})")
            try:
                rows_written = int(archive["rows_written"])
                filled = min(rows_written, self.rows)
                self.actions[:filled] = archive["actions"]
                self.rewards[:filled] = archive["rewards"]
                self.terminated[:filled] = archive["terminated"]
                self.episode_end[:filled] = archive["episode_end"]
                for key in self.keys:
                    self.observations[key][:filled] = archive[f"obs/{key}"]
                    self.next_observations[key][:filled] = archive[f"next_obs/{key}"]
                self.episode_start[:] = archive["episode_start"]
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}: replay buffer file is corrupt ({exc})") from None
            self.rows_written = rows_written
        return dict(meta.get("extra", {}))


def goal_functions(env: gym.Env) -> tuple[GoalFunction, GoalFunction | None]:
    """``(compute_reward, compute_terminated or None)`` of a goal-conditioned env, checked.

    ``ValueError`` (saying why) unless the observation space is a Dict with ``achieved_goal``
    and ``desired_goal`` and the unwrapped env has ``compute_reward``.
    """
    space = env.observation_space
    if not isinstance(space, spaces.Dict) or not {"achieved_goal", "desired_goal"} <= set(
        space.spaces
    ):
        raise ValueError(
            "HER needs a goal-conditioned env: a Dict observation space with 'achieved_goal' "
            f"and 'desired_goal' keys; this env's observation space is {space}"
        )
    base = env.unwrapped
    compute_reward = getattr(base, "compute_reward", None)
    if not callable(compute_reward):
        raise ValueError(
            f"HER needs the env to provide compute_reward(achieved_goal, desired_goal, info) "
            f"to score relabelled goals; {type(base).__name__} has none"
        )
    compute_terminated = getattr(base, "compute_terminated", None)
    return compute_reward, compute_terminated if callable(compute_terminated) else None


class HerReplayBuffer(ReplayBuffer):
    """:class:`ReplayBuffer` with HER "future" relabelling at sampling time.

    Args:
        compute_reward: the env's vectorised ``compute_reward(achieved, desired, info)``.
        compute_terminated: the env's vectorised ``compute_terminated``, or ``None``: then a
            relabelled transition keeps its stored ``terminated`` (right for envs that never
            terminate on success, such as Gymnasium-Robotics' Fetch).
        her_k: relabelled transitions per real one: a fraction ``k / (k + 1)`` of each batch
            is relabelled (``k = 4``: 80 %).

    ``info`` is passed to both functions as a list of empty dicts (one per relabelled
    transition): infos are not stored, so an env whose reward needs them is not supported.
    Other arguments as :class:`ReplayBuffer`; ``achieved_goal`` and ``desired_goal`` are
    always stored.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        capacity: int,
        compute_reward: GoalFunction,
        compute_terminated: GoalFunction | None = None,
        num_envs: int = 1,
        keys: Sequence[str] | None = None,
        her_k: int = 4,
    ) -> None:
        if not isinstance(observation_space, spaces.Dict) or not {
            "achieved_goal",
            "desired_goal",
        } <= set(observation_space.spaces):
            raise ValueError(
                "HER needs a Dict observation space with 'achieved_goal' and 'desired_goal' "
                f"keys, got {observation_space}"
            )
        if not callable(compute_reward):
            raise ValueError("HER needs a callable compute_reward(achieved, desired, info)")
        if compute_terminated is not None and not callable(compute_terminated):
            raise ValueError("compute_terminated must be callable or None")
        if isinstance(her_k, bool) or not isinstance(her_k, int) or her_k < 0:
            raise ValueError(f"her_k must be an int >= 0, got {her_k!r}")
        if keys is not None:
            keys = (*keys, "achieved_goal", "desired_goal")
        super().__init__(observation_space, action_space, capacity, num_envs, keys)
        self.compute_reward = compute_reward
        self.compute_terminated = compute_terminated
        self.her_k = her_k
        self.her_ratio = her_k / (her_k + 1)

    def _relabel(
        self,
        flat: np.ndarray,
        obs: dict[str, np.ndarray],
        next_obs: dict[str, np.ndarray],
        rewards: np.ndarray,
        terminated: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        chosen = np.flatnonzero(rng.random(flat.shape[0]) < self.her_ratio)
        if chosen.size == 0:
            return
        rows, envs = np.divmod(flat[chosen], self.num_envs)
        start = self._absolute_rows(rows)
        end = self.episode_end[rows, envs]
        end = np.where(end < 0, self.rows_written, end)
        future = start + (rng.random(chosen.size) * (end - start)).astype(np.int64)
        goals = self._next_obs_flat["achieved_goal"][(future % self.rows) * self.num_envs + envs]
        obs["desired_goal"][chosen] = goals
        next_obs["desired_goal"][chosen] = goals
        achieved = next_obs["achieved_goal"][chosen]
        infos = [{}] * chosen.size
        rewards[chosen] = self.compute_reward(achieved, goals, infos)
        if self.compute_terminated is not None:
            terminated[chosen] = self.compute_terminated(achieved, goals, infos)

    def _meta(self) -> dict[str, Any]:
        return {**super()._meta(), "her_k": self.her_k}
