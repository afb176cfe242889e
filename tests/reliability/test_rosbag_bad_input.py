"""Damaged rosbag2 demos (issue #9): ``read_bag_demo`` and ``robo-reward adapt --demo <bag>``
refuse each one with a :class:`DataFormatError` naming the bag and the problem, the CLI exits
with status 2 and writes no checkpoint, and the bag is left byte for byte as it was.

Valid bags come from the project's writers (``write_bag_demo``; ``BagWriter`` for the empty and
the text-topic bags), in MCAP and sqlite3; each case damages a copy. Bags written by robo_reward
carry the SHA-256 of their storage files in ``metadata.yaml`` (``custom_data``); "unsealed"
cases remove it, so the reader is also checked on what a bag recorded by other tools offers
(the storage's own structure, the message counts, the sqlite3 header's page count).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from robo_reward.cli import main
from robo_reward.data import DataFormatError, Trajectory
from robo_reward.data.bag_writer import CHECKSUM_KEY, BagWriter
from robo_reward.data.rosbag import read_bag_demo, write_bag_demo

STORAGES = ("mcap", "sqlite3")
VIEWS = {"front": "/cam/front/image_raw", "side": "/cam/side/image_raw"}
"""Views of the shipped GRM, so the CLI gets as far as reading the bag."""
SUFFIX = {"mcap": ".mcap", "sqlite3": ".db3"}


def demo_trajectory(steps: int = 16) -> Trajectory:
    rng = np.random.default_rng(0)
    frames = {v: rng.integers(0, 256, (steps, 24, 32, 3), dtype=np.uint8) for v in VIEWS}
    stamps = 1_700_000_000_000_000_000 + np.arange(steps, dtype=np.int64) * 50_000_000
    return Trajectory(
        frames=frames,
        actions=np.zeros((steps - 1, 0), np.float32),
        states=np.zeros((steps, 0), np.float32),
        timestamps_ns=stamps,
        task="push",
    )


@pytest.fixture(scope="module")
def good_bags(tmp_path_factory) -> dict[str, Path]:
    """One valid bag per storage (raw rgb8 ``front``, JPEG ``side``), each read back fine."""
    root = tmp_path_factory.mktemp("good_bags")
    traj = demo_trajectory()
    bags = {}
    for storage in STORAGES:
        bag = write_bag_demo(
            traj, root / f"demo_{storage}", VIEWS, storage=storage, compressed={"side": True}
        )
        demo, _ = read_bag_demo(bag, VIEWS)
        assert demo.num_frames == traj.num_frames
        bags[storage] = bag
    return bags


# ------------------------------------------------------------------------------ damage
def data_file(bag: Path) -> Path:
    (path,) = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    return path


def unseal(bag: Path) -> None:
    """Drop robo_reward's checksums: the bag as another recorder would have written it."""
    meta_path = bag / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    info = meta["rosbag2_bagfile_information"]
    custom = {k: v for k, v in (info.get("custom_data") or {}).items()}
    assert any(k.startswith(CHECKSUM_KEY) for k in custom), "write_bag_demo seals its bags"
    info["custom_data"] = {k: v for k, v in custom.items() if not k.startswith(CHECKSUM_KEY)}
    meta_path.write_text(yaml.safe_dump(meta))


def cut(at: float | int, sealed: bool = True) -> Callable[[Path], None]:
    """Truncate the storage file at a byte offset (int) or a fraction of its size (float)."""

    def damage(bag: Path) -> None:
        if not sealed:
            unseal(bag)
        path = data_file(bag)
        data = path.read_bytes()
        offset = at if isinstance(at, int) else int(len(data) * at)
        offset = offset if offset >= 0 else len(data) + offset
        path.write_bytes(data[:offset])

    return damage


def flip(at: float, length: int = 16) -> Callable[[Path], None]:
    """Invert ``length`` bytes at a fraction of the storage file (a bad sector, a bad copy)."""

    def damage(bag: Path) -> None:
        path = data_file(bag)
        data = bytearray(path.read_bytes())
        start = int(len(data) * at)
        data[start : start + length] = bytes(b ^ 0xFF for b in data[start : start + length])
        path.write_bytes(bytes(data))

    return damage


def edit_metadata(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(bag: Path) -> None:
        meta = yaml.safe_load((bag / "metadata.yaml").read_text())
        change(meta["rosbag2_bagfile_information"])
        (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))

    return damage


def write_metadata(text: str | None) -> Callable[[Path], None]:
    def damage(bag: Path) -> None:
        if text is None:
            (bag / "metadata.yaml").unlink()
        else:
            (bag / "metadata.yaml").write_text(text)

    return damage


def list_absent_file(info: dict) -> None:
    extra = "demo_1" + Path(info["relative_file_paths"][0]).suffix
    info["relative_file_paths"].append(extra)
    info["files"].append({**info["files"][0], "path": extra})


def other_storage(info: dict) -> None:
    info["storage_identifier"] = "sqlite3" if info["storage_identifier"] == "mcap" else "mcap"


def bad_count(info: dict) -> None:
    info["topics_with_message_count"][0]["message_count"] = "many"


@dataclass(frozen=True)
class Case:
    name: str
    damage: Callable[[Path], None] | None
    """Applied to a copy of a good bag; None: the case builds its own bag (``build``)."""
    match: str
    """Regex the error message must match (after the bag's path)."""
    views: dict[str, str] | None = None
    storages: tuple[str, ...] = STORAGES


CASES = [
    # truncated storage file: robo_reward's checksum catches every cut ...
    *[
        Case(f"cut_{label}", cut(at), r"has changed since it was recorded.*truncated or corrupt")
        for label, at in [("0B", 0), ("8B", 8), ("quarter", 0.25), ("half", 0.5), ("last_byte", -1)]
    ],
    # ... and without it, the storage's own structure does
    *[
        Case(f"cut_{label}_unsealed", cut(at, sealed=False), r"truncated")
        for label, at in [
            ("0B", 0),
            ("8B", 8),
            ("quarter", 0.25),
            ("half", 0.5),
            ("three_quarters", 0.75),
            ("last_200B", -200),
            ("last_byte", -1),
        ]
    ],
    # flipped bytes (a corrupted MCAP chunk, a corrupted sqlite page)
    *[
        Case(f"flip_{int(at * 100)}pct", flip(at), r"has changed since it was recorded")
        for at in (0.1, 0.3, 0.5, 0.7, 0.9)
    ],
    Case(
        "missing_topic",
        None,
        r"topic /cam/wrist/image_raw \(view 'wrist'\) is not in the bag; its topics are: "
        r"/cam/front/image_raw \[sensor_msgs/msg/Image\], "
        r"/cam/side/image_raw \[sensor_msgs/msg/CompressedImage\]",
        views={"front": "/cam/front/image_raw", "wrist": "/cam/wrist/image_raw"},
    ),
    Case(
        "string_topic_as_view",
        None,
        r"topic /cam/front/image_raw \(view 'front'\) has message type std_msgs/msg/String; "
        r"accepted image types: sensor_msgs/msg/Image, sensor_msgs/msg/CompressedImage",
    ),
    Case("empty_bag_no_topics", None, r"the bag is empty: it has no topics"),
    Case(
        "empty_bag_topics_without_messages",
        None,
        r"topic /cam/front/image_raw \(view 'front'\) has no messages",
    ),
    Case(
        "metadata_missing",
        write_metadata(None),
        r"holds \['demo_\w+\.(mcap|db3)'\] but no metadata\.yaml.*ros2 bag reindex",
    ),
    Case(
        "metadata_empty", write_metadata(""), r"metadata\.yaml has no rosbag2_bagfile_information"
    ),
    Case("metadata_binary", write_metadata("\x00\x01garbage\xff"), r"cannot read metadata\.yaml"),
    Case("metadata_bad_yaml", write_metadata("rosbag2_bagfile_information: [a\n"), r"cannot read"),
    Case(
        "metadata_not_a_bag",
        write_metadata("- just\n- a list\n"),
        r"metadata\.yaml has no rosbag2_bagfile_information",
    ),
    Case(
        "metadata_lists_absent_file",
        edit_metadata(list_absent_file),
        r"metadata\.yaml lists storage file demo_1\.(mcap|db3), which is missing; the recording "
        r"is incomplete.*present: \['demo_\w+\.(mcap|db3)'\]",
    ),
    Case(
        "storage_file_deleted",
        lambda bag: data_file(bag).unlink(),
        r"lists storage file demo_\w+\.(mcap|db3), which is missing.*present: none",
    ),
    Case(
        "metadata_lists_no_files",
        edit_metadata(lambda info: info.update(relative_file_paths=[], files=[])),
        r"metadata\.yaml lists no storage files",
    ),
    Case(
        "metadata_names_other_storage",
        edit_metadata(other_storage),
        r"metadata\.yaml says storage '(sqlite3|mcap)' but lists demo_\w+\.(mcap|db3)",
    ),
    Case(
        "metadata_count_not_a_number",
        edit_metadata(bad_count),
        r"malformed topics_with_message_count entry",
    ),
    Case(
        "metadata_unknown_storage",
        edit_metadata(lambda info: info.update(storage_identifier="rosbag1")),
        r"storage 'rosbag1' is not supported",
    ),
]


def build(case: Case, storage: str, good: Path, folder: Path) -> Path:
    """The damaged bag of ``case`` in ``folder``."""
    bag = folder / f"demo_{storage}"
    if case.damage is not None:
        shutil.copytree(good, bag)
        case.damage(bag)
        return bag
    if case.name == "missing_topic":
        shutil.copytree(good, bag)
        return bag
    with BagWriter(bag, storage) as writer:
        if case.name == "string_topic_as_view":
            from rosbags.typesys import Stores, get_typestore

            store = get_typestore(Stores.ROS2_KILTED)
            text = store.serialize_cdr(
                store.types["std_msgs/msg/String"](data="not an image"), "std_msgs/msg/String"
            )
            for topic in VIEWS.values():
                writer.add_topic(topic, "std_msgs/msg/String")
                for k in range(5):
                    writer.write(topic, 1_700_000_000_000_000_000 + k * 50_000_000, text)
        elif case.name == "empty_bag_topics_without_messages":
            for topic in VIEWS.values():
                writer.add_topic(topic, "sensor_msgs/msg/Image")
    return bag


def snapshot(bag: Path) -> dict[str, bytes]:
    """Every file under the bag folder (names and bytes), so a read that changes, adds or
    removes anything (a journal, a rewritten header) is caught."""
    return {str(p.relative_to(bag)): p.read_bytes() for p in sorted(bag.rglob("*")) if p.is_file()}


PARAMS = [
    pytest.param(case, storage, id=f"{case.name}-{storage}")
    for case in CASES
    for storage in case.storages
]


@pytest.mark.parametrize(("case", "storage"), PARAMS)
def test_damaged_bag_is_refused_and_left_untouched(
    case: Case, storage: str, good_bags: dict[str, Path], tmp_path: Path
) -> None:
    bag = build(case, storage, good_bags[storage], tmp_path)
    before = snapshot(bag)
    views = case.views or VIEWS
    with pytest.raises(DataFormatError) as info:
        read_bag_demo(bag, views)
    message = str(info.value)
    assert message.startswith(str(bag)), message
    assert re.search(case.match, message, re.S), message
    assert snapshot(bag) == before


@pytest.mark.parametrize("storage", STORAGES)
def test_cli_adapt_exits_2_without_a_checkpoint(
    storage: str,
    good_bags: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``robo-reward adapt --demo <damaged bag>``, every case: status 2, the reason on stderr,
    no output folder, the bag untouched (one CLI run per damage, the GRM loaded each time)."""
    for case in CASES:
        name = case.name
        folder = tmp_path / name
        folder.mkdir()
        bag = build(case, storage, good_bags[storage], folder)
        before = snapshot(bag)
        views = ",".join(f"{v}={t}" for v, t in (case.views or VIEWS).items())
        out = folder / "adapted"
        quick = ["--set", "train.steps=1"]
        status = main(["adapt", "--demo", str(bag), "--views", views, "--out", str(out), *quick])
        err = capsys.readouterr().err
        assert status == 2, (name, err)
        assert err.startswith("robo-reward: error: "), (name, err)
        assert str(bag) in err and re.search(case.match, err, re.S), (name, err)
        assert "Traceback" not in err
        assert not out.exists(), name
        assert snapshot(bag) == before, name


def test_checksums_are_recorded_by_both_writers(good_bags: dict[str, Path], tmp_path) -> None:
    """``write_bag_demo`` and ``BagWriter`` (the demo_recorder's) seal what they write, keep
    other custom_data, and the sealed bag still reads (the checksum matches)."""
    import hashlib

    for storage, bag in good_bags.items():
        info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        name = data_file(bag).name
        digest = hashlib.sha256(data_file(bag).read_bytes()).hexdigest()
        assert info["custom_data"] == {f"{CHECKSUM_KEY}{name}": digest}, storage
        recorded = tmp_path / f"recorded_{storage}"
        with BagWriter(recorded, storage) as writer:
            writer._writer.set_custom_data("robot", "rover_1")
            writer.add_topic("/x", "std_msgs/msg/String")
        meta = yaml.safe_load((recorded / "metadata.yaml").read_text())
        custom = meta["rosbag2_bagfile_information"]["custom_data"]
        assert custom["robot"] == "rover_1"
        assert (
            custom[f"{CHECKSUM_KEY}{data_file(recorded).name}"]
            == hashlib.sha256(data_file(recorded).read_bytes()).hexdigest()
        )
