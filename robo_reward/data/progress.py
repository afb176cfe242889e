"""Progress labels for demonstrations: the one implementation used by training and evaluation.

Robo-Dopamine (Tan et al., 2025) labels a demonstration by splitting it at keyframes into N
subtasks, giving each subtask an equal share 1/N of progress, linear inside the subtask.
Perturbed and failing episodes need progress that can go down and up again; they are labelled
with piecewise-linear milestones instead.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["keyframe_progress", "piecewise_linear_progress"]


def _check_num_frames(num_frames: int) -> int:
    if isinstance(num_frames, bool) or not isinstance(num_frames, numbers.Integral):
        raise ValueError(f"num_frames must be an int, got {type(num_frames).__name__}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    return int(num_frames)


def _check_frame_indices(name: str, frames: Sequence[int], num_frames: int) -> list[int]:
    """Frame indices must be ints, strictly increasing and inside [0, num_frames - 1]."""
    out: list[int] = []
    for i, f in enumerate(frames):
        if isinstance(f, bool) or not isinstance(f, numbers.Integral):
            raise ValueError(f"{name}[{i}] must be an int frame index, got {f!r}")
        out.append(int(f))
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise ValueError(
                f"{name} must be strictly increasing, but {name}[{i - 1}]={out[i - 1]} "
                f">= {name}[{i}]={out[i]}"
            )
    if out and (out[0] < 0 or out[-1] > num_frames - 1):
        raise ValueError(
            f"{name} must lie in [0, {num_frames - 1}] for num_frames={num_frames}, got {out}"
        )
    return out


def keyframe_progress(keyframes: Sequence[int], num_frames: int) -> np.ndarray:
    """Progress in [0, 1] per frame from subtask boundaries ``(0, k1, ..., kN)``.

    Each of the N subtasks gets an equal share 1/N, linear inside it: frame ``k_i`` has
    progress ``i / N``. Progress is 0 at frame 0 and 1 from the last keyframe on (frames after
    it, if any, stay at 1). Returns float32 of shape ``(num_frames,)``.
    """
    num_frames = _check_num_frames(num_frames)
    keys = _check_frame_indices("keyframes", list(keyframes), num_frames)
    if len(keys) < 2:
        raise ValueError(
            f"keyframes needs at least 2 entries (start and end of one subtask), got {keys}"
        )
    if keys[0] != 0:
        raise ValueError(f"keyframes must start at frame 0, got keyframes[0]={keys[0]}")
    num_subtasks = len(keys) - 1
    values = np.arange(num_subtasks + 1, dtype=np.float64) / num_subtasks
    progress = np.interp(np.arange(num_frames, dtype=np.float64), keys, values)
    return progress.astype(np.float32)


def piecewise_linear_progress(
    milestones: Sequence[tuple[int, float]], num_frames: int
) -> np.ndarray:
    """Progress interpolated linearly between ``(frame, value)`` milestones.

    Constant before the first and after the last milestone, so a single milestone gives a flat
    line. Values may go down and up again (a perturbation knocks the block away; the expert
    recovers). Frames must be strictly increasing; values finite and in [0, 1].
    Returns float32 of shape ``(num_frames,)``.
    """
    num_frames = _check_num_frames(num_frames)
    pairs = list(milestones)
    if not pairs:
        raise ValueError("milestones must contain at least one (frame, value) pair")
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"milestones[{i}] must be a (frame, value) pair, got {pair!r}")
    frames = _check_frame_indices("milestone frames", [p[0] for p in pairs], num_frames)
    values: list[float] = []
    for i, (_, v) in enumerate(pairs):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"milestones[{i}] value must be a number, got {v!r}")
        if not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise ValueError(f"milestones[{i}] value must be finite and in [0, 1], got {v}")
        values.append(float(v))
    progress = np.interp(np.arange(num_frames, dtype=np.float64), frames, values)
    return progress.astype(np.float32)
