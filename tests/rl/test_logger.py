"""Run logger: CleanRL run names, a long-format CSV that survives changing metrics and
restarts, and TensorBoard event files on request."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from robo_reward.rl.logger import METRICS_FILE, RunLogger, run_name


def read_rows(run_dir: Path) -> list[list[str]]:
    with open(run_dir / METRICS_FILE, newline="") as handle:
        return list(csv.reader(handle))


def test_run_name_is_cleanrl_style_and_one_folder() -> None:
    before = int(time.time())
    name = run_name("robo_reward/Reach-v0", "sac", 3)
    match = re.fullmatch(r"robo_reward-Reach-v0__sac__3__(\d+)", name)
    assert match is not None
    assert before <= int(match.group(1)) <= time.time()
    assert "/" not in name


def test_log_writes_long_format_rows_and_flushes_each_call(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path)
    logger.log(10, {"charts/episodic_return": 1.5, "losses/qf_loss": np.float32(0.25)})
    # Readable before close: flushed on every call.
    assert read_rows(tmp_path) == [
        ["step", "key", "value"],
        ["10", "charts/episodic_return", "1.5"],
        ["10", "losses/qf_loss", "0.25"],
    ]
    logger.log(20, {"reward/grm": torch.tensor(2.0), "charts/success_rate": True})
    logger.close()
    rows = read_rows(tmp_path)
    assert rows[-2:] == [["20", "reward/grm", "2.0"], ["20", "charts/success_rate", "1.0"]]


def test_reopening_appends_without_a_second_header(tmp_path: Path) -> None:
    with RunLogger(tmp_path) as logger:
        logger.log(1, {"a": 1.0})
    with RunLogger(tmp_path) as logger:
        logger.log(2, {"b": float("nan")})
    rows = read_rows(tmp_path)
    assert rows[0] == ["step", "key", "value"] and rows.count(["step", "key", "value"]) == 1
    assert rows[1:] == [["1", "a", "1.0"], ["2", "b", "nan"]]


@pytest.mark.parametrize(
    "metrics", [{"a": "high"}, {"": 1.0}, {"a\nb": 1.0}, {3: 1.0}, {"a": [1.0, 2.0]}]
)
def test_bad_metrics_raise(tmp_path: Path, metrics: dict) -> None:
    with RunLogger(tmp_path) as logger, pytest.raises(ValueError):
        logger.log(0, metrics)


def test_closed_logger_refuses(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path)
    logger.close()
    logger.close()
    with pytest.raises(ValueError, match="closed"):
        logger.log(0, {"a": 1.0})


def test_tensorboard_event_files(tmp_path: Path) -> None:
    with RunLogger(tmp_path, tensorboard=True) as logger:
        logger.log(5, {"charts/sps": 100.0})
    assert list(tmp_path.glob("events.out.tfevents.*"))
    assert read_rows(tmp_path)[-1] == ["5", "charts/sps", "100.0"]
