"""Scripted experts: phase machines over privileged simulator state that emit subtask keyframes.

An expert walks through its task's subtasks (``approach``, ``grasp``, ``lift``, ...). Each phase
names a Cartesian target for the grip point and a gripper command, and says when it is done; the
frame where a phase starts is a keyframe. For reward-model training an expert can also be noisy,
undo its progress mid-way (drop the block, push the drawer shut) and then recover or give up, or
stall. It keeps the true per-frame progress as milestones ``(frame, value)``:

- a phase ``i`` of ``N`` starts at progress ``i / N`` and progress is linear in time inside it,
  exactly the keyframe labels of the design;
- an interruption inside phase ``i`` is worth ``(i + f) / N``, with ``f`` the fraction of the
  phase's own distance to its target covered;
- an undo routine falls linearly to the start of the phase the expert restarts from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from robo_reward.sim.tasks.base import FINGER_MAX, TabletopEnv

GRIPPER_OPEN = 1.0
GRIPPER_CLOSED = -1.0


def gripper_command_for_opening(opening: float) -> float:
    """The gripper command whose position target leaves ``opening`` metres between fingertips."""
    return float(np.clip(opening / FINGER_MAX - 1.0, -1.0, 1.0))


@dataclass(frozen=True)
class Move:
    """One phase's instruction for the current frame."""

    target: np.ndarray
    gripper: float
    done: bool = False
    speed: float = 1.0
    """Cap on each action component, in [0, 1] (the expert's ``max_speed`` caps it too)."""


@dataclass(frozen=True)
class Disruption:
    """A planned departure from the clean demonstration.

    ``kind="perturb"``: in ``phase``, once the phase fraction reaches ``at_fraction``, run the
    task's undo routine for that phase, then recover (or, with ``recover=False``, stop).
    ``kind="stall"``: at that point stop making progress and jitter in place until time runs out.
    ``kind="random"``: uniformly random actions from the first frame (progress unknown).
    """

    kind: Literal["perturb", "stall", "random"]
    phase: str = ""
    at_fraction: float = 0.5
    recover: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("perturb", "stall", "random"):
            raise ValueError(f"Disruption kind must be perturb, stall or random, got {self.kind!r}")
        if not 0.0 <= self.at_fraction <= 1.0:
            raise ValueError(f"at_fraction must be in [0, 1], got {self.at_fraction!r}")


@dataclass
class ExpertLog:
    """What an expert did, frame by frame, filled in while it acts."""

    phase_starts: list[tuple[int, str]] = field(default_factory=list)
    milestones: list[tuple[int, float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


class ScriptedExpert:
    """Base class: subclasses define ``subtask_labels``, a method ``_<label>`` per phase returning
    a :class:`Move`, and ``undo`` routines ``_undo_<name>`` for the phases in ``undo_plans``."""

    subtask_labels: ClassVar[tuple[str, ...]]
    undo_plans: ClassVar[dict[str, tuple[str, str]]] = {}
    """Phase label -> (undo routine name, label of the phase to restart from)."""

    def __init__(
        self,
        env: TabletopEnv,
        rng: np.random.Generator,
        noise_std: float = 0.0,
        random_action_prob: float = 0.0,
        disruption: Disruption | None = None,
        max_speed: float = 0.3,
    ) -> None:
        if disruption is not None and disruption.kind != "random":
            if disruption.phase not in self.subtask_labels:
                raise ValueError(
                    f"{type(self).__name__} has no phase {disruption.phase!r}; "
                    f"phases: {self.subtask_labels}"
                )
            if disruption.kind == "perturb" and disruption.phase not in self.undo_plans:
                raise ValueError(
                    f"{type(self).__name__} cannot undo phase {disruption.phase!r}; "
                    f"undoable phases: {tuple(self.undo_plans)}"
                )
        self.env, self.rng = env, rng
        self.noise_std, self.random_action_prob = float(noise_std), float(random_action_prob)
        self.disruption = disruption
        self.max_speed = float(max_speed)

    @classmethod
    def perturbable_phases(cls) -> tuple[str, ...]:
        return tuple(cls.undo_plans)

    # ------------------------------------------------------------------ episode
    def reset(self) -> None:
        """Call right after ``env.reset``."""
        self.log = ExpertLog()
        self.mode: Literal["task", "undo", "stalled", "random"] = "task"
        self.start_grip = self.env.grip_pos
        self._last_gripper = GRIPPER_OPEN
        self._hold_point = self.start_grip
        self._enter_phase(0, frame=0)
        if self.disruption is not None and self.disruption.kind == "random":
            self.mode = "random"
            self.log.events.append({"frame": 0, "event": "random_actions"})

    @property
    def num_phases(self) -> int:
        return len(self.subtask_labels)

    @property
    def phase_label(self) -> str:
        return self.subtask_labels[self.phase]

    def act(self, frame: int) -> np.ndarray:
        """The action for frame ``frame`` (0 after reset, +1 per env step)."""
        if self.mode == "random":
            return self.rng.uniform(-1.0, 1.0, size=4).astype(np.float32)
        if self.mode == "stalled":
            return self._jitter()
        if self.mode == "undo":
            move = self._undo_routine(frame - self._undo_start)
            if not move.done:
                return self._to_action(move)
            restart = self.subtask_labels.index(self.undo_plans[self._undone_phase][1])
            self._milestone(frame, restart / self.num_phases)
            self.log.events.append({"frame": frame, "event": "undo_done", "restart": restart})
            if not self.disruption.recover:
                self.log.events.append({"frame": frame, "event": "gave_up"})
                return self._stall()
            self.mode = "task"
            self._enter_phase(restart, frame, record=False)

        for _ in range(self.num_phases):
            move = self._phase_move()
            if self._disruption_due(move):
                return self._start_disruption(frame, move)
            if move.done and self.phase < self.num_phases - 1:
                self._enter_phase(self.phase + 1, frame)
                continue
            return self._to_action(move)
        return self._to_action(move)

    def keyframes(
        self, final_frame: int, success: bool
    ) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
        """Subtask boundaries ``(0, k1, ..., T)`` of a clean successful episode, else ``None``."""
        labels = tuple(label for _, label in self.log.phase_starts)
        if not success or self.log.events or labels != self.subtask_labels:
            return None
        starts = [frame for frame, _ in self.log.phase_starts]
        boundaries = (*starts, final_frame)
        if any(b <= a for a, b in zip(boundaries, boundaries[1:], strict=False)):
            return None  # two phases began on one frame; no well-defined subtask boundary
        return boundaries, labels

    def progress_milestones(
        self, final_frame: int, success: bool
    ) -> list[tuple[int, float]] | None:
        """True progress milestones for the whole episode, or ``None`` where it is not known
        (random actions, or a failure the expert did not plan)."""
        if self.mode == "random":
            return None
        planned_failure = self.mode == "stalled"
        if not success and not planned_failure:
            return None
        milestones = list(self.log.milestones)
        if success:
            milestones = [m for m in milestones if m[0] < final_frame] + [(final_frame, 1.0)]
        return milestones

    # ------------------------------------------------------------------ internals
    def _milestone(self, frame: int, value: float) -> None:
        """Record progress ``value`` at ``frame``; a later event on the same frame supersedes."""
        if self.log.milestones and self.log.milestones[-1][0] == frame:
            self.log.milestones.pop()
        self.log.milestones.append((frame, value))

    def _enter_phase(self, index: int, frame: int, record: bool = True) -> None:
        self.phase = index
        self._phase_start_frame = frame
        self._phase_start_grip = self.env.grip_pos
        self._phase_state: dict[str, Any] = {}
        self.log.phase_starts.append((frame, self.subtask_labels[index]))
        if record:
            self._milestone(frame, index / self.num_phases)
        else:
            self.log.events.append({"frame": frame, "event": "restart", "phase": index})

    def _phase_move(self) -> Move:
        method = getattr(self, f"_{self.phase_label}")
        return method(self._phase_state)

    def _phase_fraction(self, target: np.ndarray, point: np.ndarray | None = None) -> float:
        """Share of this phase's start-to-target distance that ``point`` (default: the grip
        point) has covered, in [0, 1]."""
        total = float(np.linalg.norm(self._phase_start_grip - target))
        if total < 1e-6:
            return 1.0
        point = self.env.grip_pos if point is None else point
        remaining = float(np.linalg.norm(point - target))
        return float(np.clip(1.0 - remaining / total, 0.0, 1.0))

    def _disruption_due(self, move: Move) -> bool:
        """In the planned phase, once the commanded target has covered the planned fraction, or
        as the phase completes (some finish before their distance fraction gets there).

        The commanded target leads the hand, so the hand itself is at or short of the planned
        fraction when the disruption starts: a stall planned mid-press never finishes the press.
        """
        plan = self.disruption
        if plan is None or plan.kind == "random" or self.log.events:
            return False
        if plan.phase != self.phase_label:
            return False
        commanded = self._phase_fraction(move.target, self.env.target_pos)
        return move.done or commanded >= plan.at_fraction

    def _start_disruption(self, frame: int, move: Move) -> np.ndarray:
        fraction = self._phase_fraction(move.target)
        value = (self.phase + fraction) / self.num_phases
        self._milestone(frame, value)
        self.log.events.append(
            {
                "frame": frame,
                "event": self.disruption.kind,
                "phase": self.phase_label,
                "fraction": round(fraction, 4),
            }
        )
        if self.disruption.kind == "stall":
            return self._stall()
        self.mode = "undo"
        self._undo_start = frame
        self._undone_phase = self.phase_label
        self._undo_state: dict[str, Any] = {"grip": self.env.grip_pos}
        return self._to_action(self._undo_routine(0))

    def _undo_routine(self, step: int) -> Move:
        name = self.undo_plans[self._undone_phase][0]
        return getattr(self, f"_undo_{name}")(self._undo_state, step)

    def _to_action(self, move: Move) -> np.ndarray:
        # Relative to the commanded target, which the env moves by the action: relative to the
        # hand, a target the hand lags behind would be overshot.
        delta = (move.target - self.env.target_pos) / self.env.action_scale
        action = np.empty(4)
        speed = min(move.speed, self.max_speed)
        action[:3] = np.clip(delta, -speed, speed)
        action[3] = move.gripper
        self._last_gripper = move.gripper
        if self.noise_std > 0:
            action[:3] += self.rng.normal(0.0, self.noise_std, size=3)
        if self.random_action_prob > 0 and self.rng.uniform() < self.random_action_prob:
            action[:3] = self.rng.uniform(-1.0, 1.0, size=3)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def _stall(self) -> np.ndarray:
        """Stop where the hand is now (pulling the commanded target back to it) and jitter."""
        self.mode = "stalled"
        self._hold_point = self.env.grip_pos
        return self._jitter()

    def _jitter(self) -> np.ndarray:
        wobble = self.rng.normal(0.0, 0.003, size=3)
        return self._to_action(Move(self._hold_point + wobble, self._last_gripper))
