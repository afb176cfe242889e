"""Bad config input (issue #9): every malformed file, key or value is a ConfigError naming the
key and where it came from; nothing else escapes, nothing is replaced by a default, and loading
never touches the file."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robo_reward.bench.nav import NavBenchConfig
from robo_reward.config import (
    ConfigError,
    _field_types,
    _key_paths,
    _unwrap_optional,
    config_from_dict,
    config_to_dict,
    load_config,
    preset_path,
)
from robo_reward.grm.adapt import AdaptConfig
from robo_reward.rl.runner import TrainConfig
from robo_reward.sim.demos import DemoConfig

CLASSES = (TrainConfig, AdaptConfig, NavBenchConfig, DemoConfig)
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values of every YAML/JSON type, wrong ones included: huge and negative ints, NaN and infinity,
# strings that name real tasks/views/arms, nested lists and mappings where scalars go.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["sac", "ppo", "reach", "push", "grm", "front", "expert", "small", "counts"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
NASTY_YAML = [
    "-1",
    "0",
    "nan",
    ".nan",
    ".inf",
    "-.inf",
    "1e400",
    "99999999999999999999999",
    "[1, 2]",
    "{a: 1}",
    "null",
    "[]",
    "{}",
    "yes",
    "0x7fffffffffffffffff",
    "&a [*a]",
    "!!python/object/apply:os.system ['true']",
    "[unclosed",
    "\x01",
    "'quoted",
]


def _nested(path: str, value: Any) -> dict[str, Any]:
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _merge(into: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    for key, value in data.items():
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _leaves(cls: type, data: dict[str, Any], prefix: str = ""):
    """(dotted key, value as given) for every non-section value in ``data``."""
    types = _field_types(cls)
    for name, value in data.items():
        inner = _unwrap_optional(types[name])
        if dataclasses.is_dataclass(inner) and isinstance(value, dict):
            yield from _leaves(inner, value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _lookup(plain: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        plain = plain[part]
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _named(error: ConfigError, keys: list[str]) -> bool:
    """The message names one of the keys that were set (a full dotted key or one of its parts:
    a cross-field check such as 'grm reward needs env.cameras' names the section)."""
    message = str(error)
    parts = {part.rstrip("s") for key in keys for part in key.split(".")}  # 'variant weights'

    return any(key in message for key in keys) or any(part in message for part in parts)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_random_data_gives_a_config_or_a_config_error_naming_the_key(cls: type) -> None:
    paths = _key_paths(cls)

    @PROPERTY
    @given(st.lists(st.tuples(st.sampled_from(paths), VALUES), min_size=1, max_size=3))
    def check(items: list[tuple[str, Any]]) -> None:
        data: dict[str, Any] = {}
        for path, value in items:
            _merge(data, _nested(path, value))
        keys = [path for path, _ in items]
        try:
            cfg = config_from_dict(cls, data, source="fuzz.yaml")
        except ConfigError as error:
            assert "fuzz.yaml" in str(error)
            assert _named(error, keys), f"{error} names none of {keys}"
            return
        # Accepted: every value set is in the config as written, none replaced by a default.
        plain = config_to_dict(cfg)
        for key, value in _leaves(cls, data):
            got = _lookup(plain, key)
            if isinstance(value, float) and isinstance(got, float):
                assert math.isfinite(value) and got == value, key
            else:
                assert got == _plain(value), key
        assert config_from_dict(cls, plain) == cfg

    check()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_random_overrides_give_a_config_or_a_config_error_naming_the_override(cls: type) -> None:
    paths = _key_paths(cls) + ["nope", "steps.x", "env..cameras", ""]

    @PROPERTY
    @given(st.sampled_from(paths), st.text(max_size=12) | st.sampled_from(NASTY_YAML))
    def check(key: str, text: str) -> None:
        item = f"{key}={text}"
        try:
            load_config(cls, None, [item])
        except ConfigError as error:
            assert error.source == "command line"
            assert f"override '{item}'" in str(error)

    check()


@PROPERTY
@given(
    st.binary(max_size=200)
    | st.text(max_size=120).map(lambda s: s.encode("utf-8", "surrogatepass"))
    | st.sampled_from(
        [
            b"\xff\xfe\x00\x00",
            b"steps: 10\nsteps: 20\n",
            b"- steps\n- 10\n",
            b"just a string",
            b"42",
            b"steps: [1\n",
            b"steps: !!python/object/apply:os.system ['true']\n",
            b"\x89PNG\r\n\x1a\n\x00\x00",
            b"PK\x03\x04",
            b"--- {steps: 1}\n--- {steps: 2}\n",
        ]
    )
)
def test_random_file_bytes_give_a_config_or_a_config_error_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "random.yaml"
    path.write_bytes(data)
    for cls in (TrainConfig, DemoConfig):
        try:
            load_config(cls, path)
        except ConfigError as error:
            assert str(path) in str(error)
    assert path.read_bytes() == data


@pytest.mark.parametrize(
    ("cls", "text", "expected"),
    [
        (TrainConfig, "stepz: 10\n", "unknown key 'stepz'; did you mean 'steps'?"),
        (TrainConfig, "sac:\n  gama: 0.9\n", "unknown key 'sac.gama'; did you mean 'gamma'?"),
        (TrainConfig, "steps: -5\n", "steps must be > 0"),
        (TrainConfig, "steps: '10'\n", "'steps' expects int, got str '10'"),
        (TrainConfig, "steps: 10.0\n", "'steps' expects int, got float 10.0"),
        (TrainConfig, "steps: true\n", "'steps' expects int, got bool true"),
        (TrainConfig, "steps: [10]\n", "'steps' expects int, got list [10]"),
        (TrainConfig, "steps: 99999999999999999999\n", "'steps' must fit in a 64-bit integer"),
        (TrainConfig, "seed: -99999999999999999999\n", "'seed' must fit in a 64-bit integer"),
        (TrainConfig, "sac:\n  gamma: .nan\n", "'sac.gamma' must be a finite number, got nan"),
        (TrainConfig, "reward:\n  task_weight: -.inf\n", "must be a finite number, got -inf"),
        (TrainConfig, "env: [front, side]\n", "'env' expects a mapping (EnvConfig), got list"),
        (TrainConfig, "env:\n  cameras: front\n", "'env.cameras' expects a list of str"),
        (TrainConfig, "algo: dqn\n", "'algo' must be one of 'sac', 'ppo', got str 'dqn'"),
        (TrainConfig, "task: nope\n", "unknown task 'nope'"),
        (TrainConfig, "1: 2\n", "keys must be strings, got int 1"),
        (TrainConfig, "steps: 1\nsteps: 2\n", "found duplicate key 'steps'"),
        (TrainConfig, "- steps\n", "the top level must be a mapping of keys to values, got list"),
        (TrainConfig, "42\n", "the top level must be a mapping of keys to values, got int 42"),
        (TrainConfig, "steps: [1\n", "cannot parse YAML"),
        (TrainConfig, "steps: !!python/name:os.system\n", "cannot parse YAML"),
        (TrainConfig, "steps: \x01\n", "line 1: cannot parse YAML: unacceptable character #x0001"),
        (AdaptConfig, "discovered_steps: -1\n", "discovered_steps must be >= 0, got -1"),
        (AdaptConfig, "train:\n  lr: 0\n", "lr must be a positive number, got 0.0"),
        (AdaptConfig, "train:\n  steps: 0\n", "steps must be >= 1"),
        (AdaptConfig, "pairs: null\n", "'pairs' expects a mapping (PairConfig), got null"),
        (NavBenchConfig, "steps: 0\n", "need seeds, steps > 0 and eval_episodes > 0"),
        (NavBenchConfig, "seeds: []\n", "need seeds"),
        (NavBenchConfig, "sizes: [tiny]\n", "sizes must be some of"),
        (NavBenchConfig, "arms: [magic]\n", "unknown arms ['magic']"),
        (NavBenchConfig, "intrinsic_weight: -1\n", "intrinsic_weight must be >= 0, got -1.0"),
        (NavBenchConfig, "seeds: [0, 1.5]\n", "'seeds[1]' expects int, got float 1.5"),
        (DemoConfig, "episodes: 0\n", "episodes must be an int >= 1, got 0"),
        (DemoConfig, "variants: {expert: -1}\n", "variant weights must be >= 0"),
        (DemoConfig, "variants: {heroic: 1}\n", "unknown variants ['heroic']"),
        (DemoConfig, "variants: [expert]\n", "'variants' expects a mapping of str to float"),
        (DemoConfig, "noise_std: -0.1\n", "noise_std must be >= 0"),
        (DemoConfig, "env:\n  cameras: []\n", "record at least one camera"),
    ],
)
def test_bad_config_files_are_refused_with_the_key_and_the_problem(
    tmp_path: Path, cls: type, text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(cls, path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)
    assert path.read_text(encoding="utf-8") == text


def test_non_utf8_config_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("task: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read config file .*'utf-8' codec"):
        load_config(TrainConfig, path)


def test_yaml_alias_bomb_is_refused_quickly_with_a_short_message(tmp_path: Path) -> None:
    """Eight levels of nine aliases: 43 million strings if expanded. The error names the key and
    shows a bounded excerpt of the value instead of printing all of it."""
    lines = ["steps:", "  - &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"  - &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'steps' expects int, got list") as info:
        load_config(TrainConfig, path)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("where", ["file", "override"])
def test_deeply_nested_yaml_is_a_config_error_not_a_recursion_error(
    tmp_path: Path, where: str
) -> None:
    value = "[" * 20_000 + "]" * 20_000
    with pytest.raises(ConfigError, match="nested too deeply"):
        if where == "file":
            path = tmp_path / "deep.yaml"
            path.write_text(f"steps: {value}\n", encoding="utf-8")
            load_config(TrainConfig, path)
        else:
            load_config(TrainConfig, None, [f"steps={value}"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("~no_such_user_robo/x.yaml", "config file not found: ~no_such_user_robo/x.yaml"),
        ("~no_such_user_robo", "no train preset named '~no_such_user_robo'"),
        ("reach_sacc", "did you mean 'reach_sac'?"),
        ("missing.yaml", "config file not found: missing.yaml"),
        (" ", "empty train preset name"),
        ("a\x00b", "no train preset named"),
    ],
)
def test_bad_preset_names_are_config_errors(name: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        preset_path("train", name)
    assert expected in str(info.value)


def test_a_directory_or_unreadable_path_as_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(TrainConfig, tmp_path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(TrainConfig, tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("cls", "override", "message"),
    [
        ("robo_reward.grm.adapt:AdaptConfig", "train.weight_decay=-0.1", "weight_decay must be"),
        ("robo_reward.grm.adapt:AdaptConfig", "train.grip_weight=-1", "grip_weight must be"),
        ("robo_reward.grm.adapt:AdaptConfig", "train.completion_weight=.nan", "completion_weight"),
        ("robo_reward.grm.adapt:AdaptConfig", "train.grad_clip=0", "grad_clip must be"),
        ("robo_reward.grm.adapt:AdaptConfig", "train.seed=-3", "seed must be an int >= 0"),
        ("robo_reward.bench.nav:NavBenchConfig", "workers=0", "workers must be >= 1"),
    ],
)
def test_values_that_used_to_pass_unchecked_are_refused(
    cls: str, override: str, message: str
) -> None:
    import importlib

    module, name = cls.split(":")
    config_class = getattr(importlib.import_module(module), name)
    with pytest.raises((ConfigError, ValueError), match=message):
        load_config(config_class, None, [override])
