"""Spaces as JSON: exact round trips, valid JSON with infinities, key order kept, clear errors."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest
from gymnasium import spaces

from robo_reward.rl.spaces import space_from_json, space_to_json


def assert_same_box(a: spaces.Box, b: spaces.Box) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.low, b.low)
    np.testing.assert_array_equal(a.high, b.high)


@pytest.mark.parametrize(
    "box",
    [
        spaces.Box(-np.inf, np.inf, (10,), np.float32),
        spaces.Box(0.0, np.inf, (4, 5), np.float32),
        spaces.Box(0, 255, (36, 48, 3), np.uint8),
        spaces.Box(np.array([-1.0, -2.0, 0.5]), np.array([1.0, 3.0, 0.75]), dtype=np.float64),
        spaces.Box(
            np.array([-np.inf, 0.0], np.float32),
            np.array([1.0, np.inf], np.float32),
            dtype=np.float32,
        ),
    ],
)
def test_box_round_trips_through_strict_json(box: spaces.Box) -> None:
    text = json.dumps(space_to_json(box), allow_nan=False)
    assert_same_box(space_from_json(json.loads(text)), box)


def test_uniform_bounds_are_written_as_one_number() -> None:
    data = space_to_json(spaces.Box(0, 255, (96, 96, 3), np.uint8))
    assert data["low"] == 0 and data["high"] == 255
    data = space_to_json(spaces.Box(-np.inf, np.inf, (3,), np.float32))
    assert data["low"] == "-inf" and data["high"] == "inf"


def test_dict_keeps_key_order_even_through_a_key_sorting_writer() -> None:
    space = spaces.Dict(
        OrderedDict(
            state=spaces.Box(-np.inf, np.inf, (10,), np.float32),
            desired_goal=spaces.Box(-1, 1, (3,), np.float32),
            achieved_goal=spaces.Box(-1, 1, (3,), np.float32),
            front=spaces.Box(0, 255, (40, 40, 3), np.uint8),
        )
    )
    text = json.dumps(space_to_json(space), sort_keys=True, allow_nan=False)
    rebuilt = space_from_json(json.loads(text))
    assert isinstance(rebuilt, spaces.Dict)
    assert list(rebuilt.spaces) == ["state", "desired_goal", "achieved_goal", "front"]
    for key in space.spaces:
        assert_same_box(rebuilt[key], space[key])


@pytest.mark.parametrize(
    ("space", "name"),
    [
        (spaces.Discrete(3), "Discrete"),
        (spaces.Tuple((spaces.Discrete(2),)), "Tuple"),
        (spaces.Dict({"a": spaces.Dict({"b": spaces.Box(0, 1, (1,))})}), "Dict"),
        (spaces.Dict({"a": spaces.MultiBinary(3)}), "MultiBinary"),
    ],
)
def test_unsupported_spaces_raise_naming_the_type(space: spaces.Space, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        space_to_json(space)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"type": "Discrete", "n": 3},
        {"type": "Box", "shape": [2]},
        {"type": "Box", "shape": [2], "dtype": "float32", "low": "nan", "high": 1.0},
        {"type": "Dict", "spaces": {"a": {}}},
        {"type": "Dict", "spaces": [["a", {"type": "Discrete"}]]},
    ],
)
def test_malformed_descriptions_raise(data: dict) -> None:
    with pytest.raises(ValueError):
        space_from_json(data)
