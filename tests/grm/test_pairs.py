"""Training pairs: progress labels, episodes from trajectories, and the pair sampler."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from grm_synthetic import SIZE, VIEWS, build_trajectory

from robo_reward.data import Trajectory, keyframe_progress
from robo_reward.grm.hop import hop_label
from robo_reward.grm.pairs import (
    COMPLETE,
    Episode,
    PairBatch,
    PairConfig,
    PairSampler,
    episode_from_trajectory,
    progress_labels,
)

NUM_BINS = 25
INCREMENTAL, FORWARD, BACKWARD, ZERO = 0, 1, 2, 3


def sample_many(sampler: PairSampler, steps: int, batch_size: int) -> list[PairBatch]:
    return [sampler.sample(step, batch_size) for step in range(steps)]


def concat(batches: list[PairBatch], name: str) -> np.ndarray:
    return np.concatenate([getattr(b, name) for b in batches])


def bin_entropy(hops: np.ndarray) -> float:
    bins = np.rint((hops + 1.0) * (NUM_BINS - 1) / 2.0).astype(int)
    share = np.bincount(bins, minlength=NUM_BINS) / len(bins)
    share = share[share > 0]
    return float(-(share * np.log(share)).sum())


@pytest.fixture
def sampler(episodes: list[Episode]) -> PairSampler:
    return PairSampler(episodes, PairConfig(), NUM_BINS, seed=0)


# ----------------------------------------------------------------------------- progress labels


def test_progress_labels_prefer_keyframes(make_trajectory: Callable[..., Trajectory]) -> None:
    true = np.linspace(0, 0.5, 13, dtype=np.float32)
    traj = make_trajectory(keyframes=(0, 3, 12), progress=true)
    labels, source = progress_labels(traj)
    assert source == "keyframes"
    np.testing.assert_array_equal(labels, keyframe_progress((0, 3, 12), 13))
    assert labels[3] == pytest.approx(0.5)


def test_progress_labels_use_true_progress_without_keyframes(
    make_trajectory: Callable[..., Trajectory],
) -> None:
    true = np.concatenate([np.linspace(0, 0.6, 7), np.linspace(0.5, 0.2, 6)]).astype(np.float32)
    labels, source = progress_labels(
        make_trajectory(keyframes=None, progress=true, success=False, variant="perturbed")
    )
    assert source == "true progress"
    np.testing.assert_array_equal(labels, true)


def test_progress_labels_uniform_for_a_successful_demo_without_labels(
    make_trajectory: Callable[..., Trajectory],
) -> None:
    labels, source = progress_labels(make_trajectory(keyframes=None, variant="recorded"))
    assert source.startswith("uniform")
    assert labels.dtype == np.float32 and labels.shape == (13,)
    np.testing.assert_allclose(labels, np.arange(13) / 12, atol=1e-7)


def test_progress_labels_unknown_for_a_failure_without_progress(
    make_trajectory: Callable[..., Trajectory],
) -> None:
    labels, source = progress_labels(
        make_trajectory(keyframes=None, success=False, variant="failure")
    )
    assert labels is None and source == "unknown"


# ----------------------------------------------------------------------------- episodes


def test_episode_from_trajectory_stacks_views_in_model_order(
    make_trajectory: Callable[..., Trajectory],
) -> None:
    valid = np.ones(13, dtype=bool)
    valid[4] = False
    traj = make_trajectory(views=("wrist", "front"), view_valid={"front": valid})
    episode = episode_from_trajectory(traj, VIEWS, SIZE)
    assert episode is not None
    assert episode.frames.shape == (13, 3, SIZE, SIZE, 3) and episode.frames.dtype == np.uint8
    np.testing.assert_array_equal(episode.frames[:, 0], traj.frames["front"])
    np.testing.assert_array_equal(episode.frames[:, 2], traj.frames["wrist"])
    assert not episode.frames[:, 1].any()  # "side" is missing: zeros, masked
    assert episode.mask[:, 1].sum() == 0 and episode.mask[:, 2].all()
    assert episode.mask[:, 0].tolist() == valid.tolist()
    np.testing.assert_array_equal(episode.progress, traj.keyframe_progress())
    assert episode.is_reference and episode.task == "push"
    np.testing.assert_array_equal(episode.grip, traj.states[:, :3])


def test_episode_of_a_failure_without_progress_is_none(
    make_trajectory: Callable[..., Trajectory],
) -> None:
    traj = make_trajectory(keyframes=None, success=False, variant="failure")
    assert episode_from_trajectory(traj, VIEWS, SIZE) is None


def test_perturbed_episode_is_not_a_reference(make_trajectory: Callable[..., Trajectory]) -> None:
    traj = make_trajectory(
        keyframes=None,
        success=False,
        variant="perturbed",
        progress=np.linspace(0, 0.4, 13, dtype=np.float32),
    )
    episode = episode_from_trajectory(traj, VIEWS, SIZE)
    assert episode is not None and not episode.is_reference


def test_episode_rejects_wrong_image_size(make_trajectory: Callable[..., Trajectory]) -> None:
    traj = make_trajectory(size=16)
    with pytest.raises(ValueError, match=r"\(16, 16, 3\).*\(32, 32, 3\)"):
        episode_from_trajectory(traj, VIEWS, SIZE)


def test_episode_rejects_trajectory_with_none_of_the_views(
    make_trajectory: Callable[..., Trajectory],
) -> None:
    traj = make_trajectory(views=("top", "left"))
    with pytest.raises(ValueError, match="none of the model's views"):
        episode_from_trajectory(traj, VIEWS, SIZE)


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "kwargs",
    [
        {"forward_share": 1.5},
        {"view_dropout": -0.1},
        {"forward_share": 0.5, "backward_share": 0.4, "zero_hop_share": 0.2},
        {"gap_bins": ()},
        {"gap_bins": (0, 4)},
        {"balance_pool": 0},
    ],
)
def test_pair_config_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        PairConfig(**kwargs)


# ----------------------------------------------------------------------------- sampler


def test_sampler_needs_a_reference_demo_per_task(episodes: list[Episode]) -> None:
    orphan = [e for e in episodes if not e.is_reference][0]
    lonely = Episode("stack", orphan.frames, orphan.mask, orphan.progress, is_reference=False)
    with pytest.raises(ValueError, match="stack"):
        PairSampler([*episodes, lonely], PairConfig(), NUM_BINS, seed=0)
    with pytest.raises(ValueError, match="no episodes"):
        PairSampler([], PairConfig(), NUM_BINS, seed=0)


def test_batch_shapes_and_ranges(sampler: PairSampler, episodes: list[Episode]) -> None:
    batch = sampler.sample(0, 64)
    views = len(VIEWS)
    assert len(batch) == 64
    assert batch.before.shape == batch.after.shape == (64, 2)
    assert batch.mask.shape == (64, 2, views) and batch.mask.dtype == bool
    assert batch.shift.shape == (64, 2, views, 2) and batch.colour.shape == (64, 2, views, 5)
    assert batch.ref_mask.shape == (len(batch.references), 2, views)
    assert batch.hop.dtype == np.float32 and (np.abs(batch.hop) <= 1).all()
    assert set(np.unique(batch.complete)) <= {0.0, 1.0}
    assert (np.abs(batch.shift) <= 4).all()
    assert (0 <= batch.reference).all() and (batch.reference < len(batch.references)).all()
    for r in batch.references:
        assert episodes[r].is_reference
    for episode, frame in batch.after:
        assert 0 <= frame < episodes[episode].num_frames


def test_labels_match_progress_of_the_frames(sampler: PairSampler, episodes: list[Episode]) -> None:
    batches = sample_many(sampler, 5, 64)
    checked = {kind: 0 for kind in range(4)}
    for batch in batches:
        for i in range(len(batch)):
            (b_ep, b_frame), (a_ep, a_frame) = batch.before[i], batch.after[i]
            p_after = episodes[a_ep].progress[a_frame]
            kind = int(batch.kind[i])
            checked[kind] += 1
            if kind == BACKWARD:
                assert b_ep == -1
                p_before = 1.0  # the reference demo's last frame
            else:
                assert b_ep == a_ep  # within one episode
                p_before = episodes[b_ep].progress[b_frame]
            if kind == FORWARD:
                assert b_frame == 0
            if kind == ZERO:
                assert b_frame == a_frame
            assert batch.hop[i] == pytest.approx(float(hop_label(p_before, p_after)), abs=1e-6)
            assert batch.complete[i] == float(p_after >= COMPLETE)
            # The BEFORE episode belongs to the task of the pair's reference demo.
            ref_task = episodes[batch.references[batch.reference[i]]].task
            assert episodes[a_ep].task == ref_task
    assert all(count > 0 for count in checked.values()), checked


def test_backward_pairs_have_negative_or_zero_hops(sampler: PairSampler) -> None:
    batches = sample_many(sampler, 5, 64)
    hops, kinds = concat(batches, "hop"), concat(batches, "kind")
    assert (hops[kinds == BACKWARD] <= 0).all()
    assert (hops[kinds == FORWARD] >= 0).all()
    assert (hops[kinds == ZERO] == 0).all()
    assert (hops < 0).mean() > 0.1  # regress is in the data, not only progress


def test_kind_shares_follow_the_config_without_balancing(episodes: list[Episode]) -> None:
    config = PairConfig(balance_pool=1, zero_hop_share=0.1, forward_share=0.2, backward_share=0.1)
    kinds = concat(sample_many(PairSampler(episodes, config, NUM_BINS, seed=1), 20, 256), "kind")
    shares = np.bincount(kinds, minlength=4) / len(kinds)
    np.testing.assert_allclose(shares, [0.6, 0.2, 0.1, 0.1], atol=0.03)


def test_zero_hop_share_roughly_as_configured_with_default_balancing(
    episodes: list[Episode],
) -> None:
    """A few percent of zero-hop pairs (DESIGN.md): the default 4% stays a few percent."""
    kinds = concat(
        sample_many(PairSampler(episodes, PairConfig(), NUM_BINS, seed=1), 20, 256), "kind"
    )
    assert 0.002 < (kinds == ZERO).mean() < 0.08


def long_episodes() -> list[Episode]:
    """Two 61-frame episodes (a keyframed reference and a partial one), one view."""
    trajs = [
        build_trajectory(num_steps=60, views=("front",), seed=1),
        build_trajectory(
            num_steps=60,
            views=("front",),
            seed=2,
            keyframes=None,
            success=False,
            variant="perturbed",
            progress=np.linspace(0, 0.8, 61, dtype=np.float32),
        ),
    ]
    return [episode_from_trajectory(t, ("front",), SIZE) for t in trajs]


def test_zero_hop_share_is_honoured_with_balancing() -> None:
    config = PairConfig(zero_hop_share=0.2)  # balance_pool=4, the default
    batches = sample_many(PairSampler(long_episodes(), config, NUM_BINS, seed=0), 10, 256)
    before, after = concat(batches, "before"), concat(batches, "after")
    same = (before == after).all(axis=1).mean()
    assert same == pytest.approx(0.2, abs=0.06)


def test_balancing_flattens_the_hop_bin_histogram(episodes: list[Episode]) -> None:
    def hops(pool: int) -> np.ndarray:
        config = PairConfig(balance_pool=pool)
        return concat(sample_many(PairSampler(episodes, config, NUM_BINS, seed=2), 20, 128), "hop")

    flat, raw = hops(4), hops(1)
    assert bin_entropy(flat) > bin_entropy(raw) + 0.1
    largest = lambda h: np.bincount(np.rint((h + 1) * 12).astype(int)).max() / len(h)  # noqa: E731
    assert largest(flat) < largest(raw)


def test_same_seed_and_step_give_identical_batches(episodes: list[Episode]) -> None:
    a = PairSampler(episodes, PairConfig(), NUM_BINS, seed=5).sample(7, 32)
    b = PairSampler(episodes, PairConfig(), NUM_BINS, seed=5).sample(7, 32)
    for name in vars(a):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_different_steps_or_seeds_differ(episodes: list[Episode]) -> None:
    sampler = PairSampler(episodes, PairConfig(), NUM_BINS, seed=5)
    base = sampler.sample(7, 32)
    for other in (
        sampler.sample(8, 32),
        PairSampler(episodes, PairConfig(), NUM_BINS, 6).sample(7, 32),
    ):
        assert not np.array_equal(base.after, other.after)
        assert not np.array_equal(base.colour, other.colour)


def test_slices_partition_the_global_batch(sampler: PairSampler) -> None:
    batch = sampler.sample(3, 12)
    for world in (1, 2, 3, 4):
        parts = [batch.slice(rank, world) for rank in range(world)]
        assert [len(p) for p in parts] == [12 // world] * world
        for name in PairBatch.PER_PAIR_FIELDS:
            joined = np.concatenate([getattr(p, name) for p in parts])
            np.testing.assert_array_equal(joined, getattr(batch, name), err_msg=name)
        for part in parts:  # every rank sees all the batch's reference images
            np.testing.assert_array_equal(part.references, batch.references)
            np.testing.assert_array_equal(part.ref_colour, batch.ref_colour)
    with pytest.raises(ValueError, match="divisible"):
        batch.slice(0, 5)


def test_every_role_keeps_a_view_and_dropout_hides_some(episodes: list[Episode]) -> None:
    config = PairConfig(view_dropout=0.5, camera_failure=0.5)
    batches = sample_many(PairSampler(episodes, config, NUM_BINS, seed=0), 5, 64)
    mask = concat(batches, "mask")
    assert mask.any(axis=-1).all()  # the synthetic data has every view, so one must survive
    assert 0.2 < mask.mean() < 0.9
    # Dropout hides a camera for BEFORE and AFTER alike.
    np.testing.assert_array_equal(mask[:, 0], mask[:, 1])
    ref_mask = np.concatenate([b.ref_mask for b in batches])
    assert ref_mask.any(axis=-1).all()


def test_masks_follow_missing_frames_in_the_data(
    make_trajectory: Callable[..., Trajectory],
) -> None:
    never_side = np.zeros(13, dtype=bool)
    episodes = [
        episode_from_trajectory(make_trajectory(view_valid={"side": never_side}), VIEWS, SIZE)
    ]
    config = PairConfig(view_dropout=0.0, camera_failure=0.0)
    batch = PairSampler(episodes, config, NUM_BINS, seed=0).sample(0, 64)
    assert not batch.mask[:, :, 1].any() and batch.mask[:, :, [0, 2]].all()
    assert not batch.ref_mask[:, :, 1].any()


def test_no_augmentation_gives_zero_shifts_and_neutral_colours(episodes: list[Episode]) -> None:
    batch = PairSampler(episodes, PairConfig(augment=False), NUM_BINS, seed=0).sample(0, 16)
    assert not batch.shift.any() and not batch.ref_shift.any()
    np.testing.assert_array_equal(batch.colour, np.broadcast_to([0, 1, 1, 1, 1.0], (16, 2, 3, 5)))
    augmented = PairSampler(episodes, PairConfig(), NUM_BINS, seed=0).sample(0, 16)
    assert augmented.shift.any()
