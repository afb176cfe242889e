"""One test matrix over every registered tabletop task, in the style of Gymnasium-Robotics:
env checker, determinism, reset state, goals and rewards, episode end, action handling."""

from __future__ import annotations

import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robo_reward.sim import TASKS, register_envs
from robo_reward.sim.registration import TaskSpec
from robo_reward.sim.tasks.base import ACTION_DIM, STATE_DIM

SPECS = list(TASKS.values())
IDS = [spec.name for spec in SPECS]
matrix = pytest.mark.parametrize("spec", SPECS, ids=IDS)

# The goal-conditioned observation boxes are unbounded on purpose (positions, velocities).
ACCEPTED_CHECKER_WARNINGS = re.compile(r"observation space (minimum|maximum) value is -?infinity")


def _placement(obs: dict[str, np.ndarray]) -> np.ndarray:
    """Where the task's things are: the goal plus the privileged object state (positions)."""
    return np.concatenate([obs["desired_goal"], obs.get("object", np.zeros(0))])


def _assert_same_obs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), f"{key} differs"


def _actions(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, ACTION_DIM).astype(np.float32) for _ in range(count)]


# --------------------------------------------------------------------------- Gymnasium API


@matrix
def test_env_checker_passes(spec: TaskSpec) -> None:
    """Gymnasium's checker, including its render check (it makes an rgb_array copy itself)."""
    register_envs()
    env = gym.make(spec.env_id)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)
    finally:
        env.close()
    messages = [str(w.message) for w in caught if "WARN:" in str(w.message)]  # gymnasium's
    unexpected = [m for m in messages if not ACCEPTED_CHECKER_WARNINGS.search(m)]
    assert unexpected == []


@matrix
def test_render_rgb_array(spec: TaskSpec) -> None:
    register_envs()
    env = gym.make(spec.env_id, render_mode="rgb_array", render_size=(40, 64), cameras=())
    try:
        env.reset(seed=0)
        frame = env.render()
        assert frame.shape == (40, 64, 3) and frame.dtype == np.uint8
        assert frame.std() > 0, "render() returned a blank image"
    finally:
        env.close()


@matrix
def test_render_is_none_without_render_mode(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=())
    env.reset(seed=0)
    assert env.render() is None


@matrix
def test_pickle_round_trip_without_cameras(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=())
    copy = pickle.loads(pickle.dumps(env))
    try:
        _assert_same_obs(env.reset(seed=4)[0], copy.reset(seed=4)[0])
    finally:
        copy.close()


@matrix
def test_docstring_documents_the_env(spec: TaskSpec) -> None:
    doc = spec.env_class.__doc__ or ""
    for section in ("## Action Space", "## Observation Space", "## Rewards", "## Episode End"):
        assert section in doc
    assert f"({spec.max_episode_steps} steps)" in doc, "time limit in the docs != registration"


# --------------------------------------------------------------------------- spaces


@matrix
def test_spaces(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=())
    unwrapped = env.unwrapped
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
    space = env.observation_space
    expected = {"state", "achieved_goal", "desired_goal"}
    if unwrapped.object_obs_dim:
        expected.add("object")
        assert space["object"].shape == (unwrapped.object_obs_dim,)
    assert set(space.spaces) == expected
    assert space["state"].shape == (STATE_DIM,)
    assert space["achieved_goal"].shape == space["desired_goal"].shape == (unwrapped.goal_dim,)
    obs, _ = env.reset(seed=0)
    assert space.contains(obs)
    for action in _actions(3):
        obs = env.step(action)[0]
        assert space.contains(obs)
        assert all(value.dtype == np.float32 for value in obs.values())


@matrix
def test_privileged_obs_off_drops_object_key(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=(), privileged_obs=False)
    obs, _ = env.reset(seed=0)
    assert "object" not in obs and "object" not in env.observation_space.spaces
    assert env.observation_space.contains(obs)


# --------------------------------------------------------------------------- determinism


@matrix
def test_same_seed_same_first_observation_images_included(spec: TaskSpec, make) -> None:
    kwargs = {"cameras": ("front", "wrist"), "image_size": 32, "depth": True}
    a, b = make(spec.name, **kwargs), make(spec.name, **kwargs)
    obs_a, info_a = a.reset(seed=11)
    obs_b, info_b = b.reset(seed=11)
    assert {"front", "wrist", "front_depth", "wrist_depth"} <= obs_a.keys()
    _assert_same_obs(obs_a, obs_b)
    assert info_a == info_b


@matrix
def test_same_seed_and_actions_same_trajectory(spec: TaskSpec, make) -> None:
    a = make(spec.name, cameras=("side",), image_size=32)
    b = make(spec.name, cameras=("side",), image_size=32)
    a.reset(seed=5)
    b.reset(seed=5)
    for action in _actions(4):
        step_a, step_b = a.step(action), b.step(action.copy())
        _assert_same_obs(step_a[0], step_b[0])
        assert step_a[1:] == step_b[1:]


@matrix
def test_different_seeds_place_objects_differently(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=(), randomization=None)
    first = _placement(env.reset(seed=0)[0])
    second = _placement(env.reset(seed=1)[0])
    assert np.abs(first - second).max() > 0.01, "seeds 0 and 1 place everything within 1 cm"


@matrix
def test_reset_restores_the_start_state_of_a_fresh_env(spec: TaskSpec, make) -> None:
    """Whatever an episode did to data or model (drawer/button offsets, colours), a seeded
    reset starts exactly where a fresh env starts."""
    used = make(spec.name, cameras=("front",), image_size=32)
    fresh = make(spec.name, cameras=("front",), image_size=32)
    used.reset(seed=0)
    for action in _actions(8, seed=1):
        used.step(action)
    _assert_same_obs(used.reset(seed=7)[0], fresh.reset(seed=7)[0])


# --------------------------------------------------------------------------- goals, rewards


@matrix
def test_rewards_and_termination_agree_with_success_on_an_expert_episode(
    spec: TaskSpec, make, run_expert
) -> None:
    env = make(spec.name, cameras=())
    episode = run_expert(env, seed=0)
    unwrapped = env.unwrapped
    success = np.array([info["is_success"] for info in episode.infos[1:]])
    assert success[-1] and episode.terminated[-1] and not episode.truncated[-1]
    assert episode.rewards == [float(s) for s in success]
    assert episode.terminated == list(success)

    achieved, desired = episode.goals("achieved_goal"), episode.goals("desired_goal")
    infos = np.array(episode.infos[1:])
    batch = (len(success), unwrapped.goal_dim)
    assert achieved.shape == desired.shape == batch
    reward = unwrapped.compute_reward(achieved, desired, infos)
    assert reward.shape == (len(success),) and reward.dtype == np.float32
    np.testing.assert_array_equal(reward, np.asarray(episode.rewards, dtype=np.float32))
    terminated = unwrapped.compute_terminated(achieved, desired, infos)
    np.testing.assert_array_equal(terminated, success)
    truncated = unwrapped.compute_truncated(achieved, desired, infos)
    assert truncated.shape == (len(success),) and not truncated.any()
    for a, d, info, r in zip(achieved, desired, infos, episode.rewards, strict=True):
        assert float(unwrapped.compute_reward(a, d, info)) == r


@matrix
def test_step_penalty_reward_is_minus_one_until_success(spec: TaskSpec, make, run_expert) -> None:
    env = make(spec.name, cameras=(), reward_type="step_penalty")
    episode = run_expert(env, seed=0)
    success = np.array([info["is_success"] for info in episode.infos[1:]])
    assert success[-1]
    assert episode.rewards == [0.0 if s else -1.0 for s in success]
    achieved, desired = episode.goals("achieved_goal"), episode.goals("desired_goal")
    np.testing.assert_array_equal(
        env.unwrapped.compute_reward(achieved, desired, None),
        np.asarray(episode.rewards, dtype=np.float32),
    )


def test_unknown_reward_type_is_refused(make) -> None:
    with pytest.raises(ValueError, match="reward_type"):
        make("reach", cameras=(), reward_type="dense")


@matrix
def test_compute_reward_is_vectorised_for_relabelled_goals(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=())
    unwrapped = env.unwrapped
    obs, info = env.reset(seed=0)
    batch = 6
    achieved = np.repeat(obs["achieved_goal"][None], batch, axis=0)
    # HER relabelling with the achieved goal itself always succeeds...
    np.testing.assert_array_equal(
        unwrapped.compute_reward(achieved, achieved, [info] * batch), np.ones(batch, np.float32)
    )
    # ... and the start state is not a success for the true goal.
    desired = np.repeat(obs["desired_goal"][None], batch, axis=0)
    np.testing.assert_array_equal(
        unwrapped.compute_reward(achieved, desired, [info] * batch), np.zeros(batch, np.float32)
    )
    mixed = desired.copy()
    mixed[::2] = achieved[::2]
    expected = np.array([1, 0] * (batch // 2), dtype=np.float32)
    np.testing.assert_array_equal(unwrapped.compute_reward(achieved, mixed, None), expected)
    np.testing.assert_array_equal(
        unwrapped.compute_terminated(achieved, mixed, None), expected.astype(bool)
    )


@matrix
def test_no_termination_when_terminate_on_success_is_off(spec: TaskSpec, make, run_expert) -> None:
    env = make(spec.name, cameras=(), terminate_on_success=False)
    episode = run_expert(env, seed=0)
    success = [info["is_success"] for info in episode.infos[1:]]
    assert any(success), "the expert never succeeded"
    assert not any(episode.terminated) and episode.truncated[-1]
    assert episode.num_steps == spec.max_episode_steps
    assert episode.rewards == [float(s) for s in success]
    first = success.index(True) + 1
    obs = episode.observations[first]
    goals = obs["achieved_goal"], obs["desired_goal"]
    assert env.unwrapped.compute_reward(*goals, None) == 1.0
    assert not env.unwrapped.compute_terminated(*goals, None)


@matrix
def test_info_reports_success_progress_and_time(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=(), frame_skip=10)
    unwrapped = env.unwrapped
    _, info = env.reset(seed=2)
    assert info["is_success"] is False and info["timestamp_ns"] == 0
    assert unwrapped.dt == pytest.approx(unwrapped.model.opt.timestep * 10)
    for step, action in enumerate(_actions(5), start=1):
        _, reward, terminated, truncated, info = env.step(action)
        assert isinstance(info["is_success"], bool) and reward == float(info["is_success"])
        assert 0.0 <= info["privileged_progress"] <= 1.0
        assert info["timestamp_ns"] == round(step * unwrapped.dt * 1e9)


# --------------------------------------------------------------------------- episode end


@matrix
def test_env_itself_never_truncates(spec: TaskSpec, make) -> None:
    env = make(spec.name, cameras=())
    unwrapped = env.unwrapped
    unwrapped.reset(seed=0)
    for _ in range(spec.max_episode_steps + 10):
        truncated = unwrapped.step(np.zeros(ACTION_DIM, np.float32))[3]
        assert truncated is False


def test_time_limit_truncates_reach_under_a_zero_policy(make) -> None:
    limit = TASKS["reach"].max_episode_steps
    env = make("reach", cameras=())
    _, info = env.reset(seed=0)
    assert not info["is_success"]
    for step in range(1, limit + 1):
        _, reward, terminated, truncated, info = env.step(np.zeros(ACTION_DIM, np.float32))
        assert not terminated and reward == 0.0 and not info["is_success"]
        assert truncated == (step == limit)


# --------------------------------------------------------------------------- actions


@matrix
@pytest.mark.parametrize(
    "action",
    [np.zeros(3), np.zeros(5), np.zeros((1, 4)), np.float32(0.0), np.zeros((2, 2))],
    ids=["3", "5", "1x4", "scalar", "2x2"],
)
def test_wrong_action_shape_raises(spec: TaskSpec, make, action) -> None:
    env = make(spec.name, cameras=())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(action)


@matrix
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_action_raises(spec: TaskSpec, make, bad: float) -> None:
    env = make(spec.name, cameras=())
    env.reset(seed=0)
    action = np.zeros(ACTION_DIM, np.float32)
    action[1] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        env.step(action)


@matrix
def test_out_of_range_actions_are_clipped(spec: TaskSpec, make) -> None:
    wild, clipped = make(spec.name, cameras=()), make(spec.name, cameras=())
    wild.reset(seed=3)
    clipped.reset(seed=3)
    big = np.array([7.0, -3.0, 1.5, -40.0], np.float32)
    for action in (big, -big):
        _assert_same_obs(wild.step(action)[0], clipped.step(np.clip(action, -1, 1))[0])
