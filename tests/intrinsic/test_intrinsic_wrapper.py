"""``IntrinsicBonus`` on the maze: weight × bonus in the reward and in ``info``, learned models
updated on schedule, the env checker, NaN observations, and a real sanity check: the waypoint
follower earns more count novelty than random actions."""

from __future__ import annotations

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from robo_reward.intrinsic import (
    IntrinsicBonus,
    RandomDistributionDistillation,
    RandomNetworkDistillation,
    VisitCounts,
    as_batch,
)
from robo_reward.sim.nav import make_nav_env
from robo_reward.sim.nav.env import MazeNavEnv
from robo_reward.sim.nav.follower import WaypointFollower

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ACCEPTED_CHECKER_WARNINGS = re.compile(
    r"observation space (minimum|maximum) value is -?infinity|different from the unwrapped"
)


def test_adds_weight_times_bonus_and_reports_it() -> None:
    env = IntrinsicBonus(MazeNavEnv(size="small", maze_seed=0), VisitCounts(), weight=0.5)
    reference = VisitCounts()
    obs, _ = env.reset(seed=0)
    reference.update(as_batch(obs))
    for _ in range(30):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.3]))
        reference.update(as_batch(obs))
        expected = 0.5 * reference.reward(as_batch(obs))[0]
        assert info["reward/intrinsic_counts"] == expected
        assert reward == info["reward/task"] + expected == info["reward/total"]
    assert env.reward_fn.counts == reference.counts
    assert env.reward_fn.total == 31  # the reset observation is a visit too


def test_learned_bonus_scores_with_the_current_model_and_trains_on_schedule() -> None:
    inner = MazeNavEnv(size="small", maze_seed=0)
    model = RandomNetworkDistillation(inner.observation_space)
    env = IntrinsicBonus(inner, model, weight=2.0, update_every=4, buffer_size=8)
    obs, _ = env.reset(seed=0)
    updated = []
    for step in range(1, 13):
        obs, reward, _, _, info = env.step(np.array([0.5, 0.0]))
        assert np.isfinite(reward)
        if "intrinsic/rnd/loss" in info:
            updated.append(step)
            assert info["intrinsic/rnd/bonus_std"] > 0
    assert updated == [4, 8, 12]
    assert model.updates == 3 and len(env.buffer) == 8
    assert info["reward/intrinsic_rnd"] == pytest.approx(reward - info["reward/task"])


@pytest.mark.parametrize(
    "make_reward",
    [VisitCounts, RandomNetworkDistillation, RandomDistributionDistillation],
    ids=["counts", "rnd", "rdd"],
)
def test_env_checker_passes_with_episodic_bonus(make_reward) -> None:
    inner = make_nav_env("maze_small")
    reward_fn = (
        make_reward() if make_reward is VisitCounts else make_reward(inner.observation_space)
    )
    env = IntrinsicBonus(inner, reward_fn, update_every=1, episodic=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    messages = [str(w.message) for w in caught if "WARN:" in str(w.message)]
    assert [m for m in messages if not ACCEPTED_CHECKER_WARNINGS.search(m)] == []


class _BrokenLidar(gym.Env):
    """Returns a NaN lidar beam on the third step."""

    observation_space = spaces.Dict(
        {
            "lidar": spaces.Box(0.0, 3.0, (36,), np.float32),
            "odometry": spaces.Box(-np.inf, np.inf, (6,), np.float32),
        }
    )
    action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _obs(self, broken: bool) -> dict[str, np.ndarray]:
        lidar = np.ones(36, np.float32)
        if broken:
            lidar[3] = np.nan
        return {"lidar": lidar, "odometry": np.zeros(6, np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(False), {}

    def step(self, action):
        self.t += 1
        return self._obs(self.t == 3), 0.0, False, False, {}


@pytest.mark.parametrize("learned", [False, True], ids=["counts", "rnd"])
def test_nan_observation_is_a_clear_error(learned: bool) -> None:
    inner = _BrokenLidar()
    reward_fn = (
        RandomNetworkDistillation(inner.observation_space)
        if learned
        else VisitCounts(features=(("odometry", slice(0, 2)), ("lidar", None)))
    )
    env = IntrinsicBonus(inner, reward_fn)
    env.reset(seed=0)
    env.step(np.zeros(2))
    env.step(np.zeros(2))
    with pytest.raises(ValueError, match="'lidar' contains NaN or infinite values"):
        env.step(np.zeros(2))
    with pytest.raises(TypeError, match="not an intrinsic reward"):
        IntrinsicBonus(inner, object())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="reset"):
        IntrinsicBonus(inner, VisitCounts()).step(np.zeros(2))


def _episode_novelty(maze_seed: int, steps: int | None, policy: str) -> tuple[float, int]:
    """Summed episodic count bonus over ``steps`` steps (the follower's episode if None)."""
    inner = MazeNavEnv(size="small", maze_seed=maze_seed)
    env = IntrinsicBonus(inner, VisitCounts(cell_size=0.5), episodic=True)
    env.reset(seed=maze_seed)
    follower = WaypointFollower(inner)
    rng = np.random.default_rng(maze_seed)
    total, t = 0.0, 0
    while steps is None or t < steps:
        action = follower.act() if policy == "follower" else rng.uniform(-1, 1, 2)
        _, _, terminated, _, info = env.step(action)
        total += info["reward/intrinsic_counts"]
        t += 1
        if terminated:
            break
    return total, t


@pytest.mark.parametrize("maze_seed", [0, 3, 7])
def test_follower_collects_more_count_novelty_than_random_actions(maze_seed: int) -> None:
    """Over the same number of steps, driving through the maze visits many cells (each a
    fresh ``β``), while random actions jitter around the start: the summed bonus must show it."""
    follower, steps = _episode_novelty(maze_seed, None, "follower")
    random, _ = _episode_novelty(maze_seed, steps, "random")
    assert follower > 1.5 * random, (follower, random, steps)
