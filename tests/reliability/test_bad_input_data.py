"""Bad trajectories and datasets (issue #9): truncated, bit-flipped, hand-edited or foreign files
are a DataFormatError naming the file and the problem; a bad array is a ValueError naming the
field; a failed load or save never changes a file that was there."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robo_reward.data import DataFormatError, DatasetReader, DatasetWriter, Trajectory
from robo_reward.data import trajectory as trajectory_module
from robo_reward.data.trajectory import trajectory_from_arrays, trajectory_to_arrays

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def make_traj(num_steps: int = 4, seed: int = 0, **overrides: Any) -> Trajectory:
    """A small trajectory with every optional field, so every field can be broken."""
    rng = np.random.default_rng(seed)
    n = num_steps + 1
    kwargs: dict[str, Any] = {
        "frames": {
            "front": rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
            "wrist": rng.integers(0, 256, (n, 6, 10, 3), dtype=np.uint8),
        },
        "actions": rng.standard_normal((num_steps, 4)).astype(np.float32),
        "states": rng.standard_normal((n, 3)).astype(np.float32),
        "timestamps_ns": np.arange(n, dtype=np.int64) * 50_000_000,
        "task": "push",
        "success": True,
        "seed": seed,
        "keyframes": (0, 2, num_steps),
        "subtask_labels": ("reach", "push"),
        "progress": np.linspace(0, 1, n, dtype=np.float32),
        "depth": {"front": np.ones((n, 8, 8), np.float32)},
        "view_valid": {"wrist": np.ones(n, bool)},
        "rewards": np.zeros(num_steps, np.float32),
        "metadata": {"scene": [1, 2]},
    }
    kwargs |= overrides
    return Trajectory(**kwargs)


GOOD = make_traj()
GOOD_ARRAYS = trajectory_to_arrays(GOOD)
GOOD_HEADER = json.loads(str(GOOD_ARRAYS["header"][()]))


@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    path = tmp_path_factory.mktemp("good") / "good.npz"
    GOOD.save(path)
    return path, path.read_bytes()


# ----------------------------------------------------------------------------- damaged files


@PROPERTY
@given(cut=st.floats(min_value=0.0, max_value=0.999))
def test_a_trajectory_cut_at_any_byte_is_a_data_format_error(
    good_file: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory, cut: float
) -> None:
    original, data = good_file
    truncated = data[: int(cut * len(data))]
    path = tmp_path_factory.mktemp("cut") / "cut.npz"
    path.write_bytes(truncated)
    with pytest.raises(DataFormatError) as info:
        Trajectory.load(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == truncated
    assert original.read_bytes() == data


@PROPERTY
@given(
    flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(1, 255)), min_size=1, max_size=3)
)
def test_flipped_bytes_give_a_data_format_error_or_the_very_same_trajectory(
    good_file: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory, flips
) -> None:
    """Zip CRCs cover the data; a flip in an unchecked zip field (a timestamp) may load, but
    then it must load the same trajectory, never a different one."""
    _, data = good_file
    damaged = bytearray(data)
    for where, mask in flips:
        damaged[int(where * len(data))] ^= mask
    path = tmp_path_factory.mktemp("flip") / "flip.npz"
    path.write_bytes(bytes(damaged))
    try:
        loaded = Trajectory.load(path)
    except DataFormatError as error:
        assert str(path) in str(error)
    else:
        assert loaded == GOOD


def _npy(shape: tuple[int, ...], descr: str = "|u1", data: bytes = b"\0" * 16) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue() + data


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b""), "empty file, not an .npz archive"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64)), "not an .npz (zip) archive"),
        (lambda p: p.write_bytes(pickle.dumps({"header": "x"})), "looks like a pickle"),
        (lambda p: torch.save({"frames": torch.zeros(2)}, p), "a torch.save / pickle archive"),
        (
            lambda p: (
                np.save(p.with_suffix(".npy"), np.zeros(3)) or p.with_suffix(".npy").rename(p)
            ),
            "a single .npy array, not an .npz archive",
        ),
        (
            lambda p: np.savez(p, header=np.array([{"a": 1}], dtype=object)),
            "contains pickled (object) arrays; refusing",
        ),
        (
            lambda p: _zip(p, {"header.npy": b'{"schema": 1}'}),
            "member 'header' is not a numpy array",
        ),
        (
            lambda p: _zip(p, {"header.npy": _npy((10**12,))}),
            "an array in it does not fit in memory",
        ),
        (lambda p: _zip(p, {"header.npy": _npy((4,), data=b"\0")}), "corrupted .npz member"),
        (
            lambda p: np.savez(p, actions=np.zeros((3, 4), np.float32)),
            "missing field 'header'; not a robo_reward trajectory",
        ),
        (lambda p: np.savez(p, header=np.array("not json")), "'header' is not valid JSON"),
        (lambda p: np.savez(p, header=np.array("[" * 100_000)), "'header' is not valid JSON"),
        (lambda p: np.savez(p, header=np.array(b"bytes")), "must be a 0-d unicode string array"),
        (
            lambda p: np.savez(p, header=np.array('{"schema": "other"}')),
            "is not a robo_reward.trajectory header",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_foreign_and_crafted_files_are_named_and_refused(tmp_path: Path, make, expected) -> None:
    path = tmp_path / "bad.npz"
    make(path)
    before = path.read_bytes()
    with pytest.raises(DataFormatError) as info:
        Trajectory.load(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_zip_with_a_mangled_version_field_is_a_data_format_error(
    good_file: tuple[Path, bytes], tmp_path: Path
) -> None:
    """zipfile says NotImplementedError for an unknown 'version needed' or compression method."""
    _, data = good_file
    directory = data.rfind(b"PK\x01\x02")  # the last central-directory entry
    damaged = bytearray(data)
    damaged[directory + 6] = 0xFF  # version needed to extract: 25.5
    path = tmp_path / "version.npz"
    path.write_bytes(bytes(damaged))
    with pytest.raises(DataFormatError, match="truncated or corrupted .npz"):
        Trajectory.load(path)
    damaged = bytearray(data)
    damaged[directory + 10] = 0x63  # compression method 99 (AES), not supported
    path.write_bytes(bytes(damaged))
    with pytest.raises(DataFormatError, match=r"truncated or corrupted .npz|corrupted"):
        Trajectory.load(path)


# ----------------------------------------------------------------------------- edited contents

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 8)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from(["front", "wrist", "progress", "push", "expert"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
DTYPES = st.sampled_from(
    [np.uint8, np.int16, np.int64, np.float16, np.float32, np.float64, np.bool_, np.complex64, "U3"]
)


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=4)))
    fill = draw(st.sampled_from([0, 1, np.nan, np.inf, -1]))
    with np.errstate(invalid="ignore"):
        return np.full(shape, fill).astype(draw(DTYPES))


@PROPERTY
@given(
    header=st.dictionaries(st.sampled_from(sorted(GOOD_HEADER)), JSON_VALUES, max_size=2),
    replaced=st.dictionaries(
        st.sampled_from(sorted(set(GOOD_ARRAYS) - {"header"})), arrays(), max_size=2
    ),
    dropped=st.lists(st.sampled_from(sorted(GOOD_ARRAYS)), max_size=1),
)
def test_edited_fields_and_arrays_give_a_data_format_error_naming_the_source(
    header: dict[str, Any], replaced: dict[str, np.ndarray], dropped: list[str]
) -> None:
    arrays_ = dict(GOOD_ARRAYS)
    arrays_["header"] = np.array(json.dumps({**GOOD_HEADER, **header}))
    arrays_.update(replaced)
    for key in dropped:
        del arrays_[key]
    try:
        traj = trajectory_from_arrays(arrays_, source="edited.npz")
    except DataFormatError as error:
        assert str(error).startswith("edited.npz: ")
    else:  # an edit that is still valid data is read as written
        for key, value in replaced.items():
            group, _, view = key.partition("/")
            got = getattr(traj, group)[view] if view else getattr(traj, group)
            assert got.dtype == value.dtype and np.array_equal(got, value)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("actions", np.zeros((5, 4), np.float32), "actions must have T=4 entries"),
        ("states", np.zeros((4, 3), np.float32), "states must have T+1=5 entries"),
        ("timestamps_ns", np.zeros(5, np.int64), "timestamps_ns must be strictly increasing"),
        ("timestamps_ns", np.array([0, 2, 1, 3, 4], np.int64), "strictly increasing"),
        ("timestamps_ns", np.arange(5, dtype=np.float64), "timestamps_ns must have dtype int64"),
        ("actions", np.zeros((4, 4), np.float64), "actions must have dtype float32"),
        ("actions", np.full((4, 4), np.nan, np.float32), "actions contains 16 NaN or infinite"),
        ("frames/wrist", np.zeros((4, 6, 10, 3), np.uint8), "all views must have the same number"),
        (
            "frames/front",
            np.zeros((5, 8, 8, 3), np.float32),
            "frames['front'] must have dtype uint8",
        ),
        ("frames/front", np.zeros((5, 8, 8, 4), np.uint8), "must have shape (T+1, H, W, 3)"),
        ("frames/front", np.zeros((5, 8, 8), np.uint8), "frames['front'] must be 4-D"),
        ("frames/front", np.zeros((5, 0, 8, 3), np.uint8), "must have shape (T+1, H, W, 3)"),
        ("depth/front", np.full((5, 8, 8), -1, np.float32), "depth['front'] must be >= 0 metres"),
        ("depth/front", np.full((5, 8, 8), np.inf, np.float32), "NaN or infinite"),
        ("view_valid/wrist", np.ones(5, np.uint8), "view_valid['wrist'] must have dtype bool"),
        ("progress", np.full(5, 2, np.float32), "progress must lie in [0, 1]"),
        ("rewards", np.zeros(5, np.float32), "rewards must have T=4 entries"),
    ],
)
def test_bad_arrays_in_a_file_name_the_field(
    tmp_path: Path, key: str, value: np.ndarray, expected: str
) -> None:
    arrays_ = dict(GOOD_ARRAYS)
    arrays_[key] = value
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, **arrays_)
    with pytest.raises(DataFormatError) as info:
        Trajectory.load(path)
    assert f"{path}: invalid trajectory: " in str(info.value)
    assert expected in str(info.value)


@pytest.mark.parametrize("key", sorted(GOOD_ARRAYS))
def test_a_missing_field_is_named(key: str) -> None:
    arrays_ = {k: v for k, v in GOOD_ARRAYS.items() if k != key}
    with pytest.raises(DataFormatError, match=f"src.npz: missing field '{key}'"):
        trajectory_from_arrays(arrays_, source="src.npz")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("format_version", 99, "format_version 99 is newer than this robo_reward reads"),
        ("format_version", "1", "invalid format_version '1'"),
        ("optional_arrays", [{}], "unknown optional_arrays [{}]"),
        ("optional_arrays", ["velocity"], "unknown optional_arrays ['velocity']"),
        ("views", "front", "header field for 'frames' must be a list"),
        ("views", ["side"], "missing field 'frames/side'"),
        ("keyframes", [0, 3, 2, 4], "keyframes must be strictly increasing"),
        ("subtask_labels", ["only one"], "subtask_labels must have one label per subtask"),
        ("success", "yes", "success must be a bool"),
        ("variant", "heroic", "variant must be one of"),
        ("seed", 1.5, "seed must be an int"),
        ("task", "", "task must be a non-empty string"),
        ("metadata", [1], "metadata must be a mapping"),
        ("optional_arrays", ["rewards"], "arrays ['progress'] are not listed in the header"),
        ("depth_views", [], "arrays ['depth/front'] are not listed in the header"),
    ],
)
def test_bad_header_fields_are_named(field: str, value: Any, expected: str) -> None:
    arrays_ = dict(GOOD_ARRAYS)
    arrays_["header"] = np.array(json.dumps({**GOOD_HEADER, field: value}))
    with pytest.raises(DataFormatError) as info:
        trajectory_from_arrays(arrays_, source="src.npz")
    assert expected in str(info.value)


# ----------------------------------------------------------------------------- failed saves


@PROPERTY
@given(fail_after=st.integers(min_value=0, max_value=5000))
def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temp_file(
    good_file: tuple[Path, bytes],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    fail_after: int,
) -> None:
    folder = tmp_path_factory.mktemp("save")
    path = folder / "episode.npz"
    path.write_bytes(good_file[1])
    real = np.savez_compressed

    def dies_midway(handle, **arrays_):
        class Dying:
            written = 0

            def write(self, data):
                self.written += len(data)
                if self.written > fail_after:
                    raise OSError(28, "No space left on device")
                return handle.write(data)

            def __getattr__(self, name):
                return getattr(handle, name)

        real(Dying(), **arrays_)

    monkeypatch.setattr(trajectory_module.np, "savez_compressed", dies_midway)
    with pytest.raises(OSError, match="No space left"):
        make_traj(seed=1).save(path)
    assert path.read_bytes() == good_file[1]
    assert sorted(p.name for p in folder.iterdir()) == ["episode.npz"]


def test_save_onto_a_directory_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        GOOD.save(tmp_path / "d.npz")
    assert list((tmp_path / "d.npz").iterdir()) == []


# ----------------------------------------------------------------------------- datasets


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "ds"
    with DatasetWriter(path, "push", episodes_per_shard=2) as writer:
        for index in range(5):
            writer.add(make_traj(num_steps=3 + index, seed=index, success=bool(index % 2)))
    return path


def _snapshot(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


MANIFEST_PATHS = [
    ("schema_version",),
    ("task",),
    ("num_episodes",),
    ("shards",),
    ("shards", 0),
    ("shards", 0, "file"),
    ("shards", 1, "num_episodes"),
    ("shards", 2, "first_episode"),
    ("episodes",),
    ("episodes", 1),
    ("episodes", 1, "index"),
    ("episodes", 2, "shard"),
    ("episodes", 3, "variant"),
    ("episodes", 3, "success"),
    ("episodes", 4, "num_steps"),
    ("episodes", 0, "seed"),
]


@PROPERTY
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(MANIFEST_PATHS), JSON_VALUES | st.just(KeyError)),
        min_size=1,
        max_size=2,
    )
)
def test_an_edited_manifest_is_refused_by_name_or_read_consistently(
    tmp_path_factory: pytest.TempPathFactory, edits
) -> None:
    path = tmp_path_factory.mktemp("man") / "ds"
    with DatasetWriter(path, "push", episodes_per_shard=2) as writer:
        for index in range(5):
            writer.add(make_traj(num_steps=3 + index, seed=index, success=bool(index % 2)))
    manifest = json.loads((path / "manifest.json").read_text())
    for where, value in edits:
        holder = manifest
        for part in where[:-1]:
            try:
                holder = holder[part]
            except (KeyError, IndexError, TypeError):
                holder = None
        if isinstance(holder, dict) or (isinstance(holder, list) and where[-1] < len(holder)):
            if value is KeyError:
                holder.pop(where[-1], None) if isinstance(holder, dict) else holder.pop(where[-1])
            else:
                holder[where[-1]] = value
    (path / "manifest.json").write_text(json.dumps(manifest))
    before = _snapshot(path)
    try:
        reader = DatasetReader(path)
        reader.summary()
        episodes = list(reader)
    except DataFormatError as error:
        assert str(path) in str(error)
    else:
        assert len(episodes) == len(reader) and all(e.task == "push" for e in episodes)
    assert _snapshot(path) == before


@PROPERTY
@given(cut=st.floats(min_value=0.0, max_value=0.999))
def test_a_truncated_shard_is_named_when_its_episodes_are_read(
    tmp_path_factory: pytest.TempPathFactory, cut: float
) -> None:
    path = tmp_path_factory.mktemp("shard") / "ds"
    with DatasetWriter(path, "push", episodes_per_shard=2) as writer:
        for index in range(3):
            writer.add(make_traj(seed=index))
    shard = path / "shard_00001.npz"
    data = shard.read_bytes()
    shard.write_bytes(data[: int(cut * len(data))])
    reader = DatasetReader(path)
    assert len(reader[0].actions) == 4  # the intact shard still reads
    with pytest.raises(DataFormatError, match="shard_00001.npz"):
        reader[2]


def test_a_shard_that_disagrees_with_the_manifest_is_refused(dataset: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["episodes"][0]["num_steps"] = 99
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataFormatError, match="episode 0 disagrees with the manifest"):
        DatasetReader(dataset)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"[]", "not a robo_reward.dataset manifest"),
        (b'{"schema": "robo_reward.dataset", "schema_version": 7}', "schema_version 7 is newer"),
    ],
)
def test_unreadable_manifests_are_named(dataset: Path, text: bytes, expected: str) -> None:
    (dataset / "manifest.json").write_bytes(text)
    with pytest.raises(DataFormatError) as info:
        DatasetReader(dataset)
    assert expected in str(info.value) and "manifest.json" in str(info.value)


@pytest.mark.parametrize("fail_at", [0, 1, 3, 4])
def test_a_failed_overwrite_leaves_the_old_dataset_byte_for_byte(
    dataset: Path, fail_at: int
) -> None:
    before = _snapshot(dataset)
    with pytest.raises(RuntimeError, match="generation crashed"):
        with DatasetWriter(dataset, "push", episodes_per_shard=2, overwrite=True) as writer:
            for index in range(5):
                if index == fail_at:
                    raise RuntimeError("generation crashed")
                writer.add(make_traj(seed=10 + index))
    assert _snapshot(dataset) == before
    assert sorted(p.name for p in dataset.parent.iterdir()) == ["ds"]


def test_a_bad_episode_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    with DatasetWriter(path, "push") as writer:
        with pytest.raises(ValueError, match="does not match this dataset's task"):
            writer.add(make_traj(task="reach"))
        with pytest.raises(TypeError, match="expects a Trajectory"):
            writer.add({"frames": {}})  # type: ignore[arg-type]
    assert DatasetReader(path).summary()["num_episodes"] == 0
