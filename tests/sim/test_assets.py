"""Locating MJCF assets: found from a checkout, confined to the assets directory."""

from __future__ import annotations

import mujoco
import pytest

from robo_reward.sim import TASKS
from robo_reward.sim.assets import asset_path, assets_root


def test_push_scene_exists() -> None:
    path = asset_path("manipulation/push.xml")
    assert path.is_file() and path.is_absolute() and path.name == "push.xml"
    assert assets_root().resolve() in path.parents


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_scene_exists_and_compiles(task: str) -> None:
    env_class = TASKS[task].env_class
    model = mujoco.MjModel.from_xml_path(str(asset_path(f"manipulation/{env_class.model_file}")))
    cameras = {model.camera(i).name for i in range(model.ncam)}
    assert {"front", "side", "wrist"} <= cameras


@pytest.mark.parametrize(
    "relative",
    ["../pyproject.toml", "manipulation/../../README.md", "/etc/hostname", ".."],
)
def test_path_escaping_the_assets_dir_is_rejected(relative: str) -> None:
    with pytest.raises(ValueError, match="leaves the assets directory"):
        asset_path(relative)


def test_missing_asset_lists_available_ones() -> None:
    with pytest.raises(FileNotFoundError, match="nope.xml") as info:
        asset_path("manipulation/nope.xml")
    message = str(info.value)
    for task in TASKS.values():
        assert f"manipulation/{task.env_class.model_file}" in message


def test_directory_is_not_an_asset() -> None:
    with pytest.raises(FileNotFoundError):
        asset_path("manipulation")
