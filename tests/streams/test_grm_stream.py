"""GRMRewardStream: GRM progress / reward / completion from pushed camera frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robo_reward.data import DatasetWriter, Trajectory
from robo_reward.grm.evaluate import voc
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.streams import (
    GRMRewardStream,
    RewardEstimate,
    StreamConfig,
    grm_stream,
    latency_probe,
    load_grm_model,
    load_reference_demo,
)

VIEWS = ("front", "side", "wrist")
MS = 1_000_000
PERIOD = 40 * MS
T0 = 5_000_000_000


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread) -> None:
    """Every test here runs the model one frame at a time: one thread, as the node does."""


# ---------------------------------------------------------------------- a real task
@pytest.fixture(scope="module")
def expert() -> tuple[Trajectory, Trajectory]:
    """A scripted pick_place demo (the reference) and another expert episode of the same
    workspace (same appearance, other placement), as a robot sees after recording one demo."""
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    env_config = EnvConfig(appearance_seed=40_000)
    demo = rollout("pick_place", 40_000, env_config=env_config)
    episode = rollout("pick_place", 50_000, env_config=env_config)
    assert demo.success and episode.success
    return demo, episode


@pytest.fixture(scope="module")
def general() -> GRM:
    return load_grm_model()


def play(
    stream: GRMRewardStream,
    episode: Trajectory,
    views=VIEWS,
    steps=None,
    jitter_ms: float = 3.0,
    seed: int = 0,
) -> list[RewardEstimate]:
    """Push the episode's frames camera by camera (shuffled per step, stamps jittered)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in steps if steps is not None else range(episode.num_frames):
        for index in rng.permutation(len(views)):
            view = views[index]
            stamp = T0 + t * PERIOD + int(rng.uniform(-jitter_ms, jitter_ms) * MS)
            out += stream.push(view, stamp, episode.frames[view][t])
    return out


def test_progress_rises_on_an_expert_episode_and_completion_is_reported(expert, general) -> None:
    demo, episode = expert
    stream = GRMRewardStream(general, demo, StreamConfig(gamma=0.99, success_bonus=1.0))
    estimates = play(stream, episode)
    assert len(estimates) == episode.num_frames
    progress = np.array([e.progress for e in estimates])
    assert voc(progress) >= 0.9
    assert progress[0] == 0.0 and progress[-1] > 0.8
    assert estimates[-1].completion and not estimates[0].completion
    assert all(e.views == VIEWS and not e.is_masked for e in estimates)
    assert [e.step for e in estimates] == list(range(len(estimates)))
    # the first step has no transition; then γΦ' − Φ plus the bonus while complete
    assert estimates[0].reward is None
    for before, after in zip(estimates, estimates[1:], strict=False):
        expected = 0.99 * after.progress - before.progress + float(after.completion)
        assert after.reward == pytest.approx(expected, abs=1e-9)
    status = stream.status()
    assert status.level_name == "OK", status.message
    assert status.values["completion"] == "true"
    assert int(status.values["published"]) == episode.num_frames
    assert float(status.values["compute_p50_ms"]) > 0


def test_a_stopped_camera_under_skip_publishes_nothing_and_says_which(expert, general) -> None:
    demo, episode = expert
    stream = GRMRewardStream(general, demo, StreamConfig(missing_view="skip", max_age_ms=100))
    before = play(stream, episode, steps=range(20))
    after = play(stream, episode, views=("front", "wrist"), steps=range(20, 40))
    assert len(before) == 20 and after == []
    assert stream.skipped["stale view: side"] > 0
    status = stream.status()
    assert status.level_name == "WARN"
    assert "side" in status.message and "publishing nothing" in status.message
    assert status.values["stale_views"] == "side"
    # the camera comes back: estimates resume, complete, the reward spanning the gap
    resumed = play(stream, episode, steps=range(40, episode.num_frames))
    assert resumed and all(not e.is_masked for e in resumed)
    assert resumed[0].reward is not None
    assert resumed[0].step == 20


def test_a_stopped_camera_under_mask_gives_flagged_masked_estimates(expert, general) -> None:
    demo, episode = expert
    stream = GRMRewardStream(general, demo, StreamConfig(missing_view="mask", max_age_ms=100))
    play(stream, episode, steps=range(20))
    after = play(stream, episode, views=("front", "wrist"), steps=range(20, episode.num_frames))
    masked = [e for e in after if e.is_masked]
    # the steps while side might still come produce nothing; then masked estimates
    assert len(masked) >= episode.num_frames - 20 - 4
    assert all(e.masked == ("side",) and e.views == ("front", "wrist") for e in masked)
    assert all(0.0 <= e.progress <= 1.0 for e in masked)
    status = stream.status()
    assert status.level_name == "WARN" and "masked" in status.message and "side" in status.message
    assert int(status.values["masked_steps"]) == len(masked)


def test_reset_starts_a_new_episode_at_progress_zero(expert, general) -> None:
    demo, episode = expert
    stream = GRMRewardStream(general, demo)
    first = play(stream, episode, steps=range(30))
    assert first[-1].progress > 0.2
    stream.reset()
    again = play(stream, episode, steps=range(30, 33))
    assert again[0].progress == 0.0 and again[0].reward is None and again[0].step == 0


# ---------------------------------------------------------------------- a tiny model
SIZE = 32


@pytest.fixture
def tiny() -> GRM:
    torch.manual_seed(0)
    config = GRMConfig(
        views=VIEWS,
        image_size=SIZE,
        embed_dim=32,
        channels=(8, 16, 32),
        fusion_layers=1,
        fusion_heads=2,
    )
    return GRM(config).eval()


def random_demo(frames: int = 5, size: int = SIZE, views=VIEWS, success=True) -> Trajectory:
    rng = np.random.default_rng(0)
    return Trajectory(
        frames={v: rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8) for v in views},
        actions=np.zeros((frames - 1, 4), np.float32),
        states=np.zeros((frames, 3), np.float32),
        timestamps_ns=np.arange(frames, dtype=np.int64),
        task="push",
        success=success,
    )


def frame(seed: int, shape=(SIZE, SIZE, 3), dtype=np.uint8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(dtype)


def push_step(stream: GRMRewardStream, t: int, views=VIEWS, shape=(SIZE, SIZE, 3)):
    out = []
    for view in views:
        out += stream.push(view, T0 + t * PERIOD, frame(t, shape))
    return out


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (frame(0, dtype=np.float32), "uint8"),
        (frame(0, (SIZE, SIZE)), r"shape \(H, W, 3\)"),
        (frame(0, (SIZE, SIZE, 4)), r"shape \(H, W, 3\)"),
        (frame(0, (0, SIZE, 3)), r"shape \(H, W, 3\)"),
        ([[0, 0, 0]], "numpy array"),
    ],
)
def test_bad_frames_are_refused_with_the_reason(tiny, image, match) -> None:
    stream = GRMRewardStream(tiny, random_demo())
    with pytest.raises(ValueError, match=match):
        stream.push("front", T0, image)
    assert stream.rejected["front"] == 1
    status = stream.status()
    assert status.level_name == "ERROR" and "'front'" in status.message
    assert status.values["refused_frames"] == "1"


def test_unknown_views_and_wrong_sizes_without_resize_are_refused(tiny) -> None:
    stream = GRMRewardStream(tiny, random_demo(), StreamConfig(resize=False))
    with pytest.raises(ValueError, match="unknown view 'rear'"):
        stream.push("rear", T0, frame(0))
    with pytest.raises(ValueError, match="takes 32x32 images, got 48x40"):
        stream.push("front", T0, frame(0, (40, 48, 3)))
    with pytest.raises(ValueError, match="takes 32x32"):
        GRMRewardStream(tiny, random_demo(size=64), StreamConfig(resize=False))


def test_frames_of_another_size_are_resized(tiny) -> None:
    stream = GRMRewardStream(tiny, random_demo(size=64))
    (first,) = push_step(stream, 0, shape=(48, 64, 3))
    (second,) = push_step(stream, 1, shape=(48, 64, 3))
    assert first.step == 0 and second.step == 1 and 0.0 <= second.progress <= 1.0


def test_bad_configs_and_references_are_refused(tiny, tmp_path) -> None:
    with pytest.raises(ValueError, match="missing_view"):
        StreamConfig(missing_view="guess")
    with pytest.raises(ValueError, match="gamma"):
        StreamConfig(gamma=1.5)
    with pytest.raises(ValueError, match="max_age_ms"):
        StreamConfig(tolerance_ms=50, max_age_ms=20)
    with pytest.raises(ValueError, match="unknown view"):
        GRMRewardStream(tiny, random_demo(), StreamConfig(views=("front", "rear")))
    with pytest.raises(ValueError, match=r"no view\(s\) \['wrist'\]"):
        GRMRewardStream(tiny, random_demo(views=("front", "side")))
    with pytest.raises(ValueError, match="successful"):
        GRMRewardStream(tiny, random_demo(success=False))
    with pytest.raises(FileNotFoundError, match="no reference demo"):
        load_reference_demo(tmp_path / "none.npz")


def test_reference_demo_from_npz_and_dataset(tmp_path) -> None:
    demo = random_demo()
    path = demo.save(tmp_path / "demo.npz")
    assert load_reference_demo(path) == demo
    with DatasetWriter(tmp_path / "set", task="push") as writer:
        writer.add(random_demo(success=False))
        writer.add(demo)
    assert load_reference_demo(tmp_path / "set", episode=1) == demo
    with pytest.raises(ValueError, match="out of range"):
        load_reference_demo(tmp_path / "set", episode=2)


def test_a_step_missing_a_view_without_a_synchronizer(tiny) -> None:
    images = {v: frame(i) for i, v in enumerate(VIEWS)}
    skip = GRMRewardStream(tiny, random_demo())
    assert skip.step(images, T0) is not None
    assert skip.step({"front": frame(5)}, T0 + PERIOD) is None
    assert skip.skipped["missing view: side, wrist"] == 1
    mask = GRMRewardStream(tiny, random_demo(), StreamConfig(missing_view="mask"))
    mask.step(images, T0)
    estimate = mask.step({"front": frame(5)}, T0 + PERIOD)
    assert estimate.masked == ("side", "wrist") and estimate.views == ("front",)
    # a step not after the previous one would be a stale estimate
    assert mask.step(images, T0 + PERIOD) is None
    assert mask.skipped["stamp not after the previous step"] == 1


def test_a_clock_jump_back_restarts_the_episode_and_is_reported(tiny) -> None:
    stream = GRMRewardStream(tiny, random_demo())
    estimates = [e for t in range(6) for e in push_step(stream, t)]
    assert estimates[-1].step == 5
    out = []
    for t in range(3):
        for view in VIEWS:
            out += stream.push(view, t * PERIOD, frame(t))  # the clock restarted at zero
    assert [e.step for e in out] == [0, 1, 2]
    assert out[0].progress == 0.0 and out[0].reward is None
    status = stream.status()
    assert status.level_name == "WARN" and "clock jumped back" in status.message
    assert status.values["clock_jumps"] == "1"
    assert stream.status().level_name == "OK"  # reported once


def test_no_frames_is_a_warning_and_a_stall_an_error(tiny, monkeypatch) -> None:
    stream = GRMRewardStream(tiny, random_demo(), StreamConfig(stall_s=0.5))
    status = stream.status()
    assert status.level_name == "WARN" and "no camera frames yet" in status.message
    push_step(stream, 0)
    clock = grm_stream.time.monotonic()
    monkeypatch.setattr(grm_stream.time, "monotonic", lambda: clock + 3.0)
    status = stream.status()
    assert status.level_name == "ERROR" and "no camera frames for" in status.message


def test_progress_history_stays_bounded(tiny, monkeypatch) -> None:
    monkeypatch.setattr(grm_stream, "HISTORY_CAP", 16)
    stream = GRMRewardStream(tiny, random_demo())
    images = {v: frame(0) for v in VIEWS}
    for t in range(100):
        stream.step(images, T0 + t)
    assert len(stream._history) <= 17 and stream._stride >= 8


def test_latency_probe_reports_percentiles(tiny) -> None:
    stream = GRMRewardStream(tiny, random_demo())
    result = latency_probe(stream, rate_hz=30, seconds=0.5)
    assert result["estimates"] >= 0.8 * (result["steps"] - 1)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"] < 1000


def test_a_non_finite_progress_is_never_published(tiny, monkeypatch) -> None:
    from robo_reward.grm.tracker import ProgressEstimate

    stream = GRMRewardStream(tiny, random_demo())
    push_step(stream, 0)
    broken = ProgressEstimate(0.1, 0.1, 0.1, float("nan"), 1.0, 0.5, VIEWS)
    monkeypatch.setattr(stream.tracker, "update", lambda observation: broken)
    assert push_step(stream, 1) == []
    assert stream.skipped["non-finite progress"] == 1
    status = stream.status()
    assert status.level_name == "ERROR" and "nan" in status.message
    monkeypatch.undo()
    (restart,) = push_step(stream, 2)
    assert restart.step == 0 and restart.reward is None
