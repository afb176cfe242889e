"""From a reward config to a shaped env: which potential, which reference demo, which model.

One place decides what ``--reward sparse | privileged | grm`` means, for ``robo-reward train``,
the benchmarks and (later) the ROS policy node:

``sparse``      the task's own reward only (no wrapper);
``privileged``  the simulator's true progress as the potential (the upper bound; sim only);
``grm``         GRM progress against a reference demo (the one demonstration a user has), from
                the general checkpoint or one adapted on that demo;
``perceptual``  a perceptual reward fitted on a few demos (``robo-reward perceptual fit``), or
                fitted here on ``perceptual_demos`` scripted demos (simulation only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym

from robo_reward.shaping.pbrs import ShapingMode
from robo_reward.shaping.potentials import (
    GRMPotential,
    PerceptualPotential,
    PotentialProvider,
    PrivilegedPotential,
)
from robo_reward.shaping.wrapper import PotentialShaping, ShapingConfig

RewardKind = Literal["sparse", "privileged", "grm", "perceptual"]
REWARD_KINDS: tuple[RewardKind, ...] = ("sparse", "privileged", "grm", "perceptual")


@dataclass(frozen=True)
class RewardConfig:
    """The reward a controller learns from."""

    kind: RewardKind = "sparse"
    """sparse (task reward), privileged (true progress potential), grm or perceptual."""
    mode: ShapingMode = "pbrs"
    """pbrs: γΦ(s') − Φ(s); naive: Φ(s') − Φ(s) (the semantic-trap ablation)."""
    anchoring: str = "fused"
    """GRM progress used as the potential: fused, incremental, forward or backward."""
    checkpoint: str = ""
    """grm: the GRM checkpoint (empty: the general model shipped in the package); perceptual:
    the fitted reward file (empty: fit one on ``perceptual_demos`` scripted demos)."""
    demo: str = ""
    """Reference demonstration (.npz trajectory); empty: the scripted expert's episode with
    ``demo_seed`` (simulation only)."""
    demo_seed: int = 40_000
    """Env seed of the scripted reference demo when ``demo`` is empty."""
    task_weight: float = 1.0
    """Weight of the task's own sparse reward (Robo-Dopamine's reward uses 0: r_gold only)."""
    success_bonus: float = 0.0
    """r_gold paid when the potential reaches ``success_threshold`` (0: off)."""
    success_threshold: float = 0.95
    """Potential at which r_gold is paid."""
    time_penalty: float = 0.0
    """Constant subtracted every step (1 with r_gold and no task reward: −1 until done)."""
    perceptual_demos: int = 5
    """Scripted demos (seeds ``demo_seed``, ``demo_seed + 1``, ...) a perceptual reward is fitted
    on when no ``checkpoint`` is given."""

    def __post_init__(self) -> None:
        if self.kind not in REWARD_KINDS:
            raise ValueError(f"reward kind must be one of {REWARD_KINDS}, got {self.kind!r}")
        if self.anchoring not in ("fused", "incremental", "forward", "backward"):
            raise ValueError(
                f"anchoring must be fused, incremental, forward or backward, got {self.anchoring!r}"
            )
        if self.kind != "grm" and self.demo:
            raise ValueError(f"demo only applies to the grm reward, not {self.kind!r}")
        if self.kind not in ("grm", "perceptual") and self.checkpoint:
            raise ValueError(
                f"checkpoint only applies to the grm and perceptual rewards, not {self.kind!r}"
            )
        if self.perceptual_demos < 1:
            raise ValueError(f"perceptual_demos must be >= 1, got {self.perceptual_demos}")

    @property
    def needs_cameras(self) -> bool:
        return self.kind in ("grm", "perceptual")

    def shaping(self, gamma: float) -> ShapingConfig:
        return ShapingConfig(
            gamma=gamma,
            mode=self.mode,
            task_weight=self.task_weight,
            success_bonus=self.success_bonus,
            success_threshold=self.success_threshold,
            time_penalty=self.time_penalty,
        )


def potential_factory(
    config: RewardConfig, task: str, env_config: Any = None
) -> Callable[[], PotentialProvider] | None:
    """A zero-argument factory of fresh potentials for ``config`` (None for the sparse reward).

    Each env of a vector env needs its own provider (the GRM tracker keeps episode state); the
    model and the reference demo are loaded once and shared. ``env_config`` is the training
    env's: a scripted reference demo is rolled out with the same cameras and appearance."""
    if config.kind == "sparse":
        return None
    if config.kind == "privileged":
        return PrivilegedPotential
    if config.kind == "perceptual":
        reward = perceptual_reward(config, task, env_config)
        return lambda: PerceptualPotential(reward)
    from robo_reward.grm.checkpoint import default_checkpoint, load_grm

    grm = load_grm(config.checkpoint or default_checkpoint())
    demo = reference_demo(config, task, env_config)
    return lambda: GRMPotential.from_demo(grm, demo, config.anchoring)


def potential_for(
    config: RewardConfig, task: str, env_config: Any = None
) -> PotentialProvider | None:
    """One potential for ``config`` (None for the sparse reward)."""
    factory = potential_factory(config, task, env_config)
    return None if factory is None else factory()


def perceptual_reward(config: RewardConfig, task: str, env_config: Any = None) -> Any:
    """The fitted perceptual reward of ``config``: loaded, or fitted on scripted demos."""
    from robo_reward.perceptual.reward import (
        PerceptualConfig,
        PerceptualReward,
        fit_perceptual_reward,
    )
    from robo_reward.sim.demos import rollout

    if config.checkpoint:
        reward = PerceptualReward.load(config.checkpoint)
        if reward.task and reward.task != task:
            raise ValueError(
                f"{config.checkpoint} was fitted on {reward.task!r} demos, not {task!r}"
            )
        return reward
    demos = [
        rollout(task, config.demo_seed + i, env_config=env_config)
        for i in range(config.perceptual_demos)
    ]
    return fit_perceptual_reward(demos, PerceptualConfig())


def reference_demo(config: RewardConfig, task: str, env_config=None):
    """The demonstration that conditions the GRM (loaded, or rolled out by the expert)."""
    from robo_reward.data import Trajectory
    from robo_reward.sim.demos import rollout

    if config.demo:
        path = Path(config.demo)
        if not path.is_file():
            raise FileNotFoundError(f"reference demo {path} does not exist")
        demo = Trajectory.load(path)
    else:
        demo = rollout(task, config.demo_seed, env_config=env_config)
    if not demo.success:
        raise ValueError(f"the reference demo of {task} did not succeed; its end is not a goal")
    return demo


def shaped_env(
    env: gym.Env, config: RewardConfig, gamma: float, potential: PotentialProvider | None
) -> gym.Env:
    """``env`` with the reward of ``config`` (unchanged for the sparse reward)."""
    if config.kind == "sparse":
        if potential is not None:
            raise ValueError("the sparse reward takes no potential")
        return env
    if potential is None:
        raise ValueError(f"the {config.kind} reward needs a potential")
    return PotentialShaping(env, potential, config.shaping(gamma))
