"""From a reward config to a shaped env: which potential, which reference demo, which model.

One place decides what ``--reward sparse | privileged | grm`` means, for ``robo-reward train``,
the benchmarks and (later) the ROS policy node:

``sparse``      the task's own reward only (no wrapper);
``privileged``  the simulator's true progress as the potential (the upper bound; sim only);
``grm``         GRM progress against a reference demo (the one demonstration a user has), from
                the general checkpoint or one adapted on that demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym

from robo_reward.shaping.pbrs import ShapingMode
from robo_reward.shaping.potentials import GRMPotential, PotentialProvider, PrivilegedPotential
from robo_reward.shaping.wrapper import PotentialShaping, ShapingConfig

RewardKind = Literal["sparse", "privileged", "grm"]
REWARD_KINDS: tuple[RewardKind, ...] = ("sparse", "privileged", "grm")


@dataclass(frozen=True)
class RewardConfig:
    """The reward a controller learns from."""

    kind: RewardKind = "sparse"
    """sparse (task reward), privileged (true progress potential) or grm."""
    mode: ShapingMode = "pbrs"
    """pbrs: γΦ(s') − Φ(s); naive: Φ(s') − Φ(s) (the semantic-trap ablation)."""
    anchoring: str = "fused"
    """GRM progress used as the potential: fused, incremental, forward or backward."""
    checkpoint: str = ""
    """GRM checkpoint (empty: the general model shipped in the package)."""
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

    def __post_init__(self) -> None:
        if self.kind not in REWARD_KINDS:
            raise ValueError(f"reward kind must be one of {REWARD_KINDS}, got {self.kind!r}")
        if self.anchoring not in ("fused", "incremental", "forward", "backward"):
            raise ValueError(
                f"anchoring must be fused, incremental, forward or backward, got {self.anchoring!r}"
            )
        if self.kind != "grm" and (self.checkpoint or self.demo):
            raise ValueError(f"checkpoint and demo only apply to the grm reward, not {self.kind!r}")

    @property
    def needs_cameras(self) -> bool:
        return self.kind == "grm"

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
