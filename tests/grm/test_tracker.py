"""Dense progress from hops: the fusion step, the online tracker and its offline twin."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from robo_reward.data import Trajectory
from robo_reward.grm.hop import apply_hop
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.grm.tracker import (
    ANCHORINGS,
    CONSISTENCY_FLOOR,
    FusionConfig,
    ProgressEstimate,
    ProgressTracker,
    Reference,
    fuse_step,
    hop_batch,
    track_trajectory,
)

OFF = FusionConfig(consistency=False)
PAPER = FusionConfig(alpha=20.0, consistency=True)
NO_CHECK = FusionConfig(alpha=0.0, consistency=True)
MILD = FusionConfig(alpha=1.0, consistency=True)

# ----------------------------------------------------------------------------- fuse_step


def test_fuse_step_without_consistency_is_the_mean_of_the_three() -> None:
    hops = np.array([0.2, 0.5, -0.4])
    incremental, forward, backward, fused, weight = fuse_step(0.3, 0.3, hops, OFF)
    assert incremental == pytest.approx(0.3 + 0.7 * 0.2)
    assert forward == pytest.approx(0.5)  # from the start, progress 0
    assert backward == pytest.approx(0.6)  # from the goal, progress 1
    assert fused == pytest.approx((incremental + forward + backward) / 3)
    assert weight == 1.0


def test_fusion_applies_the_incremental_hop_to_the_fused_progress() -> None:
    hops = np.array([0.5, 0.1, -0.1])
    incremental, forward, backward, fused, _ = fuse_step(0.6, 0.2, hops, OFF)
    assert incremental == pytest.approx(0.2 + 0.8 * 0.5)  # the reported chain: its own
    assert fused == pytest.approx((0.6 + 0.4 * 0.5 + forward + backward) / 3)


def test_equal_forward_and_backward_give_full_weight() -> None:
    hops = np.array([0.3, 0.6, -0.4])  # forward 0.6, backward 1 - 0.4 = 0.6
    _, forward, backward, fused, weight = fuse_step(0.2, 0.2, hops, PAPER)
    assert forward == pytest.approx(backward)
    assert weight == pytest.approx(1.0)
    assert fused == pytest.approx((float(apply_hop(0.2, 0.3)) + forward + backward) / 3)


def test_large_disagreement_holds_progress() -> None:
    hops = np.array([0.9, 0.9, -0.9])  # forward says 0.9, backward says 0.1
    _, forward, backward, fused, weight = fuse_step(0.25, 0.25, hops, PAPER)
    assert abs(forward - backward) == pytest.approx(0.8)
    assert weight < 1e-6
    assert fused == pytest.approx(0.25, abs=1e-6)


def test_consistency_weight_formula() -> None:
    hops = np.array([0.0, 0.5, -0.3])  # forward 0.5, backward 0.7
    _, _, _, fused, weight = fuse_step(0.4, 0.4, hops, PAPER)
    delta = 0.2 / 0.6
    assert weight == pytest.approx(math.exp(-20.0 * delta**2))
    mean = (0.4 + 0.5 + 0.7) / 3
    assert fused == pytest.approx(0.4 + weight * (mean - 0.4))
    # Near the start the relative disagreement uses the floor, not a tiny mean.
    _, _, _, _, weight = fuse_step(0.0, 0.0, np.array([0.0, 0.02, -1.0]), PAPER)
    assert weight == pytest.approx(math.exp(-20.0 * (0.02 / CONSISTENCY_FLOOR) ** 2))
    # alpha = 0 switches the check off in effect.
    assert fuse_step(0.4, 0.4, np.array([0.9, 0.9, -0.9]), NO_CHECK)[4] == 1.0


def test_fused_progress_stays_in_unit_interval() -> None:
    rng = np.random.default_rng(0)
    fused = incremental = 0.0
    for _ in range(500):
        values = fuse_step(fused, incremental, rng.uniform(-1, 1, 3), MILD)
        incremental, _, _, fused, weight = values
        assert all(0.0 <= v <= 1.0 for v in values)


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), float("inf")])
def test_fusion_config_rejects_bad_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        FusionConfig(alpha=alpha, consistency=True)


# ----------------------------------------------------------------------------- ProgressTracker


@pytest.fixture
def demo(make_trajectory: Callable[..., Trajectory]) -> Trajectory:
    return make_trajectory(num_steps=8, seed=11)


@pytest.fixture
def episode(make_trajectory: Callable[..., Trajectory]) -> Trajectory:
    """An episode whose side camera drops out for a few frames."""
    valid = np.ones(11, dtype=bool)
    valid[[3, 4, 8]] = False
    return make_trajectory(
        num_steps=10,
        seed=12,
        keyframes=None,
        success=False,
        variant="failure",
        view_valid={"side": valid},
    )


def observation(traj: Trajectory, t: int, views: tuple[str, ...] | None = None) -> dict:
    return {
        v: traj.frames[v][t]
        for v in (views or traj.views)
        if v in traj.frames and traj.valid_mask(v)[t]
    }


def check_estimate(estimate: ProgressEstimate) -> None:
    for name in (*ANCHORINGS, "fused", "consistency", "completion"):
        value = getattr(estimate, name)
        assert isinstance(value, float) and 0.0 <= value <= 1.0, (name, value)


def test_reset_and_update_give_progress_in_unit_interval(
    tiny_grm: GRM, demo: Trajectory, episode: Trajectory
) -> None:
    tracker = ProgressTracker(tiny_grm, Reference.from_trajectory(demo), OFF)
    start = tracker.reset(observation(episode, 0))
    assert (start.fused, start.incremental, start.completion) == (0.0, 0.0, 0.0)
    assert start.views == ("front", "side", "wrist")
    estimates = [tracker.update(observation(episode, t)) for t in range(1, 6)]
    for estimate in estimates:
        check_estimate(estimate)
    assert estimates[0].views == ("front", "side", "wrist")
    assert estimates[2].views == ("front", "wrist")  # frame 3: the side camera is missing
    assert len({e.fused for e in estimates}) > 1  # progress moves


def test_update_ignores_cameras_the_model_does_not_know(tiny_grm: GRM, demo: Trajectory) -> None:
    tracker = ProgressTracker(tiny_grm, Reference.from_trajectory(demo))
    obs = observation(demo, 0)
    tracker.reset(obs)
    extra = {**observation(demo, 1), "top": np.zeros((5, 5, 3), np.uint8)}
    estimate = tracker.update(extra)
    assert estimate.views == ("front", "side", "wrist")
    again = ProgressTracker(tiny_grm, Reference.from_trajectory(demo))
    again.reset(obs)
    assert again.update(observation(demo, 1)) == estimate


def test_update_rejects_a_wrong_size_image(tiny_grm: GRM, demo: Trajectory) -> None:
    tracker = ProgressTracker(tiny_grm, Reference.from_trajectory(demo))
    tracker.reset(observation(demo, 0))
    bad = {**observation(demo, 1), "front": np.zeros((16, 16, 3), np.uint8)}
    with pytest.raises(ValueError, match="shape"):
        tracker.update(bad)
    with pytest.raises(ValueError, match="no camera image"):
        tracker.update({})


def test_update_before_reset_raises(tiny_grm: GRM, demo: Trajectory) -> None:
    tracker = ProgressTracker(tiny_grm, Reference.from_trajectory(demo))
    with pytest.raises(RuntimeError, match="reset"):
        tracker.update(observation(demo, 1))


def test_reference_must_be_a_success(tiny_grm: GRM, episode: Trajectory) -> None:
    with pytest.raises(ValueError, match="successful"):
        Reference.from_trajectory(episode)


def test_reference_skips_missing_frames(make_trajectory: Callable[..., Trajectory]) -> None:
    valid = np.ones(13, dtype=bool)
    valid[-1] = False
    reference = Reference.from_trajectory(make_trajectory(view_valid={"wrist": valid}))
    assert set(reference.start) == {"front", "side", "wrist"}
    assert set(reference.end) == {"front", "side"}


def test_reset_starts_a_new_episode(tiny_grm: GRM, demo: Trajectory, episode: Trajectory) -> None:
    tracker = ProgressTracker(tiny_grm, Reference.from_trajectory(demo), OFF)
    first = [tracker.reset(observation(episode, 0))]
    first += [tracker.update(observation(episode, t)) for t in (1, 2)]
    tracker.update(observation(demo, 5))
    second = [tracker.reset(observation(episode, 0))]
    second += [tracker.update(observation(episode, t)) for t in (1, 2)]
    assert first == second


# ----------------------------------------------------------------------------- online vs offline


def compare_online_offline(
    grm: GRM,
    reference: Reference,
    traj: Trajectory,
    fusion: FusionConfig,
    views: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    offline = track_trajectory(grm, reference, traj, views=views, fusion=fusion, batch_size=4)
    tracker = ProgressTracker(grm, reference, fusion)
    online = [tracker.reset(observation(traj, 0, views))]
    online += [tracker.update(observation(traj, t, views)) for t in range(1, traj.num_frames)]
    for name in (*ANCHORINGS, "fused", "consistency", "completion"):
        values = np.array([getattr(e, name) for e in online])
        assert offline[name].shape == (traj.num_frames,)
        np.testing.assert_allclose(offline[name], values, atol=1e-5, rtol=0, err_msg=name)
    return offline


@pytest.mark.parametrize("fusion", [PAPER, OFF, FusionConfig(alpha=0.5, consistency=True)])
def test_online_and_offline_tracking_agree(
    tiny_grm: GRM, demo: Trajectory, episode: Trajectory, fusion: FusionConfig
) -> None:
    offline = compare_online_offline(tiny_grm, Reference.from_trajectory(demo), episode, fusion)
    for name in (*ANCHORINGS, "fused"):
        assert ((offline[name] >= 0) & (offline[name] <= 1)).all()
    # Non-trivial values, so the agreement is not 0 == 0.
    assert offline["forward"][1:].std() > 0 and offline["incremental"][1:].std() > 0
    if not fusion.consistency:
        assert offline["fused"].max() > 0.05


def test_online_and_offline_agree_on_a_subset_of_views(
    tiny_grm: GRM, demo: Trajectory, episode: Trajectory
) -> None:
    views = ("front", "wrist")
    reference = Reference.from_trajectory(demo)
    narrowed = Reference(
        {v: i for v, i in reference.start.items() if v in views},
        {v: i for v, i in reference.end.items() if v in views},
    )
    limited = track_trajectory(tiny_grm, reference, episode, views=views, fusion=OFF)
    compare_online_offline(tiny_grm, narrowed, episode, OFF, views=views)
    full = track_trajectory(tiny_grm, reference, episode, fusion=OFF)
    assert not np.allclose(limited["forward"], full["forward"])


def test_tracker_accepts_a_reference_with_an_extra_camera(
    tiny_grm: GRM, make_trajectory: Callable[..., Trajectory], episode: Trajectory
) -> None:
    demo = make_trajectory(num_steps=8, seed=11, views=("front", "side", "wrist", "top"))
    compare_online_offline(tiny_grm, Reference.from_trajectory(demo), episode, OFF)


def test_track_trajectory_first_frame_and_shapes(
    tiny_grm: GRM, demo: Trajectory, episode: Trajectory, grm_config: GRMConfig
) -> None:
    out = track_trajectory(tiny_grm, Reference.from_trajectory(demo), episode)
    assert set(out) == {*ANCHORINGS, "fused", "consistency", "completion"}
    assert out["fused"][0] == 0.0 and out["consistency"][0] == 1.0 and out["completion"][0] == 0.0
    assert ((out["completion"] >= 0) & (out["completion"] <= 1)).all()


# ----------------------------------------------------------------------------- hop_batch


def stacked(traj: Trajectory, config: GRMConfig) -> tuple[np.ndarray, np.ndarray]:
    """A trajectory's frames as ``(T+1, V, H, W, 3)`` in model view order, and ``(T+1, V)``."""
    frames = np.stack([traj.frames[v] for v in config.views], axis=1)
    mask = np.stack([traj.valid_mask(v) for v in config.views], axis=1)
    return frames, mask


def test_hop_batch_chains_to_the_incremental_anchoring(
    tiny_grm: GRM, demo: Trajectory, episode: Trajectory, grm_config: GRMConfig
) -> None:
    reference = Reference.from_trajectory(demo)
    frames, mask = stacked(episode, grm_config)
    hops, completion = hop_batch(
        tiny_grm, reference, frames[:-1], frames[1:], mask[:-1], mask[1:], batch_size=3
    )
    assert hops.shape == completion.shape == (episode.num_steps,)
    assert (np.abs(hops) <= 1).all() and ((completion >= 0) & (completion <= 1)).all()
    offline = track_trajectory(tiny_grm, reference, episode, fusion=OFF)
    chained = [0.0]
    for hop in hops:
        chained.append(float(apply_hop(chained[-1], hop)))
    np.testing.assert_allclose(chained, offline["incremental"], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="uint8"):
        hop_batch(tiny_grm, reference, frames[:2].astype(np.float32), frames[1:3])
    with pytest.raises(ValueError, match="BEFORE"):
        hop_batch(tiny_grm, reference, frames[:2], frames[1:4])
