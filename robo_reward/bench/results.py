"""Benchmark result folders: ``results/<suite>/<timestamp>/`` with JSON, Markdown and plots.

Every figure is stored with the config that produced it, the command line, package versions and
the machine, so a table in the README can always be traced back to a run.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from robo_reward.data.atomic import atomic_write_json, atomic_write_text

VERSIONED_PACKAGES = ("robo_reward", "mujoco", "gymnasium", "numpy", "torch")


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
    run_dir: Path, suite: str, results: dict[str, Any], markdown: str, config: Any
) -> None:
    """Write ``results.json`` and ``results.md`` atomically."""
    payload = {
        "suite": suite,
        "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "config": config,
        "machine": machine_info(),
        "results": results,
    }
    atomic_write_json(run_dir / "results.json", payload)
    atomic_write_text(run_dir / "results.md", markdown)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
