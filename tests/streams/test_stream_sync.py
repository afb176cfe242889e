"""StampSynchronizer: approximate-time pairing of camera frames by stamp, without a transport."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from robo_reward.streams.sync import StampSynchronizer, SyncedFrames

try:  # the property tests need hypothesis (the dev extra); the others run without it
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:
    given = settings = st = None

VIEWS = ("front", "side", "wrist")
MS = 1_000_000
PERIOD = 33 * MS
T0 = 1_000_000_000_000


def sync(**kwargs) -> StampSynchronizer:
    settings = {"tolerance_ns": 10 * MS, "max_age_ns": 200 * MS}
    settings.update(kwargs)
    return StampSynchronizer(VIEWS, **settings)


def feed(synchronizer: StampSynchronizer, events) -> list[SyncedFrames]:
    """Push (view, stamp, frame) events in order; all emitted sets."""
    out = []
    for view, stamp, frame in events:
        out += synchronizer.push(view, stamp, frame)
    return out


def camera_events(steps, views=VIEWS, jitter_ms=0.0, seed=0, start=T0, skip=()):
    """Each step, every view delivers one frame tagged (view, step), stamped within
    ``jitter_ms`` of the step time, in a random order per step. ``skip``: (view, step) pairs
    lost in transport."""
    rng = np.random.default_rng(seed)
    events = []
    for step in steps:
        stamp = start + step * PERIOD
        order = rng.permutation(len(views))
        for index in order:
            view = views[index]
            if (view, step) in skip:
                continue
            offset = int(rng.uniform(-jitter_ms, jitter_ms) * MS)
            events.append((view, stamp + offset, (view, step)))
    return events


def steps_of(sets: list[SyncedFrames]) -> list[int]:
    result = []
    for synced in sets:
        (step,) = {frame[1] for frame in synced.frames.values()}
        result.append(step)
    return result


def test_jitter_within_tolerance_pairs_every_step() -> None:
    synchronizer = sync()
    sets = feed(synchronizer, camera_events(range(30), jitter_ms=4.0))
    assert steps_of(sets) == list(range(30))
    for synced in sets:
        assert synced.complete and set(synced.frames) == set(VIEWS)
        assert all(abs(s - synced.stamp_ns) <= 10 * MS for s in synced.stamps.values())
        assert synced.stamp_ns in synced.stamps.values()
    assert sum(synchronizer.dropped.values()) == 0
    assert synchronizer.emitted == 30


def test_jitter_beyond_tolerance_never_pairs() -> None:
    synchronizer = sync()
    events = [("front", T0, 0), ("side", T0 + 11 * MS, 0), ("wrist", T0, 0)]
    assert feed(synchronizer, events) == []


def test_a_dropped_frame_yields_no_set_for_that_step() -> None:
    synchronizer = sync()
    sets = feed(synchronizer, camera_events(range(12), jitter_ms=3.0, skip={("side", 5)}))
    assert steps_of(sets) == [s for s in range(12) if s != 5]
    assert all(synced.complete for synced in sets)
    # front and wrist of step 5 waited, then were skipped over by step 6's set
    assert synchronizer.dropped["unmatched"] == 2
    assert synchronizer.stale_views() == ()


def test_a_stopped_view_is_reported_stale_and_sets_name_it_missing() -> None:
    synchronizer = sync(max_age_ns=100 * MS)
    events = camera_events(range(10))
    events += camera_events(range(10, 30), views=("front", "wrist"))
    sets = []
    for view, stamp, frame in events:
        new = synchronizer.push(view, stamp, frame)
        if any(not s.complete for s in new):
            # a partial set only once side has been silent for max_age
            assert synchronizer.now_ns - synchronizer.last_stamp("side") > 100 * MS
        sets += new
    assert synchronizer.stale_views() == ("side",)
    complete = [s for s in sets if s.complete]
    partial = [s for s in sets if not s.complete]
    assert steps_of(complete) == list(range(10))
    assert partial and all(s.missing == ("side",) for s in partial)
    assert all(set(s.frames) == {"front", "wrist"} for s in partial)
    assert steps_of(partial) == list(range(10, 30))
    # the camera comes back: complete sets again
    resumed = feed(synchronizer, camera_events(range(30, 33), seed=1))
    assert steps_of(resumed) == [30, 31, 32] and all(s.complete for s in resumed)
    assert synchronizer.stale_views() == ()


def test_a_view_never_seen_goes_stale_after_max_age() -> None:
    synchronizer = sync(max_age_ns=100 * MS)
    feed(synchronizer, camera_events(range(3), views=("front", "side")))
    assert synchronizer.stale_views() == ()
    feed(synchronizer, camera_events(range(3, 6), views=("front", "side")))
    assert synchronizer.stale_views() == ("wrist",)


def test_out_of_order_frames_still_pair_and_late_frames_are_dropped() -> None:
    synchronizer = sync()
    events = camera_events(range(4))
    # front's frames arrive newest first (within the queue), the others in order
    front = [e for e in events if e[0] == "front"][::-1]
    others = [e for e in events if e[0] != "front"]
    sets = feed(synchronizer, front + others)
    assert steps_of(sets) == [0, 1, 2, 3]
    # a frame of a step already emitted is late
    assert feed(synchronizer, [("side", T0 + 2 * PERIOD + MS, ("side", 2))]) == []
    assert synchronizer.dropped["late"] == 1
    # the same stamp twice is a duplicate
    feed(synchronizer, [("front", T0 + 9 * PERIOD, 0), ("front", T0 + 9 * PERIOD, 0)])
    assert synchronizer.dropped["duplicate"] == 1


def test_frames_older_than_max_age_are_dropped() -> None:
    synchronizer = sync(max_age_ns=100 * MS)
    feed(synchronizer, camera_events(range(5), views=("front",)))
    # front's first frames could never be paired any more
    assert synchronizer.dropped["too_old"] >= 1
    assert synchronizer.queued()["front"] <= 4
    stale = feed(synchronizer, [("side", T0, ("side", 0))])
    assert stale == [] and synchronizer.dropped["too_old"] >= 2


def test_clock_jump_backwards_resets_and_reports() -> None:
    synchronizer = sync()
    before = feed(synchronizer, camera_events(range(5)))
    # a simulator restart: every camera starts again at a much earlier time
    after = feed(synchronizer, camera_events(range(6), start=T0 - 60_000 * MS, seed=3))
    assert steps_of(before) == list(range(5))
    assert steps_of(after) == list(range(6))
    assert all(s.complete for s in after)
    assert synchronizer.jumps == 1
    jump = synchronizer.last_jump
    assert jump is not None and jump.to_ns < jump.from_ns - 50_000 * MS
    assert synchronizer.now_ns == T0 - 60_000 * MS + 5 * PERIOD


def test_clock_jump_with_old_frames_still_in_flight_recovers_at_once() -> None:
    """One camera jumps first; another still delivers a frame of the old epoch, then jumps."""
    synchronizer = sync()
    feed(synchronizer, camera_events(range(5)))
    new = T0 - 60_000 * MS
    events = [
        ("front", new, ("front", 0)),
        ("side", T0 + 5 * PERIOD, ("side", "old")),  # in flight from before the jump
        ("wrist", T0 + 5 * PERIOD, ("wrist", "old")),
        ("side", new, ("side", 0)),
        ("wrist", new + MS, ("wrist", 0)),
    ]
    events += camera_events(range(1, 4), start=new)
    sets = feed(synchronizer, events)
    assert steps_of(sets) == [0, 1, 2, 3]
    assert synchronizer.jumps == 1
    assert synchronizer.dropped["pre_jump"] == 2


def test_all_cameras_pausing_does_not_make_the_late_ones_stale() -> None:
    synchronizer = sync(max_age_ns=100 * MS)
    feed(synchronizer, camera_events(range(3)))
    sets = feed(synchronizer, camera_events(range(300, 303), seed=2))
    assert steps_of(sets) == [300, 301, 302]
    assert all(s.complete for s in sets)
    assert synchronizer.gaps == 1 and synchronizer.jumps == 0


def test_queue_size_bounds_memory() -> None:
    synchronizer = sync(queue_size=4, max_age_ns=10_000 * MS)
    feed(synchronizer, camera_events(range(20), views=("front",)))
    assert synchronizer.queued()["front"] == 4
    assert synchronizer.dropped["overflow"] == 16


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"views": ()}, ValueError, "non-empty"),
        ({"views": ("a", "a")}, ValueError, "distinct"),
        ({"tolerance_ns": -1}, ValueError, "tolerance_ns"),
        ({"tolerance_ns": 1.5}, ValueError, "tolerance_ns"),
        ({"tolerance_ns": 300 * MS}, ValueError, "max_age_ns"),
        ({"queue_size": 0}, ValueError, "queue_size"),
    ],
)
def test_bad_settings_are_refused(kwargs, error, match) -> None:
    settings = {"views": VIEWS, "tolerance_ns": 10 * MS, "max_age_ns": 200 * MS}
    settings.update(kwargs)
    with pytest.raises(error, match=match):
        StampSynchronizer(**settings)


def test_bad_pushes_are_refused() -> None:
    synchronizer = sync()
    with pytest.raises(ValueError, match="unknown view 'rear'"):
        synchronizer.push("rear", T0, None)
    with pytest.raises(TypeError, match="integer nanoseconds"):
        synchronizer.push("front", 1.5, None)
    assert synchronizer.push("front", np.int64(T0), None) == []


# ---------------------------------------------------------------------- properties
if given is None:

    def test_property_tests_need_hypothesis() -> None:
        pytest.skip("hypothesis is not installed (pip install -e .[dev])")

else:

    @st.composite
    def camera_streams(draw):
        steps = draw(st.integers(1, 25))
        lost = draw(st.sets(st.tuples(st.sampled_from(VIEWS), st.integers(0, steps - 1))))
        jitter = draw(st.lists(st.integers(-4, 4), min_size=steps * 3, max_size=steps * 3))
        # arrival: frames are delivered up to `lag` positions out of order
        lag = draw(st.integers(0, 4))
        keys = draw(st.lists(st.integers(0, lag), min_size=steps * 3, max_size=steps * 3))
        events = []
        for (step, index), offset in zip(
            itertools.product(range(steps), range(3)), jitter, strict=True
        ):
            view = VIEWS[index]
            if (view, step) not in lost:
                events.append((view, T0 + step * PERIOD + offset * MS, (view, step)))
        order = sorted(range(len(events)), key=lambda i: i + keys[i])
        return steps, lost, [events[i] for i in order]

    @settings(max_examples=150, deadline=None)
    @given(camera_streams())
    def test_sets_are_ordered_within_tolerance_and_use_each_frame_once(stream) -> None:
        steps, lost, events = stream
        synchronizer = sync()
        sets = feed(synchronizer, events)
        pivots = [s.stamp_ns for s in sets]
        assert pivots == sorted(set(pivots))
        used = set()
        last = {}
        for synced in sets:
            assert set(synced.frames) | set(synced.missing) == set(VIEWS)
            for view, stamp in synced.stamps.items():
                assert abs(stamp - synced.stamp_ns) <= synchronizer.tolerance_ns
                assert synced.frames[view][0] == view
                assert synced.frames[view] not in used
                used.add(synced.frames[view])
                assert stamp > last.get(view, -1)
                last[view] = stamp
            if synced.complete:
                # frames of one set belong to one step (jitter << period)
                assert len({frame[1] for frame in synced.frames.values()}) == 1
        # with every frame delivered and the arrival no more than a step out of order, every
        # step makes exactly one complete set
        complete_steps = {s for s in range(steps) if not any((v, s) in lost for v in VIEWS)}
        emitted = set(steps_of([s for s in sets if s.complete]))
        assert emitted <= complete_steps
        if not lost:
            # the newest step always gets its set (nothing newer can have skipped it)
            assert steps - 1 in emitted

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(VIEWS), st.integers(-(10**12), 10**12)), max_size=60))
    def test_arbitrary_stamps_never_break_the_invariants(pushes) -> None:
        synchronizer = sync()
        sets = []
        for index, (view, stamp) in enumerate(pushes):
            sets += synchronizer.push(view, stamp, index)
            assert all(n <= synchronizer.queue_size for n in synchronizer.queued().values())
        for synced in sets:
            assert all(
                abs(s - synced.stamp_ns) <= synchronizer.tolerance_ns
                for s in synced.stamps.values()
            )
        frames = [f for s in sets for f in s.frames.values()]
        assert len(frames) == len(set(frames))
