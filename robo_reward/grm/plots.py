"""Pictures of GRM progress: the anchorings and their fusion over a strip of frames."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robo_reward.data import Trajectory  # noqa: E402
from robo_reward.data.atomic import atomic_path  # noqa: E402
from robo_reward.grm.pairs import progress_labels  # noqa: E402

CURVES = (
    ("incremental", "tab:blue"),
    ("forward", "tab:orange"),
    ("backward", "tab:green"),
    ("fused", "black"),
)


def plot_progress(
    traj: Trajectory,
    curves: dict[str, np.ndarray],
    out_png: str | Path,
    title: str = "",
    view: str | None = None,
    frames: int = 8,
) -> Path:
    """A frame strip of one view above the progress curves (and the true progress, dashed)."""
    view = view or traj.views[0]
    picks = np.linspace(0, traj.num_frames - 1, frames).round().astype(int)
    figure = plt.figure(figsize=(frames * 1.3, 4.6))
    grid = figure.add_gridspec(2, frames, height_ratios=[1, 1.6], hspace=0.25)
    for column, index in enumerate(picks):
        axis = figure.add_subplot(grid[0, column])
        axis.imshow(traj.frames[view][index])
        axis.set_title(f"t={index}", fontsize=7)
        axis.axis("off")
    axis = figure.add_subplot(grid[1, :])
    time = np.arange(traj.num_frames)
    for name, colour in CURVES:
        axis.plot(time, curves[name], color=colour, lw=2.2 if name == "fused" else 1.2, label=name)
    truth, source = progress_labels(traj)
    if truth is not None:
        axis.plot(time, truth, "--", color="grey", lw=1.2, label=f"true ({source})")
    axis.set_ylim(-0.03, 1.05)
    axis.set_xlabel("frame")
    axis.set_ylabel("progress")
    axis.legend(fontsize=7, ncol=5, loc="upper left")
    figure.suptitle(title or traj.task, fontsize=10)
    out = Path(out_png)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=80, format="png", bbox_inches="tight")
    plt.close(figure)
    return out
