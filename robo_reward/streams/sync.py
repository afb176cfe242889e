"""Approximate-time synchronisation of camera frames by their stamps, without a transport.

The policy of ROS ``message_filters.ApproximateTimeSynchronizer`` with a slop: a synchronised set
is emitted as soon as every required view has a frame within ``tolerance`` of a *reference stamp*
(the stamp of one of the set's frames, the earliest such pivot first). Here it is plain Python, so
the ROS node, the simulator and the tests share one implementation:

- **time** is the data's own: ``now`` is the newest stamp pushed (since the last reset), so a
  recorded bag or a simulator's clock behaves like a live robot;
- **max age**: a frame older than ``now - max_age`` is dropped, so a set is never built from
  frames that waited too long for a partner;
- **stale views**: a view whose newest frame is older than ``now - max_age`` is *stale*. Sets are
  then formed over the live views and name the stale ones in :attr:`SyncedFrames.missing`; the
  caller decides whether a partial set is usable (the GRM stream skips or masks it);
- **out of order**: a frame is inserted by stamp; one that is not newer than the last frame of its
  view already consumed by a set is dropped as ``late``;
- **clock jump backwards** (a simulator or a bag restarting): a view's stamp going back by more
  than ``jump`` clears every queue and starts again from the new stamp (:attr:`last_jump`,
  :attr:`jumps`); frames of the other views still in the old epoch (far ahead of the new time)
  are dropped as ``pre_jump`` until each view has delivered one in the new epoch;
- **gaps**: time leaping *forward* by more than ``jump`` (every camera paused, a simulator
  skipping ahead) restarts the queues too, so the views that have not yet delivered after the
  gap are not taken for stale at once (:attr:`gaps`).

Every dropped frame is counted by reason in :attr:`dropped`.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DROP_REASONS = ("too_old", "late", "duplicate", "unmatched", "overflow", "pre_jump", "clock_jump")
"""Why a frame was dropped: older than max age on arrival or while waiting; not newer than its
view's last used frame; same stamp as a queued frame; skipped over by a newer set; queue full;
left over from before a clock jump; queued when the clock jumped."""


@dataclass(frozen=True)
class SyncedFrames:
    """One synchronised step: a frame per live view, all within tolerance of ``stamp_ns``."""

    stamp_ns: int
    """The reference stamp (the pivot frame's stamp)."""
    frames: Mapping[str, Any]
    """View -> frame, for the views that were live."""
    stamps: Mapping[str, int]
    """View -> stamp of its frame."""
    missing: tuple[str, ...] = ()
    """Required views that were stale, so absent from this set."""

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class ClockJump:
    """A view's stamps went backwards by more than the jump threshold."""

    view: str
    from_ns: int
    to_ns: int


class StampSynchronizer:
    """Pairs frames of several views by stamp (see the module docstring).

    ``views``: the required views. ``tolerance_ns``: how far a frame may be from the reference
    stamp. ``max_age_ns``: how long a frame may wait for its partners, and how long a view may be
    silent before it counts as stale. ``queue_size``: frames kept per view at most (the oldest
    is dropped beyond it). ``jump_ns``: a backward step of a view's stamps larger than this is a
    clock jump (default: ``max_age_ns``).
    """

    def __init__(
        self,
        views: Iterable[str],
        tolerance_ns: int,
        max_age_ns: int,
        queue_size: int = 32,
        jump_ns: int | None = None,
    ) -> None:
        self.views = tuple(views)
        if not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must be distinct and non-empty, got {self.views}")
        if any(not isinstance(v, str) or not v for v in self.views):
            raise ValueError(f"view names must be non-empty strings, got {self.views}")
        self.tolerance_ns = _nonnegative_int("tolerance_ns", tolerance_ns)
        self.max_age_ns = _nonnegative_int("max_age_ns", max_age_ns)
        if self.max_age_ns < self.tolerance_ns:
            raise ValueError(
                f"max_age_ns ({max_age_ns}) must be >= tolerance_ns ({tolerance_ns}): a frame "
                "must be allowed to wait at least as long as its partners may lag"
            )
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size must be an int >= 1, got {queue_size!r}")
        self.queue_size = queue_size
        self.jump_ns = self.max_age_ns if jump_ns is None else _nonnegative_int("jump_ns", jump_ns)
        self.dropped: Counter[str] = Counter()
        """Dropped frames by reason (see :data:`DROP_REASONS`)."""
        self.emitted = 0
        """Sets emitted (complete or not)."""
        self.jumps = 0
        """Clock jumps backwards seen."""
        self.last_jump: ClockJump | None = None
        self.gaps = 0
        """Forward leaps of time by more than ``jump_ns`` (queues restarted, not a jump)."""
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every queued frame and the time; counters are kept."""
        self._queues: dict[str, list[tuple[int, Any]]] = {v: [] for v in self.views}
        self._newest: dict[str, int | None] = dict.fromkeys(self.views)
        """Newest stamp seen per view (since reset)."""
        self._used: dict[str, int | None] = dict.fromkeys(self.views)
        """Stamp of the newest frame per view consumed by an emitted set."""
        self._now: int | None = None
        self._origin: int | None = None
        self._last_pivot: int | None = None
        self._pending_jump: set[str] = set()

    @property
    def now_ns(self) -> int | None:
        """The newest stamp pushed since the last reset (None before the first frame)."""
        return self._now

    def last_stamp(self, view: str) -> int | None:
        """Newest stamp seen from ``view`` since the last reset."""
        self._check_view(view)
        return self._newest[view]

    def queued(self) -> dict[str, int]:
        """Frames waiting per view."""
        return {v: len(q) for v, q in self._queues.items()}

    def stale_views(self) -> tuple[str, ...]:
        """Views with no frame in the last ``max_age`` (by the data's time). A view never seen
        counts from the first frame after the last reset."""
        if self._now is None:
            return ()
        stale = []
        for view in self.views:
            last = self._newest[view]
            since = self._origin if last is None else last
            assert since is not None
            if self._now - since > self.max_age_ns:
                stale.append(view)
        return tuple(stale)

    # ------------------------------------------------------------------ input
    def push(self, view: str, stamp_ns: int, frame: Any) -> list[SyncedFrames]:
        """Add a frame; returns the sets it completes (oldest first, usually zero or one)."""
        self._check_view(view)
        stamp = _stamp(stamp_ns)
        last = self._newest[view]
        if last is not None and stamp < last - self.jump_ns:
            self._clock_jump(view, last, stamp)
            last = None
        elif (
            view in self._pending_jump
            and self._now is not None
            and stamp > self._now + self.jump_ns
        ):
            self.dropped["pre_jump"] += 1
            return []
        elif self._now is not None and stamp > self._now + self.jump_ns:
            self._gap()
            last = None
        self._pending_jump.discard(view)
        if self._now is None:
            self._origin = stamp
        if self._now is None or stamp > self._now:
            self._now = stamp
        if last is None or stamp > last:
            self._newest[view] = stamp
        used = self._used[view]
        if used is not None and stamp <= used:
            self.dropped["late"] += 1
            return self._emit()
        if stamp < self._now - self.max_age_ns:
            self.dropped["too_old"] += 1
            return self._emit()
        queue = self._queues[view]
        index = bisect.bisect_left(queue, stamp, key=lambda item: item[0])
        if index < len(queue) and queue[index][0] == stamp:
            self.dropped["duplicate"] += 1
            return self._emit()
        queue.insert(index, (stamp, frame))
        if len(queue) > self.queue_size:
            del queue[0]
            self.dropped["overflow"] += 1
        return self._emit()

    # ------------------------------------------------------------------ internals
    def _check_view(self, view: str) -> None:
        if view not in self._queues:
            raise ValueError(f"unknown view {view!r}; this synchronizer has {list(self.views)}")

    def _clock_jump(self, view: str, from_ns: int, to_ns: int) -> None:
        queued = sum(len(q) for q in self._queues.values())
        self.dropped["clock_jump"] += queued
        self.jumps += 1
        self.last_jump = ClockJump(view, from_ns, to_ns)
        self.reset()
        self._pending_jump = set(self.views) - {view}

    def _gap(self) -> None:
        """Time leapt forward (every camera paused, or a simulator skipped ahead): everything
        queued is too old, and the other views count as silent from the new stamp on."""
        self.dropped["too_old"] += sum(len(q) for q in self._queues.values())
        self.gaps += 1
        self.reset()

    def _expire(self) -> None:
        assert self._now is not None
        horizon = self._now - self.max_age_ns
        for queue in self._queues.values():
            old = bisect.bisect_left(queue, horizon, key=lambda item: item[0])
            if old:
                del queue[:old]
                self.dropped["too_old"] += old

    def _emit(self) -> list[SyncedFrames]:
        self._expire()
        stale = self.stale_views()
        live = [v for v in self.views if v not in stale]
        out = []
        while live:
            synced = self._find_set(live, stale)
            if synced is None:
                break
            out.append(synced)
        return out

    def _find_set(self, live: list[str], stale: tuple[str, ...]) -> SyncedFrames | None:
        pivots = sorted({stamp for v in live for stamp, _ in self._queues[v]})
        for pivot in pivots:
            if self._last_pivot is not None and pivot <= self._last_pivot:
                continue
            chosen: dict[str, int] = {}
            for view in live:
                index = self._nearest(self._queues[view], pivot)
                if index is None:
                    break
                chosen[view] = index
            else:
                return self._consume(pivot, chosen, stale)
        return None

    def _nearest(self, queue: list[tuple[int, Any]], pivot: int) -> int | None:
        """Index of the queued frame nearest ``pivot`` (the earlier on a tie), if within
        tolerance."""
        best = None
        for index, (stamp, _) in enumerate(queue):
            distance = abs(stamp - pivot)
            if distance <= self.tolerance_ns and (best is None or distance < best[0]):
                best = (distance, index)
        return None if best is None else best[1]

    def _consume(self, pivot: int, chosen: dict[str, int], stale: tuple[str, ...]) -> SyncedFrames:
        frames, stamps = {}, {}
        for view, index in chosen.items():
            queue = self._queues[view]
            stamps[view], frames[view] = queue[index]
            self.dropped["unmatched"] += index
            del queue[: index + 1]
            self._used[view] = stamps[view]
        self._last_pivot = pivot
        self.emitted += 1
        missing = tuple(v for v in self.views if v in stale)
        return SyncedFrames(pivot, frames, stamps, missing)


def _stamp(value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"stamps are integer nanoseconds, got {type(value).__name__} {value!r}")
    return int(value)


def _nonnegative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 0:
        raise ValueError(f"{name} must be an int >= 0 (nanoseconds), got {value!r}")
    return int(value)
