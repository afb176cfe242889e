"""The shaping wrapper on real tasks: reward terms, terminal rules, bad potentials, vector envs."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robo_reward.shaping import (
    PotentialError,
    PotentialShaping,
    PrivilegedPotential,
    ShapingConfig,
    shaping_reward,
)
from robo_reward.sim import register_envs
from robo_reward.sim.experts import EXPERTS

GAMMA = 0.98


def reach(max_episode_steps: int | None = None) -> gym.Env:
    register_envs()
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    return gym.make("robo_reward/Reach-v0", cameras=(), **kwargs)


class ScriptedPotential:
    """Returns the given values in order (reset gets the first)."""

    def __init__(self, values, name: str = "scripted", bounds=(0.0, 1.0)) -> None:
        self.values = list(values)
        self.name = name
        self.bounds = bounds
        self.index = 0

    def reset(self, observation, info) -> float:
        self.index = 0
        return self.values[0]

    def potential(self, observation, info) -> float:
        self.index += 1
        return self.values[self.index]


def run_expert(env: gym.Env, seed: int) -> tuple[float, list[tuple[float, bool, bool, dict]]]:
    """Φ(s_0) and (reward, terminated, truncated, info) per step of one reach-expert episode."""
    _, info = env.reset(seed=seed)
    expert = EXPERTS["reach"](env.unwrapped, np.random.default_rng(seed))
    expert.reset()
    steps = []
    for frame in range(1000):
        _, reward, terminated, truncated, step_info = env.step(expert.act(frame))
        steps.append((float(reward), terminated, truncated, step_info))
        if terminated or truncated:
            break
    return info["potential/privileged"], steps


def test_shaping_telescopes_on_a_real_episode_that_terminates() -> None:
    env = PotentialShaping(reach(), PrivilegedPotential(), ShapingConfig(gamma=GAMMA))
    phi0, steps = run_expert(env, 3)
    assert steps[-1][1], "the reach expert should finish the task"
    discounted = sum(GAMMA**t * s[3]["reward/shaping_privileged"] for t, s in enumerate(steps))
    assert discounted == pytest.approx(-phi0, abs=1e-9)
    for reward, _, _, info in steps:
        assert reward == pytest.approx(info["reward/task"] + info["reward/shaping_privileged"])
        assert info["reward/total"] == pytest.approx(reward)


def test_truncated_episode_keeps_the_last_potential() -> None:
    env = PotentialShaping(reach(max_episode_steps=1), PrivilegedPotential(), ShapingConfig(GAMMA))
    phi0, steps = run_expert(env, 4)
    assert len(steps) == 1 and steps[-1][2] and not steps[-1][1]
    last_phi = steps[-1][3]["potential/privileged"]
    discounted = sum(GAMMA**t * s[3]["reward/shaping_privileged"] for t, s in enumerate(steps))
    assert discounted == pytest.approx(GAMMA * last_phi - phi0, abs=1e-9)
    assert last_phi > 0


def test_task_weight_weights_and_success_bonus() -> None:
    values = [0.2, 0.5, 0.96, 0.97]
    config = ShapingConfig(gamma=0.9, task_weight=0.0, success_bonus=1.0)
    env = PotentialShaping(
        reach(),
        [ScriptedPotential(values), ScriptedPotential(values, "second")],
        config,
        weights={"second": 0.5},
    )
    env.reset(seed=0)
    action = np.zeros(4, dtype=np.float32)
    _, reward, _, _, info = env.step(action)
    first = shaping_reward(0.2, 0.5, 0.9, False)
    assert info["reward/shaping_scripted"] == pytest.approx(first)
    assert info["reward/shaping_second"] == pytest.approx(0.5 * first)
    assert info["reward/gold"] == 0.0
    assert reward == pytest.approx(1.5 * first)
    _, reward, _, _, info = env.step(action)
    assert info["reward/gold"] == 1.0
    assert reward == pytest.approx(1.5 * shaping_reward(0.5, 0.96, 0.9, False) + 1.0)


def test_time_penalty_is_paid_every_step_and_reported() -> None:
    config = ShapingConfig(gamma=0.9, task_weight=0.0, success_bonus=1.0, time_penalty=1.0)
    env = PotentialShaping(reach(), ScriptedPotential([0.2, 0.5, 0.96]), config)
    env.reset(seed=0)
    action = np.zeros(4, dtype=np.float32)
    _, reward, _, _, info = env.step(action)
    assert info["reward/time"] == -1.0
    assert reward == pytest.approx(shaping_reward(0.2, 0.5, 0.9, False) - 1.0)
    _, reward, _, _, info = env.step(action)
    assert reward == pytest.approx(shaping_reward(0.5, 0.96, 0.9, False) + 1.0 - 1.0)
    with pytest.raises(ValueError, match="time_penalty"):
        ShapingConfig(time_penalty=-1.0)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([0.0, math.nan], "finite"),
        ([0.0, math.inf], "finite"),
        ([0.0, 1.5], "outside its declared range"),
        ([-0.1], "outside its declared range"),
        ([0.0, "high"], "not a number"),
    ],
)
def test_bad_potentials_stop_with_a_message(values, match: str) -> None:
    env = PotentialShaping(reach(), ScriptedPotential(values))
    with pytest.raises(PotentialError, match=match):
        env.reset(seed=0)
        env.step(np.zeros(4, dtype=np.float32))


def test_declared_bounds_are_respected_not_assumed() -> None:
    env = PotentialShaping(reach(), ScriptedPotential([-3.0, -2.0], bounds=(-10.0, 0.0)))
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert info["potential/scripted"] == -2.0


def test_construction_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PotentialShaping(reach(), [])
    with pytest.raises(ValueError, match="distinct"):
        PotentialShaping(reach(), [ScriptedPotential([0]), ScriptedPotential([0])])
    with pytest.raises(ValueError, match="unknown potentials"):
        PotentialShaping(reach(), ScriptedPotential([0]), weights={"grm": 1.0})
    with pytest.raises(TypeError, match="not a potential provider"):
        PotentialShaping(reach(), [object()])
    with pytest.raises(ValueError, match="gamma"):
        ShapingConfig(gamma=1.5)
    with pytest.raises(ValueError, match="mode"):
        ShapingConfig(mode="difference")


def test_step_after_the_episode_ended_needs_a_reset() -> None:
    env = PotentialShaping(reach(max_episode_steps=1), PrivilegedPotential())
    env.reset(seed=0)
    env.step(np.zeros(4, dtype=np.float32))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(4, dtype=np.float32))


def test_privileged_potential_names_a_missing_key() -> None:
    with pytest.raises(KeyError, match="privileged_progress"):
        PrivilegedPotential().reset(None, {"is_success": False})


def test_wrapped_env_passes_the_gymnasium_checker() -> None:
    check_env(PotentialShaping(reach().unwrapped, PrivilegedPotential()), skip_render_check=True)


def test_vector_env_resets_potentials_on_autoreset_and_reports_every_term() -> None:
    register_envs()
    envs = gym.vector.SyncVectorEnv(
        [
            lambda: PotentialShaping(
                reach(max_episode_steps=4), PrivilegedPotential(), ShapingConfig(GAMMA)
            )
            for _ in range(2)
        ]
    )
    envs.reset(seed=[0, 1])
    ended = 0
    for _ in range(12):
        _, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        ended += int((terminated | truncated).sum())
        if "reward/task" not in infos:
            continue  # the autoreset step: every sub-env was reset, no transition to score
        stepped = infos.get("_reward/task", np.zeros(2, bool))
        np.testing.assert_allclose(
            rewards[stepped],
            (infos["reward/task"] + infos["reward/shaping_privileged"])[stepped],
        )
    assert ended >= 4  # several episodes ended and restarted without a RuntimeError
    envs.close()
