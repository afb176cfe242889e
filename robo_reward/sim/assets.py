"""Locating MJCF scenes, whether robo_reward runs from a checkout or from an installed wheel.

The files live in ``sim_assets/`` at the repository root and install as the package
``robo_reward.sim_assets`` (see pyproject.toml), so ``importlib.resources`` finds them either way.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def assets_root() -> Path:
    """The directory holding the MJCF assets."""
    try:
        root = Path(str(resources.files("robo_reward.sim_assets")))
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[2] / "sim_assets"
    if not root.is_dir():
        raise FileNotFoundError(f"robo_reward's sim assets are missing: {root} is not a directory")
    return root


def asset_path(relative: str) -> Path:
    """Absolute path of an asset, e.g. ``asset_path("manipulation/push.xml")``."""
    root = assets_root()
    path = (root / relative).resolve()
    if root.resolve() not in path.parents:
        raise ValueError(f"asset path {relative!r} leaves the assets directory")
    if not path.is_file():
        available = sorted(str(p.relative_to(root)) for p in root.rglob("*.xml"))
        raise FileNotFoundError(f"no asset {relative!r} under {root}; available: {available}")
    return path
