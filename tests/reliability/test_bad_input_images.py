"""Bad camera images (issue #9) where images enter: the GRM progress tracker, the GRM reward
stream and Trajectory construction. A wrong dtype, shape, channel count, an empty or float image
with NaN is a ValueError naming the view and the problem; a good image is accepted as given
(non-contiguous too); a missing view is masked or skipped as documented, never guessed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robo_reward.data import Trajectory
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.grm.tracker import ProgressTracker, Reference, hop_batch
from robo_reward.streams.grm_stream import GRMRewardStream, StreamConfig

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
SIZE = 32
VIEWS = ("front", "side")
CONFIG = GRMConfig(
    views=VIEWS,
    image_size=SIZE,
    embed_dim=32,
    channels=(8, 16, 32),
    fusion_layers=1,
    fusion_heads=2,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread: None) -> None:
    """Tiny models on a shared CPU (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def grm() -> GRM:
    torch.manual_seed(0)
    return GRM(CONFIG).eval()


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference({v: _image(1) for v in VIEWS}, {v: _image(2) for v in VIEWS})


SHAPES = [
    (SIZE, SIZE, 3),
    (SIZE, SIZE),
    (SIZE, SIZE, 4),
    (SIZE, SIZE, 1),
    (3, SIZE, SIZE),
    (0, SIZE, 3),
    (SIZE, 0, 3),
    (SIZE - 1, SIZE, 3),
    (48, 64, 3),
    (1, SIZE, SIZE, 3),
    (),
]
DTYPES = [np.uint8, np.int16, np.uint16, np.float32, np.float64, np.bool_, np.int64]


@st.composite
def images(draw: st.DrawFn) -> np.ndarray:
    """Arrays of every shape and dtype a camera driver might hand over: float with NaN or inf,
    bool, int16, empty, channel-first, batched, and views of larger arrays (non-contiguous)."""
    shape = draw(st.sampled_from(SHAPES))
    dtype = draw(st.sampled_from(DTYPES))
    fill = draw(st.sampled_from([0, 1, 200, np.nan, np.inf]))
    with np.errstate(invalid="ignore"):
        array = np.full(shape, fill).astype(dtype)
    if draw(st.booleans()) and array.ndim >= 2:
        array = np.repeat(array, 2, axis=1)[:, ::2]  # same shape, not contiguous
    return array


def _is_model_image(image: Any) -> bool:
    array = np.asarray(image)
    return array.dtype == np.uint8 and array.shape == (SIZE, SIZE, 3)


OBSERVATIONS = st.dictionaries(st.sampled_from([*VIEWS, "wrist"]), images(), max_size=3)


@PROPERTY
@given(observation=OBSERVATIONS, first=st.booleans())
def test_the_tracker_takes_good_images_and_names_the_view_of_a_bad_one(
    grm: GRM, reference: Reference, observation: dict[str, np.ndarray], first: bool
) -> None:
    tracker = ProgressTracker(grm, reference)
    if not first:
        tracker.reset({v: _image(3) for v in VIEWS})
    known = {v: observation[v] for v in VIEWS if v in observation}
    bad = [v for v, image in known.items() if not _is_model_image(image)]
    step = tracker.reset if first else tracker.update
    if bad:
        with pytest.raises(ValueError, match=f"view '{bad[0]}': "):
            step(observation)
    elif not known:
        with pytest.raises(ValueError, match="no camera image at all"):
            step(observation)
    else:
        estimate = step(observation)
        assert estimate.views == tuple(known)  # missing views masked, never filled in
        assert all(0.0 <= value <= 1.0 for value in (estimate.fused, estimate.completion))


@pytest.mark.parametrize("observation", [None, [], "front", 3, [("front", _image())]])
def test_the_tracker_refuses_an_observation_that_is_not_a_mapping(
    grm: GRM, reference: Reference, observation: Any
) -> None:
    tracker = ProgressTracker(grm, reference)
    with pytest.raises(ValueError, match="an observation must be a mapping view -> uint8"):
        tracker.reset(observation)


def test_non_contiguous_images_give_the_same_progress_as_contiguous_ones(
    grm: GRM, reference: Reference
) -> None:
    wide = {v: np.repeat(_image(4 + i), 2, axis=1) for i, v in enumerate(VIEWS)}
    strided = {v: image[:, ::2] for v, image in wide.items()}
    assert not strided["front"].flags.c_contiguous
    contiguous = {v: np.ascontiguousarray(image) for v, image in strided.items()}
    one, two = ProgressTracker(grm, reference), ProgressTracker(grm, reference)
    one.reset(contiguous)
    two.reset(strided)
    assert one.update({v: _image(9) for v in VIEWS}) == two.update({v: _image(9) for v in VIEWS})


# ----------------------------------------------------------------------------- the reward stream


@pytest.fixture(scope="module")
def stream(grm: GRM, reference: Reference) -> GRMRewardStream:
    return GRMRewardStream(grm, reference, StreamConfig(resize=False), clock_ns=lambda: 0)


@PROPERTY
@given(view=st.sampled_from([*VIEWS, "wrist"]), frame=images())
def test_the_stream_takes_good_frames_and_names_the_view_and_problem_of_bad_ones(
    stream: GRMRewardStream, view: str, frame: np.ndarray
) -> None:
    refused = stream.rejected[view]
    ok = view in VIEWS and _is_model_image(frame)
    if ok:
        prepared = stream.prepare(view, frame)
        assert prepared.flags.c_contiguous and np.array_equal(prepared, frame)
        return
    with pytest.raises(ValueError) as info:
        stream.push(view, 1_000, frame)
    message = str(info.value)
    assert f"view {view!r}" in message or f"unknown view {view!r}" in message
    if view in VIEWS:
        problem = (
            "must be uint8"
            if frame.dtype != np.uint8
            else "of shape (H, W, 3)"
            if frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape
            else f"the model takes {SIZE}x{SIZE} images"
        )
        assert problem in message
    assert stream.rejected[view] == refused + 1  # counted for /diagnostics
    assert view in stream.status().message


@pytest.mark.parametrize(
    ("view", "stamp", "frame", "expected"),
    [
        ("front", 1.5e9, _image(), "view 'front': stamps are integer nanoseconds, got float"),
        ("front", None, _image(), "stamps are integer nanoseconds, got NoneType"),
        ("front", "123", _image(), "stamps are integer nanoseconds, got str"),
        ("front", True, _image(), "stamps are integer nanoseconds, got bool"),
        (["front"], 1, _image(), "unknown view ['front']"),
        ("front", 1, _image().tolist(), "a frame must be a numpy array"),
        ("front", 1, torch.zeros(SIZE, SIZE, 3, dtype=torch.uint8), "a frame must be a numpy"),
        ("front", 1, None, "a frame must be a numpy array"),
    ],
)
def test_bad_stamps_views_and_frame_types_are_value_errors(
    stream: GRMRewardStream, view: Any, stamp: Any, frame: Any, expected: str
) -> None:
    with pytest.raises(ValueError) as info:
        stream.push(view, stamp, frame)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("frames", "stamp", "expected"),
    [
        (None, 1, "a step's frames must be a mapping"),
        ([_image()], 1, "a step's frames must be a mapping"),
        ({"front": _image()}, float("inf"), "a step: stamps are integer nanoseconds, got float"),
        ({"front": _image()}, None, "a step: stamps are integer nanoseconds, got NoneType"),
        ({"front": _image().astype(np.float32)}, 1, "view 'front': frames must be uint8"),
    ],
)
def test_bad_steps_are_value_errors(
    grm: GRM, reference: Reference, frames: Any, stamp: Any, expected: str
) -> None:
    stream = GRMRewardStream(grm, reference, clock_ns=lambda: 0)
    with pytest.raises(ValueError) as info:
        stream.step(frames, stamp)
    assert expected in str(info.value)


def test_a_step_missing_a_view_publishes_nothing_and_says_which(
    grm: GRM, reference: Reference
) -> None:
    stream = GRMRewardStream(grm, reference, clock_ns=lambda: 0)
    assert stream.step({"front": _image()}, 1_000) is None
    assert stream.skipped == {"missing view: side": 1}
    assert stream.published == 0


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ({"front": _image()}, "the reference demo's start frame has no view(s) ['side']"),
        ({"front": _image(), "side": _image().astype(np.float32)}, "view 'side': frames must be"),
        ({"front": _image(), "side": np.zeros((SIZE, SIZE), np.uint8)}, "view 'side': frames"),
    ],
)
def test_a_bad_reference_is_refused_with_the_view(
    grm: GRM, start: dict[str, np.ndarray], expected: str
) -> None:
    reference = Reference(start, {v: _image() for v in VIEWS})
    with pytest.raises(ValueError) as info:
        GRMRewardStream(grm, reference)
    assert expected in str(info.value)


# ----------------------------------------------------------------------------- batched hops


@pytest.mark.parametrize(
    ("before", "mask", "expected"),
    [
        (np.zeros((3, 2, SIZE, SIZE, 3), np.float32), None, "before must be uint8"),
        (np.zeros((3, 3, SIZE, SIZE, 3), np.uint8), None, "before must be uint8 of shape"),
        (np.zeros((3, 2, SIZE, SIZE, 3), np.uint8).tolist(), None, "must be a numpy array"),
        (np.zeros((0, 2, SIZE, SIZE, 3), np.uint8), None, "no (BEFORE, AFTER) pairs"),
        (None, np.ones((3, 3), bool), "before_mask must be bool of shape (3, 2)"),
        (None, np.ones((2, 2), bool), "before_mask must be bool of shape (3, 2)"),
        (None, np.full((3, 2), 0.5), "before_mask must be bool of shape (3, 2), got float64"),
        (None, np.array([[True, True], [False, False], [True, False]]), "pair 1 has no view"),
    ],
)
def test_hop_batch_refuses_bad_images_and_masks(
    grm: GRM, reference: Reference, before: Any, mask: Any, expected: str
) -> None:
    after = np.zeros((3, 2, SIZE, SIZE, 3), np.uint8)
    if before is None:
        before = after.copy()
    elif len(before) == 0:
        after = after[:0]
    with pytest.raises(ValueError) as info:
        hop_batch(grm, reference, before, after, before_mask=mask)
    assert expected in str(info.value)


# ----------------------------------------------------------------------------- trajectories


@PROPERTY
@given(frame=images(), view=st.sampled_from(["front", "side", "", "a/b", 3]))
def test_trajectory_frames_are_validated_with_the_view_named(frame: np.ndarray, view: Any) -> None:
    """Every frame of a view has the drawn image's dtype and shape (T+1 = 3 frames)."""
    frames = np.stack([frame] * 3) if frame.ndim else np.zeros(3, frame.dtype)
    kwargs = {
        "frames": {view: frames},
        "actions": np.zeros((2, 4), np.float32),
        "states": np.zeros((3, 1), np.float32),
        "timestamps_ns": np.arange(3, dtype=np.int64),
        "task": "push",
    }
    good_view = isinstance(view, str) and view and "/" not in view
    good_frames = (
        frames.dtype == np.uint8
        and frames.ndim == 4
        and frames.shape[-1] == 3
        and 0 not in frames.shape
    )
    if good_view and good_frames:
        traj = Trajectory(**kwargs)
        assert np.array_equal(traj.frames[view], frames) and not traj.frames[view].flags.writeable
        return
    with pytest.raises(ValueError) as info:
        Trajectory(**kwargs)
    message = str(info.value)
    if good_view:
        assert f"frames[{view!r}]" in message
    else:
        assert f"view name {view!r}" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"frames": {}}, "frames must contain at least one camera view"),
        ({"frames": [np.zeros((3, 8, 8, 3), np.uint8)]}, "frames must be a mapping"),
        ({"frames": {"front": np.zeros((1, 8, 8, 3), np.uint8)}}, "at least 2 frames"),
        (
            {"depth": {"front": np.full((3, 8, 8), np.nan, np.float32)}},
            "depth['front'] contains 192 NaN or infinite",
        ),
        ({"depth": {"side": np.ones((3, 8, 8), np.float32)}}, "depth has views ['side'] that"),
        ({"view_valid": {"front": np.ones(3, np.float32)}}, "view_valid['front'] must have dtype"),
    ],
)
def test_trajectory_view_mappings_are_validated(change: dict[str, Any], expected: str) -> None:
    kwargs = {
        "frames": {"front": np.zeros((3, 8, 8, 3), np.uint8)},
        "actions": np.zeros((2, 4), np.float32),
        "states": np.zeros((3, 1), np.float32),
        "timestamps_ns": np.arange(3, dtype=np.int64),
        "task": "push",
    } | change
    with pytest.raises(ValueError) as info:
        Trajectory(**kwargs)
    assert expected in str(info.value)
