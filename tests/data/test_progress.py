"""Progress labels: equal share per subtask, piecewise-linear milestones."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.data import keyframe_progress, piecewise_linear_progress


def test_keyframe_progress_at_boundaries_and_between():
    p = keyframe_progress((0, 10, 20, 30), 31)
    assert p.dtype == np.float32 and p.shape == (31,)
    assert p[0] == 0.0 and p[30] == 1.0
    np.testing.assert_allclose(p[[10, 20]], [1 / 3, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(p[5], 1 / 6, rtol=1e-6)
    np.testing.assert_allclose(p[25], 5 / 6, rtol=1e-6)
    assert (np.diff(p) > 0).all()


def test_each_subtask_gets_an_equal_share_whatever_its_length():
    p = keyframe_progress((0, 2, 10), 11)
    np.testing.assert_allclose(p[[0, 1, 2, 6, 10]], [0.0, 0.25, 0.5, 0.75, 1.0], rtol=1e-6)
    # a 2-frame subtask rises 4x faster per frame than an 8-frame one
    np.testing.assert_allclose(p[1] - p[0], 4 * (p[3] - p[2]), rtol=1e-5)


def test_progress_stays_one_after_last_keyframe():
    p = keyframe_progress((0, 4, 8), 12)
    np.testing.assert_array_equal(p[8:], np.ones(4, np.float32))
    assert p[7] < 1.0


INVALID_KEYFRAMES = {
    "one keyframe": (((0,), 5), "at least 2"),
    "not from 0": (((1, 4), 5), "start at frame 0"),
    "unordered": (((0, 3, 2, 4), 5), "strictly increasing"),
    "repeated": (((0, 2, 2, 4), 5), "strictly increasing"),
    "past the end": (((0, 5), 5), r"must lie in \[0, 4\]"),
    "float frame": (((0, 2.5, 4), 5), r"keyframes\[1\] must be an int"),
    "no frames": (((0, 1), 0), "num_frames must be >= 1"),
}


@pytest.mark.parametrize("args,message", INVALID_KEYFRAMES.values(), ids=INVALID_KEYFRAMES.keys())
def test_keyframe_progress_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        keyframe_progress(*args)


def test_piecewise_progress_goes_down_and_up():
    milestones = [(5, 0.0), (10, 0.6), (15, 0.3), (25, 1.0)]
    p = piecewise_linear_progress(milestones, 30)
    assert p.dtype == np.float32 and p.shape == (30,)
    np.testing.assert_allclose(p[[5, 10, 15, 25]], [0.0, 0.6, 0.3, 1.0], rtol=1e-6)
    np.testing.assert_allclose(p[12], 0.6 - 0.3 * 2 / 5, rtol=1e-6)
    np.testing.assert_allclose(p[20], 0.3 + 0.7 / 2, rtol=1e-6)
    assert (np.diff(p[10:16]) < 0).all() and (np.diff(p[15:26]) > 0).all()
    np.testing.assert_array_equal(p[:5], 0.0)  # constant before the first milestone
    np.testing.assert_array_equal(p[25:], 1.0)  # and after the last


def test_single_milestone_is_flat():
    np.testing.assert_array_equal(piecewise_linear_progress([(3, 0.4)], 6), np.full(6, 0.4, "f4"))


def test_piecewise_equals_keyframe_progress_on_equal_shares():
    keys = (0, 3, 9, 12)
    milestones = [(k, i / 3) for i, k in enumerate(keys)]
    np.testing.assert_allclose(
        piecewise_linear_progress(milestones, 13), keyframe_progress(keys, 13), atol=1e-7
    )


INVALID_MILESTONES = {
    "empty": (([], 5), "at least one"),
    "value above 1": (([(0, 0.0), (3, 1.2)], 5), r"in \[0, 1\]"),
    "NaN value": (([(0, float("nan"))], 5), r"in \[0, 1\]"),
    "frames decreasing": (([(3, 0.2), (1, 0.5)], 5), "strictly increasing"),
    "frame out of range": (([(0, 0.2), (9, 0.5)], 5), r"must lie in \[0, 4\]"),
    "not a pair": (([(0, 0.2, 1)], 5), "must be a \\(frame, value\\) pair"),
    "string value": (([(0, "0.2")], 5), "must be a number"),
}


@pytest.mark.parametrize("args,message", INVALID_MILESTONES.values(), ids=INVALID_MILESTONES.keys())
def test_piecewise_progress_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        piecewise_linear_progress(*args)
