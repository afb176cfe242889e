"""rosbag2 demos: scripted-expert trajectories written to bags and read back without ROS.

Bags are written with ``write_bag_demo`` (the round trips) and, where a test needs what that
writer never produces (per-camera clocks, other encodings, a text topic), directly with
``rosbags`` so the reader is checked against an independent writer.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from robo_reward.cli import main
from robo_reward.data import DataFormatError, Trajectory
from robo_reward.data.rosbag import (
    AlignmentReport,
    parse_view_topics,
    read_bag_demo,
    write_bag_demo,
)
from robo_reward.sim.demos import rollout
from robo_reward.sim.env_config import EnvConfig

STORE = get_typestore(Stores.ROS2_HUMBLE)
PERIOD_NS = 50_000_000
START_NS = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def push_demo() -> Trajectory:
    """A real scripted-expert push episode (3 views, 36 frames at 32x32)."""
    demo = rollout("push", 0, env_config=EnvConfig(image_size=32))
    assert demo.success and demo.num_frames > 10
    return demo


def views_of(traj: Trajectory, compressed: bool) -> dict[str, str]:
    suffix = "/compressed" if compressed else ""
    return {view: f"/{view}/image_raw{suffix}" for view in traj.views}


# --------------------------------------------------------------------------- a second writer


def _header(stamp: int, frame_id: str = "cam") -> object:
    types = STORE.types
    time = types["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9)
    return types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


def raw_message(image: np.ndarray, stamp: int, encoding: str = "rgb8", pad: int = 0) -> bytes:
    """A ``sensor_msgs/msg/Image`` holding ``image`` (already in ``encoding``'s channel order)."""
    height, width = image.shape[:2]
    rows = image.reshape(height, -1)
    step = rows.shape[1] + pad
    data = np.zeros((height, step), dtype=np.uint8)
    data[:, : rows.shape[1]] = rows
    msg = STORE.types["sensor_msgs/msg/Image"](
        header=_header(stamp),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=step,
        data=data.reshape(-1),
    )
    return STORE.serialize_cdr(msg, "sensor_msgs/msg/Image")


def jpeg_message(rgb: np.ndarray, stamp: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    msg = STORE.types["sensor_msgs/msg/CompressedImage"](
        header=_header(stamp), format="jpeg", data=buffer.reshape(-1)
    )
    return STORE.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage")


def write_topics(
    path: Path,
    topics: Mapping[str, tuple[str, Sequence[tuple[int, bytes]]]],
    storage: str = "mcap",
) -> Path:
    """A bag with ``{topic: (msgtype, [(stamp, serialized), ...])}``, receive time = stamp."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        conns = {t: writer.add_connection(t, mt, typestore=STORE) for t, (mt, _) in topics.items()}
        records = [(s, t, d) for t, (_, msgs) in topics.items() for s, d in msgs]
        for stamp, topic, data in sorted(records, key=lambda r: (r[0], r[1])):
            writer.write(conns[topic], stamp, data)
    return path


def images(n: int, size: tuple[int, int] = (16, 20), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *size, 3), dtype=np.uint8)


def smooth_images(n: int, size: tuple[int, int] = (16, 24), seed: int = 0) -> np.ndarray:
    """A distinct flat colour per frame plus a ramp: what JPEG keeps (noise it does not)."""
    colours = np.random.default_rng(seed).integers(30, 200, (n, 1, 1, 3))
    ramp = np.linspace(0, 50, size[1])[None, None, :, None]
    return np.broadcast_to(colours + ramp, (n, *size, 3)).astype(np.uint8)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("compressed", [False, "png", "jpeg"])
def test_round_trip_of_a_scripted_demo(
    push_demo: Trajectory, tmp_path: Path, storage: str, compressed: bool | str
) -> None:
    bag = write_bag_demo(push_demo, tmp_path / "demo", storage=storage, compressed=compressed)
    assert (bag / "metadata.yaml").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no temp folder left behind
    demo, report = read_bag_demo(bag, views_of(push_demo, bool(compressed)), task="push")

    assert isinstance(report, AlignmentReport) and report.storage == storage
    assert demo.num_frames == push_demo.num_frames == report.aligned_steps
    np.testing.assert_array_equal(demo.timestamps_ns, push_demo.timestamps_ns)
    assert report.dropped_steps == 0 and report.max_offset_ms == 0.0
    assert report.messages == dict.fromkeys(push_demo.views, push_demo.num_frames)
    assert report.duration_s == pytest.approx(
        (push_demo.timestamps_ns[-1] - push_demo.timestamps_ns[0]) / 1e9
    )
    for view in push_demo.views:
        got, want = demo.frames[view], push_demo.frames[view]
        assert got.shape == want.shape and got.dtype == np.uint8
        if compressed == "jpeg":
            assert np.abs(got.astype(int) - want).mean() < 8
        else:
            np.testing.assert_array_equal(got, want)
    assert demo.task == "push" and demo.success and demo.variant == "recorded"
    assert demo.keyframes is None and demo.actions.shape == (demo.num_steps, 0)
    assert demo.view_valid == {}
    summary = report.summary()
    assert storage in summary and "dropped steps: 0" in summary and "/front/image_raw" in summary


def test_written_bag_refuses_to_clobber_and_can_overwrite(
    push_demo: Trajectory, tmp_path: Path
) -> None:
    bag = write_bag_demo(push_demo, tmp_path / "demo")
    with pytest.raises(FileExistsError, match="exists"):
        write_bag_demo(push_demo, bag)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(FileExistsError, match="not a rosbag2 folder"):
        write_bag_demo(push_demo, plain, overwrite=True)
    write_bag_demo(push_demo, bag, storage="sqlite3", overwrite=True)
    assert sorted(p.suffix for p in bag.iterdir()) == [".db3", ".yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "plain"]


def test_per_view_compression_and_topics(push_demo: Trajectory, tmp_path: Path) -> None:
    topics = {"front": "/cam/front/image_raw/compressed", "side": "/cam/side/image_raw"}
    bag = write_bag_demo(push_demo, tmp_path / "b", topics, compressed={"front": True})
    demo, report = read_bag_demo(bag, topics)
    assert demo.views == ("front", "side")
    assert report.encodings == {"front": ["jpeg"], "side": ["rgb8"]}
    np.testing.assert_array_equal(demo.frames["side"], push_demo.frames["side"])


# --------------------------------------------------------------------------- alignment


def test_views_with_a_few_ms_of_jitter_align(tmp_path: Path) -> None:
    n = 30
    rng = np.random.default_rng(1)
    stamps = START_NS + np.arange(n, dtype=np.int64) * PERIOD_NS
    jitter = rng.integers(-4_000_000, 4_000_001, n)
    front, side = images(n, seed=1), smooth_images(n, seed=2)
    bag = write_topics(
        tmp_path / "jitter",
        {
            "/front": (
                "sensor_msgs/msg/Image",
                [(int(s), raw_message(f, int(s))) for s, f in zip(stamps, front, strict=True)],
            ),
            "/side": (
                "sensor_msgs/msg/CompressedImage",
                [
                    (int(s + j), jpeg_message(f, int(s + j)))
                    for s, j, f in zip(stamps, jitter, side, strict=True)
                ],
            ),
        },
    )
    demo, report = read_bag_demo(bag, {"front": "/front", "side": "/side"})
    assert report.aligned_steps == n and report.dropped_steps == 0
    assert report.tolerance_ns == PERIOD_NS // 2
    assert report.max_offset_ms == pytest.approx(np.abs(jitter).max() / 1e6)
    np.testing.assert_array_equal(demo.timestamps_ns, stamps)  # the reference's stamps
    np.testing.assert_array_equal(demo.frames["front"], front)
    assert np.abs(demo.frames["side"].astype(int) - side).mean() < 8  # jpeg: close

    # A tolerance below the jitter drops the steps whose offset exceeds it.
    demo, report = read_bag_demo(bag, {"front": "/front", "side": "/side"}, tolerance_ns=2_000_000)
    assert report.dropped_steps > 0
    assert report.dropped_steps + report.trimmed_start + report.trimmed_end == int(
        (np.abs(jitter) > 2_000_000).sum()
    )


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_one_dropped_frame_is_tolerated_and_reported(
    push_demo: Trajectory, tmp_path: Path, storage: str
) -> None:
    valid = np.ones(push_demo.num_frames, dtype=bool)
    valid[5] = False  # the side camera lost frame 5: write_bag_demo does not write it
    lossy = dataclasses.replace(push_demo, view_valid={"side": valid})
    bag = write_bag_demo(lossy, tmp_path / "lossy", storage=storage)
    views = views_of(push_demo, False)

    demo, report = read_bag_demo(bag, views)
    assert report.messages["side"] == push_demo.num_frames - 1
    assert report.dropped_steps == 1 and report.missing == {"front": 0, "side": 1, "wrist": 0}
    assert demo.num_frames == push_demo.num_frames
    np.testing.assert_array_equal(demo.valid_mask("side"), valid)
    assert demo.valid_mask("front").all() and set(demo.view_valid) == {"side"}
    assert not demo.frames["side"][5].any()  # masked, black, never a neighbour's frame
    assert "dropped steps: 1 (masked)" in report.summary()

    dropped, report = read_bag_demo(bag, views, missing="drop")
    assert dropped.num_frames == push_demo.num_frames - 1 and report.dropped_steps == 1
    assert 5 * PERIOD_NS not in set((dropped.timestamps_ns - push_demo.timestamps_ns[0]).tolist())
    assert dropped.view_valid == {}


def test_cameras_starting_late_are_trimmed_and_offset_clocks_refused(tmp_path: Path) -> None:
    n = 20
    stamps = [START_NS + k * PERIOD_NS for k in range(n)]
    front = [(s, raw_message(f, s)) for s, f in zip(stamps, images(n), strict=True)]
    late = [(s, raw_message(f, s)) for s, f in zip(stamps[3:], images(n - 3), strict=True)]
    bag = write_topics(
        tmp_path / "late",
        {"/front": ("sensor_msgs/msg/Image", front), "/side": ("sensor_msgs/msg/Image", late)},
    )
    demo, report = read_bag_demo(bag, {"front": "/front", "side": "/side"})
    assert report.trimmed_start == 3 and report.dropped_steps == 0
    assert demo.num_frames == n - 3 and demo.timestamps_ns[0] == stamps[3]

    shifted = [
        (s + 10**10, raw_message(f, s + 10**10)) for s, f in zip(stamps, images(n), strict=True)
    ]
    bag = write_topics(
        tmp_path / "offset",
        {"/front": ("sensor_msgs/msg/Image", front), "/side": ("sensor_msgs/msg/Image", shifted)},
    )
    with pytest.raises(DataFormatError, match="0 aligned steps"):
        read_bag_demo(bag, {"front": "/front", "side": "/side"})


# --------------------------------------------------------------------------- encodings, sizes


def test_raw_encodings_become_rgb(tmp_path: Path) -> None:
    rgb = images(3, (6, 7), seed=3)
    gray = rgb[..., 0]
    alpha = np.full((*rgb.shape[:3], 1), 255, dtype=np.uint8)
    encoded = {
        "rgb8": rgb,
        "bgr8": rgb[..., ::-1],
        "mono8": gray[..., None],
        "rgba8": np.concatenate([rgb, alpha], axis=3),
        "bgra8": np.concatenate([rgb[..., ::-1], alpha], axis=3),
    }
    topics = {
        f"/{enc}": (
            "sensor_msgs/msg/Image",
            [
                (START_NS + k * PERIOD_NS, raw_message(img, START_NS + k * PERIOD_NS, enc, pad=3))
                for k, img in enumerate(data)
            ],
        )
        for enc, data in encoded.items()
    }
    bag = write_topics(tmp_path / "enc", topics, storage="sqlite3")
    demo, report = read_bag_demo(bag, {enc: f"/{enc}" for enc in encoded})
    for enc in ("rgb8", "bgr8", "rgba8", "bgra8"):
        np.testing.assert_array_equal(demo.frames[enc], rgb, err_msg=enc)
    np.testing.assert_array_equal(demo.frames["mono8"], np.repeat(gray[..., None], 3, axis=3))
    assert report.encodings["bgra8"] == ["bgra8"]


def test_unsupported_encoding_is_named(tmp_path: Path) -> None:
    msg = STORE.types["sensor_msgs/msg/Image"](
        header=_header(START_NS),
        height=2,
        width=2,
        encoding="mono16",
        is_bigendian=0,
        step=4,
        data=np.zeros(8, dtype=np.uint8),
    )
    data = bytes(STORE.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    bag = write_topics(tmp_path / "m16", {"/depth": ("sensor_msgs/msg/Image", [(START_NS, data)])})
    with pytest.raises(DataFormatError, match="unsupported raw image encoding 'mono16'"):
        read_bag_demo(bag, {"front": "/depth"})

    png = STORE.types["sensor_msgs/msg/CompressedImage"](
        header=_header(START_NS),
        format="16UC1; compressedDepth png",
        data=np.zeros(8, dtype=np.uint8),
    )
    data = bytes(STORE.serialize_cdr(png, "sensor_msgs/msg/CompressedImage"))
    bag = write_topics(
        tmp_path / "cd", {"/d": ("sensor_msgs/msg/CompressedImage", [(START_NS, data)])}
    )
    with pytest.raises(DataFormatError, match="depth image"):
        read_bag_demo(bag, {"front": "/d"})


def test_sizes_per_view_and_resizing(tmp_path: Path) -> None:
    n = 4
    stamps = [START_NS + k * PERIOD_NS for k in range(n)]
    small = [(s, raw_message(f, s)) for s, f in zip(stamps, images(n, (12, 16)), strict=True)]
    large = [(s, raw_message(f, s)) for s, f in zip(stamps, images(n, (24, 40)), strict=True)]
    bag = write_topics(
        tmp_path / "sizes",
        {"/a": ("sensor_msgs/msg/Image", small), "/b": ("sensor_msgs/msg/Image", large)},
    )
    demo, _ = read_bag_demo(bag, {"front": "/a", "side": "/b"})
    assert demo.frames["front"].shape[1:3] == (12, 16) and demo.frames["side"].shape[1:3] == (
        24,
        40,
    )
    demo, report = read_bag_demo(bag, {"front": "/a", "side": "/b"}, image_size=32)
    assert demo.frames["front"].shape[1:] == demo.frames["side"].shape[1:] == (32, 32, 3)
    assert "24x40 -> 32x32" in report.summary()

    mixed = small[:2] + large[2:]
    bag = write_topics(tmp_path / "mixed", {"/a": ("sensor_msgs/msg/Image", mixed)})
    with pytest.raises(DataFormatError, match="several sizes.*image_size"):
        read_bag_demo(bag, {"front": "/a"})
    assert read_bag_demo(bag, {"front": "/a"}, image_size=(8, 8))[0].frames["front"].shape == (
        4,
        8,
        8,
        3,
    )


# --------------------------------------------------------------------------- bad input


def test_missing_topic_lists_the_bags_topics(push_demo: Trajectory, tmp_path: Path) -> None:
    bag = write_bag_demo(push_demo, tmp_path / "demo")
    with pytest.raises(
        DataFormatError, match=r"/cam/top \(view .top.\) is not in the bag.*/front/image_raw"
    ):
        read_bag_demo(bag, {"front": "/front/image_raw", "top": "/cam/top"})


def test_wrong_message_type_is_named(tmp_path: Path) -> None:
    text = STORE.types["std_msgs/msg/String"](data="hello")
    data = bytes(STORE.serialize_cdr(text, "std_msgs/msg/String"))
    bag = write_topics(tmp_path / "str", {"/chatter": ("std_msgs/msg/String", [(START_NS, data)])})
    with pytest.raises(
        DataFormatError, match=r"std_msgs/msg/String.*sensor_msgs/msg/Image, sensor_msgs/msg/Comp"
    ):
        read_bag_demo(bag, {"front": "/chatter"})


def test_not_a_bag(push_demo: Trajectory, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such rosbag2 folder"):
        read_bag_demo(tmp_path / "nowhere", {"front": "/front/image_raw"})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="not a rosbag2 recording.*metadata.yaml"):
        read_bag_demo(empty, {"front": "/front/image_raw"})
    bag = write_bag_demo(push_demo, tmp_path / "demo")
    (bag / "metadata.yaml").unlink()
    with pytest.raises(DataFormatError, match=r"demo.mcap.*but no metadata.yaml.*reindex"):
        read_bag_demo(bag, {"front": "/front/image_raw"})
    with pytest.raises(DataFormatError, match="single rosbag2 storage file"):
        read_bag_demo(bag / "demo.mcap", {"front": "/front/image_raw"})


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("fraction", [0.3, 0.8])
def test_truncated_bag_is_a_data_format_error(
    push_demo: Trajectory, tmp_path: Path, storage: str, fraction: float
) -> None:
    bag = write_bag_demo(push_demo, tmp_path / "demo", storage=storage, compressed=True)
    (data_file,) = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    data = data_file.read_bytes()
    data_file.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(DataFormatError, match=r"demo.*truncated or corrupt"):
        read_bag_demo(bag, views_of(push_demo, True))


def test_rows_missing_from_a_db3_are_detected(push_demo: Trajectory, tmp_path: Path) -> None:
    import sqlite3

    bag = write_bag_demo(push_demo, tmp_path / "demo", storage="sqlite3")
    with sqlite3.connect(bag / "demo.db3") as db:
        db.execute("DELETE FROM messages WHERE id > 20")
    with pytest.raises(DataFormatError, match="demo.db3 has changed since it was recorded"):
        read_bag_demo(bag, views_of(push_demo, False))
    # A bag recorded by other tools has no checksums: the message counts still tell.
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    meta["rosbag2_bagfile_information"]["custom_data"] = None
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(DataFormatError, match="lists 36 messages on /front/image_raw but 7 were"):
        read_bag_demo(bag, views_of(push_demo, False))


def test_unstamped_images_need_receive_time(tmp_path: Path) -> None:
    n = 5
    receive = [START_NS + k * PERIOD_NS for k in range(n)]
    msgs = [(r, raw_message(f, 0)) for r, f in zip(receive, images(n), strict=True)]
    bag = write_topics(tmp_path / "unstamped", {"/a": ("sensor_msgs/msg/Image", msgs)})
    with pytest.raises(DataFormatError, match="every header.stamp on /a is 0.*--receive-time"):
        read_bag_demo(bag, {"front": "/a"})
    demo, report = read_bag_demo(bag, {"front": "/a"}, stamps="receive")
    np.testing.assert_array_equal(demo.timestamps_ns, receive)
    assert "receive stamps" in report.summary()


def test_bad_arguments(push_demo: Trajectory, tmp_path: Path) -> None:
    bag = write_bag_demo(push_demo, tmp_path / "demo")
    with pytest.raises(ValueError, match="absolute ROS topic"):
        read_bag_demo(bag, {"front": "front/image_raw"})
    with pytest.raises(ValueError, match="both use topic"):
        read_bag_demo(bag, {"front": "/front/image_raw", "side": "/front/image_raw"})
    with pytest.raises(ValueError, match="image_size"):
        read_bag_demo(bag, {"front": "/front/image_raw"}, image_size=(0, 4))
    with pytest.raises(ValueError, match="reference view"):
        read_bag_demo(bag, {"front": "/front/image_raw"}, reference="side")
    with pytest.raises(ValueError, match="negative"):
        shifted = push_demo.timestamps_ns - 10**9
        write_bag_demo(dataclasses.replace(push_demo, timestamps_ns=shifted), tmp_path / "neg")
    assert not (tmp_path / "neg").exists()


def test_parse_view_topics() -> None:
    assert parse_view_topics("front=/cam/front/image_raw/compressed, side=/cam/side/image_raw") == {
        "front": "/cam/front/image_raw/compressed",
        "side": "/cam/side/image_raw",
    }
    for bad, message in [
        ("", "empty"),
        ("front", "must be NAME=TOPIC"),
        ("front=", "must be NAME=TOPIC"),
        ("=/a", "must be NAME=TOPIC"),
        ("front=/a,,side=/b", "empty item"),
        ("front=/a,front=/b", "twice"),
        ("front=/a,side=/a", "both use topic"),
        ("front=cam/a", "absolute ROS topic"),
        ("fr ont=/a", "view name"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_view_topics(bad)


# --------------------------------------------------------------------------- the CLI


def test_cli_adapts_on_a_bag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], one_torch_thread: None
) -> None:
    demo = rollout("push", 0, env_config=EnvConfig(image_size=96))
    topics = {"front": "/cam/front/image_raw/compressed", "side": "/cam/side/image_raw"}
    bag = write_bag_demo(demo, tmp_path / "demo_bag", topics, compressed={"front": True})
    out = tmp_path / "adapted"
    quick = ["train.steps=2", "train.batch_size=4", "train.warmup_steps=0"]
    quick += ["train.checkpoint_every=2", "train.log_every=1"]
    views = ",".join(f"{v}={t}" for v, t in topics.items())
    args = ["adapt", "--demo", str(bag), "--views", views, "--out", str(out), "--task", "push"]
    assert main([*args, *[a for q in quick for a in ("--set", q)]]) == 0
    printed = capsys.readouterr().out
    assert "rosbag2" in printed and "dropped steps: 0" in printed
    assert f"{demo.num_frames} time steps" in printed
    assert "uniform (no keyframes)" in printed
    assert (out / "grm.safetensors").is_file()

    # Bag-only flags on an npz, and a bag without --views or with bad ones: exit 2, no output.
    npz = demo.save(tmp_path / "demo.npz")
    cases = [
        (["--demo", str(npz), "--views", views], "--views applies to rosbag2 demos only"),
        (["--demo", str(bag)], "say which image topic is which camera with --views"),
        (["--demo", str(bag), "--views", "front:/cam"], "must be NAME=TOPIC"),
        (["--demo", str(bag), "--views", "top=/cam/side/image_raw"], "the model does not know"),
        (["--demo", str(bag), "--views", "front=/nope"], "/nope .*is not in the bag"),
        (["--demo", str(bag), "--views", views, "--tolerance-ms", "-1"], "positive"),
        (["--demo", str(tmp_path / "empty_bag"), "--views", views], "no metadata.yaml"),
    ]
    (tmp_path / "empty_bag").mkdir()
    (tmp_path / "empty_bag" / "x_0.mcap").write_bytes(b"")
    for extra, message in cases:
        target = tmp_path / "refused"
        assert main(["adapt", *extra, "--out", str(target)]) == 2, extra
        err = capsys.readouterr().err
        assert re.search(message, err) and not target.exists(), (extra, err)
