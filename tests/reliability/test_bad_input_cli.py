"""Bad command lines (issue #9): every refused argument, override, file or subcommand exits with
status 2 and a message on stderr, without a traceback, and creates or changes no file.

Only inputs that fail validation are run here (the property tests keep an override only when
the config layer itself refuses it), so no test starts real training or generation."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from robo_reward.bench.reward_compare import RewardCompareConfig
from robo_reward.cli import main
from robo_reward.config import ConfigError, _key_paths, load_config
from robo_reward.data import DatasetWriter, Trajectory
from robo_reward.grm.adapt import AdaptConfig
from robo_reward.grm.pretrain import PretrainConfig
from robo_reward.rl.runner import TrainConfig
from robo_reward.sim.demos import DemoConfig

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)


def _demo() -> Trajectory:
    return Trajectory(
        frames={"front": np.zeros((4, 8, 8, 3), np.uint8)},
        actions=np.zeros((3, 4), np.float32),
        states=np.zeros((4, 2), np.float32),
        timestamps_ns=np.arange(4, dtype=np.int64),
        task="push",
        success=True,
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a user's folder might hold: a demo, a dataset, a garbage file, an older output."""
    folder = tmp_path_factory.mktemp("inputs")
    _demo().save(folder / "demo.npz")
    with DatasetWriter(folder / "dataset", "push") as writer:
        writer.add(_demo())
    (folder / "garbage.npz").write_bytes(bytes(range(256)) * 3)
    (folder / "garbage.yaml").write_bytes(b"\x00\x01\xff binary")
    (folder / "empty.yaml").write_bytes(b"")
    (folder / "out").mkdir()
    (folder / "out" / "previous.txt").write_text("an earlier result")
    return folder


@pytest.fixture
def workdir(inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    shutil.copytree(inputs, work)
    monkeypatch.chdir(work)
    return work


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``robo-reward argv``; it must exit 2 and say why on stderr without a traceback."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2, f"{argv} exited {code}; stdout {out!r}, stderr {err!r}"
    assert "error:" in err and "Traceback" not in err and "Traceback" not in out
    return err


def _check_refused(
    argv: list[str], workdir: Path, capsys: pytest.CaptureFixture[str], expected: str
) -> None:
    before = _snapshot(workdir)
    err = _refused(argv, capsys)
    assert expected in err
    assert _snapshot(workdir) == before


# ----------------------------------------------------------------------------- overrides

COMMANDS = {
    "train": (TrainConfig, ["train"]),
    "demos generate": (DemoConfig, ["demos", "generate", "--out", "new_demos"]),
    "adapt": (AdaptConfig, ["adapt", "--demo", "demo.npz", "--out", "adapted"]),
    "grm pretrain": (PretrainConfig, ["grm", "pretrain", "--out", "pretrained"]),
    "reward compare": (RewardCompareConfig, ["reward", "compare", "--out", "compared"]),
}
NASTY_VALUES = [
    "-1",
    "0",
    ".nan",
    "-.inf",
    "1e400",
    "99999999999999999999",
    "[]",
    "[1, [2]]",
    "{a: 1}",
    "null",
    "yes",
    "&a [*a]",
    "!!python/object/apply:os.system [true]",
    "[unclosed",
    "\x07",
    "'",
]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_any_override_the_config_refuses_exits_2_and_writes_nothing(
    command: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_class, argv = COMMANDS[command]
    keys = _key_paths(config_class) + ["nope", "a.b", "", " ", "steps.x"]

    @PROPERTY
    @given(
        key=st.sampled_from(keys) | st.text(max_size=6),
        value=st.sampled_from(NASTY_VALUES) | st.text(max_size=6),
    )
    def check(key: str, value: str) -> None:
        item = f"{key}={value}"
        try:
            load_config(config_class, None, [item])
        except ConfigError as error:
            expected = str(error)
        else:
            assume(False)  # a valid override would start real work
        _check_refused([*argv, f"--set={item}"], workdir, capsys, expected)

    check()


@pytest.mark.parametrize("item", ["steps", "=3", "steps==3", "steps 3"])
def test_malformed_overrides_exit_2(
    item: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_refused(["train", "--set", item], workdir, capsys, "robo-reward: error:")


def test_set_without_a_value_is_an_argparse_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_refused(["train", "--set"], workdir, capsys, "argument --set: expected one argument")


# ----------------------------------------------------------------------------- counts and values


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "--steps", "-1"], "steps must be > 0"),
        (["train", "--steps", "0"], "steps must be > 0"),
        (["train", "--steps", "1.5"], "argument --steps: invalid int value: '1.5'"),
        (["train", "--seed", "99999999999999999999"], "'seed' must fit in a 64-bit integer"),
        (["train", "--algo", "dqn"], "argument --algo: invalid choice: 'dqn'"),
        (["train", "--reward", "dense"], "'reward.kind' must be one of"),
        (["train", "--task", "juggle"], "unknown task 'juggle'"),
        (["demos", "generate", "--episodes", "0", "--out", "d"], "episodes must be an int >= 1"),
        (["demos", "generate", "--episodes", "-5", "--out", "d"], "episodes must be an int >= 1"),
        (["demos", "generate", "--seed", "-3", "--out", "d"], "seed must be an int >= 0"),
        (["demos", "generate", "--task", "juggle", "--out", "d"], "unknown task 'juggle'"),
        (["demos", "generate", "--episodes", "1", "--out", "demo.npz"], "is not a directory"),
        (["demos", "generate", "--episodes", "1", "--out", "out"], "out is not empty"),
        (
            ["demos", "generate", "--episodes", "1", "--out", "out", "--overwrite"],
            "holds no robo_reward dataset manifest; refusing to replace it",
        ),
        (
            ["demos", "generate", "--episodes", "1", "--out", "d", "--set", "env.image_size=-1"],
            "image_size must be between 8 and 2048",
        ),
        (["demos", "show", "demo.npz", "--columns", "0"], "columns must be >= 1, got 0"),
        (["demos", "show", "dataset", "--episode", "-1"], "--episode -1 is out of range"),
        (["demos", "show", "dataset", "--episode", "7"], "--episode 7 is out of range"),
        (["adapt", "--demo", "dataset", "--episode", "3", "--out", "a"], "--episode 3 is out of"),
        (
            ["adapt", "--demo", "demo.npz", "--out", "a", "--tolerance-ms", "-1"],
            "--tolerance-ms applies to rosbag2 demos only",
        ),
        (
            ["adapt", "--demo", "demo.npz", "--out", "a", "--set", "discovered_steps=-1"],
            "discovered_steps must be >= 0",
        ),
        (["reward", "compare", "--episodes", "-1"], "episodes must be an int >= 1"),
        (["reward", "compare", "--coverage", "-3"], "coverage must be an int >= 2"),
        (["reward", "compare", "--rewards", "nope"], "unknown reward(s) 'nope'"),
        (
            ["perceptual", "fit", "--demos", "demo.npz", "--out", "r.safetensors", "--steps", "-2"],
            "steps must be a positive integer",
        ),
        (
            [
                "perceptual",
                "fit",
                "--demos",
                "demo.npz",
                "--out",
                "r.safetensors",
                "--episodes",
                "0",
            ],
            "--episodes must be >= 1",
        ),
        (["grm", "eval", "--set", "tasks=[nope]"], "unknown task 'nope'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_counts_and_values_exit_2_and_write_nothing(
    argv: list[str], expected: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_refused(argv, workdir, capsys, expected)


def test_a_negative_seed_exits_2_and_writes_no_run_folder(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_refused(["train", "--seed", "-1", "--steps", "1"], workdir, capsys, "seed")


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["adapt", "--demo", "missing.npz", "--out", "a"], "missing.npz does not exist"),
        (["adapt", "--demo", "garbage.npz", "--out", "a"], "garbage.npz: not an .npz (zip)"),
        (["adapt", "--demo", "out", "--out", "a"], "out: no manifest.json"),
        (
            [
                "adapt",
                "--demo",
                "demo.npz",
                "--out",
                "a",
                "--set",
                "checkpoint=missing.safetensors",
            ],
            "missing.safetensors: no such checkpoint",
        ),
        (
            ["adapt", "--demo", "demo.npz", "--out", "a", "--set", "checkpoint=garbage.npz"],
            "garbage.npz: is not a safetensors file",
        ),
        (["demos", "show", "missing.npz"], "missing.npz does not exist"),
        (["demos", "show", "garbage.npz"], "garbage.npz: not an .npz (zip) archive"),
        (["perceptual", "fit", "--demos", "missing", "--out", "r.safetensors"], "does not exist"),
        (["train", "--config", "missing.yaml"], "config file not found: missing.yaml"),
        (["train", "--config", "nope"], "no train preset named 'nope'"),
        (["train", "--config", "garbage.yaml"], "cannot read config file garbage.yaml"),
        (["train", "--config", "~no_such_user_robo/x.yaml"], "config file not found"),
        (["train", "--resume", "missing_run"], "missing_run is not a run folder"),
        (["train", "--resume", "out", "--steps", "5"], "out is not a run folder"),
        (["train", "--resume", "out", "--seed", "5"], "--resume uses the run's own config"),
        (["encoder", "train", "--data", "missing", "--out", "e"], "no such dataset directory"),
        (["report", "--results", "missing"], "--results missing is not a folder"),
        (["ros", "up", "--config", "missing.yaml", "--dry-run"], "config file not found"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_missing_and_broken_files_exit_2_and_write_nothing(
    argv: list[str], expected: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_refused(argv, workdir, capsys, expected)


@PROPERTY
@given(data=st.binary(min_size=1, max_size=300))
def test_any_refused_config_file_exits_2_and_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    path = workdir / "random.yaml"
    path.write_bytes(data)
    try:
        load_config(TrainConfig, "random.yaml")
    except ConfigError as error:
        expected = str(error)
    else:
        assume(False)  # a valid config would train
    _check_refused(["train", "--config", "random.yaml"], workdir, capsys, expected)
    path.unlink()


# ----------------------------------------------------------------------------- subcommands


@PROPERTY
@given(command=st.text(min_size=1, max_size=10), rest=st.lists(st.text(max_size=5), max_size=2))
def test_unknown_subcommands_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: str, rest: list[str]
) -> None:
    assume(not command.startswith("-"))
    assume(command not in {"tasks", "demos", "grm", "encoder", "perceptual", "adapt"})
    assume(command not in {"train", "bench", "report", "reward", "ros"})
    _check_refused([command, *rest], workdir, capsys, "invalid choice")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["demos"], "the following arguments are required"),
        (["demos", "nope"], "invalid choice: 'nope'"),
        (["grm", "nope"], "invalid choice: 'nope'"),
        (["reward", "nope"], "invalid choice: 'nope'"),
        (["bench", "nope"], "unknown bench suite 'nope'"),
        (["demos", "generate"], "the following arguments are required: --out"),
        (["perceptual", "fit", "--out", "r.safetensors"], "required: --demos"),
        (["train", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_wrong_subcommands_and_flags_exit_2(
    argv: list[str], expected: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_refused(argv, workdir, capsys, expected)
