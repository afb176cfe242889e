"""Trajectory: validation, immutability, .npz round trip and load errors."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from robo_reward.data import FORMAT_VERSION, DataFormatError, Trajectory, keyframe_progress
from robo_reward.data.trajectory import trajectory_to_arrays

# ----------------------------------------------------------------------------- basics


def test_sizes_views_and_subtasks(make_traj):
    traj = make_traj(num_steps=12, views={"front": (16, 16), "wrist": (8, 12)}, full=True)
    assert traj.num_steps == 12
    assert traj.num_frames == 13
    assert traj.views == ("front", "wrist")
    assert traj.subtasks() == [("approach", 0, 4), ("grasp", 4, 8), ("lift", 8, 12)]
    np.testing.assert_array_equal(traj.keyframe_progress(), keyframe_progress((0, 4, 8, 12), 13))
    assert traj.valid_mask("wrist").all() and not traj.valid_mask("front")[2]


def test_unlabelled_keyframes_get_generic_labels(make_traj):
    traj = make_traj(num_steps=6, keyframes=(0, 3, 6))
    assert traj.subtasks() == [("subtask_0", 0, 3), ("subtask_1", 3, 6)]


def test_methods_needing_keyframes_say_so(make_traj):
    traj = make_traj()
    with pytest.raises(ValueError, match="needs keyframes"):
        traj.subtasks()
    with pytest.raises(ValueError, match="needs keyframes"):
        traj.keyframe_progress()


def test_repr_is_short(make_traj):
    text = repr(make_traj(num_steps=50))
    assert "T=50" in text and "push" in text and len(text) < 300


def test_equality_sees_every_difference(make_traj):
    traj = make_traj(full=True)
    assert traj == make_traj(full=True)
    actions = traj.actions.copy()
    actions[3, 1] += 1
    assert traj != dataclasses.replace(traj, actions=actions)
    assert traj != dataclasses.replace(traj, metadata={"other": 1})
    assert traj != dataclasses.replace(traj, view_valid={})
    assert traj != dataclasses.replace(traj, rewards=None)


# ----------------------------------------------------------------------------- validation


N = 13  # frames of the default 12-step trajectory
rng = np.random.default_rng(1)
GOOD_FRAMES = rng.integers(0, 256, (N, 16, 16, 3), dtype=np.uint8)

INVALID = {
    "actions float64": ({"actions": np.zeros((12, 4))}, "actions must have dtype float32"),
    "actions list": ({"actions": [[0.0] * 4] * 12}, "actions must be a numpy.ndarray"),
    "frames float": (
        {"frames": {"front": GOOD_FRAMES.astype(np.float32)}},
        r"frames\['front'\] must have dtype uint8",
    ),
    "frames 4 channels": (
        {"frames": {"front": np.zeros((N, 16, 16, 4), np.uint8)}},
        r"shape \(T\+1, H, W, 3\)",
    ),
    "no views": ({"frames": {}}, "at least one camera view"),
    "bad view name": ({"frames": {"front/left": GOOD_FRAMES}}, "view name"),
    "views differ in length": (
        {"frames": {"front": GOOD_FRAMES, "side": GOOD_FRAMES[:-1]}},
        "same number of frames",
    ),
    "actions too short": ({"actions": np.zeros((11, 4), np.float32)}, "actions must have T=12"),
    "states too long": ({"states": np.zeros((14, 7), np.float32)}, "states must have T\\+1=13"),
    "states 1-D": ({"states": np.zeros(13, np.float32)}, "states must be 2-D"),
    "NaN in states": ({"states": np.full((13, 7), np.nan, np.float32)}, "states contains 91 NaN"),
    "inf in actions": ({"actions": np.full((12, 4), np.inf, np.float32)}, "actions contains"),
    "timestamps int32": ({"timestamps_ns": np.arange(13, dtype=np.int32)}, "dtype int64"),
    "timestamps repeat": ({"timestamps_ns": np.array([0] * 13, np.int64)}, "strictly increasing"),
    "unordered keyframes": ({"keyframes": (0, 8, 5, 12)}, "keyframes must be strictly increasing"),
    "keyframes miss end": ({"keyframes": (0, 5, 10)}, "end at T=12"),
    "keyframes miss start": ({"keyframes": (2, 5, 12)}, "start at 0"),
    "keyframes float": ({"keyframes": (0, 5.0, 12)}, r"keyframes\[1\] must be an int"),
    "labels count": (
        {"keyframes": (0, 6, 12), "subtask_labels": ("a", "b", "c")},
        "one label per subtask: 2",
    ),
    "labels alone": ({"subtask_labels": ("a",)}, "without keyframes"),
    "empty label": ({"keyframes": (0, 6, 12), "subtask_labels": ("a", "")}, "non-empty string"),
    "progress above 1": (
        {"progress": np.linspace(0, 1.5, 13, dtype=np.float32)},
        r"progress must lie in \[0, 1\]",
    ),
    "progress below 0": (
        {"progress": np.linspace(-0.1, 1, 13, dtype=np.float32)},
        r"progress must lie in \[0, 1\]",
    ),
    "progress length": ({"progress": np.zeros(12, np.float32)}, "progress must have T\\+1=13"),
    "rewards length": ({"rewards": np.zeros(13, np.float32)}, "rewards must have T=12"),
    "goal shapes differ": (
        {
            "achieved_goals": np.zeros((13, 3), np.float32),
            "desired_goals": np.zeros((13, 2), np.float32),
        },
        "same shape",
    ),
    "unknown variant": ({"variant": "lucky"}, "variant must be one of"),
    "success int": ({"success": 1}, "success must be a bool"),
    "empty task": ({"task": ""}, "task must be a non-empty string"),
    "depth unknown view": (
        {"depth": {"side": np.zeros((13, 16, 16), np.float32)}},
        r"depth has views \['side'\]",
    ),
    "depth shape": (
        {"depth": {"front": np.zeros((13, 8, 8), np.float32)}},
        r"depth\['front'\] must have shape \(13, 16, 16\)",
    ),
    "depth negative": ({"depth": {"front": -np.ones((13, 16, 16), np.float32)}}, ">= 0 metres"),
    "view_valid int": ({"view_valid": {"front": np.ones(13, np.int64)}}, "dtype bool"),
    "metadata numpy scalar": ({"metadata": {"x": np.float32(1.0)}}, "JSON-serialisable"),
    "metadata NaN": ({"metadata": {"x": float("nan")}}, "JSON-serialisable"),
    "metadata int keys": ({"metadata": {"x": {1: "a"}}}, "string dict keys"),
}


@pytest.mark.parametrize("overrides,message", INVALID.values(), ids=INVALID.keys())
def test_invalid_fields_are_named(make_traj, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_traj(num_steps=12, **overrides)


def test_seed_must_be_int(make_traj):
    with pytest.raises(ValueError, match="seed must be an int"):
        dataclasses.replace(make_traj(), seed=1.5)


def test_one_step_minimum(make_traj):
    with pytest.raises(ValueError, match="at least 2 frames"):
        make_traj(num_steps=0)


def test_numpy_bool_and_int_are_accepted_as_python_values(make_traj):
    traj = make_traj(success=np.bool_(True), seed=np.int64(7), keyframes=[0, np.int32(6), 12])
    assert traj.success is True and type(traj.seed) is int and traj.keyframes == (0, 6, 12)


# ----------------------------------------------------------------------------- immutability


def test_fields_cannot_be_reassigned(make_traj):
    traj = make_traj()
    with pytest.raises(dataclasses.FrozenInstanceError):
        traj.task = "lift"  # type: ignore[misc]


def test_arrays_and_mappings_are_read_only(make_traj):
    traj = make_traj(full=True)
    with pytest.raises(ValueError, match="read-only"):
        traj.actions[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        traj.frames["front"][0, 0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        traj.view_valid["front"][0] = False
    with pytest.raises(TypeError):
        traj.frames["side"] = traj.frames["front"]  # type: ignore[index]
    with pytest.raises(TypeError):
        traj.metadata["new"] = 1  # type: ignore[index]


def test_caller_keeps_no_write_access(make_traj):
    actions = np.zeros((12, 4), np.float32)
    frames = np.zeros((13, 16, 16, 3), np.uint8)
    traj = make_traj(actions=actions, frames={"front": frames})
    actions[0, 0] = 5.0
    frames[0] = 255
    assert traj.actions[0, 0] == 0.0 and traj.frames["front"][0].max() == 0


def test_pickles_for_worker_processes(make_traj):
    traj = make_traj(full=True)
    clone = pickle.loads(pickle.dumps(traj))
    assert clone == traj and not clone.actions.flags.writeable
    assert copy.deepcopy(traj) == traj


# ----------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("full", [False, True], ids=["optional-absent", "optional-present"])
def test_round_trip_keeps_every_field(make_traj, tmp_path, full):
    traj = make_traj(views={"front": (16, 16), "wrist": (8, 12)}, full=full, seed=3)
    path = traj.save(tmp_path / "demo.npz")
    loaded = Trajectory.load(path)
    assert loaded == traj
    for f in dataclasses.fields(Trajectory):
        a, b = getattr(traj, f.name), getattr(loaded, f.name)
        if isinstance(a, np.ndarray):
            assert b.dtype == a.dtype and b.shape == a.shape and not b.flags.writeable
        elif a is None:
            assert b is None, f.name
    assert loaded.views == ("front", "wrist")
    assert dict(loaded.metadata) == dict(traj.metadata)


def test_save_uses_exact_name_and_leaves_no_temp_files(make_traj, tmp_path):
    make_traj().save(tmp_path / "episode.traj")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode.traj"]


def test_file_is_readable_with_numpy_alone(make_traj, tmp_path):
    traj = make_traj(full=True)
    traj.save(tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:
        header = json.loads(z["header"].item())
        assert header["format_version"] == FORMAT_VERSION and header["task"] == "push"
        assert header["keyframes"] == list(traj.keyframes)
        np.testing.assert_array_equal(z["frames/front"], traj.frames["front"])
        np.testing.assert_array_equal(z["depth/front"], traj.depth["front"])


def test_failed_save_leaves_existing_file_untouched(make_traj, tmp_path, monkeypatch):
    path = make_traj(seed=1).save(tmp_path / "demo.npz")
    before = path.read_bytes()

    def crash(handle, **_):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError, match="disk full"):
        make_traj(seed=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo.npz"]


def test_load_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        Trajectory.load(tmp_path / "nope.npz")
    with pytest.raises(IsADirectoryError, match="DatasetReader"):
        Trajectory.load(tmp_path)


def test_load_truncated_file(make_traj, tmp_path):
    path = make_traj().save(tmp_path / "demo.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="truncated or corrupted"):
        Trajectory.load(path)


def test_load_text_file_named_npz(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("this is not an archive\n")
    with pytest.raises(DataFormatError, match="not an .npz"):
        Trajectory.load(path)


def test_load_refuses_pickle_file(make_traj, tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"actions": [1, 2, 3]}))
    with pytest.raises(DataFormatError, match="pickle"):
        Trajectory.load(path)


def test_load_refuses_object_arrays_inside_npz(make_traj, tmp_path):
    arrays = trajectory_to_arrays(make_traj())
    arrays["actions"] = np.array([{"a": 1}], dtype=object)
    path = tmp_path / "objects.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError, match="pickled"):
        Trajectory.load(path)


def _rewrite_header(path: Path, change) -> None:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].item())
    change(header)
    arrays["header"] = np.array(json.dumps(header))
    np.savez_compressed(path, **arrays)


def test_load_newer_format_version(make_traj, tmp_path):
    path = make_traj().save(tmp_path / "demo.npz")
    _rewrite_header(path, lambda h: h.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(DataFormatError, match="newer than this robo_reward reads"):
        Trajectory.load(path)


def test_load_bad_format_version(make_traj, tmp_path):
    path = make_traj().save(tmp_path / "demo.npz")
    _rewrite_header(path, lambda h: h.update(format_version="one"))
    with pytest.raises(DataFormatError, match="invalid format_version"):
        Trajectory.load(path)


def test_load_missing_array_field(make_traj, tmp_path):
    arrays = trajectory_to_arrays(make_traj())
    del arrays["actions"]
    path = tmp_path / "partial.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError, match="missing field 'actions'"):
        Trajectory.load(path)


def test_load_npz_without_header(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, actions=np.zeros((3, 2), np.float32))
    with pytest.raises(DataFormatError, match="missing field 'header'"):
        Trajectory.load(path)


def test_load_revalidates_contents(make_traj, tmp_path):
    arrays = trajectory_to_arrays(make_traj())
    arrays["actions"] = arrays["actions"].astype(np.float64)
    path = tmp_path / "f64.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError, match="actions must have dtype float32"):
        Trajectory.load(path)


def test_npz_members_keep_plain_names(make_traj, tmp_path):
    path = make_traj(views={"front": (4, 4), "side": (4, 4)}).save(tmp_path / "d.npz")
    names = set(zipfile.ZipFile(path).namelist())
    assert {"header.npy", "frames/front.npy", "frames/side.npy", "actions.npy"} <= names
    assert os.path.getsize(path) > 0
