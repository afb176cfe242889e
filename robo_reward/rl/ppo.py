"""Proximal Policy Optimization (Schulman et al., 2017) with GAE (Schulman et al., 2016).

Read top to bottom: :class:`PPOConfig` (every hyper-parameter), :func:`gae_advantages` (the one
place returns are bootstrapped), :class:`ValueFunction`, :class:`ClippedSurrogate` (the policy
loss), then :class:`PPO`: the rollout in :meth:`PPO._collect_rollout`, the update in
:meth:`PPO._update`, evaluation, and exact save/resume. The shape follows CleanRL's
``ppo_continuous_action``; the public API mirrors :class:`~robo_reward.rl.sac.SAC`.

Conventions (Gymnasium >= 1.0):

- The vector env runs with ``autoreset_mode=SAME_STEP``: the step that ends an episode returns
  the reset observation of the next one and puts the true last observation in
  ``info["final_obs"]`` (and the last step's info in ``info["final_info"]``). Every step is
  then a real transition, so no env step is wasted (the default ``NEXT_STEP`` mode spends one
  step per episode on a reset that must be masked out of GAE and the losses), and the value of
  the true final observation is at hand for truncations.
- ``terminated`` ends the MDP: no bootstrap. ``truncated`` (a time limit) does not: the return
  bootstraps with ``V(final_obs)`` (Pardo et al., "Time Limits in Reinforcement Learning",
  2018). Both cut the GAE recursion, since the next stored step belongs to a new episode.
- The actor is a :class:`~robo_reward.rl.policy.Policy` of type ``"gaussian"``: a
  state-independent log-std, actions clipped to the bounds when sent to the env while the
  unclipped sample is stored for its log-probability (as Stable-Baselines3 does).
- Observations are normalised with running statistics held by the policy (saved with it, so
  the ROS node normalises as training did). They stay fixed during a rollout and take in the
  rollout's raw observations at its end, as Brax's PPO does; evaluation never updates them.
  Rollouts store the normalised observation the policy acted on, so the first epoch's
  probability ratio is 1 up to float rounding.
- Speed on CPU (the design asks for 1.5x Stable-Baselines3's env steps/s): rollout storage is
  preallocated; each env step is one batched actor and critic forward; without cameras the
  observation is encoded once for both; an epoch's minibatches are gathered with one index per
  tensor and their advantages normalised in one op; the Gaussian log-density is written out
  (``torch.distributions`` validates its arguments on every call) and the clipped surrogate is
  one autograd node (:class:`ClippedSurrogate`); actor and critic parameters live in one flat
  tensor (:class:`FlatParameters`), so the gradient clip is one norm and Adam (fused) one
  tensor; losses are read (``.item()``) once per rollout.

Saving is an episode boundary: :meth:`PPO.save` (called between rollouts, the only place
:meth:`PPO.learn` hands control to a callback) ends the episodes in progress, and the next
rollout starts from a fresh reset seeded from the saved numpy RNG. A run resumed with
:meth:`PPO.load` therefore continues exactly as the run that wrote it did after the save. What
is not restored: the mid-episode state of the envs at the save (those partial episodes are
dropped, not logged), and the wall-clock speed metrics.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn
from tqdm import tqdm

from robo_reward.checkpoints import (
    CheckpointError,
    load_optimizer,
    load_weights,
    save_optimizer,
    save_weights,
)
from robo_reward.data.atomic import atomic_group, recover_group
from robo_reward.rl.episodes import REWARD_TERM_PREFIXES, evaluate_policy, step_values
from robo_reward.rl.hyperparams import ControllerConfig, is_real
from robo_reward.rl.logger import RunLogger
from robo_reward.rl.networks import Observation, ObservationEncoder, is_image_space, mlp
from robo_reward.rl.policy import Policy, save_policy
from robo_reward.rl.spaces import space_to_json

__all__ = [
    "PPO",
    "PPO_KIND",
    "REWARD_TERM_PREFIXES",
    "ClippedSurrogate",
    "FlatParameters",
    "PPOConfig",
    "ValueFunction",
    "gae_advantages",
]

PPO_KIND = "ppo"
"""Checkpoint kind of a full PPO trainer state (a bare policy is kind ``"policy"``)."""
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

EnvFactory = Callable[[], gym.Env]
IterationCallback = Callable[["PPO"], "bool | None"]


@dataclass(frozen=True)
class PPOConfig(ControllerConfig):
    """Hyper-parameters of :class:`PPO`.

    Defaults are CleanRL's ``ppo_continuous_action`` except for 8 envs x 128 steps per rollout,
    a constant learning rate and no value clipping (Stable-Baselines3's choices), and ReLU
    hidden layers (the shared :func:`~robo_reward.rl.networks.mlp`; both use tanh for PPO).
    """

    total_steps: int = 1_000_000
    """Env steps (summed over envs) that :meth:`PPO.learn` trains up to by default."""
    num_envs: int = 8
    """Parallel envs (a ``SyncVectorEnv`` when PPO builds the envs)."""
    num_steps: int = 128
    """Steps per env per rollout; a rollout holds ``num_envs * num_steps`` transitions."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 is the one-step TD advantage, 1 the Monte-Carlo return minus V."""
    update_epochs: int = 10
    """Passes over each rollout."""
    num_minibatches: int = 32
    """Minibatches per epoch; must divide ``num_envs * num_steps``."""
    clip_coef: float = 0.2
    """Surrogate clipping: the probability ratio is clipped to ``[1 - c, 1 + c]``."""
    clip_vloss: bool = False
    """Clip the value update like the policy's (off: it tends to hurt, Andrychowicz et al.,
    "What Matters in On-Policy RL", 2021; SB3's default)."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip over actor and critic."""
    lr: float = 3e-4
    """Adam learning rate (of actor and critic)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over ``total_steps`` (CleanRL's default)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the actor and of the value function."""
    log_std_init: float = 0.0
    """Initial state-independent log standard deviation of the actions."""
    normalize_observations: bool = True
    """Normalise non-image inputs with running statistics (saved with the policy)."""
    normalize_advantages: bool = True
    """Standardise advantages within each minibatch."""
    target_kl: float | None = None
    """Stop a rollout's epochs early once an epoch's mean approximate KL exceeds this."""
    obs_keys: tuple[str, ...] | None = None
    """Dict keys the networks read, in order (``None``: all); e.g. ("state", "desired_goal")."""
    cnn_features: int = 256
    """Feature size of each camera's CNN."""
    eval_every: int = 0
    """Env steps between evaluations (deterministic actions, separate env); 0: never."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    seed: int = 0
    """Seeds network init, env resets, action sampling, minibatches and evaluation."""
    tensorboard: bool = False
    """Also write TensorBoard event files to the run directory."""
    torch_threads: int = 1
    """``torch.set_num_threads``: small MLPs run fastest on one thread."""

    def __post_init__(self) -> None:
        self._normalize_sequences()
        self._check_ints(
            (
                "total_steps",
                "num_envs",
                "num_steps",
                "update_epochs",
                "num_minibatches",
                "cnn_features",
                "eval_episodes",
                "torch_threads",
            ),
            minimum=1,
        )
        self._check_ints(("eval_every", "seed"), minimum=0)
        self._check_reals(("clip_coef", "max_grad_norm", "lr"), positive=True)
        self._check_reals(("ent_coef", "vf_coef"), positive=False)
        if not is_real(self.log_std_init):
            raise ValueError(f"PPOConfig.log_std_init must be finite, got {self.log_std_init!r}")
        if not (is_real(self.gamma) and 0.0 < self.gamma <= 1.0):
            raise ValueError(f"PPOConfig.gamma must be in (0, 1], got {self.gamma!r}")
        if not (is_real(self.gae_lambda) and 0.0 <= self.gae_lambda <= 1.0):
            raise ValueError(f"PPOConfig.gae_lambda must be in [0, 1], got {self.gae_lambda!r}")
        if self.target_kl is not None and not (is_real(self.target_kl) and self.target_kl > 0):
            raise ValueError(f"PPOConfig.target_kl must be None or > 0, got {self.target_kl!r}")
        if self.batch_size % self.num_minibatches:
            raise ValueError(
                f"PPOConfig.num_minibatches ({self.num_minibatches}) must divide the rollout "
                f"size num_envs * num_steps = {self.num_envs} * {self.num_steps} = "
                f"{self.batch_size}"
            )

    @property
    def batch_size(self) -> int:
        """Transitions per rollout: ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        """Transitions per gradient step: ``batch_size // num_minibatches``."""
        return self.batch_size // self.num_minibatches


def gae_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    dones: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> torch.Tensor:
    """Generalised advantage estimates over a rollout of shape ``(T, N)``.

    ``next_values[t]`` is ``V`` of the observation that *followed* step ``t``: ``values[t + 1]``
    inside an episode, ``V(final_obs)`` where step ``t`` ended one, the last observation's
    value at ``t = T - 1``. ``terminated`` zeroes it (no future after the MDP ends; a time-limit
    truncation keeps it), and ``dones = terminated | truncated`` stops the recursion from
    reaching into the next episode::

        delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t
        A_t     = delta_t + gamma * lambda * (1 - dones_t) * A_{t+1}

    Returns ``A``; the value targets are ``A + values``.
    """
    not_terminated = 1.0 - terminated.to(values.dtype)
    deltas = rewards + gamma * not_terminated * next_values - values
    carry = (gamma * gae_lambda) * (1.0 - dones.to(values.dtype))
    advantages = torch.empty_like(deltas)
    last = torch.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):
        last = deltas[t] + carry[t] * last
        advantages[t] = last
    return advantages


class ValueFunction(nn.Module):
    """``V(s)``: its own observation encoder and an :func:`~robo_reward.rl.networks.mlp`.

    Separate from the actor (no shared trunk), so the policy a robot runs is exactly the
    :class:`~robo_reward.rl.policy.Policy` and the value loss never moves it.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        keys: tuple[str, ...] | None,
        hidden: tuple[int, ...],
        cnn_features: int,
    ) -> None:
        super().__init__()
        self.encoder = ObservationEncoder(observation_space, keys, cnn_features)
        self.value = mlp(self.encoder.out_dim, 1, hidden)

    def forward(self, observation: Observation) -> torch.Tensor:
        return self.value(self.encoder(observation)).squeeze(-1)


def _orthogonal_init(network: nn.Sequential, output_gain: float) -> None:
    """Orthogonal weights (gain sqrt 2 hidden, ``output_gain`` last), zero biases: CleanRL's
    ``layer_init``. A small policy output gain (0.01) starts every action near the mean
    (Andrychowicz et al., 2021)."""
    linears = [m for m in network if isinstance(m, nn.Linear)]
    for index, layer in enumerate(linears):
        gain = output_gain if index == len(linears) - 1 else math.sqrt(2.0)
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.zeros_(layer.bias)


class FlatParameters:
    """Parameters of several modules as views of one flat tensor, gradients likewise.

    The modules keep their own ``nn.Parameter`` objects (state dicts, :class:`Policy` and
    ``load_state_dict`` work unchanged), but their storage and their ``.grad`` are slices of
    :attr:`flat` and :attr:`flat.grad <flat>`. Zeroing, the global-norm clip and Adam then each
    act on one tensor: on a small CPU network that is a fifth of a PPO gradient step saved
    (the flat-buffer trick of Apex and DeepSpeed). Autograd accumulates into the preset
    ``.grad`` views in place, so gradients must be zeroed with :meth:`zero_grad` (never set to
    ``None``).
    """

    def __init__(self, parameters: Sequence[nn.Parameter]) -> None:
        parameters = list(parameters)
        sizes = [p.numel() for p in parameters]
        self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in parameters]))
        self.flat.grad = torch.zeros_like(self.flat)
        for param, data, grad in zip(
            parameters, self.flat.data.split(sizes), self.flat.grad.split(sizes), strict=True
        ):
            param.data = data.view_as(param)
            param.grad = grad.view_as(param)

    def zero_grad(self) -> None:
        assert self.flat.grad is not None
        self.flat.grad.zero_()

    def clip_grad_norm(self, max_norm: float) -> None:
        """Scale the gradient to a global L2 norm of at most ``max_norm``
        (``torch.nn.utils.clip_grad_norm_``'s rule)."""
        grad = self.flat.grad
        assert grad is not None
        grad.mul_(torch.clamp(max_norm / (torch.linalg.vector_norm(grad) + 1e-6), max=1.0))


class ClippedSurrogate(torch.autograd.Function):
    """PPO's clipped surrogate loss for a Gaussian policy, with its gradient written out.

    Forward, for a minibatch of ``B`` transitions (Schulman et al., 2017, eq. 7)::

        log_ratio = log N(a; mean, exp(log_std)) - old_log_prob
        ratio     = exp(log_ratio)
        loss      = -mean_i min(adv_i ratio_i, adv_i clip(ratio_i, 1 - c, 1 + c))

    Backward: the minimum passes gradient only where the unclipped term is the smaller one
    (``active``), and there ``d loss / d log_prob_i = -adv_i ratio_i / B``; with
    ``z = (a - mean) / std``, ``d log_prob / d mean = z / std`` and
    ``d log_prob / d log_std = z^2 - 1``. Autograd would record some fifteen small nodes for
    the same numbers; one node saves a tenth of a PPO gradient step on CPU. The test suite
    checks it against autograd on the plain formula.

    Returns ``(loss, ratio, log_ratio)``; the last two are for statistics (no gradient).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        mean: torch.Tensor,
        log_std: torch.Tensor,
        actions: torch.Tensor,
        old_log_prob: torch.Tensor,
        advantages: torch.Tensor,
        clip_coef: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        inv_std = torch.exp(-log_std)
        z = (actions - mean) * inv_std
        log_prob = -0.5 * z.square().sum(dim=-1) - (
            log_std.sum() + log_std.shape[0] * _HALF_LOG_2PI
        )
        log_ratio = log_prob - old_log_prob
        ratio = log_ratio.exp()
        unclipped = advantages * ratio
        clipped = advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)
        loss = -torch.min(unclipped, clipped).mean()
        ctx.save_for_backward(z, inv_std, ratio, advantages, unclipped <= clipped)
        ctx.mark_non_differentiable(ratio, log_ratio)
        return loss, ratio, log_ratio

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_loss: torch.Tensor, *unused: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        z, inv_std, ratio, advantages, active = ctx.saved_tensors
        weight = (grad_loss / -advantages.shape[0]) * advantages * ratio * active
        weight = weight.unsqueeze(-1)
        grad_mean = weight * z * inv_std
        grad_log_std = (weight * (z.square() - 1.0)).sum(dim=0)
        return grad_mean, grad_log_std, None, None, None, None


def _make_vector_env(
    env: EnvFactory | Sequence[EnvFactory] | gym.vector.VectorEnv, num_envs: int
) -> tuple[gym.vector.VectorEnv, bool]:
    """The training vector env, and whether PPO made it (and so closes it)."""
    if isinstance(env, gym.vector.VectorEnv):
        mode = env.metadata.get("autoreset_mode")
        if mode != gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError(
                f"PPO needs a vector env with autoreset_mode=SAME_STEP (got {mode}), so "
                "each episode's true last observation arrives in info['final_obs']; build "
                "it with gymnasium.vector.SyncVectorEnv(fns, autoreset_mode="
                "gymnasium.vector.AutoresetMode.SAME_STEP) or pass env factories"
            )
        if env.num_envs != num_envs:
            raise ValueError(
                f"the vector env has {env.num_envs} envs but config.num_envs is {num_envs}"
            )
        return env, False
    if callable(env):
        factories = [env] * num_envs
    elif isinstance(env, Sequence) and env and all(callable(f) for f in env):
        factories = list(env)
        if len(factories) != num_envs:
            raise ValueError(
                f"got {len(factories)} env factories but config.num_envs is {num_envs}"
            )
    else:
        raise ValueError(
            f"env must be an env factory, a list of them, or a vector env; got {env!r}"
        )
    vector = gym.vector.SyncVectorEnv(
        factories, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, copy=False
    )
    return vector, True


def _default_eval_factory(
    env: EnvFactory | Sequence[EnvFactory] | gym.vector.VectorEnv,
) -> EnvFactory | None:
    """The (first) training factory; none for a ready-made vector env."""
    if isinstance(env, gym.vector.VectorEnv):
        return None
    return env if callable(env) else env[0]


class PPO:
    """Proximal Policy Optimization trainer.

    Args:
        env: a zero-argument env factory (PPO builds a ``SyncVectorEnv`` of
            ``config.num_envs`` copies), a sequence of ``config.num_envs`` factories, or a
            vector env built with ``autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP``.
        config: hyper-parameters.
        run_dir: where metrics (``metrics.csv``, TensorBoard) go; ``None``: no files.
        eval_env: factory of the evaluation env (default: the (first) training factory).

    Attributes of interest: ``actor`` (the :class:`~robo_reward.rl.policy.Policy`, exported
    with :meth:`export_policy`), ``critic``, ``optimizer``, ``global_step``,
    ``num_iterations`` (rollouts trained on).
    """

    algo = "ppo"

    def __init__(
        self,
        env: EnvFactory | Sequence[EnvFactory] | gym.vector.VectorEnv,
        config: PPOConfig | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        eval_env: EnvFactory | None = None,
    ) -> None:
        self.config = config = config if config is not None else PPOConfig()
        torch.set_num_threads(config.torch_threads)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)

        self.envs, self._owns_envs = _make_vector_env(env, config.num_envs)
        self._eval_factory = eval_env if eval_env is not None else _default_eval_factory(env)
        self._eval_env: gym.Env | None = None
        self.observation_space = self.envs.single_observation_space
        self.action_space = self.envs.single_action_space
        try:
            self.actor, self.critic = self._build_networks()
        except BaseException:
            self.close()
            raise
        _orthogonal_init(self.actor.actor, 0.01)
        _orthogonal_init(self.critic.value, 1.0)
        self._params = FlatParameters([*self.actor.parameters(), *self.critic.parameters()])
        self.optimizer = torch.optim.Adam([self._params.flat], lr=config.lr, eps=1e-5, fused=True)
        # Without cameras the encoders are the same parameter-free concatenation: encode once.
        self._shared_features = not any(
            True for m in (self.actor.encoder, self.critic.encoder) for _ in m.parameters()
        )
        self.logger = RunLogger(run_dir, config.tensorboard) if run_dir is not None else None

        self.global_step = 0
        self.num_iterations = 0
        self.num_episodes = 0
        self._recent_returns: deque[float] = deque(maxlen=20)
        self._recent_successes: deque[float] = deque(maxlen=20)
        self._last_losses: dict[str, float] = {}
        self._last_eval: dict[str, float] = {}
        self.checkpoint_extra: dict[str, Any] = {}
        """What the caller stored with :meth:`save` (``extra``), after :meth:`load`."""
        self._obs: dict[str, torch.Tensor] | None = None
        self._allocate_rollout()
        num_envs = config.num_envs
        self._episode_return = np.zeros(num_envs)
        self._episode_length = np.zeros(num_envs, dtype=np.int64)
        self._episode_terms: dict[str, np.ndarray] = {}
        self._term_buffer = np.zeros(num_envs)

    # ------------------------------------------------------------------ construction helpers
    def _build_networks(self) -> tuple[Policy, ValueFunction]:
        config = self.config
        if not isinstance(self.action_space, spaces.Box) or len(self.action_space.shape) != 1:
            raise ValueError(f"PPO needs a 1-D Box action space, got {self.action_space}")
        if config.obs_keys is not None and not isinstance(self.observation_space, spaces.Dict):
            raise ValueError("obs_keys only apply to Dict observation spaces; set obs_keys=None")
        actor = Policy(
            self.observation_space,
            self.action_space,
            actor_type="gaussian",
            keys=config.obs_keys,
            hidden=config.hidden,
            normalize_observations=config.normalize_observations,
            cnn_features=config.cnn_features,
            log_std_init=config.log_std_init,
        )
        critic = ValueFunction(
            self.observation_space, actor.keys, config.hidden, config.cnn_features
        )
        return actor, critic

    def _get_eval_env(self) -> gym.Env:
        if self._eval_env is None:
            if self._eval_factory is None:
                raise ValueError("evaluation needs eval_env=<env factory> with a vector env")
            self._eval_env = self._eval_factory()
        return self._eval_env

    def _allocate_rollout(self) -> None:
        """Preallocated rollout storage, ``(num_steps, num_envs, ...)`` per entry:

        ``obs/<key>``    what the networks saw (normalised; images as uint8);
        ``raw/<key>``    the raw observation of each normalised key (for the statistics);
        ``actions``      the unclipped sampled actions; ``log_probs`` their log-density;
        ``values``       ``V(obs)``; ``final_values`` ``V(final_obs)`` where a step was
                         truncated (else unused);
        ``rewards``, ``terminated``, ``dones`` (terminated or truncated).
        """
        steps, envs = self.config.num_steps, self.config.num_envs
        if isinstance(self.observation_space, spaces.Dict):
            subspaces = {k: self.observation_space[k] for k in self.actor.keys or ()}
        else:
            subspaces = {"obs": self.observation_space}
        self._obs_keys = tuple(subspaces)
        normalizer = self.actor.normalizer
        self._raw_keys = tuple(normalizer.stats) if normalizer is not None else ()
        rollout = {
            f"obs/{key}": torch.zeros(
                (steps, envs, *space.shape),
                dtype=torch.uint8 if is_image_space(space) else torch.float32,
            )
            for key, space in subspaces.items()
        }
        for key in self._raw_keys:
            rollout[f"raw/{key}"] = torch.zeros((steps, envs, *subspaces[key].shape))
        rollout["actions"] = torch.zeros((steps, envs, self.actor.action_dim))
        for name in ("log_probs", "values", "final_values", "rewards", "terminated", "dones"):
            rollout[name] = torch.zeros((steps, envs))
        self._rollout = rollout

    # ------------------------------------------------------------------ observations
    def _as_tensors(self, raw: Any) -> dict[str, torch.Tensor]:
        """The keys the networks read as tensors of their own (the vector env reuses its
        arrays); the key is ``"obs"`` for a Box space."""
        if isinstance(raw, Mapping):
            return {k: torch.from_numpy(np.array(raw[k])) for k in self._obs_keys}
        return {"obs": torch.from_numpy(np.array(raw))}

    def _normalize(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``obs`` normalised with the policy's running statistics (images pass through)."""
        normalizer = self.actor.normalizer
        if normalizer is None:
            return obs
        if normalizer.is_dict:
            return normalizer(obs)
        return {"obs": normalizer(obs["obs"])}

    def _inputs(self, obs: Mapping[str, torch.Tensor]) -> Observation:
        """What the encoders take: the dict, or the tensor of a Box space."""
        return obs if self.actor.keys is not None else obs["obs"]

    # ------------------------------------------------------------------ training loop
    def learn(
        self,
        total_steps: int | None = None,
        progress_bar: bool = True,
        callback: IterationCallback | None = None,
    ) -> dict[str, float]:
        """Train until ``global_step`` reaches ``total_steps`` (default ``config.total_steps``),
        in whole rollouts of ``config.batch_size`` steps (so it may overshoot by less than one).

        ``callback(ppo)`` runs after every rollout and its update (a rollout boundary, where
        :meth:`save` is exact); returning ``False`` stops training. Returns the final metrics
        (means over the last 20 training episodes, the last update's losses, the last
        evaluation).
        """
        config = self.config
        target = config.total_steps if total_steps is None else int(total_steps)
        start_step, start_time = self.global_step, time.perf_counter()
        bar = tqdm(
            total=target,
            initial=self.global_step,
            disable=not progress_bar,
            desc="ppo",
            unit="step",
            mininterval=1.0,
        )
        try:
            while self.global_step < target:
                iteration_start = time.perf_counter()
                steps_before = self.global_step
                if config.anneal_lr:
                    planned = math.ceil(config.total_steps / config.batch_size)
                    fraction = max(0.0, 1.0 - self.num_iterations / planned)
                    self.optimizer.param_groups[0]["lr"] = fraction * config.lr
                advantages, returns = self._collect_rollout()
                self._update(advantages, returns)
                self.num_iterations += 1
                sps = (self.global_step - steps_before) / (time.perf_counter() - iteration_start)
                self._log({**self._last_losses, "charts/sps": sps})
                if self._crossed(config.eval_every, steps_before):
                    self.evaluate()
                bar.update(self.global_step - steps_before)
                if callback is not None and callback(self) is False:
                    break
        finally:
            bar.close()
        elapsed = time.perf_counter() - start_time
        return self._final_metrics((self.global_step - start_step) / max(elapsed, 1e-9))

    def _reset_envs(self) -> None:
        seeds = self.rng.integers(0, 2**31 - 1, size=self.config.num_envs)
        obs, _ = self.envs.reset(seed=[int(s) for s in seeds])
        self._obs = self._as_tensors(obs)
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        for sums in self._episode_terms.values():
            sums[:] = 0.0

    @torch.no_grad()
    def _collect_rollout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``num_steps`` vector steps with the stochastic policy; return the advantages
        and value targets, ``(num_steps, num_envs)`` each.

        The observation statistics stay fixed during the rollout and take in its observations
        at the end (as Brax's PPO does): one update per rollout instead of one per step, and
        every observation of a rollout, bootstrap values included, is normalised alike.
        """
        config = self.config
        actor, critic, generator = self.actor, self.critic, self.generator
        if self._obs is None:
            self._reset_envs()
        rollout = self._rollout
        rows = {name: tensor.unbind(0) for name, tensor in rollout.items()}  # per-step views
        arrays = {name: rollout[name].numpy() for name in ("rewards", "terminated", "dones")}
        rollout["final_values"].zero_()
        log_std = actor.log_std.detach()
        std = log_std.exp()
        # log N(mean + std * noise; mean, std) = -|noise|^2 / 2 - sum(log_std) - A log(2 pi) / 2
        log_prob_offset = log_std.sum() + log_std.shape[0] * _HALF_LOG_2PI
        for step in range(config.num_steps):
            raw = self._obs
            assert raw is not None
            for key in self._raw_keys:
                rows[f"raw/{key}"][step].copy_(raw[key])
            obs = self._normalize(raw)
            for key in self._obs_keys:
                rows[f"obs/{key}"][step].copy_(obs[key])
            mean, values = self._mean_and_value(self._inputs(obs))
            noise = torch.randn(mean.shape, generator=generator)
            actions = torch.addcmul(mean, std, noise, out=rows["actions"][step])
            rows["log_probs"][step].copy_(-0.5 * noise.square().sum(dim=-1) - log_prob_offset)
            rows["values"][step].copy_(values)

            env_actions = torch.maximum(torch.minimum(actions, actor.action_high), actor.action_low)
            next_obs, rewards, terminated, truncated, infos = self.envs.step(env_actions.numpy())
            done = terminated | truncated
            arrays["rewards"][step] = rewards
            arrays["terminated"][step] = terminated
            arrays["dones"][step] = done
            self._obs = self._as_tensors(next_obs)
            bootstrap = np.flatnonzero(truncated & ~terminated)
            if bootstrap.size:
                final_obs = self._normalize(self._final_obs(infos["final_obs"], bootstrap))
                rows["final_values"][step][bootstrap] = critic(self._inputs(final_obs))
            self.global_step += config.num_envs
            self._track_episodes(rewards, done, infos)

        values = rollout["values"]
        next_values = torch.empty_like(values)
        next_values[:-1] = values[1:]
        next_values[-1] = critic(self._inputs(self._normalize(self._obs)))
        if actor.normalizer is not None:
            raw_batch = {k: rollout[f"raw/{k}"].flatten(0, 1) for k in self._raw_keys}
            actor.normalizer.update(raw_batch if actor.normalizer.is_dict else raw_batch["obs"])
        next_values = torch.where(rollout["dones"].bool(), rollout["final_values"], next_values)
        advantages = gae_advantages(
            rollout["rewards"],
            values,
            next_values,
            rollout["terminated"],
            rollout["dones"],
            config.gamma,
            config.gae_lambda,
        )
        return advantages, advantages + values

    def _final_obs(self, final_obs: np.ndarray, envs: np.ndarray) -> dict[str, torch.Tensor]:
        """The true last observations of ``envs``, from ``info["final_obs"]``."""
        if isinstance(self.observation_space, spaces.Dict):
            batch: Any = {k: np.stack([final_obs[i][k] for i in envs]) for k in self._obs_keys}
        else:
            batch = np.stack([final_obs[i] for i in envs])
        return self._as_tensors(batch)

    def _mean_and_value(self, inputs: Observation) -> tuple[torch.Tensor, torch.Tensor]:
        """The actor's action mean and the critic's value, ``(B, A)`` and ``(B,)``."""
        if self._shared_features:
            return self._heads(self.actor.encoder(inputs))
        return self.actor.actor(self.actor.encoder(inputs)), self.critic(inputs)

    def _heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Action mean and value from features both encoders agree on (no cameras)."""
        return self.actor.actor(features), self.critic.value(features).squeeze(-1)

    def _crossed(self, every: int, before: int) -> bool:
        """Whether the last rollout passed a multiple of ``every`` env steps."""
        return every > 0 and self.global_step // every > before // every

    # ------------------------------------------------------------------ the PPO update
    def _update(self, advantages: torch.Tensor, returns: torch.Tensor) -> None:
        """``update_epochs`` passes of clipped-surrogate minibatch SGD over the rollout."""
        config = self.config
        actor, rollout = self.actor, self._rollout
        batch, num_mb, mb_size = config.batch_size, config.num_minibatches, config.minibatch_size
        obs = {k: rollout[f"obs/{k}"].flatten(0, 1) for k in self._obs_keys}
        data = {
            "actions": rollout["actions"].flatten(0, 1),
            "log_probs": rollout["log_probs"].flatten(0, 1),
            "advantages": advantages.flatten(0, 1),
            "returns": returns.flatten(0, 1),
            "values": rollout["values"].flatten(0, 1),
        }
        if self._shared_features:  # encode once; minibatches then index features
            data["features"] = actor.encoder(self._inputs(obs))
        else:
            data.update({f"obs/{k}": v for k, v in obs.items()})
        epochs, stats = 0, torch.zeros(5)
        for epoch in range(config.update_epochs):
            # One gather per tensor per epoch; minibatch i is then row i of each (a view).
            order = torch.randperm(batch, generator=self.generator)
            mb = {k: v[order].view(num_mb, mb_size, *v.shape[1:]) for k, v in data.items()}
            if config.normalize_advantages:
                adv = mb["advantages"]
                mb["advantages"] = (adv - adv.mean(dim=1, keepdim=True)) / (
                    adv.std(dim=1, keepdim=True) + 1e-8
                )
            # Statistics cost a few ops per step: kept for the last epoch, or each for target_kl.
            track = config.target_kl is not None or epoch == config.update_epochs - 1
            stats.zero_()
            if self._shared_features:
                inputs: Sequence[Any] = mb["features"].unbind(0)
            else:
                obs_mb = {k[4:]: v for k, v in mb.items() if k.startswith("obs/")}
                inputs = [self._inputs({k: v[i] for k, v in obs_mb.items()}) for i in range(num_mb)]
            columns = [mb[k].unbind(0) for k in ("actions", "log_probs", "advantages")]
            columns += [mb[k].unbind(0) for k in ("returns", "values")]
            for inputs_mb, actions, old_log_probs, adv, target, old_value in zip(
                inputs, *columns, strict=True
            ):
                if self._shared_features:
                    mean, value = self._heads(inputs_mb)
                else:
                    mean, value = self._mean_and_value(inputs_mb)
                log_std = actor.log_std
                policy_loss, ratio, log_ratio = ClippedSurrogate.apply(
                    mean, log_std, actions, old_log_probs, adv, config.clip_coef
                )
                if config.clip_vloss:
                    delta = (value - old_value).clamp(-config.clip_coef, config.clip_coef)
                    clipped = old_value + delta
                    worst = torch.max((value - target).square(), (clipped - target).square())
                    value_loss = 0.5 * worst.mean()
                else:
                    value_loss = 0.5 * F.mse_loss(value, target)
                loss = policy_loss + config.vf_coef * value_loss
                if config.ent_coef > 0 or track:
                    # The entropy of a Gaussian with state-independent std depends on log_std
                    # alone: sum(log_std) + A (1 + log 2 pi) / 2.
                    entropy = log_std.sum() + log_std.shape[0] * (0.5 + _HALF_LOG_2PI)
                    if config.ent_coef > 0:
                        loss = loss - config.ent_coef * entropy

                self._params.zero_grad()
                loss.backward()
                self._params.clip_grad_norm(config.max_grad_norm)
                self.optimizer.step()

                if track:
                    with torch.no_grad():
                        stats += torch.stack(
                            [
                                policy_loss,
                                value_loss,
                                ((ratio - 1.0) - log_ratio).mean(),  # Schulman's k3 KL estimator
                                ((ratio - 1.0).abs() > config.clip_coef).float().mean(),
                                entropy,
                            ]
                        )
            epochs += 1
            if config.target_kl is not None and float(stats[2]) / num_mb > config.target_kl:
                break
        means = (stats / num_mb).tolist()
        values, targets = data["values"], data["returns"]
        explained = 1.0 - float((targets - values).var() / targets.var().clamp_min(1e-8))
        self._last_losses = {
            "losses/policy_loss": means[0],
            "losses/value_loss": means[1],
            "losses/approx_kl": means[2],
            "losses/clipfrac": means[3],
            "losses/entropy": means[4],
            "losses/explained_variance": explained,
            "losses/epochs": float(epochs),
            "charts/learning_rate": float(self.optimizer.param_groups[0]["lr"]),
        }

    # ------------------------------------------------------------------ metrics
    def _track_episodes(
        self, rewards: np.ndarray, done: np.ndarray, infos: Mapping[str, Any]
    ) -> None:
        self._episode_return += rewards
        self._episode_length += 1
        final = infos.get("final_info") or {}
        for key in (*infos, *final):
            if key.startswith(REWARD_TERM_PREFIXES) and key not in self._episode_terms:
                self._episode_terms[key] = np.zeros(self.config.num_envs)
        for key, sums in self._episode_terms.items():
            sums += step_values(infos, key, done, self._term_buffer)
        if not np.any(done):
            return
        success = None
        if "is_success" in final:
            success = step_values(infos, "is_success", done, np.zeros(done.shape[0]))
        for env in np.flatnonzero(done):
            metrics = {
                "charts/episodic_return": float(self._episode_return[env]),
                "charts/episodic_length": float(self._episode_length[env]),
            }
            self._recent_returns.append(metrics["charts/episodic_return"])
            if success is not None and final["_is_success"][env]:
                metrics["charts/success_rate"] = float(success[env])
                self._recent_successes.append(float(success[env]))
            for key, sums in self._episode_terms.items():
                metrics[f"reward/{key[7:]}"] = float(sums[env])
                sums[env] = 0.0
            self._log(metrics)
            self.num_episodes += 1
            self._episode_return[env] = 0.0
            self._episode_length[env] = 0

    def _log(self, metrics: Mapping[str, float]) -> None:
        if self.logger is not None and metrics:
            self.logger.log(self.global_step, metrics)

    def _final_metrics(self, sps: float) -> dict[str, float]:
        metrics: dict[str, float] = {
            "global_step": float(self.global_step),
            "iterations": float(self.num_iterations),
            "episodes": float(self.num_episodes),
            "charts/sps": sps,
        }
        if self._recent_returns:
            metrics["charts/episodic_return"] = float(np.mean(self._recent_returns))
        if self._recent_successes:
            metrics["charts/success_rate"] = float(np.mean(self._recent_successes))
        metrics.update(self._last_losses)
        metrics.update(self._last_eval)
        return metrics

    # ------------------------------------------------------------------ acting and evaluation
    def predict(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        """The policy's action(s) for a numpy observation (one, or a batch), within the bounds;
        normalisation statistics are not updated. See :meth:`Policy.act`."""
        return self.actor.act(observation, deterministic=deterministic, generator=None)

    def evaluate(self, episodes: int | None = None) -> dict[str, float]:
        """Mean return and success rate of the deterministic policy on the evaluation env.

        Episode ``i`` resets with a fixed seed, so evaluations compare like with like; success
        is ``info["is_success"]`` at the last step (absent: not reported). The observation
        statistics are frozen.
        """
        count = self.config.eval_episodes if episodes is None else episodes
        result = evaluate_policy(self._get_eval_env(), self.predict, count, self.config.seed)
        self._last_eval = result
        self._log(result)
        return result

    def export_policy(self, path: str | os.PathLike[str]) -> Path:
        """Write the policy alone (kind ``"policy"``) for :func:`~robo_reward.rl.policy.
        load_policy` and the ROS policy node: same weights, normaliser and bounds, so its
        deterministic actions equal :meth:`predict`'s."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        extra = {"global_step": self.global_step, "ppo_config": self.config.to_dict()}
        return save_policy(path, self.actor, self.algo, extra=extra)

    # ------------------------------------------------------------------ save / load
    @staticmethod
    def sidecar_paths(path: str | os.PathLike[str]) -> dict[str, Path]:
        """Files written next to a checkpoint ``<name>.safetensors``: the optimizer."""
        path = Path(path)
        stem = path.name.removesuffix(".safetensors")
        return {"optimizer": path.with_name(f"{stem}.optim.safetensors")}

    def save(self, path: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> Path:
        """Write everything needed to resume exactly, as one atomic pair of files.

        ``path`` holds the policy (with its observation statistics), the value function, the
        torch RNG state, counters, the numpy RNG state and the caller's JSON ``extra`` (back as
        ``checkpoint_extra`` after :meth:`load`); :meth:`sidecar_paths` lists the optimizer
        file written with it. The pair is written with
        :func:`~robo_reward.data.atomic.atomic_group`, so a process killed while saving leaves
        the previous pair or the new one, never a mix; both also carry one save id, so a pair
        mixed by hand is refused on load. Ends the episodes in progress (see the module
        docstring).
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._obs = None
        sidecars = self.sidecar_paths(path)
        with atomic_group([path, *sidecars.values()]) as staged:
            self._save_files(staged[0], dict(zip(sidecars, staged[1:], strict=True)), extra)
        return path

    def _save_files(
        self, path: Path, sidecars: Mapping[str, Path], caller_extra: Mapping[str, Any] | None
    ) -> None:
        save_id = uuid.uuid4().hex
        stamp = {"save_id": save_id}
        save_optimizer(sidecars["optimizer"], self.optimizer, extra=stamp)
        tensors: dict[str, torch.Tensor] = {}
        for prefix, module in (("actor", self.actor), ("critic", self.critic)):
            tensors.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
        tensors["torch_rng"] = self.generator.get_state()
        config = {
            "algo": self.algo,
            "ppo_config": self.config.to_dict(),
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
            "policy": self.actor.config(),
        }
        extra = {
            **stamp,
            "global_step": self.global_step,
            "num_iterations": self.num_iterations,
            "num_episodes": self.num_episodes,
            "recent_returns": list(self._recent_returns),
            "recent_successes": list(self._recent_successes),
            "last_eval": self._last_eval,
            "numpy_rng": self.rng.bit_generator.state,
            "sidecars": {name: p.name for name, p in sidecars.items()},
            "caller": dict(caller_extra or {}),
        }
        save_weights(path, tensors, kind=PPO_KIND, config=config, extra=extra)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        env: EnvFactory | Sequence[EnvFactory] | gym.vector.VectorEnv,
        run_dir: str | os.PathLike[str] | None = None,
        eval_env: EnvFactory | None = None,
    ) -> PPO:
        """Rebuild a trainer saved by :meth:`save` on ``env`` and restore its full state.

        Refuses (``CheckpointError``) a checkpoint of another kind or algorithm (a SAC
        checkpoint, a bare policy), an env whose observation or action space differs from the
        saved one, and an optimizer file from another save. A save that a killed process left
        half-done is first finished or undone (:func:`~robo_reward.data.atomic.recover_group`).
        """
        path = Path(path)
        recover_group([path, *cls.sidecar_paths(path).values()])
        loaded = load_weights(path)
        if loaded.kind != PPO_KIND or loaded.config.get("algo") != cls.algo:
            raise CheckpointError(
                f"{path}: is a {loaded.kind!r} checkpoint (algo "
                f"{loaded.config.get('algo')!r}), not a PPO trainer checkpoint; PPO.load "
                "resumes files written by PPO.save (load a bare policy with load_policy)"
            )
        try:
            config = PPOConfig.from_dict(loaded.config["ppo_config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: PPO config is malformed ({exc})") from None
        # The spaces are compared before the trainer is built, whose networks would fail on
        # another space with a less helpful message.
        envs, owns_envs = _make_vector_env(env, config.num_envs)
        ppo: PPO | None = None
        try:
            for name, space in (
                ("observation", envs.single_observation_space),
                ("action", envs.single_action_space),
            ):
                saved = loaded.config.get(f"{name}_space")
                if saved != space_to_json(space):
                    raise CheckpointError(
                        f"{path}: was trained with {name} space {saved}, but this env's is "
                        f"{space_to_json(space)}; resume on the same task and observation set"
                    )
            if eval_env is None:
                eval_env = _default_eval_factory(env)
            ppo = cls(envs, config, run_dir, eval_env)
            ppo._owns_envs = owns_envs
            ppo._restore(path, loaded.tensors, loaded.extra)
        except BaseException:
            if ppo is not None:
                ppo.close()
            elif owns_envs:
                envs.close()
            raise
        return ppo

    def _restore(
        self, path: Path, tensors: Mapping[str, torch.Tensor], extra: Mapping[str, Any]
    ) -> None:
        for prefix, module in (("actor", self.actor), ("critic", self.critic)):
            state = {
                k.removeprefix(f"{prefix}."): v
                for k, v in tensors.items()
                if k.startswith(f"{prefix}.")
            }
            try:
                module.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise CheckpointError(f"{path}: {prefix} weights do not fit ({exc})") from None
        if "torch_rng" not in tensors:
            raise CheckpointError(f"{path}: lacks the torch RNG state")
        self.generator.set_state(tensors["torch_rng"])
        sidecar = self.sidecar_paths(path)["optimizer"]
        stamp = load_optimizer(sidecar, self.optimizer)
        if stamp.get("save_id") != extra.get("save_id"):
            raise CheckpointError(
                f"{sidecar}: belongs to another save than {path} (save ids differ); "
                "restore the files of one save together"
            )
        try:
            self.rng.bit_generator.state = extra["numpy_rng"]
            self.global_step = int(extra["global_step"])
            self.num_iterations = int(extra["num_iterations"])
            self.num_episodes = int(extra["num_episodes"])
            self._recent_returns.extend(extra["recent_returns"])
            self._recent_successes.extend(extra["recent_successes"])
            self._last_eval = dict(extra["last_eval"])
            self.checkpoint_extra = dict(extra.get("caller", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: trainer state is malformed ({exc!r})") from None

    # ------------------------------------------------------------------ cleanup
    def close(self) -> None:
        """Close the envs PPO made, the evaluation env and the logger."""
        if getattr(self, "_owns_envs", False):
            self.envs.close()
        if getattr(self, "_eval_env", None) is not None:
            self._eval_env.close()
            self._eval_env = None
        if getattr(self, "logger", None) is not None:
            self.logger.close()

    def __enter__(self) -> PPO:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
