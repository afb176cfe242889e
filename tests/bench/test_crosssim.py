"""``bench crosssim``: its config, tables and plot, and the navigation crossing for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from robo_reward.bench.crosssim import (
    CrossSimConfig,
    grm_markdown,
    nav_agent_episodes,
    nav_markdown,
    plot_crosssim,
    policy_markdown,
)


def test_config_rejects_tasks_without_a_pybullet_version_and_bad_values() -> None:
    with pytest.raises(ValueError, match="task must be a task with a PyBullet version"):
        CrossSimConfig(task="stack")
    with pytest.raises(ValueError, match="policy_task must be"):
        CrossSimConfig(policy_task="drawer_open")
    with pytest.raises(ValueError, match="adapt_in: unknown simulators"):
        CrossSimConfig(adapt_in=("gazebo",))
    with pytest.raises(ValueError, match="nav_agents: unknown agents"):
        CrossSimConfig(nav_agents=("rnd",))
    with pytest.raises(ValueError, match="nav_size must be one of"):
        CrossSimConfig(nav_size="pointmaze_umaze")
    with pytest.raises(ValueError, match="trajectories >= 2"):
        CrossSimConfig(trajectories=1)
    assert CrossSimConfig.quick().adapt_in == ("pybullet",)


def _grm_entry(voc: float, accuracy: float) -> dict:
    return {"voc": {"all": {"fused": voc}}, "completion_accuracy": accuracy}


RESULTS = {
    "grm": {
        "task": "push",
        "mujoco": {"expert_success": 1.0, "zero_shot": _grm_entry(0.98, 0.9)},
        "pybullet": {
            "expert_success": 0.9,
            "zero_shot": _grm_entry(0.80, 0.5),
            "adapted": _grm_entry(0.95, 0.8),
        },
    },
    "policy": {
        "task": "reach",
        "trained_steps": 100,
        "train_seconds": 3.0,
        "mujoco": {"success": 1.0, "episodes": 4},
        "pybullet": {"success": 0.75, "episodes": 4},
    },
    "nav": {
        "size": "maze_small",
        "mazes": 1,
        "frontier": {
            "mujoco": {"success": 1.0, "steps_to_goal": 400.0, "coverage": 0.7},
            "pybullet": {"success": 0.5, "steps_to_goal": 450.0, "coverage": 0.6},
        },
    },
}


def test_tables_report_both_simulators_and_the_change(tmp_path: Path) -> None:
    grm = grm_markdown(RESULTS["grm"])
    assert "| zero-shot | VOC (fused, 3 views) | 0.980 | 0.800 | -0.180 |" in grm
    assert "| adapted | completion accuracy | - | 0.800 | - |" in grm
    assert "mujoco 100%, pybullet 90%" in grm
    policy = policy_markdown(RESULTS["policy"])
    assert "MuJoCo 100%, PyBullet 75% (change -25 points)" in policy
    nav = nav_markdown(RESULTS["nav"])
    assert "| frontier | pybullet | 50% | 450 | 60% |" in nav
    assert plot_crosssim(RESULTS, tmp_path / "c.png").stat().st_size > 1000


def test_nav_agents_run_in_both_simulators_on_the_same_maze() -> None:
    for simulator in ("mujoco", "pybullet"):
        (episode,) = nav_agent_episodes("toponav", "maze_small", 2, simulator, 1)
        assert set(episode) == {"success", "steps", "coverage"}
        assert 0 < episode["steps"] <= 600 and 0 < episode["coverage"] <= 1
