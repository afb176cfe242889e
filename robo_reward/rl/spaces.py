"""Observation and action spaces as plain JSON, so a checkpoint can rebuild (and check) them.

Only what our controllers consume is supported: a ``Box``, or a ``Dict`` whose values are
``Box`` es. Bounds are written as a scalar when uniform (image spaces would otherwise fill the
header with 27k numbers) and infinities as the strings ``"inf"`` / ``"-inf"``, so the result is
valid JSON (``json.dumps(..., allow_nan=False)`` accepts it). A ``Dict`` is written as a list
of ``[key, space]`` pairs and rebuilt from an ``OrderedDict``: its key order must survive JSON
writers that sort object keys (:mod:`robo_reward.checkpoints` does) and Gymnasium, which sorts
the keys of a plain ``dict``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["space_from_json", "space_to_json"]

_INF = {"inf": math.inf, "-inf": -math.inf}


def _bound_to_json(bound: np.ndarray) -> Any:
    """A scalar when every entry is equal, else a nested list; infinities as strings."""
    values = bound.reshape(-1)
    if values.size and np.all(values == values[0]):
        return _number_to_json(values[0])
    return np.vectorize(_number_to_json, otypes=[object])(bound).tolist()


def _number_to_json(value: np.generic | float) -> float | int | str:
    if np.issubdtype(type(value), np.integer):
        return int(value)
    number = float(value)
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return number


def _bound_from_json(value: Any, where: str) -> np.ndarray:
    def number(item: Any) -> float:
        if isinstance(item, str):
            if item not in _INF:
                raise ValueError(f"{where}: {item!r} is not a number, 'inf' or '-inf'")
            return _INF[item]
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ValueError(f"{where}: {item!r} is not a number")
        return float(item)

    if isinstance(value, list):
        flat = np.asarray(value, dtype=object)
        return np.vectorize(number, otypes=[np.float64])(flat)
    return np.asarray(number(value), dtype=np.float64)


def space_to_json(space: gym.Space) -> dict[str, Any]:
    """``space`` as a JSON-compatible dict; ``ValueError`` naming the type if unsupported."""
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": np.dtype(space.dtype).name,
            "low": _bound_to_json(space.low),
            "high": _bound_to_json(space.high),
        }
    if isinstance(space, spaces.Dict):
        items = []
        for key, sub in space.spaces.items():
            if not isinstance(sub, spaces.Box):
                raise ValueError(
                    f"unsupported space {type(sub).__name__} at Dict key {key!r}: "
                    "only a Box or a Dict of Boxes is supported"
                )
            items.append([key, space_to_json(sub)])
        return {"type": "Dict", "spaces": items}
    raise ValueError(
        f"unsupported space {type(space).__name__}: only a Box or a Dict of Boxes is supported"
    )


def space_from_json(data: dict[str, Any]) -> gym.Space:
    """Rebuild a space written by :func:`space_to_json`; ``ValueError`` on anything else."""
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError(f"not a space description (no 'type'): {data!r:.120}")
    kind = data["type"]
    if kind == "Box":
        try:
            shape = tuple(int(n) for n in data["shape"])
            dtype = np.dtype(data["dtype"])
            low = _bound_from_json(data["low"], "Box low")
            high = _bound_from_json(data["high"], "Box high")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed Box description {data!r:.120} ({exc})") from None
        low = np.broadcast_to(low, shape).astype(dtype)
        high = np.broadcast_to(high, shape).astype(dtype)
        return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if kind == "Dict":
        pairs = data.get("spaces")
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
        ):
            raise ValueError("malformed Dict description: 'spaces' must be [[key, space], ...]")
        rebuilt: OrderedDict[str, gym.Space] = OrderedDict()  # a plain dict would be sorted
        for key, sub in pairs:
            if not isinstance(sub, dict) or sub.get("type") != "Box":
                raise ValueError(f"unsupported space at Dict key {key!r}: only Box is supported")
            rebuilt[key] = space_from_json(sub)
        return spaces.Dict(rebuilt)
    raise ValueError(f"unsupported space type {kind!r}: only a Box or a Dict of Boxes")
