"""GRM training: outputs on disk, checkpoints, exact resume, and data-parallel equivalence."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_train import ddp_train_config, run_dir, train
from grm_synthetic import tiny_config

from robo_reward.grm.checkpoint import load_grm, load_training_state, save_grm
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.grm.pairs import Episode, PairConfig, PairSampler
from robo_reward.grm.train import (
    CHECKPOINT_NAME,
    LOG_NAME,
    OPTIMIZER_NAME,
    PairModel,
    TrainConfig,
    batch_tensors,
    grip_targets,
    learning_rate,
    pair_loss,
    train_grm,
)

HERE = Path(__file__).parent
LOG_COLUMNS = [
    "step",
    "lr",
    "seconds",
    "loss",
    "hop_loss",
    "completion_loss",
    "grip_loss",
    "hop_mae",
]


def quick(steps: int, **overrides) -> TrainConfig:
    kwargs = dict(steps=steps, batch_size=8, warmup_steps=2, log_every=1, checkpoint_every=100)
    kwargs |= overrides
    return TrainConfig(**kwargs)


def read_log(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_weights(a: GRM, b: GRM, atol: float = 0.0) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        if atol == 0.0:
            assert torch.equal(sa[name], sb[name]), name
        else:
            torch.testing.assert_close(
                sa[name], sb[name], atol=atol, rtol=0, msg=lambda m, name=name: f"{name}: {m}"
            )


def test_training_writes_weights_optimizer_and_log(
    tmp_path: Path, episodes: list[Episode], grm_config: GRMConfig
) -> None:
    logged: list[int] = []
    result = train_grm(
        episodes,
        tmp_path / "run",
        grm_config,
        quick(4, checkpoint_every=2),
        progress=False,
        extra={"note": "test"},
        on_log=lambda step, stats: logged.append(step),
    )
    run = tmp_path / "run"
    assert result.checkpoint == run / CHECKPOINT_NAME and result.steps == 4
    assert math.isfinite(result.final_loss) and result.final_loss > 0
    for name in (CHECKPOINT_NAME, OPTIMIZER_NAME, LOG_NAME):
        assert (run / name).is_file(), name
    rows = read_log(run / LOG_NAME)
    assert list(rows[0]) == LOG_COLUMNS
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3] == logged
    for row in rows:
        assert all(math.isfinite(float(row[c])) for c in LOG_COLUMNS)
    trained = load_grm(run / CHECKPOINT_NAME)
    assert trained.config == grm_config
    extra = trained.checkpoint_extra
    assert extra["step"] == 3 and extra["note"] == "test"
    assert extra["train"]["steps"] == 4
    assert extra["pairs"] == json.loads(json.dumps(dataclasses.asdict(PairConfig())))
    optimizer = torch.optim.AdamW(trained.parameters())
    assert load_training_state(run / OPTIMIZER_NAME, optimizer) == {"step": 3}
    state = optimizer.state_dict()["state"]
    assert len(state) == len(list(trained.parameters()))
    assert all(float(s["step"]) == 4 for s in state.values())
    # Training moved the weights away from the seeded initialisation.
    torch.manual_seed(0)
    initial = GRM(grm_config)
    changed = [
        name
        for name, tensor in initial.state_dict().items()
        if not torch.equal(tensor, trained.state_dict()[name])
    ]
    assert "hop_head.weight" in changed and "encoder.conv.0.weight" in changed


def test_load_grm_round_trips_weights_and_config(tmp_path: Path, grm_config: GRMConfig) -> None:
    torch.manual_seed(4)
    grm = GRM(grm_config)
    path = save_grm(tmp_path / "grm.safetensors", grm, {"step": 7})
    loaded = load_grm(path)
    assert loaded.config == grm_config and isinstance(loaded.config.views, tuple)
    assert loaded.checkpoint_extra == {"step": 7}
    assert not loaded.training
    assert_same_weights(grm, loaded)
    images = torch.randint(0, 256, (2, 4, 3, 32, 32, 3), dtype=torch.uint8)
    mask = torch.ones(2, 4, 3, dtype=torch.bool)
    for a, b in zip(grm.predict_hop(images, mask), loaded.predict_hop(images, mask), strict=True):
        assert torch.equal(a, b)


class Crash(RuntimeError):
    pass


def test_resume_after_a_crash_equals_an_uninterrupted_run(
    tmp_path: Path, episodes: list[Episode], grm_config: GRMConfig
) -> None:
    config = quick(6, checkpoint_every=3, seed=1)
    train_grm(episodes, tmp_path / "straight", grm_config, config, progress=False)

    def crash_at_step_4(step: int, stats: dict[str, float]) -> None:
        if step == 4:  # after step 4's update, before any later checkpoint
            raise Crash

    with pytest.raises(Crash):
        train_grm(
            episodes,
            tmp_path / "crashed",
            grm_config,
            config,
            progress=False,
            on_log=crash_at_step_4,
        )
    assert load_grm(tmp_path / "crashed" / CHECKPOINT_NAME).checkpoint_extra["step"] == 2
    train_grm(episodes, tmp_path / "crashed", grm_config, config, resume=True, progress=False)

    straight = load_grm(tmp_path / "straight" / CHECKPOINT_NAME)
    resumed = load_grm(tmp_path / "crashed" / CHECKPOINT_NAME)
    assert resumed.checkpoint_extra["step"] == 5
    assert_same_weights(straight, resumed)
    # The log holds every step once: the crashed run's unsaved rows are replayed, not doubled.
    steps = [int(r["step"]) for r in read_log(tmp_path / "crashed" / LOG_NAME)]
    assert steps == list(range(6))
    straight_log = read_log(tmp_path / "straight" / LOG_NAME)
    resumed_log = read_log(tmp_path / "crashed" / LOG_NAME)
    for a, b in zip(straight_log, resumed_log, strict=True):
        assert a["loss"] == b["loss"] and a["lr"] == b["lr"]


def test_three_steps_then_resume_to_six_equals_six_steps(
    tmp_path: Path, episodes: list[Episode], grm_config: GRMConfig
) -> None:
    """Extending a finished run. The warm-up covers all six steps, so the learning rate of a
    step does not depend on the planned total (the cosine phase does, by design)."""
    six = quick(6, warmup_steps=6, seed=2)
    three = dataclasses.replace(six, steps=3)
    train_grm(episodes, tmp_path / "six", grm_config, six, progress=False)
    train_grm(episodes, tmp_path / "resumed", grm_config, three, progress=False)
    train_grm(episodes, tmp_path / "resumed", grm_config, six, resume=True, progress=False)
    assert_same_weights(
        load_grm(tmp_path / "six" / CHECKPOINT_NAME),
        load_grm(tmp_path / "resumed" / CHECKPOINT_NAME),
    )


def test_different_seeds_train_differently(
    tmp_path: Path, episodes: list[Episode], grm_config: GRMConfig
) -> None:
    for seed in (0, 1):
        train_grm(episodes, tmp_path / str(seed), grm_config, quick(2, seed=seed), progress=False)
    a = load_grm(tmp_path / "0" / CHECKPOINT_NAME).state_dict()
    b = load_grm(tmp_path / "1" / CHECKPOINT_NAME).state_dict()
    assert not torch.equal(a["hop_head.weight"], b["hop_head.weight"])


def test_resume_without_a_checkpoint_fails(
    tmp_path: Path, episodes: list[Episode], grm_config: GRMConfig
) -> None:
    with pytest.raises(FileNotFoundError, match="resume"):
        train_grm(episodes, tmp_path, grm_config, quick(2), resume=True, progress=False)


def test_init_checkpoint_starts_from_given_weights(
    tmp_path: Path, episodes: list[Episode], grm_config: GRMConfig
) -> None:
    torch.manual_seed(8)
    start = save_grm(tmp_path / "start.safetensors", GRM(grm_config))
    other = dataclasses.replace(grm_config, embed_dim=16)  # ignored: the checkpoint decides
    train_grm(
        episodes,
        tmp_path / "adapted",
        other,
        quick(1, lr=1e-6, warmup_steps=0),
        init_checkpoint=start,
        progress=False,
    )
    adapted = load_grm(tmp_path / "adapted" / CHECKPOINT_NAME)
    assert adapted.config == grm_config
    assert_same_weights(load_grm(start), adapted, atol=1e-4)  # one tiny step from the start
    with pytest.raises(AssertionError):
        assert_same_weights(load_grm(start), adapted)


def test_learning_rate_schedule() -> None:
    config = TrainConfig(steps=100, lr=1e-3, warmup_steps=10)
    assert learning_rate(0, config) == pytest.approx(1e-4)
    assert learning_rate(9, config) == pytest.approx(1e-3)
    assert learning_rate(10, config) == pytest.approx(1e-3)
    assert learning_rate(100, config) == pytest.approx(1e-4)  # decayed to 10 %
    rates = [learning_rate(s, config) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"steps": 0},
        {"batch_size": 0},
        {"lr": 0.0},
        {"lr": float("nan")},
        {"warmup_steps": -1},
        {"threads": -1},
        {"checkpoint_every": 0},
        {"log_every": 0},
    ],
)
def test_train_config_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


# ----------------------------------------------------------------------------- data parallel


def slice_gradients(
    episodes: list[Episode], grm_config: GRMConfig, config: TrainConfig, world_size: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Gradients of the global-batch loss, and the mean of the per-slice gradients (what DDP
    all-reduces), for one batch."""
    torch.manual_seed(0)
    model = PairModel(GRM(grm_config))
    batch = PairSampler(episodes, PairConfig(), grm_config.num_bins, seed=0).sample(0, 8)

    def gradients(part) -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        tensors = batch_tensors(part, episodes)
        loss, _ = pair_loss(model(**tensors), part, grip_targets(part, episodes), config)
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    whole = gradients(batch)
    parts = [gradients(batch.slice(rank, world_size)) for rank in range(world_size)]
    mean = {n: sum(p[n] for p in parts) / world_size for n in whole}
    return whole, mean


def test_slice_gradients_average_to_the_batch_gradient_without_grip_loss(
    episodes: list[Episode], grm_config: GRMConfig
) -> None:
    whole, mean = slice_gradients(episodes, grm_config, TrainConfig(grip_weight=0.0), 2)
    for name in whole:
        torch.testing.assert_close(
            mean[name], whole[name], atol=1e-6, rtol=1e-4, msg=lambda m, name=name: f"{name}: {m}"
        )


def test_slice_gradients_average_to_the_batch_gradient_with_grip_loss(
    episodes: list[Episode], grm_config: GRMConfig
) -> None:
    whole, mean = slice_gradients(episodes, grm_config, TrainConfig(grip_weight=1.0), 2)
    for name in whole:
        torch.testing.assert_close(
            mean[name], whole[name], atol=1e-6, rtol=1e-4, msg=lambda m, name=name: f"{name}: {m}"
        )


DDP_GRIP_WEIGHTS = (0.0, 1.0)


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One torchrun launch (2 ranks, gloo) training every grip weight, and the same runs in
    this process: (data-parallel root, single-process root)."""
    root = tmp_path_factory.mktemp("ddp")
    parallel, single = root / "parallel", root / "single"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(HERE / "ddp_train.py"),
        str(parallel),
        *map(str, DDP_GRIP_WEIGHTS),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for weight in DDP_GRIP_WEIGHTS:
        train(single, weight)
    return parallel, single


@pytest.mark.parametrize("grip_weight", DDP_GRIP_WEIGHTS)
def test_data_parallel_training_equals_one_process(
    ddp_runs: tuple[Path, Path], grip_weight: float
) -> None:
    parallel, single = ddp_runs
    a = load_grm(run_dir(parallel, grip_weight) / CHECKPOINT_NAME)
    b = load_grm(run_dir(single, grip_weight) / CHECKPOINT_NAME)
    assert a.checkpoint_extra["step"] == b.checkpoint_extra["step"] == 2
    assert a.checkpoint_extra["train"] == dataclasses.asdict(ddp_train_config(grip_weight))
    assert_same_weights(a, b, atol=1e-5)
    # Rank 0 alone writes the log, one row per step.
    assert [int(r["step"]) for r in read_log(run_dir(parallel, grip_weight) / LOG_NAME)] == [
        0,
        1,
        2,
    ]
    # Training moved the weights by much more than the tolerance.
    torch.manual_seed(ddp_train_config(grip_weight).seed)
    initial = GRM(tiny_config()).state_dict()
    moved = max(float((initial[n] - t).abs().max()) for n, t in b.state_dict().items())
    assert moved > 1e-4
