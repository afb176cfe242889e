"""``robo-reward perceptual fit`` end to end, and its bad input."""

from __future__ import annotations

import dataclasses

import pytest

from robo_reward.cli import main
from robo_reward.data import DatasetWriter
from robo_reward.perceptual.reward import PerceptualReward


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    root = tmp_path_factory.mktemp("demos")
    env_config = EnvConfig(appearance_seed=3)
    demos = [rollout("button_press", 200 + i, env_config=env_config) for i in range(3)]
    failed = dataclasses.replace(demos[0], success=False, variant="failure")
    with DatasetWriter(root / "dataset", task="button_press") as writer:
        for traj in [*demos, failed]:
            writer.add(traj)
    demos[0].save(root / "one.npz")
    failed.save(root / "failed.npz")
    return root


def test_fit_writes_a_reward_that_loads(demo_dir, tmp_path, capsys) -> None:
    out = tmp_path / "reward.safetensors"
    code = main(
        [
            "perceptual",
            "fit",
            "--demos",
            str(demo_dir / "dataset"),
            "--steps",
            "2",
            "--out",
            str(out),
            "--set",
            "features=grm",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "on 3 demos (1 unsuccessful episodes skipped)" in printed
    reward = PerceptualReward.load(out)
    assert reward.config.steps == 2 and reward.task == "button_press"


def test_fewer_demos_than_steps_fails_clearly(demo_dir, tmp_path, capsys) -> None:
    out = tmp_path / "reward.safetensors"
    code = main(
        [
            "perceptual",
            "fit",
            "--demos",
            str(demo_dir / "one.npz"),
            "--steps",
            "2",
            "--out",
            str(out),
            "--set",
            "features=grm",
        ]
    )
    assert code == 2
    assert "at least as many demos as steps" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("demos", "message"),
    [("failed.npz", "not a successful episode"), ("missing", "does not exist")],
)
def test_bad_demo_paths_fail_clearly(demo_dir, tmp_path, capsys, demos, message) -> None:
    code = main(
        ["perceptual", "fit", "--demos", str(demo_dir / demos), "--out", str(tmp_path / "r")]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_an_unknown_config_key_fails_clearly(demo_dir, tmp_path, capsys) -> None:
    code = main(
        [
            "perceptual",
            "fit",
            "--demos",
            str(demo_dir / "dataset"),
            "--out",
            str(tmp_path / "r"),
            "--set",
            "stepz=2",
        ]
    )
    assert code == 2
    assert "stepz" in capsys.readouterr().err
