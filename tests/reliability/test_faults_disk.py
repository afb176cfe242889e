"""A disk that fills mid-write and a read-only results folder, for real.

The full disk is a tiny tmpfs mount (we run as root in CI containers); where mounting is not
permitted, a file-size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored as Python does) makes the write
fail with EFBIG instead. The read-only folder is a tmpfs remounted ``ro`` (``chmod`` does not stop
root); without mount permission those tests are skipped, and a path below a regular file
(ENOTDIR) still checks the error messages. Every failed write must name the file and the OS
reason, leave the previous file intact and leave no temporary or half-written file behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from robo_reward.checkpoints import load_weights, save_weights
from robo_reward.data import DatasetReader, DatasetWriter, Trajectory
from robo_reward.data.atomic import atomic_group, atomic_write_bytes, atomic_write_text

ENV = {**os.environ, "MUJOCO_GL": "osmesa", "OMP_NUM_THREADS": "1"}
FULL = {errno.ENOSPC, errno.EFBIG}
TRAIN = [
    sys.executable, "-m", "robo_reward", "train", "--algo", "sac", "--task", "reach",
    "--no-progress", "--set", "sac.batch_size=32", "--set", "sac.hidden=[32,32]",
    "--set", "sac.eval_episodes=1", "--set", "sac.log_every=50",
]  # fmt: skip


# --------------------------------------------------------------------------- disks


def _mount_tmpfs(folder: Path, size: int) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    return done.returncode == 0


def _unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@dataclass
class SmallDisk:
    """A folder where writes past a size fail: a tmpfs of ``size`` bytes, or (no mount
    permission) an ordinary folder where :meth:`full` limits each file to ``per_file`` bytes."""

    folder: Path
    tmpfs: bool
    per_file: int

    @contextlib.contextmanager
    def full(self) -> Iterator[None]:
        """The block in which the disk is full (always, on a tmpfs)."""
        if self.tmpfs:
            yield
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.per_file, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    def preexec(self) -> Callable[[], None] | None:
        """For a subprocess: the file-size limit when there is no tmpfs."""
        if self.tmpfs:
            return None
        limit = self.per_file

        def limit_file_size() -> None:
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

        return limit_file_size


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int, int], SmallDisk]]:
    mounted: list[Path] = []

    def make(size: int, per_file: int) -> SmallDisk:
        folder = tmp_path / f"disk{len(mounted)}"
        if _mount_tmpfs(folder, size):
            mounted.append(folder)
            return SmallDisk(folder, True, per_file)
        return SmallDisk(folder, False, per_file)

    yield make
    for folder in mounted:
        _unmount(folder)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Callable[[Callable[[Path], None]], Path]]:
    """``read_only(fill)``: a folder that ``fill`` writes, then remounted read-only."""
    mounted: list[Path] = []

    def make(fill: Callable[[Path], None]) -> Path:
        folder = tmp_path / f"ro{len(mounted)}"
        if not _mount_tmpfs(folder, 64 * 1024 * 1024):
            pytest.skip(
                "mount not permitted: a read-only folder cannot be made (chmod does not "
                "stop root); test_paths_below_a_regular_file covers the messages"
            )
        mounted.append(folder)
        fill(folder)
        remount = ["mount", "-o", "remount,ro", str(folder)]
        assert subprocess.run(remount, capture_output=True).returncode == 0
        return folder

    yield make
    for folder in mounted:
        _unmount(folder)


# --------------------------------------------------------------------------- helpers


def listing(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (hidden ones too) with its sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def hidden(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob(".*")]


def assert_names(error: OSError, path: Path, codes: set[int]) -> None:
    assert error.errno in codes, error
    assert os.fspath(path) in str(error) and os.strerror(error.errno) in str(error), str(error)


def trajectory(seed: int, steps: int = 20) -> Trajectory:
    """A small trajectory whose random frames do not compress (768 bytes a frame)."""
    rng = np.random.default_rng(seed)
    n = steps + 1
    return Trajectory(
        frames={"front": rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)},
        actions=rng.standard_normal((steps, 4)).astype(np.float32),
        states=rng.standard_normal((n, 7)).astype(np.float32),
        timestamps_ns=np.arange(n, dtype=np.int64) * 50_000_000,
        task="push",
        seed=seed,
    )


# --------------------------------------------------------------------------- a full disk


def test_atomic_write_on_a_full_disk_names_the_target_and_keeps_the_old_file(
    small_disk: Callable[[int, int], SmallDisk],
) -> None:
    disk = small_disk(256 * 1024, 64 * 1024)
    target = disk.folder / "results.json"
    atomic_write_text(target, '{"old": true}\n')
    with disk.full(), pytest.raises(OSError) as caught:
        atomic_write_bytes(target, b"x" * (1024 * 1024))
    assert_names(caught.value, target, FULL)
    assert target.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in disk.folder.iterdir()) == ["results.json"]


def test_checkpoint_save_on_a_full_disk_keeps_the_previous_checkpoint(
    small_disk: Callable[[int, int], SmallDisk],
) -> None:
    disk = small_disk(256 * 1024, 64 * 1024)
    target = disk.folder / "grm.safetensors"
    save_weights(target, {"w": torch.ones(8)}, kind="grm", config={"v": 1})
    with disk.full(), pytest.raises(OSError) as caught:
        save_weights(target, {"w": torch.ones(500_000)}, kind="grm", config={"v": 2})
    assert_names(caught.value, target, FULL)
    loaded = load_weights(target)
    assert loaded.config == {"v": 1} and torch.equal(loaded.tensors["w"], torch.ones(8))
    assert sorted(p.name for p in disk.folder.iterdir()) == ["grm.safetensors"]


def test_a_checkpoint_set_on_a_full_disk_keeps_the_previous_set(
    small_disk: Callable[[int, int], SmallDisk],
) -> None:
    """The trainer's way of saving (weights, optimizer, replay as one atomic group)."""
    disk = small_disk(256 * 1024, 64 * 1024)
    names = ("trainer.safetensors", "trainer.optim.safetensors", "trainer.replay.npz")
    targets = [disk.folder / name for name in names]

    def save(size: int, version: int) -> None:
        with atomic_group(targets) as (weights, optim, replay):
            save_weights(weights, {"w": torch.ones(size)}, kind="sac", config={"v": version})
            save_weights(optim, {"m": torch.ones(size)}, kind="optimizer", config={})
            np.savez(replay, obs=np.ones(size, np.float32))

    save(16, 1)
    before = listing(disk.folder)
    with disk.full(), pytest.raises(OSError) as caught:
        save(40_000, 2)  # 160 KB a file: the second or third file no longer fits
    assert caught.value.errno in FULL
    assert any(os.fspath(t) in str(caught.value) for t in targets), str(caught.value)
    assert listing(disk.folder) == before and hidden(disk.folder) == []
    assert load_weights(targets[0]).config == {"v": 1}


def test_dataset_writer_on_a_full_disk_keeps_its_complete_shards(
    small_disk: Callable[[int, int], SmallDisk],
) -> None:
    disk = small_disk(96 * 1024, 40 * 1024)
    path = disk.folder / "demos"
    with disk.full(), pytest.raises(OSError) as caught:
        with DatasetWriter(path, "push", episodes_per_shard=2) as writer:
            for seed in range(40):  # growing episodes (8 KB, 16 KB, ...): the disk fills
                writer.add(trajectory(seed, steps=10 + 10 * seed))
    assert caught.value.errno in FULL
    assert "shard_" in str(caught.value) and os.fspath(path) in str(caught.value)
    reader = DatasetReader(path)
    assert not reader.complete and len(reader) >= 2
    assert [t.seed for t in reader] == list(range(len(reader)))
    assert sorted(p.name for p in path.iterdir()) == [
        "manifest.json",
        *(f"shard_{i:05d}.npz" for i in range(len(reader) // 2)),
    ]


def test_train_cli_on_a_disk_that_fills_mid_run_exits_2_and_keeps_the_last_checkpoint(
    small_disk: Callable[[int, int], SmallDisk],
) -> None:
    """160 KB hold the run's config, metrics and its first checkpoint set (about 125 KB), not a
    second set staged next to it; without tmpfs, 50 KB a file fails the second replay file."""
    disk = small_disk(160 * 1024, 50 * 1000)
    out = disk.folder / "runs"
    args = ["--steps", "600", "--set", "save_every=200", "--set", "sac.learning_starts=100"]
    done = subprocess.run(
        [*TRAIN, *args, "--out", str(out)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=disk.preexec(),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    (run_dir,) = out.iterdir()
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("robo-reward: error: ")
    reasons = ("No space left on device", "File too large")
    assert any(r in message for r in reasons) and os.fspath(run_dir) in message, message
    assert hidden(run_dir) == []  # no staging folder, no temp file
    trainer = load_weights(run_dir / "trainer.safetensors")  # the checkpoint before the fault
    assert trainer.extra["global_step"] == 200
    for name in trainer.extra["sidecars"].values():
        if name.endswith(".safetensors"):
            assert load_weights(run_dir / name).extra["save_id"] == trainer.extra["save_id"]
    assert not (run_dir / "policy.safetensors").exists()


# --------------------------------------------------------------------------- a read-only folder


def test_writes_into_a_read_only_folder_name_the_file_and_change_nothing(
    read_only: Callable[[Callable[[Path], None]], Path],
) -> None:
    def fill(folder: Path) -> None:
        atomic_write_text(folder / "results.json", "{}\n")
        save_weights(folder / "grm.safetensors", {"w": torch.ones(2)}, kind="grm", config={})

    folder = read_only(fill)
    before = listing(folder)
    attempts: list[tuple[Path, Callable[[], object]]] = [
        (folder / "results.json", lambda: atomic_write_text(folder / "results.json", "[]\n")),
        (
            folder / "grm.safetensors",
            lambda: save_weights(
                folder / "grm.safetensors", {"w": torch.zeros(2)}, kind="grm", config={}
            ),
        ),
        (folder / "demo.npz", lambda: trajectory(0).save(folder / "demo.npz")),
        (folder / "demos", lambda: DatasetWriter(folder / "demos", "push")),
        (
            folder / "trainer.safetensors",
            lambda: atomic_group([folder / "trainer.safetensors"]).__enter__(),
        ),
    ]
    for path, attempt in attempts:
        with pytest.raises(OSError) as caught:
            attempt()
        assert_names(caught.value, path, {errno.EROFS})
    assert listing(folder) == before


def test_train_cli_into_or_resuming_a_read_only_folder_exits_2_and_changes_nothing(
    tmp_path: Path, read_only: Callable[[Callable[[Path], None]], Path]
) -> None:
    args = ["--steps", "120", "--set", "save_every=60", "--set", "sac.learning_starts=40"]
    done = subprocess.run(
        [*TRAIN, *args, "--out", str(tmp_path / "runs")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (finished,) = (tmp_path / "runs").iterdir()

    folder = read_only(lambda f: shutil.copytree(finished, f / finished.name))
    before = listing(folder)
    for command in (
        [*TRAIN, *args, "--out", str(folder / "new")],
        [*TRAIN[:4], "--resume", str(folder / finished.name), "--steps", "180", "--no-progress"],
    ):
        done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr[-2000:]
        message = done.stderr.strip().splitlines()[-1]
        assert message.startswith("robo-reward: error: ") and "Traceback" not in done.stderr
        assert "Read-only file system" in message and os.fspath(folder) in message, message
    assert listing(folder) == before


def test_paths_below_a_regular_file_fail_with_the_path_and_the_reason(tmp_path: Path) -> None:
    """Works without mount permission: a folder that cannot exist (ENOTDIR)."""
    blocker = tmp_path / "results"
    blocker.write_text("a file where a folder was expected\n")
    for path, attempt in [
        (blocker / "x.json", lambda: atomic_write_text(blocker / "x.json", "{}")),
        (
            blocker / "w.safetensors",
            lambda: save_weights(
                blocker / "w.safetensors", {"w": torch.ones(1)}, kind="k", config={}
            ),
        ),
        (blocker / "demos", lambda: DatasetWriter(blocker / "demos", "push")),
    ]:
        with pytest.raises(OSError) as caught:
            attempt()
        assert_names(caught.value, path, {errno.ENOTDIR})
    done = subprocess.run(
        [*TRAIN, "--steps", "10", "--out", str(blocker / "runs")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Not a directory" in done.stderr and os.fspath(blocker) in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
