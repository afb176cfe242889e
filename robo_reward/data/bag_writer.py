"""Serialized ROS 2 messages -> a rosbag2 folder (MCAP or sqlite3), with the ``rosbags`` library.

The ``demo_recorder`` node hands over the CDR bytes it receives, so nothing is deserialised on
the way to disk; the bag is the one ``ros2 bag record`` would write (metadata.yaml version 9,
message definitions of ROS 2 Kilted) and what ``robo-reward adapt --demo <bag>`` reads. No rclpy
here: the message types are looked up by name in rosbags' Kilted type store, and a type missing
there is read from its ``.msg`` file under ``<prefix>/share/<package>/msg/`` of the ROS
installation (the wheels ship them).

When a bag is closed, the SHA-256 of each storage file is recorded in ``metadata.yaml``
(``custom_data``, keys ``robo_reward.sha256.<file>``; :func:`seal_bag`), so the reader
(:func:`robo_reward.data.rosbag.read_bag_demo`) can tell a bag damaged after recording (a flipped
byte, a cut copy) from a good one: rosbags writes MCAP chunks without CRCs, and sqlite3 keeps no
checksum of its pages, so without it such damage would be read as (wrong) pixels.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path
from types import TracebackType

import yaml

STORAGES = ("mcap", "sqlite3")
_TYPE_PARTS = (
    re.compile(r"^[a-z][a-z0-9_]*\Z"),
    re.compile(r"^(msg|srv|action)\Z"),
    re.compile(r"^[A-Z][A-Za-z0-9]*\Z"),
)
"""ROS 2 interface name rules (REP 144 package names, CamelCase type names)."""
_TOPIC = re.compile(r"^(/[A-Za-z_][A-Za-z0-9_]*)+\Z")
"""A fully qualified ROS 2 topic name: ``/`` separated tokens that do not start with a digit."""
METADATA = "metadata.yaml"
CHECKSUM_KEY = "robo_reward.sha256."
"""``custom_data`` key prefix of a storage file's SHA-256 (hex), followed by the file's name."""


class BagWriter:
    """Write serialized messages of several topics to a new rosbag2 folder.

    Args:
        path: the bag folder to create; it must not exist (a recording never overwrites one).
        storage: ``"mcap"`` (default, rosbag2's default since Iron) or ``"sqlite3"``.

    ``close()`` (or leaving the ``with`` block) writes ``metadata.yaml``; a folder without it is an
    interrupted recording.
    """

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(
                f"bag folder {self.path} already exists; choose another output or remove it"
            )
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"parent folder of the bag does not exist: {self.path.parent}")
        self.storage = storage
        self._typestore = get_typestore(Stores.ROS2_KILTED)
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self.message_counts: dict[str, int] = {}
        self.closed = False

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type of the topics added so far."""
        return {topic: conn.msgtype for topic, conn in self._connections.items()}

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Register ``topic`` with its type (``sensor_msgs/msg/Image``) before writing to it."""
        self._check_open()
        if not isinstance(topic, str) or not _TOPIC.match(topic):
            raise ValueError(
                f"topic {topic!r} is not a fully qualified ROS 2 topic name such as "
                "/camera/image_raw (tokens of letters, digits and '_', no '..' or '//')"
            )
        if topic in self._connections:
            known = self._connections[topic].msgtype
            if known != msgtype:
                raise ValueError(f"topic {topic} is already recorded as {known}, not {msgtype}")
            return
        self._ensure_type(msgtype)
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self._typestore
        )
        self.message_counts[topic] = 0

    def write(self, topic: str, timestamp_ns: int, data: bytes | memoryview) -> None:
        """Append one CDR-serialized message received at ``timestamp_ns``."""
        self._check_open()
        connection = self._connections.get(topic)
        if connection is None:
            raise KeyError(f"topic {topic} was not added to the bag (add_topic first)")
        self._writer.write(connection, int(timestamp_ns), data)
        self.message_counts[topic] += 1

    def close(self) -> None:
        """Finish the bag (index, summary, metadata.yaml); idempotent."""
        if not self.closed:
            self.closed = True
            self._writer.close()
            seal_bag(self.path)

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"the bag {self.path} is closed")

    def _ensure_type(self, msgtype: str) -> None:
        if msgtype in self._typestore.types:
            return
        from rosbags.typesys import get_types_from_msg

        parts = msgtype.split("/")
        if len(parts) != 3 or not all(
            pattern.match(part) for pattern, part in zip(_TYPE_PARTS, parts, strict=True)
        ):
            # The parts become a path below <prefix>/share: '..' or '/' must not reach it.
            raise ValueError(
                f"message type must be <package>/msg/<Name> (package: lower-case letters, digits "
                f"and '_'; Name: CamelCase letters and digits), got {msgtype!r}"
            )
        package, kind, name = parts
        for prefix in _prefixes():
            definition = prefix / "share" / package / kind / f"{name}.msg"
            if definition.is_file():
                try:
                    self._typestore.register(get_types_from_msg(definition.read_text(), msgtype))
                except Exception as error:  # rosbags raises its own error types
                    raise ValueError(
                        f"cannot register {msgtype} from {definition}: {error}"
                    ) from None
                return
        raise ValueError(
            f"unknown message type {msgtype}: not a ROS 2 Kilted standard type and no "
            f"share/{package}/{kind}/{name}.msg under {', '.join(map(str, _prefixes()))}"
        )


def _prefixes() -> list[Path]:
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [*prefixes, Path(sys.prefix)]


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def seal_bag(path: str | Path) -> dict[str, str]:
    """Record the SHA-256 of every storage file of the closed bag at ``path`` in its
    ``metadata.yaml`` (``custom_data``), rewritten atomically; returns file -> digest.

    Only files listed in ``relative_file_paths`` are sealed; other ``custom_data`` is kept.
    """
    folder = Path(path)
    meta_path = folder / METADATA
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    info = meta["rosbag2_bagfile_information"]
    digests = {name: file_sha256(folder / name) for name in info.get("relative_file_paths") or []}
    custom = dict(info.get("custom_data") or {})
    custom.update({f"{CHECKSUM_KEY}{name}": digest for name, digest in digests.items()})
    info["custom_data"] = custom
    mode = meta_path.stat().st_mode & 0o777
    handle, temp = tempfile.mkstemp(prefix=f".{METADATA}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yaml.safe_dump(meta, out, default_flow_style=False, sort_keys=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, meta_path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return digests
