"""Atomic file writes: a reader sees the old file or the complete new one, never half of one.

The recipe is the usual POSIX one: write a hidden temporary file in the *same directory*
(so the final rename stays on one filesystem), flush and fsync it, ``os.replace`` it over the
target, then fsync the directory so the rename itself survives a power cut. On any error the
temporary file is removed, the target is left as it was, and the ``OSError`` names the target
(``[Errno 28] No space left on device: '<target>'``), not the temporary file.

Files that only make sense together (a trainer checkpoint and its optimizer and replay
sidecars) are written with :func:`atomic_group`: all of them change, or none does, even when the
process is killed (SIGKILL, power cut) half-way. The commit is a redo log, as in databases:
the new files are staged in a hidden folder next to the targets, a ``COMMITTED`` list is written
into it (the commit point), then each staged file is renamed over its target. Whoever opens the
group next calls :func:`recover_group` first, which finishes the renames of a committed stage
and throws an uncommitted one away.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_group",
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_dir",
    "recover_group",
    "remove_stale_temps",
]

TEMP_MARKER = ".tmp"
STAGING_SUFFIX = ".staging"
COMMIT_NAME = "COMMITTED"


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


def _naming(error: OSError, target: Path, *internal: str | os.PathLike[str]) -> OSError:
    """``error`` re-addressed to ``target`` when it names no file or one of the ``internal``
    (temporary) paths, so the message says which file could not be written and why
    (ENOSPC, EFBIG, EROFS, EACCES, ...). Errors about other files are left as they are."""
    if error.errno is None:
        return error
    internal_names = {os.fspath(p) for p in internal}
    if error.filename is not None and os.fspath(error.filename) not in internal_names:
        return error
    return OSError(error.errno, error.strerror or os.strerror(error.errno), os.fspath(target))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path (same directory, same extension) for writers that need a filename.

    Use for libraries such as ffmpeg that open the file themselves; the temp file is fsynced
    and renamed over ``path`` when the block exits cleanly.
    """
    target = Path(path)
    try:
        fd, tmp = _make_temp(target)
    except OSError as error:  # it can only be about the temp file: name the target
        raise _naming(error, target, error.filename or "") from error
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as error:
        _remove_quietly(tmp)
        named = _naming(error, target, tmp)
        if named is error:
            raise
        raise named from error
    except BaseException:
        _remove_quietly(tmp)
        raise
    fsync_dir(target.parent)


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files that :func:`atomic_path` left next to ``path`` when its process
    was killed mid-write (``.<stem>.<8 random>.tmp<suffix>``); return what was removed.

    Only call this where no other process may be writing ``path`` at the same time.
    """
    target = Path(path)
    prefix, suffix = _temp_name(target)
    pattern = re.compile(re.escape(prefix) + r"[A-Za-z0-9_]{8}" + re.escape(suffix) + r"\Z")
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(target.parent):
            if pattern.match(entry.name) and entry.is_file(follow_symlinks=False):
                _remove_quietly(entry.path)
                removed.append(Path(entry.path))
    return removed


# --------------------------------------------------------------------------- groups of files


def _group_targets(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    targets = [Path(p) for p in paths]
    if not targets:
        raise ValueError("atomic_group needs at least one path")
    parents = {t.parent for t in targets}
    if len(parents) != 1:
        raise ValueError(f"atomic_group: files must share one folder, got {sorted(parents)}")
    names = [t.name for t in targets]
    if len(set(names)) != len(names) or COMMIT_NAME in names:
        raise ValueError(f"atomic_group: file names must be distinct, got {names}")
    return targets


def _staging_dir(targets: Sequence[Path]) -> Path:
    return targets[0].parent / f".{targets[0].name}{STAGING_SUFFIX}"


def _apply_commit(stage: Path, targets: Sequence[Path]) -> None:
    """Rename the committed files of ``stage`` over their targets, then drop ``stage``.
    Idempotent: a file already moved by an interrupted earlier call is skipped."""
    commit = stage / COMMIT_NAME
    try:
        names = json.loads(commit.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{commit}: unreadable commit list ({error})") from None
    expected = {t.name for t in targets}
    if (
        not isinstance(names, list)
        or not all(isinstance(name, str) for name in names)
        or not set(names) <= expected
    ):
        raise ValueError(f"{commit}: lists {names!r}, not files of this group {sorted(expected)}")
    for name in names:
        staged = stage / name
        if staged.exists():
            os.replace(staged, stage.parent / name)
    fsync_dir(stage.parent)
    shutil.rmtree(stage)


def recover_group(paths: Sequence[str | os.PathLike[str]]) -> bool:
    """Finish or undo an :func:`atomic_group` write of ``paths`` that a killed process left
    half-done; return True if there was one.

    A committed stage is rolled forward (its files replace the targets); an uncommitted one is
    deleted, leaving the previous files as they were. Call it before reading the group.
    """
    targets = _group_targets(paths)
    stage = _staging_dir(targets)
    if not stage.exists():
        return False
    if (stage / COMMIT_NAME).is_file():
        _apply_commit(stage, targets)
    else:
        shutil.rmtree(stage)
    return True


def _stage_error(error: OSError, stage: Path, targets: Sequence[Path]) -> OSError:
    """An error about a staged file, re-addressed to the target it stands for."""
    if error.errno is None:
        return error
    if error.filename is None:
        return _naming(error, targets[0].parent)
    where = Path(os.fspath(error.filename))
    if where == stage:
        return _naming(error, targets[0], where)
    if stage in where.parents:
        relative = where.relative_to(stage).parts[0]
        matching = [t for t in targets if t.name == relative]
        return _naming(error, matching[0] if matching else targets[0], where)
    return error


@contextlib.contextmanager
def atomic_group(paths: Sequence[str | os.PathLike[str]]) -> Iterator[list[Path]]:
    """Yield one staging path per target in ``paths`` (all in one folder); when the block exits
    cleanly every target is replaced by what was written to its staging path, atomically as a
    set: after a crash at any instant, :func:`recover_group` restores either all the old files
    or all the new ones.

    The first path names the group: its stage is the hidden folder ``.<first name>.staging``.
    Writers may write the staging paths directly or through :func:`atomic_path`. On an error
    inside the block the stage is deleted and the targets are untouched.
    """
    targets = _group_targets(paths)
    recover_group(targets)
    stage = _staging_dir(targets)
    try:
        stage.mkdir()
        yield [stage / t.name for t in targets]
        missing = [t.name for t in targets if not (stage / t.name).is_file()]
        if missing:
            raise ValueError(f"atomic_group: {missing} were not written; nothing was replaced")
        for target in targets:
            with open(stage / target.name, "rb") as handle:
                os.fsync(handle.fileno())
        atomic_write_json(stage / COMMIT_NAME, {"files": [t.name for t in targets]})
    except OSError as error:
        shutil.rmtree(stage, ignore_errors=True)
        named = _stage_error(error, stage, targets)
        if named is error:
            raise
        raise named from error
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _apply_commit(stage, targets)


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
