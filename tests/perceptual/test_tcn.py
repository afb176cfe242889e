"""The TCN encoder: input checks, checkpoints, and a tiny real training run on rendered demos.

Images are 32x32 and the model tiny, so every test runs in seconds on a shared CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from robo_reward.checkpoints import CheckpointError, save_weights
from robo_reward.cli import main
from robo_reward.data import DatasetWriter, Trajectory
from robo_reward.perceptual.tcn import (
    TCNConfig,
    TCNEncoder,
    default_tcn_checkpoint,
    load_tcn,
    save_tcn,
)
from robo_reward.perceptual.tcn_train import (
    CHECKPOINT_NAME,
    LOG_NAME,
    METRICS_NAME,
    TCNTrainConfig,
    alignment_error,
    multiview_infonce,
    train_tcn,
)
from robo_reward.sim.demos import rollout
from robo_reward.sim.env_config import EnvConfig

SIZE = 32
TINY = TCNConfig(image_size=SIZE, embedding_dim=8, channels=(8, 8, 8), hidden_dim=16)


def quick_train(**overrides: object) -> TCNTrainConfig:
    settings: dict[str, object] = {
        "steps": 30,
        "batch_size": 16,
        "moments_per_episode": 4,
        "min_negative_gap": 2,
        "lr": 3e-3,
        "warmup_steps": 0,
        "val_episodes": 1,
        "min_val_frames": 10,
        "log_every": 10,
        "checkpoint_every": 20,
        "threads": 1,
    }
    settings.update(overrides)
    return TCNTrainConfig(**settings)  # type: ignore[arg-type]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def push_trajectories() -> list[Trajectory]:
    """Four rendered push demos (3 views, 32x32)."""
    config = EnvConfig(image_size=SIZE)
    return [rollout("push", seed, env_config=config) for seed in range(4)]


@pytest.fixture(scope="module")
def push_dataset(tmp_path_factory: pytest.TempPathFactory, push_trajectories) -> Path:
    path = tmp_path_factory.mktemp("data") / "push"
    with DatasetWriter(path, "push") as writer:
        for traj in push_trajectories:
            writer.add(traj)
    return path


def relabelled(traj: Trajectory, **changes: object) -> Trajectory:
    fields = {
        "frames": dict(traj.frames),
        "actions": traj.actions,
        "states": traj.states,
        "timestamps_ns": traj.timestamps_ns,
        "task": traj.task,
    }
    fields.update(changes)
    return Trajectory(**fields)  # type: ignore[arg-type]


def write_dataset(path: Path, trajectories: list[Trajectory]) -> Path:
    with DatasetWriter(path, trajectories[0].task) as writer:
        for traj in trajectories:
            writer.add(traj)
    return path


# --------------------------------------------------------------------------- encoder


def test_embed_shape_dtype_and_unit_length() -> None:
    torch.manual_seed(0)
    encoder = TCNEncoder(TINY).train()
    frames = np.random.default_rng(0).integers(0, 256, (5, SIZE, SIZE, 3), dtype=np.uint8)
    out = encoder.embed(frames, batch_size=2)
    assert out.shape == (5, 8) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    assert encoder.training, "embed must restore the training mode"
    batched = encoder.eval()(torch.from_numpy(frames)).detach().numpy()
    np.testing.assert_allclose(out, batched, atol=1e-5)
    # float input with the same pixel values gives the same embedding
    floats = encoder(torch.from_numpy(frames).float()).detach().numpy()
    np.testing.assert_allclose(floats, batched, atol=1e-5)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((2, SIZE, SIZE, 3), dtype=np.float32), "uint8"),
        (np.zeros((SIZE, SIZE, 3), dtype=np.uint8), "4-D"),
        (np.zeros((0, SIZE, SIZE, 3), dtype=np.uint8), "empty"),
        (np.zeros((2, SIZE, SIZE, 4), dtype=np.uint8), "3 \\(RGB\\) channels"),
        (np.zeros((2, 48, 48, 3), dtype=np.uint8), "48x48"),
        ([[0]], "numpy array"),
    ],
)
def test_embed_refuses_bad_frames(frames: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TCNEncoder(TINY).embed(frames)  # type: ignore[arg-type]


def test_embed_refuses_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        TCNEncoder(TINY).embed(np.zeros((2, SIZE, SIZE, 3), dtype=np.uint8), batch_size=0)


@pytest.mark.parametrize(
    "kwargs",
    [{"image_size": 40}, {"embedding_dim": 1}, {"channels": (8, 12, 8)}, {"hidden_dim": 0}],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TCNConfig(**kwargs)  # type: ignore[arg-type]


def test_infonce_is_low_for_matching_views_and_high_for_shuffled() -> None:
    z = torch.nn.functional.normalize(
        torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    )
    matched, accuracy = multiview_infonce(z, z, temperature=0.1)
    shuffled, _ = multiview_infonce(z, z.roll(1, 0), temperature=0.1)
    assert float(matched) < float(shuffled)
    assert float(accuracy) == 1.0


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_gives_identical_embeddings(tmp_path: Path) -> None:
    torch.manual_seed(1)
    encoder = TCNEncoder(TINY)
    path = save_tcn(tmp_path / "tcn.safetensors", encoder, {"note": "test"})
    loaded = load_tcn(path)
    assert loaded.config == TINY and not loaded.training
    assert loaded.checkpoint_extra == {"note": "test"}
    frames = np.random.default_rng(1).integers(0, 256, (7, SIZE, SIZE, 3), dtype=np.uint8)
    np.testing.assert_array_equal(encoder.embed(frames), loaded.embed(frames))


def test_wrong_kind_checkpoint_is_refused(tmp_path: Path) -> None:
    encoder = TCNEncoder(TINY)
    path = save_weights(tmp_path / "grm.safetensors", encoder.state_dict(), kind="grm", config={})
    with pytest.raises(CheckpointError, match="'grm' checkpoint.*'tcn_encoder'"):
        load_tcn(path)


def test_checkpoint_with_tensors_of_another_architecture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tcn.safetensors"
    save_weights(path, TCNEncoder(TINY).state_dict(), kind="tcn_encoder", config={"image_size": 64})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_tcn(path)


def test_default_checkpoint_is_shipped_and_loads() -> None:
    encoder = load_tcn(default_tcn_checkpoint())
    assert encoder.config.image_size == 96
    assert default_tcn_checkpoint().stat().st_size < 2_000_000
    frames = np.zeros((2, 96, 96, 3), dtype=np.uint8)
    assert encoder.embed(frames).shape == (2, encoder.config.embedding_dim)


# --------------------------------------------------------------------------- training


def test_training_lowers_the_loss_and_writes_its_outputs(push_dataset: Path, tmp_path: Path):
    config = quick_train(steps=60, log_every=20)
    result = train_tcn([push_dataset], tmp_path / "run", TINY, config, progress=False)
    rows = (tmp_path / "run" / LOG_NAME).read_text().strip().splitlines()
    header, *values = rows
    losses = [float(row.split(",")[header.split(",").index("loss")]) for row in values]
    assert len(losses) == 3
    assert losses[-1] < losses[0]
    assert result.checkpoint == tmp_path / "run" / CHECKPOINT_NAME
    metrics = json.loads((tmp_path / "run" / METRICS_NAME).read_text())
    assert metrics["validation"]["trained"]["episodes"] == 1
    assert result.alignment_error == metrics["validation"]["trained"]["mean"]
    assert 0.0 <= result.random_alignment_error <= 1.0
    loaded = load_tcn(result.checkpoint)
    assert loaded.checkpoint_extra["step"] == 59
    assert loaded.checkpoint_extra["held_out_tasks"] == ["stack", "button_press"]


def test_same_seed_gives_same_weights(push_dataset: Path, tmp_path: Path) -> None:
    config = quick_train(steps=8, val_episodes=0)
    first = train_tcn([push_dataset], tmp_path / "a", TINY, config, progress=False)
    second = train_tcn([push_dataset], tmp_path / "b", TINY, config, progress=False)
    other = train_tcn(
        [push_dataset], tmp_path / "c", TINY, quick_train(steps=8, val_episodes=0, seed=1), False
    )
    a, b, c = (load_tcn(r.checkpoint).state_dict() for r in (first, second, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert first.alignment_error is None


def test_alignment_error_is_zero_for_a_perfect_embedding(push_trajectories) -> None:
    class Clock(TCNEncoder):
        """Embeds frame t of every view as the same point: perfect alignment."""

        def embed(self, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
            angle = np.linspace(0, np.pi / 2, len(frames))
            return np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32)

    metrics = alignment_error(Clock(TINY), push_trajectories[:2])
    assert metrics["mean"] == 0.0 and metrics["episodes"] == 2
    assert set(metrics["by_view_pair"]) == {
        f"{a}->{b}"
        for a in ("front", "side", "wrist")
        for b in ("front", "side", "wrist")
        if a != b
    }


def test_held_out_task_is_refused_unless_allowed(push_trajectories, tmp_path: Path) -> None:
    stack = write_dataset(
        tmp_path / "stack", [relabelled(t, task="stack") for t in push_trajectories[:2]]
    )
    with pytest.raises(ValueError, match="held-out task"):
        train_tcn([stack], tmp_path / "run", TINY, quick_train(), progress=False)
    assert not (tmp_path / "run").exists()
    result = train_tcn(
        [stack],
        tmp_path / "run",
        TINY,
        quick_train(steps=2, val_episodes=0),
        progress=False,
        allow_held_out=True,
    )
    assert load_tcn(result.checkpoint).checkpoint_extra["held_out_tasks"] == []


def test_single_view_dataset_is_refused(push_trajectories, tmp_path: Path) -> None:
    single = [relabelled(t, frames={"front": t.frames["front"]}) for t in push_trajectories[:2]]
    path = write_dataset(tmp_path / "front_only", single)
    with pytest.raises(ValueError, match="at least 2"):
        train_tcn([path], tmp_path / "run", TINY, quick_train(), progress=False)


def test_wrong_image_size_is_refused(push_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32x32.*64x64"):
        train_tcn([push_dataset], tmp_path / "run", TCNConfig(image_size=64), quick_train(), False)


def test_missing_or_empty_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-empty list"):
        train_tcn([], tmp_path / "run", TINY, quick_train(), progress=False)
    with pytest.raises(FileNotFoundError, match="no such dataset"):
        train_tcn([tmp_path / "nowhere"], tmp_path / "run", TINY, quick_train(), progress=False)


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 1}, {"temperature": 0.0}, {"min_negative_gap": 0}, {"val_episodes": -1}],
)
def test_train_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TCNTrainConfig(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CLI


def test_cli_trains_and_prints_both_alignment_errors(push_dataset: Path, tmp_path: Path, capsys):
    overrides = [
        "model.image_size=32",
        "model.embedding_dim=8",
        "model.channels=[8,8,8]",
        "model.hidden_dim=16",
        "train.steps=4",
        "train.batch_size=16",
        "train.val_episodes=1",
        "train.min_val_frames=10",
    ]
    argv = ["encoder", "train", "--data", str(push_dataset), "--out", str(tmp_path / "run")]
    argv += ["--config", "default", "--no-progress"]
    for item in overrides:
        argv += ["--set", item]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "validation multi-view alignment error" in out and "random init" in out
    assert load_tcn(tmp_path / "run" / CHECKPOINT_NAME).config == TINY


def test_cli_refuses_a_missing_dataset_with_one_line(tmp_path: Path, capsys) -> None:
    argv = ["encoder", "train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "no such dataset" in capsys.readouterr().err
