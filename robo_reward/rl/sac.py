"""Soft Actor-Critic (Haarnoja et al., 2018, with automatic entropy tuning), optionally with HER.

Read top to bottom: :class:`SACConfig` (every hyper-parameter), :class:`Critic` (the twin
Q-functions as one ensemble), then :class:`SAC`: the environment loop in :meth:`SAC.learn`, one
gradient step in :meth:`SAC._update`, evaluation, and exact save/resume.

Conventions (Gymnasium >= 1.0):

- ``terminated`` ends the MDP: the target is ``r``. ``truncated`` (a time limit) does not: the
  target still bootstraps, ``r + gamma * (min Q'(s', a') - alpha log pi(a'|s'))``.
- Actions are learned in [-1, 1] (the tanh squash) and mapped onto the env's bounds; the replay
  buffer stores the [-1, 1] action.
- Speed on CPU: the twin critics are one :class:`~robo_reward.rl.networks.VectorizedLinear`
  ensemble with one fused Adam; the actor loss back-propagates into the actor's parameters only
  (the critic's weight gradients are never computed there); the target update is one
  ``torch._foreach_lerp_``; a batch is one numpy fancy index per array and ``torch.from_numpy``;
  losses are read (``.item()``) only when logged.

Saving is an episode boundary: :meth:`SAC.save` closes the episodes in progress (as truncated,
so they bootstrap) and the next step starts from a fresh, seeded reset. A run resumed from a
checkpoint with :meth:`SAC.load` therefore continues exactly as the run that wrote it did.
"""

from __future__ import annotations

import copy
import math
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
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
from robo_reward.rl.episodes import REWARD_TERM_PREFIXES, evaluate_policy, has_key, step_values
from robo_reward.rl.hyperparams import ControllerConfig
from robo_reward.rl.logger import RunLogger
from robo_reward.rl.networks import Observation, ObservationEncoder, ensemble_mlp
from robo_reward.rl.policy import Policy
from robo_reward.rl.replay import HerReplayBuffer, ReplayBuffer, goal_functions
from robo_reward.rl.spaces import space_to_json

__all__ = ["SAC", "SAC_KIND", "Critic", "SACConfig"]

SAC_KIND = "sac"
"""Checkpoint kind of a full SAC trainer state (a bare policy is kind ``"policy"``)."""

EnvFactory = Callable[[], gym.Env]
StepCallback = Callable[["SAC"], "bool | None"]


@dataclass(frozen=True)
class SACConfig(ControllerConfig):
    """Hyper-parameters of :class:`SAC` (defaults follow CleanRL's ``sac_continuous_action``)."""

    total_steps: int = 1_000_000
    """Env steps (summed over envs) that :meth:`SAC.learn` trains up to by default."""
    learning_starts: int = 5_000
    """Env steps of uniform random actions before the first gradient step."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    batch_size: int = 256
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target critics: ``target <- (1 - tau) target + tau critic``."""
    policy_lr: float = 3e-4
    """Adam learning rate of the actor."""
    q_lr: float = 1e-3
    """Adam learning rate of the critics and of the entropy temperature."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the actor and of each critic."""
    utd: float = 1.0
    """Update-to-data ratio: gradient steps per env step."""
    train_freq: int = 1
    """Env steps between update phases; a phase runs ``train_freq * utd`` gradient steps."""
    autotune: bool = True
    """Tune the entropy temperature alpha towards ``target_entropy``."""
    alpha: float = 1.0
    """Initial temperature if ``autotune``, else the fixed temperature."""
    target_entropy: float | None = None
    """Entropy target of autotuning; ``None``: ``-action_dim`` (Haarnoja et al., 2018b)."""
    her: bool = False
    """Hindsight Experience Replay ("future" strategy); needs a goal-conditioned Dict env."""
    her_k: int = 4
    """HER relabels per real transition: a fraction ``k / (k + 1)`` of each batch."""
    obs_keys: tuple[str, ...] | None = None
    """Dict keys the networks read, in order (``None``: all); e.g. ("state", "desired_goal")."""
    normalize_observations: bool = False
    """Normalise non-image inputs with running statistics (saved with the policy)."""
    cnn_features: int = 256
    """Feature size of each camera's CNN."""
    num_envs: int = 1
    """Parallel envs (a ``SyncVectorEnv`` when SAC builds the envs)."""
    eval_every: int = 0
    """Env steps between evaluations (deterministic actions, separate env); 0: never."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    log_every: int = 1_000
    """Env steps between rows of losses and speed in the metrics."""
    seed: int = 0
    """Seeds network init, env resets, exploration, replay sampling and evaluation."""
    tensorboard: bool = False
    """Also write TensorBoard event files to the run directory."""
    torch_threads: int = 1
    """``torch.set_num_threads``: small MLPs run fastest on one thread."""

    def __post_init__(self) -> None:
        self._normalize_sequences()
        self._check_ints(
            (
                "total_steps",
                "buffer_size",
                "batch_size",
                "train_freq",
                "num_envs",
                "eval_episodes",
                "log_every",
                "cnn_features",
                "torch_threads",
            ),
            minimum=1,
        )
        self._check_ints(("learning_starts", "eval_every", "her_k", "seed"), minimum=0)
        self._check_reals(("policy_lr", "q_lr", "utd", "alpha"), positive=True)
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"SACConfig.gamma must be in (0, 1], got {self.gamma!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"SACConfig.tau must be in (0, 1], got {self.tau!r}")
        if self.target_entropy is not None and not math.isfinite(self.target_entropy):
            raise ValueError(f"SACConfig.target_entropy must be finite, got {self.target_entropy}")
        if self.buffer_size < self.batch_size:
            raise ValueError(
                f"SACConfig.buffer_size ({self.buffer_size}) must be >= batch_size "
                f"({self.batch_size})"
            )
        if self.her and self.obs_keys is not None and "desired_goal" not in self.obs_keys:
            raise ValueError(
                "HER relabels 'desired_goal', but obs_keys leave it out, so the networks would "
                f"never see the goal; add it to obs_keys (got {self.obs_keys})"
            )


class Critic(nn.Module):
    """Twin soft Q-functions ``Q_i(s, a)``, ``i = 1..num_critics``, over one shared encoder.

    ``forward`` returns ``(num_critics, B)``. Clipped double-Q (Fujimoto et al., 2018) takes the
    minimum over the first axis.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_dim: int,
        keys: tuple[str, ...] | None,
        hidden: tuple[int, ...],
        cnn_features: int,
        num_critics: int = 2,
    ) -> None:
        super().__init__()
        self.encoder = ObservationEncoder(observation_space, keys, cnn_features)
        self.q = ensemble_mlp(self.encoder.out_dim + action_dim, 1, hidden, num_critics)

    def forward(self, observation: Observation, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.encoder(observation), action], dim=1)
        return self.q(x).squeeze(-1)


def _copy_obs(obs: Any, keys: tuple[str, ...]) -> Any:
    """A copy of a vector env's observation (it may reuse its arrays), keeping only ``keys``
    of a Dict observation."""
    if isinstance(obs, Mapping):
        return {k: np.array(obs[k], copy=True) for k in keys}
    return np.array(obs, copy=True)


def _true_next_obs(next_obs: Any, done: np.ndarray, infos: Mapping[str, Any]) -> Any:
    """``next_obs`` with each finished env's reset observation replaced by its true last one
    (``info["final_obs"]`` of a SAME_STEP vector env): the transition must end where the
    episode did."""
    if not np.any(done):
        return next_obs
    if isinstance(next_obs, dict):
        true = {k: v.copy() for k, v in next_obs.items()}
        for env in np.flatnonzero(done):
            for key in true:
                true[key][env] = infos["final_obs"][env][key]
        return true
    true = next_obs.copy()
    for env in np.flatnonzero(done):
        true[env] = infos["final_obs"][env]
    return true


def _obs_to_tensor(obs: Any) -> Observation:
    if isinstance(obs, Mapping):
        return {k: torch.from_numpy(v) for k, v in obs.items()}
    return torch.from_numpy(obs)


def _final_values(infos: Mapping[str, Any], key: str, done: np.ndarray) -> np.ndarray | None:
    """Per-env values of ``infos[key]`` at the end of this step (None: no env reports it)."""
    return step_values(infos, key, done) if has_key(infos, key) else None


class SAC:
    """Soft Actor-Critic trainer.

    Args:
        env: a zero-argument env factory (SAC builds a ``SyncVectorEnv`` of
            ``config.num_envs`` copies and one more for evaluation) or a vector env built with
            ``autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP``.
        config: hyper-parameters.
        run_dir: where metrics (``metrics.csv``, TensorBoard) go; ``None``: no files.
        eval_env: factory of the evaluation env (default: ``env`` when it is a factory).

    Attributes of interest: ``actor`` (a :class:`~robo_reward.rl.policy.Policy`, saved for
    deployment with :func:`~robo_reward.rl.policy.save_policy`), ``critic``,
    ``critic_target``, ``buffer``, ``global_step``, ``num_updates``.
    """

    algo = "sac"

    def __init__(
        self,
        env: EnvFactory | gym.vector.VectorEnv,
        config: SACConfig | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        eval_env: EnvFactory | None = None,
    ) -> None:
        self.config = config = config if config is not None else SACConfig()
        torch.set_num_threads(config.torch_threads)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)

        self.envs, self._owns_envs = self._make_vector_env(env)
        self._eval_factory = eval_env if eval_env is not None else (env if callable(env) else None)
        self._eval_env: gym.Env | None = None
        self.logger: RunLogger | None = None
        self.checkpoint_extra: dict[str, Any] = {}
        """What the caller stored with :meth:`save` (``extra``), after :meth:`load`."""
        try:
            self._build(run_dir)
        except BaseException:
            self.close()
            raise

    def _build(self, run_dir: str | os.PathLike[str] | None) -> None:
        """Networks, optimizers, replay buffer, logger and counters (the envs exist)."""
        config = self.config
        self.observation_space = self.envs.single_observation_space
        self.action_space = self.envs.single_action_space
        if not isinstance(self.action_space, spaces.Box) or len(self.action_space.shape) != 1:
            raise ValueError(f"SAC needs a 1-D Box action space, got {self.action_space}")
        if config.obs_keys is not None and not isinstance(self.observation_space, spaces.Dict):
            raise ValueError("obs_keys only apply to Dict observation spaces; set obs_keys=None")

        self.actor = Policy(
            self.observation_space,
            self.action_space,
            actor_type="squashed_gaussian",
            keys=config.obs_keys,
            hidden=config.hidden,
            normalize_observations=config.normalize_observations,
            cnn_features=config.cnn_features,
        )
        action_dim = self.actor.action_dim
        self.critic = Critic(
            self.observation_space,
            action_dim,
            self.actor.keys,
            config.hidden,
            config.cnn_features,
        )
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(config.alpha), requires_grad=config.autotune)
        self.target_entropy = (
            float(-action_dim) if config.target_entropy is None else config.target_entropy
        )
        self._actor_params = list(self.actor.parameters())
        self._critic_params = list(self.critic.parameters())
        self._target_params = list(self.critic_target.parameters())
        # The temperature rides in the actor's optimizer (its own group and learning rate):
        # both losses come from the same policy sample, so one backward and one step serve both.
        actor_groups: list[dict[str, Any]] = [{"params": self._actor_params}]
        if config.autotune:
            actor_groups.append({"params": [self.log_alpha], "lr": config.q_lr})
        self._actor_step_inputs = [p for g in actor_groups for p in g["params"]]
        self.actor_optimizer = torch.optim.Adam(actor_groups, config.policy_lr, fused=True)
        self.critic_optimizer = torch.optim.Adam(self._critic_params, config.q_lr, fused=True)

        self.buffer = self._make_buffer()
        self.logger = RunLogger(run_dir, config.tensorboard) if run_dir is not None else None

        self.global_step = 0
        self.num_updates = 0
        self.num_episodes = 0
        self._update_credit = 0.0
        self._steps_since_update = 0
        self._recent_returns: deque[float] = deque(maxlen=20)
        self._recent_successes: deque[float] = deque(maxlen=20)
        self._last_losses: dict[str, torch.Tensor] = {}
        self._last_q = torch.zeros(())
        self._last_eval: dict[str, float] = {}
        self._obs: Any = None
        num_envs = config.num_envs
        self._episode_return = np.zeros(num_envs)
        self._episode_length = np.zeros(num_envs, dtype=np.int64)
        self._episode_terms: dict[str, np.ndarray] = {}
        low = np.asarray(self.action_space.low, dtype=np.float64)
        high = np.asarray(self.action_space.high, dtype=np.float64)
        self._action_scale, self._action_bias = (high - low) / 2.0, (high + low) / 2.0

    # ------------------------------------------------------------------ construction helpers
    def _make_vector_env(
        self, env: EnvFactory | gym.vector.VectorEnv
    ) -> tuple[gym.vector.VectorEnv, bool]:
        config = self.config
        if isinstance(env, gym.vector.VectorEnv):
            mode = env.metadata.get("autoreset_mode")
            if mode != gym.vector.AutoresetMode.SAME_STEP:
                raise ValueError(
                    f"SAC needs a vector env with autoreset_mode=SAME_STEP (got {mode}), so "
                    "each episode's true last observation arrives in info['final_obs']; build "
                    "it with gymnasium.vector.SyncVectorEnv(fns, autoreset_mode="
                    "gymnasium.vector.AutoresetMode.SAME_STEP) or pass an env factory"
                )
            if env.num_envs != config.num_envs:
                raise ValueError(
                    f"the vector env has {env.num_envs} envs but config.num_envs is "
                    f"{config.num_envs}"
                )
            return env, False
        if not callable(env):
            raise ValueError(f"env must be an env factory or a vector env, got {env!r}")
        vector = gym.vector.SyncVectorEnv(
            [env] * config.num_envs,
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
            copy=False,
        )
        return vector, True

    def _single_env(self) -> gym.Env:
        """An env instance to read goal functions from."""
        envs = getattr(self.envs, "envs", None)
        if envs:
            return envs[0]
        return self._get_eval_env()

    def _get_eval_env(self) -> gym.Env:
        if self._eval_env is None:
            if self._eval_factory is None:
                raise ValueError(
                    "evaluation (and HER with an async vector env) needs eval_env=<env factory>"
                )
            self._eval_env = self._eval_factory()
        return self._eval_env

    def _make_buffer(self) -> ReplayBuffer:
        config = self.config
        keys = self.actor.keys
        if not config.her:
            return ReplayBuffer(
                self.observation_space,
                self.action_space,
                config.buffer_size,
                config.num_envs,
                keys,
            )
        compute_reward, compute_terminated = goal_functions(self._single_env())
        return HerReplayBuffer(
            self.observation_space,
            self.action_space,
            config.buffer_size,
            compute_reward,
            compute_terminated,
            num_envs=config.num_envs,
            keys=keys,
            her_k=config.her_k,
        )

    # ------------------------------------------------------------------ training loop
    def learn(
        self,
        total_steps: int | None = None,
        progress_bar: bool = True,
        callback: StepCallback | None = None,
    ) -> dict[str, float]:
        """Train until ``global_step`` reaches ``total_steps`` (default ``config.total_steps``).

        ``callback(sac)`` runs after every vector step; returning ``False`` stops training.
        Returns the final metrics (means over the last 20 training episodes, last losses, the
        last evaluation).
        """
        config = self.config
        target = config.total_steps if total_steps is None else int(total_steps)
        num_envs = config.num_envs
        start_step, start_time = self.global_step, time.perf_counter()
        bar = tqdm(
            total=target,
            initial=self.global_step,
            disable=not progress_bar,
            desc="sac",
            unit="step",
            mininterval=1.0,
        )
        try:
            while self.global_step < target:
                if self._obs is None:
                    self._reset_envs()
                obs = self._obs
                if self.actor.normalizer is not None:
                    self.actor.normalizer.update(_obs_to_tensor(obs))
                if self.global_step < config.learning_starts:
                    actions = self.rng.uniform(-1.0, 1.0, (num_envs, self.actor.action_dim))
                    actions = actions.astype(np.float32)
                else:
                    actions = self._explore(obs)
                env_actions = (actions * self._action_scale + self._action_bias).astype(
                    self.action_space.dtype
                )
                next_obs, rewards, terminated, truncated, infos = self.envs.step(env_actions)
                done = np.logical_or(terminated, truncated)
                next_obs = _copy_obs(next_obs, self.buffer.keys)
                true_next_obs = _true_next_obs(next_obs, done, infos)
                self.buffer.add(obs, true_next_obs, actions, rewards, terminated, truncated)
                self._obs = next_obs
                self.global_step += num_envs
                self._track_episodes(rewards, done, infos)

                if self.global_step >= config.learning_starts:
                    self._update_credit += num_envs * config.utd
                    self._steps_since_update += num_envs
                    if self._steps_since_update >= config.train_freq:
                        updates = int(self._update_credit)
                        self._update_credit -= updates
                        self._steps_since_update = 0
                        for _ in range(updates):
                            self._update()
                if self._crossed(config.eval_every):
                    self.evaluate()
                if self._crossed(config.log_every):
                    sps = (self.global_step - start_step) / (time.perf_counter() - start_time)
                    self._log({**self._loss_metrics(), "charts/sps": sps})
                bar.update(num_envs)
                if callback is not None and callback(self) is False:
                    break
        finally:
            bar.close()
        elapsed = time.perf_counter() - start_time
        return self._final_metrics((self.global_step - start_step) / max(elapsed, 1e-9))

    def _reset_envs(self) -> None:
        seeds = self.rng.integers(0, 2**31 - 1, size=self.config.num_envs)
        obs, _ = self.envs.reset(seed=[int(s) for s in seeds])
        self._obs = _copy_obs(obs, self.buffer.keys)
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        for sums in self._episode_terms.values():
            sums[:] = 0.0

    @torch.no_grad()
    def _explore(self, obs: Any) -> np.ndarray:
        """Stochastic actions in [-1, 1] for the current observations."""
        features = self.actor.features(_obs_to_tensor(obs))
        actions, _ = self.actor.squashed_sample(features, self.generator)
        return actions.numpy()

    def _crossed(self, every: int) -> bool:
        """Whether the last vector step passed a multiple of ``every`` env steps."""
        if every <= 0:
            return False
        return self.global_step // every > (self.global_step - self.config.num_envs) // every

    # ------------------------------------------------------------------ one gradient step
    def _update(self) -> None:
        config = self.config
        batch = self.buffer.sample(config.batch_size, self.rng)
        obs, next_obs = batch.observations, batch.next_observations
        if self.actor.normalizer is not None:
            obs, next_obs = self.actor.normalizer(obs), self.actor.normalizer(next_obs)
        alpha = self.log_alpha.detach().exp()

        # Critics: soft Bellman target from the target critics and a fresh next action.
        with torch.no_grad():
            next_actions, next_log_prob = self.actor.squashed_sample(
                self.actor.encoder(next_obs), self.generator
            )
            next_q = self.critic_target(next_obs, next_actions).min(dim=0).values
            soft_next = next_q - alpha * next_log_prob
            target_q = batch.rewards + config.gamma * (1.0 - batch.terminated) * soft_next
        q = self.critic(obs, batch.actions)
        qf_loss = (q - target_q).square().mean(dim=1).sum()
        self.critic_optimizer.zero_grad(set_to_none=True)
        qf_loss.backward()
        self.critic_optimizer.step()

        # Actor: maximise min Q - alpha log pi through the reparameterised sample; gradients
        # flow through the critics into the actor only (``inputs=``: no critic weight grads).
        # Temperature: move the entropy towards its target (Haarnoja et al., 2018b, eq. 18).
        # alpha is detached in the actor loss and log pi in the temperature loss, so summing
        # the two and stepping once is the same as two separate steps.
        actions, log_prob = self.actor.squashed_sample(self.actor.encoder(obs), self.generator)
        q_pi = self.critic(obs, actions).min(dim=0).values
        actor_loss = (alpha * log_prob - q_pi).mean()
        losses = {"qf_loss": qf_loss, "actor_loss": actor_loss, "entropy": -log_prob}
        total = actor_loss
        if config.autotune:
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            losses["alpha_loss"] = alpha_loss
            total = actor_loss + alpha_loss
        self.actor_optimizer.zero_grad(set_to_none=True)
        total.backward(inputs=self._actor_step_inputs)
        self.actor_optimizer.step()

        with torch.no_grad():
            torch._foreach_lerp_(self._target_params, self._critic_params, config.tau)
        self.num_updates += 1
        self._last_losses = losses
        self._last_q = q

    # ------------------------------------------------------------------ metrics
    def _track_episodes(
        self, rewards: np.ndarray, done: np.ndarray, infos: Mapping[str, Any]
    ) -> None:
        self._episode_return += rewards
        self._episode_length += 1
        keys = set(infos) | set(infos.get("final_info", ()))
        for key in sorted(keys):
            if key.startswith(REWARD_TERM_PREFIXES):
                values = _final_values(infos, key, done)
                if values is not None:
                    sums = self._episode_terms.setdefault(key, np.zeros(self.config.num_envs))
                    sums += values
        if not np.any(done):
            return
        success = _final_values(infos, "is_success", done)
        for env in np.flatnonzero(done):
            metrics = {
                "charts/episodic_return": float(self._episode_return[env]),
                "charts/episodic_length": float(self._episode_length[env]),
            }
            self._recent_returns.append(metrics["charts/episodic_return"])
            if success is not None:
                metrics["charts/success_rate"] = float(success[env])
                self._recent_successes.append(float(success[env]))
            for key, sums in self._episode_terms.items():
                term = key.removeprefix("reward/").removeprefix("reward_")
                metrics[f"reward/{term}"] = float(sums[env])
                sums[env] = 0.0
            self._log(metrics)
            self.num_episodes += 1
            self._episode_return[env] = 0.0
            self._episode_length[env] = 0

    def _loss_metrics(self) -> dict[str, float]:
        if not self._last_losses:
            return {}
        losses = self._last_losses
        metrics = {
            "losses/qf_loss": float(losses["qf_loss"].detach()),
            "losses/actor_loss": float(losses["actor_loss"].detach()),
            "losses/qf_values": float(self._last_q.detach().mean()),
            "losses/alpha": float(self.log_alpha.detach().exp()),
            "losses/entropy": float(losses["entropy"].detach().mean()),
        }
        if "alpha_loss" in losses:
            metrics["losses/alpha_loss"] = float(losses["alpha_loss"].detach())
        return metrics

    def _log(self, metrics: Mapping[str, float]) -> None:
        if self.logger is not None and metrics:
            self.logger.log(self.global_step, metrics)

    def _final_metrics(self, sps: float) -> dict[str, float]:
        metrics: dict[str, float] = {
            "global_step": float(self.global_step),
            "updates": float(self.num_updates),
            "episodes": float(self.num_episodes),
            "charts/sps": sps,
        }
        if self._recent_returns:
            metrics["charts/episodic_return"] = float(np.mean(self._recent_returns))
        if self._recent_successes:
            metrics["charts/success_rate"] = float(np.mean(self._recent_successes))
        metrics.update(self._loss_metrics())
        metrics.update(self._last_eval)
        return metrics

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int | None = None) -> dict[str, float]:
        """Mean return and success rate of the deterministic policy on the evaluation env.

        Episode ``i`` resets with a fixed seed, so evaluations compare like with like; success
        is ``info["is_success"]`` at the last step (absent: not reported).
        """
        count = self.config.eval_episodes if episodes is None else episodes
        result = evaluate_policy(
            self._get_eval_env(),
            lambda obs: self.actor.act(obs, deterministic=True),
            count,
            self.config.seed,
        )
        self._last_eval = result
        self._log(result)
        return result

    # ------------------------------------------------------------------ save / load
    @staticmethod
    def sidecar_paths(path: str | os.PathLike[str]) -> dict[str, Path]:
        """Files written next to a checkpoint ``<name>.safetensors``: optimizers and replay."""
        path = Path(path)
        stem = path.name.removesuffix(".safetensors")
        return {
            "actor_optimizer": path.with_name(f"{stem}.actor_optim.safetensors"),
            "critic_optimizer": path.with_name(f"{stem}.critic_optim.safetensors"),
            "replay": path.with_name(f"{stem}.replay.npz"),
        }

    def save(self, path: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> Path:
        """Write everything needed to resume exactly, as one atomic set of files.

        ``path`` holds the networks, temperature, torch RNG state, counters, numpy RNG state
        and the caller's JSON ``extra`` (back as ``checkpoint_extra`` after :meth:`load`);
        :meth:`sidecar_paths` lists the optimizer and replay files written with it. The set is
        written with :func:`~robo_reward.data.atomic.atomic_group`, so a process killed while
        saving leaves the previous set or the new one, never a mix; all files also carry one
        save id, so a set mixed by hand is refused on load. Ends the episodes in progress (see
        the module docstring).
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.buffer.end_episodes()
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
        save_optimizer(sidecars["actor_optimizer"], self.actor_optimizer, extra=stamp)
        save_optimizer(sidecars["critic_optimizer"], self.critic_optimizer, extra=stamp)
        self.buffer.save(sidecars["replay"], extra=stamp)
        tensors: dict[str, torch.Tensor] = {}
        for prefix, module in (
            ("actor", self.actor),
            ("critic", self.critic),
            ("critic_target", self.critic_target),
        ):
            tensors.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
        tensors["log_alpha"] = self.log_alpha.detach()
        tensors["torch_rng"] = self.generator.get_state()
        config = {
            "algo": self.algo,
            "sac_config": self.config.to_dict(),
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
            "policy": self.actor.config(),
        }
        extra = {
            **stamp,
            "global_step": self.global_step,
            "num_updates": self.num_updates,
            "num_episodes": self.num_episodes,
            "update_credit": self._update_credit,
            "steps_since_update": self._steps_since_update,
            "recent_returns": list(self._recent_returns),
            "recent_successes": list(self._recent_successes),
            "last_eval": self._last_eval,
            "numpy_rng": self.rng.bit_generator.state,
            "sidecars": {name: p.name for name, p in sidecars.items()},
            "caller": dict(caller_extra or {}),
        }
        save_weights(path, tensors, kind=SAC_KIND, config=config, extra=extra)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        env: EnvFactory | gym.vector.VectorEnv,
        run_dir: str | os.PathLike[str] | None = None,
        eval_env: EnvFactory | None = None,
    ) -> SAC:
        """Rebuild a trainer saved by :meth:`save` on ``env`` and restore its full state.

        Refuses (``CheckpointError``) a checkpoint of another kind or algorithm, an env whose
        observation or action space differs from the saved one, and sidecar files from
        another save. A save that a killed process left half-done is first finished or undone
        (:func:`~robo_reward.data.atomic.recover_group`).
        """
        path = Path(path)
        recover_group([path, *cls.sidecar_paths(path).values()])
        loaded = load_weights(path)
        if loaded.kind != SAC_KIND or loaded.config.get("algo") != cls.algo:
            raise CheckpointError(
                f"{path}: is a {loaded.kind!r} checkpoint (algo "
                f"{loaded.config.get('algo')!r}), not a SAC trainer checkpoint; SAC.load "
                "resumes files written by SAC.save (load a bare policy with load_policy)"
            )
        try:
            config = SACConfig.from_dict(loaded.config["sac_config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: SAC config is malformed ({exc})") from None
        sac = cls(env, config, run_dir, eval_env)
        try:
            for name, space in (
                ("observation", sac.observation_space),
                ("action", sac.action_space),
            ):
                saved = loaded.config.get(f"{name}_space")
                if saved != space_to_json(space):
                    raise CheckpointError(
                        f"{path}: was trained with {name} space {saved}, but this env's is "
                        f"{space_to_json(space)}; resume on the same task and observation set"
                    )
            sac._restore(path, loaded.tensors, loaded.extra)
        except BaseException:
            sac.close()
            raise
        return sac

    def _restore(
        self, path: Path, tensors: Mapping[str, torch.Tensor], extra: Mapping[str, Any]
    ) -> None:
        for prefix, module in (
            ("actor", self.actor),
            ("critic", self.critic),
            ("critic_target", self.critic_target),
        ):
            state = {
                k.removeprefix(f"{prefix}."): v
                for k, v in tensors.items()
                if k.startswith(f"{prefix}.")
            }
            try:
                module.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise CheckpointError(f"{path}: {prefix} weights do not fit ({exc})") from None
        with torch.no_grad():
            self.log_alpha.copy_(tensors["log_alpha"])
        self.generator.set_state(tensors["torch_rng"])
        sidecars = self.sidecar_paths(path)
        save_id = extra.get("save_id")
        stamps = {
            name: load_optimizer(sidecars[name], optimizer)
            for name, optimizer in (
                ("actor_optimizer", self.actor_optimizer),
                ("critic_optimizer", self.critic_optimizer),
            )
        }
        stamps["replay"] = self.buffer.load(sidecars["replay"])
        for name, stamp in stamps.items():
            if stamp.get("save_id") != save_id:
                raise CheckpointError(
                    f"{sidecars[name]}: belongs to another save than {path} (save ids differ); "
                    "restore the files of one save together"
                )
        self.rng.bit_generator.state = extra["numpy_rng"]
        self.global_step = int(extra["global_step"])
        self.num_updates = int(extra["num_updates"])
        self.num_episodes = int(extra["num_episodes"])
        self._update_credit = float(extra["update_credit"])
        self._steps_since_update = int(extra["steps_since_update"])
        self._recent_returns.extend(extra["recent_returns"])
        self._recent_successes.extend(extra["recent_successes"])
        self._last_eval = dict(extra["last_eval"])
        self.checkpoint_extra = dict(extra.get("caller", {}))

    # ------------------------------------------------------------------ cleanup
    def close(self) -> None:
        """Close the envs SAC made, the evaluation env and the logger."""
        if self._owns_envs:
            self.envs.close()
        if self._eval_env is not None:
            self._eval_env.close()
            self._eval_env = None
        if self.logger is not None:
            self.logger.close()

    def __enter__(self) -> SAC:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
