"""Bad checkpoints (issue #9): truncated, bit-flipped, foreign, hand-edited or mismatched files are
a CheckpointError naming the file and the problem. Never a torch/safetensors traceback, never a
model loaded with other weights or another config than were saved."""

from __future__ import annotations

import dataclasses
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robo_reward import checkpoints
from robo_reward.checkpoints import CheckpointError, load_weights, save_weights
from robo_reward.grm.checkpoint import load_grm, save_grm
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.rl.policy import Policy, load_policy, save_policy

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TINY_GRM = GRMConfig(
    views=("front", "side"),
    image_size=32,
    embed_dim=32,
    channels=(8, 16, 32),
    fusion_layers=1,
    fusion_heads=2,
)
OBS_SPACE = spaces.Dict(
    {
        "state": spaces.Box(-1.0, 1.0, (3,), np.float32),
        "front": spaces.Box(0, 255, (36, 36, 3), np.uint8),
    }
)
ACT_SPACE = spaces.Box(-1.0, 1.0, (2,), np.float32)


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread: None) -> None:
    """Tiny models on a shared CPU (see tests/conftest.py)."""


def _grm() -> GRM:
    torch.manual_seed(0)
    return GRM(TINY_GRM).eval()


def _policy() -> Policy:
    torch.manual_seed(0)
    return Policy(OBS_SPACE, ACT_SPACE, hidden=(8,), cnn_features=8, normalize_observations=True)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bytes]]:
    folder = tmp_path_factory.mktemp("ckpt")
    grm_path = save_grm(folder / "grm.safetensors", _grm(), extra={"step": 7})
    policy_path = save_policy(folder / "policy.safetensors", _policy(), "sac", extra={"n": 1})
    return {
        "grm": (grm_path, grm_path.read_bytes()),
        "policy": (policy_path, policy_path.read_bytes()),
    }


LOADERS: dict[str, Callable[[Path], torch.nn.Module]] = {"grm": load_grm, "policy": load_policy}


def _same_model(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _header_length(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


# ----------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize("which", ["grm", "policy"])
def test_a_checkpoint_cut_at_any_byte_is_a_checkpoint_error(
    saved: dict[str, tuple[Path, bytes]], tmp_path_factory: pytest.TempPathFactory, which: str
) -> None:
    original, data = saved[which]

    @PROPERTY
    @given(cut=st.floats(min_value=0.0, max_value=0.9999))
    def check(cut: float) -> None:
        path = tmp_path_factory.mktemp("cut") / "cut.safetensors"
        path.write_bytes(data[: int(cut * len(data))])
        with pytest.raises(CheckpointError) as info:
            LOADERS[which](path)
        assert str(path) in str(info.value)

    check()
    assert original.read_bytes() == data


@pytest.mark.parametrize("which", ["grm", "policy"])
@pytest.mark.parametrize("region", ["anywhere", "header"])
def test_flipped_bytes_give_a_checkpoint_error_or_the_very_same_model(
    saved: dict[str, tuple[Path, bytes]],
    tmp_path_factory: pytest.TempPathFactory,
    which: str,
    region: str,
) -> None:
    """The header holds the config (view names, action bounds, ...) that the tensor digest
    does not cover; the envelope digest does. A flip in unchecked padding may load, but then
    the model and its config are exactly the saved ones."""
    original, data = saved[which]
    reference = LOADERS[which](original)
    envelope = load_weights(original)
    end = _header_length(data) if region == "header" else len(data)

    @PROPERTY
    @given(
        flips=st.lists(
            st.tuples(st.integers(0, end - 1), st.integers(1, 255)), min_size=1, max_size=3
        )
    )
    def check(flips: list[tuple[int, int]]) -> None:
        damaged = bytearray(data)
        for where, mask in flips:
            damaged[where] ^= mask
        path = tmp_path_factory.mktemp("flip") / "flip.safetensors"
        path.write_bytes(bytes(damaged))
        try:
            model = LOADERS[which](path)
        except CheckpointError as error:
            assert str(path) in str(error)
        else:
            assert _same_model(model, reference)
            loaded = load_weights(path)
            assert (loaded.kind, loaded.config, loaded.extra) == (
                envelope.kind,
                envelope.config,
                envelope.extra,
            )

    check()


def _resave(path: Path, changes: dict[str, str | None], tensors: dict | None = None) -> None:
    """Rewrite a checkpoint's metadata as a hand edit or another tool would (no digests fixed)."""
    with safetensors.safe_open(str(path), framework="pt") as handle:
        meta = dict(handle.metadata())
        stored = {k: handle.get_tensor(k) for k in handle.keys()}
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    safetensors.torch.save_file(tensors or stored, str(path), metadata=meta)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"format_version": "2"}, "has checkpoint format version '2'; this robo_reward reads"),
        ({"format_version": "0"}, "has checkpoint format version '0'"),
        ({"format_version": None}, "has checkpoint format version None"),
        ({"format": None}, "not a robo_reward checkpoint (metadata format=None"),
        ({"format": "pt"}, "not a robo_reward checkpoint (metadata format='pt'"),
        ({"kind": None}, "checkpoint metadata lacks ['kind']"),
        ({"config": None}, "checkpoint metadata lacks ['config']"),
        ({"extra": None}, "checkpoint metadata lacks ['extra']"),
        ({"sha256": None}, "checkpoint metadata lacks ['sha256']"),
        ({"kind": "policy"}, "holds a 'policy' checkpoint, but a 'grm' checkpoint was expected"),
        ({"config": "{not json"}, "metadata 'config' is not valid JSON"),
        ({"config": "[1, 2]"}, "metadata 'config' must be a JSON object"),
        ({"extra": "null"}, "metadata 'extra' must be a JSON object"),
        ({"config": '{"views": ["front", "side"]}'}, "envelope sha256 mismatch"),
        ({"extra": '{"step": 8}'}, "envelope sha256 mismatch"),
        ({"sha256": "0" * 64}, "envelope sha256 mismatch"),
        ({"envelope_sha256": "0" * 64}, "envelope sha256 mismatch"),
        ({"comment": "hello"}, "checkpoint metadata has unknown entries ['comment']"),
    ],
)
def test_edited_envelopes_are_named(
    saved: dict[str, tuple[Path, bytes]], tmp_path: Path, changes: dict, expected: str
) -> None:
    path = tmp_path / "grm.safetensors"
    path.write_bytes(saved["grm"][1])
    _resave(path, changes)
    with pytest.raises(CheckpointError) as info:
        load_grm(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_a_checkpoint_written_before_the_envelope_digest_still_loads(
    saved: dict[str, tuple[Path, bytes]], tmp_path: Path
) -> None:
    path = tmp_path / "old.safetensors"
    path.write_bytes(saved["grm"][1])
    _resave(path, {"envelope_sha256": None})
    assert _same_model(load_grm(path), load_grm(saved["grm"][0]))


def test_replaced_tensors_with_the_old_digests_are_refused(
    saved: dict[str, tuple[Path, bytes]], tmp_path: Path
) -> None:
    path = tmp_path / "grm.safetensors"
    path.write_bytes(saved["grm"][1])
    tensors = {k: v.clone() for k, v in _grm().state_dict().items()}
    first = next(iter(tensors))
    tensors[first] = tensors[first] + 1
    _resave(path, {}, tensors)
    with pytest.raises(CheckpointError, match="tensors were modified or corrupted"):
        load_grm(path)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: torch.save(_grm().state_dict(), p), "is a pickle / torch.save file"),
        (
            lambda p: torch.save(_grm().state_dict(), p, _use_new_zipfile_serialization=False),
            "is a pickle / torch.save file",
        ),
        (lambda p: p.write_bytes(pickle.dumps({"w": [1.0]})), "is a pickle / torch.save file"),
        (lambda p: p.write_bytes(b""), "is empty (an interrupted copy?)"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64)), "is not a safetensors file"),
        (lambda p: np.savez(p.open("wb"), w=np.zeros(3)), "is a pickle / torch.save file"),
        (
            lambda p: safetensors.torch.save_file({"w": torch.ones(2)}, str(p)),
            "is a safetensors file but not a robo_reward checkpoint",
        ),
        (lambda p: p.mkdir(), "is a directory, not a checkpoint file"),
    ],
    ids=[
        "torch.save zip",
        "torch.save legacy",
        "pickle",
        "empty",
        "png",
        "npz",
        "foreign safetensors",
        "directory",
    ],
)
def test_foreign_files_posing_as_checkpoints_are_named(
    tmp_path: Path, make: Callable[[Path], Any], expected: str
) -> None:
    path = tmp_path / "model.safetensors"
    make(path)
    for loader in (load_grm, load_policy):
        with pytest.raises(CheckpointError) as info:
            loader(path)
        assert expected in str(info.value) and str(path) in str(info.value)


def test_a_missing_checkpoint_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_grm(tmp_path / "absent.safetensors")


# ----------------------------------------------------------------------------- wrong models


def _grm_config_dict(**changes: Any) -> dict[str, Any]:
    return dataclasses.asdict(dataclasses.replace(TINY_GRM, **changes))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (_grm_config_dict(embed_dim=64), "tensors do not fit the stored GRM config"),
        (_grm_config_dict(num_bins=27), "the GRM needs torch.float32 (27,"),
        (_grm_config_dict(views=("front", "side", "wrist")), "tensors do not fit"),
        (_grm_config_dict(fusion_layers=2), "missing tensors"),
        (_grm_config_dict(embed_dim=2**20, fusion_heads=1), "tensors do not fit"),
        ({**_grm_config_dict(), "image_size": 33}, "the stored GRM config is invalid"),
        ({**_grm_config_dict(), "depth": True}, "unknown key 'depth'"),
        ({"views": "front"}, "'views' expects a list of str"),
    ],
)
def test_tensors_that_do_not_fit_the_stored_config_are_refused_without_building_it(
    tmp_path: Path, config: dict[str, Any], expected: str
) -> None:
    """The shapes are compared on the meta device: a config asking for a million-wide model
    costs nothing and fails as fast as any other mismatch."""
    path = save_weights(
        tmp_path / "grm.safetensors", _grm().state_dict(), kind="grm", config=config
    )
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as info:
        load_grm(path)
    assert time.perf_counter() - start < 5.0
    assert expected in str(info.value) and str(path) in str(info.value)


def test_tensors_of_another_dtype_are_refused_not_cast(tmp_path: Path) -> None:
    tensors = {
        k: v.double() if v.is_floating_point() else v for k, v in _grm().state_dict().items()
    }
    path = save_weights(
        tmp_path / "grm.safetensors", tensors, kind="grm", config=dataclasses.asdict(TINY_GRM)
    )
    with pytest.raises(CheckpointError, match="is torch.float64 .* needs torch.float32"):
        load_grm(path)


def _policy_config(**changes: Any) -> dict[str, Any]:
    return {"algo": "sac", **_policy().config(), **changes}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({k: v for k, v in _policy_config().items() if k != "algo"}, "lacks ['algo']"),
        (_policy_config(comment="x"), "has unknown entries ['comment']"),
        (_policy_config(normalize_observations="false"), "'normalize_observations' must be a bool"),
        (_policy_config(cnn_features=8.0), "'cnn_features' must be a int, got 8.0"),
        (_policy_config(cnn_features=True), "'cnn_features' must be a int, got True"),
        (_policy_config(algo=3), "'algo' must be a str"),
        (_policy_config(hidden=[2**40]), "tensors do not fit the stored policy config"),
        (_policy_config(hidden=[-1]), "hidden sizes must be positive ints"),
        (_policy_config(hidden="88"), "hidden sizes must be positive ints"),
        (_policy_config(actor_type="beta"), "actor_type must be one of"),
        (_policy_config(action_space={"type": "Discrete", "n": 3}), "cannot build the policy"),
        (_policy_config(action_space=[1, 2]), "cannot build the policy its config describes"),
        (_policy_config(observation_space=None), "cannot build the policy its config describes"),
        (_policy_config(encoder_keys=["side"]), "observation keys ['side'] are not in the"),
        (_policy_config(normalize_observations=False), "unexpected tensors ['normalizer."),
        (_policy_config(cnn_features=16), "tensors do not fit the stored policy config"),
    ],
)
def test_bad_policy_configs_are_refused(
    tmp_path: Path, config: dict[str, Any], expected: str
) -> None:
    path = save_weights(
        tmp_path / "policy.safetensors", _policy().state_dict(), kind="policy", config=config
    )
    with pytest.raises(CheckpointError) as info:
        load_policy(path)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_a_checkpoint_of_another_kind_is_refused(
    saved: dict[str, tuple[Path, bytes]],
) -> None:
    with pytest.raises(CheckpointError, match="holds a 'grm' checkpoint, but a 'policy'"):
        load_policy(saved["grm"][0])
    with pytest.raises(CheckpointError, match="holds a 'policy' checkpoint, but a 'grm'"):
        load_grm(saved["policy"][0])


# ----------------------------------------------------------------------------- failed saves


@PROPERTY
@given(written=st.floats(min_value=0.0, max_value=1.0))
def test_a_save_that_dies_midway_leaves_the_old_checkpoint(
    saved: dict[str, tuple[Path, bytes]],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    written: float,
) -> None:
    folder = tmp_path_factory.mktemp("save")
    path = folder / "grm.safetensors"
    path.write_bytes(saved["grm"][1])
    real = checkpoints._write_safetensors

    def dies_midway(target: Path, tensors: dict, meta: dict) -> None:
        real(target, tensors, meta)
        data = target.read_bytes()
        target.write_bytes(data[: int(written * len(data))])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "_write_safetensors", dies_midway)
    torch.manual_seed(1)
    with pytest.raises(OSError, match="No space left"):
        save_grm(path, GRM(TINY_GRM))
    assert path.read_bytes() == saved["grm"][1]
    assert [p.name for p in folder.iterdir()] == ["grm.safetensors"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"nan": float("nan")}, "config['nan']: nan is not allowed"),
        ({1: "int key"}, "key 1 is a int; JSON keys must be str"),
        ({"array": np.zeros(2)}, "a ndarray is not JSON-serialisable"),
    ],
)
def test_a_save_with_a_bad_config_is_refused_before_touching_the_file(
    saved: dict[str, tuple[Path, bytes]], tmp_path: Path, config: dict, expected: str
) -> None:
    path = tmp_path / "grm.safetensors"
    path.write_bytes(saved["grm"][1])
    with pytest.raises(ValueError) as info:
        save_weights(path, _grm().state_dict(), kind="grm", config=config)
    assert expected in str(info.value)
    assert path.read_bytes() == saved["grm"][1]
