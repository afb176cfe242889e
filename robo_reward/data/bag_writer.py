"""Serialized ROS 2 messages -> a rosbag2 folder (MCAP or sqlite3), with the ``rosbags`` library.

The ``demo_recorder`` node hands over the CDR bytes it receives, so nothing is deserialised on
the way to disk; the bag is the one ``ros2 bag record`` would write (metadata.yaml version 9,
message definitions of ROS 2 Kilted) and what ``robo-reward adapt --demo <bag>`` reads. No rclpy
here: the message types are looked up by name in rosbags' Kilted type store, and a type missing
there is read from its ``.msg`` file under ``<prefix>/share/<package>/msg/`` of the ROS
installation (the wheels ship them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

STORAGES = ("mcap", "sqlite3")


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
        if len(parts) != 3:
            raise ValueError(f"message type must be <package>/msg/<Name>, got {msgtype!r}")
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
