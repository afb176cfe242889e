"""Atomic file writes: a reader sees the old file or the complete new one, never half of one.

The recipe is the usual POSIX one: write a hidden temporary file in the *same directory*
(so the final rename stays on one filesystem), flush and fsync it, ``os.replace`` it over the
target, then fsync the directory so the rename itself survives a power cut. On any error the
temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_dir",
]

TEMP_MARKER = ".tmp"


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Persist a rename inside ``directory`` (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_name(target: Path) -> tuple[str, str]:
    """Prefix and suffix of a hidden temp file that keeps the target's extension."""
    return f".{target.stem}.", f"{TEMP_MARKER}{target.suffix}"


def _make_temp(target: Path) -> tuple[int, str]:
    """A hidden temp file next to ``target`` with ordinary permissions (mkstemp makes it 0600;
    the finished file should be as readable as any other the user creates)."""
    prefix, suffix = _temp_name(target)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, tmp


def _remove_quietly(path: str | os.PathLike[str]) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path (same directory, same extension) for writers that need a filename.

    Use for libraries such as ffmpeg that open the file themselves; the temp file is fsynced
    and renamed over ``path`` when the block exits cleanly.
    """
    target = Path(path)
    fd, tmp = _make_temp(target)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file for writing; on a clean exit it atomically replaces ``path``."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    encoding = None if "b" in mode else "utf-8"
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as handle:
        yield handle


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and return the path."""
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NaN/inf refused) atomically and return the path."""
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"
    return atomic_write_text(path, text)
