"""``robo-reward bench nav``: arms, summary and a tiny real run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from robo_reward.bench.nav import (
    ARMS,
    LEARNING_ARMS,
    NavBenchConfig,
    make_arm_env,
    nav_markdown,
    run_arm,
    summarize,
)
from robo_reward.config import config_to_dict


@pytest.mark.parametrize("arm", LEARNING_ARMS)
def test_every_learning_arm_keeps_the_task_reward_and_reports_its_terms(arm: str) -> None:
    env = make_arm_env(arm, "small", 0, NavBenchConfig())
    obs, info = env.reset(seed=0)
    assert set(obs) >= {"lidar", "odometry", "goal"}
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0]))
        assert np.isfinite(reward)
    if arm != "sparse":
        assert any(key.startswith("reward/") for key in info), sorted(info)
    if arm == "toponav":  # the hierarchy's low level sees the planner's waypoint
        assert obs["waypoint"].shape == (2,)


def test_scripted_arms_run_the_evaluation_episodes() -> None:
    config = json.dumps(config_to_dict(NavBenchConfig(eval_episodes=2)))
    oracle = run_arm("oracle", "small", 1, config)
    random = run_arm("random", "small", 1, config)
    assert all(e["success"] == 1.0 for e in oracle["eval"])
    assert all(e["steps"] < 600 for e in oracle["eval"])
    assert len(random["eval"]) == 2 and not any(e["success"] for e in random["eval"])


def test_a_tiny_learning_run_records_training_coverage() -> None:
    config = json.dumps(config_to_dict(NavBenchConfig(steps=2_560, eval_episodes=1)))
    result = run_arm("counts", "small", 0, config)
    # 4 envs x 640 steps: every env finished one 600-step episode.
    assert len(result["train_coverage"]) == 4
    assert 0.0 < min(result["train_coverage"]) <= 1.0
    assert len(result["eval"]) == 1


def test_summary_and_table() -> None:
    runs = [
        {
            "arm": "counts",
            "size": "small",
            "seed": seed,
            "eval": [{"success": float(seed > 0), "steps": 100 + seed, "coverage": 0.5}],
            "train_coverage": [0.2, 0.4],
        }
        for seed in range(3)
    ]
    runs.append(
        {
            "arm": "oracle",
            "size": "small",
            "seed": 0,
            "eval": [{"success": 1.0, "steps": 50, "coverage": 0.4}],
        }
    )
    summary = summarize(runs)
    counts = summary["small"]["counts"]
    assert counts["success"] == pytest.approx(2 / 3) and counts["time_to_goal"] == 101.5
    assert counts["episode_steps"] == pytest.approx(101.0)  # failures count at their length
    assert counts["train_coverage"] == pytest.approx(0.3)
    assert summary["small"]["oracle"]["train_coverage"] is None
    table = nav_markdown({"summary": summary, "steps": 10})
    assert "| counts | 30% | 50% | 67% ± 47 | 102 | 101 | 3 |" in table


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"arms": ("sparse", "curiosity")}, "unknown arms"),
        ({"sizes": ("huge",)}, "sizes must be some of"),
        ({"steps": 0}, "steps > 0"),
        ({"intrinsic_weight": -1.0}, "intrinsic_weight"),
    ],
)
def test_bad_configs_are_refused(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        NavBenchConfig(**changes)


def test_arms_are_learning_or_scripted() -> None:
    assert set(LEARNING_ARMS) < set(ARMS)


@pytest.mark.parametrize("size", ["rooms_small", "pointmaze_umaze"])
def test_rooms_and_gymnasium_robotics_mazes_run_in_the_bench(size: str) -> None:
    config = json.dumps(config_to_dict(NavBenchConfig(sizes=(size,), eval_episodes=2)))
    oracle = run_arm("oracle", size, 0, config)
    assert all(e["success"] == 1.0 for e in oracle["eval"])
    env = make_arm_env("toponav", size, 0, NavBenchConfig(sizes=(size,)))
    obs, _ = env.reset(seed=0)
    assert obs["waypoint"].shape == (2,)


def test_antmaze_is_not_a_bench_maze() -> None:
    with pytest.raises(ValueError, match="sizes must be some of"):
        NavBenchConfig(sizes=("antmaze_umaze",))
