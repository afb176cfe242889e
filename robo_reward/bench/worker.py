"""Run one measurement in a fresh Python process, optionally pinned to a single CPU.

Speeds measured side by side must not share warm caches, thread pools or OpenGL contexts, so
each runs as ``module.function(*args)`` in its own process and returns JSON. "One core" pins
the process and tells the OSMesa rasteriser and OpenMP to use one thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

_CODE = (
    "import importlib, json, os, sys\n"
    "job = json.loads(sys.argv[1])\n"
    "if job['single_core']:\n"
    "    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})\n"
    "function = getattr(importlib.import_module(job['module']), job['function'])\n"
    "print(json.dumps(function(*job['args'])))\n"
)


def run_in_worker(module: str, function: str, args: list[Any], single_core: bool) -> Any:
    """``module.function(*args)`` in a fresh process; its JSON-serialisable return value."""
    env = dict(os.environ)
    if single_core:
        env.update(LP_NUM_THREADS="1", OMP_NUM_THREADS="1")
    job = json.dumps(
        {"module": module, "function": function, "args": args, "single_core": single_core}
    )
    done = subprocess.run(
        [sys.executable, "-c", _CODE, job], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker {module}.{function} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
