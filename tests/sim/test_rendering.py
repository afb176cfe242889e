"""Multi-view images in observations: configured shapes and dtypes, depth, camera selection,
bad input, and the renderer itself."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from robo_reward.sim.assets import asset_path
from robo_reward.sim.rendering import MultiViewRenderer
from robo_reward.sim.tasks.base import DEFAULT_CAMERAS
from robo_reward.sim.tasks.reach import ReachEnv

IMAGE_KEYS = {*DEFAULT_CAMERAS, *(f"{c}_depth" for c in DEFAULT_CAMERAS)}


def _image_keys(obs: dict[str, np.ndarray]) -> set[str]:
    return set(obs) & IMAGE_KEYS


# --------------------------------------------------------------------------- in observations


@pytest.mark.parametrize(
    ("image_size", "shape"), [(32, (32, 32)), ((24, 40), (24, 40)), (8, (8, 8))]
)
def test_images_have_the_configured_shape_and_dtype(image_size, shape, make) -> None:
    env = make("push", cameras=DEFAULT_CAMERAS, image_size=image_size)
    obs, _ = env.reset(seed=0)
    assert _image_keys(obs) == set(DEFAULT_CAMERAS)
    for camera in DEFAULT_CAMERAS:
        image = obs[camera]
        assert image.shape == (*shape, 3) and image.dtype == np.uint8
        assert env.observation_space[camera].shape == (*shape, 3)
        assert image.std() > 0, f"{camera} image is blank"
    assert env.observation_space.contains(obs)
    assert not np.array_equal(obs["front"], obs["side"])


def test_depth_images_are_float32_metres(make) -> None:
    env = make("pick_place", cameras=DEFAULT_CAMERAS, image_size=(24, 40), depth=True)
    obs, _ = env.reset(seed=0)
    assert _image_keys(obs) == IMAGE_KEYS
    for camera in DEFAULT_CAMERAS:
        depth = obs[f"{camera}_depth"]
        assert depth.shape == (24, 40) and depth.dtype == np.float32
        assert np.isfinite(depth).all() and (depth > 0).all()
        assert depth.max() < 10.0, "depth should be metres in a tabletop scene"
        assert depth.std() > 0
    # The wrist camera looks at the fingers and table from close by.
    assert obs["wrist_depth"].min() < obs["front_depth"].min()
    assert env.observation_space.contains(obs)
    obs = env.step(np.zeros(4, np.float32))[0]
    assert env.observation_space.contains(obs)


def test_no_cameras_gives_no_image_keys(make) -> None:
    env = make("push", cameras=(), depth=True)
    obs, _ = env.reset(seed=0)
    assert _image_keys(obs) == set() and _image_keys(env.observation_space.spaces) == set()
    assert _image_keys(env.step(np.zeros(4, np.float32))[0]) == set()


def test_camera_subset_and_order(make) -> None:
    env = make("stack", cameras=("wrist", "front"), image_size=16, depth=True)
    obs, _ = env.reset(seed=0)
    assert _image_keys(obs) == {"wrist", "front", "wrist_depth", "front_depth"}
    assert env.unwrapped.cameras == ("wrist", "front")


def test_observation_images_are_fresh_arrays(make) -> None:
    env = make("reach", cameras=("front",), image_size=16, depth=True)
    first, _ = env.reset(seed=0)
    kept = {key: first[key].copy() for key in ("front", "front_depth")}
    second = env.step(np.ones(4, np.float32))[0]
    for key, value in kept.items():
        assert not np.shares_memory(first[key], second[key])
        np.testing.assert_array_equal(first[key], value)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("camera", ["top", "Front", ""])
def test_unknown_camera_is_named_with_the_available_ones(camera: str, make) -> None:
    with pytest.raises(ValueError, match="unknown camera") as info:
        make("reach", cameras=("front", camera))
    message = str(info.value)
    assert repr(camera) in message
    assert all(name in message for name in DEFAULT_CAMERAS)


def test_repeated_camera_is_rejected(make) -> None:
    with pytest.raises(ValueError, match="repeat"):
        make("reach", cameras=("front", "front"))


@pytest.mark.parametrize("cameras", ["front", ("front", 3)])
def test_cameras_must_be_a_sequence_of_names(cameras, make) -> None:
    with pytest.raises(TypeError, match="cameras"):
        make("reach", cameras=cameras)


BAD_SIZES = [0, -1, 7, 5000, True, 32.0, "32", (1, 2, 3), (32,), (32, 0), (32, 4096), (32, 1.5)]


@pytest.mark.parametrize("size", BAD_SIZES, ids=repr)
def test_bad_image_size_is_rejected(size, make) -> None:
    with pytest.raises(ValueError, match="image_size"):
        make("reach", cameras=(), image_size=size)


@pytest.mark.parametrize("size", [0, (1, 2, 3), 5000, False], ids=repr)
def test_bad_render_size_is_rejected(size, make) -> None:
    with pytest.raises(ValueError, match="render_size"):
        make("reach", cameras=(), render_size=size)


@pytest.mark.parametrize("frame_skip", [0, -1, 1.5, True, "20"], ids=repr)
def test_bad_frame_skip_is_rejected(frame_skip, make) -> None:
    with pytest.raises(ValueError, match="frame_skip"):
        make("reach", cameras=(), frame_skip=frame_skip)


@pytest.mark.parametrize("scale", [0.0, -0.05, 0.5, float("nan")], ids=repr)
def test_bad_action_scale_is_rejected(scale: float, make) -> None:
    with pytest.raises(ValueError, match="action_scale"):
        make("reach", cameras=(), action_scale=scale)


@pytest.mark.filterwarnings("ignore:.*is being initialised with render_mode")
@pytest.mark.parametrize("mode", ["bogus", "depth_array", "RGB_ARRAY"])
def test_bad_render_mode_is_rejected(mode: str, make) -> None:
    with pytest.raises(ValueError, match="render_mode"):
        make("reach", cameras=(), render_mode=mode)


def test_human_render_mode_is_rejected_by_the_env_itself() -> None:
    """(``gym.make`` turns ``"human"`` into a HumanRendering wrapper over ``rgb_array``.)"""
    with pytest.raises(ValueError, match="render_mode"):
        ReachEnv(cameras=(), render_mode="human")


# --------------------------------------------------------------------------- renderer


@pytest.fixture
def push_model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(asset_path("manipulation/push.xml")))


def test_multi_view_renderer_renders_every_camera(push_model) -> None:
    data = mujoco.MjData(push_model)
    mujoco.mj_forward(push_model, data)
    renderer = MultiViewRenderer(push_model, ("side", "front"), 24, 40, depth=True)
    try:
        rgb, depth = renderer.render(data)
        assert list(rgb) == ["side", "front"] and list(depth) == ["side", "front"]
        assert all(image.shape == (24, 40, 3) and image.dtype == np.uint8 for image in rgb.values())
        assert all(d.shape == (24, 40) and d.dtype == np.float32 for d in depth.values())
    finally:
        renderer.close()
        renderer.close()  # closing twice is harmless


def test_multi_view_renderer_without_depth(push_model) -> None:
    data = mujoco.MjData(push_model)
    mujoco.mj_forward(push_model, data)
    renderer = MultiViewRenderer(push_model, ("wrist",), 16, 16)
    try:
        rgb, depth = renderer.render(data)
        assert set(rgb) == {"wrist"} and depth == {}
    finally:
        renderer.close()


def test_multi_view_renderer_rejects_unknown_cameras(push_model) -> None:
    with pytest.raises(ValueError, match=r"\['top'\].*front.*side.*wrist"):
        MultiViewRenderer(push_model, ("front", "top"), 16, 16)


def test_closing_one_env_leaves_other_envs_images_intact(make) -> None:
    closed = make("push", cameras=("front",), image_size=32)
    kept = make("push", cameras=("front",), image_size=32)
    closed.reset(seed=0)
    before = kept.reset(seed=1)[0]["front"]  # `kept` rendered last: its GL context is current
    closed.close()
    after = kept.reset(seed=1)[0]["front"]
    np.testing.assert_array_equal(after, before)
