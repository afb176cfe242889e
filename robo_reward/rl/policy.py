"""A policy that acts on its own: what SAC and PPO train, save, and the ROS policy node loads.

A :class:`Policy` holds everything needed to turn an observation into an action and nothing of
the trainer: the observation normaliser (optional), the encoder, the actor head and the action
bounds. Its state-dict names are fixed, so a trainer that builds its actor as a ``Policy`` (SAC
and PPO both do) saves with :func:`save_policy` and the node loads with :func:`load_policy`:

``normalizer.stats.<key>.{mean,var,count}``  only with ``normalize_observations=True``;
``encoder.cnns.<key>.*``                     one Nature CNN per image key (none for vectors);
``actor.<i>.{weight,bias}``                  an :func:`~robo_reward.rl.networks.mlp` from the
                                             encoder's features to ``2 * action_dim`` outputs
                                             (mean, raw log-std) for ``"squashed_gaussian"`` or
                                             ``action_dim`` (mean) for ``"gaussian"``;
``log_std``                                  ``(action_dim,)``, ``"gaussian"`` only: a
                                             state-independent log standard deviation;
``action_low`` / ``action_high``             the action bounds (buffers).

Actor types:

- ``"squashed_gaussian"`` (SAC, Haarnoja et al. 2018): ``a = tanh(u)``, ``u ~ N(mean, std)``,
  mapped affinely from [-1, 1] onto the bounds; deterministic: ``tanh(mean)`` mapped the same
  way. The log-std is squashed into ``[LOG_STD_MIN, LOG_STD_MAX]`` (CleanRL's form).
- ``"gaussian"`` (PPO, Schulman et al. 2017): ``a ~ N(mean, exp(log_std))`` in action units,
  clipped to the bounds when acting (training uses the unclipped sample for log-probs, as
  Stable-Baselines3 does); deterministic: ``mean`` clipped to the bounds.

A PPO trainer builds ``Policy(obs_space, act_space, actor_type="gaussian", ...)`` as its actor,
trains ``policy.distribution(policy.features(obs))`` next to its own value network, and saves
the policy as is. A network trained elsewhere is brought in by ``load_state_dict`` with the
names above.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn
from torch.distributions import Normal

from robo_reward.checkpoints import CheckpointError, check_fit, load_weights, save_weights
from robo_reward.rl.networks import Observation, ObservationEncoder, is_image_space, mlp
from robo_reward.rl.normalize import ObservationNormalizer
from robo_reward.rl.spaces import space_from_json, space_to_json

__all__ = [
    "ACTOR_TYPES",
    "POLICY_KIND",
    "Policy",
    "load_policy",
    "save_policy",
]

ACTOR_TYPES = ("squashed_gaussian", "gaussian")
POLICY_KIND = "policy"
_CONFIG_KEYS = frozenset(
    (
        "algo",
        "actor_type",
        "observation_space",
        "action_space",
        "encoder_keys",
        "hidden",
        "normalize_observations",
        "cnn_features",
    )
)
"""What :meth:`Policy.config` writes (plus ``algo``): no more, no less."""
LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


class Policy(nn.Module):
    """Observation -> action, trainable, saveable and usable without any trainer.

    Args:
        observation_space: single-env observation space (Box, or Dict of Boxes).
        action_space: a 1-D Box; its bounds must be finite for ``"squashed_gaussian"``.
        actor_type: ``"squashed_gaussian"`` or ``"gaussian"`` (see the module docstring).
        keys: Dict keys the policy reads, in order (default: all).
        hidden: hidden layer sizes of the actor MLP.
        normalize_observations: keep running observation statistics (updated by the trainer
            through ``policy.normalizer.update``) and normalise inputs with them.
        cnn_features: feature size of each camera's CNN.
        log_std_init: initial ``log_std`` of a ``"gaussian"`` actor.
    """

    action_low: torch.Tensor
    action_high: torch.Tensor
    action_scale: torch.Tensor
    action_bias: torch.Tensor

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        *,
        actor_type: str = "squashed_gaussian",
        keys: Sequence[str] | None = None,
        hidden: Sequence[int] = (256, 256),
        normalize_observations: bool = False,
        cnn_features: int = 256,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        if actor_type not in ACTOR_TYPES:
            raise ValueError(f"actor_type must be one of {ACTOR_TYPES}, got {actor_type!r}")
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"the action space must be a 1-D Box, got {action_space}")
        low = np.asarray(action_space.low, dtype=np.float64)
        high = np.asarray(action_space.high, dtype=np.float64)
        if actor_type == "squashed_gaussian" and not (
            np.all(np.isfinite(low)) and np.all(np.isfinite(high))
        ):
            raise ValueError(
                "a squashed Gaussian actor needs finite action bounds; wrap the env in "
                "gymnasium.wrappers.RescaleAction or use actor_type='gaussian'"
            )
        if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden sizes must be positive ints, got {hidden!r}")
        self.observation_space = observation_space
        self.action_space = action_space
        self.algo = ""
        """Who trained it (set by :func:`load_policy`)."""
        self.extra: dict[str, Any] = {}
        """The ``extra`` it was saved with (set by :func:`load_policy`)."""
        self.actor_type = actor_type
        self.hidden = tuple(hidden)
        self.cnn_features = int(cnn_features)
        self.action_dim = int(action_space.shape[0])
        self.encoder = ObservationEncoder(observation_space, keys, cnn_features)
        self.keys = self.encoder.keys
        self.normalizer = (
            ObservationNormalizer(observation_space, self.keys) if normalize_observations else None
        )
        out = 2 * self.action_dim if actor_type == "squashed_gaussian" else self.action_dim
        self.actor = mlp(self.encoder.out_dim, out, self.hidden)
        if actor_type == "gaussian":
            self.log_std = nn.Parameter(torch.full((self.action_dim,), float(log_std_init)))
        self.register_buffer("action_low", torch.as_tensor(low, dtype=torch.float32))
        self.register_buffer("action_high", torch.as_tensor(high, dtype=torch.float32))
        # Derived, so not saved: the affine map from [-1, 1] onto the bounds (squashed actors;
        # NaN where a Gaussian actor's bound is infinite, and then unused).
        with np.errstate(invalid="ignore"):
            scale, bias = (high - low) / 2.0, (high + low) / 2.0
        self.register_buffer("action_scale", torch.as_tensor(scale, dtype=torch.float32), False)
        self.register_buffer("action_bias", torch.as_tensor(bias, dtype=torch.float32), False)

    # ------------------------------------------------------------------ config
    def config(self) -> dict[str, Any]:
        """What :func:`load_policy` needs to rebuild this policy before loading its weights."""
        return {
            "actor_type": self.actor_type,
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
            "encoder_keys": None if self.keys is None else list(self.keys),
            "hidden": list(self.hidden),
            "normalize_observations": self.normalizer is not None,
            "cnn_features": self.cnn_features,
        }

    # ------------------------------------------------------------------ tensors in, tensors out
    def features(self, observation: Observation) -> torch.Tensor:
        """Normalised (if enabled) and encoded observation, ``(B, encoder.out_dim)``."""
        if self.normalizer is not None:
            observation = self.normalizer(observation)
        return self.encoder(observation)

    def squashed_sample(
        self, features: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SAC's reparameterised sample: ``(a in [-1, 1]^A, log pi(a | s))``, both with grad.

        The log-density includes the tanh change of variables in its stable form
        ``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))``; the affine map to the bounds
        is a constant and left out, as in every SAC implementation.
        """
        mean, log_std = self._squashed_head(features)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        u = mean + log_std.exp() * noise
        log_prob = -(0.5 * noise.square() + log_std + _HALF_LOG_2PI)
        log_prob = log_prob - 2.0 * (_LOG_2 - u - F.softplus(-2.0 * u))
        return torch.tanh(u), log_prob.sum(dim=-1)

    def distribution(self, features: torch.Tensor) -> Normal:
        """PPO's action distribution in action units (``"gaussian"`` actors only)."""
        if self.actor_type != "gaussian":
            raise ValueError("distribution() is for 'gaussian' actors; SAC uses squashed_sample")
        mean = self.actor(features)
        return Normal(mean, self.log_std.exp().expand_as(mean))

    def to_action(self, normalized: torch.Tensor) -> torch.Tensor:
        """Map a squashed action from [-1, 1] onto the action bounds."""
        return normalized * self.action_scale + self.action_bias

    def forward(
        self,
        observation: Observation,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Actions in action units, within the bounds, ``(B, action_dim)``."""
        features = self.features(observation)
        if self.actor_type == "squashed_gaussian":
            if deterministic:
                mean, _ = self._squashed_head(features)
                return self.to_action(torch.tanh(mean))
            normalized, _ = self.squashed_sample(features, generator)
            return self.to_action(normalized)
        mean = self.actor(features)
        if not deterministic:
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
            mean = mean + self.log_std.exp() * noise
        return torch.maximum(torch.minimum(mean, self.action_high), self.action_low)

    def _squashed_head(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw = self.actor(features).chunk(2, dim=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1.0)
        return mean, log_std

    # ------------------------------------------------------------------ numpy in, numpy out
    def act(
        self,
        observation: Mapping[str, np.ndarray] | np.ndarray,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Action(s) for one observation (``(action_dim,)``) or a batch (``(B, action_dim)``).

        Runs in eval mode without gradients. The observation is checked first: a missing key,
        a wrong shape or dtype, NaN or infinity raise ``ValueError`` naming the key; keys the
        policy does not read are ignored.
        """
        tensors, batched = self.observation_to_tensor(observation)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                action = self(tensors, deterministic=deterministic, generator=generator)
        finally:
            self.train(was_training)
        out = action.numpy().astype(np.float32, copy=False)
        return out if batched else out[0]

    def observation_to_tensor(
        self, observation: Mapping[str, np.ndarray] | np.ndarray
    ) -> tuple[Observation, bool]:
        """Validate a numpy observation; return it as tensors with a batch dim, and whether
        it came batched."""
        space = self.observation_space
        if self.keys is None:
            if isinstance(observation, Mapping):
                raise ValueError("this policy takes an array observation, not a dict")
            tensor, batched = _check_array("observation", observation, space)
            return tensor, batched
        if not isinstance(observation, Mapping):
            raise ValueError(
                f"this policy takes a dict observation with keys {list(self.keys)}, "
                f"got {type(observation).__name__}"
            )
        tensors: dict[str, torch.Tensor] = {}
        batch_shapes = {}
        for key in self.keys:
            if key not in observation:
                raise ValueError(
                    f"observation key {key!r} is missing (the policy reads {list(self.keys)}, "
                    f"got {list(observation)})"
                )
            tensors[key], batched = _check_array(key, observation[key], space.spaces[key])
            batch_shapes[key] = tensors[key].shape[0] if batched else None
        if len(set(batch_shapes.values())) != 1:
            raise ValueError(
                f"observation keys disagree on the batch size (None = unbatched): {batch_shapes}"
            )
        return tensors, next(iter(batch_shapes.values())) is not None


def _check_array(key: str, value: Any, space: spaces.Box) -> tuple[torch.Tensor, bool]:
    array = np.asarray(value)
    shape = tuple(space.shape)
    if array.shape == shape:
        batched = False
        array = array[None]
    elif array.ndim == len(shape) + 1 and array.shape[1:] == shape:
        batched = True
    else:
        raise ValueError(
            f"observation {key!r} has shape {array.shape}; expected {shape} or (batch, *{shape})"
        )
    if is_image_space(space):
        if array.dtype != np.uint8:
            raise ValueError(f"observation {key!r} is an image: expected uint8, got {array.dtype}")
    elif not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"observation {key!r} has non-numeric dtype {array.dtype}")
    elif np.issubdtype(array.dtype, np.inexact) and not np.all(np.isfinite(array)):
        raise ValueError(f"observation {key!r} contains NaN or infinity")
    return torch.from_numpy(np.ascontiguousarray(array)), batched


# ---------------------------------------------------------------------- files


def save_policy(
    path: str | os.PathLike[str],
    policy: Policy,
    algo: str,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``policy`` (kind ``"policy"``) atomically; ``algo`` names who trained it."""
    config = {"algo": str(algo), **policy.config()}
    return save_weights(path, policy.state_dict(), kind=POLICY_KIND, config=config, extra=extra)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Rebuild a policy written by :func:`save_policy`, in eval mode.

    ``policy.algo`` and ``policy.extra`` hold what it was saved with.
    """
    loaded = load_weights(path, kind=POLICY_KIND)
    config = loaded.config
    missing = sorted(_CONFIG_KEYS - set(config))
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if missing or unknown:
        raise CheckpointError(
            f"{path}: policy config lacks {missing} or has unknown entries {unknown} "
            "(corrupted, or not written by save_policy)"
        )
    for key, kind in (("algo", str), ("normalize_observations", bool), ("cnn_features", int)):
        value = config[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise CheckpointError(
                f"{path}: policy config {key!r} must be a {kind.__name__}, got {value!r}"
            )

    def build(config: dict[str, Any]) -> Policy:
        return Policy(
            space_from_json(config["observation_space"]),
            space_from_json(config["action_space"]),
            actor_type=config["actor_type"],
            keys=config["encoder_keys"],
            hidden=tuple(config["hidden"]),
            normalize_observations=config["normalize_observations"],
            cnn_features=config["cnn_features"],
        )

    try:
        check_fit(path, build, config, loaded.tensors, "policy")
        policy = build(config)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: policy config is malformed ({exc!r})") from None
    try:
        policy.load_state_dict(loaded.tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the policy config ({exc})") from None
    policy.algo = config["algo"]
    policy.extra = loaded.extra
    return policy.eval()
