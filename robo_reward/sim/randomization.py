"""Per-episode visual randomisation: colours, table texture, lighting and camera poses.

Reward models trained on these scenes must not latch onto one colour or one viewpoint, so every
episode draws these from the env's ``np_random`` (seeded by ``reset(seed=...)``). Values are
always drawn around the nominal model, never around the previous episode, so nothing drifts.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class RandomizationConfig:
    """How much each episode's scene differs from the nominal MJCF."""

    object_colors: bool = True
    """Draw each object's colour from a random hue (saturated, bright)."""
    table_textures: bool = True
    """Pick one of the table materials (checker, grain, gradient, dots) and tint it."""
    light_position_std: float = 0.15
    """Standard deviation (m) of each light's position."""
    light_intensity_range: tuple[float, float] = (0.7, 1.3)
    """Range of the factor applied to each light's diffuse colour."""
    camera_position_std: float = 0.015
    """Standard deviation (m) of each camera's position."""
    camera_rotation_std: float = 0.02
    """Standard deviation (rad) of a small rotation of fixed-orientation (e.g. wrist) cameras."""

    def __post_init__(self) -> None:
        for name in ("light_position_std", "camera_position_std", "camera_rotation_std"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        low, high = self.light_intensity_range
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
            raise ValueError(
                f"light_intensity_range must satisfy 0 <= low <= high, got {(low, high)!r}"
            )


TABLE_MATERIALS = ("table_checker", "table_grain", "table_gradient", "table_dots")


class SceneRandomizer:
    """Applies a :class:`RandomizationConfig` to a model, around its nominal values."""

    def __init__(
        self,
        model: mujoco.MjModel,
        config: RandomizationConfig,
        color_groups: Sequence[Sequence[str]] = (),
        table_geom: str = "table_top",
    ) -> None:
        self.model, self.config = model, config
        self._color_groups = [[model.geom(name).id for name in group] for group in color_groups]
        self._table_geom = model.geom(table_geom).id
        self._table_materials = [model.material(name).id for name in TABLE_MATERIALS]
        self._nominal_material_rgba = model.mat_rgba.copy()
        self._nominal_geom_rgba = model.geom_rgba.copy()
        self._nominal_geom_matid = model.geom_matid.copy()
        self._nominal_light_pos = model.light_pos.copy()
        self._nominal_light_diffuse = model.light_diffuse.copy()
        self._nominal_cam_pos = model.cam_pos.copy()
        self._nominal_cam_quat = model.cam_quat.copy()

    def apply(self, rng: np.random.Generator) -> None:
        model, cfg = self.model, self.config
        model.mat_rgba[:] = self._nominal_material_rgba
        model.geom_rgba[:] = self._nominal_geom_rgba
        model.geom_matid[:] = self._nominal_geom_matid

        if cfg.object_colors:
            # Hues spread evenly from a random start, so objects of one scene stay distinguishable.
            groups = len(self._color_groups)
            hues = (rng.uniform() + np.arange(groups) / max(1, groups)) % 1.0
            for group, hue in zip(self._color_groups, hues, strict=True):
                rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
                for geom_id in group:
                    model.geom_matid[geom_id] = -1  # geom_rgba is used only without a material
                    model.geom_rgba[geom_id] = (*rgb, 1.0)

        if cfg.table_textures:
            material = self._table_materials[rng.integers(len(self._table_materials))]
            model.geom_matid[self._table_geom] = material
            tint = rng.uniform(0.75, 1.0, size=3)
            model.mat_rgba[material, :3] = tint

        n_lights = model.nlight
        model.light_pos[:] = self._nominal_light_pos + rng.normal(
            0.0, cfg.light_position_std, size=(n_lights, 3)
        )
        low, high = cfg.light_intensity_range
        scale = rng.uniform(low, high, size=(n_lights, 1))
        model.light_diffuse[:] = np.clip(self._nominal_light_diffuse * scale, 0.0, 1.0)

        model.cam_pos[:] = self._nominal_cam_pos + rng.normal(
            0.0, cfg.camera_position_std, size=(model.ncam, 3)
        )
        for cam in range(model.ncam):
            quat = self._nominal_cam_quat[cam].copy()
            if model.cam_mode[cam] == mujoco.mjtCamLight.mjCAMLIGHT_FIXED:
                delta = np.zeros(4)
                axis = rng.normal(size=3)
                axis /= np.linalg.norm(axis)
                mujoco.mju_axisAngle2Quat(delta, axis, rng.normal(0.0, cfg.camera_rotation_std))
                mujoco.mju_mulQuat(quat, self._nominal_cam_quat[cam], delta)
            model.cam_quat[cam] = quat
