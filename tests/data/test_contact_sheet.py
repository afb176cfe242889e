"""Contact sheets and videos of demonstrations."""

from __future__ import annotations

import sys

import imageio.v2 as iio
import numpy as np
import pytest

from robo_reward.data import contact_sheet, sample_frame_indices, write_video

TAB_ORANGE = np.array([255, 127, 14])  # colour of the second subtask (matplotlib tab10)


def _png(path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return iio.imread(path)


def _views(n: int) -> dict[str, tuple[int, int]]:
    return {name: (16, 16) for name in ("front", "side", "wrist")[:n]}


def test_writes_a_png_of_plausible_size(make_traj, tmp_path):
    traj = make_traj(num_steps=30, views=_views(2), full=True)
    out = contact_sheet(traj, tmp_path / "sheet.png")
    assert out == tmp_path / "sheet.png"
    image = _png(out)
    assert 300 < image.shape[0] < 1500 and 800 < image.shape[1] < 2500
    assert out.stat().st_size > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]  # no temp files


def test_one_row_per_view(make_traj, tmp_path):
    heights = []
    for n in (1, 2, 3):
        traj = make_traj(num_steps=20, views=_views(n), keyframes=(0, 10, 20))
        heights.append(_png(contact_sheet(traj, tmp_path / f"{n}.png")).shape[0])
    row = heights[1] - heights[0]
    assert row > 100  # a 16x16 frame drawn 1.3 inches wide at 100 dpi, plus its label
    assert abs((heights[2] - heights[1]) - row) <= 2


def test_only_requested_views_are_drawn(make_traj, tmp_path):
    traj = make_traj(num_steps=10, views=_views(3))
    one = _png(contact_sheet(traj, tmp_path / "a.png", views=["side"])).shape[0]
    three = _png(contact_sheet(traj, tmp_path / "b.png")).shape[0]
    assert one < three
    with pytest.raises(ValueError, match=r"unknown views \['top'\]"):
        contact_sheet(traj, tmp_path / "c.png", views=["top"])


def test_width_follows_columns(make_traj, tmp_path):
    traj = make_traj(num_steps=30)
    narrow = _png(contact_sheet(traj, tmp_path / "a.png", columns=6)).shape[1]
    wide = _png(contact_sheet(traj, tmp_path / "b.png", columns=12)).shape[1]
    assert wide - narrow == pytest.approx(6 * (1.3 + 0.08) * 100, abs=3)


def test_progress_plot_is_omitted_without_progress(make_traj, tmp_path):
    plain = make_traj(num_steps=12)
    annotated = make_traj(num_steps=12, keyframes=(0, 6, 12))
    without = _png(contact_sheet(plain, tmp_path / "a.png")).shape[0]
    with_plot = _png(contact_sheet(annotated, tmp_path / "b.png")).shape[0]
    assert with_plot - without > 150


def test_keyframes_are_marked_in_colour(make_traj, tmp_path):
    black = {"front": np.zeros((13, 16, 16, 3), np.uint8)}
    plain = make_traj(num_steps=12, frames=black, progress=np.zeros(13, np.float32))
    marked = make_traj(
        num_steps=12,
        frames=black,
        progress=np.zeros(13, np.float32),
        keyframes=(0, 5, 12),
        subtask_labels=("reach", "push"),
    )

    def orange_pixels(traj, name):
        image = _png(contact_sheet(traj, tmp_path / name))[..., :3].astype(int)
        return int((np.abs(image - TAB_ORANGE).sum(axis=-1) < 30).sum())

    assert orange_pixels(plain, "plain.png") == 0
    assert orange_pixels(marked, "marked.png") > 400  # a 3.5 px border around a 130 px frame


def test_missing_frames_and_custom_title(make_traj, tmp_path):
    traj = make_traj(num_steps=9, full=True)  # frame 2 of "front" is marked missing
    out = contact_sheet(traj, tmp_path / "sheet.png", columns=10, title="custom")
    assert _png(out).shape[0] > 0


def test_sampling_includes_every_keyframe():
    keys = (0, 7, 13, 40)
    frames = sample_frame_indices(41, 10, keys)
    assert len(frames) == 10 and set(keys) <= set(frames)
    assert frames == sorted(set(frames))
    assert max(np.diff(frames)) <= 8  # still spread over the whole episode


def test_sampling_edge_cases():
    assert sample_frame_indices(41, 5) == [0, 10, 20, 30, 40]
    assert sample_frame_indices(4, 10) == [0, 1, 2, 3]
    assert sample_frame_indices(30, 3, (0, 5, 10, 20, 29)) == [0, 5, 10, 20, 29]
    with pytest.raises(ValueError, match="columns must be >= 1"):
        sample_frame_indices(10, 0)


def test_write_video_round_trip(make_traj, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    traj = make_traj(num_steps=9, views={"front": (16, 16), "wrist": (15, 9)})
    out = write_video(traj, tmp_path / "demo.mp4", view="wrist", fps=10)
    frames = iio.mimread(out)
    assert len(frames) == 10 and frames[0].shape == (16, 10, 3)  # padded to even size
    assert [p.name for p in tmp_path.iterdir()] == ["demo.mp4"]
    with pytest.raises(ValueError, match="unknown view"):
        write_video(traj, tmp_path / "x.mp4", view="top")


def test_write_video_without_ffmpeg_says_what_to_install(make_traj, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(ImportError, match=r"pip install robo_reward\[video\]"):
        write_video(make_traj(), tmp_path / "demo.mp4")
    assert list(tmp_path.iterdir()) == []
