"""``robo-reward reward compare`` on a tiny setting: 32x32 images, a tiny random GRM, a handful
of button_press episodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from robo_reward.bench.epic import epic_distance
from robo_reward.bench.reward_compare import (
    FRAME_ID,
    REWARDS,
    TRUE_PROGRESS,
    GRMFrames,
    RewardCompareConfig,
    build_sample,
    collect_episodes,
    grm_hop_reward,
    grm_reward,
    privileged_reward,
    run_compare,
)
from robo_reward.cli import main
from robo_reward.config import ConfigError, load_config
from robo_reward.grm.checkpoint import load_grm, save_grm
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.grm.tracker import Reference
from robo_reward.sim.demos import rollout
from robo_reward.sim.env_config import EnvConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = GRMConfig(
        image_size=32, embed_dim=16, channels=(8, 8, 8), fusion_layers=1, fusion_heads=2
    )
    return save_grm(tmp_path_factory.mktemp("grm") / "tiny.safetensors", GRM(config))


@pytest.fixture(scope="module")
def tiny_config(tiny_checkpoint: Path) -> RewardCompareConfig:
    return RewardCompareConfig(
        episodes=3,
        variants=("expert", "perturbed", "failure"),
        coverage=12,
        cameras=("front", "wrist"),
        image_size=32,
        checkpoint=str(tiny_checkpoint),
        bootstrap=50,
        batch_size=64,
    )


@pytest.fixture(scope="module")
def episodes_and_demo(tiny_config: RewardCompareConfig):
    env_config = EnvConfig(cameras=tiny_config.cameras, image_size=32, appearance_seed=1)
    demo = rollout(tiny_config.task, tiny_config.demo_seed, env_config=env_config)
    return collect_episodes(tiny_config, env_config), demo


def test_runner_tiny(tiny_config: RewardCompareConfig, tmp_path: Path) -> None:
    results = run_compare(tiny_config, progress=False)
    names = ["privileged", "grm", "grm_hop"]
    assert results["rewards"] == names
    assert results["episodes"]["count"] == 3
    assert results["num_coverage"] == 12
    assert results["num_transitions"] == results["episodes"]["frames"] - 3
    for a in names:
        assert results["distance"][a][a] == 0.0
        for b in names:
            assert 0.0 <= results["distance"][a][b] <= 1.0
            assert results["distance"][a][b] == results["distance"][b][a]
    for pair in results["pairs"]:
        assert pair["ci_low"] <= pair["distance"] + 1e-9 <= pair["ci_high"] + 2e-9


def test_privileged_against_itself_and_its_shaping(episodes_and_demo, tiny_config) -> None:
    episodes, demo = episodes_and_demo
    sample = build_sample(episodes, tiny_config.coverage, seed=0)
    privileged = privileged_reward(tiny_config.task, demo, tiny_config)

    def shaped(states, actions, next_states) -> np.ndarray:
        phi, phi_next = states[TRUE_PROGRESS], next_states[TRUE_PROGRESS]
        return privileged(states, actions, next_states) + 0.99 * phi_next - phi

    for other in (privileged, shaped):
        result = epic_distance(privileged, other, sample.transitions, sample.coverage, 0.99)
        assert result.distance < 1e-7
    pure_shaping = lambda s, a, s2: 0.99 * s2[TRUE_PROGRESS] - s[TRUE_PROGRESS]  # noqa: E731
    with pytest.raises(ValueError, match="purely potential shaping"):
        epic_distance(privileged, pure_shaping, sample.transitions, sample.coverage, 0.99)


def test_sample_is_consecutive_frames(episodes_and_demo) -> None:
    episodes, _ = episodes_and_demo
    sample = build_sample(episodes, 500, max_transitions=10, seed=1)
    states, actions, next_states = sample.transitions
    assert len(actions) == 10 and len(sample.coverage.actions) == 500
    np.testing.assert_array_equal(next_states[FRAME_ID], states[FRAME_ID] + 1)
    pooled = np.concatenate([t.frames["front"] for t in episodes])
    np.testing.assert_array_equal(states["front"], pooled[states[FRAME_ID]])


def test_grm_rewards_cache_matches_fresh_encoding(episodes_and_demo, tiny_config) -> None:
    episodes, demo = episodes_and_demo
    sample = build_sample(episodes, 4, seed=0)
    states, actions, next_states = sample.transitions
    without_ids = {k: v for k, v in next_states.items() if k != FRAME_ID}
    potential = grm_reward(tiny_config.task, demo, tiny_config)
    values = potential(states, actions, next_states)
    assert values.shape == (len(actions),) and ((values >= 0) & (values <= 1)).all()
    np.testing.assert_allclose(values, potential(states, actions, without_ids), atol=1e-6)
    hop = grm_hop_reward(tiny_config.task, demo, tiny_config)
    hops = hop(states, actions, next_states)
    assert ((hops >= -1) & (hops <= 1)).all()
    without_ids_s = {k: v for k, v in states.items() if k != FRAME_ID}
    np.testing.assert_allclose(hops, hop(without_ids_s, actions, without_ids), atol=1e-6)
    frames = GRMFrames(load_grm(tiny_config.checkpoint), Reference.from_trajectory(demo))
    with pytest.raises(ValueError, match="render with image_size=32"):
        frames.embeddings({"front": np.zeros((2, 16, 16, 3), np.uint8)})


def test_config_validation(tiny_checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown reward\(s\) 'nope'; known rewards: privileged"):
        load_config(RewardCompareConfig, overrides=["rewards=[privileged, nope]"])
    with pytest.raises(ConfigError, match="at least two distinct"):
        load_config(RewardCompareConfig, overrides=["rewards=[privileged]"])
    with pytest.raises(ConfigError, match="gamma"):
        load_config(RewardCompareConfig, overrides=["gamma=0"])
    config = RewardCompareConfig(checkpoint=str(tiny_checkpoint), image_size=96)
    with pytest.raises(ValueError, match="set image_size=32"):
        grm_reward(config.task, None, config)  # type: ignore[arg-type]
    assert {"privileged", "grm", "grm_hop"} <= set(REWARDS)


def test_cli_unknown_reward_and_tiny_run(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "compare"
    code = main(["reward", "compare", "--rewards", "privileged,nope", "--out", str(out)])
    assert code == 2
    assert "known rewards: privileged, grm, grm_hop" in capsys.readouterr().err
    assert not out.exists()
    code = main(
        [
            "reward",
            "compare",
            "--task",
            "button_press",
            "--rewards",
            "privileged,grm_hop",
            "--episodes",
            "2",
            "--coverage",
            "8",
            "--out",
            str(out),
            "--set",
            "image_size=32",
            "--set",
            "cameras=[front]",
            "--set",
            f"checkpoint={tiny_checkpoint}",
            "--set",
            "bootstrap=0",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "EPIC distances between rewards on button_press" in printed
    payload = json.loads((out / "results.json").read_text())
    assert payload["results"]["num_coverage"] == 8
    assert payload["results"]["pairs"][0]["ci_low"] is None  # no bootstrap: no interval
    assert payload["config"]["rewards"] == ["privileged", "grm_hop"]
    assert (out / "results.md").read_text().startswith("### EPIC")
