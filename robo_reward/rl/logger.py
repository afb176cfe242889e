"""Training metrics: a long-format CSV that always exists, plus TensorBoard when asked.

Rows are ``step,key,value``: new metrics can appear mid-run (an evaluation, a reward term) without
rewriting a header, and pandas pivots the file in one line. Each call is flushed, so a crashed
run keeps every metric logged before the crash. Names are grouped as in CleanRL:
``charts/episodic_return``, ``charts/success_rate``, ``charts/sps``, ``losses/qf_loss``,
``eval/success_rate``, and ``reward/<term>`` for each reward term an env reports.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["METRICS_FILE", "RunLogger", "run_name"]

METRICS_FILE = "metrics.csv"
HEADER = ("step", "key", "value")


def run_name(task: str, algo: str, seed: int) -> str:
    """``"{task}__{algo}__{seed}__{unix time}"`` (CleanRL's run names).

    A ``/`` in a Gymnasium id (``robo_reward/Reach-v0``) becomes ``-`` so the name is one
    folder, not two.
    """
    safe_task = task.replace("/", "-").replace(os.sep, "-")
    return f"{safe_task}__{algo}__{int(seed)}__{int(time.time())}"


class RunLogger:
    """Append metrics to ``run_dir/metrics.csv`` and, if ``tensorboard``, to TensorBoard.

    Use as a context manager, or call :meth:`close`. Appends to an existing ``metrics.csv``
    (a resumed run continues its file).
    """

    def __init__(self, run_dir: str | os.PathLike[str], tensorboard: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / METRICS_FILE
        is_new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = open(self.path, "a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if is_new:
            self._csv.writerow(HEADER)
            self._file.flush()
        self._writer: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.run_dir))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Write each ``key: value`` at ``step``. Values must be real numbers (NaN is kept,
        so a diverging loss shows in the file)."""
        if self._file.closed:
            raise ValueError(f"{self.path}: logger is closed")
        rows = []
        for key, value in metrics.items():
            if not isinstance(key, str) or not key or "\n" in key:
                raise ValueError(f"metric names must be non-empty one-line str, got {key!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    value = float(value)  # numpy and 0-d torch scalars
                except (TypeError, ValueError):
                    raise ValueError(f"metric {key!r}: {value!r} is not a number") from None
            rows.append((int(step), key, repr(float(value))))
        self._csv.writerows(rows)
        self._file.flush()
        if self._writer is not None:
            for step_, key, value in rows:
                number = float(value)
                if not math.isnan(number):
                    self._writer.add_scalar(key, number, step_)
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the files (idempotent)."""
        if not self._file.closed:
            self._file.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
