from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest
import yaml

from robo_reward import config as config_module
from robo_reward.config import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    configs_dir,
    load_config,
    preset_path,
)

# Test configs live at module level: get_type_hints resolves string annotations in module scope.


@dataclass(frozen=True)
class EnvConfig:
    task: Literal["reach", "push", "pick"] = "reach"
    image_size: int = 84
    cameras: tuple[str, ...] = ("front",)
    frame_skip: int = 2


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    lr: float = 3e-4
    gamma: float = 0.99
    use_her: bool = False
    algo: Literal["sac", "ppo"] = "sac"
    checkpoint: Path | None = None
    run_name: Optional[str] = None  # noqa: UP045 - the typing spelling must work too
    env: EnvConfig = field(default_factory=EnvConfig)
    reward_weights: dict[str, float] = field(default_factory=lambda: {"task": 1.0, "grm": 0.5})
    crop: tuple[int, int] = (0, 0)
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")


@dataclass
class NeedsName:
    name: str
    size: int = 1


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_for(cls: type, tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cls, write(tmp_path, text), overrides)
    return str(info.value)


# --- loading and precedence -----------------------------------------------------------------


def test_defaults_load_without_a_file():
    assert load_config(TrainConfig) == TrainConfig()


def test_empty_yaml_file_means_all_defaults(tmp_path):
    assert load_config(TrainConfig, write(tmp_path, "# nothing set\n")) == TrainConfig()


def test_yaml_sets_values_and_keeps_other_defaults(tmp_path):
    cfg = load_config(TrainConfig, write(tmp_path, "seed: 7\nenv:\n  image_size: 64\n"))
    assert cfg.seed == 7
    assert cfg.env.image_size == 64
    assert cfg.env.cameras == ("front",)  # rest of the section keeps its defaults
    assert cfg.lr == 3e-4


def test_command_line_beats_yaml(tmp_path):
    path = write(tmp_path, "seed: 7\nenv: {image_size: 64, frame_skip: 4}\n")
    cfg = load_config(TrainConfig, path, ["seed=9", "env.image_size=32"])
    assert cfg.seed == 9
    assert cfg.env.image_size == 32
    assert cfg.env.frame_skip == 4  # the file's value survives a sibling override


def test_later_override_wins():
    assert load_config(TrainConfig, None, ["seed=1", "seed=2"]).seed == 2


def test_override_values_are_read_as_yaml():
    cfg = load_config(
        TrainConfig,
        overrides=[
            "env.cameras=[front,side]",
            "lr=1e-3",
            "crop=[8, 16]",
            "checkpoint=runs/a.pt",
            "use_her=true",
            "tags=[yes, no]",
        ],
    )
    assert cfg.env.cameras == ("front", "side")
    assert cfg.lr == 1e-3
    assert cfg.crop == (8, 16)
    assert cfg.checkpoint == Path("runs/a.pt")
    assert cfg.use_her is True
    assert cfg.tags == ["yes", "no"]  # YAML 1.2: yes/no are strings, not booleans


def test_null_override_clears_an_optional_field(tmp_path):
    cfg = load_config(TrainConfig, write(tmp_path, "checkpoint: a.pt\n"), ["checkpoint=null"])
    assert cfg.checkpoint is None


def test_dotted_override_sets_one_dict_entry():
    cfg = load_config(TrainConfig, overrides=["reward_weights.grm=2"])
    assert cfg.reward_weights == {"task": 1.0, "grm": 2.0}


def test_yaml_dict_field_is_replaced_as_a_whole(tmp_path):
    cfg = load_config(TrainConfig, write(tmp_path, "reward_weights: {grm: 1}\n"))
    assert cfg.reward_weights == {"grm": 1.0}


def test_override_without_equals_sign_is_rejected():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(TrainConfig, overrides=["seed"])


def test_override_into_a_scalar_is_rejected():
    with pytest.raises(ConfigError, match="'seed' is int, not a section"):
        load_config(TrainConfig, overrides=["seed.x=1"])


def test_overrides_given_as_one_string_are_rejected():
    with pytest.raises(TypeError):
        load_config(TrainConfig, overrides="seed=1")


# --- unknown keys -----------------------------------------------------------------------------


def test_unknown_key_names_key_file_line_and_suggestion(tmp_path):
    message = error_for(TrainConfig, tmp_path, "seed: 1\nenv:\n  imge_size: 64\n")
    assert "'env.imge_size'" in message
    assert "cfg.yaml, line 3" in message
    assert "did you mean 'image_size'?" in message


def test_misplaced_key_suggests_its_full_path(tmp_path):
    message = error_for(TrainConfig, tmp_path, "image_size: 64\n")
    assert "did you mean 'env.image_size'?" in message


def test_unknown_key_without_close_match_lists_valid_keys(tmp_path):
    message = error_for(TrainConfig, tmp_path, "env:\n  zzzz: 1\n")
    assert "valid keys under 'env': task, image_size, cameras, frame_skip" in message


def test_unknown_override_key_names_command_line_and_suggestion():
    with pytest.raises(ConfigError) as info:
        load_config(TrainConfig, overrides=["env.imagesize=64"])
    message = str(info.value)
    assert "command line" in message and "env.imagesize=64" in message
    assert "did you mean 'image_size'?" in message
    assert info.value.key == "env.imagesize"
    assert info.value.source == "command line"


# --- types ------------------------------------------------------------------------------------


def test_wrong_type_names_key_path_and_expected_type(tmp_path):
    message = error_for(TrainConfig, tmp_path, "env:\n  image_size: big\n")
    assert "'env.image_size' expects int, got str 'big'" in message
    assert "cfg.yaml, line 2" in message


@pytest.mark.parametrize("text", ["1", "yes", "'true'", "on"])
def test_bool_accepts_only_true_or_false(tmp_path, text):
    message = error_for(TrainConfig, tmp_path, f"use_her: {text}\n")
    assert "'use_her' expects bool" in message


def test_bool_from_dict_rejects_int():
    with pytest.raises(ConfigError, match="'use_her' expects bool, got int 1"):
        config_from_dict(TrainConfig, {"use_her": 1})


@pytest.mark.parametrize("text", ["3.0", "true", "'64'", "1e3"])
def test_int_rejects_floats_bools_and_strings(tmp_path, text):
    message = error_for(TrainConfig, tmp_path, f"seed: {text}\n")
    assert "'seed' expects int" in message


def test_float_accepts_int_and_rejects_bool(tmp_path):
    cfg = load_config(TrainConfig, write(tmp_path, "lr: 1\n"))
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert "'lr' expects float, got bool true" in error_for(TrainConfig, tmp_path, "lr: true\n")


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf"])
def test_non_finite_floats_are_rejected(tmp_path, text):
    assert "'lr' must be a finite number" in error_for(TrainConfig, tmp_path, f"lr: {text}\n")


def test_nan_from_dict_and_command_line_is_rejected():
    with pytest.raises(ConfigError, match="finite"):
        config_from_dict(TrainConfig, {"lr": math.nan})
    with pytest.raises(ConfigError, match="finite"):
        load_config(TrainConfig, overrides=["gamma=.nan"])


def test_literal_error_lists_choices_and_suggests(tmp_path):
    message = error_for(TrainConfig, tmp_path, "algo: sacc\n")
    assert "'algo' must be one of 'sac', 'ppo', got str 'sacc'" in message
    assert "did you mean 'sac'?" in message


def test_number_for_string_field_suggests_quoting():
    with pytest.raises(ConfigError, match="quote it"):
        load_config(TrainConfig, overrides=["run_name=2024"])
    assert load_config(TrainConfig, overrides=["run_name='2024'"]).run_name == "2024"


def test_tuple_is_parsed_from_a_list(tmp_path):
    cfg = load_config(TrainConfig, write(tmp_path, "env:\n  cameras: [front, wrist]\n"))
    assert cfg.env.cameras == ("front", "wrist")


def test_scalar_for_a_list_field_is_rejected(tmp_path):
    message = error_for(TrainConfig, tmp_path, "env:\n  cameras: front\n")
    assert "'env.cameras' expects a list of str, got str 'front'" in message


def test_fixed_length_tuple_checks_length_and_items(tmp_path):
    assert "got 3 items" in error_for(TrainConfig, tmp_path, "crop: [1, 2, 3]\n")
    assert "'crop[1]' expects int" in error_for(TrainConfig, tmp_path, "crop: [1, x]\n")


def test_dict_values_are_checked_with_their_key_path(tmp_path):
    message = error_for(TrainConfig, tmp_path, "reward_weights: {grm: high}\n")
    assert "'reward_weights.grm' expects float" in message


def test_section_must_be_a_mapping(tmp_path):
    message = error_for(TrainConfig, tmp_path, "env: 3\n")
    assert "'env' expects a mapping (EnvConfig), got int 3" in message


def test_missing_required_key_is_reported():
    with pytest.raises(ConfigError, match="missing required key 'name'"):
        config_from_dict(NeedsName, {"size": 2})
    assert config_from_dict(NeedsName, {"name": "a"}) == NeedsName("a")


# --- validation hooks and files ---------------------------------------------------------------


def test_post_init_value_error_becomes_config_error(tmp_path):
    message = error_for(TrainConfig, tmp_path, "gamma: 1.5\n")
    assert "cfg.yaml" in message and "gamma must be in (0, 1]" in message
    with pytest.raises(ConfigError, match="command line.*gamma must be"):
        load_config(TrainConfig, overrides=["gamma=0"])


def test_malformed_yaml_names_file_and_line(tmp_path):
    message = error_for(TrainConfig, tmp_path, "seed: 1\nenv: [a, b\nlr: 2\n")
    assert "cfg.yaml, line" in message and "cannot parse YAML" in message


def test_duplicate_keys_are_rejected(tmp_path):
    message = error_for(TrainConfig, tmp_path, "seed: 1\nseed: 2\n")
    assert "duplicate key 'seed'" in message and "line 2" in message


def test_top_level_must_be_a_mapping(tmp_path):
    message = error_for(TrainConfig, tmp_path, "- seed\n- lr\n")
    assert "cfg.yaml" in message and "top level must be a mapping" in message


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(TrainConfig, tmp_path / "absent.yaml")


# --- presets ----------------------------------------------------------------------------------


def test_configs_dir_is_the_presets_package():
    assert configs_dir().is_dir()
    assert (configs_dir() / "__init__.py").is_file()


def test_preset_path_finds_a_preset_and_accepts_a_file(tmp_path, monkeypatch):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "reach.yaml").write_text("seed: 3\n")
    monkeypatch.setattr(config_module, "configs_dir", lambda: tmp_path)
    assert preset_path("tasks", "reach") == tmp_path / "tasks" / "reach.yaml"
    own = write(tmp_path, "seed: 4\n", "mine.yaml")
    assert preset_path("tasks", str(own)) == own
    assert load_config(TrainConfig, preset_path("tasks", "reach")).seed == 3


def test_missing_preset_lists_available_ones(tmp_path, monkeypatch):
    (tmp_path / "tasks").mkdir()
    for name in ("reach", "push"):
        (tmp_path / "tasks" / f"{name}.yaml").write_text("")
    monkeypatch.setattr(config_module, "configs_dir", lambda: tmp_path)
    with pytest.raises(ConfigError) as info:
        preset_path("tasks", "reech")
    assert "available: push, reach" in str(info.value)
    assert "did you mean 'reach'?" in str(info.value)
    with pytest.raises(ConfigError, match="available kinds: tasks"):
        preset_path("sac", "default")
    with pytest.raises(ConfigError, match="config file not found"):
        preset_path("tasks", "nowhere/reach.yaml")


# --- serialisation ----------------------------------------------------------------------------


def test_config_to_dict_gives_plain_data():
    cfg = load_config(TrainConfig, overrides=["checkpoint=a/b.pt", "env.cameras=[front,side]"])
    data = config_to_dict(cfg)
    assert data["checkpoint"] == "a/b.pt"
    assert data["env"]["cameras"] == ["front", "side"]
    assert data["crop"] == [0, 0]
    json.dumps(data)  # serialisable as is


def test_config_to_dict_round_trips(tmp_path):
    cfg = load_config(
        TrainConfig, overrides=["seed=5", "checkpoint=x.pt", "env.task=push", "tags=[a]"]
    )
    assert config_from_dict(TrainConfig, config_to_dict(cfg)) == cfg
    path = write(tmp_path, yaml.safe_dump(config_to_dict(cfg)), "dumped.yaml")
    assert load_config(TrainConfig, path) == cfg
