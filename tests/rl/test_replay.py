"""Replay and HER buffers: storage, wrap-around, truncation vs termination, HER "future"
relabelling (finished and running episodes), persistence, and clear errors."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from tiny_envs import NoGoalDictEnv, PointEnv, PointGoalEnv

from robo_reward.rl.replay import HerReplayBuffer, ReplayBuffer, goal_functions

ACTION = spaces.Box(-1, 1, (2,), np.float32)
GOAL_SPACE = spaces.Dict(
    OrderedDict(
        observation=spaces.Box(-np.inf, np.inf, (3,), np.float32),
        achieved_goal=spaces.Box(-np.inf, np.inf, (1,), np.float32),
        desired_goal=spaces.Box(-np.inf, np.inf, (1,), np.float32),
    )
)
EPISODE_STRIDE = 1000.0
"""Achieved goals encode (episode, step) as ``episode * 1000 + step``, so a relabelled goal
tells where it came from."""


def reward_fn(achieved: np.ndarray, desired: np.ndarray, info: Any) -> np.ndarray:
    assert len(info) == len(achieved)
    return (np.abs(achieved - desired)[:, 0] < 0.5).astype(np.float32)


def terminated_fn(achieved: np.ndarray, desired: np.ndarray, info: Any) -> np.ndarray:
    return np.abs(achieved - desired)[:, 0] < 0.5


def goal_obs(values: np.ndarray, goal: float = -1.0) -> dict[str, np.ndarray]:
    """Observations of shape (N, ...) whose achieved goal is ``values`` (N,)."""
    values = np.asarray(values, dtype=np.float32).reshape(-1, 1)
    n = values.shape[0]
    return {
        "observation": np.repeat(values, 3, axis=1),
        "achieved_goal": values,
        "desired_goal": np.full((n, 1), goal, np.float32),
    }


def fill_episodes(
    buffer: ReplayBuffer,
    lengths: list[int],
    end_with: str = "truncated",
    leave_running: int = 0,
) -> None:
    """One env: episodes of the given lengths, then ``leave_running`` steps of one more."""
    episode = 0
    for length in [*lengths, leave_running]:
        for step in range(length):
            last = step == length - 1 and episode < len(lengths)
            achieved = episode * EPISODE_STRIDE + step
            buffer.add(
                goal_obs([achieved - 0.5]),
                goal_obs([achieved]),
                np.zeros((1, 2), np.float32),
                np.array([-1.0]),
                np.array([last and end_with == "terminated"]),
                np.array([last and end_with == "truncated"]),
            )
        episode += 1


def her_buffer(capacity: int = 100, **kwargs: Any) -> HerReplayBuffer:
    return HerReplayBuffer(
        GOAL_SPACE,
        ACTION,
        capacity,
        reward_fn,
        kwargs.pop("compute_terminated", terminated_fn),
        **kwargs,
    )


# ---------------------------------------------------------------------- plain replay


def test_add_and_sample_box_observations() -> None:
    buffer = ReplayBuffer(spaces.Box(-1, 1, (3,), np.float64), ACTION, capacity=10, num_envs=2)
    assert buffer.capacity == 10 and len(buffer) == 0
    for step in range(3):
        obs = np.full((2, 3), step, np.float64)
        buffer.add(
            obs, obs + 1, np.ones((2, 2)), np.array([1.0, 2.0]), [False, True], [True, False]
        )
    assert len(buffer) == 6
    batch = buffer.sample(32, np.random.default_rng(0))
    assert batch.observations.shape == (32, 3) and batch.observations.dtype == torch.float32
    assert batch.actions.shape == (32, 2) and batch.rewards.shape == (32,)
    torch.testing.assert_close(batch.next_observations, batch.observations + 1)
    # Env 1 terminated, env 0 was truncated: truncation is never stored as terminated.
    torch.testing.assert_close(batch.terminated, (batch.rewards == 2.0).float())


def test_dict_observations_keep_dtypes_and_only_the_chosen_keys() -> None:
    space = spaces.Dict(
        {
            "state": spaces.Box(-1, 1, (2,), np.float32),
            "front": spaces.Box(0, 255, (4, 4, 3), np.uint8),
            "unused": spaces.Box(-1, 1, (5,), np.float32),
        }
    )
    buffer = ReplayBuffer(space, ACTION, capacity=4, keys=("state", "front"))
    obs = {
        "state": np.ones((1, 2), np.float32),
        "front": np.full((1, 4, 4, 3), 7, np.uint8),
        "unused": np.zeros((1, 5), np.float32),
    }
    buffer.add(obs, obs, np.zeros((1, 2)), np.zeros(1), [False], [False])
    batch = buffer.sample(3, np.random.default_rng(0))
    assert set(batch.observations) == {"state", "front"}
    assert batch.observations["front"].dtype == torch.uint8
    assert int(batch.observations["front"][0, 0, 0, 0]) == 7


def test_wraps_around_overwriting_the_oldest() -> None:
    buffer = ReplayBuffer(spaces.Box(-1e9, 1e9, (1,), np.float32), ACTION, capacity=5)
    for step in range(12):
        obs = np.array([[step]], np.float32)
        buffer.add(obs, obs, np.zeros((1, 2)), np.zeros(1), [False], [False])
    assert len(buffer) == 5
    seen = set(buffer.sample(200, np.random.default_rng(0)).observations[:, 0].tolist())
    assert seen == {7.0, 8.0, 9.0, 10.0, 11.0}


def test_sampling_depends_only_on_the_generator() -> None:
    buffer = her_buffer()
    fill_episodes(buffer, [6, 4], leave_running=3)
    a = buffer.sample(64, np.random.default_rng(5))
    b = buffer.sample(64, np.random.default_rng(5))
    for key in a.observations:
        torch.testing.assert_close(a.observations[key], b.observations[key])
    torch.testing.assert_close(a.rewards, b.rewards)


def test_empty_buffer_and_bad_arguments_raise() -> None:
    box = spaces.Box(-1, 1, (1,), np.float32)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(box, ACTION, 4).sample(1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(box, ACTION, 0)
    with pytest.raises(ValueError, match="num_envs"):
        ReplayBuffer(box, ACTION, 4, num_envs=0)
    with pytest.raises(ValueError, match="Box"):
        ReplayBuffer(box, spaces.Discrete(3), 4)
    with pytest.raises(ValueError, match="Discrete"):
        ReplayBuffer(spaces.Discrete(3), ACTION, 4)
    with pytest.raises(ValueError, match="not in the observation space"):
        ReplayBuffer(GOAL_SPACE, ACTION, 4, keys=("nope",))


# ---------------------------------------------------------------------- HER


def decode(goal: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    values = goal[:, 0].numpy().astype(np.float64)
    return np.floor(values / EPISODE_STRIDE), np.mod(values, EPISODE_STRIDE)


def test_her_goals_come_from_the_same_episode_at_or_after_the_transition() -> None:
    buffer = her_buffer(her_k=4)
    fill_episodes(buffer, [5, 8, 3, 6])
    batch = buffer.sample(4000, np.random.default_rng(0))
    obs, next_obs = batch.observations, batch.next_observations
    relabelled = obs["desired_goal"][:, 0] != -1.0
    assert 0.75 < float(relabelled.float().mean()) < 0.85  # k = 4: 80 %
    torch.testing.assert_close(obs["desired_goal"], next_obs["desired_goal"])
    goal_episode, goal_step = decode(obs["desired_goal"][relabelled])
    episode, step = decode(next_obs["achieved_goal"][relabelled])
    np.testing.assert_array_equal(goal_episode, episode)
    assert np.all(goal_step >= step)
    lengths = np.array([5, 8, 3, 6])[episode.astype(int)]
    assert np.all(goal_step < lengths)
    # Both ends of the range are used: the transition's own goal and the episode's last.
    assert np.any(goal_step == step) and np.any(goal_step == lengths - 1)


def test_her_recomputes_reward_and_terminated_for_the_new_goal() -> None:
    buffer = her_buffer()
    fill_episodes(buffer, [6, 6], end_with="truncated")
    batch = buffer.sample(2000, np.random.default_rng(1))
    relabelled = (batch.observations["desired_goal"][:, 0] != -1.0).numpy()
    achieved = batch.next_observations["achieved_goal"].numpy()[relabelled]
    desired = batch.next_observations["desired_goal"].numpy()[relabelled]
    expected = reward_fn(achieved, desired, [{}] * len(achieved))
    np.testing.assert_array_equal(batch.rewards.numpy()[relabelled], expected)
    np.testing.assert_array_equal(batch.terminated.numpy()[relabelled], expected)
    assert expected.mean() > 0.1  # relabelling produced successes that never happened
    # Transitions kept with their real goal keep their stored reward and flag.
    assert np.all(batch.rewards.numpy()[~relabelled] == -1.0)
    assert not batch.terminated.numpy()[~relabelled].any()


def test_truncated_episodes_never_store_terminated() -> None:
    buffer = her_buffer(her_k=0)
    fill_episodes(buffer, [4, 4], end_with="truncated")
    assert not buffer.terminated.any()
    assert float(buffer.sample(100, np.random.default_rng(0)).terminated.sum()) == 0.0


def test_without_compute_terminated_the_stored_flag_is_kept() -> None:
    buffer = her_buffer(compute_terminated=None)
    fill_episodes(buffer, [3, 3], end_with="terminated")
    batch = buffer.sample(2000, np.random.default_rng(2))
    step = decode(batch.next_observations["achieved_goal"])[1]
    np.testing.assert_array_equal(batch.terminated.numpy(), (step == 2).astype(np.float32))


def test_her_on_a_running_episode_uses_only_steps_written_so_far() -> None:
    buffer = her_buffer()
    fill_episodes(buffer, [4], leave_running=5)
    assert buffer.episode_end[4:9, 0].tolist() == [-1] * 5
    batch = buffer.sample(3000, np.random.default_rng(3))
    relabelled = batch.observations["desired_goal"][:, 0] != -1.0
    goal_episode, goal_step = decode(batch.observations["desired_goal"][relabelled])
    episode, step = decode(batch.next_observations["achieved_goal"][relabelled])
    running = episode == 1
    assert running.any()
    np.testing.assert_array_equal(goal_episode, episode)
    assert np.all(goal_step[running] >= step[running]) and np.all(goal_step[running] <= 4)
    assert np.any(goal_step[running] == 4)
    # Closing the episode (as SAC does on save) fixes its end where it stopped.
    buffer.end_episodes()
    assert buffer.episode_end[4:9, 0].tolist() == [9] * 5


def test_her_keeps_episodes_of_parallel_envs_apart() -> None:
    buffer = her_buffer(num_envs=2)
    for step in range(12):
        # env 0: episodes of 3 steps; env 1: episodes of 4 steps; goals encode (env, episode).
        achieved = np.array(
            [step // 3 * EPISODE_STRIDE, 50 * EPISODE_STRIDE + step // 4 * EPISODE_STRIDE]
        )
        achieved = achieved + step
        buffer.add(
            goal_obs(achieved - 0.5),
            goal_obs(achieved),
            np.zeros((2, 2)),
            np.zeros(2),
            [False, False],
            [step % 3 == 2, step % 4 == 3],
        )
    batch = buffer.sample(3000, np.random.default_rng(4))
    relabelled = batch.observations["desired_goal"][:, 0] != -1.0
    goal_episode, goal_step = decode(batch.observations["desired_goal"][relabelled])
    episode, step = decode(batch.next_observations["achieved_goal"][relabelled])
    np.testing.assert_array_equal(goal_episode, episode)
    assert np.all(goal_step >= step)


def test_her_across_the_wrap_around() -> None:
    buffer = her_buffer(capacity=10)
    fill_episodes(buffer, [4, 4, 4, 4], leave_running=2)  # 18 rows written into 10
    batch = buffer.sample(2000, np.random.default_rng(6))
    relabelled = batch.observations["desired_goal"][:, 0] != -1.0
    goal_episode, goal_step = decode(batch.observations["desired_goal"][relabelled])
    episode, step = decode(batch.next_observations["achieved_goal"][relabelled])
    np.testing.assert_array_equal(goal_episode, episode)
    assert np.all(goal_step >= step)
    assert set(np.unique(episode)) == {2.0, 3.0, 4.0}


def test_her_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="achieved_goal"):
        HerReplayBuffer(spaces.Box(-1, 1, (3,)), ACTION, 10, reward_fn)
    missing = spaces.Dict({"observation": GOAL_SPACE["observation"]})
    with pytest.raises(ValueError, match="desired_goal"):
        HerReplayBuffer(missing, ACTION, 10, reward_fn)
    with pytest.raises(ValueError, match="compute_reward"):
        HerReplayBuffer(GOAL_SPACE, ACTION, 10, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="her_k"):
        HerReplayBuffer(GOAL_SPACE, ACTION, 10, reward_fn, her_k=-1)


def test_goal_functions_checks_the_env() -> None:
    compute_reward, compute_terminated = goal_functions(PointGoalEnv())
    assert compute_reward(np.zeros((2, 1)), np.zeros((2, 1)), [{}, {}]).tolist() == [0.0, 0.0]
    assert compute_terminated is not None
    with pytest.raises(ValueError, match="goal-conditioned"):
        goal_functions(PointEnv())
    with pytest.raises(ValueError, match="goal-conditioned"):
        goal_functions(NoGoalDictEnv())

    class NoReward(PointGoalEnv):
        compute_reward = None  # type: ignore[assignment]

    with pytest.raises(ValueError, match="compute_reward"):
        goal_functions(NoReward())


# ---------------------------------------------------------------------- persistence


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    buffer = her_buffer(capacity=10)
    fill_episodes(buffer, [4, 4, 4], leave_running=2)
    buffer.save(tmp_path / "replay.npz", extra={"save_id": "abc"})
    clone = her_buffer(capacity=10)
    assert clone.load(tmp_path / "replay.npz") == {"save_id": "abc"}
    assert clone.rows_written == buffer.rows_written
    np.testing.assert_array_equal(clone.episode_end, buffer.episode_end)
    np.testing.assert_array_equal(clone.episode_start, buffer.episode_start)
    for key in buffer.keys:
        np.testing.assert_array_equal(clone.observations[key], buffer.observations[key])
    a = buffer.sample(50, np.random.default_rng(0))
    b = clone.sample(50, np.random.default_rng(0))
    torch.testing.assert_close(a.observations["desired_goal"], b.observations["desired_goal"])


def test_load_refuses_another_buffer_layout(tmp_path: Path) -> None:
    buffer = her_buffer(capacity=10)
    fill_episodes(buffer, [3])
    buffer.save(tmp_path / "replay.npz")
    with pytest.raises(ValueError, match="rows"):
        her_buffer(capacity=20).load(tmp_path / "replay.npz")
    with pytest.raises(ValueError, match="her_k"):
        her_buffer(capacity=10, her_k=2).load(tmp_path / "replay.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk"):
        her_buffer(capacity=10).load(tmp_path / "junk.npz")
