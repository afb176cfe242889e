"""The PyBullet tabletop tasks against their MuJoCo twins: the same spaces, placements and task
interface, experts that succeed unchanged, Gymnasium's checker, and the layered TinyRenderer
cameras giving the images a plain render gives."""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robo_reward.sim.bullet.scene import SceneCameras
from robo_reward.sim.bullet.tabletop import BulletPushEnv, BulletReachEnv, BulletTabletopEnv
from robo_reward.sim.demos import episode_limit, rollout
from robo_reward.sim.tasks.base import ACTION_DIM
from robo_reward.sim.tasks.push import PushEnv
from robo_reward.sim.tasks.reach import ReachEnv

TWINS = {"push": (BulletPushEnv, PushEnv), "reach": (BulletReachEnv, ReachEnv)}
tasks = pytest.mark.parametrize("task", sorted(TWINS))
ACCEPTED_CHECKER_WARNINGS = re.compile(r"observation space (minimum|maximum) value is -?infinity")


@pytest.fixture
def make() -> Iterator[Callable[..., Any]]:
    """``make(env_class, **kwargs)``; every env made is closed after the test."""
    envs: list[Any] = []

    def factory(env_class: type, **kwargs: Any) -> Any:
        env = env_class(**kwargs)
        envs.append(env)
        return env

    yield factory
    for env in reversed(envs):
        env.close()


def _actions(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, ACTION_DIM).astype(np.float32) for _ in range(count)]


def _assert_same_obs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# --------------------------------------------------------------------------- the MuJoCo twin


@tasks
@pytest.mark.parametrize("depth", [False, True], ids=["rgb", "depth"])
def test_spaces_equal_the_mujoco_envs(task: str, depth: bool, make) -> None:
    bullet_class, mujoco_class = TWINS[task]
    kwargs = {"image_size": (12, 16), "depth": depth}
    bullet, mujoco_env = make(bullet_class, **kwargs), make(mujoco_class, **kwargs)
    assert bullet.observation_space == mujoco_env.observation_space
    assert bullet.action_space == mujoco_env.action_space
    assert bullet.dt == pytest.approx(mujoco_env.dt)
    for name in ("task_name", "task_text", "goal_dim", "object_obs_dim", "success_distance"):
        assert getattr(bullet, name) == getattr(mujoco_class, name), name
    obs, info = bullet.reset(seed=0)
    assert bullet.observation_space.contains(obs)
    assert info.keys() == {"is_success", "privileged_progress", "timestamp_ns"}
    for action in _actions(2):
        assert bullet.observation_space.contains(bullet.step(action)[0])


@tasks
@pytest.mark.parametrize("randomized", [True, False], ids=["randomized", "nominal"])
def test_a_seed_places_goal_block_and_hand_as_in_mujoco(task: str, randomized: bool, make) -> None:
    """The same draws in the same order: goals exactly, settled positions to a few mm."""
    bullet_class, mujoco_class = TWINS[task]
    kwargs = {} if randomized else {"randomization": None}
    bullet = make(bullet_class, cameras=(), **kwargs)
    mujoco_env = make(mujoco_class, cameras=(), **kwargs)
    for seed in range(4):
        ours, _ = bullet.reset(seed=seed)
        theirs, _ = mujoco_env.reset(seed=seed)
        np.testing.assert_array_equal(ours["desired_goal"], theirs["desired_goal"])
        np.testing.assert_allclose(ours["state"][:3], theirs["state"][:3], atol=3e-3)
        if "object" in ours:
            np.testing.assert_allclose(ours["object"][:3], theirs["object"][:3], atol=2e-3)
        assert bullet.np_random.uniform() == mujoco_env.np_random.uniform()


@tasks
def test_appearance_follows_the_mujoco_draws(task: str, make) -> None:
    """Randomised colours are MuJoCo's own, and ``appearance_seed`` fixes them across
    episodes while the placement still follows the reset seed."""
    bullet_class, mujoco_class = TWINS[task]
    bullet, mujoco_env = make(bullet_class, cameras=()), make(mujoco_class, cameras=())
    bullet.reset(seed=3)
    mujoco_env.reset(seed=3)
    np.testing.assert_array_equal(bullet.scene_model.geom_rgba, mujoco_env.model.geom_rgba)
    np.testing.assert_array_equal(bullet.scene_model.cam_pos, mujoco_env.model.cam_pos)
    fixed = make(bullet_class, cameras=(), appearance_seed=9)
    first = fixed.reset(seed=0)[0]["desired_goal"], fixed.scene_model.mat_rgba.copy()
    second = fixed.reset(seed=1)[0]["desired_goal"], fixed.scene_model.mat_rgba.copy()
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], second[0])


# --------------------------------------------------------------------------- Gymnasium API


@tasks
def test_env_checker_passes(task: str, make) -> None:
    env = make(TWINS[task][0], cameras=("front", "wrist"), image_size=16, depth=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    messages = [str(w.message) for w in caught if "WARN:" in str(w.message)]
    assert [m for m in messages if not ACCEPTED_CHECKER_WARNINGS.search(m)] == []


def test_render_draws_the_front_view_as_the_observation_shows_it(make) -> None:
    env = make(
        BulletPushEnv, cameras=("front",), image_size=24, render_mode="rgb_array", render_size=24
    )
    obs, _ = env.reset(seed=1)
    differs = np.abs(env.render().astype(int) - obs["front"]).max(axis=-1)
    assert (differs > 0).mean() <= 0.002 and differs.max() <= 2
    assert make(BulletPushEnv, cameras=()).render() is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"cameras": "front"}, TypeError),
        ({"cameras": ("top",)}, ValueError),
        ({"cameras": ("front", "front")}, ValueError),
        ({"image_size": 4}, ValueError),
        ({"frame_skip": 0}, ValueError),
        ({"action_scale": 0.5}, ValueError),
        ({"reward_type": "dense"}, ValueError),
        ({"render_mode": "human"}, ValueError),
        ({"appearance_seed": -1}, ValueError),
    ],
)
def test_constructor_refuses_what_mujoco_refuses(kwargs: dict, error: type) -> None:
    for env_class in (BulletReachEnv, ReachEnv):
        with pytest.raises(error):
            env_class(**kwargs)


def test_pickle_gives_a_fresh_env_with_the_same_arguments(make) -> None:
    env = make(BulletReachEnv, cameras=(), randomization=None)
    copy = make(lambda: pickle.loads(pickle.dumps(env)))
    _assert_same_obs(env.reset(seed=4)[0], copy.reset(seed=4)[0])


# --------------------------------------------------------------------------- experts, rewards


@pytest.mark.parametrize(("task", "seeds", "needed"), [("push", 10, 8), ("reach", 10, 9)])
def test_scripted_experts_succeed_unchanged(task: str, seeds: int, needed: int, make) -> None:
    env = gym.wrappers.TimeLimit(
        make(TWINS[task][0], cameras=("front",), image_size=8), episode_limit(task, "expert")
    )
    results = [rollout(task, seed, env=env) for seed in range(seeds)]
    assert sum(traj.success for traj in results) >= needed
    clean = results[0]
    assert clean.keyframes is not None and clean.progress is not None
    np.testing.assert_array_equal(clean.rewards[-1], 1.0)


@tasks
def test_compute_reward_is_vectorised_for_relabelled_goals(task: str, make) -> None:
    env = make(TWINS[task][0], cameras=(), reward_type="step_penalty")
    obs, info = env.reset(seed=0)
    achieved = np.repeat(obs["achieved_goal"][None], 6, axis=0)
    mixed = np.repeat(obs["desired_goal"][None], 6, axis=0)
    mixed[::2] = achieved[::2]
    reward = env.compute_reward(achieved, mixed, [info] * 6)
    assert reward.shape == (6,) and reward.dtype == np.float32
    np.testing.assert_array_equal(reward, [0, -1, 0, -1, 0, -1])
    np.testing.assert_array_equal(env.compute_terminated(achieved, mixed, None), [1, 0] * 3)
    assert not env.compute_truncated(achieved, mixed, None).any()
    _, step_reward, *_ = env.step(np.zeros(ACTION_DIM, np.float32))
    assert step_reward == -1.0


def test_info_reports_time_and_bounded_progress(make) -> None:
    env = make(BulletPushEnv, cameras=(), frame_skip=10)
    _, info = env.reset(seed=2)
    assert info["is_success"] is False and info["timestamp_ns"] == 0
    for step, action in enumerate(_actions(3), start=1):
        _, reward, _, truncated, info = env.step(action)
        assert reward == float(info["is_success"]) and truncated is False
        assert 0.0 <= info["privileged_progress"] <= 1.0
        assert info["timestamp_ns"] == round(step * 0.02 * 1e9)


# --------------------------------------------------------------------------- actions


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_action_raises(bad: float, make) -> None:
    env = make(BulletReachEnv, cameras=())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        env.step(np.array([0.0, bad, 0.0, 0.0], np.float32))


@pytest.mark.parametrize("action", [np.zeros(3), np.zeros((1, 4))], ids=["3", "1x4"])
def test_wrong_action_shape_raises(action: np.ndarray, make) -> None:
    env = make(BulletReachEnv, cameras=())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(action)


def test_out_of_range_actions_are_clipped_and_the_target_stays_in_the_workspace(make) -> None:
    wild, clipped = make(BulletPushEnv, cameras=()), make(BulletPushEnv, cameras=())
    wild.reset(seed=3)
    clipped.reset(seed=3)
    big = np.array([7.0, -3.0, 1.5, -40.0], np.float32)
    for action in (big, -big):
        _assert_same_obs(wild.step(action)[0], clipped.step(np.clip(action, -1, 1))[0])
    for _ in range(10):  # press down: the target stops at the workspace floor
        wild.step(np.array([0.0, 0.0, -1.0, 0.0], np.float32))
    assert wild.target_pos[2] == pytest.approx(0.008)
    assert np.linalg.norm(wild.target_pos - wild.grip_pos) <= 0.1 + 1e-9


# --------------------------------------------------------------------------- clients, images


def test_two_envs_in_one_process_do_not_interfere(make) -> None:
    kwargs = {"cameras": ("front", "wrist"), "image_size": 16}
    alone = make(BulletPushEnv, **kwargs)
    first, second = make(BulletPushEnv, **kwargs), make(BulletReachEnv, **kwargs)
    alone_obs = [alone.reset(seed=5)[0]] + [alone.step(a)[0] for a in _actions(4)]
    first.reset(seed=5)
    second.reset(seed=6)
    together = [first.reset(seed=5)[0]]
    for action, other in zip(_actions(4), _actions(4, seed=1), strict=True):
        second.step(other)
        together.append(first.step(action)[0])
    for a, b in zip(alone_obs, together, strict=True):
        _assert_same_obs(a, b)


def test_a_seeded_reset_starts_where_a_fresh_env_starts(make) -> None:
    """Whatever an episode did (contacts, colours, cached backgrounds), images included."""
    kwargs = {"cameras": ("front", "wrist"), "image_size": 16, "depth": True}
    used, fresh = make(BulletPushEnv, **kwargs), make(BulletPushEnv, **kwargs)
    used.reset(seed=0)
    for action in _actions(8, seed=1):
        used.step(action)
    _assert_same_obs(used.reset(seed=7)[0], fresh.reset(seed=7)[0])
    for action in _actions(3, seed=2):
        _assert_same_obs(used.step(action)[0], fresh.step(action)[0])


def test_images_show_a_scene_that_differs_between_views(make) -> None:
    env = make(BulletPushEnv, image_size=32, depth=True, randomization=None)
    obs, _ = env.reset(seed=0)
    obs = env.step(np.array([0.3, 0.3, -0.5, -1.0], np.float32))[0]
    for view in env.cameras:
        image, depth = obs[view], obs[f"{view}_depth"]
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert image.reshape(-1, 3).std(axis=0).max() > 10, f"{view} is one colour"
        assert depth.dtype == np.float32 and np.all(depth > 0) and np.all(depth < 4.6)
    assert not np.array_equal(obs["front"], obs["side"])
    assert not np.array_equal(obs["front"], obs["wrist"])
    # The wrist camera looks down at the table from just above the fingers.
    assert np.median(obs["wrist_depth"]) < np.median(obs["front_depth"])
    # The block (red in the nominal scene) is in the front view.
    red = (obs["front"][..., 0] > 150) & (obs["front"][..., 1] < 80)
    assert red.any()


def test_layered_cameras_give_the_image_of_a_plain_render(make) -> None:
    """Cached static background for fixed cameras, culling for the wrist camera: the images
    are those of drawing the whole scene each time (up to rare one-level colour ties)."""
    env: BulletTabletopEnv = make(BulletPushEnv, cameras=(), image_size=32)
    ids = [env.scene_model.camera(name).id for name in ("front", "side", "wrist")]
    cameras = SceneCameras(env.scene, ids, 32, 32)
    env.reset(seed=1)
    cameras.invalidate()
    for action in _actions(6, seed=2):
        env.step(action)
        frames = cameras.render()
        for camera in ids:
            plain_rgb, plain_depth = cameras.draw(camera, 32, 32)
            rgb, depth = frames[camera]
            differs = np.abs(rgb.astype(int) - plain_rgb).max(axis=-1)
            assert (differs > 0).mean() <= 0.002 and differs.max() <= 2
            np.testing.assert_allclose(depth, plain_depth, rtol=1e-6)


def test_close_disconnects_and_can_be_repeated() -> None:
    env = BulletReachEnv(cameras=())
    env.reset(seed=0)
    env.close()
    env.close()
