"""Security: no unsafe deserialisation in the source tree, no code execution from a hostile
checkpoint or data file, and no output path that a name from input data can steer outside its
folder."""

from __future__ import annotations

import ast
import importlib
import json
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from gymnasium import spaces

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "grm"))

from grm_synthetic import build_trajectory, tiny_config  # noqa: E402

from robo_reward.checkpoints import (  # noqa: E402
    CheckpointError,
    load_optimizer,
    load_weights,
)
from robo_reward.data import DataFormatError, DatasetReader, DatasetWriter, Trajectory  # noqa: E402
from robo_reward.data.dataset import load_trajectories  # noqa: E402
from robo_reward.data.trajectory import read_npz  # noqa: E402

# --------------------------------------------------------------------------- (a) source scan

SCANNED = [
    *sorted((ROOT / "robo_reward").rglob("*.py")),
    *sorted((ROOT / "ros2_ws").rglob("*.py")),
    *sorted((ROOT / "docs").glob("*.py")),
]
UNPICKLERS = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("_pickle", "load"),
    ("_pickle", "loads"), ("cPickle", "load"), ("cPickle", "loads"), ("dill", "load"),
    ("dill", "loads"), ("cloudpickle", "load"), ("cloudpickle", "loads"), ("joblib", "load"),
    ("marshal", "load"), ("marshal", "loads"), ("shelve", "open"), ("pandas", "read_pickle"),
    ("yaml", "unsafe_load"), ("yaml", "unsafe_load_all"), ("yaml", "full_load"),
    ("yaml", "full_load_all"),
}  # fmt: skip
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``np.load`` -> ``numpy.load`` (through the file's import aliases), or None."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _safe_yaml_loader(node: ast.expr | None, module: str | None, aliases: dict[str, str]) -> bool:
    """``Loader=yaml.SafeLoader`` and the like, or a name of this module that is a SafeLoader
    subclass (resolved by importing the module: robo_reward modules only)."""
    if node is None:
        return False
    dotted = _dotted(node, aliases) or ""
    if dotted.rsplit(".", 1)[-1] in SAFE_YAML_LOADERS:
        return True
    if module is not None and isinstance(node, ast.Name):
        loader = getattr(importlib.import_module(module), node.id, None)
        return isinstance(loader, type) and issubclass(loader, yaml.SafeLoader)
    return False


def unsafe_calls(source: str, module: str | None = None) -> list[str]:
    """Every unsafe deserialisation or dynamic code execution in ``source``, as
    ``"line N: what"``. ``module``: its import name, to resolve custom YAML loaders."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                if (node.module.split(".")[0], alias.name) in UNPICKLERS:
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        where = f"line {node.lineno}: {name}(...)"
        if name in ("eval", "exec", "builtins.eval", "builtins.exec", "__import__"):
            found.append(where)
        elif name is None:
            continue
        elif tuple(name.split(".", 1)) in UNPICKLERS:
            found.append(where)
        elif name == "torch.load" and not _is_constant(_keyword(node, "weights_only"), True):
            found.append(f"{where} without weights_only=True")
        elif name in ("numpy.load", "numpy.lib.npyio.load"):
            allow = _keyword(node, "allow_pickle")
            if allow is not None and not _is_constant(allow, False):
                found.append(f"{where} with allow_pickle={ast.unparse(allow)}")
        elif name in ("yaml.load", "yaml.load_all"):
            loader = _keyword(node, "Loader")
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            if not _safe_yaml_loader(loader, module, aliases):
                found.append(f"{where} without a SafeLoader")
        elif name.endswith(("subprocess.run", "subprocess.Popen", "subprocess.call")) and (
            _is_constant(_keyword(node, "shell"), True)
        ):
            found.append(f"{where} with shell=True")
    return found


def _module_name(path: Path) -> str | None:
    if ROOT / "robo_reward" not in path.parents:
        return None
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_scanner_finds_every_kind_of_unsafe_call() -> None:
    bad = """
import pickle, torch, yaml
import numpy as np
from pickle import loads
import dill as d
torch.load("x")
torch.load("x", weights_only=False)
pickle.load(open("x", "rb"))
np.load("x", allow_pickle=True)
yaml.load(text)
yaml.load(text, Loader=yaml.Loader)
yaml.unsafe_load(text)
d.loads(b"")
eval("1")
exec("x = 1")
subprocess.run("ls", shell=True)
"""
    good = """
import torch, yaml
import numpy as np
torch.load("x", weights_only=True)
np.load("x")
np.load("x", allow_pickle=False)
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
model.eval()
"""
    assert len(unsafe_calls(bad)) == 12, unsafe_calls(bad)
    assert unsafe_calls(good) == []


def test_no_unsafe_deserialisation_or_dynamic_code_in_the_source_tree() -> None:
    assert len(SCANNED) > 100  # the tree was found
    problems = {
        str(path.relative_to(ROOT)): found
        for path in SCANNED
        if (found := unsafe_calls(path.read_text(encoding="utf-8"), _module_name(path)))
    }
    assert problems == {}


# --------------------------------------------------------------------------- (b) hostile files


class Payload:
    """Unpickling this creates ``marker``: what a hostile checkpoint would do with a shell."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


@dataclass(frozen=True)
class Hostile:
    name: str
    write: Callable[[Path, Payload], None]
    unsafe_load: Callable[[Path], object]


def _torch_zip(path: Path, payload: Payload) -> None:
    torch.save({"w": torch.ones(2), "boom": payload}, path)


def _torch_legacy(path: Path, payload: Payload) -> None:
    torch.save({"w": torch.ones(2), "boom": payload}, path, _use_new_zipfile_serialization=False)


def _pickle(path: Path, payload: Payload) -> None:
    path.write_bytes(pickle.dumps({"w": np.ones(2), "boom": payload}))


def _npz_object_array(path: Path, payload: Payload) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, boom=np.array([payload], dtype=object))


def _npz_unsafe(path: Path) -> object:
    with np.load(path, allow_pickle=True) as archive:
        return archive["boom"]


HOSTILE = [
    Hostile("torch.save zip", _torch_zip, lambda p: torch.load(p, weights_only=False)),
    Hostile("torch.save legacy", _torch_legacy, lambda p: torch.load(p, weights_only=False)),
    Hostile("pickle", _pickle, lambda p: pickle.loads(p.read_bytes())),
    Hostile("npz object array", _npz_object_array, _npz_unsafe),
]


def _grm_resume(path: Path) -> object:
    from robo_reward.grm.train import CHECKPOINT_NAME, OPTIMIZER_NAME, TrainConfig, train_grm

    out = path.parent / "grm_run"
    out.mkdir()
    for name in (CHECKPOINT_NAME, OPTIMIZER_NAME):
        os.link(path, out / name)
    return train_grm([], out, tiny_config(), TrainConfig(steps=1), resume=True, progress=False)


def _dataset_shard(path: Path) -> object:
    """A dataset whose manifest is valid and whose shard is the hostile file."""
    folder = path.parent / "dataset"
    with DatasetWriter(folder, "push") as writer:
        writer.add(build_trajectory(num_steps=3))
    os.replace(path, folder / "shard_00000.npz")
    return DatasetReader(folder)[0]


def _never_built() -> Any:
    raise AssertionError("a hostile checkpoint must be refused before any env is built")


def _trainer(name: str) -> Callable[[Path], object]:
    def load(path: Path) -> object:
        from robo_reward.rl.ppo import PPO
        from robo_reward.rl.sac import SAC

        return (SAC if name == "sac" else PPO).load(path, _never_built)

    return load


def _replay(path: Path) -> object:
    from robo_reward.rl.replay import ReplayBuffer

    box = spaces.Box(-1.0, 1.0, (2,), np.float32)
    return ReplayBuffer(box, box, 8).load(path)


def _loaders() -> dict[str, Callable[[Path], object]]:
    from robo_reward.grm.checkpoint import load_grm, load_training_state
    from robo_reward.perceptual.reward import PerceptualReward
    from robo_reward.perceptual.tcn import load_tcn
    from robo_reward.rl.policy import load_policy
    from robo_reward.streams.grm_stream import load_grm_model, load_reference_demo

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.ones(2))])
    return {
        "checkpoints.load_weights": load_weights,
        "checkpoints.load_optimizer": lambda p: load_optimizer(p, optimizer),
        "grm load_grm": load_grm,
        "grm load_training_state": lambda p: load_training_state(p, optimizer),
        "grm train_grm(resume=True)": _grm_resume,
        "streams load_grm_model": load_grm_model,
        "rl load_policy": load_policy,
        "SAC.load": _trainer("sac"),
        "PPO.load": _trainer("ppo"),
        "ReplayBuffer.load": _replay,
        "perceptual load_tcn": load_tcn,
        "PerceptualReward.load": PerceptualReward.load,
        "Trajectory.load": Trajectory.load,
        "data read_npz": read_npz,
        "data load_trajectories": load_trajectories,
        "streams load_reference_demo": load_reference_demo,
        "DatasetReader shard": _dataset_shard,
    }


LOADER_NAMES = list(_loaders())


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h.name)
def test_the_hostile_payloads_do_run_code_when_unpickled(tmp_path: Path, hostile: Hostile) -> None:
    """The control: each hostile file runs its payload when loaded the unsafe way."""
    marker = tmp_path / "pwned"
    hostile.write(tmp_path / "hostile.bin", Payload(marker))
    assert not marker.exists()
    hostile.unsafe_load(tmp_path / "hostile.bin")
    assert marker.exists()


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h.name)
@pytest.mark.parametrize("loader", LOADER_NAMES)
def test_every_loader_refuses_a_hostile_file_without_running_it(
    tmp_path: Path, hostile: Hostile, loader: str
) -> None:
    marker = tmp_path / "pwned"
    suffix = ".npz" if "npz" in hostile.name or loader in ("data read_npz",) else ".safetensors"
    path = tmp_path / f"hostile{suffix}"
    hostile.write(path, Payload(marker))
    with pytest.raises((CheckpointError, DataFormatError, ValueError)) as caught:
        _loaders()[loader](path)
    assert not marker.exists(), f"{loader} ran the payload of a {hostile.name} file"
    assert str(caught.value), "the error must say what is wrong"


def test_checkpoint_errors_name_pickles_for_what_they_are(tmp_path: Path) -> None:
    for hostile in HOSTILE[:3]:
        path = tmp_path / f"{hostile.name}.safetensors"
        hostile.write(path, Payload(tmp_path / "pwned"))
        with pytest.raises(CheckpointError, match="pickle / torch.save file"):
            load_weights(path)
    assert not (tmp_path / "pwned").exists()


# --------------------------------------------------------------------------- (c) paths from data

ESCAPES = ["../../escaped", "/tmp/escaped_abs", "sub/dir", "..", ".", "", ".hidden", "a\x00b"]


@pytest.mark.parametrize("name", ESCAPES)
def test_file_name_part_keeps_a_name_inside_its_folder(tmp_path: Path, name: str) -> None:
    from robo_reward.data.paths import SAFE_NAME, checked_name, file_name_part

    part = file_name_part(name)
    assert SAFE_NAME.match(part) and "/" not in part and part not in (".", "..")
    assert (tmp_path / part).resolve().parent == tmp_path.resolve()
    with pytest.raises(ValueError, match="one file name"):
        checked_name(name, "name")


def _files_outside(root: Path, inside: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and inside not in p.parents]


def test_grm_evaluation_plots_of_hostile_task_names_stay_in_the_plot_folder(
    tmp_path: Path,
) -> None:
    """A trajectory file can carry any task name; the plot file name is built from it."""
    from robo_reward.grm.evaluate import evaluate_model
    from robo_reward.grm.model import GRM
    from robo_reward.grm.tracker import FusionConfig, Reference

    torch.manual_seed(0)
    grm = GRM(tiny_config()).eval()
    plots = tmp_path / "deep" / "er" / "plots"
    plots.mkdir(parents=True)
    experts = [build_trajectory(seed=1, task=task) for task in ("../../../escaped", "/tmp/abs")]
    reference = Reference.from_trajectory(build_trajectory(seed=0))
    evaluate_model(grm, reference, experts, [], FusionConfig(), plots, plots=2, label="../up")
    written = sorted(p.name for p in plots.iterdir())
    assert written == ["up_escaped_0.png", "up_tmp-abs_1.png"]
    assert _files_outside(tmp_path, plots) == []
    assert not Path("/tmp/abs_1.png").exists()


def test_dataset_manifest_cannot_point_outside_the_dataset(tmp_path: Path) -> None:
    secret = tmp_path / "secret.npz"
    build_trajectory(num_steps=3).save(secret)
    folder = tmp_path / "data" / "ds"
    with DatasetWriter(folder, "push") as writer:
        writer.add(build_trajectory(num_steps=3))
    manifest = json.loads((folder / "manifest.json").read_text())
    for hostile in ("../../secret.npz", os.fspath(secret), "sub/shard_00000.npz"):
        manifest["shards"][0]["file"] = hostile
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(DataFormatError, match="must name a file like shard_00000.npz"):
            DatasetReader(folder)


@pytest.mark.parametrize("view", ["../x", "/abs", "a/b", "..", ".hidden", ""])
def test_view_names_that_would_be_paths_are_refused(view: str) -> None:
    with pytest.raises(ValueError, match="view name"):
        build_trajectory(num_steps=3, views=(view,))


def test_bag_writer_refuses_message_types_and_topics_that_are_paths(tmp_path: Path) -> None:
    """The message type picks a ``.msg`` file below ``<prefix>/share``; topics are names in
    the bag (never file names) but must be proper ROS names all the same."""
    from robo_reward.data.bag_writer import BagWriter

    with BagWriter(tmp_path / "bag") as bag:
        for msgtype in ("../msg/Thing", "pkg/../Thing", "pkg/msg/../../../etc/passwd", "/a/b/C"):
            with pytest.raises(ValueError, match="message type must be"):
                bag.add_topic("/fine", msgtype)
        for topic in ("../../escaped", "/a/../b", "//x", "/x/", "relative", "/1digit"):
            with pytest.raises(ValueError, match="fully qualified ROS 2 topic"):
                bag.add_topic(topic, "std_msgs/msg/String")
        bag.add_topic("/camera/image_raw", "std_msgs/msg/String")
    assert sorted(p.name for p in (tmp_path / "bag").iterdir()) == ["bag.mcap", "metadata.yaml"]
    assert [p.name for p in tmp_path.iterdir()] == ["bag"]


def test_a_forged_commit_list_cannot_rename_files_outside_the_group(tmp_path: Path) -> None:
    """recover_group trusts only names of its own group: a crafted staging folder that lists
    ``../victim`` renames nothing."""
    from robo_reward.data.atomic import COMMIT_NAME, atomic_group, recover_group

    run = tmp_path / "run"
    run.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    targets = [run / "trainer.safetensors", run / "trainer.replay.npz"]
    with atomic_group(targets) as staged:
        for path in staged:
            path.write_text("good")
    stage = run / ".trainer.safetensors.staging"
    stage.mkdir()
    (stage / "x").write_text("evil")
    for names in (["../../victim"], ["../victim", "trainer.safetensors"], [COMMIT_NAME]):
        (stage / COMMIT_NAME).write_text(json.dumps({"files": names}))
        with pytest.raises(ValueError, match="not files of this group"):
            recover_group(targets)
    assert victim.read_text() == "keep me"
    assert [t.read_text() for t in targets] == ["good", "good"]


@pytest.fixture
def results_with_escaping_images(tmp_path: Path) -> Iterator[Path]:
    from robo_reward.bench.results import write_run

    root = tmp_path / "results"
    folder = root / "quick" / "20240101T000000"
    folder.mkdir(parents=True)
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG secret")
    (folder / "link.png").symlink_to(outside)
    (folder / "plot.png").write_bytes(b"\x89PNG fine")
    markdown = (
        "## robo-reward bench quick\n\n![ok](plot.png)\n![up](../../../secret.png)\n"
        f"![abs]({outside})\n![link](link.png)\n"
    )
    write_run(folder, "quick", {"complete": True, "seconds": 1.0}, markdown, {"x": 1}, "quick")
    yield root


def test_report_copies_no_image_from_outside_its_run_folder(
    tmp_path: Path, results_with_escaping_images: Path
) -> None:
    """Verification only (robo_reward/bench/report.py is guarded already)."""
    from robo_reward.bench.report import write_report

    out = tmp_path / "report"
    markdown, _ = write_report(results_with_escaping_images, out)
    copied = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert copied == ["quick/plot.png"]
    text = markdown.read_text()
    assert "](quick/plot.png)" in text and "](../../../secret.png)" in text
    assert b"secret" not in b"".join(p.read_bytes() for p in out.rglob("*.png"))
