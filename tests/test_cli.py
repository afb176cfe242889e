"""The command line: real invocations, bad input exits 2 with a message and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from robo_reward.cli import main
from robo_reward.data import DatasetReader


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "robo_reward", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=300,
    )


def test_version_and_tasks_through_python_m() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and "robo_reward" in version.stdout
    tasks = run_cli("tasks")
    assert tasks.returncode == 0
    for name in ("reach", "push", "pick_place", "stack", "drawer_open", "button_press"):
        assert name in tasks.stdout


def test_generate_then_show(tmp_path: Path) -> None:
    out = tmp_path / "demos"
    code = main(
        [
            "demos",
            "generate",
            "--task",
            "reach",
            "--episodes",
            "3",
            "--out",
            str(out),
            "--set",
            "env.image_size=32",
            "--set",
            "env.cameras=[front,wrist]",
        ]
    )
    assert code == 0
    dataset = DatasetReader(out)
    assert len(dataset) == 3 and dataset.task == "reach" and dataset.complete
    assert dataset[0].frames["front"].shape[1:] == (32, 32, 3)
    assert set(dataset[0].views) == {"front", "wrist"}
    png = tmp_path / "sheet.png"
    assert main(["demos", "show", str(out), "--episode", "2", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["--task", "pushh"], "unknown task 'pushh'"),
        (["--set", "env.cameras=[top]"], "unknown camera(s) ['top']"),
        (["--set", "env.image_size=0"], "image_size"),
        (["--set", "env.imagesize=32"], "did you mean 'image_size'"),
        (["--set", "episodes=many"], "'episodes' expects int"),
        (["--set", "variants={expert: 1, lucky: 1}"], "unknown variants ['lucky']"),
    ],
)
def test_generate_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: list[str], message: str
) -> None:
    out = tmp_path / "demos"
    code = main(["demos", "generate", "--out", str(out), "--episodes", "2", *overrides])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_generate_refuses_existing_dataset_and_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "demos"
    args = [
        "demos",
        "generate",
        "--task",
        "reach",
        "--episodes",
        "1",
        "--out",
        str(out),
        "--set",
        "env.image_size=16",
    ]
    assert main(args) == 0
    before = (out / "manifest.json").read_bytes()
    assert main(args) == 2
    assert (out / "manifest.json").read_bytes() == before
    assert main([*args, "--overwrite", "--set", "seed=5"]) == 0
    assert json.loads((out / "manifest.json").read_text())["episodes"][0]["seed"] == 5


def test_bad_config_file_names_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("task: push\nepisodez: 3\n")
    code = main(["demos", "generate", "--config", str(config), "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "episodez" in err and "did you mean 'episodes'" in err


def test_show_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demos", "show", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    fake = tmp_path / "fake.npz"
    fake.write_text("not a zip")
    assert main(["demos", "show", str(fake)]) == 2
    assert "fake.npz" in capsys.readouterr().err


def test_unknown_bench_suite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "nope"]) == 2
    assert "unknown bench suite 'nope'" in capsys.readouterr().err


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = run_cli("fly")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_adapt_bad_inputs_exit_2_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "adapted"
    assert main(["adapt", "--demo", str(tmp_path / "missing.npz"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    demo = tmp_path / "demo.npz"
    assert (
        main(
            [
                "demos",
                "generate",
                "--task",
                "reach",
                "--episodes",
                "1",
                "--out",
                str(tmp_path / "ds"),
                "--set",
                "env.image_size=96",
            ]
        )
        == 0
    )
    from robo_reward.data import DatasetReader

    DatasetReader(tmp_path / "ds")[0].save(demo)
    pickled = tmp_path / "fake.safetensors"
    import torch

    torch.save({"weights": torch.zeros(3)}, pickled)
    code = main(["adapt", "--demo", str(demo), "--out", str(out), "--set", f"checkpoint={pickled}"])
    assert code == 2
    assert "pickle" in capsys.readouterr().err
    assert not out.exists()
