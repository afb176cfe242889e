"""BagWriter: serialized messages -> rosbag2 (MCAP, sqlite3) that rosbags reads back."""

from __future__ import annotations

import pytest

pytest.importorskip("rosbags", reason="rosbags not installed (pip install 'rosbags>=0.10')")

from rosbags.rosbag2 import Reader  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from robo_reward.data.bag_writer import BagWriter  # noqa: E402

TYPESTORE = get_typestore(Stores.ROS2_KILTED)


def _float32(value: float) -> bytes:
    msg = TYPESTORE.types["std_msgs/msg/Float32"](data=value)
    return TYPESTORE.serialize_cdr(msg, "std_msgs/msg/Float32")


def _string(text: str) -> bytes:
    msg = TYPESTORE.types["std_msgs/msg/String"](data=text)
    return TYPESTORE.serialize_cdr(msg, "std_msgs/msg/String")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip(tmp_path, storage):
    path = tmp_path / "bag"
    with BagWriter(path, storage) as bag:
        bag.add_topic("/progress", "std_msgs/msg/Float32")
        bag.add_topic("/note", "std_msgs/msg/String")
        bag.add_topic("/note", "std_msgs/msg/String")  # again: no-op
        for i in range(5):
            bag.write("/progress", 1_000 + i, _float32(i / 4))
        bag.write("/note", 1_002, memoryview(_string("halfway")))
    assert bag.message_counts == {"/progress": 5, "/note": 1}
    assert bag.topics == {"/progress": "std_msgs/msg/Float32", "/note": "std_msgs/msg/String"}
    with Reader(path) as reader:
        assert reader.message_count == 6
        values = [
            (t, TYPESTORE.deserialize_cdr(raw, c.msgtype).data) for c, t, raw in reader.messages()
        ]
    progress = [(t, v) for t, v in values if not isinstance(v, str)]
    assert progress == [(1_000 + i, i / 4) for i in range(5)]
    assert (1_002, "halfway") in values
    suffix = ".mcap" if storage == "mcap" else ".db3"
    assert any(p.suffix == suffix for p in path.iterdir())


def test_refuses_bad_use(tmp_path):
    existing = tmp_path / "exists"
    existing.mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        BagWriter(existing)
    with pytest.raises(ValueError, match="storage must be one of"):
        BagWriter(tmp_path / "x", storage="rosbag1")
    with pytest.raises(FileNotFoundError, match="parent folder"):
        BagWriter(tmp_path / "missing" / "bag")
    bag = BagWriter(tmp_path / "bag")
    with pytest.raises(ValueError, match="unknown message type my_msgs/msg/Thing"):
        bag.add_topic("/thing", "my_msgs/msg/Thing")
    with pytest.raises(KeyError, match="add_topic first"):
        bag.write("/nothing", 0, b"")
    bag.add_topic("/p", "std_msgs/msg/Float32")
    with pytest.raises(ValueError, match="already recorded as std_msgs/msg/Float32"):
        bag.add_topic("/p", "std_msgs/msg/String")
    bag.close()
    bag.close()
    with pytest.raises(ValueError, match="is closed"):
        bag.write("/p", 0, _float32(1.0))
