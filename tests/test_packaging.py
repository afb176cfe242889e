"""The wheel carries the MJCF assets and config presets, and they are found from it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("robo_reward-*.whl")
    return path


def test_wheel_contains_every_package_assets_and_presets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for xml in (REPO / "sim_assets").rglob("*.xml"):
        assert f"robo_reward/sim_assets/{xml.relative_to(REPO / 'sim_assets')}" in names
    for preset in (REPO / "configs").rglob("*.yaml"):
        assert f"robo_reward/configs/{preset.relative_to(REPO / 'configs')}" in names
    for init in (REPO / "robo_reward").rglob("__init__.py"):
        assert str(init.relative_to(REPO)) in names, f"{init} missing: list it in pyproject"
    assert "robo_reward/py.typed" in names


def test_installed_wheel_finds_assets_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import robo_reward.sim.assets as a, robo_reward.config as c\n"
        "print(a.asset_path('manipulation/push.xml'))\n"
        "print(c.preset_path('demos', 'default'))\n"
        "from robo_reward.sim import make_env\n"
        "env = make_env('push', cameras=())\n"
        "print(env.reset(seed=0)[0]['state'].shape)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    asset, preset, shape = result.stdout.strip().splitlines()
    assert asset.startswith(str(site)) and preset.startswith(str(site))
    assert shape == "(10,)"
