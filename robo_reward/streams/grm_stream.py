"""GRM rewards from live camera streams: the brain of the ROS ``grm_reward`` node, without ROS.

:class:`GRMRewardStream` holds the GRM, its progress tracker (conditioned on a reference demo)
and a :class:`~robo_reward.streams.sync.StampSynchronizer`. Camera frames are pushed one at a
time with their stamps; every synchronised set is one step of the episode:

- **progress** Φ: the tracker's fused progress (three anchorings, :mod:`robo_reward.grm.tracker`);
  Φ = 0 at the episode's first set;
- **reward** of the transition from the previous published step:
  ``γΦ(s') − Φ(s)`` (:func:`robo_reward.shaping.pbrs.shaping_reward`, never terminal: the robot's
  episode end is not known here) ``+ success_bonus · [complete]``. The first set of an episode
  has no transition, so no reward (``None``);
- **completion**: Robo-Dopamine's rule on the episode's progress so far
  (:func:`robo_reward.grm.completion.completion_class`: final Φ > 0.8 and the mean over the
  last third > 0.6; the rule the model card's completion accuracy is measured with), plus the
  completion head's probability.

A step never uses a stale or guessed input. When a required view is stale or missing, the
``missing_view`` policy decides: ``skip`` (default) returns nothing and counts why; ``mask``
returns an estimate from the remaining views with the missing ones masked in the model's view
fusion (:attr:`RewardEstimate.masked` names them). :meth:`GRMRewardStream.status` summarises the
stream for ``/diagnostics``. A clock jump backwards (a simulator or bag restarting) starts a new
episode at the next set and is reported.

The reference demo (:func:`load_reference_demo`) is a trajectory ``.npz``, an episode of a
dataset directory, or a rosbag2 folder recorded on the stream's own camera topics (e.g. by the
``demo_recorder`` node): the bag is read with :func:`robo_reward.data.rosbag.read_bag_demo`,
views aligned by header stamp and sized for the model, as ``robo-reward adapt --demo`` reads it.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robo_reward.data import Trajectory
from robo_reward.grm.completion import completion_class
from robo_reward.grm.model import GRM, check_views
from robo_reward.grm.tracker import FusionConfig, ProgressTracker, Reference
from robo_reward.shaping.pbrs import PotentialError, check_potential, shaping_reward
from robo_reward.streams.sync import StampSynchronizer

MISSING_VIEW_POLICIES = ("skip", "mask")

OK, WARN, ERROR = 0, 1, 2
"""Diagnostic levels, as in ``diagnostic_msgs/DiagnosticStatus``."""
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}

HISTORY_CAP = 8192
"""Progress values kept for the completion rule; beyond it the history is thinned by 2 (the mean
over the last third is unchanged up to rounding), so a stream never reset does not grow."""


@dataclass(frozen=True)
class StreamConfig:
    """How camera frames become GRM progress and reward."""

    views: tuple[str, ...] = ()
    """Required camera views (empty: every view of the model)."""
    gamma: float = 0.99
    """Discount of the shaping term γΦ(s') − Φ(s); must equal the learner's."""
    success_bonus: float = 1.0
    """Added to the reward of a step whose episode reads as complete (Robo-Dopamine's r_gold;
    0: off)."""
    missing_view: str = "skip"
    """A step with a stale or missing view: skip (publish nothing) or mask (estimate from the
    other views, flagged as masked)."""
    tolerance_ms: float = 10.0
    """Frames of one step lie within this of the step's reference stamp."""
    max_age_ms: float = 200.0
    """A frame waits at most this long for its partners; a view silent for longer is stale."""
    resize: bool = True
    """Resize frames (and the reference demo) of another size to the model's square input
    (cv2 INTER_AREA, aspect ratio not kept); False: refuse them."""
    fusion: FusionConfig = field(default_factory=FusionConfig)
    """How the tracker fuses its three anchorings."""
    stall_s: float = 2.0
    """No camera frame at all for this long (wall clock of the stream) is an error."""

    def __post_init__(self) -> None:
        if self.missing_view not in MISSING_VIEW_POLICIES:
            raise ValueError(
                f"missing_view must be one of {MISSING_VIEW_POLICIES}, got {self.missing_view!r}"
            )
        if not (0.0 <= self.gamma <= 1.0):
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if not (math.isfinite(self.success_bonus) and self.success_bonus >= 0):
            raise ValueError(
                f"success_bonus must be a finite number >= 0, got {self.success_bonus}"
            )
        for name in ("tolerance_ms", "max_age_ms", "stall_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if self.max_age_ms < self.tolerance_ms:
            raise ValueError(
                f"max_age_ms ({self.max_age_ms}) must be >= tolerance_ms ({self.tolerance_ms})"
            )
        if len(set(self.views)) != len(self.views):
            raise ValueError(f"views must be distinct, got {self.views}")


@dataclass(frozen=True)
class RewardEstimate:
    """GRM output for one synchronised step."""

    stamp_ns: int
    """Reference stamp of the step's frames."""
    progress: float
    """Fused progress Φ in [0, 1]."""
    reward: float | None
    """γΦ(s') − Φ(s) + success bonus for the transition from the previous step; None at the
    first step of an episode (no transition yet)."""
    completion: bool
    """The episode reads as complete (Robo-Dopamine's rule on its progress so far)."""
    completion_prob: float
    """The completion head's probability for this step."""
    views: tuple[str, ...]
    """Views the estimate used."""
    masked: tuple[str, ...] = ()
    """Required views that were missing and masked (``missing_view="mask"``)."""
    step: int = 0
    """Index of the step in the episode (0: the episode's first set)."""

    @property
    def is_masked(self) -> bool:
        return bool(self.masked)


@dataclass(frozen=True)
class StreamStatus:
    """A diagnostics summary (one ``diagnostic_msgs/DiagnosticStatus``)."""

    level: int
    """OK, WARN or ERROR (0, 1, 2)."""
    message: str
    values: dict[str, str]

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]


def load_reference_demo(
    path: str | Path,
    episode: int = 0,
    topics: Mapping[str, str] | None = None,
    image_size: int | None = None,
) -> Trajectory:
    """A reference demonstration: a trajectory ``.npz``, episode ``episode`` of a dataset
    directory, or a rosbag2 folder (the inputs ``robo-reward adapt --demo`` takes).

    A rosbag2 folder needs ``topics`` (view -> absolute image topic, the stream's own camera
    topics): it is read with :func:`~robo_reward.data.rosbag.read_bag_demo`, views aligned by
    header stamp, frames centre-cropped and resized to ``image_size`` (the model's input; None:
    as recorded). A view's topic absent from the bag is looked up under its other transport
    (``<topic>/compressed`` for a raw topic, the raw topic for a ``.../compressed`` one), so a
    bag recorded compressed serves a stream subscribed raw.
    """
    from robo_reward.data import DatasetReader
    from robo_reward.data.rosbag import looks_like_rosbag2

    path = Path(path)
    if looks_like_rosbag2(path):
        return load_bag_reference(path, topics, image_size, episode)
    if path.is_dir():
        dataset = DatasetReader(path)
        if not 0 <= episode < len(dataset):
            raise ValueError(
                f"reference episode {episode} is out of range: {path} has {len(dataset)} episodes"
            )
        return dataset[episode]
    if path.is_file():
        return Trajectory.load(path)
    raise FileNotFoundError(
        f"no reference demo at {path}: give a trajectory .npz, a dataset directory or a rosbag2 "
        "folder (record one with the demo_recorder node or `robo-reward demos generate`)"
    )


def load_bag_reference(
    path: str | Path,
    topics: Mapping[str, str] | None,
    image_size: int | None = None,
    episode: int = 0,
) -> Trajectory:
    """The reference demo in a rosbag2 folder, read on ``topics`` (view -> topic); see
    :func:`load_reference_demo`. Raises ``ValueError`` (a :class:`DataFormatError` for a bad
    bag) or ``FileNotFoundError`` saying what is wrong."""
    from robo_reward.data.rosbag import read_bag_demo, require_rosbag2_dir

    path = require_rosbag2_dir(path)
    if not topics:
        raise ValueError(
            f"{path} is a rosbag2 recording: the image topic of each view is needed to read it"
        )
    if episode != 0:
        raise ValueError(
            f"reference episode {episode}: a rosbag2 folder holds one demo (episode 0)"
        )
    recorded = _bag_topics(path)
    views = {}
    for view, topic in topics.items():
        if topic not in recorded and _other_transport(topic) in recorded:
            topic = _other_transport(topic)
        views[view] = topic  # a topic still absent: read_bag_demo names it and the bag's topics
    demo, _ = read_bag_demo(path, views, image_size=image_size)
    return demo


def _other_transport(topic: str) -> str:
    """``/cam/image_raw`` <-> ``/cam/image_raw/compressed``."""
    suffix = "/compressed"
    return topic[: -len(suffix)] if topic.endswith(suffix) else topic.rstrip("/") + suffix


def _bag_topics(path: Path) -> set[str]:
    """Topics recorded in a rosbag2 folder (empty when its index cannot be read: the reader
    reports that)."""
    from robo_reward.data.rosbag import _read_errors

    try:
        from rosbags.rosbag2 import Reader

        with Reader(path) as reader:
            return {connection.topic for connection in reader.connections}
    except _read_errors():
        return set()


def load_grm_model(checkpoint: str | Path = "") -> GRM:
    """A GRM from ``checkpoint`` (e.g. the output of ``robo-reward adapt``), or the shipped
    general model when empty."""
    from robo_reward.grm.checkpoint import default_checkpoint, load_grm

    return load_grm(checkpoint or default_checkpoint()).eval()


class GRMRewardStream:
    """Camera frames in, GRM progress / reward / completion out (see the module docstring).

    ``reference``: a successful demonstration (its first and last frames condition the model)
    or a :class:`~robo_reward.grm.tracker.Reference`. ``clock_ns``: the clock latency is measured
    with, in the time base of the stamps (the ROS node passes its node clock).
    """

    def __init__(
        self,
        grm: GRM,
        reference: Trajectory | Reference,
        config: StreamConfig = StreamConfig(),
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.grm = grm.eval()
        self.config = config
        self.clock_ns = clock_ns
        model_views = grm.config.views
        self.views = tuple(config.views) or tuple(model_views)
        check_views(self.views, grm.config)
        self.size = grm.config.image_size
        if isinstance(reference, Trajectory):
            reference = Reference.from_trajectory(reference)
        self.reference = self._reference(reference)
        self.tracker = ProgressTracker(grm, self.reference, config.fusion)
        self.sync = StampSynchronizer(
            self.views,
            tolerance_ns=round(config.tolerance_ms * 1e6),
            max_age_ns=round(config.max_age_ms * 1e6),
        )
        self.skipped: Counter[str] = Counter()
        """Steps that produced no estimate, by reason."""
        self.rejected: Counter[str] = Counter()
        """Frames refused (wrong dtype/shape, undecodable), by view."""
        self.last_rejection: dict[str, str] = {}
        self.published = 0
        self.masked_steps = 0
        self.last: RewardEstimate | None = None
        self.latency_ms: deque[float] = deque(maxlen=1000)
        """Stamp -> estimate ready, per step (by ``clock_ns``)."""
        self.compute_ms: deque[float] = deque(maxlen=1000)
        """Time spent in the model per step."""
        self._last_input_s: float | None = None
        self._seen_jumps = 0
        self._events: deque[tuple[int, str]] = deque(maxlen=32)
        self._reported = {"skipped": Counter(), "rejected": Counter()}
        self.warm_up()
        self.reset()

    def warm_up(self, steps: int = 3) -> None:
        """Run the model on the reference frames a few times, so the first real steps do not
        pay for lazy initialisation (about 100 ms on a CPU) in their latency."""
        self.tracker.reset(self.reference.start)
        for index in range(steps):
            self.tracker.update(self.reference.end if index % 2 == 0 else self.reference.start)

    # ------------------------------------------------------------------ episodes
    def reset(self, at_ns: int | None = None) -> None:
        """Start a new episode: the next step (stamped at or after ``at_ns``, if given) is its
        first frame, with progress 0."""
        self._started = False
        self._phi = 0.0
        self._history: list[float] = []
        self._stride = 1
        self._steps = 0
        self._episode_floor = at_ns
        self._last_stamp: int | None = None

    # ------------------------------------------------------------------ input
    def push(self, view: str, stamp_ns: int, frame: np.ndarray) -> list[RewardEstimate]:
        """Add one camera frame; returns the estimates of the steps it completes (usually zero
        or one). A bad frame raises ``ValueError`` and is counted for diagnostics."""
        self._last_input_s = time.monotonic()
        try:
            stamp = _stamp_ns(stamp_ns, f"view {view!r}")
            image = self.prepare(view, frame)
        except ValueError as exc:
            self.note_rejected(view, str(exc))
            raise
        sets = self.sync.push(view, stamp, image)
        if self.sync.jumps != self._seen_jumps:
            self._seen_jumps = self.sync.jumps
            jump = self.sync.last_jump
            assert jump is not None
            self._event(
                WARN,
                f"clock jumped back on view {jump.view!r} from {jump.from_ns} to {jump.to_ns} ns; "
                "episode restarted",
            )
            self.reset()
        estimates = []
        for synced in sets:
            estimate = self.step(synced.frames, synced.stamp_ns, stale=synced.missing)
            if estimate is not None:
                estimates.append(estimate)
        return estimates

    def note_rejected(self, view: str, reason: str) -> None:
        """Count a frame the caller could not use (e.g. an undecodable image message)."""
        view = view if isinstance(view, str) else repr(view)
        self.rejected[view] += 1
        self.last_rejection[view] = reason

    def prepare(self, view: str, frame: Any) -> np.ndarray:
        """A valid uint8 (S, S, 3) image of the model's size from ``frame``, or ValueError."""
        if view not in self.views:
            raise ValueError(f"unknown view {view!r}; this stream has {list(self.views)}")
        if not isinstance(frame, np.ndarray):
            raise ValueError(f"view {view!r}: a frame must be a numpy array, got {type(frame)}")
        if frame.dtype != np.uint8:
            raise ValueError(
                f"view {view!r}: frames must be uint8 RGB (H, W, 3), got dtype {frame.dtype}; "
                "convert camera images with robo_reward_ros.images or scale floats to 0..255"
            )
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
            raise ValueError(
                f"view {view!r}: frames must be RGB of shape (H, W, 3), got {frame.shape}"
            )
        if frame.shape[:2] != (self.size, self.size):
            if not self.config.resize:
                raise ValueError(
                    f"view {view!r}: the model takes {self.size}x{self.size} images, got "
                    f"{frame.shape[1]}x{frame.shape[0]} (enable resize to scale them)"
                )
            import cv2

            frame = cv2.resize(frame, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame)

    def step(
        self,
        frames: Mapping[str, np.ndarray],
        stamp_ns: int,
        stale: tuple[str, ...] = (),
    ) -> RewardEstimate | None:
        """One synchronised step. ``frames``: view -> uint8 (H, W, 3) (validated and resized as in
        :meth:`prepare`); ``stale``: required views known to be stale. Returns None (and counts
        the reason) when the step must not produce an estimate."""
        stamp = _stamp_ns(stamp_ns, "a step")
        if not isinstance(frames, Mapping):
            raise ValueError(
                f"a step's frames must be a mapping view -> image, got {type(frames).__name__}"
            )
        if self._episode_floor is not None and stamp < self._episode_floor:
            self.skipped["stamped before the episode reset"] += 1
            return None
        if self._last_stamp is not None and stamp <= self._last_stamp:
            self.skipped["stamp not after the previous step"] += 1
            return None
        images = {view: self.prepare(view, image) for view, image in frames.items()}
        missing = tuple(v for v in self.views if v not in images)
        if missing:
            kind = "stale" if set(missing) <= set(stale) else "missing"
            if self.config.missing_view == "skip" or not images:
                self.skipped[f"{kind} view: {', '.join(missing)}"] += 1
                return None
        start = time.perf_counter()
        if not self._started:
            estimate = self.tracker.reset(images)
            reward = None
            self._started = True
        else:
            estimate = self.tracker.update(images)
            reward = 0.0
        try:
            phi = check_potential(estimate.fused, "grm progress", where=f" at stamp {stamp}")
        except PotentialError as exc:
            self.skipped["non-finite progress"] += 1
            self._event(ERROR, f"{exc}; the episode restarts at the next step")
            self.reset()
            return None
        self._remember(phi)
        complete = completion_class(np.asarray(self._history)) == "success"
        if reward is not None:
            reward = shaping_reward(self._phi, phi, self.config.gamma, terminated=False)
            reward += self.config.success_bonus * float(complete)
        self._phi = phi
        self.compute_ms.append(1000.0 * (time.perf_counter() - start))
        result = RewardEstimate(
            stamp_ns=stamp,
            progress=phi,
            reward=reward,
            completion=complete,
            completion_prob=float(estimate.completion),
            views=tuple(v for v in self.views if v in images),
            masked=missing,
            step=self._steps,
        )
        self._steps += 1
        self._last_stamp = stamp
        self.published += 1
        self.masked_steps += bool(missing)
        self.last = result
        self.latency_ms.append((self.clock_ns() - stamp) / 1e6)
        return result

    # ------------------------------------------------------------------ diagnostics
    def status(self) -> StreamStatus:
        """Level, message and key values for ``/diagnostics``. Events (skipped steps, refused
        frames, clock jumps) are reported once, by the first status after them."""
        problems: list[tuple[int, str]] = list(self._events)
        self._events.clear()
        if self._last_input_s is None:
            problems.append((WARN, f"no camera frames yet on views {list(self.views)}"))
        else:
            silent = time.monotonic() - self._last_input_s
            if silent > self.config.stall_s:
                problems.append((ERROR, f"no camera frames for {silent:.1f} s"))
        stale = self.sync.stale_views()
        if stale:
            action = (
                "publishing nothing"
                if self.config.missing_view == "skip"
                else "publishing masked estimates"
            )
            policy = self.config.missing_view
            problems.append(
                (
                    WARN,
                    f"stale view(s) {', '.join(stale)}: no frame for over "
                    f"{self.config.max_age_ms:g} ms; {action} (missing_view={policy})",
                )
            )
        new_skips = self.skipped - self._reported["skipped"]
        if new_skips:
            reasons = "; ".join(f"{n} x {reason}" for reason, n in sorted(new_skips.items()))
            problems.append((WARN, f"skipped steps: {reasons}"))
        new_rejections = self.rejected - self._reported["rejected"]
        for view, n in sorted(new_rejections.items()):
            problems.append(
                (ERROR, f"view {view!r}: {n} frame(s) refused: {self.last_rejection[view]}")
            )
        self._reported["skipped"] = Counter(self.skipped)
        self._reported["rejected"] = Counter(self.rejected)
        if problems:
            level = max(level for level, _ in problems)
            message = " | ".join(text for _, text in problems)
        else:
            level = OK
            last = self.last
            message = "publishing" if last is None else f"publishing: progress {last.progress:.3f}"
        return StreamStatus(level, message, self._values(stale))

    def _values(self, stale: tuple[str, ...]) -> dict[str, str]:
        last = self.last
        values = {
            "views": ",".join(self.views),
            "missing_view": self.config.missing_view,
            "stale_views": ",".join(stale),
            "episode_steps": str(self._steps),
            "published": str(self.published),
            "masked_steps": str(self.masked_steps),
            "last_stamp_ns": "" if last is None else str(last.stamp_ns),
            "last_progress": "" if last is None else f"{last.progress:.4f}",
            "last_reward": "" if last is None or last.reward is None else f"{last.reward:.4f}",
            "completion": "" if last is None else str(last.completion).lower(),
            "completion_prob": "" if last is None else f"{last.completion_prob:.3f}",
            "dropped_frames": str(sum(self.sync.dropped.values())),
            "skipped_steps": str(sum(self.skipped.values())),
            "refused_frames": str(sum(self.rejected.values())),
            "clock_jumps": str(self.sync.jumps),
        }
        for reason, n in sorted(self.sync.dropped.items()):
            values[f"dropped_{reason}"] = str(n)
        for name, samples in (("latency", self.latency_ms), ("compute", self.compute_ms)):
            if samples:
                p50, p99 = np.percentile(np.asarray(samples), [50, 99])
                values[f"{name}_p50_ms"] = f"{p50:.2f}"
                values[f"{name}_p99_ms"] = f"{p99:.2f}"
        return values

    # ------------------------------------------------------------------ internals
    def _event(self, level: int, message: str) -> None:
        self._events.append((level, message))

    def _remember(self, phi: float) -> None:
        if self._steps % self._stride == 0:
            self._history.append(phi)
        else:
            self._history[-1] = phi
        if len(self._history) > HISTORY_CAP:
            self._history = self._history[::2]
            self._stride *= 2

    def _reference(self, reference: Reference) -> Reference:
        parts = []
        for name, observation in (("start", reference.start), ("end", reference.end)):
            absent = [v for v in self.views if v not in observation]
            if absent:
                raise ValueError(
                    f"the reference demo's {name} frame has no view(s) {absent}; it has "
                    f"{sorted(observation)}: record the demo with the same cameras"
                )
            parts.append({v: self.prepare(v, np.asarray(observation[v])) for v in self.views})
        return Reference(*parts)


def _stamp_ns(value: Any, what: str) -> int:
    """A stamp as int nanoseconds (numpy ints too); a float, None or a string is a ValueError:
    rounding a float stamp would guess, and a guessed stamp can pair the wrong frames."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(
            f"{what}: stamps are integer nanoseconds, got {type(value).__name__} {value!r}"
        )
    return int(value)


def latency_probe(
    stream: GRMRewardStream,
    rate_hz: float = 30.0,
    seconds: float = 5.0,
    frame_shape: tuple[int, int] | None = None,
    jitter_ms: float = 2.0,
    seed: int = 0,
) -> dict[str, float]:
    """Stamp -> estimate latency in this process, cameras paced in real time: every
    ``1/rate_hz`` each of the stream's views delivers a frame stamped at capture (``clock_ns``)
    and arriving ``jitter_ms`` apart at most. Returns p50/p99/max in ms and how many steps were
    estimated (all of them, when the stream keeps up)."""
    rng = np.random.default_rng(seed)
    height, width = frame_shape or (stream.size, stream.size)
    period = 1.0 / rate_hz
    ticks = int(seconds * rate_hz)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(8)]
    stream.reset()
    stream.sync.reset()
    stream.latency_ms.clear()
    estimates = 0
    start = time.perf_counter()
    for tick in range(ticks):
        delay = start + tick * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        stamp = stream.clock_ns()
        for index, view in enumerate(stream.views):
            if jitter_ms and index:
                time.sleep(float(rng.uniform(0, jitter_ms)) / 1000.0 / len(stream.views))
            estimates += len(stream.push(view, stamp, frames[(tick + index) % len(frames)]))
    samples = np.asarray(stream.latency_ms)
    return {
        "p50_ms": float(np.percentile(samples, 50)),
        "p99_ms": float(np.percentile(samples, 99)),
        "max_ms": float(samples.max()),
        "steps": float(ticks),
        "estimates": float(estimates),
    }
