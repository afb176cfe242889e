"""One-shot adaptation from a saved checkpoint on one demo."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from grm_synthetic import build_trajectory, tiny_config

from robo_reward.grm.adapt import AdaptConfig, adapt
from robo_reward.grm.checkpoint import load_grm, save_grm
from robo_reward.grm.model import GRM
from robo_reward.grm.train import TrainConfig


@pytest.fixture
def base_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_grm(tmp_path / "base.safetensors", GRM(tiny_config()))


def quick(checkpoint: Path) -> AdaptConfig:
    train = TrainConfig(steps=4, batch_size=8, warmup_steps=1, checkpoint_every=4, grip_weight=0.0)
    return AdaptConfig(checkpoint=str(checkpoint), train=train)


def test_adapt_changes_weights_and_records_label_source(
    base_checkpoint: Path, tmp_path: Path
) -> None:
    demo = build_trajectory(num_steps=12, keyframes=None, variant="recorded")
    result = adapt(demo, tmp_path / "adapted", quick(base_checkpoint), progress=False)
    assert result.labels == "uniform (no keyframes)" and result.frames == 13
    adapted, base = load_grm(result.train.checkpoint), load_grm(base_checkpoint)
    assert adapted.checkpoint_extra["labels"] == "uniform (no keyframes)"
    assert adapted.checkpoint_extra["demo_task"] == "push"
    changed = [
        name
        for name, p in adapted.state_dict().items()
        if not torch.equal(p, base.state_dict()[name])
    ]
    assert changed, "adaptation did not change any weight"


def test_keyframed_demo_uses_keyframe_labels(base_checkpoint: Path, tmp_path: Path) -> None:
    result = adapt(build_trajectory(num_steps=12), tmp_path / "a", quick(base_checkpoint), False)
    assert result.labels == "keyframes"


def test_adapt_refuses_failed_demo(base_checkpoint: Path, tmp_path: Path) -> None:
    demo = build_trajectory(success=False, keyframes=None)
    with pytest.raises(ValueError, match="successful demonstration"):
        adapt(demo, tmp_path / "a", quick(base_checkpoint), progress=False)
    assert not (tmp_path / "a").exists()


def test_adapt_refuses_demo_with_none_of_the_views(base_checkpoint: Path, tmp_path: Path) -> None:
    demo = build_trajectory(views=("top",))
    with pytest.raises(ValueError, match="none of the model's views"):
        adapt(demo, tmp_path / "a", quick(base_checkpoint), progress=False)


def test_a_demo_without_keyframes_gets_discovered_steps(
    base_checkpoint: Path, tmp_path: Path
) -> None:
    import dataclasses

    demo = build_trajectory(num_steps=12, keyframes=None, variant="recorded")
    config = dataclasses.replace(quick(base_checkpoint), discovered_steps=2)
    result = adapt(demo, tmp_path / "adapted", config, progress=False)
    assert result.labels.startswith("discovered steps [0, ")
    keys = [int(k) for k in result.labels.split("[")[1].rstrip("]").split(",")]
    assert (
        len(keys) == 3 and keys[-1] == 12 and 3 <= keys[1] <= 10
    )  # min step length 3 of 13 frames
    assert load_grm(result.train.checkpoint).checkpoint_extra["labels"] == result.labels


def test_negative_discovered_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="discovered_steps"):
        AdaptConfig(discovered_steps=-1)
