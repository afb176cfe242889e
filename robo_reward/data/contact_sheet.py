"""Pictures of a demonstration: a contact sheet (frame strips over a progress curve) and a video.

A contact sheet is how people check generated demos at a glance: does the expert reach, grasp,
lift where the keyframes say, and does progress rise (or dip, for perturbed episodes) where the
images say it should.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from robo_reward.data.atomic import atomic_path, atomic_write_bytes
from robo_reward.data.trajectory import Trajectory

__all__ = ["contact_sheet", "sample_frame_indices", "write_video"]

CELL_IN = 1.3  # width of one frame cell, inches
GAP_IN = 0.08  # horizontal gap between cells
LEFT_IN, RIGHT_IN = 0.7, 0.25
TITLE_LINE_IN = 0.22  # per line of the title
LABEL_IN = 0.32  # space above each image for "t=…" and the subtask label
PLOT_GAP_IN, PLOT_IN, AXIS_IN = 0.35, 1.6, 0.5
DPI = 100


def sample_frame_indices(
    num_frames: int, columns: int, keyframes: tuple[int, ...] | None = None
) -> list[int]:
    """``columns`` frame indices spread evenly over the episode, always including keyframes.

    Keyframes replace the evenly spaced samples closest to them, so spacing stays as even as
    possible; with more keyframes than columns, all keyframes are returned.
    """
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    n = min(columns, num_frames)
    keys = sorted(set(keyframes or ()))
    if len(keys) >= n:
        return keys
    even = np.round(np.linspace(0, num_frames - 1, n)).astype(int).tolist()
    candidates = [c for c in even if c not in keys]
    while len(keys) + len(candidates) > n:
        distance = [min(abs(c - k) for k in keys) for c in candidates]
        candidates.pop(int(np.argmin(distance)))
    return sorted(set(keys) | set(candidates))


def _colour(i: int) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    return colormaps["tab10"](i % 10)


def _keyframe_labels(traj: Trajectory) -> dict[int, tuple[str, int]]:
    """Frame -> (label, colour index): the subtask a keyframe starts, ``end`` for the last."""
    if traj.keyframes is None:
        return {}
    subtasks = traj.subtasks()
    out = {start: (label, i) for i, (label, start, _) in enumerate(subtasks)}
    out[traj.keyframes[-1]] = ("end", len(subtasks))
    return out


def _progress_curve(traj: Trajectory) -> tuple[np.ndarray, str] | None:
    if traj.progress is not None:
        return traj.progress, "progress"
    if traj.keyframes is not None:
        return traj.keyframe_progress(), "keyframe progress"
    return None


def _draw_cell(
    ax: Axes, image: np.ndarray, frame: int, valid: bool, key: tuple[str, int] | None
) -> None:
    ax.imshow(image if valid else image // 3, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"t={frame}", fontsize=7, loc="left", pad=2)
    if not valid:
        ax.text(
            0.5,
            0.5,
            "missing",
            color="red",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=8,
            weight="bold",
        )
    if key is None:
        for spine in ax.spines.values():
            spine.set_visible(False)
        return
    label, colour_index = key
    for spine in ax.spines.values():
        spine.set_edgecolor(_colour(colour_index))
        spine.set_linewidth(3.5)
    ax.text(
        1.0,
        1.02,
        label,
        color=_colour(colour_index),
        ha="right",
        va="bottom",
        transform=ax.transAxes,
        fontsize=7,
        weight="bold",
        clip_on=False,
    )


def _draw_progress(
    ax: Axes, traj: Trajectory, curve: np.ndarray, name: str, sampled: list[int]
) -> None:
    x = np.arange(traj.num_frames)
    ax.plot(x, curve, color="black", linewidth=1.5, label=name)
    ax.plot(sampled, curve[sampled], "o", color="black", markersize=3)
    if traj.keyframes is not None:
        for i, (label, start, end) in enumerate(traj.subtasks()):
            ax.axvspan(start, end, color=_colour(i), alpha=0.08)
            ax.text(
                (start + end) / 2,
                1.04,
                label,
                ha="center",
                va="bottom",
                fontsize=7,
                color=_colour(i),
            )
        for i, k in enumerate(traj.keyframes):
            ax.axvline(k, color=_colour(i), linestyle="--", linewidth=1)
    ax.set_xlim(0, traj.num_frames - 1)
    ax.set_ylim(-0.03, 1.15)
    ax.set_xlabel("frame", fontsize=8)
    ax.set_ylabel(name, fontsize=8)
    ax.tick_params(labelsize=7)


def contact_sheet(
    traj: Trajectory,
    out_png: str | os.PathLike[str],
    views: list[str] | tuple[str, ...] | None = None,
    columns: int = 10,
    title: str | None = None,
) -> Path:
    """Write a PNG: one frame strip per view over a progress plot; returns the path.

    Frames are sampled evenly and always include every keyframe, which gets a border in its
    subtask's colour and the subtask's label. The plot shows ``traj.progress`` (else keyframe
    progress; omitted if neither exists) with dashed keyframe lines in the same colours.
    """
    views = tuple(traj.views if views is None else views)
    if not views:
        raise ValueError("views must name at least one camera view")
    unknown = [v for v in views if v not in traj.frames]
    if unknown:
        raise ValueError(f"unknown views {unknown}; this trajectory has {list(traj.views)}")
    sampled = sample_frame_indices(traj.num_frames, columns, traj.keyframes)
    keys = _keyframe_labels(traj)
    curve = _progress_curve(traj)

    if title is None:
        title = f"{traj.task} | {traj.variant} | success={traj.success}"
        if traj.task_text:
            title += f"\n{traj.task_text}"
    title_in = 0.2 + TITLE_LINE_IN * (title.count("\n") + 1)
    row_heights = [
        LABEL_IN + CELL_IN * traj.frames[v].shape[1] / traj.frames[v].shape[2] for v in views
    ]
    plot_h = PLOT_GAP_IN + PLOT_IN + AXIS_IN if curve is not None else 0.15
    width = max(LEFT_IN + RIGHT_IN + len(sampled) * (CELL_IN + GAP_IN) - GAP_IN, 4.0)
    height = title_in + sum(row_heights) + plot_h
    fig = Figure(figsize=(width, height), dpi=DPI)

    top = height - title_in
    for view, row_h in zip(views, row_heights, strict=True):
        top -= row_h
        valid = traj.valid_mask(view)
        for c, frame in enumerate(sampled):
            left = LEFT_IN + c * (CELL_IN + GAP_IN)
            ax = fig.add_axes(
                (left / width, top / height, CELL_IN / width, (row_h - LABEL_IN) / height)
            )
            _draw_cell(ax, traj.frames[view][frame], frame, bool(valid[frame]), keys.get(frame))
            if c == 0:
                ax.set_ylabel(view, fontsize=9)
    if curve is not None:
        ax = fig.add_axes(
            (
                LEFT_IN / width,
                AXIS_IN / height,
                (width - LEFT_IN - RIGHT_IN) / width,
                PLOT_IN / height,
            )
        )
        _draw_progress(ax, traj, curve[0], curve[1], sampled)

    fig.suptitle(title, fontsize=10, y=1 - 0.1 / height, va="top")

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return atomic_write_bytes(out_png, buffer.getvalue())


def _even_size(frames: np.ndarray) -> np.ndarray:
    """Pad H and W to even sizes: H.264 in yuv420p cannot encode odd dimensions."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if not pad_h and not pad_w:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def write_video(
    traj: Trajectory,
    out_mp4: str | os.PathLike[str],
    view: str | None = None,
    fps: float = 20,
) -> Path:
    """Write one view as an H.264 ``.mp4`` (atomically); needs the ``[video]`` extra."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise ImportError(
            "write_video needs imageio-ffmpeg: pip install robo_reward[video]"
        ) from None
    import imageio.v2 as iio

    view = traj.views[0] if view is None else view
    if view not in traj.frames:
        raise ValueError(f"unknown view {view!r}; this trajectory has {list(traj.views)}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    frames = _even_size(traj.frames[view])
    with atomic_path(out_mp4) as tmp:
        writer = iio.get_writer(
            tmp,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
        )
        with writer:
            for frame in frames:
                writer.append_data(frame)
    return Path(out_mp4)
