"""A dataset of trajectories: compressed ``.npz`` shards plus a JSON manifest in one directory.

Generation of thousands of simulated demos takes hours, so the writer is crash-tolerant: each
full shard is written atomically and only then is the manifest (atomically) rewritten to
include it. Whatever happens, ``manifest.json`` describes exactly the shards that are complete.
The layout is documented in ``docs/data_format.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from robo_reward.data.atomic import atomic_open, atomic_write_json, fsync_dir
from robo_reward.data.trajectory import (
    FORMAT_VERSION,
    DataFormatError,
    Trajectory,
    read_npz,
    trajectory_from_arrays,
    trajectory_to_arrays,
)

__all__ = [
    "DATASET_SCHEMA",
    "DATASET_VERSION",
    "MANIFEST_NAME",
    "DatasetReader",
    "DatasetWriter",
    "load_trajectories",
]

DATASET_SCHEMA = "robo_reward.dataset"
DATASET_VERSION = 1
MANIFEST_NAME = "manifest.json"
SHARD_NAME = re.compile(r"^shard_\d{5,}\.npz$")


def shard_name(index: int) -> str:
    return f"shard_{index:05d}.npz"


def episode_prefix(index: int) -> str:
    """Key prefix of episode ``index`` (dataset-wide) inside its shard: ``ep{index}/``."""
    return f"ep{index}/"


def _episode_summary(index: int, shard: int, traj: Trajectory) -> dict[str, Any]:
    return {
        "index": index,
        "shard": shard,
        "success": traj.success,
        "variant": traj.variant,
        "num_steps": traj.num_steps,
        "seed": traj.seed,
    }


def _read_manifest_json(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise DataFormatError(
            f"{path}: no {MANIFEST_NAME}; not a robo_reward dataset (or its generation never "
            "wrote a first manifest)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataFormatError(f"{manifest_path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != DATASET_SCHEMA:
        raise DataFormatError(f"{manifest_path}: not a {DATASET_SCHEMA} manifest")
    return manifest


def _is_dataset_dir(path: Path) -> bool:
    try:
        _read_manifest_json(path)
    except DataFormatError:
        return False
    return True


# --------------------------------------------------------------------------- writer


class DatasetWriter:
    """Writes trajectories of one task as shards of ``episodes_per_shard`` episodes.

    Use as a context manager. ``add`` buffers; every full shard is written atomically and then
    the manifest is rewritten atomically, so a crash loses at most the buffered episodes.
    ``close`` writes the last (short) shard and marks the manifest ``complete``.

    Existing data: a missing or empty directory is written in place. A non-empty directory is
    refused unless ``overwrite=True`` *and* it holds a robo_reward dataset (a manifest); the
    new dataset is then built in a hidden sibling staging directory and swapped in by
    ``close``, so the old dataset stays readable until the new one is complete, and survives
    untouched if generation fails or is interrupted.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        task: str,
        metadata: Mapping[str, Any] | None = None,
        episodes_per_shard: int = 10,
        overwrite: bool = False,
    ) -> None:
        if not isinstance(task, str) or not task:
            raise ValueError(f"task must be a non-empty string, got {task!r}")
        if isinstance(episodes_per_shard, bool) or not isinstance(episodes_per_shard, int):
            raise ValueError(f"episodes_per_shard must be an int, got {episodes_per_shard!r}")
        if episodes_per_shard < 1:
            raise ValueError(f"episodes_per_shard must be >= 1, got {episodes_per_shard}")
        self.path = Path(path)
        self.task = task
        self.metadata = self._checked_metadata(metadata)
        self.episodes_per_shard = episodes_per_shard
        self._buffer: list[Trajectory] = []
        self._shards: list[dict[str, Any]] = []
        self._episodes: list[dict[str, Any]] = []
        self._closed = False
        self._created_dir = False
        self._dir = self._prepare(overwrite)
        self._write_manifest(complete=False)

    @staticmethod
    def _checked_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        if metadata is None:
            return {}
        if not isinstance(metadata, Mapping):
            raise ValueError(f"metadata must be a mapping, got {type(metadata).__name__}")
        try:
            return json.loads(json.dumps(dict(metadata), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must be JSON-serialisable: {exc}") from None

    def _prepare(self, overwrite: bool) -> Path:
        """Directory to write into: the target itself, or a staging sibling when replacing."""
        path = self.path
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} exists and is not a directory")
        if not path.exists() or not any(path.iterdir()):
            self._created_dir = not path.exists()
            path.mkdir(parents=True, exist_ok=True)
            return path
        if not overwrite:
            raise FileExistsError(
                f"{path} is not empty; choose a new directory or replace the dataset in it "
                "(--overwrite on the command line, overwrite=True in Python)"
            )
        if not _is_dataset_dir(path):
            raise FileExistsError(
                f"{path} is not empty and holds no robo_reward dataset manifest; refusing to "
                "replace it even with overwrite=True"
            )
        staging = path.parent / f".{path.name}.staging-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        return staging

    @property
    def num_episodes(self) -> int:
        """Episodes added so far (written or buffered)."""
        return len(self._episodes) + len(self._buffer)

    def add(self, traj: Trajectory) -> None:
        """Buffer one episode; writes a shard when ``episodes_per_shard`` are buffered."""
        if self._closed:
            raise RuntimeError(f"DatasetWriter for {self.path} is closed")
        if not isinstance(traj, Trajectory):
            raise TypeError(f"add() expects a Trajectory, got {type(traj).__name__}")
        if traj.task != self.task:
            raise ValueError(
                f"trajectory task {traj.task!r} does not match this dataset's task {self.task!r}"
            )
        self._buffer.append(traj)
        if len(self._buffer) >= self.episodes_per_shard:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        shard = len(self._shards)
        first = len(self._episodes)
        arrays: dict[str, np.ndarray] = {}
        summaries = []
        for offset, traj in enumerate(self._buffer):
            index = first + offset
            arrays.update(trajectory_to_arrays(traj, prefix=episode_prefix(index)))
            summaries.append(_episode_summary(index, shard, traj))
        with atomic_open(self._dir / shard_name(shard), "wb") as handle:
            np.savez_compressed(handle, **arrays)
        self._shards.append(
            {"file": shard_name(shard), "first_episode": first, "num_episodes": len(summaries)}
        )
        self._episodes.extend(summaries)
        self._buffer.clear()
        self._write_manifest(complete=False)

    def _write_manifest(self, complete: bool) -> None:
        manifest = {
            "schema": DATASET_SCHEMA,
            "schema_version": DATASET_VERSION,
            "trajectory_format_version": FORMAT_VERSION,
            "task": self.task,
            "complete": complete,
            "num_episodes": len(self._episodes),
            "episodes_per_shard": self.episodes_per_shard,
            "metadata": self.metadata,
            "shards": self._shards,
            "episodes": self._episodes,
        }
        atomic_write_json(self._dir / MANIFEST_NAME, manifest)

    def close(self) -> None:
        """Write buffered episodes, mark the dataset complete and (if replacing) swap it in."""
        if self._closed:
            return
        self._flush()
        self._write_manifest(complete=True)
        self._closed = True
        if self._dir != self.path:
            self._swap_in()

    def _swap_in(self) -> None:
        retired = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(self.path, retired)
        os.rename(self._dir, self.path)
        fsync_dir(self.path.parent)
        shutil.rmtree(retired)

    def abort(self) -> None:
        """Stop without writing buffered episodes; completed shards stay, a staging dir goes.

        If not one shard was written, nothing is left behind: the manifest goes, and so does
        the directory if this writer created it.
        """
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        if self._dir != self.path:
            shutil.rmtree(self._dir, ignore_errors=True)
        elif not self._shards:
            (self._dir / MANIFEST_NAME).unlink(missing_ok=True)
            if self._created_dir:
                with contextlib.suppress(OSError):
                    self._dir.rmdir()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# --------------------------------------------------------------------------- reader


def _require(manifest_path: Path, cond: bool, what: str) -> None:
    if not cond:
        raise DataFormatError(f"{manifest_path}: invalid manifest: {what}")


def _validate_manifest(path: Path, manifest: dict[str, Any]) -> None:
    mpath = path / MANIFEST_NAME
    version = manifest.get("schema_version")
    _require(
        mpath,
        isinstance(version, int) and not isinstance(version, bool) and version >= 1,
        f"schema_version must be a positive int, got {version!r}",
    )
    if version > DATASET_VERSION:
        raise DataFormatError(
            f"{mpath}: dataset schema_version {version} is newer than this robo_reward reads "
            f"(up to {DATASET_VERSION}); upgrade robo_reward"
        )
    task = manifest.get("task")
    _require(mpath, isinstance(task, str) and bool(task), "task must be a non-empty string")
    shards, episodes = manifest.get("shards"), manifest.get("episodes")
    _require(
        mpath,
        isinstance(shards, list) and isinstance(episodes, list),
        "shards and episodes must be lists",
    )
    _require(
        mpath,
        manifest.get("num_episodes") == len(episodes),
        f"num_episodes={manifest.get('num_episodes')!r} but {len(episodes)} episodes listed",
    )
    expected_first = 0
    for i, shard in enumerate(shards):
        _require(
            mpath,
            isinstance(shard, dict) and SHARD_NAME.match(str(shard.get("file"))),
            f"shards[{i}] must name a file like shard_00000.npz",
        )
        _require(
            mpath,
            shard.get("first_episode") == expected_first
            and isinstance(shard.get("num_episodes"), int)
            and shard["num_episodes"] >= 1,
            f"shards[{i}] episode range is inconsistent",
        )
        expected_first += shard["num_episodes"]
        if not (path / shard["file"]).is_file():
            raise DataFormatError(
                f"{path}: shard {shard['file']} listed in the manifest is missing"
            )
    _require(
        mpath,
        expected_first == len(episodes),
        f"shards hold {expected_first} episodes but {len(episodes)} are listed",
    )
    for i, ep in enumerate(episodes):
        _require(
            mpath,
            isinstance(ep, dict)
            and ep.get("index") == i
            and isinstance(ep.get("shard"), int)
            and 0 <= ep["shard"] < len(shards),
            f"episodes[{i}] has a wrong index or shard",
        )
        shard = shards[ep["shard"]]
        _require(
            mpath,
            shard["first_episode"] <= i < shard["first_episode"] + shard["num_episodes"],
            f"episodes[{i}] is not inside its shard's range",
        )
        _require(
            mpath,
            all(k in ep for k in ("success", "variant", "num_steps", "seed")),
            f"episodes[{i}] lacks success/variant/num_steps/seed",
        )
        _require(
            mpath,
            isinstance(ep["success"], bool)
            and isinstance(ep["variant"], str)
            and isinstance(ep["num_steps"], int)
            and not isinstance(ep["num_steps"], bool)
            and (ep["seed"] is None or isinstance(ep["seed"], int)),
            f"episodes[{i}] must have a bool success, str variant, int num_steps and "
            "int-or-null seed",
        )


class DatasetReader:
    """Random access to a dataset directory; shards are read lazily and a few kept cached."""

    def __init__(self, path: str | os.PathLike[str], cache_shards: int = 2) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise NotADirectoryError(f"{self.path} is not a dataset directory")
        manifest = _read_manifest_json(self.path)
        _validate_manifest(self.path, manifest)
        self._manifest = manifest
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self._cache_shards = max(1, cache_shards)

    @property
    def task(self) -> str:
        return str(self._manifest["task"])

    @property
    def complete(self) -> bool:
        """False for a dataset whose generation was interrupted (its shards are still valid)."""
        return bool(self._manifest.get("complete", False))

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the parsed manifest."""
        return json.loads(json.dumps(self._manifest))

    def __len__(self) -> int:
        return len(self._manifest["episodes"])

    def __getitem__(self, index: int) -> Trajectory:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"dataset indices must be ints, got {type(index).__name__}")
        n = len(self)
        i = int(index) + n if index < 0 else int(index)
        if not 0 <= i < n:
            raise IndexError(f"episode {index} out of range for a dataset of {n}")
        summary = self._manifest["episodes"][i]
        shard = self._manifest["shards"][summary["shard"]]
        source = str(self.path / shard["file"])
        traj = trajectory_from_arrays(self._shard(summary["shard"]), episode_prefix(i), source)
        if traj.task != self.task or traj.num_steps != summary["num_steps"]:
            raise DataFormatError(f"{source}: episode {i} disagrees with the manifest")
        return traj

    def __iter__(self) -> Iterator[Trajectory]:
        for i in range(len(self)):
            yield self[i]

    def _shard(self, shard: int) -> dict[str, np.ndarray]:
        if shard in self._cache:
            self._cache.move_to_end(shard)
            return self._cache[shard]
        arrays = read_npz(self.path / self._manifest["shards"][shard]["file"])
        self._cache[shard] = arrays
        while len(self._cache) > self._cache_shards:
            self._cache.popitem(last=False)
        return arrays

    def summary(self) -> dict[str, Any]:
        """Counts by variant and success rates, from the manifest alone (no shard is read)."""
        episodes = self._manifest["episodes"]
        by_variant: dict[str, dict[str, Any]] = {}
        for variant, count in sorted(Counter(e["variant"] for e in episodes).items()):
            wins = sum(1 for e in episodes if e["variant"] == variant and e["success"])
            by_variant[variant] = {"count": count, "success": wins, "success_rate": wins / count}
        wins = sum(1 for e in episodes if e["success"])
        return {
            "task": self.task,
            "num_episodes": len(episodes),
            "num_shards": len(self._manifest["shards"]),
            "complete": self.complete,
            "success_rate": wins / len(episodes) if episodes else None,
            "by_variant": by_variant,
        }

    def __repr__(self) -> str:
        return f"DatasetReader({str(self.path)!r}, task={self.task!r}, episodes={len(self)})"


def load_trajectories(path: str | os.PathLike[str]) -> list[Trajectory]:
    """All trajectories from a single trajectory ``.npz`` file or a dataset directory."""
    path = Path(path)
    if path.is_dir():
        return list(DatasetReader(path))
    if path.is_file():
        return [Trajectory.load(path)]
    raise FileNotFoundError(f"no trajectory file or dataset directory at {path}")
