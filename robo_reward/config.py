"""Typed configuration: YAML presets loaded into dataclasses, overridable from the command line.

A config is a (possibly nested) dataclass. Values come, in increasing priority, from the
dataclass defaults, one YAML file (usually a preset under ``configs/``), and ``key=value``
overrides given on the command line. Every value is checked against its field's annotation.
Anything that cannot be used as written (an unknown key, a wrong type, NaN, malformed YAML)
raises :class:`ConfigError` naming the key, where it came from and, for a misspelt key, the
closest valid one. Nothing is coerced behind the user's back or replaced by a default.

YAML is read with YAML 1.2 scalar rules rather than PyYAML's YAML 1.1 ones, so ``yes``/``on``
stay strings, ``1e-3`` is a float, ``010`` is ten and ``2024-01-01`` is a string.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import math
import os
import re
import reprlib
import types
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache
from pathlib import Path, PurePath
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

__all__ = [
    "ConfigError",
    "config_from_dict",
    "config_to_dict",
    "configs_dir",
    "list_presets",
    "load_config",
    "preset_path",
]

T = TypeVar("T")

_NONE_TYPE = type(None)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
"""Ints beyond int64 reach numpy and torch only to overflow there (seeds, sizes), so refuse them."""
_YAML_SUFFIXES = (".yaml", ".yml")


class ConfigError(ValueError):
    """A config file, key or value that cannot be used as written.

    The message is for the person who wrote the config: it names the key path (``env.image_size``),
    the source (a file, with its line when known, or the command line) and, for a misspelt key,
    the closest valid one. ``key`` and ``source`` carry the same facts for programs.
    """

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.source = source


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def configs_dir() -> Path:
    """The directory of YAML presets.

    Installed, the presets ship as the package ``robo_reward.configs``; in a checkout without
    that mapping they are the repository's ``configs/`` folder next to the package.
    """
    try:
        resource = importlib.resources.files("robo_reward.configs")
    except ModuleNotFoundError:
        resource = None
    if isinstance(resource, Path):
        return resource
    return Path(__file__).resolve().parents[1] / "configs"


def list_presets(kind: str) -> list[str]:
    """Names of the presets of one kind (``configs/<kind>/*.yaml``), sorted; empty if none."""
    kind_dir = configs_dir() / kind
    if not kind_dir.is_dir():
        return []
    return sorted(p.stem for p in kind_dir.glob("*.yaml") if p.is_file())


def preset_path(kind: str, name: str | Path) -> Path:
    """Resolve ``name`` to ``configs/<kind>/<name>.yaml``, or to a YAML file the user points at.

    A name containing a path separator or ending in ``.yaml``/``.yml`` (or given as a Path) is a
    file path and must exist; anything else is a preset name. Missing presets are reported with
    the list of available ones, so a typo on the command line is a one-step fix.
    """
    if not re.fullmatch(r"[\w-]+", kind):
        raise ConfigError(f"invalid preset kind {kind!r}: use a folder name under {configs_dir()}")
    text = str(name)
    if not text.strip():
        raise ConfigError(f"empty {kind} preset name; available: {_listing(list_presets(kind))}")
    try:
        candidate = Path(text).expanduser()
    except RuntimeError:  # "~someone" with no such user (or no home): keep it as written
        candidate = Path(text)
    looks_like_path = (
        isinstance(name, PurePath)
        or "/" in text
        or os.sep in text
        or candidate.suffix in _YAML_SUFFIXES
    )
    if looks_like_path:
        if candidate.is_file():
            return candidate
        raise ConfigError(
            f"config file not found: {candidate} "
            f"(or pass a {kind} preset name: {_listing(list_presets(kind))})",
            source=text,
        )
    root = configs_dir()
    kind_dir = root / kind
    if not kind_dir.is_dir():
        kinds = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
        kinds = sorted(k for k in kinds if k[0] not in "_.")
        raise ConfigError(f"no preset kind '{kind}' in {root}; available kinds: {_listing(kinds)}")
    preset = kind_dir / f"{text}.yaml"
    if preset.is_file():
        return preset
    available = list_presets(kind)
    message = f"no {kind} preset named '{text}' in {kind_dir}; available: {_listing(available)}"
    close = difflib.get_close_matches(text, available, n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    raise ConfigError(message, source=text)


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Build ``cls`` from its defaults, then the YAML file at ``path``, then ``overrides``.

    The file holds a mapping that may set any subset of keys (an empty file means all defaults);
    a nested section merges key by key into its defaults. Each override is ``key=value`` or
    ``section.key=value`` and its value is read as YAML: ``image_size=64``,
    ``cameras=[front,side]``, ``lr=3e-4``, ``checkpoint=null``. Later overrides win. A dotted
    override into a ``dict`` field sets one entry and keeps the others.
    """
    _require_dataclass(cls)
    if isinstance(overrides, str):
        raise TypeError("overrides must be a sequence of 'key=value' strings, not a single string")
    if path is None:
        cfg = _build(cls, {}, "", _Source(f"defaults of {cls.__name__}", cls))
    else:
        cfg = _load_file(cls, Path(path))
    for item in overrides:
        cfg = _apply_override(cls, cfg, item)
    return cfg


def config_from_dict(cls: type[T], data: Mapping[str, Any], source: str = "<dict>") -> T:
    """Build ``cls`` from plain data (as YAML or JSON would give), validated like a file."""
    _require_dataclass(cls)
    src = _Source(source, cls)
    if not isinstance(data, Mapping):
        raise src.error("", f"expected a mapping of keys to values, got {_describe_value(data)}")
    return _build(cls, data, "", src)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain data (dicts, lists, str, numbers, None) that ``config_from_dict`` turns back.

    Tuples become lists and paths strings, so the result can be written as YAML or JSON next to a
    checkpoint or a benchmark table.
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"config_to_dict expects a dataclass instance, got {type(cfg).__name__}")
    return _to_plain(cfg)


# --------------------------------------------------------------------------------------------
# Building and validating
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Source:
    """Where values come from, so that every error can say so."""

    name: str
    root: type
    lines: Mapping[str, int] = dataclasses.field(default_factory=dict)
    note: str = ""

    def where(self, key: str = "") -> str:
        parts = [self.name]
        if self.note:
            parts.append(self.note)
        if key in self.lines:
            parts.append(f"line {self.lines[key]}")
        return ", ".join(parts)

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {message}", key=key or None, source=self.name)


def _require_dataclass(cls: Any) -> None:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"expected a dataclass type, got {cls!r}")


@cache
def _init_fields(cls: type) -> dict[str, dataclasses.Field]:
    """Fields a config file may set: those the dataclass constructor accepts."""
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


@cache
def _field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations; get_type_hints makes ``from __future__ import annotations`` work."""
    hints = get_type_hints(cls)
    return {name: hints[name] for name in _init_fields(cls)}


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _build(cls: type[T], data: Mapping[Any, Any], prefix: str, src: _Source, base: Any = None) -> T:
    """Make a ``cls`` from ``data`` on top of ``base`` (an instance), or of the field defaults."""
    fields = _init_fields(cls)
    values: dict[str, Any] = {}
    for name, raw in data.items():
        if not isinstance(name, str):
            where = f"under '{prefix}'" if prefix else "at the top level"
            raise src.error(prefix, f"keys must be strings, got {_describe_value(name)} {where}")
        key = _join(prefix, name)
        if name not in fields:
            raise src.error(key, f"unknown key '{key}'; {_suggest(cls, name, prefix, src.root)}")
        current = getattr(base, name) if base is not None else _default(fields[name])
        values[name] = _convert(raw, _field_types(cls)[name], key, src, current)

    if base is None:
        missing = [
            _join(prefix, n)
            for n, f in fields.items()
            if n not in values and _default(f) is dataclasses.MISSING
        ]
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            plural = "s" if len(missing) > 1 else ""
            raise src.error(prefix, f"missing required key{plural} {names}")
    try:
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except ConfigError:
        raise
    except ValueError as exc:  # a __post_init__ check
        label = f"'{prefix}'" if prefix else cls.__name__
        raise src.error(prefix, f"invalid {label}: {exc}") from exc


def _convert(value: Any, tp: Any, key: str, src: _Source, current: Any = None) -> Any:
    """Check ``value`` against annotation ``tp``; return it in annotated form (tuple, Path...)."""
    if tp is Any or tp is object:
        return value
    if tp is _NONE_TYPE:
        if value is None:
            return None
        raise _mismatch(value, tp, key, src)

    origin, args = get_origin(tp), get_args(tp)
    if origin is Union or origin is types.UnionType:
        return _convert_union(value, tp, key, src, current)
    if origin is Literal:
        return _convert_literal(value, args, key, src)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return _build(tp, value, key, src, current if isinstance(current, tp) else None)
        raise _mismatch(value, tp, key, src)

    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _mismatch(value, tp, key, src, hint="write true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise src.error(
                    key, f"'{key}' must fit in a 64-bit integer, got {_describe_value(value)}"
                )
            return int(value)
        raise _mismatch(value, tp, key, src)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
            if not math.isfinite(number):
                raise src.error(key, f"'{key}' must be a finite number, got {number}")
            return number
        raise _mismatch(value, tp, key, src)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _mismatch(value, tp, key, src, hint=_quote_hint(value))
    if isinstance(tp, type) and issubclass(tp, PurePath):
        if isinstance(value, PurePath) or (isinstance(value, str) and value):
            return tp(value)
        raise _mismatch(value, tp, key, src, hint=_quote_hint(value))
    if isinstance(tp, type) and issubclass(tp, Enum):
        if isinstance(value, tp):
            return value
        try:
            return tp(value)
        except ValueError:
            raise _mismatch(value, tp, key, src) from None

    if tp in (list, tuple) or origin in (list, tuple):
        return _convert_sequence(value, tp, key, src)
    if tp is dict or origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _mismatch(value, tp, key, src)
        key_tp, value_tp = args or (Any, Any)
        return {
            _convert(k, key_tp, f"{key} (key {k!r})", src): _convert(
                v, value_tp, _join(key, str(k)), src
            )
            for k, v in value.items()
        }
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _mismatch(value, tp, key, src)
    raise TypeError(f"config field '{key}' has an annotation the loader does not support: {tp!r}")


def _convert_union(value: Any, tp: Any, key: str, src: _Source, current: Any) -> Any:
    arms = get_args(tp)
    if value is None and _NONE_TYPE in arms:
        return None
    errors: list[ConfigError] = []
    for arm in arms:
        if arm is _NONE_TYPE:
            continue
        try:
            return _convert(value, arm, key, src, current)
        except ConfigError as exc:
            errors.append(exc)
    if len(errors) == 1:  # Optional[X]: X's own message is the most specific one
        raise errors[0]
    raise _mismatch(value, tp, key, src)


def _convert_literal(value: Any, choices: tuple[Any, ...], key: str, src: _Source) -> Any:
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return choice
    message = (
        f"'{key}' must be one of {', '.join(_show(c) for c in choices)}, "
        f"got {_describe_value(value)}"
    )
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [c for c in choices if isinstance(c, str)], n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
    raise src.error(key, message)


def _convert_sequence(value: Any, tp: Any, key: str, src: _Source) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise _mismatch(value, tp, key, src, hint="write a list such as [a, b]")
    args = get_args(tp)
    if (get_origin(tp) or tp) is list:
        item_tp = args[0] if args else Any
        return [_convert(v, item_tp, f"{key}[{i}]", src) for i, v in enumerate(value)]
    if not args:
        return tuple(value)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(v, args[0], f"{key}[{i}]", src) for i, v in enumerate(value))
    if len(value) != len(args):
        raise src.error(
            key,
            f"'{key}' expects {_describe_type(tp)} ({len(args)} items), got {len(value)} items",
        )
    pairs = enumerate(zip(value, args, strict=True))
    return tuple(_convert(v, a, f"{key}[{i}]", src) for i, (v, a) in pairs)


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


def _show(value: Any) -> str:
    """A value as it would be written in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return repr(value.value)
    return repr(value)


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxstring, _SHORT_REPR.maxother = 3, 60, 60


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    kinds = {bool: "bool", int: "int", float: "float", str: "str", list: "list", tuple: "list"}
    kind = kinds.get(type(value), "mapping" if isinstance(value, Mapping) else type(value).__name__)
    # A bounded repr: a YAML alias bomb is a small file but a list of billions of items.
    text = _SHORT_REPR.repr(value) if isinstance(value, (list, tuple, Mapping)) else _show(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


def _describe_type(tp: Any) -> str:
    if tp is _NONE_TYPE:
        return "null"
    if tp is Any or tp is object:
        return "any value"
    origin, args = get_origin(tp), get_args(tp)
    if origin is Union or origin is types.UnionType:
        names = [_describe_type(a) for a in args if a is not _NONE_TYPE]
        return " or ".join(names + (["null"] if _NONE_TYPE in args else []))
    if origin is Literal:
        return "one of " + ", ".join(_show(a) for a in args)
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({tp.__name__})"
    if tp is list or origin is list:
        return f"a list of {_describe_type(args[0])}" if args else "a list"
    if tp is tuple or origin is tuple:
        if not args:
            return "a list"
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe_type(args[0])}"
        return "a list [" + ", ".join(_describe_type(a) for a in args) + "]"
    if tp is dict or origin in (dict, Mapping):
        if not args:
            return "a mapping"
        return f"a mapping of {_describe_type(args[0])} to {_describe_type(args[1])}"
    if isinstance(tp, type) and issubclass(tp, PurePath):
        return "a path"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(_show(m) for m in tp)
    return getattr(tp, "__name__", repr(tp))


def _mismatch(value: Any, tp: Any, key: str, src: _Source, hint: str = "") -> ConfigError:
    message = f"'{key}' expects {_describe_type(tp)}, got {_describe_value(value)}"
    return src.error(key, f"{message}; {hint}" if hint else message)


def _quote_hint(value: Any) -> str:
    if isinstance(value, (bool, int, float)):
        return f'quote it ("{_show(value)}") to keep it a string'
    return ""


def _suggest(cls: type, name: str, prefix: str, root: type) -> str:
    """'did you mean ...?' for a misspelt or misplaced key, else the valid keys at that level."""
    paths = _key_paths(root)
    elsewhere = [p for p in paths if p.rsplit(".", 1)[-1] == name]
    if elsewhere:
        return f"did you mean '{elsewhere[0]}'?"
    local = list(_init_fields(cls))
    close = _closest(name, local)
    if close:
        return f"did you mean '{close}'?"
    by_leaf = {p.rsplit(".", 1)[-1]: p for p in reversed(paths)}
    close = _closest(name, list(by_leaf))
    if close:
        return f"did you mean '{by_leaf[close]}'?"
    where = f" under '{prefix}'" if prefix else ""
    return f"valid keys{where}: {_listing(local)}"


def _closest(name: str, candidates: list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _key_paths(cls: type, prefix: str = "", seen: frozenset[type] = frozenset()) -> list[str]:
    """Every dotted key of a config class, nested sections included."""
    paths: list[str] = []
    for name, tp in _field_types(cls).items():
        key = _join(prefix, name)
        paths.append(key)
        inner = _unwrap_optional(tp)
        if dataclasses.is_dataclass(inner) and inner not in seen:
            paths.extend(_key_paths(inner, key, seen | {cls}))
    return paths


def _unwrap_optional(tp: Any) -> Any:
    """``X`` for ``Optional[X]``/``X | None``; ``tp`` itself otherwise."""
    if get_origin(tp) in (Union, types.UnionType):
        arms = [a for a in get_args(tp) if a is not _NONE_TYPE]
        if len(arms) == 1:
            return arms[0]
    return tp


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return _to_plain(value.value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"cannot write a {type(value).__name__} ({value!r}) as a config value")


# --------------------------------------------------------------------------------------------
# Command-line overrides
# --------------------------------------------------------------------------------------------

_OVERRIDE_KEY = re.compile(r"[^\s.=\[\]]+(?:\.[^\s.=\[\]]+)*")


def _apply_override(cls: type[T], cfg: T, item: str) -> T:
    """Apply one ``key=value`` on top of ``cfg``."""
    if not isinstance(item, str):
        raise TypeError(f"an override must be a 'key=value' string, got {item!r}")
    src = _Source("command line", cls, note=f"override '{item}'")
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not _OVERRIDE_KEY.fullmatch(key):
        raise src.error("", "an override must look like key=value or section.key=value")
    value = _parse_value(text, key, src)
    data = _override_data(cls, cfg, key.split("."), value, "", src)
    return _build(cls, data, "", src, base=cfg)


def _override_data(
    cls: type, cfg: Any, parts: list[str], value: Any, prefix: str, src: _Source
) -> dict[str, Any]:
    """Turn ``a.b.c`` and a value into nested data for _build; into a dict, set only one entry."""
    name, rest = parts[0], parts[1:]
    key = _join(prefix, name)
    types_ = _field_types(cls)
    if name not in types_:
        raise src.error(key, f"unknown key '{key}'; {_suggest(cls, name, prefix, src.root)}")
    if not rest:
        return {name: value}
    current = getattr(cfg, name)
    inner = _unwrap_optional(types_[name])
    if dataclasses.is_dataclass(inner):
        if current is None:  # an unset optional section: build it from its defaults
            return {name: _nest(rest, value)}
        return {name: _override_data(inner, current, rest, value, key, src)}
    if inner is dict or get_origin(inner) in (dict, Mapping):
        return {name: _set_in(current if current is not None else {}, rest, value)}
    raise src.error(
        key,
        f"'{key}' is {_describe_type(types_[name])}, not a section, "
        f"so it has no key '{_join(key, rest[0])}'",
    )


def _nest(parts: list[str], value: Any) -> Any:
    for part in reversed(parts):
        value = {part: value}
    return value


def _set_in(mapping: Any, parts: list[str], value: Any) -> dict[Any, Any]:
    if dataclasses.is_dataclass(mapping) and not isinstance(mapping, type):
        mapping = config_to_dict(mapping)
    updated = dict(mapping) if isinstance(mapping, Mapping) else {}
    head, rest = parts[0], parts[1:]
    updated[head] = _set_in(updated.get(head), rest, value) if rest else value
    return updated


def _parse_value(text: str, key: str, src: _Source) -> Any:
    try:
        return yaml.load(text, Loader=_YamlLoader)  # _YamlLoader is a SafeLoader
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        problem = _yaml_problem(exc)
        raise src.error(key, f"cannot read the value of '{key}' as YAML: {problem}") from None


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEPT_TAGS = ("tag:yaml.org,2002:null", _MERGE_TAG)


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars that rejects duplicate keys.

    Under PyYAML's YAML 1.1 rules ``on``/``no`` are booleans, ``1e-3`` is a string, ``010`` is
    eight and a repeated key silently wins; each is a surprise in a config file.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag in _KEPT_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found duplicate key '{key_node.value}'",
                        key_node.start_mark,
                    )
                seen.add(ident)
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    return sign * int(digits, 0 if digits.startswith(("0o", "0x")) else 10)


_YamlLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_YamlLoader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_YamlLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_YamlLoader.add_constructor(_INT_TAG, _construct_int)


def _load_file(cls: type[T], path: Path) -> T:
    data, lines = _read_yaml(path)
    src = _Source(str(path), cls, lines)
    if data is None:  # an empty file (or only comments): all defaults
        data = {}
    if not isinstance(data, Mapping):
        raise src.error(
            "", f"the top level must be a mapping of keys to values, got {_describe_value(data)}"
        )
    return _build(cls, data, "", src)


def _read_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    """The document in ``path`` and the line of every key in it (for error messages)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}", source=str(path)) from None
    loader = None
    try:
        loader = _YamlLoader(text)  # checks for unprintable characters (binary files) at once
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = _key_lines(node)
        return loader.construct_document(node), lines
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        if isinstance(exc, yaml.reader.ReaderError):
            where = f"{path} (a binary file?), line {text.count(chr(10), 0, exc.position) + 1}"
        raise ConfigError(
            f"{where}: cannot parse YAML: {_yaml_problem(exc)}", source=str(path)
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_problem(exc: Exception) -> str:
    """PyYAML's problem, with the line where the unfinished construct began (often the culprit)."""
    if isinstance(exc, RecursionError):
        return "lists or mappings nested too deeply"
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    if not (isinstance(exc, yaml.MarkedYAMLError) and exc.problem):
        return str(exc)
    if not exc.context:
        return exc.problem
    mark = exc.context_mark
    started = f" started on line {mark.line + 1}" if mark is not None else ""
    return f"{exc.problem} ({exc.context}{started})"


def _key_lines(node: yaml.Node, prefix: str = "", seen: set[int] | None = None) -> dict[str, int]:
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias: already walked
        return {}
    seen.add(id(node))
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key = _join(prefix, key_node.value)
                lines[key] = key_node.start_mark.line + 1
                lines.update(_key_lines(value_node, key, seen))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}[{i}]"
            lines[key] = item.start_mark.line + 1
            lines.update(_key_lines(item, key, seen))
    return lines
