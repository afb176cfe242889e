"""Gymnasium registration: ids, time limits, entry points, lookup by name, clear errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import TimeLimit

from robo_reward.sim import TASKS, make_env, register_envs, task_spec
from robo_reward.sim.registration import NAMESPACE, TaskSpec
from robo_reward.sim.tasks.base import TabletopEnv

SPECS = list(TASKS.values())
IDS = [spec.name for spec in SPECS]


def test_tasks_table_is_consistent() -> None:
    documented = {"reach", "push", "pick_place", "stack", "drawer_open", "button_press"}
    assert documented <= set(TASKS)
    for name, spec in TASKS.items():
        assert isinstance(spec, TaskSpec)
        assert spec.name == name == spec.env_class.task_name
        assert spec.env_id.startswith(f"{NAMESPACE}/") and spec.env_id.endswith("-v0")
        assert issubclass(spec.env_class, TabletopEnv)
        assert spec.max_episode_steps > 0
    assert len({spec.env_id for spec in SPECS}) == len(SPECS)


def test_register_envs_is_idempotent_and_sets_time_limits() -> None:
    register_envs()
    register_envs()
    for spec in SPECS:
        registered = gym.spec(spec.env_id)
        assert registered.max_episode_steps == spec.max_episode_steps
        module, _, name = registered.entry_point.partition(":")
        assert (module, name) == (spec.env_class.__module__, spec.env_class.__name__)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gym_make_builds_the_task_class(spec: TaskSpec) -> None:
    register_envs()
    env = gym.make(spec.env_id, cameras=())
    try:
        assert type(env.unwrapped) is spec.env_class
        assert env.spec is not None and env.spec.max_episode_steps == spec.max_episode_steps
    finally:
        env.close()


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_task_spec_by_short_name_or_env_id(spec: TaskSpec) -> None:
    assert task_spec(spec.name) is spec
    assert task_spec(spec.env_id) is spec


@pytest.mark.parametrize("lookup", [task_spec, make_env], ids=["task_spec", "make_env"])
@pytest.mark.parametrize("name", ["nope", "Push", "push-v0", ""])
def test_unknown_task_lists_known_tasks(lookup, name: str) -> None:
    with pytest.raises(ValueError, match="unknown task") as info:
        lookup(name)
    message = str(info.value)
    assert repr(name) in message
    for known in TASKS:
        assert known in message


def test_make_env_wraps_in_time_limit_and_forwards_kwargs() -> None:
    env = make_env("push", cameras=(), image_size=(24, 40), frame_skip=5)
    try:
        assert isinstance(env, TimeLimit)
        assert env.spec.max_episode_steps == TASKS["push"].max_episode_steps
        unwrapped = env.unwrapped
        assert (unwrapped.image_height, unwrapped.image_width) == (24, 40)
        assert unwrapped.frame_skip == 5 and unwrapped.cameras == ()
    finally:
        env.close()


def test_make_env_accepts_env_id() -> None:
    env = make_env(TASKS["reach"].env_id, cameras=())
    try:
        assert env.unwrapped.task_name == "reach"
    finally:
        env.close()


def test_make_env_max_episode_steps_override_truncates_there() -> None:
    env = make_env("reach", max_episode_steps=7, cameras=())
    try:
        assert env.spec.max_episode_steps == 7
        env.reset(seed=0)
        truncations = [env.step(np.zeros(4, dtype=np.float32))[3] for _ in range(7)]
        assert truncations == [False] * 6 + [True]
    finally:
        env.close()


def test_pybullet_backend_makes_the_bullet_version_with_the_same_limit() -> None:
    from robo_reward.sim.env_config import EnvConfig
    from robo_reward.sim.registration import bullet_env_id

    assert bullet_env_id("push") == "robo_reward/BulletPush-v0"
    env = EnvConfig(cameras=(), backend="pybullet").make("push")
    try:
        assert type(env.unwrapped).__name__ == "BulletPushEnv"
        assert env.spec.max_episode_steps == TASKS["push"].max_episode_steps
    finally:
        env.close()


def test_unknown_backend_and_tasks_without_a_pybullet_version_are_refused() -> None:
    from robo_reward.sim.env_config import EnvConfig

    with pytest.raises(ValueError, match="unknown simulator backend 'gazebo'"):
        make_env("push", backend="gazebo")
    with pytest.raises(ValueError, match="unknown simulator backend"):
        EnvConfig(backend="gazebo")
    with pytest.raises(ValueError, match="'stack' has no PyBullet version; PyBullet tasks: push"):
        make_env("stack", backend="pybullet")


def test_nav_pybullet_backend_and_its_limits() -> None:
    from robo_reward.sim.nav.registration import NAV_TASKS, make_nav_env

    env = make_nav_env("maze_small", backend="pybullet", maze_seed=0)
    try:
        assert type(env.unwrapped).__name__ == "BulletMazeNavEnv"
        assert env.spec.max_episode_steps == NAV_TASKS["maze_small"].max_episode_steps
    finally:
        env.close()
    with pytest.raises(ValueError, match="has no PyBullet version"):
        make_nav_env("pointmaze_umaze", backend="pybullet")
