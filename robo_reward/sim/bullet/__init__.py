"""The PyBullet backend: the rover maze and tabletop tasks rebuilt in a second simulator, with the
observation and action spaces of the MuJoCo versions, for the cross-simulator check (``bench
crosssim``). Rendering uses PyBullet's CPU TinyRenderer, so no GL is needed."""

from __future__ import annotations

import contextlib
import os
import sys


def _flush_c_stdout() -> None:
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


def _import_pybullet_quietly() -> None:
    """Import pybullet once with file descriptor 1 sent to /dev/null: its C code prints a
    build-time banner to stdout on import, which would end up in the CLI's output and in piped
    JSON."""
    if "pybullet" in sys.modules:
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no usable stdout: nothing to protect
        import pybullet  # noqa: F401

        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            with contextlib.suppress(Exception):
                import pybullet  # noqa: F401
            _flush_c_stdout()  # the banner sits in C's stdio buffer when stdout is a pipe
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_import_pybullet_quietly()
