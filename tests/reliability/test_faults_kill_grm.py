"""SIGKILL mid-checkpoint in GRM training (pretraining and one-shot adaptation share the loop):
the previous checkpoint stays intact and ``resume`` ends exactly where an uninterrupted run ends.

The training runs in a subprocess that is killed with SIGKILL while it saves (its staging folder
is on disk) or a few milliseconds later; nothing is mocked.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

GRM_TESTS = Path(__file__).resolve().parents[1] / "grm"
sys.path.insert(0, str(GRM_TESTS))

from grm_synthetic import tiny_config, training_episodes  # noqa: E402

from robo_reward.checkpoints import load_weights  # noqa: E402
from robo_reward.data.atomic import COMMIT_NAME, STAGING_SUFFIX  # noqa: E402
from robo_reward.grm.checkpoint import load_grm  # noqa: E402
from robo_reward.grm.train import (  # noqa: E402
    CHECKPOINT_NAME,
    LOG_NAME,
    OPTIMIZER_NAME,
    TrainConfig,
    train_grm,
)

STEPS = 16
STAGE = f".{CHECKPOINT_NAME}{STAGING_SUFFIX}"
CONFIG = dict(steps=STEPS, batch_size=8, warmup_steps=2, log_every=1, checkpoint_every=2, seed=1)
CHILD = f"""
import sys
sys.path.insert(0, {str(GRM_TESTS)!r})
from grm_synthetic import tiny_config, training_episodes
from robo_reward.grm.train import TrainConfig, train_grm
train_grm(training_episodes(), sys.argv[1], tiny_config(), TrainConfig(**{CONFIG!r}, threads=1),
          resume=sys.argv[2] == "resume", progress=False)
"""


def start(out: Path, resume: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), "resume" if resume else "fresh"],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stderr=subprocess.PIPE,
    )


def kill_while_saving(
    process: subprocess.Popen[bytes], out: Path, delay_s: float, skip: int = 0
) -> str:
    """SIGKILL ``delay_s`` after a save starts that has a complete checkpoint to protect, letting
    ``skip`` such saves finish first."""
    stage, checkpoint = out / STAGE, out / CHECKPOINT_NAME
    after_a_save, was_saving = False, False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        in_save = stage.exists()
        if was_saving and not in_save and after_a_save:
            skip -= 1
        was_saving = in_save
        if not in_save and checkpoint.exists():
            after_a_save = True
        elif in_save and after_a_save and skip <= 0:
            time.sleep(delay_s)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            if not stage.exists():
                return "between saves"
            return "committed" if (stage / COMMIT_NAME).exists() else "staging"
        time.sleep(0)
    raise AssertionError(f"no save was seen: {process.communicate()[1][-2000:]!r}")


def log_steps(path: Path) -> list[int]:
    with path.open(newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def assert_intact(out: Path) -> int:
    """The visible (or, after a commit, the staged) checkpoint is one save; returns its step."""
    stage = out / STAGE
    committed = (stage / COMMIT_NAME).is_file()

    def current(name: str) -> Path:
        return stage / name if committed and (stage / name).is_file() else out / name

    step = load_weights(current(CHECKPOINT_NAME)).extra["step"]
    assert load_weights(current(OPTIMIZER_NAME)).extra == {"step": step}
    assert log_steps(current(LOG_NAME)) == list(range(step + 1))
    for entry in out.iterdir():
        assert entry.name in (CHECKPOINT_NAME, OPTIMIZER_NAME, LOG_NAME, STAGE), entry.name
    return step


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    torch.set_num_threads(1)
    train_grm(training_episodes(), out, tiny_config(), TrainConfig(**CONFIG), progress=False)
    return out


def test_grm_training_killed_mid_checkpoint_resumes_to_the_uninterrupted_result(
    tmp_path: Path, reference: Path
) -> None:
    rng = random.Random(7)
    kills = []
    for attempt in range(2):
        process = start(tmp_path, resume=attempt > 0)
        delay = 0.0 if attempt == 0 else rng.uniform(0, 0.01)
        phase = kill_while_saving(process, tmp_path, delay, skip=2 * attempt)
        kills.append((phase, assert_intact(tmp_path)))
    print(f"\nGRM kills (phase, step left): {kills}")
    assert kills[0][0] in ("staging", "committed")

    train_grm(
        training_episodes(),
        tmp_path,
        tiny_config(),
        TrainConfig(**CONFIG, threads=1),
        resume=True,
        progress=False,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CHECKPOINT_NAME, OPTIMIZER_NAME, LOG_NAME]
    )
    resumed, straight = load_grm(tmp_path / CHECKPOINT_NAME), load_grm(reference / CHECKPOINT_NAME)
    assert resumed.checkpoint_extra["step"] == STEPS - 1
    for name, tensor in straight.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name
    for name in (OPTIMIZER_NAME,):
        left, right = load_weights(tmp_path / name), load_weights(reference / name)
        assert all(torch.equal(left.tensors[k], right.tensors[k]) for k in right.tensors)
    with (tmp_path / LOG_NAME).open() as a, (reference / LOG_NAME).open() as b:
        rows_a, rows_b = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [int(r["step"]) for r in rows_a] == list(range(STEPS))
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        assert {k: v for k, v in row_a.items() if k != "seconds"} == {
            k: v for k, v in row_b.items() if k != "seconds"
        }
