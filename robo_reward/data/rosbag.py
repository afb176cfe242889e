"""Demonstrations from ROS 2 recordings (rosbag2), read and written without ROS installed.

A robot's demo arrives as a rosbag2 folder (``metadata.yaml`` + ``.mcap`` or ``.db3`` files)
with one camera topic per view. This module turns it into a :class:`Trajectory`, and writes
trajectories back out as bags (tests, and users converting ``.npz`` demos). Format decisions:

- **No rclpy.** The pure-Python ``rosbags`` library reads and writes both storage plugins
  (MCAP and sqlite3) and (de)serialises the standard messages; ``sensor_msgs/msg/Image`` and
  ``sensor_msgs/msg/CompressedImage`` are identical in every ROS 2 distribution, so one type
  store (Humble's, present in every supported ``rosbags``) serves all bags.
- **Images become uint8 HxWx3 RGB**, the project's convention. Raw ``Image``: ``rgb8`` as is,
  ``bgr8`` channel-reversed, ``mono8`` replicated into 3 channels, ``rgba8``/``bgra8`` with
  alpha dropped (rows may be padded: ``step`` is honoured). ``CompressedImage``: JPEG or PNG
  decoded with OpenCV, which yields BGR, then reversed to RGB. ``image_transport`` compresses
  colour images as BGR (format ``"rgb8; jpeg compressed bgr8"``); the rare
  ``"... compressed rgb8"`` holds RGB in OpenCV's BGR slots and is not reversed. Other raw
  encodings (16-bit, Bayer, YUV) and ``compressedDepth`` are refused, never guessed.
- **Time is the header stamp** (``header.stamp``, ns), the capture time set by the camera
  driver; the bag's receive time is only used when asked (``stamps="receive"``) because it
  carries transport jitter. Within a view, frames are sorted by stamp; an exact duplicate
  stamp (a re-published frame) keeps the first and is counted.
- **Alignment**: a reference view (by default the one with most frames) defines the time
  steps; every other view contributes its frame nearest in stamp within a tolerance (default
  half the reference's median period), each frame used at most once. A step where a view has
  no such frame is a *dropped* frame: the step is kept and the view marked invalid in
  :attr:`Trajectory.view_valid` (its image is black), or, with ``missing="drop"``, the step is
  removed. Leading and trailing steps without every view (cameras starting or stopping at
  different times) are trimmed so the demo's first and last frames, which condition the
  reward model, have every view.
- **Sizes**: views may differ in size (Trajectory allows it), but one view's frames must
  share one size. With ``image_size`` every frame is centre-cropped to the target aspect ratio
  and resized (area interpolation), so geometry is not stretched.
- **Errors** name the file and the problem: not a bag, a missing topic (with the bag's
  topics), a wrong message type, an unsupported encoding, a truncated or corrupt bag
  (:class:`DataFormatError`), nothing aligned. Nothing is replaced by a default.
- **Integrity**: ``metadata.yaml`` is checked before any storage file is opened (its files
  are present, inside the folder and of the storage it names; its message counts are
  numbers). Bags written by robo_reward (:func:`write_bag_demo`, the ``demo_recorder`` node)
  record each storage file's SHA-256 in ``custom_data``
  (:func:`robo_reward.data.bag_writer.seal_bag`) and are verified against it, so a flipped
  byte or a cut copy is refused rather than read as wrong pixels (rosbags writes MCAP chunks
  without CRCs; sqlite3 has no page checksums). Other bags rely on what their storage can
  tell: MCAP chunk CRCs (``ros2 bag record`` writes them), the sqlite3 header's page count
  against the file size, the message counts of ``metadata.yaml``, and image decoding. A bag
  is only ever read: its files are left byte for byte as they were.
- **Writing is atomic**: the bag is written into a hidden temporary folder next to the target
  and renamed into place, so a reader never sees half a bag.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import yaml

from robo_reward.data.atomic import fsync_dir
from robo_reward.data.bag_writer import CHECKSUM_KEY, file_sha256, seal_bag
from robo_reward.data.trajectory import VIEW_NAME, DataFormatError, Trajectory

__all__ = [
    "ACCEPTED_TYPES",
    "COMPRESSED_IMAGE",
    "RAW_ENCODINGS",
    "RAW_IMAGE",
    "AlignmentReport",
    "is_rosbag2_dir",
    "looks_like_rosbag2",
    "parse_view_topics",
    "read_bag_demo",
    "require_rosbag2_dir",
    "write_bag_demo",
]

RAW_IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
ACCEPTED_TYPES = (RAW_IMAGE, COMPRESSED_IMAGE)
RAW_ENCODINGS = ("rgb8", "bgr8", "mono8", "rgba8", "bgra8")
COMPRESSED_CODECS = ("jpeg", "png")
STORAGES = ("mcap", "sqlite3")
METADATA = "metadata.yaml"
_CHANNELS = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4}
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG"


# --------------------------------------------------------------------------- helpers


def _typestore() -> Any:
    """Humble's message definitions: the image messages are the same in every ROS 2 distro."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)


def _read_errors() -> tuple[type[BaseException], ...]:
    """What rosbags and its storage back ends raise on a damaged bag (not our own bugs)."""
    from rosbags.rosbag2 import ReaderError
    from rosbags.serde import SerdeError

    errors: list[type[BaseException]] = [
        ReaderError,
        SerdeError,
        OSError,
        EOFError,
        ValueError,
        IndexError,
        KeyError,
        TypeError,  # rosbags on a file cut inside its header: ord() of an empty read
        struct.error,
        sqlite3.Error,
    ]
    try:
        import apsw

        errors.append(apsw.Error)
    except ImportError:  # older rosbags read sqlite3 through the standard library
        pass
    return tuple(errors)


def is_rosbag2_dir(path: str | os.PathLike[str]) -> bool:
    """A rosbag2 recording is a folder with ``metadata.yaml`` next to its storage files."""
    path = Path(path)
    return path.is_dir() and (path / METADATA).is_file()


def parse_view_topics(text: str) -> dict[str, str]:
    """``"front=/cam/front/image_raw,side=/cam/side/image_raw"`` -> ``{view: topic}``.

    Strict: every item must be ``NAME=TOPIC`` with a valid view name and an absolute topic,
    names and topics distinct; anything else raises ``ValueError`` saying which item is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("--views is empty; expected NAME=TOPIC[,NAME=TOPIC...]")
    views: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"--views {text!r} has an empty item (a stray comma?)")
        name, sep, topic = (part.strip() for part in item.partition("="))
        if not sep or not name or not topic:
            raise ValueError(f"--views item {item!r} must be NAME=TOPIC, e.g. front=/cam/image_raw")
        _check_view_topic(name, topic)
        if name in views:
            raise ValueError(f"--views names view {name!r} twice")
        views[name] = topic
    _check_distinct_topics(views)
    return views


def _check_view_topic(view: Any, topic: Any) -> None:
    if not isinstance(view, str) or not VIEW_NAME.match(view):
        raise ValueError(
            f"view name {view!r} must be letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    if not isinstance(topic, str) or not topic.startswith("/") or "=" in topic:
        raise ValueError(
            f"topic {topic!r} of view {view!r} must be an absolute ROS topic name such as "
            "/camera/image_raw (as `ros2 bag info` lists it)"
        )
    if any(ch.isspace() for ch in topic):
        raise ValueError(f"topic {topic!r} of view {view!r} contains whitespace")


def _check_distinct_topics(views: Mapping[str, str]) -> None:
    seen: dict[str, str] = {}
    for view, topic in views.items():
        if topic in seen:
            raise ValueError(f"views {seen[topic]!r} and {view!r} both use topic {topic}")
        seen[topic] = view


def _storage_of(path: Path) -> str:
    """The storage plugin named in ``metadata.yaml``, once the metadata has been checked
    (:func:`_check_metadata`)."""
    return str(_check_metadata(path)["storage_identifier"])


def _load_metadata(path: Path) -> dict[str, Any]:
    """``rosbag2_bagfile_information`` of ``metadata.yaml`` (read with a safe YAML loader)."""
    try:
        meta = yaml.safe_load((path / METADATA).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataFormatError(f"{path}: cannot read {METADATA}: {exc}") from None
    info = meta.get("rosbag2_bagfile_information") if isinstance(meta, dict) else None
    if not isinstance(info, dict):
        raise DataFormatError(
            f"{path}: {METADATA} has no rosbag2_bagfile_information; not a rosbag2 recording "
            f"(`ros2 bag reindex {path}` recreates {METADATA} from the storage files)"
        )
    return info


def _check_metadata(path: Path) -> dict[str, Any]:
    """``metadata.yaml``'s information after checking what the reader relies on: the storage,
    the files (listed, inside the folder, present, of that storage, unchanged since robo_reward
    wrote them) and the per-topic message counts. Raises :class:`DataFormatError` saying what
    is wrong."""
    info = _load_metadata(path)
    storage = info.get("storage_identifier")
    if storage not in STORAGES:
        raise DataFormatError(
            f"{path}: storage {storage!r} is not supported; rosbag2 storages read: {STORAGES}"
        )
    files = info.get("relative_file_paths")
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise DataFormatError(
            f"{path}: {METADATA} relative_file_paths must be a list of file names, got {files!r}"
        )
    if not files:
        raise DataFormatError(
            f"{path}: {METADATA} lists no storage files, so the recording holds no messages"
        )
    present = sorted(
        p.name for p in path.iterdir() if p.suffix in (".mcap", ".db3") and p.is_file()
    )
    own, other = (".mcap", ".db3") if storage == "mcap" else (".db3", ".mcap")
    for name in files:
        file = _storage_file(path, name)
        if not file.is_file():
            what = "is not a file" if file.exists() else "is missing"
            raise DataFormatError(
                f"{path}: {METADATA} lists storage file {name}, which {what}; the recording is "
                f"incomplete (copy every file of the bag folder); storage files present: "
                f"{present or 'none'}"
            )
        if other in file.suffixes and own not in file.suffixes:
            raise DataFormatError(
                f"{path}: {METADATA} says storage {storage!r} but lists {name}, a {other} file; "
                "the metadata does not belong to these files "
                f"(`ros2 bag reindex {path}` recreates it)"
            )
    topics = info.get("topics_with_message_count", [])
    if not isinstance(topics, list):
        raise DataFormatError(
            f"{path}: {METADATA} topics_with_message_count must be a list, got {topics!r}"
        )
    for entry in topics:
        meta = entry.get("topic_metadata") if isinstance(entry, dict) else None
        count = entry.get("message_count") if isinstance(entry, dict) else None
        if (
            not isinstance(meta, dict)
            or not isinstance(meta.get("name"), str)
            or not isinstance(meta.get("type"), str)
            or isinstance(count, bool)
            or not isinstance(count, int)
            or count < 0
        ):
            raise DataFormatError(
                f"{path}: {METADATA} has a malformed topics_with_message_count entry {entry!r} "
                "(expected topic_metadata with name and type, and a message_count >= 0)"
            )
    _verify_checksums(path, info)
    if storage == "sqlite3":
        for name in files:
            _check_sqlite_size(path, _storage_file(path, name))
    return info


def _storage_file(path: Path, name: str) -> Path:
    """A listed storage file, looked up by its name in the bag folder, as rosbags and rosbag2
    do (old bags list ``<bag>/<file>``); a listed path never leads outside the folder."""
    return path / Path(name).name


def _verify_checksums(path: Path, info: Mapping[str, Any]) -> None:
    """Compare each storage file with the SHA-256 robo_reward recorded when writing it."""
    custom = info.get("custom_data")
    if not isinstance(custom, dict):
        return
    for key, expected in custom.items():
        if not (isinstance(key, str) and key.startswith(CHECKSUM_KEY)):
            continue
        name = key[len(CHECKSUM_KEY) :]
        if name not in info["relative_file_paths"]:
            continue
        actual = file_sha256(_storage_file(path, name))
        if actual != expected:
            raise DataFormatError(
                f"{path}: storage file {name} has changed since it was recorded: its SHA-256 "
                f"is {actual[:16]}..., {METADATA} records {str(expected)[:16]}...; the bag is "
                "truncated or corrupt (copy it again from the recording machine)"
            )


def _check_sqlite_size(path: Path, file: Path) -> None:
    """A ``.db3`` shorter than its header's page count is truncated: sqlite would read the
    missing pages as zeros, not fail."""
    if Path(f"{file}-wal").exists():  # pages may live in the write-ahead log
        return
    with open(file, "rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return  # not a database at all: the reader says so
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change_counter, pages = struct.unpack(">II", header[24:32])
    valid_for = struct.unpack(">I", header[92:96])[0]
    size = file.stat().st_size
    if pages and valid_for == change_counter and size < pages * page_size:
        raise DataFormatError(
            f"{path}: storage file {file.name} is truncated: {size} bytes, but its header "
            f"counts {pages} pages of {page_size} bytes ({pages * page_size} bytes); copy the "
            "bag again"
        )


def looks_like_rosbag2(path: str | os.PathLike[str]) -> bool:
    """A rosbag2 folder, or what is left of one (storage files, a lone ``.mcap``/``.db3``):
    callers route these to :func:`read_bag_demo`, whose errors explain what is missing."""
    path = Path(path)
    if path.is_file():
        return path.suffix in (".mcap", ".db3")
    if not path.is_dir():
        return False
    return is_rosbag2_dir(path) or any(p.suffix in (".mcap", ".db3") for p in path.iterdir())


def require_rosbag2_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a rosbag2 folder, or an error that says why it is not one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such rosbag2 folder: {path}")
    if not is_rosbag2_dir(path):
        raise _not_a_bag(path)
    return path


def _not_a_bag(path: Path) -> DataFormatError:
    if path.is_file() and path.suffix in (".mcap", ".db3"):
        return DataFormatError(
            f"{path} is a single rosbag2 storage file; pass the recording's folder, which holds "
            f"it and {METADATA} (`ros2 bag reindex <folder>` recreates a lost {METADATA})"
        )
    if path.is_dir():
        storage_files = sorted(p.name for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
        if storage_files:
            return DataFormatError(
                f"{path} holds {storage_files} but no {METADATA}, so it is not a complete "
                f"rosbag2 recording (was recording interrupted? `ros2 bag reindex {path}` "
                f"recreates {METADATA})"
            )
    return DataFormatError(
        f"{path} is not a rosbag2 recording: a rosbag2 folder holds {METADATA} and .mcap or "
        ".db3 files (as written by `ros2 bag record`)"
    )


# --------------------------------------------------------------------------- image decoding


def _image_to_rgb(msg: Any) -> tuple[np.ndarray, str]:
    """A ``sensor_msgs/msg/Image`` as uint8 HxWx3 RGB, and its encoding."""
    encoding = str(msg.encoding)
    if encoding not in _CHANNELS:
        raise ValueError(
            f"unsupported raw image encoding {encoding!r}; supported: {', '.join(RAW_ENCODINGS)} "
            "(record an 8-bit colour or mono stream)"
        )
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    channels = _CHANNELS[encoding]
    if height < 1 or width < 1:
        raise ValueError(f"image of size {height}x{width} has no pixels")
    if step < width * channels:
        raise ValueError(f"row step {step} is shorter than {width} pixels of {encoding}")
    data = np.asarray(msg.data, dtype=np.uint8)
    if data.size < height * step:
        raise ValueError(
            f"image data holds {data.size} bytes, {height} rows of step {step} need {height * step}"
        )
    pixels = data[: height * step].reshape(height, step)[:, : width * channels]
    pixels = pixels.reshape(height, width, channels)
    if encoding == "rgb8":
        rgb = pixels
    elif encoding == "bgr8":
        rgb = pixels[..., ::-1]
    elif encoding == "mono8":
        rgb = np.repeat(pixels, 3, axis=2)
    elif encoding == "rgba8":
        rgb = pixels[..., :3]
    else:  # bgra8
        rgb = pixels[..., 2::-1]
    return np.ascontiguousarray(rgb), encoding


def _codec_of(fmt: str, data: np.ndarray) -> str:
    """JPEG or PNG from the ``format`` field; only an empty field is settled by magic bytes."""
    lowered = fmt.lower()
    if "compresseddepth" in lowered:
        raise ValueError(f"compressed format {fmt!r} is a depth image; colour images only")
    if "jpeg" in lowered or "jpg" in lowered:
        return "jpeg"
    if "png" in lowered:
        return "png"
    if not lowered.strip():
        head = bytes(data[:4])
        if head.startswith(_JPEG_MAGIC):
            return "jpeg"
        if head.startswith(_PNG_MAGIC):
            return "png"
    raise ValueError(
        f"unsupported compressed image format {fmt!r}; supported: {', '.join(COMPRESSED_CODECS)}"
    )


def _compressed_to_rgb(msg: Any) -> tuple[np.ndarray, str]:
    """A ``sensor_msgs/msg/CompressedImage`` (JPEG/PNG) as uint8 HxWx3 RGB, and its codec."""
    fmt = str(msg.format)
    data = np.asarray(msg.data, dtype=np.uint8)
    codec = _codec_of(fmt, data)
    if data.size == 0:
        raise ValueError("compressed image has no data")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{codec} data ({data.size} bytes) could not be decoded")
    # OpenCV decodes into BGR order; image_transport encoded BGR, so reverse unless the
    # publisher says it compressed RGB directly.
    if not fmt.replace(" ", "").lower().endswith("compressedrgb8"):
        image = image[..., ::-1]
    return np.ascontiguousarray(image), codec


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop to the aspect ratio of ``size`` (H, W), then resize: no stretching."""
    height, width = image.shape[:2]
    target_h, target_w = size
    if (height, width) == (target_h, target_w):
        return image
    if height * target_w > width * target_h:  # too tall
        crop_h = max(1, round(width * target_h / target_w))
        top = (height - crop_h) // 2
        image = image[top : top + crop_h]
    elif height * target_w < width * target_h:  # too wide
        crop_w = max(1, round(height * target_w / target_h))
        left = (width - crop_w) // 2
        image = image[:, left : left + crop_w]
    shrinking = image.shape[0] >= target_h and image.shape[1] >= target_w
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (target_w, target_h), interpolation=interpolation)


def _normalise_size(image_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in image_size)
    ):
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise ValueError(f"image_size must be an int or (height, width), got {image_size!r}")
    if min(size) < 1:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    return size


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class AlignmentReport:
    """What :func:`read_bag_demo` read and how it lined the views up (printed by the CLI)."""

    path: str
    storage: str
    """``mcap`` or ``sqlite3``."""
    topics: dict[str, str]
    """View -> topic."""
    reference: str
    """The view whose stamps define the time steps."""
    tolerance_ns: int
    messages: dict[str, int]
    """View -> image messages read."""
    encodings: dict[str, list[str]]
    """View -> raw encodings / compressed codecs seen."""
    source_sizes: dict[str, list[tuple[int, int]]]
    """View -> distinct (H, W) sizes in the bag."""
    image_sizes: dict[str, tuple[int, int]]
    """View -> (H, W) in the trajectory."""
    aligned_steps: int
    """Time steps in the trajectory (its T + 1 frames)."""
    dropped_steps: int
    """Steps where some view had no frame within tolerance (masked, or removed with
    ``missing="drop"``)."""
    missing: dict[str, int]
    """View -> steps without a frame of that view."""
    unmatched: dict[str, int]
    """View -> frames that no time step used (beyond the reference's range, or spare)."""
    duplicates: dict[str, int]
    """View -> frames skipped because their stamp repeated an earlier one."""
    trimmed_start: int
    trimmed_end: int
    """Leading / trailing reference steps removed because not every view had started."""
    max_offset_ms: float
    """Largest |stamp - reference stamp| among the frames used."""
    duration_s: float
    """From the first to the last time step."""
    missing_policy: str
    stamps: str
    """``header`` (``header.stamp``) or ``receive`` (bag time)."""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for a person checking that the right topics were lined up."""
        lines = [
            f"rosbag2 {self.path} ({self.storage}): {self.aligned_steps} time steps over "
            f"{self.duration_s:.2f} s, reference view {self.reference!r}, tolerance "
            f"{self.tolerance_ns / 1e6:.1f} ms on {self.stamps} stamps"
        ]
        for view, topic in self.topics.items():
            sizes = ", ".join(f"{h}x{w}" for h, w in self.source_sizes[view])
            out_h, out_w = self.image_sizes[view]
            resized = f" -> {out_h}x{out_w}" if [(out_h, out_w)] != self.source_sizes[view] else ""
            extra = [f"{self.missing[view]} missing"] if self.missing[view] else []
            if self.unmatched[view]:
                extra.append(f"{self.unmatched[view]} unused")
            if self.duplicates[view]:
                extra.append(f"{self.duplicates[view]} duplicate stamps")
            lines.append(
                f"  {view:8s} {topic}: {self.messages[view]} messages "
                f"[{', '.join(self.encodings[view])}] {sizes}{resized}"
                + (f" ({', '.join(extra)})" if extra else "")
            )
        action = "masked" if self.missing_policy == "mask" else "removed"
        lines.append(
            f"  dropped steps: {self.dropped_steps} ({action}); trimmed "
            f"{self.trimmed_start} leading / {self.trimmed_end} trailing steps; max stamp "
            f"offset {self.max_offset_ms:.1f} ms"
        )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- reading


@dataclass
class _ViewFrames:
    stamps: list[int] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    encodings: set[str] = field(default_factory=set)
    sizes: set[tuple[int, int]] = field(default_factory=set)


def _select_connections(reader: Any, path: Path, views: Mapping[str, str]) -> dict[str, list]:
    """View -> the bag's connections of its topic; clear errors for missing or wrong topics."""
    by_topic: dict[str, list] = {}
    for conn in reader.connections:
        by_topic.setdefault(conn.topic, []).append(conn)
    listing = ", ".join(
        f"{topic} [{'/'.join(sorted({c.msgtype for c in conns}))}]"
        for topic, conns in sorted(by_topic.items())
    )
    if not by_topic:
        raise DataFormatError(
            f"{path}: the bag is empty: it has no topics, so no camera views "
            f"({', '.join(views.values())}) to read"
        )
    selected: dict[str, list] = {}
    for view, topic in views.items():
        conns = by_topic.get(topic)
        if not conns:
            raise DataFormatError(
                f"{path}: topic {topic} (view {view!r}) is not in the bag; its topics are: "
                f"{listing or 'none'}"
            )
        usable = [c for c in conns if c.msgtype in ACCEPTED_TYPES]
        if not usable:
            types = sorted({c.msgtype for c in conns})
            raise DataFormatError(
                f"{path}: topic {topic} (view {view!r}) has message type {', '.join(types)}; "
                f"accepted image types: {', '.join(ACCEPTED_TYPES)}"
            )
        selected[view] = usable
    return selected


def _read_frames(
    path: Path,
    views: Mapping[str, str],
    size: tuple[int, int] | None,
    stamps: str,
) -> dict[str, _ViewFrames]:
    """Decode every image message of the chosen topics, per view, in bag order."""
    from rosbags.rosbag2 import Reader

    errors = _read_errors()
    store = _typestore()
    frames = {view: _ViewFrames() for view in views}
    counts = dict.fromkeys(views, 0)
    try:
        reader = Reader(path)
        reader.open()
    except errors as exc:
        raise _corrupt(path, exc) from exc
    try:
        selected = _select_connections(reader, path, views)
        view_of = {topic: view for view, topic in views.items()}
        expected = {view: sum(c.msgcount for c in conns) for view, conns in selected.items()}
        wanted = [c for conns in selected.values() for c in conns]
        messages = reader.messages(connections=wanted)
        while True:
            try:
                item = next(messages, None)
                if item is None:
                    break
                conn, bag_time, raw = item
                view = view_of[conn.topic]
                counts[view] += 1
                msg = store.deserialize_cdr(raw, conn.msgtype)
            except errors as exc:
                raise _corrupt(path, exc) from exc
            try:
                if conn.msgtype == RAW_IMAGE:
                    image, encoding = _image_to_rgb(msg)
                else:
                    image, encoding = _compressed_to_rgb(msg)
            except (ValueError, cv2.error) as exc:
                raise DataFormatError(
                    f"{path}: message {counts[view]} of {conn.topic} (view {view!r}): {exc}"
                ) from None
            record = frames[view]
            record.encodings.add(encoding)
            record.sizes.add(image.shape[:2])
            record.images.append(_fit(image, size) if size is not None else image)
            if stamps == "header":
                record.stamps.append(
                    int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
                )
            else:
                record.stamps.append(int(bag_time))
    finally:
        try:
            reader.close()
        except errors:
            pass
    for view, topic in views.items():
        if counts[view] != expected[view]:
            raise DataFormatError(
                f"{path}: {METADATA} lists {expected[view]} messages on {topic} but "
                f"{counts[view]} were read; the bag is truncated or corrupt"
            )
        if counts[view] == 0:
            raise DataFormatError(f"{path}: topic {topic} (view {view!r}) has no messages")
    return frames


def _corrupt(path: Path, exc: BaseException) -> DataFormatError:
    return DataFormatError(
        f"{path}: cannot read the rosbag2 recording, it is truncated or corrupt "
        f"({type(exc).__name__}: {exc}); if recording was interrupted, "
        f"`ros2 bag reindex {path}` may recover it"
    )


def _sorted_unique(record: _ViewFrames) -> tuple[np.ndarray, list[np.ndarray], int]:
    """Frames ordered by stamp; a repeated stamp keeps its first frame (counted)."""
    stamps = np.asarray(record.stamps, dtype=np.int64)
    order = np.argsort(stamps, kind="stable")
    stamps = stamps[order]
    keep = np.ones(len(stamps), dtype=bool)
    keep[1:] = np.diff(stamps) > 0
    images = [record.images[i] for i, k in zip(order, keep, strict=True) if k]
    return stamps[keep], images, int((~keep).sum())


def _match(ref: np.ndarray, other: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Per reference stamp: index of the nearest ``other`` frame within tolerance (-1: none),
    and the absolute offset. Each ``other`` frame serves at most one step (the closest)."""
    right = np.searchsorted(other, ref).clip(0, len(other) - 1)
    left = (right - 1).clip(0, len(other) - 1)
    off_right, off_left = np.abs(other[right] - ref), np.abs(other[left] - ref)
    index = np.where(off_left <= off_right, left, right)
    offset = np.minimum(off_left, off_right)
    index = np.where(offset <= tolerance, index, -1)
    order = np.argsort(offset, kind="stable")
    used: set[int] = set()
    for step in order:
        if index[step] < 0:
            continue
        if int(index[step]) in used:
            index[step] = -1
        else:
            used.add(int(index[step]))
    return index, offset


def read_bag_demo(
    path: str | os.PathLike[str],
    views: Mapping[str, str],
    tolerance_ns: int | None = None,
    task: str | None = None,
    image_size: int | tuple[int, int] | None = None,
    *,
    task_text: str = "",
    reference: str | None = None,
    missing: Literal["mask", "drop"] = "mask",
    stamps: Literal["header", "receive"] = "header",
) -> tuple[Trajectory, AlignmentReport]:
    """Read one demonstration from a rosbag2 folder, views aligned by stamp.

    ``views`` maps view name -> image topic. The result is a successful ``recorded``
    trajectory without actions or proprioception (a camera recording has neither) and without
    keyframes (adaptation labels it uniformly or by step discovery). See the module docstring
    for the conversions and the alignment rule.
    """
    path = require_rosbag2_dir(path)
    if not isinstance(views, Mapping) or not views:
        raise ValueError("views must map at least one view name to an image topic")
    for view, topic in views.items():
        _check_view_topic(view, topic)
    _check_distinct_topics(views)
    if reference is not None and reference not in views:
        raise ValueError(f"reference view {reference!r} is not one of the views {list(views)}")
    if missing not in ("mask", "drop"):
        raise ValueError(f"missing must be 'mask' or 'drop', got {missing!r}")
    if stamps not in ("header", "receive"):
        raise ValueError(f"stamps must be 'header' or 'receive', got {stamps!r}")
    if tolerance_ns is not None and (
        isinstance(tolerance_ns, bool) or not isinstance(tolerance_ns, (int, np.integer))
    ):
        raise ValueError(f"tolerance_ns must be an int (nanoseconds), got {tolerance_ns!r}")
    if tolerance_ns is not None and tolerance_ns < 0:
        raise ValueError(f"tolerance_ns must be >= 0, got {tolerance_ns}")
    if task is not None and (not isinstance(task, str) or not task):
        raise ValueError(f"task must be a non-empty string, got {task!r}")
    size = _normalise_size(image_size)
    storage = _storage_of(path)

    raw = _read_frames(path, views, size, stamps)
    ordered: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
    duplicates: dict[str, int] = {}
    for view, record in raw.items():
        if stamps == "header" and not any(record.stamps):
            raise DataFormatError(
                f"{path}: every header.stamp on {views[view]} is 0: the publisher does not "
                "stamp its images; align on the bag's receive time instead (stamps='receive', "
                "CLI --receive-time)"
            )
        if size is None and len(record.sizes) > 1:
            shapes = ", ".join(f"{h}x{w}" for h, w in sorted(record.sizes))
            raise DataFormatError(
                f"{path}: view {view!r} ({views[view]}) has frames of several sizes ({shapes}); "
                "pass image_size to resize them to one"
            )
        stamp_array, images, duplicates[view] = _sorted_unique(record)
        ordered[view] = (stamp_array, images)

    ref_view = reference or max(views, key=lambda v: len(ordered[v][0]))  # ties: first listed
    ref_stamps = ordered[ref_view][0]
    if len(ref_stamps) < 2:
        raise DataFormatError(
            f"{path}: reference view {ref_view!r} has {len(ref_stamps)} distinct frame(s); "
            "a demonstration needs at least 2"
        )
    if tolerance_ns is None:
        tolerance_ns = int(np.median(np.diff(ref_stamps)) // 2)
    tolerance_ns = int(tolerance_ns)

    matches: dict[str, np.ndarray] = {ref_view: np.arange(len(ref_stamps))}
    offsets: dict[str, np.ndarray] = {ref_view: np.zeros(len(ref_stamps), dtype=np.int64)}
    for view in views:
        if view != ref_view:
            matches[view], offsets[view] = _match(ref_stamps, ordered[view][0], tolerance_ns)
    complete = np.all([matches[v] >= 0 for v in views], axis=0)
    if not complete.any():
        ranges = "; ".join(
            f"{v}: {ordered[v][0][0] / 1e9:.3f}..{ordered[v][0][-1] / 1e9:.3f} s" for v in views
        )
        raise DataFormatError(
            f"{path}: 0 aligned steps: no time step has a frame of every view within "
            f"{tolerance_ns / 1e6:.1f} ms of the reference {ref_view!r} (stamp ranges {ranges}); "
            "check that the cameras share a clock, or raise the tolerance"
        )
    first, last = int(np.argmax(complete)), len(complete) - 1 - int(np.argmax(complete[::-1]))
    steps = np.arange(first, last + 1)
    dropped = int((~complete[steps]).sum())
    if missing == "drop":
        steps = steps[complete[steps]]
    if len(steps) < 2:
        raise DataFormatError(
            f"{path}: only {len(steps)} aligned step(s) with every view within "
            f"{tolerance_ns / 1e6:.1f} ms; a demonstration needs at least 2"
        )

    frames: dict[str, np.ndarray] = {}
    view_valid: dict[str, np.ndarray] = {}
    missing_counts, unmatched, image_sizes = {}, {}, {}
    max_offset = 0
    for view in views:
        stamp_array, images = ordered[view]
        index = matches[view][steps]
        valid = index >= 0
        shape = images[0].shape
        stack = np.zeros((len(steps), *shape), dtype=np.uint8)  # black where missing
        for row in np.flatnonzero(valid):
            stack[row] = images[index[row]]
        frames[view] = stack
        if not valid.all():
            view_valid[view] = valid
        missing_counts[view] = int((~valid).sum())
        unmatched[view] = len(stamp_array) - int(valid.sum())
        image_sizes[view] = (int(shape[0]), int(shape[1]))
        if valid.any():
            max_offset = max(max_offset, int(offsets[view][steps][valid].max()))

    timestamps = ref_stamps[steps].astype(np.int64)
    warnings = [
        f"view {v!r} is missing at {missing_counts[v]} of {len(steps)} steps"
        for v in views
        if missing_counts[v] * 10 > len(steps)
    ]
    report = AlignmentReport(
        path=str(path),
        storage=storage,
        topics=dict(views),
        reference=ref_view,
        tolerance_ns=tolerance_ns,
        messages={v: len(raw[v].stamps) for v in views},
        encodings={v: sorted(raw[v].encodings) for v in views},
        source_sizes={v: sorted(raw[v].sizes) for v in views},
        image_sizes=image_sizes,
        aligned_steps=len(steps),
        dropped_steps=dropped,
        missing=missing_counts,
        unmatched=unmatched,
        duplicates=duplicates,
        trimmed_start=first,
        trimmed_end=len(complete) - 1 - last,
        max_offset_ms=max_offset / 1e6,
        duration_s=float(timestamps[-1] - timestamps[0]) / 1e9,
        missing_policy=missing,
        stamps=stamps,
        warnings=warnings,
    )
    num_frames = len(steps)
    trajectory = Trajectory(
        frames=frames,
        view_valid=view_valid,
        actions=np.zeros((num_frames - 1, 0), dtype=np.float32),
        states=np.zeros((num_frames, 0), dtype=np.float32),
        timestamps_ns=timestamps,
        task=task or "recorded",
        task_text=task_text,
        success=True,
        variant="recorded",
        metadata={
            "source": "rosbag2",
            "bag": str(path),
            "storage": storage,
            "topics": dict(views),
            "reference_view": ref_view,
            "tolerance_ns": tolerance_ns,
            "stamps": stamps,
            "dropped_steps": dropped,
            "missing_policy": missing,
        },
    )
    return trajectory, report


# --------------------------------------------------------------------------- writing


def _codecs(
    views: tuple[str, ...], compressed: bool | str | Mapping[str, bool | str]
) -> dict[str, str | None]:
    """View -> ``None`` (raw rgb8), ``"jpeg"`` or ``"png"``."""

    def one(value: Any, where: str) -> str | None:
        if value is True:
            return "jpeg"
        if value is False:
            return None
        if value in COMPRESSED_CODECS:
            return str(value)
        raise ValueError(f"{where} must be a bool, 'jpeg' or 'png', got {value!r}")

    if isinstance(compressed, Mapping):
        unknown = sorted(set(compressed) - set(views))
        if unknown:
            raise ValueError(f"compressed names views {unknown} that are not written {views}")
        return {v: one(compressed.get(v, False), f"compressed[{v!r}]") for v in views}
    codec = one(compressed, "compressed")
    return dict.fromkeys(views, codec)


def _header(store: Any, stamp: int, frame_id: str) -> Any:
    types = store.types
    time = types["builtin_interfaces/msg/Time"](
        sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000
    )
    return types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


def _encode(
    store: Any, image: np.ndarray, stamp: int, frame_id: str, codec: str | None, quality: int
) -> bytes | memoryview:
    header = _header(store, stamp, frame_id)
    if codec is None:
        height, width = image.shape[:2]
        msg = store.types[RAW_IMAGE](
            header=header,
            height=height,
            width=width,
            encoding="rgb8",
            is_bigendian=0,
            step=width * 3,
            data=np.ascontiguousarray(image).reshape(-1),
        )
        return store.serialize_cdr(msg, RAW_IMAGE)
    bgr = np.ascontiguousarray(image[..., ::-1])
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if codec == "jpeg" else []
    ok, buffer = cv2.imencode(".jpg" if codec == "jpeg" else ".png", bgr, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} frame as {codec}")
    msg = store.types[COMPRESSED_IMAGE](
        header=header,
        format=f"rgb8; {codec} compressed bgr8",  # image_transport's convention
        data=buffer.reshape(-1),
    )
    return store.serialize_cdr(msg, COMPRESSED_IMAGE)


def write_bag_demo(
    trajectory: Trajectory,
    path: str | os.PathLike[str],
    topics: Mapping[str, str] | None = None,
    storage: Literal["mcap", "sqlite3"] = "mcap",
    compressed: bool | str | Mapping[str, bool | str] = False,
    *,
    jpeg_quality: int = 90,
    overwrite: bool = False,
) -> Path:
    """Write a trajectory's camera frames as a rosbag2 recording, one image topic per view.

    ``topics`` maps view -> topic (default ``/<view>/image_raw``, ``.../compressed`` when
    compressed); ``compressed`` is a bool (JPEG), ``"jpeg"``/``"png"``, or a per-view mapping.
    Header stamps and bag times are the trajectory's timestamps; frames a view lacks
    (``view_valid`` False) are not written, as a camera that dropped them would not have.
    Written into a temporary folder next to ``path`` and renamed into place.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    if not isinstance(trajectory, Trajectory):
        raise TypeError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}")
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}, got {storage!r}")
    if isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, int):
        raise ValueError(f"jpeg_quality must be an int in 1..100, got {jpeg_quality!r}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    if int(trajectory.timestamps_ns[0]) < 0:
        raise ValueError("rosbag2 stamps cannot be negative; shift the trajectory's timestamps")
    views = tuple(topics) if topics is not None else trajectory.views
    unknown = [v for v in views if v not in trajectory.frames]
    if unknown:
        raise ValueError(f"topics name views {unknown} the trajectory lacks {trajectory.views}")
    codecs = _codecs(views, compressed)
    if topics is None:
        topics = {v: f"/{v}/image_raw" + ("/compressed" if codecs[v] else "") for v in views}
    for view, topic in topics.items():
        _check_view_topic(view, topic)
    _check_distinct_topics(topics)

    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    if target.exists() and not is_rosbag2_dir(target):
        raise FileExistsError(f"{target} exists and is not a rosbag2 folder; not replacing it")
    target.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        staged = workdir / target.name
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        store = _typestore()
        writer = Writer(staged, version=8, storage_plugin=plugin)
        writer.open()
        try:
            conns = {
                v: writer.add_connection(
                    topics[v], COMPRESSED_IMAGE if codecs[v] else RAW_IMAGE, typestore=store
                )
                for v in views
            }
            for step, stamp in enumerate(trajectory.timestamps_ns.tolist()):
                for view in views:
                    if not trajectory.valid_mask(view)[step]:
                        continue
                    image = trajectory.frames[view][step]
                    data = _encode(store, image, stamp, view, codecs[view], jpeg_quality)
                    writer.write(conns[view], stamp, data)
        finally:
            writer.close()
        seal_bag(staged)
        for item in staged.iterdir():
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(staged)
        if target.exists():
            old = workdir / f"{target.name}.old"
            os.replace(target, old)
        os.replace(staged, target)
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return target
