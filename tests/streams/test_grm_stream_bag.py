"""A rosbag2 folder as the GRM stream's reference demo: read on the stream's own camera topics
(the way the grm_reward node is configured), sized for the model, and it conditions the reward
as well as the trajectory it was written from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robo_reward.data import DataFormatError, Trajectory
from robo_reward.data.rosbag import write_bag_demo
from robo_reward.grm.evaluate import voc
from robo_reward.grm.model import GRM
from robo_reward.streams import GRMRewardStream, load_grm_model, load_reference_demo

VIEWS = ("front", "side", "wrist")
RAW = {view: f"/cam/{view}/image_raw" for view in VIEWS}
COMPRESSED = {view: f"{topic}/compressed" for view, topic in RAW.items()}
T0 = 1_700_000_000_000_000_000
"""Bag stamps: a robot's wall clock (a trajectory's own stamps start at 0)."""


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread) -> None:
    """One frame at a time, one thread, as the node runs the model."""


@pytest.fixture(scope="module")
def expert() -> tuple[Trajectory, Trajectory]:
    """A scripted push demo (to record as the reference) and another expert episode of the
    task (other seed: other placement and appearance)."""
    from robo_reward.sim.demos import rollout

    demo = rollout("push", 1000)
    episode = rollout("push", 0)
    assert demo.success and episode.success
    return demo, episode


@pytest.fixture(scope="module")
def general() -> GRM:
    return load_grm_model()


@pytest.fixture(scope="module")
def bag(expert, tmp_path_factory) -> Path:
    """The demo as demo_recorder records it from sim_bridge: one compressed topic per view."""
    import dataclasses

    demo, _ = expert
    stamped = dataclasses.replace(demo, timestamps_ns=demo.timestamps_ns + T0)
    folder = tmp_path_factory.mktemp("grm_stream_bag") / "demo_bag"
    return write_bag_demo(stamped, folder, COMPRESSED, compressed=True)


def progress_on(stream: GRMRewardStream, episode: Trajectory) -> np.ndarray:
    estimates = []
    for t in range(episode.num_frames):
        for view in stream.views:
            estimates += stream.push(
                view, T0 + int(episode.timestamps_ns[t]), episode.frames[view][t]
            )
    assert len(estimates) == episode.num_frames
    assert estimates[-1].completion and not estimates[0].completion
    return np.array([e.progress for e in estimates])


def test_a_bag_recorded_on_the_stream_topics_is_the_reference(expert, general, bag) -> None:
    demo, episode = expert
    size = general.config.image_size
    reference = load_reference_demo(bag, topics=COMPRESSED, image_size=size)
    assert reference.success and reference.task == "recorded"
    assert reference.num_frames == demo.num_frames
    assert reference.views == VIEWS and reference.metadata["source"] == "rosbag2"
    assert all(reference.frames[v].shape[1:] == (size, size, 3) for v in VIEWS)
    assert np.abs(reference.frames["front"].astype(int) - demo.frames["front"]).mean() < 8  # jpeg

    from_bag = progress_on(GRMRewardStream(general, reference), episode)
    from_npz = progress_on(GRMRewardStream(general, demo), episode)
    print(f"VOC with the bag reference {voc(from_bag):.3f}, with the npz {voc(from_npz):.3f}")
    assert voc(from_bag) >= 0.9
    assert from_bag[0] == 0.0 and from_bag[-1] > 0.8
    assert np.abs(from_bag - from_npz).max() < 0.15  # JPEG frames condition it about as well


def test_raw_topics_find_a_bag_recorded_compressed_and_other_sizes_are_resized(expert, bag) -> None:
    demo, _ = expert
    # a node subscribed raw, the demo recorded compressed (smaller bags): the same cameras
    reference = load_reference_demo(bag, topics=RAW, image_size=64)
    assert reference.num_frames == demo.num_frames
    assert reference.metadata["topics"] == COMPRESSED
    assert all(reference.frames[v].shape[1:] == (64, 64, 3) for v in VIEWS)
    # without image_size: as recorded
    assert load_reference_demo(bag, topics=RAW).frames["side"].shape[1:] == (96, 96, 3)


def test_bag_references_refused_with_the_reason(bag, tmp_path) -> None:
    with pytest.raises(ValueError, match="rosbag2 recording: the image topic of each view"):
        load_reference_demo(bag)
    with pytest.raises(ValueError, match="a rosbag2 folder holds one demo"):
        load_reference_demo(bag, episode=1, topics=RAW)
    wrong = {**RAW, "wrist": "/cam/gripper/image_raw"}
    with pytest.raises(DataFormatError, match=r"/cam/gripper/image_raw \(view .wrist.\) is not"):
        load_reference_demo(bag, topics=wrong)
    leftover = tmp_path / "leftover"
    leftover.mkdir()
    (leftover / "demo_0.mcap").write_bytes(b"")
    with pytest.raises(DataFormatError, match="no metadata.yaml"):
        load_reference_demo(leftover, topics=RAW)
    with pytest.raises(FileNotFoundError, match="rosbag2 folder"):
        load_reference_demo(tmp_path / "nowhere", topics=RAW)


def test_the_stream_runs_without_the_simulator() -> None:
    """A robot's reward node loads no MuJoCo: the completion rule lives in a light module."""
    import subprocess
    import sys

    code = """
import sys
import numpy as np
from robo_reward.data import Trajectory
from robo_reward.grm.model import GRM, GRMConfig
from robo_reward.streams import GRMRewardStream
config = GRMConfig(views=("front",), image_size=32, embed_dim=16, channels=(8, 8, 16),
                   fusion_layers=1, fusion_heads=2)
demo = Trajectory(frames={"front": np.zeros((3, 32, 32, 3), np.uint8)},
                  actions=np.zeros((2, 4), np.float32), states=np.zeros((3, 3), np.float32),
                  timestamps_ns=np.arange(3), task="push", success=True)
stream = GRMRewardStream(GRM(config), demo)
assert stream.push("front", 10, np.zeros((16, 16, 3), np.uint8))
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "mujoco" or m.startswith(
    ("robo_reward.sim.", "robo_reward.grm.evaluate")))
print(loaded)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout
