"""Per-episode visual randomisation: drawn from the episode seed, always around the nominal
model, and absent when ``randomization=None``."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from robo_reward.sim import TASKS
from robo_reward.sim.assets import asset_path
from robo_reward.sim.randomization import TABLE_MATERIALS, RandomizationConfig, SceneRandomizer
from robo_reward.sim.tasks.base import HOME_GRIP_POS

VISUAL_FIELDS = (
    "geom_rgba",
    "geom_matid",
    "mat_rgba",
    "light_pos",
    "light_diffuse",
    "cam_pos",
    "cam_quat",
)
NONE = RandomizationConfig(
    object_colors=False,
    table_textures=False,
    light_position_std=0.0,
    light_intensity_range=(1.0, 1.0),
    camera_position_std=0.0,
    camera_rotation_std=0.0,
)
TASKS_WITH_OBJECTS = [name for name, spec in TASKS.items() if spec.env_class.color_groups]


def _nominal_model(env) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(asset_path(f"manipulation/{env.unwrapped.model_file}")))


def _visuals(model: mujoco.MjModel) -> dict[str, np.ndarray]:
    return {name: getattr(model, name).copy() for name in VISUAL_FIELDS}


def _visuals_after_reset(env, seed: int) -> dict[str, np.ndarray]:
    env.reset(seed=seed)
    return _visuals(env.unwrapped.model)


# --------------------------------------------------------------------------- config


def test_default_config_randomises_everything() -> None:
    config = RandomizationConfig()
    assert config.object_colors and config.table_textures
    assert config.light_position_std > 0 and config.camera_position_std > 0
    assert config.camera_rotation_std > 0
    low, high = config.light_intensity_range
    assert 0 <= low < 1 < high


@pytest.mark.parametrize(
    "name", ["light_position_std", "camera_position_std", "camera_rotation_std"]
)
def test_negative_std_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RandomizationConfig(**{name: -0.01})


@pytest.mark.parametrize("bounds", [(1.3, 0.7), (-0.1, 1.0), (-1.0, -0.5)])
def test_bad_light_intensity_range_is_rejected(bounds: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="light_intensity_range"):
        RandomizationConfig(light_intensity_range=bounds)


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize(
    "name", ["light_position_std", "camera_position_std", "camera_rotation_std"]
)
def test_non_finite_std_is_rejected(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        RandomizationConfig(**{name: value})


# --------------------------------------------------------------------------- in the env


@pytest.mark.parametrize("task", TASKS_WITH_OBJECTS)
def test_object_colours_differ_between_seeds(task: str, make) -> None:
    env = make(task, cameras=())
    model = env.unwrapped.model
    geoms = [model.geom(name).id for group in env.unwrapped.color_groups for name in group]
    colours = {}
    for seed in (0, 1):
        env.reset(seed=seed)
        assert (model.geom_matid[geoms] == -1).all(), "a material would hide geom_rgba"
        colours[seed] = model.geom_rgba[geoms].copy()
    assert not np.allclose(colours[0], colours[1])
    assert ((colours[0] >= 0) & (colours[0] <= 1)).all()


def test_colour_groups_share_one_colour_and_differ_from_each_other(make) -> None:
    env = make("drawer_open", cameras=())
    model = env.unwrapped.model
    env.reset(seed=0)
    group_colours = []
    for group in env.unwrapped.color_groups:
        rgba = model.geom_rgba[[model.geom(name).id for name in group]]
        assert (rgba == rgba[0]).all()
        group_colours.append(rgba[0])
    assert len(group_colours) == 2 and not np.allclose(group_colours[0], group_colours[1])


def test_table_material_and_tint_differ_between_seeds(make) -> None:
    env = make("push", cameras=())
    model = env.unwrapped.model
    table = model.geom("table_top").id
    allowed = {model.material(name).id for name in TABLE_MATERIALS}
    looks, materials = [], set()
    for seed in range(8):
        env.reset(seed=seed)
        material = int(model.geom_matid[table])
        assert material in allowed
        materials.add(material)
        looks.append((material, model.mat_rgba[material].copy()))
    assert len(materials) >= 2, "eight seeds all chose the same table material"
    assert looks[0][0] != looks[1][0] or not np.allclose(looks[0][1], looks[1][1])


@pytest.mark.parametrize("field", ["cam_pos", "cam_quat", "light_pos", "light_diffuse"])
def test_cameras_and_lights_differ_between_seeds(field: str, make) -> None:
    env = make("reach", cameras=())
    first = _visuals_after_reset(env, 0)[field]
    second = _visuals_after_reset(env, 1)[field]
    assert not np.allclose(first, second)


def test_camera_jitter_is_small(make) -> None:
    env = make("push", cameras=())
    nominal = _nominal_model(env)
    config = env.unwrapped.randomization
    for seed in range(5):
        cam_pos = _visuals_after_reset(env, seed)["cam_pos"]
        assert np.abs(cam_pos - nominal.cam_pos).max() < 6 * config.camera_position_std
        assert np.allclose(np.linalg.norm(env.unwrapped.model.cam_quat, axis=1), 1.0)


def test_same_seed_same_scene_and_nothing_drifts(make) -> None:
    """Values are drawn around the nominal model, never around the previous episode."""
    env = make("stack", cameras=())
    first = _visuals_after_reset(env, 3)
    for seed in (4, 5, 6):
        env.reset(seed=seed)
    again = _visuals_after_reset(env, 3)
    for name in VISUAL_FIELDS:
        np.testing.assert_array_equal(first[name], again[name], err_msg=name)


@pytest.mark.parametrize("task", list(TASKS))
def test_randomization_none_keeps_the_nominal_scene(task: str, make) -> None:
    env = make(task, cameras=(), randomization=None)
    nominal = _visuals(_nominal_model(env))
    for seed in (0, 1):
        current = _visuals_after_reset(env, seed)
        for name in VISUAL_FIELDS:
            np.testing.assert_array_equal(current[name], nominal[name], err_msg=name)


def test_zero_randomization_reproduces_the_nominal_scene(make) -> None:
    env = make("pick_place", cameras=(), randomization=NONE)
    nominal = _visuals(_nominal_model(env))
    current = _visuals_after_reset(env, 9)
    for name in VISUAL_FIELDS:
        np.testing.assert_array_equal(current[name], nominal[name], err_msg=name)


def test_start_pose_is_jittered_only_with_randomization(make) -> None:
    nominal = make("reach", cameras=(), randomization=None)
    grips = [nominal.reset(seed=seed)[0]["state"][:3] for seed in (0, 1)]
    np.testing.assert_array_equal(grips[0], grips[1])
    jittered = make("reach", cameras=())
    grips = [jittered.reset(seed=seed)[0]["state"][:3] for seed in (0, 1)]
    assert not np.allclose(grips[0], grips[1])
    assert all(np.abs(g - HOME_GRIP_POS).max() < 0.05 for g in grips)


def test_randomised_scenes_look_different(make) -> None:
    env = make("push", cameras=("front",), image_size=32)
    images = [env.reset(seed=seed)[0]["front"] for seed in (0, 1)]
    assert not np.array_equal(images[0], images[1])


# --------------------------------------------------------------------------- randomizer


def test_scene_randomizer_applies_around_nominal_values() -> None:
    model = mujoco.MjModel.from_xml_path(str(asset_path("manipulation/push.xml")))
    nominal = _visuals(model)
    config = RandomizationConfig(camera_position_std=0.01)
    randomizer = SceneRandomizer(model, config, color_groups=(("block",),))
    rng = np.random.default_rng(0)
    for _ in range(200):  # a random walk would wander ~14 std away; draws around nominal do not
        randomizer.apply(rng)
        assert np.abs(model.cam_pos - nominal["cam_pos"]).max() < 6 * config.camera_position_std
    with pytest.raises((KeyError, ValueError), match="no_such_geom"):
        SceneRandomizer(model, config, color_groups=(("no_such_geom",),))
