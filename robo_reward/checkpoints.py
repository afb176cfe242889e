"""Checkpoints: one safetensors file of tensors plus a JSON envelope; never pickle.

Every model in robo_reward (the GRM, SAC/PPO policies, their optimizers) is saved through this
module, so there is one format to validate and one place that refuses bad files. A checkpoint is
a single ``.safetensors`` file whose string metadata holds:

``format``          always :data:`FORMAT`, so foreign safetensors files are told apart;
``format_version``  :data:`FORMAT_VERSION`; any other version is refused, never guessed at;
``kind``            what the tensors are (``"grm"``, ``"sac_policy"``, ``"optimizer"``, ...);
``config``          JSON: what is needed to rebuild the module before loading its weights;
``extra``           JSON: anything else the caller wants back (step counts, normaliser stats);
``sha256``          digest over every tensor's name, dtype, shape and bytes, so a flipped byte
                    in the data region is caught (safetensors itself only checks the header).
``envelope_sha256`` digest over the entries above, so a flipped byte in the config (a view
                    name, an action bound) is caught too. Files written before it existed lack it
                    and are still read; any other metadata key is refused.

Files are written atomically (temp file + rename), so a crash mid-save leaves the previous
checkpoint intact. Loading never goes through pickle: a ``torch.save`` file posing as a
checkpoint gets a clear error instead of code execution.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from robo_reward.data.atomic import atomic_path

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "CheckpointError",
    "LoadedWeights",
    "load_optimizer",
    "load_weights",
    "save_optimizer",
    "save_weights",
    "tensor_digest",
]

FORMAT = "robo_reward.checkpoint"
FORMAT_VERSION = 1
OPTIMIZER_KIND = "optimizer"

_REQUIRED_KEYS = ("format", "format_version", "kind", "config", "extra", "sha256")
_ENVELOPE_KEY = "envelope_sha256"
_PICKLE_PROTO = b"\x80"
_ZIP_MAGIC = b"PK"


class CheckpointError(ValueError):
    """A file is not a valid robo_reward checkpoint of the expected kind/version."""


@dataclass(frozen=True)
class LoadedWeights:
    """What :func:`load_weights` returns: the tensors and the envelope they were saved with."""

    tensors: dict[str, torch.Tensor]
    """Tensors by name, on CPU, as saved."""
    kind: str
    """What the tensors are, as given to :func:`save_weights`."""
    config: dict[str, Any]
    """JSON-decoded config (tuples come back as lists)."""
    extra: dict[str, Any]
    """JSON-decoded extra data."""


# --------------------------------------------------------------------------- hashing


def tensor_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """Hex SHA-256 over each tensor (sorted by name): its name, dtype, shape and raw bytes.

    The per-tensor header is a JSON line, so names, dtypes and shapes cannot run into each
    other; the byte length follows from dtype and shape.
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        header = json.dumps([name, str(tensor.dtype), list(tensor.shape)])
        digest.update(header.encode("utf-8") + b"\n")
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _envelope_digest(meta: Mapping[str, str]) -> str:
    """Hex SHA-256 over the required metadata entries (the tensor digest among them)."""
    text = json.dumps([[key, meta[key]] for key in _REQUIRED_KEYS])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- JSON checks


def _check_json(value: Any, where: str) -> None:
    """Refuse what JSON would silently change or cannot hold, naming where it sits.

    ``json.dumps`` turns int keys into strings and NaN into a non-standard token; both would
    come back different from what was saved, so they are errors here rather than surprises later.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not allowed (JSON has no NaN or infinity)")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(
                    f"{where}: key {key!r} is a {type(key).__name__}; JSON keys must be str"
                )
            _check_json(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]")
        return
    raise ValueError(
        f"{where}: a {type(value).__name__} is not JSON-serialisable; "
        "convert it to str, int, float, bool, None, list or dict"
    )


def _dump_json(value: Mapping[str, Any], where: str) -> str:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(value).__name__}")
    _check_json(value, where)
    return json.dumps(dict(value), allow_nan=False, sort_keys=True)


# --------------------------------------------------------------------------- weights


def _prepare_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies.

    Cloning is what lets tied weights save (safetensors refuses tensors sharing storage) and
    decouples the file from a training loop that keeps mutating the parameters.
    """
    if not isinstance(tensors, Mapping):
        raise ValueError(f"tensors must be a mapping of name -> tensor, got {type(tensors)}")
    prepared: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"tensor names must be non-empty str, got {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"tensor {name!r} is a {type(tensor).__name__}, not a torch.Tensor")
        if tensor.layout is not torch.strided:
            raise ValueError(f"tensor {name!r} has layout {tensor.layout}; only dense tensors save")
        prepared[name] = tensor.detach().to("cpu").contiguous().clone()
    return prepared


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    """The one call that writes bytes (a seam for fault-injection tests).

    The file is serialised in memory and written here rather than with ``save_file``, which
    writes a hidden temporary file of its own (left behind by a kill) with mode 0600 and
    reports a full disk as a ``SafetensorError`` instead of an ``OSError``.
    """
    data = safetensors.torch.save(tensors, metadata=meta)
    with open(path, "wb") as handle:
        handle.write(data)


def save_weights(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    *,
    kind: str,
    config: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``tensors`` with their ``kind``, ``config`` and ``extra`` atomically to ``path``.

    Everything is validated before the first byte is written, so a bad argument never replaces
    a good checkpoint. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty str, got {kind!r}")
    config_json = _dump_json(config, "config")
    extra_json = _dump_json({} if extra is None else extra, "extra")
    prepared = _prepare_tensors(tensors)
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        "config": config_json,
        "extra": extra_json,
        "sha256": tensor_digest(prepared),
    }
    meta[_ENVELOPE_KEY] = _envelope_digest(meta)
    target = Path(path)
    with atomic_path(target) as tmp:
        _write_safetensors(tmp, prepared, meta)
    return target


def _sniff(path: Path) -> None:
    """Refuse what is plainly not a safetensors file, with a message naming what it is.

    A safetensors file starts with a little-endian u64 header length followed by ``{``; the
    check comes first because a header length can itself start with byte 0x80 or "PK".
    """
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: is empty (an interrupted copy?); not a checkpoint")
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) == 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 8 + header_len <= size:
            return
    if head.startswith(_PICKLE_PROTO) or head.startswith(_ZIP_MAGIC):
        raise CheckpointError(
            f"{path}: is a pickle / torch.save file, not a robo_reward checkpoint; robo_reward "
            "never loads pickles (they can run arbitrary code). Re-save the weights with "
            "robo_reward.checkpoints.save_weights from a trusted environment."
        )
    raise CheckpointError(
        f"{path}: is not a safetensors file (truncated, corrupt, or another format)"
    )


def _parse_json(meta: Mapping[str, str], key: str, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(meta[key])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: metadata {key!r} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: metadata {key!r} must be a JSON object")
    return value


def _check_envelope(meta: Mapping[str, str] | None, path: Path, kind: str | None) -> None:
    """Format, version and kind, in that order: the most basic mismatch is the one reported."""
    meta = meta or {}
    fmt = meta.get("format")
    if fmt != FORMAT:
        raise CheckpointError(
            f"{path}: is a safetensors file but not a robo_reward checkpoint "
            f"(metadata format={fmt!r}, expected {FORMAT!r})"
        )
    version = meta.get("format_version")
    if version != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{path}: has checkpoint format version {version!r}; this robo_reward reads "
            f"version {FORMAT_VERSION}. Load it with the robo_reward release that wrote it "
            "and re-save, or retrain."
        )
    missing = [key for key in _REQUIRED_KEYS if key not in meta]
    if missing:
        raise CheckpointError(f"{path}: checkpoint metadata lacks {missing}")
    unknown = sorted(set(meta) - {*_REQUIRED_KEYS, _ENVELOPE_KEY})
    if unknown:
        raise CheckpointError(
            f"{path}: checkpoint metadata has unknown entries {unknown} (corrupted, or written "
            "by another tool)"
        )
    if kind is not None and meta["kind"] != kind:
        raise CheckpointError(
            f"{path}: holds a {meta['kind']!r} checkpoint, but a {kind!r} checkpoint was expected"
        )


def load_weights(path: str | os.PathLike[str], *, kind: str | None = None) -> LoadedWeights:
    """Read and verify a file written by :func:`save_weights`.

    Raises :class:`CheckpointError` for anything that is not an intact checkpoint of this
    format version (and of ``kind``, when given); :class:`FileNotFoundError` if it is missing.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    _sniff(path)
    try:
        with safetensors.safe_open(os.fspath(path), framework="pt") as handle:
            meta = handle.metadata()
            _check_envelope(meta, path, kind)
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except safetensors.SafetensorError as exc:
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({exc})") from None
    config = _parse_json(meta, "config", path)
    extra = _parse_json(meta, "extra", path)
    if _ENVELOPE_KEY in meta and meta[_ENVELOPE_KEY] != _envelope_digest(meta):
        raise CheckpointError(
            f"{path}: the metadata (kind, config or extra) was modified or corrupted "
            "(envelope sha256 mismatch); restore the checkpoint from a good copy"
        )
    if tensor_digest(tensors) != meta["sha256"]:
        raise CheckpointError(
            f"{path}: tensors were modified or corrupted (sha256 mismatch); "
            "restore the checkpoint from a good copy"
        )
    return LoadedWeights(tensors=tensors, kind=meta["kind"], config=config, extra=extra)


# --------------------------------------------------------------------------- optimizers
#
# An optimizer state dict is nested dicts (with int keys), lists, tuples, numbers and tensors.
# It is stored as a JSON skeleton in ``config`` in which every dict, tuple, tensor and
# non-finite float is a one-key tagged object, so int keys, tuples (AdamW's betas) and tensor
# vs float "step" all come back exactly as they were.


def load_module(
    path: str | os.PathLike[str], kind: str, config_class: type, build: Any, what: str
) -> torch.nn.Module:
    """A module rebuilt from a checkpoint of ``kind``: its stored config (a ``config_class``
    dataclass) is validated, ``build(config)`` makes the module, the tensors must fit it exactly.
    Returns the module in eval mode, with ``checkpoint_extra`` holding the stored ``extra``."""
    from robo_reward.config import ConfigError, config_from_dict

    loaded = load_weights(path, kind=kind)
    try:
        config = config_from_dict(config_class, loaded.config, source=str(path))
    except (ConfigError, ValueError) as error:
        raise CheckpointError(f"{path}: the stored {what} config is invalid: {error}") from error
    check_fit(path, build, config, loaded.tensors, what)
    module = build(config)
    try:
        module.load_state_dict(loaded.tensors, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: tensors do not fit the stored config: {error}") from error
    module.checkpoint_extra = loaded.extra
    return module.eval()


def check_fit(
    path: str | os.PathLike[str],
    build: Any,
    config: Any,
    tensors: Mapping[str, torch.Tensor],
    what: str,
) -> None:
    """Refuse tensors that do not match, name for name, the shapes and dtypes of the module
    ``build(config)`` makes. It is built on the meta device, so a config asking for an absurd
    size costs no memory, and nothing is cast: a float64 tensor is not quietly made float32."""
    try:
        with torch.device("meta"):
            skeleton = build(config)
    except (RuntimeError, ValueError, TypeError, OverflowError) as error:
        raise CheckpointError(
            f"{path}: cannot build the {what} its config describes: {error}"
        ) from error
    expected = skeleton.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{name} is {tensors[name].dtype} {tuple(tensors[name].shape)}, the {what} needs "
        f"{expected[name].dtype} {tuple(expected[name].shape)}"
        for name in sorted(set(expected) & set(tensors))
        if tensors[name].shape != expected[name].shape
        or tensors[name].dtype != expected[name].dtype
    ]
    problems = [f"missing tensors {missing[:5]}"] if missing else []
    problems += [f"unexpected tensors {unexpected[:5]}"] if unexpected else []
    problems += wrong[:5]
    if problems:
        raise CheckpointError(
            f"{path}: tensors do not fit the stored {what} config: {'; '.join(problems)}"
        )


def _encode(value: Any, where: str, tensors: dict[str, torch.Tensor]) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, torch.Tensor):
        if where in tensors:
            raise ValueError(f"optimizer state: two entries map to tensor name {where!r}")
        tensors[where] = value
        return {"__tensor__": where}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{where}/{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{where}/{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {
            "__dict__": [
                [_encode(k, f"{where}/key", tensors), _encode(v, f"{where}/{k}", tensors)]
                for k, v in value.items()
            ]
        }
    raise ValueError(f"optimizer state {where}: cannot store a {type(value).__name__}")


def _decode(value: Any, tensors: Mapping[str, torch.Tensor], used: set[str]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, tensors, used) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise CheckpointError(f"optimizer skeleton: malformed entry {value!r:.80}")
    ((tag, body),) = value.items()
    if tag == "__tensor__":
        if body not in tensors:
            raise CheckpointError(f"optimizer skeleton names missing tensor {body!r}")
        used.add(body)
        return tensors[body]
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__tuple__" and isinstance(body, list):
        return tuple(_decode(v, tensors, used) for v in body)
    if tag == "__dict__" and isinstance(body, list):
        out: dict[Any, Any] = {}
        for pair in body:
            if not isinstance(pair, list) or len(pair) != 2:
                raise CheckpointError(f"optimizer skeleton: malformed dict entry {pair!r:.80}")
            key = _decode(pair[0], tensors, used)
            try:
                out[key] = _decode(pair[1], tensors, used)
            except TypeError:
                raise CheckpointError(f"optimizer skeleton: unhashable key {key!r:.80}") from None
        return out
    raise CheckpointError(f"optimizer skeleton: unknown tag {tag!r}")


def _optimizer_class(optimizer: torch.optim.Optimizer) -> str:
    cls = type(optimizer)
    return f"{cls.__module__}.{cls.__qualname__}"


def save_optimizer(
    path: str | os.PathLike[str],
    optimizer: torch.optim.Optimizer,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``optimizer.state_dict()`` atomically as a checkpoint of kind ``"optimizer"``.

    Resuming training needs the moments and step counts too, not only the weights; this keeps
    them in the same pickle-free format.
    """
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(optimizer.state_dict(), "state_dict", tensors)
    config = {"optimizer": _optimizer_class(optimizer), "state_dict": skeleton}
    return save_weights(path, tensors, kind=OPTIMIZER_KIND, config=config, extra=extra)


def _group_sizes(state_dict: Mapping[str, Any]) -> list[int]:
    return [len(group["params"]) for group in state_dict["param_groups"]]


def load_optimizer(
    path: str | os.PathLike[str], optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore a file written by :func:`save_optimizer` into ``optimizer``; return its extra.

    The optimizer must be built the same way as the saved one (same class, same parameter
    groups with the same number of parameters); otherwise :class:`CheckpointError`.
    """
    path = Path(path)
    loaded = load_weights(path, kind=OPTIMIZER_KIND)
    saved_class = loaded.config.get("optimizer")
    if saved_class != _optimizer_class(optimizer):
        raise CheckpointError(
            f"{path}: holds {saved_class} state, but the optimizer is {_optimizer_class(optimizer)}"
        )
    used: set[str] = set()
    state_dict = _decode(loaded.config.get("state_dict"), loaded.tensors, used)
    if (
        not isinstance(state_dict, dict)
        or not isinstance(state_dict.get("state"), dict)
        or not isinstance(state_dict.get("param_groups"), list)
        or not all(isinstance(g, dict) and "params" in g for g in state_dict["param_groups"])
    ):
        raise CheckpointError(f"{path}: optimizer state_dict is malformed")
    unused = sorted(set(loaded.tensors) - used)
    if unused:
        raise CheckpointError(f"{path}: tensors {unused[:5]} are not referenced by the state")
    saved_sizes, current_sizes = _group_sizes(state_dict), _group_sizes(optimizer.state_dict())
    if saved_sizes != current_sizes:
        raise CheckpointError(
            f"{path}: saved parameter groups have sizes {saved_sizes}, the optimizer's have "
            f"{current_sizes}; build the optimizer over the same parameters as when saving"
        )
    try:
        optimizer.load_state_dict(state_dict)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(
            f"{path}: optimizer state does not fit this optimizer ({exc})"
        ) from exc
    return loaded.extra
