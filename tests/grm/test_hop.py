"""The hop: labels, the bounded recursion that inverts them, and the bin read-out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from robo_reward.grm.hop import apply_hop, bin_centers, expected_hop, hop_label, two_hot

progress = st.floats(0.0, 1.0, allow_nan=False)
any_hop = st.floats(-10.0, 10.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(p=progress, q=progress)
def test_apply_hop_inverts_hop_label(p: float, q: float) -> None:
    hop = hop_label(p, q)
    assert -1.0 <= float(hop) <= 1.0
    assert float(apply_hop(p, hop)) == pytest.approx(q, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(phi=progress, hop=any_hop)
def test_apply_hop_keeps_progress_in_unit_interval(phi: float, hop: float) -> None:
    after = float(apply_hop(phi, hop))
    assert 0.0 <= after <= 1.0


def test_inversion_on_random_arrays() -> None:
    rng = np.random.default_rng(0)
    before, after = rng.uniform(size=(2, 10_000))
    before[:10], after[10:20] = 0.0, 1.0  # the edges, where a normaliser is 0 or 1
    hops = hop_label(before, after)
    assert hops.shape == (10_000,) and hops.dtype == np.float32
    assert hops.min() >= -1.0 and hops.max() <= 1.0
    np.testing.assert_allclose(apply_hop(before, hops), after, atol=1e-6)


@pytest.mark.parametrize(
    ("before", "after", "hop"),
    [
        (0.0, 0.5, 0.5),  # a gain over what remained: 0.5 of 1
        (0.5, 0.75, 0.5),  # 0.25 of the 0.5 that remained
        (0.8, 0.9, 0.5),  # 0.1 of 0.2
        (0.6, 1.0, 1.0),  # everything that remained
        (0.5, 0.25, -0.5),  # a loss over what was made: 0.25 of 0.5
        (0.8, 0.4, -0.5),  # 0.4 of 0.8
        (0.2, 0.15, -0.25),  # 0.05 of 0.2
        (0.4, 0.0, -1.0),  # everything that was made
        (0.3, 0.3, 0.0),
        (1.0, 1.0, 0.0),
        (0.0, 0.0, 0.0),
    ],
)
def test_gains_normalised_by_remaining_losses_by_made(
    before: float, after: float, hop: float
) -> None:
    assert float(hop_label(before, after)) == pytest.approx(hop, abs=1e-6)
    assert float(apply_hop(before, hop)) == pytest.approx(after, abs=1e-6)


def test_the_same_gain_is_a_bigger_hop_near_the_goal() -> None:
    assert float(hop_label(0.8, 0.9)) > float(hop_label(0.1, 0.2))
    assert float(hop_label(0.2, 0.1)) < float(hop_label(0.9, 0.8))


def test_hop_label_broadcasts() -> None:
    hops = hop_label(0.5, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(hops, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize(("before", "after"), [(-0.1, 0.5), (0.5, 1.2), (1.5, 0.0)])
def test_hop_label_rejects_progress_outside_unit_interval(before: float, after: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        hop_label(before, after)


@pytest.mark.parametrize("num_bins", [3, 5, 25])
def test_two_hot_expected_value_is_the_hop(num_bins: int) -> None:
    hops = torch.cat([torch.linspace(-1.0, 1.0, 101), bin_centers(num_bins)])
    target = two_hot(hops, num_bins)
    assert target.shape == (len(hops), num_bins)
    assert (target >= 0).all()
    torch.testing.assert_close(target.sum(-1), torch.ones(len(hops)), atol=1e-6, rtol=0)
    torch.testing.assert_close(target @ bin_centers(num_bins), hops, atol=1e-6, rtol=0)
    # At most two neighbouring bins carry mass.
    assert ((target > 0).sum(-1) <= 2).all()


def test_two_hot_of_a_bin_centre_is_one_hot() -> None:
    centers = bin_centers(25)
    target = two_hot(centers, 25)
    torch.testing.assert_close(target, torch.eye(25), atol=1e-6, rtol=0)


def test_two_hot_clamps_out_of_range_hops() -> None:
    target = two_hot(torch.tensor([-3.0, 3.0]), 5)
    torch.testing.assert_close(target[0], torch.tensor([1.0, 0, 0, 0, 0]))
    torch.testing.assert_close(target[1], torch.tensor([0, 0, 0, 0, 1.0]))


def test_two_hot_keeps_leading_shape() -> None:
    assert two_hot(torch.zeros(2, 3), 7).shape == (2, 3, 7)


def test_bin_centers_are_uniform_with_zero_in_the_middle() -> None:
    centers = bin_centers(25)
    assert centers[0] == -1.0 and centers[-1] == 1.0
    assert float(centers[12]) == pytest.approx(0.0, abs=1e-7)  # float32 linspace: -3e-8
    torch.testing.assert_close(centers.diff(), torch.full((24,), 2 / 24))


@pytest.mark.parametrize("num_bins", [-1, 0, 1, 2, 4, 24])
def test_bin_centers_rejects_even_or_small_counts(num_bins: int) -> None:
    with pytest.raises(ValueError, match="odd and >= 3"):
        bin_centers(num_bins)


@pytest.mark.parametrize("index", [0, 3, 12, 24])
def test_expected_hop_of_a_one_hot_logit_is_that_bin_centre(index: int) -> None:
    logits = torch.full((25,), -1e4)
    logits[index] = 0.0
    assert float(expected_hop(logits)) == pytest.approx(float(bin_centers(25)[index]), abs=1e-6)


def test_expected_hop_of_uniform_logits_is_zero_and_batched() -> None:
    logits = torch.zeros(4, 25)
    logits[1, 24] = 50.0
    hops = expected_hop(logits)
    assert hops.shape == (4,)
    assert float(hops[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(hops[1]) == pytest.approx(1.0, abs=1e-6)


def test_expected_hop_of_two_hot_log_target_recovers_hop() -> None:
    hops = torch.tensor([-0.7, -0.01, 0.33, 0.96])
    recovered = expected_hop(torch.log(two_hot(hops, 25).clamp_min(1e-30)))
    torch.testing.assert_close(recovered, hops, atol=1e-5, rtol=0)
