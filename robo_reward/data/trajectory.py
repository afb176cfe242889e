"""One demonstration episode as a frozen, validated dataclass, and its ``.npz`` file format.

The dataclass follows the ``imitation`` library's style: immutable, validated on construction,
so every consumer (reward-model training, perceptual rewards, benchmark plots, the ROS
recorder) can trust what it receives. The on-disk layout is documented in
``docs/data_format.md`` so that a file can be read with numpy alone.
"""

from __future__ import annotations

import json
import numbers
import os
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from robo_reward.data.atomic import atomic_open
from robo_reward.data.progress import keyframe_progress as _keyframe_progress

__all__ = [
    "FORMAT_VERSION",
    "TRAJECTORY_SCHEMA",
    "VARIANTS",
    "DataFormatError",
    "Trajectory",
    "trajectory_from_arrays",
    "trajectory_to_arrays",
]

TRAJECTORY_SCHEMA = "robo_reward.trajectory"
FORMAT_VERSION = 1
VARIANTS = ("expert", "noisy", "perturbed", "failure", "recorded")
HEADER_KEY = "header"
VIEW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# Optional per-frame / per-step float32 arrays: name -> (leading length is T+1?, ndim).
OPTIONAL_ARRAYS: dict[str, tuple[bool, int]] = {
    "progress": (True, 1),
    "achieved_goals": (True, 2),
    "desired_goals": (True, 2),
    "rewards": (False, 1),
}
PER_VIEW = ("frames", "depth", "view_valid")


class DataFormatError(ValueError):
    """A file or directory is not valid robo_reward data (corrupt, truncated, wrong version)."""


# --------------------------------------------------------------------------- validation


def _check_array(name: str, value: Any, dtype: type, ndim: int) -> np.ndarray:
    """Exact dtype and rank, no casting: a float64 action array is a bug upstream, not here."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray, got {type(value).__name__}")
    if value.dtype != np.dtype(dtype):
        raise ValueError(
            f"{name} must have dtype {np.dtype(dtype).name}, got {value.dtype.name} "
            f"(convert explicitly, e.g. .astype(np.{np.dtype(dtype).name}))"
        )
    if value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {value.shape}")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        bad = int(np.size(value) - np.isfinite(value).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return value


def _check_length(name: str, arr: np.ndarray, expected: int, what: str) -> None:
    if arr.shape[0] != expected:
        raise ValueError(f"{name} must have {what}={expected} entries, got shape {arr.shape}")


def _frozen(arr: np.ndarray) -> np.ndarray:
    """A read-only array nobody else can write through (copy unless already sealed)."""
    if arr.flags.writeable or arr.base is not None:
        arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    return int(value)


def _check_view_name(name: str, view: Any) -> str:
    if not isinstance(view, str) or not VIEW_NAME.match(view):
        raise ValueError(
            f"{name}: view name {view!r} must be a non-empty string of letters, digits, "
            "'_', '.', '-' (it becomes part of a file key)"
        )
    return view


def _check_view_mapping(name: str, value: Any, views: tuple[str, ...] | None) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping view name -> array, got {type(value).__name__}")
    out = {_check_view_name(name, k): v for k, v in value.items()}
    if views is not None:
        unknown = sorted(set(out) - set(views))
        if unknown:
            raise ValueError(f"{name} has views {unknown} that are not in frames {list(views)}")
    return out


def _json_normalised(name: str, value: Any) -> Any:
    """JSON round trip: refuses what JSON cannot hold instead of silently changing it."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be JSON-serialisable (str keys; str/int/float/bool/None/lists/dicts; "
            f"finite floats; use .item() for numpy scalars): {exc}"
        ) from None
    if not _str_keys(value):
        raise ValueError(f"{name} must use string dict keys (JSON would turn them into strings)")
    return json.loads(text)


def _str_keys(value: Any) -> bool:
    """JSON silently turns int dict keys into strings; refuse them instead."""
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _str_keys(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_str_keys(v) for v in value)
    return True


def _check_keyframes(value: Any, num_steps: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"keyframes must be a tuple of ints, got {value!r}")
    keys = tuple(_check_int(f"keyframes[{i}]", k) for i, k in enumerate(value))
    if len(keys) < 2:
        raise ValueError(f"keyframes needs at least 2 entries (0 and T={num_steps}), got {keys}")
    if keys[0] != 0 or keys[-1] != num_steps:
        raise ValueError(
            f"keyframes must start at 0 and end at T={num_steps} (the last frame), got {keys}"
        )
    for i in range(1, len(keys)):
        if keys[i] <= keys[i - 1]:
            raise ValueError(f"keyframes must be strictly increasing, got {keys}")
    return keys


def _check_labels(value: Any, keyframes: tuple[int, ...] | None) -> tuple[str, ...]:
    if keyframes is None:
        raise ValueError("subtask_labels were given without keyframes; give both or neither")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"subtask_labels must be a tuple of strings, got {value!r}")
    labels = tuple(value)
    if len(labels) != len(keyframes) - 1:
        raise ValueError(
            f"subtask_labels must have one label per subtask: {len(keyframes) - 1} for "
            f"keyframes {keyframes}, got {len(labels)} labels {labels}"
        )
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label:
            raise ValueError(f"subtask_labels[{i}] must be a non-empty string, got {label!r}")
    return labels


# --------------------------------------------------------------------------- dataclass


@dataclass(frozen=True, eq=False, repr=False)
class Trajectory:
    """One episode: multi-view frames, actions, proprioception and optional annotations.

    ``T`` steps means ``T`` actions and ``T + 1`` observations (frames, states, timestamps).
    Every array is validated (exact dtype, shape, finite) and stored read-only.
    """

    frames: Mapping[str, np.ndarray]
    """View name -> uint8 ``(T+1, H, W, 3)``; views share ``T+1`` and may differ in H, W."""
    actions: np.ndarray
    """float32 ``(T, A)``: the action taken after observation t."""
    states: np.ndarray
    """float32 ``(T+1, S)``: proprioception (S may be 0)."""
    timestamps_ns: np.ndarray
    """int64 ``(T+1,)``, strictly increasing nanoseconds."""
    task: str
    """Task id, e.g. ``"push"``."""
    task_text: str = ""
    """Natural-language instruction, e.g. ``"push the block to the target"``."""
    success: bool = False
    variant: str = "expert"
    """One of ``VARIANTS``: how the episode was produced."""
    depth: Mapping[str, np.ndarray] = field(default_factory=dict)
    """View -> float32 ``(T+1, H, W)`` metres, finite and >= 0."""
    view_valid: Mapping[str, np.ndarray] = field(default_factory=dict)
    """View -> bool ``(T+1,)``; False where the camera frame was missing. Absent = all valid."""
    keyframes: tuple[int, ...] | None = None
    """Subtask boundaries ``(0, k1, ..., T)``: strictly increasing frame indices."""
    subtask_labels: tuple[str, ...] | None = None
    """One label per subtask (``len(keyframes) - 1``), e.g. ``("approach", "grasp")``."""
    progress: np.ndarray | None = None
    """float32 ``(T+1,)`` true progress in [0, 1] when the simulator knows it."""
    achieved_goals: np.ndarray | None = None
    """float32 ``(T+1, G)`` (goal-conditioned tasks, for HER)."""
    desired_goals: np.ndarray | None = None
    """float32 ``(T+1, G)``."""
    rewards: np.ndarray | None = None
    """float32 ``(T,)`` environment rewards."""
    seed: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable extras (stored as a JSON-normalised, read-only copy)."""

    def __post_init__(self) -> None:
        num_frames = self._validate_frames()
        self._validate_core(num_frames)
        self._validate_scalars()
        self._validate_per_view(num_frames)
        self._validate_annotations(num_frames)

    # -- validation steps (each sets normalised values through object.__setattr__)

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _validate_frames(self) -> int:
        frames = _check_view_mapping("frames", self.frames, None)
        if not frames:
            raise ValueError("frames must contain at least one camera view")
        num_frames = None
        for view, arr in frames.items():
            name = f"frames[{view!r}]"
            _check_array(name, arr, np.uint8, 4)
            if arr.shape[-1] != 3 or arr.shape[1] < 1 or arr.shape[2] < 1:
                raise ValueError(f"{name} must have shape (T+1, H, W, 3), got {arr.shape}")
            if num_frames is None:
                num_frames = arr.shape[0]
            elif arr.shape[0] != num_frames:
                raise ValueError(
                    f"all views must have the same number of frames: {name} has "
                    f"{arr.shape[0]}, the first view has {num_frames}"
                )
        assert num_frames is not None
        if num_frames < 2:
            raise ValueError(f"frames must hold at least 2 frames (one step), got {num_frames}")
        self._set("frames", MappingProxyType({v: _frozen(a) for v, a in frames.items()}))
        return num_frames

    def _validate_core(self, num_frames: int) -> None:
        num_steps = num_frames - 1
        actions = _check_array("actions", self.actions, np.float32, 2)
        _check_length("actions", actions, num_steps, "T")
        states = _check_array("states", self.states, np.float32, 2)
        _check_length("states", states, num_frames, "T+1")
        stamps = _check_array("timestamps_ns", self.timestamps_ns, np.int64, 1)
        _check_length("timestamps_ns", stamps, num_frames, "T+1")
        if not (np.diff(stamps) > 0).all():
            raise ValueError("timestamps_ns must be strictly increasing")
        self._set("actions", _frozen(actions))
        self._set("states", _frozen(states))
        self._set("timestamps_ns", _frozen(stamps))

    def _validate_scalars(self) -> None:
        if not isinstance(self.task, str) or not self.task:
            raise ValueError(f"task must be a non-empty string, got {self.task!r}")
        if not isinstance(self.task_text, str):
            raise ValueError(f"task_text must be a string, got {self.task_text!r}")
        if not isinstance(self.success, (bool, np.bool_)):
            raise ValueError(f"success must be a bool, got {self.success!r}")
        self._set("success", bool(self.success))
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.seed is not None:
            self._set("seed", _check_int("seed", self.seed))
        if not isinstance(self.metadata, Mapping):
            raise ValueError(f"metadata must be a mapping, got {type(self.metadata).__name__}")
        self._set("metadata", MappingProxyType(_json_normalised("metadata", dict(self.metadata))))

    def _validate_per_view(self, num_frames: int) -> None:
        views = tuple(self.frames)
        depth = _check_view_mapping("depth", self.depth, views)
        for view, arr in depth.items():
            name = f"depth[{view!r}]"
            _check_array(name, arr, np.float32, 3)
            expected = self.frames[view].shape[:3]
            if arr.shape != expected:
                raise ValueError(
                    f"{name} must have shape {expected} like its frames, got {arr.shape}"
                )
            if (arr < 0).any():
                raise ValueError(f"{name} must be >= 0 metres, found negative values")
        valid = _check_view_mapping("view_valid", self.view_valid, views)
        for view, arr in valid.items():
            name = f"view_valid[{view!r}]"
            _check_array(name, arr, np.bool_, 1)
            _check_length(name, arr, num_frames, "T+1")
        self._set("depth", MappingProxyType({v: _frozen(a) for v, a in depth.items()}))
        self._set("view_valid", MappingProxyType({v: _frozen(a) for v, a in valid.items()}))

    def _validate_annotations(self, num_frames: int) -> None:
        if self.keyframes is not None:
            self._set("keyframes", _check_keyframes(self.keyframes, num_frames - 1))
        if self.subtask_labels is not None:
            self._set("subtask_labels", _check_labels(self.subtask_labels, self.keyframes))
        for name, (per_frame, ndim) in OPTIONAL_ARRAYS.items():
            arr = getattr(self, name)
            if arr is None:
                continue
            _check_array(name, arr, np.float32, ndim)
            length = num_frames if per_frame else num_frames - 1
            _check_length(name, arr, length, "T+1" if per_frame else "T")
            self._set(name, _frozen(arr))
        if self.progress is not None and ((self.progress < 0) | (self.progress > 1)).any():
            raise ValueError(
                f"progress must lie in [0, 1], got min={float(self.progress.min())} "
                f"max={float(self.progress.max())}"
            )
        if self.achieved_goals is not None and self.desired_goals is not None:
            if self.achieved_goals.shape != self.desired_goals.shape:
                raise ValueError(
                    f"achieved_goals {self.achieved_goals.shape} and desired_goals "
                    f"{self.desired_goals.shape} must have the same shape"
                )

    # -- accessors

    @property
    def num_steps(self) -> int:
        """T: number of actions."""
        return int(self.actions.shape[0])

    @property
    def num_frames(self) -> int:
        """T + 1: number of observations."""
        return self.num_steps + 1

    @property
    def views(self) -> tuple[str, ...]:
        """Camera view names, in insertion order."""
        return tuple(self.frames)

    def valid_mask(self, view: str) -> np.ndarray:
        """bool ``(T+1,)``: where ``view`` had a frame (all True when not recorded)."""
        if view not in self.frames:
            raise KeyError(f"unknown view {view!r}; views are {self.views}")
        if view in self.view_valid:
            return self.view_valid[view]
        return np.ones(self.num_frames, dtype=bool)

    def subtasks(self) -> list[tuple[str, int, int]]:
        """``(label, start_frame, end_frame)`` per subtask; consecutive subtasks share a frame.

        Unlabelled keyframes get labels ``subtask_0``, ``subtask_1``, ...
        """
        keys = self._require_keyframes("subtasks()")
        labels = self.subtask_labels or tuple(f"subtask_{i}" for i in range(len(keys) - 1))
        return [(labels[i], keys[i], keys[i + 1]) for i in range(len(keys) - 1)]

    def keyframe_progress(self) -> np.ndarray:
        """Progress labels from keyframes (equal share per subtask), float32 ``(T+1,)``."""
        return _keyframe_progress(self._require_keyframes("keyframe_progress()"), self.num_frames)

    def _require_keyframes(self, what: str) -> tuple[int, ...]:
        if self.keyframes is None:
            raise ValueError(
                f"{what} needs keyframes, but this {self.task!r} trajectory has none "
                "(get them from a scripted expert or from perceptual step discovery)"
            )
        return self.keyframes

    # -- equality and display (numpy arrays defeat the dataclass defaults)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trajectory):
            return NotImplemented
        return all(
            _field_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
        )

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """Pickle via the constructor (read-only mapping proxies cannot be pickled).

        Needed by multiprocessing: DataLoader workers and parallel benchmark seeds.
        """
        kwargs = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("frames", "depth", "view_valid", "metadata"):
            kwargs[name] = dict(kwargs[name])
        return _rebuild, (kwargs,)

    def __repr__(self) -> str:
        shapes = {v: a.shape[1:3] for v, a in self.frames.items()}
        return (
            f"Trajectory(task={self.task!r}, variant={self.variant!r}, success={self.success}, "
            f"T={self.num_steps}, views={shapes}, keyframes={self.keyframes}, seed={self.seed})"
        )

    # -- files

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a single compressed ``.npz`` atomically (see ``docs/data_format.md``)."""
        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(f"cannot save trajectory: {path} is a directory")
        arrays = trajectory_to_arrays(self)
        with atomic_open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trajectory:
        """Read and validate a file written by :meth:`save` (never unpickles anything)."""
        arrays = read_npz(path)
        return trajectory_from_arrays(arrays, source=str(path))


def _rebuild(kwargs: dict[str, Any]) -> Trajectory:
    return Trajectory(**kwargs)


def _field_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b)
        )
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            return False
        return all(_field_equal(a[k], b[k]) for k in a)
    return bool(a == b)


# --------------------------------------------------------------------------- (de)serialisation


def _header(traj: Trajectory) -> dict[str, Any]:
    return {
        "schema": TRAJECTORY_SCHEMA,
        "format_version": FORMAT_VERSION,
        "task": traj.task,
        "task_text": traj.task_text,
        "success": traj.success,
        "variant": traj.variant,
        "seed": traj.seed,
        "keyframes": list(traj.keyframes) if traj.keyframes is not None else None,
        "subtask_labels": list(traj.subtask_labels) if traj.subtask_labels is not None else None,
        "views": list(traj.views),
        "depth_views": list(traj.depth),
        "view_valid_views": list(traj.view_valid),
        "optional_arrays": [n for n in OPTIONAL_ARRAYS if getattr(traj, n) is not None],
        "metadata": dict(traj.metadata),
    }


def trajectory_to_arrays(traj: Trajectory, prefix: str = "") -> dict[str, np.ndarray]:
    """Flat ``{key: array}`` for ``np.savez``; ``prefix`` namespaces episodes inside a shard."""
    header = json.dumps(_header(traj), allow_nan=False, ensure_ascii=False)
    arrays: dict[str, np.ndarray] = {f"{prefix}{HEADER_KEY}": np.array(header)}
    for view in traj.views:
        arrays[f"{prefix}frames/{view}"] = traj.frames[view]
    for view, arr in traj.depth.items():
        arrays[f"{prefix}depth/{view}"] = arr
    for view, arr in traj.view_valid.items():
        arrays[f"{prefix}view_valid/{view}"] = arr
    for name in ("actions", "states", "timestamps_ns", *OPTIONAL_ARRAYS):
        arr = getattr(traj, name)
        if arr is not None:
            arrays[f"{prefix}{name}"] = arr
    return arrays


def _parse_header(arrays: Mapping[str, np.ndarray], prefix: str, source: str) -> dict[str, Any]:
    key = f"{prefix}{HEADER_KEY}"
    if key not in arrays:
        raise DataFormatError(f"{source}: missing field {key!r}; not a robo_reward trajectory")
    raw = arrays[key]
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise DataFormatError(f"{source}: {key!r} must be a 0-d unicode string array")
    try:
        header = json.loads(str(raw[()]))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DataFormatError(f"{source}: {key!r} is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("schema") != TRAJECTORY_SCHEMA:
        raise DataFormatError(f"{source}: {key!r} is not a {TRAJECTORY_SCHEMA} header")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DataFormatError(f"{source}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise DataFormatError(
            f"{source}: trajectory format_version {version} is newer than this robo_reward "
            f"reads (up to {FORMAT_VERSION}); upgrade robo_reward"
        )
    required = (
        "task",
        "task_text",
        "success",
        "variant",
        "seed",
        "keyframes",
        "subtask_labels",
        "views",
        "depth_views",
        "view_valid_views",
        "optional_arrays",
        "metadata",
    )
    missing = [k for k in required if k not in header]
    if missing:
        raise DataFormatError(f"{source}: header is missing fields {missing}")
    return header


def trajectory_from_arrays(
    arrays: Mapping[str, np.ndarray], prefix: str = "", source: str = "<arrays>"
) -> Trajectory:
    """Inverse of :func:`trajectory_to_arrays`; errors name ``source`` and the missing key."""
    header = _parse_header(arrays, prefix, source)

    used = {f"{prefix}{HEADER_KEY}"}

    def get(key: str) -> np.ndarray:
        full = f"{prefix}{key}"
        if full not in arrays:
            raise DataFormatError(f"{source}: missing field {full!r}")
        used.add(full)
        return arrays[full]

    def per_view(group: str, views: Any) -> dict[str, np.ndarray]:
        if not isinstance(views, list):
            raise DataFormatError(f"{source}: header field for {group!r} must be a list")
        return {v: get(f"{group}/{v}") for v in views}

    optional = header["optional_arrays"]
    if (
        not isinstance(optional, list)
        or not all(isinstance(name, str) for name in optional)
        or not set(optional) <= set(OPTIONAL_ARRAYS)
    ):
        raise DataFormatError(f"{source}: unknown optional_arrays {optional!r}")
    kwargs: dict[str, Any] = {name: get(name) for name in optional}
    kwargs |= {
        "frames": per_view("frames", header["views"]),
        "depth": per_view("depth", header["depth_views"]),
        "view_valid": per_view("view_valid", header["view_valid_views"]),
        "actions": get("actions"),
        "states": get("states"),
        "timestamps_ns": get("timestamps_ns"),
    }
    # An array the header does not list would be dropped without a word (true progress lost to
    # an edited header, say): refuse the file instead.
    stray = sorted(key for key in arrays if key.startswith(prefix) and key not in used)
    if stray:
        raise DataFormatError(
            f"{source}: arrays {stray[:5]} are not listed in the header "
            "(an edited or mismatched header?)"
        )
    keyframes, labels = header["keyframes"], header["subtask_labels"]
    try:
        return Trajectory(
            task=header["task"],
            task_text=header["task_text"],
            success=header["success"],
            variant=header["variant"],
            seed=header["seed"],
            keyframes=tuple(keyframes) if isinstance(keyframes, list) else keyframes,
            subtask_labels=tuple(labels) if isinstance(labels, list) else labels,
            metadata=header["metadata"],
            **kwargs,
        )
    except DataFormatError:
        raise
    except ValueError as exc:
        raise DataFormatError(f"{source}: invalid trajectory: {exc}") from None


# --------------------------------------------------------------------------- safe npz reading

_PICKLE_START = (b"\x80", b"(", b"]", b"}", b"c")


def _sniff(path: Path) -> None:
    """Explain what a file is when it is not a readable zip, instead of a numpy traceback."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise DataFormatError(f"{path}: empty file, not an .npz archive")
    if head.startswith(b"PK"):
        raise DataFormatError(
            f"{path}: truncated or corrupted .npz (zip archive has no readable directory; "
            "was the write interrupted?)"
        )
    if head.startswith(b"\x93NUMPY"):
        raise DataFormatError(f"{path}: a single .npy array, not an .npz archive")
    if head.startswith(_PICKLE_START):
        raise DataFormatError(f"{path}: looks like a pickle; refusing to load pickled data")
    raise DataFormatError(f"{path}: not an .npz (zip) archive")


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, read with ``allow_pickle=False`` and clear errors."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a directory; use DatasetReader or load_trajectories for datasets"
        )
    if not zipfile.is_zipfile(path):
        _sniff(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            foreign = [name for name in archive.zip.namelist() if not name.endswith(".npy")]
            if any(name.endswith(".pkl") for name in foreign):
                raise DataFormatError(
                    f"{path}: a torch.save / pickle archive (member {foreign[0]!r}), not an .npz; "
                    "refusing to load pickled data"
                )
            arrays = {key: archive[key] for key in archive.files}
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        # NotImplementedError: zipfile's word for a mangled version or compression field
        raise DataFormatError(f"{path}: truncated or corrupted .npz ({exc})") from None
    except MemoryError as exc:
        raise DataFormatError(
            f"{path}: an array in it does not fit in memory ({exc}); the file is corrupted "
            "(a mangled shape) or too large for this machine"
        ) from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataFormatError(f"{path}: contains pickled (object) arrays; refusing") from None
        raise DataFormatError(f"{path}: corrupted .npz member ({exc})") from None
    not_arrays = [key for key, value in arrays.items() if not isinstance(value, np.ndarray)]
    if not_arrays:
        raise DataFormatError(
            f"{path}: member {not_arrays[0]!r} is not a numpy array (.npy); not a robo_reward .npz"
        )
    return arrays
