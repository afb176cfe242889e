"""Checkpoints: exact round trips, atomic writes, and a clear error for every bad file."""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch
from torch import nn

import robo_reward
from robo_reward import checkpoints
from robo_reward.checkpoints import (
    FORMAT,
    FORMAT_VERSION,
    CheckpointError,
    load_optimizer,
    load_weights,
    save_optimizer,
    save_weights,
)


def sample_tensors() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "f32": torch.randn(3, 4, generator=gen),
        "f16": torch.randn(5, generator=gen).to(torch.float16),
        "bf16": torch.randn(2, 3, generator=gen).to(torch.bfloat16),
        "f64": torch.randn(2, 2, 2, generator=gen, dtype=torch.float64),
        "i64": torch.arange(-3, 7, dtype=torch.int64),
        "u8": torch.arange(0, 250, 7, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }


CONFIG = {"image_size": 96, "views": ["front", "side"], "lr": 3e-4, "nested": {"a": None}}


def tensors_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a
    )


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return save_weights(tmp_path / "model.safetensors", sample_tensors(), kind="grm", config=CONFIG)


# --------------------------------------------------------------------------- round trips


def test_round_trip_values_dtypes_shapes_and_envelope(tmp_path: Path) -> None:
    extra = {"step": 1200, "obs_mean": [0.5, -1.0], "name": "run__grm__0"}
    path = save_weights(
        tmp_path / "m.safetensors", sample_tensors(), kind="grm", config=CONFIG, extra=extra
    )
    loaded = load_weights(path, kind="grm")
    assert tensors_equal(loaded.tensors, sample_tensors())
    assert loaded.kind == "grm"
    assert loaded.config == CONFIG
    assert loaded.extra == extra
    assert load_weights(path).extra == extra  # kind is optional


def test_file_is_plain_safetensors_with_envelope(ckpt: Path) -> None:
    with safetensors.safe_open(str(ckpt), framework="pt") as handle:
        meta = handle.metadata()
        assert set(handle.keys()) == set(sample_tensors())
    assert meta["format"] == FORMAT
    assert meta["format_version"] == str(FORMAT_VERSION)
    assert meta["kind"] == "grm"
    assert re.fullmatch(r"[0-9a-f]{64}", meta["sha256"])


def test_tied_noncontiguous_and_grad_tensors_save(tmp_path: Path) -> None:
    weight = nn.Parameter(torch.randn(4, 3))
    tensors = {"embed": weight, "unembed": weight, "transposed": weight.t()}
    path = save_weights(tmp_path / "tied.safetensors", tensors, kind="lm", config={})
    loaded = load_weights(path)
    assert torch.equal(loaded.tensors["embed"], weight.detach())
    assert torch.equal(loaded.tensors["unembed"], weight.detach())
    assert torch.equal(loaded.tensors["transposed"], weight.detach().t())


def test_module_state_dict_round_trip(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 1))
    path = save_weights(tmp_path / "seq.safetensors", model.state_dict(), kind="mlp", config={})
    fresh = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 1))
    fresh.load_state_dict(load_weights(path, kind="mlp").tensors)
    assert tensors_equal(dict(fresh.state_dict()), dict(model.state_dict()))


# --------------------------------------------------------------------------- bad args, atomicity


@pytest.mark.parametrize(
    ("config", "extra", "match"),
    [
        ({"lr": float("nan")}, None, r"config\['lr'\].*NaN"),
        ({"x": object()}, None, r"config\['x'\].*not JSON-serialisable"),
        ({1: "int key"}, None, r"config.*JSON keys must be str"),
        ({}, {"stats": [1.0, float("inf")]}, r"extra\['stats'\]\[1\]"),
        ([1, 2], None, r"config must be a mapping"),
    ],
)
def test_bad_json_is_refused_before_writing(
    tmp_path: Path, config: object, extra: object, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        save_weights(tmp_path / "x.safetensors", {}, kind="k", config=config, extra=extra)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("tensors", "kind", "match"),
    [
        ({"a": [1.0]}, "k", "not a torch.Tensor"),
        ({3: torch.zeros(1)}, "k", "names must be non-empty str"),
        ({"a": torch.zeros(1)}, "", "kind must be"),
    ],
)
def test_bad_tensors_or_kind_are_refused(
    tmp_path: Path, tensors: dict, kind: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        save_weights(tmp_path / "x.safetensors", tensors, kind=kind, config={})
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_old_checkpoint_intact(
    ckpt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ckpt.read_bytes()
    with pytest.raises(ValueError):
        save_weights(ckpt, {"w": torch.ones(2)}, kind="grm", config={"bad": float("nan")})

    def half_written(path: Path, tensors: object, meta: object) -> None:
        path.write_bytes(b"\x00" * 100)
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints, "_write_safetensors", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_weights(ckpt, {"w": torch.ones(2)}, kind="grm", config={})
    assert ckpt.read_bytes() == before
    assert [p.name for p in ckpt.parent.iterdir()] == [ckpt.name]
    assert tensors_equal(load_weights(ckpt).tensors, sample_tensors())


def test_overwrite_replaces_whole_file(ckpt: Path) -> None:
    save_weights(ckpt, {"w": torch.ones(2)}, kind="grm", config={"v": 2})
    loaded = load_weights(ckpt)
    assert list(loaded.tensors) == ["w"] and loaded.config == {"v": 2}
    assert [p.name for p in ckpt.parent.iterdir()] == [ckpt.name]


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "nope.safetensors")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a directory"):
        load_weights(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        load_weights(path)


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_torch_save_file_is_refused_as_pickle(tmp_path: Path, zipfile: bool) -> None:
    path = tmp_path / "model.safetensors"
    torch.save(nn.Linear(2, 2).state_dict(), path, _use_new_zipfile_serialization=zipfile)
    with pytest.raises(CheckpointError, match="pickle.*never loads pickles"):
        load_weights(path)


@pytest.mark.parametrize("magic", [b"\x80", b"PK"], ids=["pickle-byte", "zip-bytes"])
def test_real_checkpoint_whose_header_length_looks_like_pickle(
    tmp_path: Path, magic: bytes
) -> None:
    """The header length is raw bytes too; a valid file starting with 0x80 or "PK" must load."""
    path = tmp_path / "m.safetensors"
    save_weights(path, {"w": torch.ones(2)}, kind="k", config={"pad": ""})
    base = int.from_bytes(path.read_bytes()[:8], "little")
    modulus = 256 ** len(magic)
    goal = int.from_bytes(magic, "little")
    target = base + (goal - base) % modulus
    for pad in range(max(0, target - base - 16), target - base + 16):
        save_weights(path, {"w": torch.ones(2)}, kind="k", config={"pad": "x" * pad})
        if path.read_bytes().startswith(magic):
            break
    else:
        pytest.fail("no padding produced the magic bytes")
    assert load_weights(path).config["pad"] == "x" * pad


def test_plain_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    with pytest.raises(CheckpointError, match="pickle"):
        load_weights(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.safetensors"
    path.write_bytes(bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).tolist()))
    with pytest.raises(CheckpointError, match="not a safetensors file|corrupt"):
        load_weights(path)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.01])
def test_truncated_file(ckpt: Path, fraction: float) -> None:
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match="truncated|corrupt"):
        load_weights(ckpt)


def test_corrupt_header(ckpt: Path) -> None:
    data = bytearray(ckpt.read_bytes())
    data[10:20] = b"}}}}}}}}}}"
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_weights(ckpt)


def test_flipped_byte_in_tensor_data(ckpt: Path) -> None:
    data = bytearray(ckpt.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    data[8 + header_len + 5] ^= 0x01
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tensors were modified or corrupted"):
        load_weights(ckpt)


def resave_with_meta(path: Path, **changes: str | None) -> None:
    """Rewrite a checkpoint with edited metadata, as a hand-edit or another tool would."""
    with safetensors.safe_open(str(path), framework="pt") as handle:
        meta = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    for key, value in changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    safetensors.torch.save_file(tensors, str(path), metadata=meta)


def test_other_format_version(ckpt: Path) -> None:
    resave_with_meta(ckpt, format_version="2")
    with pytest.raises(CheckpointError, match=r"version '2'.*reads version 1"):
        load_weights(ckpt)


def test_foreign_safetensors_file(tmp_path: Path) -> None:
    path = tmp_path / "hf.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a robo_reward checkpoint.*'pt'"):
        load_weights(path)
    safetensors.torch.save_file({"w": torch.ones(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a robo_reward checkpoint"):
        load_weights(path)


def test_missing_metadata_key(ckpt: Path) -> None:
    resave_with_meta(ckpt, sha256=None)
    with pytest.raises(CheckpointError, match="lacks.*sha256"):
        load_weights(ckpt)


def test_wrong_kind(ckpt: Path) -> None:
    with pytest.raises(CheckpointError, match="holds a 'grm' checkpoint.*'sac_policy'"):
        load_weights(ckpt, kind="sac_policy")


@pytest.mark.parametrize("key", ["config", "extra"])
@pytest.mark.parametrize("value", ["{not json", "[1, 2]"])
def test_bad_json_metadata(ckpt: Path, key: str, value: str) -> None:
    resave_with_meta(ckpt, **{key: value})
    with pytest.raises(CheckpointError, match=f"metadata '{key}'"):
        load_weights(ckpt)


def test_replaced_tensor_with_stale_hash(ckpt: Path) -> None:
    with safetensors.safe_open(str(ckpt), framework="pt") as handle:
        meta = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    tensors["i64"] = tensors["i64"] + 1
    safetensors.torch.save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_weights(ckpt)


# --------------------------------------------------------------------------- optimizers


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, seed: int, steps: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=gen)
        y = torch.randn(8, 2, generator=gen)
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def make_model_and_adamw(seed: int = 0) -> tuple[nn.Linear, torch.optim.AdamW]:
    torch.manual_seed(seed)
    model = nn.Linear(4, 2)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95))


def test_optimizer_resume_is_exact(tmp_path: Path) -> None:
    model, optimizer = make_model_and_adamw()
    train_steps(model, optimizer, seed=1, steps=3)
    save_weights(tmp_path / "model.safetensors", model.state_dict(), kind="linear", config={})
    save_optimizer(tmp_path / "optim.safetensors", optimizer, extra={"epoch": 3})
    reference_state = copy.deepcopy(optimizer.state_dict())  # step/moments mutate in place
    train_steps(model, optimizer, seed=2, steps=3)

    fresh_model, fresh_optimizer = make_model_and_adamw(seed=123)
    fresh_model.load_state_dict(load_weights(tmp_path / "model.safetensors").tensors)
    extra = load_optimizer(tmp_path / "optim.safetensors", fresh_optimizer)
    assert extra == {"epoch": 3}

    restored = fresh_optimizer.state_dict()
    assert restored["param_groups"] == reference_state["param_groups"]
    assert isinstance(restored["param_groups"][0]["betas"], tuple)
    for pid, state in reference_state["state"].items():
        assert restored["state"][pid].keys() == state.keys()
        for key, value in state.items():
            got = restored["state"][pid][key]
            assert type(got) is type(value)
            if isinstance(value, torch.Tensor):
                assert got.dtype == value.dtype and torch.equal(got, value)
            else:
                assert got == value

    train_steps(fresh_model, fresh_optimizer, seed=2, steps=3)
    for a, b in zip(model.parameters(), fresh_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_optimizer_with_plain_number_state_and_groups(tmp_path: Path) -> None:
    """SGD with momentum keeps no tensor 'step'; two groups; values and types survive."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    groups = [
        {"params": model[0].parameters(), "lr": 0.1},
        {"params": model[1].parameters(), "lr": 0.01, "momentum": 0.5},
    ]
    optimizer = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    path = save_optimizer(tmp_path / "sgd.safetensors", optimizer)
    fresh = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 1.0},
            {"params": model[1].parameters(), "lr": 1.0},
        ],
        lr=1.0,
    )
    assert load_optimizer(path, fresh) == {}
    assert [g["lr"] for g in fresh.param_groups] == [0.1, 0.01]
    assert fresh.param_groups[1]["momentum"] == 0.5


def test_optimizer_mismatched_groups(tmp_path: Path) -> None:
    model, optimizer = make_model_and_adamw()
    train_steps(model, optimizer, seed=1, steps=1)
    path = save_optimizer(tmp_path / "optim.safetensors", optimizer)
    only_weight = torch.optim.AdamW([model.weight])
    with pytest.raises(CheckpointError, match="parameter groups have sizes"):
        load_optimizer(path, only_weight)
    two_groups = torch.optim.AdamW([{"params": [model.weight]}, {"params": [model.bias]}])
    with pytest.raises(CheckpointError, match="parameter groups"):
        load_optimizer(path, two_groups)


def test_optimizer_wrong_class_and_kind(tmp_path: Path, ckpt: Path) -> None:
    model, optimizer = make_model_and_adamw()
    train_steps(model, optimizer, seed=1, steps=1)
    path = save_optimizer(tmp_path / "optim.safetensors", optimizer)
    with pytest.raises(CheckpointError, match="AdamW state.*SGD"):
        load_optimizer(path, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(CheckpointError, match="'grm' checkpoint.*'optimizer'"):
        load_optimizer(ckpt, optimizer)


# --------------------------------------------------------------------------- project-wide rule


def test_torch_load_is_always_weights_only() -> None:
    """DESIGN.md: torch.load appears nowhere without weights_only=True."""
    root = Path(robo_reward.__file__).parent
    offenders = []
    for source in sorted(root.rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        for match in re.finditer(r"torch\.load\s*\(", text):
            depth, end = 0, match.end() - 1
            for end in range(match.end() - 1, len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            call = text[match.start() : end + 1]
            if not re.search(r"weights_only\s*=\s*True", call):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{source.relative_to(root.parent)}:{line}")
    assert not offenders, f"torch.load without weights_only=True at {offenders}"
