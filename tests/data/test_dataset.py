"""Sharded datasets: layout, manifest, crash tolerance, overwrite rules, reader errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from robo_reward.data import (
    DATASET_VERSION,
    DataFormatError,
    DatasetReader,
    DatasetWriter,
    load_trajectories,
)

VARIANTS = ("expert", "noisy", "perturbed", "failure", "recorded")


@pytest.fixture
def episodes(make_traj):
    """25 small episodes with varied variants, success flags and lengths."""
    return [
        make_traj(
            num_steps=4 + i % 3,
            views={"front": (8, 8), "wrist": (6, 10)},
            seed=i,
            full=i % 2 == 0,
            variant=VARIANTS[i % 5],
            success=i % 4 != 0,
        )
        for i in range(25)
    ]


def _write(path, trajs, per_shard=10, **kwargs):
    with DatasetWriter(path, "push", episodes_per_shard=per_shard, **kwargs) as writer:
        for traj in trajs:
            writer.add(traj)
    return path


def _files(path):
    return sorted(p.name for p in path.iterdir())


def test_25_episodes_make_3_shards_and_read_back_equal(tmp_path, episodes):
    path = _write(tmp_path / "ds", episodes, metadata={"generator": "test"})
    assert _files(path) == [
        "manifest.json",
        "shard_00000.npz",
        "shard_00001.npz",
        "shard_00002.npz",
    ]
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["schema"] == "robo_reward.dataset"
    assert manifest["schema_version"] == DATASET_VERSION
    assert manifest["complete"] is True and manifest["task"] == "push"
    assert manifest["num_episodes"] == 25 and manifest["metadata"] == {"generator": "test"}
    assert [s["num_episodes"] for s in manifest["shards"]] == [10, 10, 5]
    assert [s["first_episode"] for s in manifest["shards"]] == [0, 10, 20]
    for i, (summary, traj) in enumerate(zip(manifest["episodes"], episodes, strict=True)):
        assert summary == {
            "index": i,
            "shard": i // 10,
            "success": traj.success,
            "variant": traj.variant,
            "num_steps": traj.num_steps,
            "seed": i,
        }

    reader = DatasetReader(path)
    assert len(reader) == 25 and reader.task == "push" and reader.complete
    assert list(reader) == episodes
    assert reader[-1] == episodes[24] and reader[13] == episodes[13]


def test_shard_layout_uses_dataset_wide_episode_keys(tmp_path, episodes):
    path = _write(tmp_path / "ds", episodes[:12])
    with np.load(path / "shard_00001.npz", allow_pickle=False) as z:
        keys = set(z.files)
        header = json.loads(z["ep10/header"].item())
    assert {
        "ep10/header",
        "ep10/frames/front",
        "ep10/frames/wrist",
        "ep10/actions",
        "ep11/states",
        "ep11/timestamps_ns",
    } <= keys
    assert not any(k.startswith("ep0/") for k in keys)
    assert header["task"] == "push" and header["seed"] == 10


def test_summary_counts_variants_and_success(tmp_path, episodes):
    summary = DatasetReader(_write(tmp_path / "ds", episodes)).summary()
    assert summary["num_episodes"] == 25 and summary["num_shards"] == 3
    assert summary["success_rate"] == pytest.approx(18 / 25)
    assert {v: s["count"] for v, s in summary["by_variant"].items()} == dict.fromkeys(VARIANTS, 5)
    expert = summary["by_variant"]["expert"]  # episodes 0, 5, 10, 15, 20; 0 and 20 fail
    assert expert["success"] == 3 and expert["success_rate"] == pytest.approx(0.6)


def test_interrupted_writer_keeps_complete_shards(tmp_path, episodes):
    path = tmp_path / "ds"
    writer = DatasetWriter(path, "push", episodes_per_shard=10)
    for traj in episodes[:12]:
        writer.add(traj)
    del writer  # simulated crash: close() never runs
    assert _files(path) == ["manifest.json", "shard_00000.npz"]
    reader = DatasetReader(path)
    assert len(reader) == 10 and not reader.complete
    assert list(reader) == episodes[:10]


def test_exception_inside_with_keeps_written_shards_only(tmp_path, episodes):
    path = tmp_path / "ds"
    with pytest.raises(RuntimeError, match="simulator died"):
        _write_then_fail(path, episodes[:13])
    reader = DatasetReader(path)
    assert len(reader) == 10 and not reader.complete


def _write_then_fail(path, trajs):
    with DatasetWriter(path, "push", episodes_per_shard=10) as writer:
        for traj in trajs:
            writer.add(traj)
        raise RuntimeError("simulator died")


def test_new_writer_has_an_empty_consistent_manifest(tmp_path):
    writer = DatasetWriter(tmp_path / "ds", "push")
    reader = DatasetReader(tmp_path / "ds")
    assert len(reader) == 0 and not reader.complete and reader.summary()["success_rate"] is None
    writer.close()
    assert DatasetReader(tmp_path / "ds").complete


def test_refuses_non_empty_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        DatasetWriter(tmp_path, "push")
    with pytest.raises(FileExistsError, match="no robo_reward dataset manifest"):
        DatasetWriter(tmp_path, "push", overwrite=True)
    assert _files(tmp_path) == ["notes.txt"]


def test_empty_existing_directory_is_used(tmp_path, episodes):
    (tmp_path / "ds").mkdir()
    assert len(DatasetReader(_write(tmp_path / "ds", episodes[:3]))) == 3


def test_overwrite_keeps_old_data_until_new_is_complete(tmp_path, episodes):
    path = _write(tmp_path / "ds", episodes[:5])
    writer = DatasetWriter(path, "push", episodes_per_shard=2, overwrite=True)
    for traj in episodes[10:15]:
        writer.add(traj)
    assert list(DatasetReader(path)) == episodes[:5]  # old data untouched while generating
    writer.close()
    assert list(DatasetReader(path)) == episodes[10:15]
    assert _files(tmp_path) == ["ds"]  # no staging or retired directories left


def test_failed_overwrite_leaves_old_dataset(tmp_path, episodes):
    path = _write(tmp_path / "ds", episodes[:5])
    with pytest.raises(RuntimeError):
        with DatasetWriter(path, "push", episodes_per_shard=2, overwrite=True) as writer:
            for traj in episodes[10:15]:
                writer.add(traj)
            raise RuntimeError("interrupted")
    assert list(DatasetReader(path)) == episodes[:5]
    assert _files(tmp_path) == ["ds"]


def test_refuses_other_task_and_non_trajectories(tmp_path, make_traj):
    with DatasetWriter(tmp_path / "ds", "push") as writer:
        writer.add(make_traj(task="push"))
        with pytest.raises(ValueError, match="task 'lift' does not match.*'push'"):
            writer.add(make_traj(task="lift"))
        with pytest.raises(TypeError, match="expects a Trajectory"):
            writer.add({"frames": {}})
    assert len(DatasetReader(tmp_path / "ds")) == 1
    with pytest.raises(RuntimeError, match="closed"):
        writer.add(make_traj())


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_rejects_bad_shard_size(tmp_path, bad):
    with pytest.raises(ValueError, match="episodes_per_shard"):
        DatasetWriter(tmp_path / "ds", "push", episodes_per_shard=bad)


def test_no_temp_files_after_writing(tmp_path, episodes):
    path = _write(tmp_path / "ds", episodes[:7], per_shard=3)
    assert not [p for p in path.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- reader errors


@pytest.fixture
def small_dataset(tmp_path, episodes):
    return _write(tmp_path / "ds", episodes[:12])


def _edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_reader_without_manifest(tmp_path):
    (tmp_path / "shard_00000.npz").write_bytes(b"")
    with pytest.raises(DataFormatError, match="no manifest.json"):
        DatasetReader(tmp_path)


def test_reader_newer_schema_version(small_dataset):
    _edit_manifest(small_dataset, lambda m: m.update(schema_version=DATASET_VERSION + 1))
    with pytest.raises(DataFormatError, match="newer than this robo_reward reads"):
        DatasetReader(small_dataset)


def test_reader_wrong_schema(small_dataset):
    _edit_manifest(small_dataset, lambda m: m.update(schema="someone.else"))
    with pytest.raises(DataFormatError, match="not a robo_reward.dataset manifest"):
        DatasetReader(small_dataset)


def test_reader_missing_shard(small_dataset):
    (small_dataset / "shard_00001.npz").unlink()
    with pytest.raises(DataFormatError, match="shard shard_00001.npz .* is missing"):
        DatasetReader(small_dataset)


def test_reader_inconsistent_counts(small_dataset):
    _edit_manifest(small_dataset, lambda m: m.update(num_episodes=99))
    with pytest.raises(DataFormatError, match="num_episodes=99 but 12 episodes listed"):
        DatasetReader(small_dataset)


def test_reader_corrupt_manifest(small_dataset):
    (small_dataset / "manifest.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        DatasetReader(small_dataset)


def test_reader_truncated_shard_names_the_file(small_dataset):
    shard = small_dataset / "shard_00001.npz"
    shard.write_bytes(shard.read_bytes()[:200])
    reader = DatasetReader(small_dataset)
    assert reader[0] is not None  # shard 0 is fine and loads lazily
    with pytest.raises(DataFormatError, match="shard_00001.npz: truncated"):
        reader[10]


def test_reader_indexing_errors(small_dataset):
    reader = DatasetReader(small_dataset)
    with pytest.raises(IndexError, match="out of range"):
        reader[12]
    with pytest.raises(TypeError, match="ints"):
        reader["0"]


def test_reader_loads_shards_lazily(small_dataset, monkeypatch):
    import robo_reward.data.dataset as dataset_module

    opened = []
    real = dataset_module.read_npz
    monkeypatch.setattr(dataset_module, "read_npz", lambda p: opened.append(p.name) or real(p))
    reader = DatasetReader(small_dataset)
    assert opened == []
    reader[3], reader[4], reader[11]
    assert opened == ["shard_00000.npz", "shard_00001.npz"]


def test_load_trajectories_from_file_or_directory(tmp_path, episodes):
    file = episodes[0].save(tmp_path / "one.npz")
    assert load_trajectories(file) == [episodes[0]]
    assert load_trajectories(_write(tmp_path / "ds", episodes[:4])) == episodes[:4]
    with pytest.raises(FileNotFoundError, match="no trajectory file or dataset"):
        load_trajectories(tmp_path / "missing")


def test_dataset_copy_is_still_readable(tmp_path, episodes):
    """Nothing in a dataset depends on its absolute location."""
    src = _write(tmp_path / "ds", episodes[:3])
    shutil.copytree(src, tmp_path / "copy")
    assert list(DatasetReader(tmp_path / "copy")) == episodes[:3]
