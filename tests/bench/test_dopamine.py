"""The GRM-shaped RL benchmark: arms, metrics, and one tiny end-to-end run (slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robo_reward.bench.dopamine import (
    ARMS,
    DopamineConfig,
    arm_reward,
    demo_pairs,
    dopamine_markdown,
    episodes_to_fraction,
    summarize,
)
from robo_reward.sim.env_config import EnvConfig


def test_every_arm_has_the_reward_the_issue_asks_for() -> None:
    rewards = {arm: arm_reward(arm, "adapted.safetensors") for arm in ARMS}
    assert rewards["sparse"].kind == "sparse"
    assert rewards["privileged"].kind == "privileged" and rewards["privileged"].success_bonus == 1
    grm = rewards["grm"]
    assert (grm.kind, grm.mode, grm.anchoring, grm.checkpoint) == (
        "grm",
        "pbrs",
        "fused",
        "adapted.safetensors",
    )
    assert (grm.task_weight, grm.success_bonus, grm.time_penalty) == (0.0, 1.0, 1.0)
    assert rewards["grm_naive"].mode == "naive"
    assert rewards["grm_general"].checkpoint == ""
    for anchoring in ("incremental", "forward", "backward"):
        assert rewards[f"grm_{anchoring}"].anchoring == anchoring
    perceptual = rewards["perceptual"]
    assert (perceptual.kind, perceptual.mode, perceptual.checkpoint) == ("perceptual", "pbrs", "")
    assert (perceptual.success_bonus, perceptual.time_penalty) == (1.0, 1.0)


def curve(successes: list[float], episodes_per_eval: int = 10) -> list[dict[str, float]]:
    return [
        {"step": 100 * i, "episodes": episodes_per_eval * i, "success": s}
        for i, s in enumerate(successes)
    ]


def test_episodes_to_80_percent_of_the_final_rate() -> None:
    assert episodes_to_fraction(curve([0.0, 0.2, 0.7, 0.9, 1.0])) == 30  # 0.8 * 0.95 = 0.76
    assert episodes_to_fraction(curve([0.0, 0.5, 0.5])) == 10
    assert math.isnan(episodes_to_fraction(curve([0.0, 0.0, 0.0])))


def test_summary_and_table() -> None:
    runs = [
        {"arm": "grm", "seed": 0, "curve": curve([0.0, 0.5, 1.0, 1.0])},
        {"arm": "grm", "seed": 1, "curve": curve([0.0, 0.0, 1.0, 1.0])},
        {"arm": "sparse", "seed": 0, "curve": curve([0.0, 0.0, 0.0, 0.0])},
    ]
    summary = summarize(runs)
    assert summary["grm"]["final_success"] == 1.0 and summary["grm"]["episodes_to_80pct"] == 20
    assert summary["sparse"]["episodes_to_80pct"] is None
    table = dopamine_markdown({"task": "button_press", "summary": summary})
    assert "| grm | 100% ± 0 | 20 | 2 |" in table
    assert "| sparse | 0% ± 0 | - | 1 |" in table


def test_demo_pairs_are_the_experts_successful_episode() -> None:
    observations, actions = demo_pairs("button_press", 40_000, EnvConfig(cameras=()))
    assert len(observations) == len(actions) > 3
    assert {"state", "object", "desired_goal"} <= set(observations[0])
    assert np.all(np.abs(actions) <= 1.0 + 1e-6)


def test_config_rejects_unknown_arms() -> None:
    with pytest.raises(ValueError, match="unknown arms"):
        DopamineConfig(arms=("grm", "magic"))


@pytest.mark.slow
def test_tiny_dopamine_run_end_to_end(tmp_path) -> None:
    from robo_reward.bench.suites import run_suite

    overrides = [
        "arms=[sparse,grm,privileged]",
        "seeds=[0]",
        "steps=300",
        "eval_every=150",
        "eval_episodes=2",
        "bc_steps=20",
        "sac.learning_starts=100",
        "sac.batch_size=32",
        "sac.hidden=[32,32]",
        "sac.buffer_size=1000",
        "adaptation.train.steps=5",
    ]
    run_dir, markdown = run_suite("dopamine", tmp_path, None, overrides)
    assert (run_dir / "dopamine_success.png").is_file()
    assert len(list((run_dir / "policies").glob("*.safetensors"))) == 3
    for arm in ("sparse", "grm", "privileged"):
        assert f"| {arm} |" in markdown
