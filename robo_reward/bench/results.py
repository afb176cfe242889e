"""Benchmark result folders: ``results/<suite>/<timestamp>/`` with JSON, Markdown and plots.

Every figure is stored with the config that produced it, the command line, package versions and
the machine, so a table in the README can always be traced back to a run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from robo_reward.data.atomic import atomic_write_json, atomic_write_text

VERSIONED_PACKAGES = (
    "robo_reward",
    "mujoco",
    "pybullet",
    "gymnasium",
    "gymnasium-robotics",
    "numpy",
    "torch",
    "stable-baselines3",
)


def machine_info() -> dict[str, Any]:
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "mujoco_gl": os.environ.get("MUJOCO_GL"),
        "versions": versions,
    }


def new_run_dir(root: str | Path, suite: str) -> Path:
    """Create ``<root>/<suite>/<UTC timestamp>/``; fails clearly if it cannot be written."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = Path(root) / suite / stamp
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        run_dir = Path(root) / suite / f"{stamp}-{os.getpid()}"
        run_dir.mkdir(parents=True)
    except OSError as error:
        raise OSError(f"cannot create the results folder {run_dir}: {error.strerror}") from error
    if not os.access(run_dir, os.W_OK):
        raise PermissionError(f"the results folder {run_dir} is not writable")
    return run_dir


def write_run(
    run_dir: Path,
    suite: str,
    results: dict[str, Any],
    markdown: str,
    config: Any,
    profile: str | None = None,
) -> None:
    """Write ``results.json`` and ``results.md`` atomically."""
    payload = {
        "suite": suite,
        "profile": profile,
        "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "config": config,
        "machine": machine_info(),
        "results": results,
    }
    atomic_write_json(run_dir / "results.json", payload)
    atomic_write_text(run_dir / "results.md", markdown)


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """The ``results.json`` of a run folder; a clear error if it is missing or unreadable."""
    path = Path(run_dir) / "results.json"
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"{run_dir} is not a benchmark run folder (no results.json)"
        ) from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), dict):
        raise ValueError(f"{path} is not a benchmark result (no 'results' mapping)")
    return payload


INCOMPLETE_NOTE = "\n**INCOMPLETE RUN**: interrupted or failed; figures above are partial.\n"


class SuiteRun:
    """The result folder of one suite run, filled in as the suite goes.

    Suites add figures to :attr:`results` and Markdown to :attr:`sections` and call :meth:`save`
    after each finished part, so a run that is killed (even with SIGKILL) leaves what it measured
    on disk, marked ``"complete": false``; :meth:`finish` marks it complete.
    """

    def __init__(
        self, run_dir: Path, suite: str, config: dict[str, Any], profile: str | None = None
    ) -> None:
        self.run_dir, self.suite, self.config, self.profile = run_dir, suite, config, profile
        self.results: dict[str, Any] = {"complete": False}
        self.sections: list[str] = [f"## robo-reward bench {suite}\n"]
        self.started = time.perf_counter()

    @property
    def results_root(self) -> Path:
        """The ``results`` folder this run's ``<suite>/<timestamp>`` lives in."""
        return self.run_dir.parent.parent

    def markdown(self) -> str:
        text = "\n".join(self.sections)
        return text if self.results["complete"] else text + INCOMPLETE_NOTE

    def save(self, complete: bool = False) -> None:
        self.results["complete"] = complete
        self.results["seconds"] = round(time.perf_counter() - self.started, 1)
        write_run(
            self.run_dir, self.suite, self.results, self.markdown(), self.config, self.profile
        )

    def finish(self) -> None:
        self.save(complete=True)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
