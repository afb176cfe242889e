"""Demonstration data: the Trajectory type, progress labels, datasets on disk, pictures.

See ``docs/data_format.md`` for the file formats.
"""

from __future__ import annotations

from robo_reward.data.atomic import (
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from robo_reward.data.contact_sheet import contact_sheet, sample_frame_indices, write_video
from robo_reward.data.dataset import (
    DATASET_SCHEMA,
    DATASET_VERSION,
    DatasetReader,
    DatasetWriter,
    load_trajectories,
)
from robo_reward.data.progress import keyframe_progress, piecewise_linear_progress
from robo_reward.data.trajectory import (
    FORMAT_VERSION,
    TRAJECTORY_SCHEMA,
    VARIANTS,
    DataFormatError,
    Trajectory,
)

__all__ = [
    "DATASET_SCHEMA",
    "DATASET_VERSION",
    "FORMAT_VERSION",
    "TRAJECTORY_SCHEMA",
    "VARIANTS",
    "DataFormatError",
    "DatasetReader",
    "DatasetWriter",
    "Trajectory",
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "contact_sheet",
    "keyframe_progress",
    "load_trajectories",
    "piecewise_linear_progress",
    "sample_frame_indices",
    "write_video",
]
